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

#include "vuproxy/model.h"
#include "vuproxy/proto.h"

/* Quotes are from docs/interop/vhost-user.rst at QEMU commit 028f2361d0c2
 * (a sentence wrapped in the file is joined into one line). */
#define VUP_SPEC_HEADER "Header"
#define VUP_SPEC_COMM   "Communication"
#define VUP_SPEC_MQ     "Multiple queue support"
#define VUP_SPEC_MIG    "Migration"
#define VUP_SPEC_MEM    "Memory access"
#define VUP_SPEC_ACK    "VHOST_USER_PROTOCOL_F_REPLY_ACK"

/* Sentences and peers that several rows share. */
#define VUP_QUOTE_KICK                                                         \
	"The back-end must start ring upon receiving a kick (that is, "        \
	"detecting that file descriptor is readable) on the descriptor "       \
	"specified by ``VHOST_USER_SET_VRING_KICK`` or receiving the in-band " \
	"message ``VHOST_USER_VRING_KICK`` if negotiated, and stop ring upon " \
	"receiving ``VHOST_USER_GET_VRING_BASE``."
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
	"QEMU refuses a reply to another request (\"Received unexpected msg "  \
	"type\"); others unknown"
#define VUP_PEERS_RING_ADDR                                                    \
	"libvhost-user refuses ring addresses it cannot translate (vu_panic "  \
	"\"Invalid vring_addr message\"); DPDK defers them"

