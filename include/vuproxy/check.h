/* check: the table of protocol checks and the engine that runs them on
 * a session's messages, after the session model has been fed.
 *
 * One row per check (VUP_CHECKS): its id, severity, kind, the section of
 * QEMU's docs/interop/vhost-user.rst it rests on with one sentence quoted
 * from it, what the reference peers do with the deviation, and a title.
 * Severity follows the peers: ERROR only where a reference peer (QEMU,
 * DPDK, libvhost-user, rust-vmm) refuses the message or hangs; WARNING
 * for deviations they tolerate or that no peer is known to refuse; INFO
 * for what cannot be judged (a file cut off).  The engine refuses
 * nothing: it reports.  It does no I/O and knows no loop.
 */
#ifndef VUPROXY_CHECK_H
#define VUPROXY_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vuproxy/model.h"
#include "vuproxy/problems.h"
#include "vuproxy/proto.h"

/* Quotes are from docs/interop/vhost-user.rst at QEMU commit f6b615b52d1d
 * (a sentence wrapped in the file is joined into one line).  Peer notes
 * cite the function that handles the deviation: QEMU hw/virtio/vhost-user.c
 * at 019fbfa4bcd2, libvhost-user (QEMU subprojects/libvhost-user/
 * libvhost-user.c) at 05a58ce47167, DPDK lib/vhost/vhost_user.c at
 * 38f72e500b3b, rust-vmm/vhost at 4e217d992c57 and vm-memory at
 * 6de1c4bc324a. */
#define VUP_SPEC_HEADER "Header"
#define VUP_SPEC_COMM   "Communication"
#define VUP_SPEC_MQ     "Multiple queue support"
#define VUP_SPEC_MIG    "Migration"
#define VUP_SPEC_MEM    "Memory access"
#define VUP_SPEC_ACK    "VHOST_USER_PROTOCOL_F_REPLY_ACK"

/* Where the peers' code lives, for the notes below. */
#define VUP_SRC_QEMU "QEMU vhost-user.c "
#define VUP_SRC_LVU  "libvhost-user.c "
#define VUP_SRC_DPDK "DPDK vhost_user.c "
#define VUP_SRC_RV   "rust-vmm vhost backend_req_handler.rs "
#define VUP_SRC_RVFE "rust-vmm vhost frontend.rs "
#define VUP_SRC_RVBE "rust-vmm vhost-user-backend handler.rs "

/* Sentences and peers that several rows share. */
#define VUP_QUOTE_KICK                                                         \
	"The back-end must start a ring upon receiving a kick (that is, "      \
	"detecting that file descriptor is readable) on the descriptor "       \
	"specified by ``VHOST_USER_SET_VRING_KICK`` or receiving the in-band " \
	"message ``VHOST_USER_VRING_KICK`` if negotiated, and stop a ring "    \
	"upon receiving ``VHOST_USER_GET_VRING_BASE``."
#define VUP_QUOTE_GET_CONFIG                                                   \
	"When ``VHOST_USER_PROTOCOL_F_CONFIG`` is negotiated, this message "   \
	"is "                                                                  \
	"submitted by the vhost-user front-end to fetch the contents of the "  \
	"virtio device configuration space, vhost-user back-end's payload "    \
	"size MUST match the front-end's request, vhost-user back-end uses "   \
	"zero length of payload to indicate an error to the vhost-user "       \
	"front-end."
#define VUP_QUOTE_WRONG_REPLY                                                  \
	"If *front-end* is unable to send the full message or receives a "     \
	"wrong reply it will close the connection."
#define VUP_PEERS_WRONG_REPLY                                                  \
	"refused: " VUP_SRC_QEMU "process_message_reply, vhost_user_get_u64 "  \
	"(\"Received unexpected msg type\", -EPROTO); " VUP_SRC_RVFE           \
	"recv_reply (is_reply_for: InvalidMessage); " VUP_SRC_DPDK             \
	"send_vhost_backend_message_process_reply (\"received unexpected "     \
	"msg type\")"

#define VUP_QUOTE_NEED_REPLY                                                   \
	"This indicates that the back-end MUST respond with a Payload "        \
	"``VhostUserMsg`` indicating success or failure."
#define VUP_SENT_NEED_REPLY                                                    \
	"sent by " VUP_SRC_LVU "vu_send_reply (keeps the request's flags "     \
	"unless vmsg_set_reply_u64 zeroed them), never by QEMU "               \
	"(vhost_user_send_resp) or DPDK (send_vhost_reply) which clear it"