/* X(id, "VUnnn", severity, kind, section, quote, peers, title) */
#define VUP_CHECKS(X)                                                          \
	X(VERSION, "VU001", ERROR, FRAMING, VUP_SPEC_HEADER,                   \
	  "Lower 2 bits are the version (currently 0x01)",                     \
	  "QEMU refuses a reply whose flags are not REPLY|VERSION "            \
	  "(vhost_user_read_header); vuproxy closes the session; DPDK, "       \
	  "libvhost-user, rust-vmm unknown",                                   \
	  "header version is not 1")                                           \
	X(PAYLOAD_LIMIT, "VU002", ERROR, FRAMING, VUP_SPEC_HEADER,             \
	  ":size: 32-bit size of the payload",                                 \
	  "QEMU refuses a payload over VHOST_USER_PAYLOAD_SIZE "               \
	  "(vhost_user_read); vuproxy closes the session; others unknown",     \
	  "payload over the largest vhost-user payload")                       \
	X(ROLE, "VU003", ERROR, FRAMING, VUP_SPEC_HEADER,                      \
	  "Bit 2 is the reply flag - needs to be sent on each reply from the " \
	  "back-end",                                                          \
	  "QEMU refuses a reply without the REPLY flag "                       \
	  "(vhost_user_read_header); DPDK, libvhost-user, rust-vmm unknown",   \
	  "REPLY flag contradicts the sender's role")                          \
	X(NEED_REPLY_ON_REPLY, "VU004", WARNING, FRAMING, VUP_SPEC_ACK,        \
	  "This indicates that the back-end MUST respond with a Payload "      \
	  "``VhostUserMsg`` indicating success or failure.",                   \
	  "tolerated (issue 12: 0xd replies); which peer echoes it and which " \
	  "refuses it: unknown",                                               \
	  "NEED_REPLY set on a reply")                                         \
	X(SIZE, "VU005", WARNING, FRAMING, VUP_SPEC_HEADER,                    \
	  ":size: 32-bit size of the payload",                                 \
	  "unknown (no reference peer shown to refuse it yet)",                \
	  "payload size outside the request's bounds")                         \
	X(LAYOUT, "VU006", WARNING, FRAMING, VUP_SPEC_HEADER,                  \
	  ":size: 32-bit size of the payload",                                 \
	  "unknown (no reference peer shown to refuse it yet)",                \
	  "payload does not hold its layout")                                  \
	X(FDS, "VU007", ERROR, FRAMING, VUP_SPEC_COMM,                         \
	  "There are several messages that the front-end sends with file "     \
	  "descriptors passed in the ancillary data:",                         \
	  "DPDK refuses a request with the wrong fd count "                    \
	  "(validate_msg_fds); QEMU, libvhost-user, rust-vmm unknown",         \
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
	  "The fd is provided via ``VHOST_USER_SET_SLAVE_REQ_FD`` ancillary "  \
	  "data.",                                                             \
	  "unknown", "back-end channel given without a socket")                \
	X(FEATURES_NOT_OFFERED, "VU012", ERROR, NEGOTIATION,                   \
	  "VHOST_USER_SET_FEATURES",                                           \
	  "Enable features in the underlying vhost implementation using a "    \
	  "bitmask.",                                                          \
	  "rust-vmm refuses (vhost-user-backend set_features: "                \
	  "InvalidParam); DPDK refuses (\"received invalid negotiated "        \
	  "features\"); QEMU, libvhost-user unknown",                          \
	  "acked features never offered")                                      \
	X(PROTOCOL_NOT_OFFERED, "VU013", ERROR, NEGOTIATION,                   \
	  "VHOST_USER_SET_PROTOCOL_FEATURES",                                  \
	  "Enable protocol features in the underlying vhost implementation.",  \
	  "DPDK refuses (\"received invalid protocol features\"); rust-vmm "   \
	  "tolerates (stores them); QEMU, libvhost-user unknown",              \
	  "acked protocol features never offered")                             \
	X(GATE, "VU014", ERROR, NEGOTIATION, "Communication",                  \
	  "Any protocol extensions are gated by protocol feature bits, which " \
	  "allows full backwards compatibility on both front-end and "         \
	  "back-end.",                                                         \
	  "rust-vmm refuses (check_proto_feature in backend_req_handler); "    \
	  "QEMU, DPDK, libvhost-user unknown",                                 \
	  "request gated by a protocol feature not negotiated")                \
	X(BEFORE_OWNER, "VU015", WARNING, ORDERING, "VHOST_USER_SET_OWNER",    \
	  "Issued when a new connection is established.",                      \
	  "tolerated: QEMU itself sends GET_FEATURES and the protocol "        \
	  "negotiation before SET_OWNER",                                      \
	  "request before SET_OWNER")                                          \
	X(CALL_BEFORE_FEATURES, "VU016", WARNING, ORDERING,                    \
	  "VHOST_USER_SET_VRING_CALL",                                         \
	  "Set the event file descriptor to signal when buffers are used.",    \
	  "tolerated: QEMU and DPDK send SET_VRING_CALL before SET_FEATURES",  \
	  "SET_VRING_CALL before SET_FEATURES")                                \
	X(VRING_MAX, "VU017", ERROR, ORDERING, VUP_SPEC_MQ,                    \
	  "As all queues share one connection, the front-end uses a unique "   \
	  "index for each queue in the sent message to identify a specified "  \
	  "queue.",                                                            \
	  "DPDK refuses an index past VHOST_MAX_VRING (256) (\"invalid vring " \
	  "index\"); rust-vmm refuses an index past its queues",               \
	  "vring index past 255")                                              \
	X(VRING_PAST_QUEUES, "VU018", ERROR, ORDERING, VUP_SPEC_MQ,            \
	  "Front-end should stop when the number of requested queues is "      \
	  "bigger than that.",                                                 \
	  "rust-vmm refuses an index past GET_QUEUE_NUM's answer "             \
	  "(InvalidParam); checked only past 2 x the answer (queue pairs, as " \
	  "QEMU and DPDK read it for net)",                                    \
	  "vring index past the queues GET_QUEUE_NUM reported")                \
	X(ADDR_BEFORE_TABLE, "VU019", ERROR, ORDERING,                         \
	  "VHOST_USER_SET_MEM_TABLE",                                          \
	  "Sets the memory map regions on the back-end so it can translate "   \
	  "the vring addresses.",                                              \
	  VUP_PEERS_RING_ADDR, "ring addresses before any memory table")       \
	X(KICK_BEFORE_ADDR, "VU020", WARNING, ORDERING, "Ring states",         \
	  VUP_QUOTE_KICK, "unknown", "kick before the ring's addresses")       \
	X(KICK_BEFORE_TABLE, "VU021", WARNING, ORDERING, "Ring states",        \
	  VUP_QUOTE_KICK, "unknown", "kick before any memory table")           \
	X(REPLY_MISSING, "VU022", ERROR, REPLIES, VUP_SPEC_COMM,               \
	  "Here is a list of the ones that do:",                               \
	  "QEMU hangs waiting for it (rust-vmm/vhost #217: SET_LOG_BASE)",     \
	  "reply owed and never sent")                                         \
	X(REPLY_CUT_OFF, "VU023", INFO, REPLIES, VUP_SPEC_COMM,                \
	  "Here is a list of the ones that do:",                               \
	  "none: the file ends before the reply could be seen",                \
	  "reply owed when the file was cut off")                              \
	X(NACK, "VU024", ERROR, REPLIES, VUP_SPEC_ACK,                         \
	  "The payload should be set to zero on success or non-zero on "       \
	  "failure, unless the message already has an explicit reply body.",   \
	  "the responder refused the request; QEMU fails the operation "       \
	  "(\"Today, QEMU is expected to terminate the main vhost-user loop "  \
	  "upon receiving such errors.\")",                                    \
	  "request refused (non-zero ack)")                                    \
	X(CONFIG_SIZE, "VU025", ERROR, DEVICE, "VHOST_USER_GET_CONFIG",        \
	  VUP_QUOTE_GET_CONFIG,                                                \
	  "QEMU refuses a reply of another size (vhost_user_get_config: "      \
	  "\"Received bad msg size\"); others unknown",                        \
	  "GET_CONFIG reply size differs from the request's")                  \
	X(CONFIG_ERROR, "VU026", ERROR, DEVICE, "VHOST_USER_GET_CONFIG",       \
	  VUP_QUOTE_GET_CONFIG,                                                \
	  "the back-end refused GET_CONFIG; QEMU fails the read "              \
	  "(vhost_user_get_config)",                                           \
	  "GET_CONFIG answered with its error form (size 0)")                  \
	X(OVERLAP, "VU027", ERROR, MEMORY, VUP_SPEC_MEM,                       \
	  "Guest addresses map to the vhost memory region containing that "    \
	  "guest address.",                                                    \
	  "rust-vmm refuses overlapping regions (vm-memory "                   \
	  "MemoryRegionOverlap); QEMU, DPDK, libvhost-user unknown",           \
	  "memory regions overlap")                                            \
	X(SLOTS, "VU028", ERROR, MEMORY, "VHOST_USER_GET_MAX_MEM_SLOTS",       \
	  "The back-end should return the message with a u64 payload "         \
	  "containing the maximum number of memory slots for QEMU to expose "  \
	  "to the guest.",                                                     \
	  "libvhost-user refuses a region past its slots (vu_panic \"No free " \
	  "ram slots available\"); others unknown",                            \
	  "more regions than GET_MAX_MEM_SLOTS reported")                      \
	X(REM_UNKNOWN, "VU029", WARNING, MEMORY, "VHOST_USER_REM_MEM_REG",     \
	  "The memory region to be removed is identified by its guest "        \
	  "address, user address and size.",                                   \
	  "unknown", "REM_MEM_REG of a region never added")                    \
	X(ADDR_OUTSIDE, "VU030", ERROR, MEMORY, VUP_SPEC_MEM,                  \
	  "User addresses map to the vhost memory region containing that "     \
	  "user address.",                                                     \
	  VUP_PEERS_RING_ADDR, "ring address outside every memory region")     \
	X(LOG_ALL_NO_BASE, "VU031", WARNING, MIGRATION, VUP_SPEC_MIG,          \
	  "The log memory fd is provided in the ancillary data of "            \
	  "``VHOST_USER_SET_LOG_BASE`` message when the back-end has "         \
	  "``VHOST_USER_PROTOCOL_F_LOG_SHMFD`` protocol feature.",             \
	  "unknown (DPDK logs nothing without a log base)",                    \
	  "VHOST_F_LOG_ALL acked without SET_LOG_BASE")                        \
	X(NEED_REPLY_NO_ACK, "VU032", WARNING, NEGOTIATION, VUP_SPEC_ACK,      \
	  "With this protocol extension negotiated, the sender (QEMU) can "    \
	  "set the ``need_reply`` [Bit 3] flag to any command.",               \
	  "unknown (DPDK and libvhost-user answer NEED_REPLY whatever was "    \
	  "negotiated: unverified)",                                           \
	  "NEED_REPLY without REPLY_ACK negotiated")

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

/* One finding: which row, where, and a message naming the values. */
struct vup_check_finding {
	const struct vup_check_row *row;
	uint32_t session;
	uint64_t frame;      /* the pcapng packet number, 1-based; 0 none */
	const char *request; /* catalogue name of the message */
	char message[224];
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

/* Before the model is fed: what the validator and the reply pairing find
 * (they judge against the state the message arrives in); held for the
 * next vup_check_message. */
void vup_check_before(struct vup_checker *c, const struct vup_model *m,
                      const struct vup_view *v);
/* After the model was fed v (delivered, events ev): out receives the
 * findings (out->n reset). */
void vup_check_message(struct vup_checker *c, const struct vup_model *m,
                       const struct vup_view *v, bool delivered,
                       const struct vup_model_events *ev, uint64_t frame,
                       struct vup_check_findings *out);
/* The end of the session's record: replies still owed (INFO when the
 * file is cut off). */
void vup_check_end(struct vup_checker *c, const struct vup_model *m,
                   bool cut_off, struct vup_check_findings *out);

/* `vuproxy check FILE` (cmd.c). */
int vup_check_main(int argc, char **argv);

#endif