/* X(id, "VUnnn", severity, kind, section, quote, peers, title) */
#define VUP_CHECKS(X)                                                          \
	X(VERSION, "VU001", ERROR, FRAMING, VUP_SPEC_HEADER,                   \
	  "Lower 2 bits are the version (currently 0x01)",                     \
	  "refused: " VUP_SRC_QEMU "vhost_user_read_header (flags must be "    \
	  "REPLY|VERSION); rust-vmm vhost connection.rs recv_header, "         \
	  "recv_body (is_valid: version 1); vuproxy closes the session; "      \
	  "tolerated: "                                                        \
	  "libvhost-user and DPDK read no version",                            \
	  "header version is not 1")                                           \
	X(PAYLOAD_LIMIT, "VU002", ERROR, FRAMING, VUP_SPEC_HEADER,             \
	  ":size: 32-bit size of the payload",                                 \
	  "refused past each peer's payload union (all under 4 "               \
	  "KiB): " VUP_SRC_QEMU                                                \
	  "vhost_user_read, backend_read (\"exceeds the "                      \
	  "maximum\"); " VUP_SRC_LVU "vu_message_read_default (\"too big "     \
	  "message\"); " VUP_SRC_DPDK "read_vhost_message (\"invalid msg "     \
	  "size\"); rust-vmm vhost connection.rs recv_header, recv_body "      \
	  "(is_valid: MAX_MSG_SIZE 0x1000); vuproxy closes the session",       \
	  "payload over the largest vhost-user payload")                       \
	X(ROLE, "VU003", ERROR, FRAMING, VUP_SPEC_HEADER,                      \
	  "Bit 2 is the reply flag - needs to be sent on each reply from the " \
	  "back-end",                                                          \
	  "refused: " VUP_SRC_QEMU "vhost_user_read_header (a reply without "  \
	  "REPLY); " VUP_SRC_RV "check_request_size (a request with REPLY: "   \
	  "InvalidMessage); tolerated: libvhost-user and DPDK read no REPLY "  \
	  "bit on requests",                                                   \
	  "REPLY flag contradicts the sender's role")                          \
	X(NEED_REPLY_ON_REPLY, "VU004", WARNING, FRAMING, VUP_SPEC_ACK,        \
	  VUP_QUOTE_NEED_REPLY,                                                \
	  "tolerated: " VUP_SRC_RVFE "recv_reply (is_reply_for reads only "    \
	  "REPLY): qemu-storage-daemon answers the rust-vmm front-end so and " \
	  "they work (tests/e2e/qsd_rustvmm.sh); refused by " VUP_SRC_QEMU     \
	  "vhost_user_read_header (flags 0xd are not REPLY|VERSION: \"Failed " \
	  "to read msg header\", -EPROTO), which never provokes it: QEMU "     \
	  "sets NEED_REPLY only on requests without a reply of their own, "    \
	  "which libvhost-user answers through vmsg_set_reply_u64 with clean " \
	  "flags; " VUP_SENT_NEED_REPLY,                                       \
	  "NEED_REPLY set on a main-channel reply")                            \
	X(SIZE, "VU005", ERROR, FRAMING, VUP_SPEC_HEADER,                      \
	  ":size: 32-bit size of the payload",                                 \
	  "refused: " VUP_SRC_RV "check_request_size, extract_request_body "   \
	  "(size must equal the body: InvalidMessage); " VUP_SRC_QEMU          \
	  "vhost_user_get_u64, vhost_user_get_vring_base (\"Received bad msg " \
	  "size\"); " VUP_SRC_LVU "vu_set_log_base_exec, vu_add_mem_reg "      \
	  "(vu_panic); the bounds admit the sizes peers tolerate (0-byte "     \
	  "SET_LOG_BASE and GET_SHARED_OBJECT replies)",                       \
	  "payload size outside the request's bounds")                         \
	X(LAYOUT, "VU006", ERROR, FRAMING, VUP_SPEC_HEADER,                    \
	  ":size: 32-bit size of the payload",                                 \
	  "refused: " VUP_SRC_RV "set_mem_table, get_config, "                 \
	  "extract_request_body (InvalidMessage); " VUP_SRC_DPDK               \
	  "vhost_user_set_mem_table (\"too many memory "                       \
	  "regions\"); " VUP_SRC_LVU                                           \
	  "vu_add_mem_reg (\"requires a message size of at "                   \
	  "least\")",                                                          \
	  "payload does not hold its layout")                                  \
	X(FDS, "VU007", ERROR, FRAMING, VUP_SPEC_COMM,                         \
	  "There are several messages that the front-end sends with file "     \
	  "descriptors passed in the ancillary data:",                         \
	  "refused: " VUP_SRC_DPDK "validate_msg_fds (from "                   \
	  "vhost_user_msg_handler and the fd-taking handlers); " VUP_SRC_LVU   \
	  "vu_check_queue_msg_file, vu_add_mem_reg, vu_set_backend_req_fd "    \
	  "(vu_panic); " VUP_SRC_RV "check_attached_files (InvalidMessage)",   \
	  "wrong number of fds")                                               \
	X(REPLY_ORDER, "VU008", ERROR, REPLIES, VUP_SPEC_COMM,                 \
	  VUP_QUOTE_WRONG_REPLY, VUP_PEERS_WRONG_REPLY, "reply out of order")  \
	X(UNSOLICITED, "VU009", ERROR, REPLIES, VUP_SPEC_COMM,                 \
	  VUP_QUOTE_WRONG_REPLY, VUP_PEERS_WRONG_REPLY,                        \
	  "reply to nothing owed, or with the wrong code")                     \
	X(OWED_REPLIES, "VU010", WARNING, REPLIES, VUP_SPEC_COMM,              \
	  "Most of the requests don't require replies.",                       \
	  "unknown (a requester that does not wait is tolerated)",             \
	  "too many replies owed at once")                                     \
	X(BACKEND_REQ_FD, "VU011", WARNING, NEGOTIATION,                       \
	  "Back-end communication",                                            \
	  "The fd is provided via ``VHOST_USER_SET_BACKEND_REQ_FD`` "          \
	  "ancillary data.",                                                   \
	  "tolerated: " VUP_SRC_LVU "vu_set_backend_req_fd keeps any one fd "  \
	  "(only later writes fail); others unknown",                          \
	  "back-end channel given without a socket")                           \
	X(FEATURES_NOT_OFFERED, "VU012", ERROR, NEGOTIATION,                   \
	  "VHOST_USER_SET_FEATURES",                                           \
	  "Enable features in the underlying vhost implementation using a "    \
	  "bitmask.",                                                          \
	  "refused: " VUP_SRC_RVBE                                             \
	  "set_features (InvalidParam); " VUP_SRC_DPDK                         \
	  "vhost_user_set_features (\"received invalid "                       \
	  "negotiated features\"); tolerated: " VUP_SRC_LVU                    \
	  "vu_set_features_exec stores them",                                  \
	  "acked features never offered")                                      \
	X(PROTOCOL_NOT_OFFERED, "VU013", ERROR, NEGOTIATION,                   \
	  "VHOST_USER_SET_PROTOCOL_FEATURES",                                  \
	  "Enable protocol features in the underlying vhost implementation.",  \
	  "refused: " VUP_SRC_DPDK "vhost_user_set_protocol_features "         \
	  "(\"received invalid protocol features\"); tolerated: " VUP_SRC_RVBE \
	  "set_protocol_features and " VUP_SRC_LVU                             \
	  "vu_set_protocol_features_exec store them",                          \
	  "acked protocol features never offered")                             \
	X(GATE, "VU014", ERROR, NEGOTIATION, "Communication",                  \
	  "Any protocol extensions are gated by protocol feature bits, which " \
	  "allows full backwards compatibility on both front-end and "         \
	  "back-end.",                                                         \
	  "refused: " VUP_SRC_RV "handle_request (check_proto_feature: "       \
	  "InactiveOperation); tolerated: libvhost-user vu_process_message "   \
	  "checks no gate",                                                    \
	  "request gated by a protocol feature not negotiated")                \
	X(BEFORE_OWNER, "VU015", WARNING, ORDERING, "VHOST_USER_SET_OWNER",    \
	  "Issued when a new connection is established.",                      \
	  "tolerated: " VUP_SRC_QEMU "vhost_user_backend_init itself sends "   \
	  "GET_FEATURES and the protocol negotiation before "                  \
	  "SET_OWNER; " VUP_SRC_LVU "vu_set_owner_exec does nothing",          \
	  "request before SET_OWNER")                                          \
	X(CALL_BEFORE_FEATURES, "VU016", WARNING, ORDERING,                    \
	  "VHOST_USER_SET_VRING_CALL",                                         \
	  "Set the event file descriptor to signal when buffers are used.",    \
	  "tolerated: QEMU and DPDK send SET_VRING_CALL before SET_FEATURES "  \
	  "(captures/qemu-net, captures/dpdk-split)",                          \
	  "SET_VRING_CALL before SET_FEATURES")                                \
	X(VRING_MAX, "VU017", ERROR, ORDERING, VUP_SPEC_MQ,                    \
	  "As all queues share one connection, the front-end uses a unique "   \
	  "index for each queue in the sent message to identify a specified "  \
	  "queue.",                                                            \
	  "refused: " VUP_SRC_DPDK "vhost_user_check_and_alloc_queue_pair "    \
	  "(index >= VHOST_MAX_VRING, 257: \"invalid vring "                   \
	  "index\"); " VUP_SRC_RVBE "set_vring_num and siblings (vrings.get: " \
	  "InvalidParam); " VUP_SRC_LVU "vu_set_vring_enable_exec, "           \
	  "vu_check_queue_msg_file (past max_queues: vu_panic)",               \
	  "vring index past 255")                                              \
	X(VRING_PAST_QUEUES, "VU018", ERROR, ORDERING, VUP_SPEC_MQ,            \
	  "Front-end should stop when the number of requested queues is "      \
	  "bigger than that.",                                                 \
	  "refused: " VUP_SRC_RVBE "set_vring_num and siblings past the "      \
	  "get_queue_num answer (InvalidParam); " VUP_SRC_LVU                  \
	  "vu_set_vring_enable_exec past vu_get_queue_num_exec's answer; "     \
	  "checked only past 2 x the answer (queue pairs, as QEMU and DPDK "   \
	  "read it for net)",                                                  \
	  "vring index past the queues GET_QUEUE_NUM reported")                \
	X(ADDR_BEFORE_TABLE, "VU019", ERROR, ORDERING,                         \
	  "VHOST_USER_SET_MEM_TABLE",                                          \
	  "Sets the memory map regions on the back-end so it can translate "   \
	  "the vring addresses.",                                              \
	  "refused: " VUP_SRC_DPDK                                             \
	  "vhost_user_set_vring_addr (dev->mem NULL: "                         \
	  "RESULT_ERR); " VUP_SRC_LVU "vu_set_vring_addr_exec (map_ring "      \
	  "fails: vu_panic \"Invalid vring_addr message\"); " VUP_SRC_RVBE     \
	  "set_vring_addr (no mappings: InvalidParam)",                        \
	  "ring addresses before any memory table")                            \
	X(KICK_BEFORE_ADDR, "VU020", WARNING, ORDERING, "Ring states",         \
	  VUP_QUOTE_KICK, "unknown", "kick before the ring's addresses")       \
	X(KICK_BEFORE_TABLE, "VU021", WARNING, ORDERING, "Ring states",        \
	  VUP_QUOTE_KICK, "unknown", "kick before any memory table")           \
	X(REPLY_MISSING, "VU022", ERROR, REPLIES, VUP_SPEC_COMM,               \
	  "Here is a list of the ones that do:",                               \
	  "hangs: " VUP_SRC_QEMU "vhost_user_read blocks for it "              \
	  "(vhost_user_get_u64, vhost_user_set_log_base); " VUP_SRC_RVFE       \
	  "recv_reply blocks (rust-vmm/vhost #217: Cloud Hypervisor stuck "    \
	  "on SET_LOG_BASE)",                                                  \
	  "reply owed and never sent")                                         \
	X(REPLY_CUT_OFF, "VU023", INFO, REPLIES, VUP_SPEC_COMM,                \
	  "Here is a list of the ones that do:",                               \
	  "none: the file ends before the reply could be seen",                \
	  "reply owed when the file was cut off or rotated")                   \
	X(NACK, "VU024", ERROR, REPLIES, VUP_SPEC_ACK,                         \
	  "The payload should be set to zero on success or non-zero on "       \
	  "failure, unless the message already has an explicit reply body.",   \
	  "the responder refused the request: " VUP_SRC_QEMU                   \
	  "process_message_reply fails it (-EIO); " VUP_SRC_RVFE               \
	  "wait_for_ack (BackendInternalError)",                               \
	  "request refused (non-zero ack)")                                    \
	X(CONFIG_SIZE, "VU025", ERROR, DEVICE, "VHOST_USER_GET_CONFIG",        \
	  VUP_QUOTE_GET_CONFIG,                                                \
	  "refused: " VUP_SRC_QEMU "vhost_user_get_config (\"Received bad "    \
	  "msg size\", -EPROTO); " VUP_SRC_RVFE "get_config (InvalidMessage)", \
	  "GET_CONFIG reply size differs from the request's")                  \
	X(CONFIG_ERROR, "VU026", ERROR, DEVICE, "VHOST_USER_GET_CONFIG",       \
	  VUP_QUOTE_GET_CONFIG,                                                \
	  "the back-end refused GET_CONFIG (" VUP_SRC_LVU "vu_get_config "     \
	  "answers size 0 on error); " VUP_SRC_QEMU "vhost_user_get_config "   \
	  "fails the read (\"Received bad msg size\"); " VUP_SRC_RVFE          \
	  "get_config (BackendInternalError)",                                 \
	  "GET_CONFIG answered with its error form (size 0)")                  \
	X(OVERLAP, "VU027", ERROR, MEMORY, VUP_SPEC_MEM,                       \
	  "Guest addresses map to the vhost memory region containing that "    \
	  "guest address.",                                                    \
	  "refused: " VUP_SRC_RVBE "set_mem_table, add_mem_region (vm-memory " \
	  "region.rs GuestRegionCollection::from_arc_regions: "                \
	  "MemoryRegionOverlap); tolerated: " VUP_SRC_LVU                      \
	  "vu_set_mem_table_exec maps them all",                               \
	  "memory regions overlap")                                            \
	X(SLOTS, "VU028", ERROR, MEMORY, "VHOST_USER_GET_MAX_MEM_SLOTS",       \
	  "The back-end should return the message with a u64 payload "         \
	  "containing the maximum number of memory slots for QEMU to expose "  \
	  "to the guest.",                                                     \
	  "refused: " VUP_SRC_LVU "vu_add_mem_reg past "                       \
	  "VHOST_USER_MAX_RAM_SLOTS, the number vu_handle_get_max_memslots "   \
	  "reports (vu_panic \"no free ram slots available\"); others "        \
	  "unknown",                                                           \
	  "more regions than GET_MAX_MEM_SLOTS reported")                      \
	X(REM_UNKNOWN, "VU029", ERROR, MEMORY, "VHOST_USER_REM_MEM_REG",       \
	  "The memory region to be removed is identified by its guest "        \
	  "address, user address and size.",                                   \
	  "refused: " VUP_SRC_LVU "vu_rem_mem_reg (vu_panic \"Specified "      \
	  "region not found\"); " VUP_SRC_RVBE "remove_mem_region (vm-memory " \
	  "remove_region: NoMemoryRegion)",                                    \
	  "REM_MEM_REG of a region never added")                               \
	X(ADDR_OUTSIDE, "VU030", ERROR, MEMORY, VUP_SPEC_MEM,                  \
	  "User addresses map to the vhost memory region containing that "     \
	  "user address.",                                                     \
	  "refused: " VUP_SRC_LVU                                              \
	  "vu_set_vring_addr_exec (map_ring: vu_panic "                        \
	  "\"Invalid vring_addr message\"); " VUP_SRC_RVBE "set_vring_addr "   \
	  "(vmm_va_to_gpa: MissingMemoryMapping); DPDK defers "                \
	  "(vhost_user_set_vring_addr translates once the ring is enabled)",   \
	  "ring address outside every memory region")                          \
	X(LOG_ALL_NO_BASE, "VU031", WARNING, MIGRATION, VUP_SPEC_MIG,          \
	  "The log memory fd is provided in the ancillary data of "            \
	  "``VHOST_USER_SET_LOG_BASE`` message when the back-end has "         \
	  "``VHOST_USER_PROTOCOL_F_LOG_SHMFD`` protocol feature.",             \
	  "tolerated: DPDK vhost.c __vhost_log_write logs nothing without a "  \
	  "log base; others unknown",                                          \
	  "VHOST_F_LOG_ALL acked without SET_LOG_BASE")                        \
	X(NEED_REPLY_NO_ACK, "VU032", WARNING, NEGOTIATION, VUP_SPEC_ACK,      \
	  "With this protocol extension negotiated, the sender (QEMU) can "    \
	  "set the ``need_reply`` [Bit 3] flag to any command.",               \
	  "tolerated: answered whatever was negotiated by " VUP_SRC_LVU        \
	  "vu_dispatch, " VUP_SRC_DPDK                                         \
	  "vhost_user_msg_handler and " VUP_SRC_QEMU                           \
	  "backend_read; QEMU sends it so "                                    \
	  "(vhost_user_postcopy_listen); " VUP_SRC_RV "send_ack_message "      \
	  "answers only with REPLY_ACK, so a sender that waits hangs",         \
	  "NEED_REPLY without REPLY_ACK negotiated")                           \
	X(NEED_REPLY_ON_BACKEND_REPLY, "VU033", WARNING, FRAMING,              \
	  VUP_SPEC_ACK, VUP_QUOTE_NEED_REPLY,                                  \
	  "tolerated by the back-ends, the receivers of back-end-channel "     \
	  "replies: " VUP_SRC_LVU "vu_process_message_reply and " VUP_SRC_DPDK \
	  "send_vhost_backend_message_process_reply read the u64 only; "       \
	  "rust-vmm vhost backend_req.rs wait_for_ack (is_reply_for reads "    \
	  "only REPLY); " VUP_SENT_NEED_REPLY,                                 \
	  "NEED_REPLY set on a back-end-channel reply")                        \
	VUP_CHECKS_MORE(X)

/* VU033 is the back-end channel's NEED_REPLY_ON_REPLY; the rows below
 * follow it. */
#define VUP_CHECKS_MORE(X)                                                     \
	X(FD_SHORT, "VU034", ERROR, MEMORY, "Memory region description",       \
	  ":mmap offset: 64-bit offset where region starts in the mapped "     \
	  "memory",                                                            \
	  "crashes: the back-ends map size + mmap_offset from the fd's start " \
	  "and never compare it with the fd's size (" VUP_SRC_DPDK             \
	  "vhost_user_mmap_region, " VUP_SRC_LVU "vu_set_mem_table_exec, "     \
	  "vm-memory mmap/unix.rs MmapRegionBuilder::build, where "            \
	  "MappingPastEof is declared and never raised); the first access "    \
	  "past the end of the file raises SIGBUS in the back-end",            \
	  "memory region runs past the end of its fd")                         \
	X(LOG_SMALL, "VU035", ERROR, MIGRATION, VUP_SPEC_MIG,                  \
	  "The size of the log is supplied as part of ``VhostUserMsg`` which " \
	  "should be large enough to cover all known guest addresses.",        \
	  "crashes: " VUP_SRC_LVU "vu_log_write asserts that the log covers "  \
	  "each write (abort); tolerated: DPDK vhost.c __vhost_log_write "     \
	  "drops the pages past the log, which the destination then misses",   \
	  "dirty log smaller than the memory it covers")                       \
	X(LOG_REPLY_EMPTY, "VU036", WARNING, REPLIES,                          \
	  "VHOST_USER_SET_LOG_BASE",                                           \
	  "When the back-end has ``VHOST_USER_PROTOCOL_F_LOG_SHMFD`` "         \
	  "protocol "                                                          \
	  "feature, the log memory fd is provided in the ancillary data of "   \
	  "``VHOST_USER_SET_LOG_BASE`` message, the size and offset of "       \
	  "shared memory area provided in the message.",                       \
	  "tolerated: " VUP_SRC_QEMU "vhost_user_set_log_base reads only the " \
	  "reply's code; sent by " VUP_SRC_DPDK "vhost_user_set_log_base "     \
	  "(size 0: \"QEMU doesn't expect any payload in the reply\"); "       \
	  "refused by " VUP_SRC_RVFE                                           \
	  "set_log_base (recv_reply::<VhostUserLog> "                          \
	  "wants the 16-byte body: InvalidMessage)",                           \
	  "SET_LOG_BASE answered with an empty payload")                       \
	X(SHARED_OBJECT_EMPTY, "VU037", WARNING, REPLIES,                      \
	  "VHOST_USER_GET_SHARED_OBJECT",                                      \
	  "Back-end will reply passing the fd when the operation is "          \
	  "successful, or no fd otherwise.",                                   \
	  "tolerated: " VUP_SRC_QEMU "vhost_user_get_shared_object reads "     \
	  "only the reply's code and its fd; " VUP_SRC_RVFE                    \
	  "get_shared_object expects no body "                                 \
	  "(recv_reply_with_files::<VhostUserEmpty>); " VUP_SRC_LVU            \
	  "vu_get_shared_object answers with the request's payload",           \
	  "GET_SHARED_OBJECT answered with an empty payload")                  \
	X(NEED_REPLY_HAS_REPLY, "VU038", WARNING, NEGOTIATION, VUP_SPEC_ACK,   \
	  "For the message types that already solicit a reply from the "       \
	  "back-end, the presence of ``VHOST_USER_PROTOCOL_F_REPLY_ACK`` or "  \
	  "need_reply bit being set brings no behavioural change.",            \
	  "tolerated: one reply and no ack comes back: " VUP_SRC_DPDK          \
	  "vhost_user_msg_handler (send_vhost_reply clears NEED_REPLY, so no " \
	  "ack follows the reply); a sender that waits for a second, "         \
	  "ack-shaped reply hangs; not judged: postcopy's SET_MEM_TABLE, "     \
	  "answered by the table and then acked (" VUP_SRC_QEMU                \
	  "vhost_user_set_mem_table_postcopy)",                                \
	  "NEED_REPLY on a request that has a reply of its own")               \
	X(VRING_NUM, "VU039", ERROR, DEVICE, "VHOST_USER_SET_VRING_NUM",       \
	  "Set the size of the queue.",                                        \
	  "refused: " VUP_SRC_DPDK "vhost_user_set_vring_num (past 32768, or " \
	  "not a power of 2 on a split ring: \"invalid virtqueue size\", "     \
	  "RESULT_ERR); " VUP_SRC_RVBE "set_vring_num (0 or past "             \
	  "max_queue_size: InvalidParam)",                                     \
	  "queue size 0, past 32768, or not a power of 2 on a split ring")     \
	X(PROTOCOL_UNADVERTISED, "VU040", WARNING, NEGOTIATION,                \
	  "VHOST_USER_SET_PROTOCOL_FEATURES",                                  \
	  "Only legal if feature bit ``VHOST_USER_F_PROTOCOL_FEATURES`` is "   \
	  "present in ``VHOST_USER_GET_FEATURES``.",                           \
	  "tolerated: " VUP_SRC_DPDK                                           \
	  "vhost_user_get_protocol_features and " VUP_SRC_RV                   \
	  "handle_request answer GET_PROTOCOL_FEATURES and store "             \
	  "SET_PROTOCOL_FEATURES without looking at the virtio features",      \
	  "protocol features negotiated though GET_FEATURES lacked bit 30")    \
	X(ENABLE_NO_PROTOCOL, "VU041", ERROR, NEGOTIATION,                     \
	  "VHOST_USER_SET_VRING_ENABLE",                                       \
	  "This request should be sent only when "                             \
	  "``VHOST_USER_F_PROTOCOL_FEATURES`` has been negotiated.",           \
	  "refused once features are acked without bit 30: " VUP_SRC_RV        \
	  "handle_request (check_feature(PROTOCOL_FEATURES): "                 \
	  "InactiveFeature), " VUP_SRC_RVBE "set_vring_enable; before any "    \
	  "SET_FEATURES the offer decides, as " VUP_SRC_QEMU                   \
	  "vhost_user_set_vring_enable reads it (QEMU net sends it then)",     \
	  "SET_VRING_ENABLE without VHOST_USER_F_PROTOCOL_FEATURES")           \
	X(FEATURES_WHILE_RUNNING, "VU042", ERROR, NEGOTIATION, "Ring states",  \
	  "While processing the rings (whether they are enabled or not), the " \
	  "back-end must support changing some configuration aspects on the "  \
	  "fly.",                                                              \
	  "refused: " VUP_SRC_DPDK "vhost_user_set_features (bits other than " \
	  "VHOST_F_LOG_ALL change on a running device: \"features changed "    \
	  "while device is running\", RESULT_ERR)",                            \
	  "features changed beyond LOG_ALL while a ring runs")                 \
	X(RING_PAST_REGION, "VU043", ERROR, MEMORY, VUP_SPEC_MEM,              \
	  "User addresses map to the vhost memory region containing that "     \
	  "user address.",                                                     \
	  "hangs: " VUP_SRC_DPDK "translate_ring_addresses (ring_addr_to_vva " \
	  "maps less than the ring: \"failed to map desc ring\"; the ring "    \
	  "never becomes ready and the device never starts)",                  \
	  "ring area runs past the end of its region")                         \
	X(REPLY_LATE, "VU044", WARNING, REPLIES, VUP_SPEC_COMM,                \
	  "Here is a list of the ones that do:",                               \
	  "waited for without a timeout: " VUP_SRC_QEMU "vhost_user_read "     \
	  "blocks (a back-end that never answers SET_LOG_BASE hangs QEMU, "    \
	  "rust-vmm/vhost #217); only the live relay tells it, once per "      \
	  "request, when --reply-timeout passes: the reply may still come "    \
	  "(VU022 when the session ends without it)",                          \
	  "reply owed past --reply-timeout")

enum vup_check_id {
#define X(id, code, sev, kind, sec, quote, peers, title) VUP_CHECK_##id,
	VUP_CHECKS(X)
#undef X
	        VUP_CHECK_COUNT
};

enum vup_check_severity {
	VUP_SEV_ERROR,
	VUP_SEV_WARNING,
	VUP_SEV_INFO,
	VUP_SEV_COUNT
};
enum vup_check_kind {
	VUP_CK_ORDERING,
	VUP_CK_NEGOTIATION,
	VUP_CK_REPLIES,
	VUP_CK_MEMORY,
	VUP_CK_MIGRATION,
	VUP_CK_DEVICE,
	VUP_CK_FRAMING,
};

struct vup_check_row {
	enum vup_check_id id;
	const char *code; /* "VU001" */
	enum vup_check_severity severity;
	enum vup_check_kind kind;
	const char *section, *quote, *peers, *title;
};

const struct vup_check_row *vup_check_row(enum vup_check_id id);
const char *vup_check_severity_name(enum vup_check_severity s);
const char *vup_check_kind_name(enum vup_check_kind k);
/* The severity byte of a finding record (tracemsg.h: 0 info, 1 warning,
 * 2 error, the reverse of the enum's order). */
uint8_t vup_check_severity_byte(enum vup_check_severity s);
/* The table as a markdown table, one line a row: id, severity, kind,
 * title, spec section, quote (README's "Diagnosis" list is this output;
 * `vuproxy check --list` prints it).  0, or -1 if writing failed. */
int vup_check_table_markdown(FILE *f);

/* One finding: which row, where, and a message naming the values. */
struct vup_check_finding {
	const struct vup_check_row *row;
	uint32_t session;
	uint64_t frame;      /* the pcapng packet number, 1-based; 0 none */
	const char *request; /* catalogue name of the message */
	uint32_t code;       /* its request code */
	enum vup_chan chan;  /* and channel */
	char message[224];
	/* The vuproxy rule that rewrote, failed, delayed, dropped or cut
	 * the message (the trace record names it); NULL when none. */
	const char *rule;
};
#define VUP_CHECK_FINDINGS_MAX 16
struct vup_check_findings {
	unsigned n;
	unsigned lost; /* past VUP_CHECK_FINDINGS_MAX */
	struct vup_check_finding f[VUP_CHECK_FINDINGS_MAX];
};

struct vup_checker;

struct vup_checker *vup_checker_new(uint32_t session); /* NULL: no memory */
void vup_checker_free(struct vup_checker *c);

/* The row of a problem (problems.h) of a message on channel chan:
 * NEED_REPLY on a reply is VU004 on the main channel (QEMU refuses it),
 * VU033 on the back-end channel (the back-ends take it).  False for the
 * problems no row covers (reserved flags, unknown codes: the receiver's
 * to judge, newer peers use them). */
bool vup_check_problem_row(enum vup_problem p, enum vup_chan chan,
                           enum vup_check_id *id);

/* What the relay does with a message that trips a row, before it is
 * forwarded.  Derived from the problem the row is found by: ALWAYS
 * (vuproxy cannot frame it), STRICT (refused with --strict: the rows of
 * the validator and the reply pairing, VUP_PC_STRICT), NEVER (the rows
 * judged once the message went on, and those left to the receiver).
 * tests/hostile/README.md lists the STRICT rows. */
enum vup_check_refusal {
	VUP_REFUSE_NEVER,
	VUP_REFUSE_STRICT,
	VUP_REFUSE_ALWAYS,
};
enum vup_check_refusal vup_check_refusal(enum vup_check_id id);

/* Before the model is fed: what the validator and the reply pairing find
 * (they judge against the state the message arrives in, through
 * vup_problems_find); held for the next vup_check_message. */
void vup_check_before(struct vup_checker *c, const struct vup_model *m,
                      const struct vup_view *v);
/* The same with the problems already found (the relay's step found them
 * for its own decision): no second pass over the message. */
void vup_check_problems(struct vup_checker *c, const struct vup_view *v,
                        const struct vup_findings *fs);
/* After the model was fed v (delivered, events ev): out receives the
 * findings (out->n reset). */
void vup_check_message(struct vup_checker *c, const struct vup_model *m,
                       const struct vup_view *v, bool delivered,
                       const struct vup_model_events *ev, uint64_t frame,
                       struct vup_check_findings *out);
/* The frame given to vup_check_message with the request a reply is owed
 * for (o: vup_model_owed_at), 0 when it is no longer known. */
uint64_t vup_check_owed_frame(const struct vup_checker *c, enum vup_chan chan,
                              const struct vup_model_owed *o);
/* The end of the session's record: replies still owed (INFO when the
 * file is cut off). */
void vup_check_end(struct vup_checker *c, const struct vup_model *m,
                   bool cut_off, struct vup_check_findings *out);

/* `vuproxy check FILE` (cmd.c). */
int vup_check_main(int argc, char **argv);

#endif
