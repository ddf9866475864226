/* proto: the vhost-user message catalogue and codec.
 *
 * One table describes every request of the current vhost-user spec on both
 * channels (front-end requests on the main socket, back-end requests on the
 * back-end channel).  The validator, the -v log, the dumper, the rule matcher
 * and the Wireshark dissector all read this table; nothing else keeps a list
 * of requests.  This module does no I/O.
 */
#ifndef VUPROXY_PROTO_H
#define VUPROXY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/bits.h" /* feature and status bits, their names */

#define VUP_HDR_SIZE    12u
#define VUP_MAX_PAYLOAD 4096u /* larger payloads are refused */
#define VUP_MAX_FDS     32u   /* room for fds per message; more = MSG_CTRUNC */
/* Regions in one SET_MEM_TABLE: the spec's baseline is 8 (QEMU, DPDK,
 * libvhost-user), rust-vmm peers take 32 and Cloud Hypervisor sends every
 * RAM region in one table.  One fd per region: VUP_MAX_FDS. */
#define VUP_MEM_TABLE_MAX_REGIONS 32u
/* Device config space (GET_CONFIG/SET_CONFIG offset + size): rust-vmm's
 * bound; QEMU's devices use at most 256 bytes. */
#define VUP_CONFIG_SPACE_MAX 4096u

#define VUP_FLAG_VERSION_MASK 0x3u
#define VUP_FLAG_VERSION      0x1u
#define VUP_FLAG_REPLY        0x4u
#define VUP_FLAG_NEED_REPLY   0x8u
#define VUP_FLAG_KNOWN        0xfu /* bits 4..31 are reserved */

/* Which socket a message travelled on. */
enum vup_chan { VUP_CHAN_MAIN = 0, VUP_CHAN_BACKEND = 1 };
/* Who sent it. */
enum vup_side { VUP_FRONTEND = 0, VUP_BACKEND = 1 };

struct vup_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
};

/* Payload layouts.  Each has a field table (see vup_layout_fields). */
#define VUP_LAYOUTS(X)                                                         \
	X(NONE, "none")                                                        \
	X(U64, "u64")                                                          \
	X(ACK, "ack")                                                          \
	X(FEATURES, "features")                                                \
	X(PROTOCOL_FEATURES, "protocol_features")                              \
	X(VRING_STATE, "vring_state")                                          \
	X(VRING_BASE, "vring_base")                                            \
	X(VRING_BASE_PACKED, "vring_base_packed")                              \
	X(VRING_ENABLE, "vring_enable")                                        \
	X(VRING_ADDR, "vring_addr")                                            \
	X(VRING_FD, "vring_fd")                                                \
	X(MEM_TABLE, "mem_table")                                              \
	X(MEM_REG, "mem_reg")                                                  \
	X(LOG, "log")                                                          \
	X(IOTLB, "iotlb")                                                      \
	X(CONFIG, "config")                                                    \
	X(INFLIGHT, "inflight")                                                \
	X(STATUS, "status")                                                    \
	X(MAC, "mac")                                                          \
	X(UUID, "uuid")                                                        \
	X(DEVICE_STATE, "device_state")                                        \
	X(SHMEM_CONFIG, "shmem_config")                                        \
	X(HOST_NOTIFIER, "host_notifier")                                      \
	X(SHMEM_MAP, "shmem_map")                                              \
	X(OPAQUE, "opaque")

enum vup_layout {
#define X(id, str) VUP_L_##id,
	VUP_LAYOUTS(X)
#undef X
	        VUP_L_COUNT
};

#include "vuproxy/fields.h"

/* How many fds a message carries. */
enum vup_fd_rule {
	VUP_FD_NONE,     /* exactly 0 */
	VUP_FD_ONE,      /* exactly 1 */
	VUP_FD_OPTIONAL, /* 0 or 1 */
	VUP_FD_VRING,    /* 1, or 0 when bit 8 (NOFD) of the first u64 is set */
	VUP_FD_PER_REGION, /* one per memory region of the table */
	VUP_FD_ANY         /* not checked (unknown requests) */
};

/* When the receiver answers a request. */
enum vup_reply_rule {
	VUP_REPLY_ACK,      /* u64 ack, only when NEED_REPLY is set */
	VUP_REPLY_ALWAYS,   /* a reply body always follows */
	VUP_REPLY_FEATURE,  /* always if reply_gate is negotiated, else ACK */
	VUP_REPLY_POSTCOPY, /* ACK; a body echo may follow in postcopy mode */
	VUP_REPLY_ACK_ANY,  /* ACK, and it may also come without NEED_REPLY */
};

struct vup_msg_type {
	uint32_t code;
	const char *name;  /* without the VHOST_USER_ prefix */
	const char *alias; /* historical name (SLAVE_*) or NULL */
	enum vup_chan chan;
	enum vup_layout req_layout;
	uint16_t req_min, req_max; /* payload bytes */
	enum vup_fd_rule req_fds;
	enum vup_reply_rule reply;
	enum vup_layout rep_layout; /* body layout for ALWAYS/FEATURE */
	uint16_t rep_min, rep_max;
	enum vup_fd_rule rep_fds;
	int8_t gate;       /* protocol feature bit that enables it, -1 none */
	int8_t reply_gate; /* for VUP_REPLY_FEATURE, -1 otherwise */
};

/* What the session has negotiated so far; changes payload meaning. */
struct vup_negotiated {
	uint64_t features;          /* SET_FEATURES */
	uint64_t protocol_features; /* SET_PROTOCOL_FEATURES */
};

/* Codes of the front-end requests that vuproxy's own logic acts on (the
 * catalogue has them all; a unit test checks these names against it). */
enum vup_req {
	VUP_REQ_GET_FEATURES = 1,
	VUP_REQ_SET_FEATURES = 2,
	VUP_REQ_SET_OWNER = 3,
	VUP_REQ_RESET_OWNER = 4,
	VUP_REQ_SET_MEM_TABLE = 5,
	VUP_REQ_SET_LOG_BASE = 6,
	VUP_REQ_SET_VRING_NUM = 8,
	VUP_REQ_SET_VRING_ADDR = 9,
	VUP_REQ_SET_VRING_BASE = 10,
	VUP_REQ_GET_VRING_BASE = 11,
	VUP_REQ_SET_VRING_KICK = 12,
	VUP_REQ_SET_VRING_CALL = 13,
	VUP_REQ_SET_VRING_ERR = 14,
	VUP_REQ_GET_PROTOCOL_FEATURES = 15,
	VUP_REQ_SET_PROTOCOL_FEATURES = 16,
	VUP_REQ_GET_QUEUE_NUM = 17,
	VUP_REQ_SET_VRING_ENABLE = 18,
	VUP_REQ_SET_BACKEND_REQ_FD = 21,
	VUP_REQ_GET_CONFIG = 24,
	VUP_REQ_POSTCOPY_LISTEN = 29,
	VUP_REQ_POSTCOPY_END = 30,
	VUP_REQ_RESET_DEVICE = 34,
	VUP_REQ_VRING_KICK = 35,
	VUP_REQ_GET_MAX_MEM_SLOTS = 36,
	VUP_REQ_ADD_MEM_REG = 37,
	VUP_REQ_REM_MEM_REG = 38,
	VUP_REQ_SET_STATUS = 39,
	VUP_REQ_GET_SHARED_OBJECT = 41,
	VUP_REQ_SET_DEVICE_STATE_FD = 42,
	VUP_REQ_GET_VRING_BASE_SKIP_DRAIN = 45,
};

/* Catalogue. */
const struct vup_msg_type *vup_proto_lookup(enum vup_chan chan, uint32_t code);

/* What a request sets up that lasts: a file that begins in the middle of
 * a session restates the set-up in effect (declared state, trace.h) as
 * the last request of each key, with its reply, in their original order.
 * Restated in that order they leave the receiver where the session was:
 * a ring stopped and started again is stopped, then set up again; a
 * reset comes after what it undid. */
enum vup_declare {
	VUP_DECLARE_NONE,       /* an event: nothing of it lasts */
	VUP_DECLARE_LAST,       /* key: the request */
	VUP_DECLARE_VRING,      /* key: the request and its vring index */
	VUP_DECLARE_VRING_STOP, /* key: the vring's last stop; a later
	                           VRING request of the ring undoes it */
	VUP_DECLARE_TABLE,      /* replaces every region: ADD_MEM_REG's too */
	VUP_DECLARE_REGION_ADD, /* key: its region's guest address */
	VUP_DECLARE_REGION_REM, /* undoes the ADD_MEM_REG of its address */
};
enum vup_declare vup_proto_declares(enum vup_chan chan, uint32_t code);
/* By name, with or without the VHOST_USER_ prefix, or by alias
 * (SET_SLAVE_REQ_FD); case-insensitive.  Names are unique across channels. */
const struct vup_msg_type *vup_proto_by_name(const char *name);
size_t vup_proto_count(enum vup_chan chan);
const struct vup_msg_type *vup_proto_at(enum vup_chan chan, size_t i);
const char *vup_proto_name(enum vup_chan chan, uint32_t code); /* "UNKNOWN" */
const char *vup_layout_name(enum vup_layout l);
const char *vup_chan_name(enum vup_chan c); /* "main" / "backend" */
const char *vup_side_name(enum vup_side s); /* "front-end" / "back-end" */

/* Payload fields, for rendering, rules and the dissector. */
enum vup_fmt {
	VUP_FMT_DEC,
	VUP_FMT_HEX,
	VUP_FMT_FEATURES,
	VUP_FMT_PFEATURES,
	VUP_FMT_STATUS,
	VUP_FMT_BOOL,
	VUP_FMT_MAC,
	VUP_FMT_UUID,
};
struct vup_field {
	const char *name;
	uint16_t off;  /* byte offset in the payload */
	uint8_t size;  /* 1, 2, 4, 8 bytes (little or native endian), or 6/16 */
	uint8_t shift; /* bit-field within the integer */
	uint8_t bits;  /* 0 = whole integer */
	enum vup_fmt fmt;
};
/* Every field of every layout, by id (fields.h). */
extern const struct vup_field vup_fields[VUP_FLD_COUNT];
/* The fixed fields of a layout; variable parts (memory regions, config
 * bytes) are rendered specially.  *n receives the count. */
const struct vup_field *vup_layout_fields(enum vup_layout l, size_t *n);
/* One memory region of SET_MEM_TABLE {gpa, size, uaddr, mmap_offset}:
 * its fields, and its size in the table (32 bytes, 40 with XEN_MMAP). */
#define VUP_MEM_REGION_FIELDS 4
#define vup_mem_region_fields (&vup_fields[VUP_FLD__FIRST_REGION])
uint32_t vup_mem_region_size(const struct vup_negotiated *neg);
/* Read a field of a payload; false if it lies beyond size. */
bool vup_field_get(const struct vup_field *f, const uint8_t *p, uint32_t size,
                   uint64_t *out);
/* The same by id: what vuproxy's own logic reads from a payload whose
 * layout it knows (a region at its offset in a table). */
bool vup_field_read(enum vup_field_id id, const uint8_t *p, uint32_t size,
                    uint64_t *out);
/* Write a field (rules rewrite); false if it lies beyond size. */
bool vup_field_set(const struct vup_field *f, uint8_t *p, uint32_t size,
                   uint64_t value);

/* The layout of a message's payload (request or reply, from the header's
 * flags; an 8-byte answer to a postcopy-capable request is an ack). */
enum vup_layout vup_msg_layout(const struct vup_msg_type *t,
                               const struct vup_hdr *h,
                               const struct vup_negotiated *neg);

/* A decoded message: what everything downstream of the socket (the
 * session model, the relay's decisions, the tap, replay, dump) reads.
 * Decoded once, by vup_view_decode; it points into the message, which
 * must outlive it.  Fields are read with vup_view_get, by id. */
struct vup_fd_info;
struct vup_view {
	struct vup_hdr hdr;
	const uint8_t *payload;          /* hdr.size bytes */
	const struct vup_msg_type *type; /* its catalogue row; NULL unknown */
	enum vup_chan chan;
	enum vup_side from;
	/* Sent by the channel's responder: a reply, whatever its flags say
	 * (the receiver reads it by the sender's role). */
	bool reply;
	enum vup_layout layout; /* of the payload, as the receiver reads it */
	bool fits;              /* the payload holds the layout's fields */
	unsigned nfds;
	const int *fds; /* NULL when only described (a trace) */
	const struct vup_fd_info *fd_info; /* their kinds, or NULL */
	uint64_t time_ns;
};
/* Decode a message (one catalogue lookup).  fds, fd_info: as the caller
 * has them (either may be NULL). */
void vup_view_decode(struct vup_view *v, enum vup_chan chan, enum vup_side from,
                     const struct vup_hdr *h, const uint8_t *payload,
                     const int *fds, unsigned nfds,
                     const struct vup_negotiated *neg, uint64_t time_ns);
/* Read a field of the view's payload: false when the field is not of the
 * view's layout or lies beyond the payload. */
bool vup_view_get(const struct vup_view *v, enum vup_field_id id,
                  uint64_t *out);
/* The vring a message is about: bits 0-7 of a vring fd message, else
 * the u32 index; false when its layout has none or the payload does not
 * hold it. */
bool vup_view_vring(const struct vup_view *v, uint32_t *index);
/* vup_proto_check of a decoded message (no catalogue lookup). */
enum vup_problem vup_proto_check_view(const struct vup_view *v,
                                      const struct vup_negotiated *neg,
                                      char *why, size_t whylen);

/* Remember what a request negotiates (SET_FEATURES,
 * SET_PROTOCOL_FEATURES): later payloads are read accordingly.  Only the
 * front-end's messages on the main channel negotiate, whatever their flags
 * say (the receiver may take a request flagged as a reply). */
void vup_proto_note(struct vup_negotiated *neg, enum vup_chan chan,
                    enum vup_side from, const struct vup_hdr *h,
                    const uint8_t *payload);

/* What vuproxy can find wrong with a message, and what it does about it
 * (one row per kind: the name is the kind's word in logs, trace marks and
 * `dump`):
 *   REFUSE  vuproxy cannot frame or relay the message safely: it closes
 *           the session, whatever the mode;
 *   STRICT  the spec leaves the judgement to the receiver: relayed
 *           unchanged and reported; refused with --strict;
 *   REPORT  relayed and reported, also with --strict. */
#define VUP_PROBLEMS(X)                                                        \
	X(VERSION, "version", REFUSE)                                          \
	X(PAYLOAD_LIMIT, "payload-limit", REFUSE)                              \
	X(ROLE, "role", STRICT)                                                \
	X(NEED_REPLY_ON_REPLY, "need-reply-on-reply", STRICT)                  \
	X(SIZE, "size", STRICT)                                                \
	X(LAYOUT, "layout", STRICT)                                            \
	X(FDS, "fds", STRICT)                                                  \
	X(REPLY_ORDER, "reply-order", STRICT)                                  \
	X(UNSOLICITED, "unsolicited-reply", STRICT)                            \
	X(OWED_REPLIES, "owed-replies", STRICT)                                \
	X(BACKEND_REQ_FD, "backend-req-fd", STRICT)                            \
	X(RESERVED_FLAGS, "reserved-flags", REPORT)                            \
	X(UNKNOWN_REQUEST, "unknown-request", REPORT)

enum vup_problem {
	VUP_PROBLEM_NONE = 0,
#define X(id, str, cls) VUP_PROBLEM_##id,
	VUP_PROBLEMS(X)
#undef X
	        VUP_PROBLEM_COUNT
};
enum vup_problem_class { VUP_PC_REFUSE, VUP_PC_STRICT, VUP_PC_REPORT };
const char *vup_problem_name(enum vup_problem p); /* "size", "none" */
enum vup_problem_class vup_problem_class(enum vup_problem p);
/* Does vuproxy refuse a message with this problem? */
bool vup_problem_refused(enum vup_problem p, bool strict);

/* Validation against the catalogue.  The sender's role on the channel
 * (requester or responder), not the REPLY flag, says whether a message
 * is read as a request or a reply.  Returns the first problem found
 * (VUP_PROBLEM_NONE if none), with a human reason in why. */
enum vup_problem vup_proto_check_header(const struct vup_hdr *h,
                                        enum vup_chan chan, enum vup_side from,
                                        char *why, size_t whylen);
enum vup_problem vup_proto_check(const struct vup_hdr *h,
                                 const uint8_t *payload, unsigned nfds,
                                 enum vup_chan chan, enum vup_side from,
                                 const struct vup_negotiated *neg, char *why,
                                 size_t whylen);
/* Is `from` the side that answers on this channel (the back-end on the
 * main channel, the front-end on the back-end channel)? */
bool vup_proto_is_responder(enum vup_chan chan, enum vup_side from);

/* Can a reply to this request say "failed"?  Acks are a u64 status;
 * of the requests always answered with a body, those whose body is a
 * status word and GET_CONFIG (size 0 = error) can; feature words, vring
 * bases and counts (GET_QUEUE_NUM, GET_MAX_MEM_SLOTS) cannot. */
bool vup_proto_has_error_form(const struct vup_msg_type *t);

/* Does the receiver of this request answer it? */
enum vup_expect {
	VUP_EXPECT_NONE,  /* no reply */
	VUP_EXPECT_MAYBE, /* a reply may come (unknown code, NEED_REPLY) */
	VUP_EXPECT_YES,   /* a reply must come */
};
enum vup_expect vup_proto_reply_expected(const struct vup_hdr *h,
                                         enum vup_chan chan,
                                         const struct vup_negotiated *neg);
/* The same for a request whose catalogue row is known (NULL unknown). */
enum vup_expect vup_proto_expect(const struct vup_msg_type *t,
                                 const struct vup_hdr *h,
                                 const struct vup_negotiated *neg);

/* Rendering.  Both return the length they would have written (snprintf
 * style) and always NUL-terminate when cap > 0. */
/* "index=0 flags=0x0 desc=0x7f.. used=0x.. avail=0x.. log=0x0" */
size_t vup_render_text(char *buf, size_t cap, const struct vup_hdr *h,
                       const uint8_t *payload, enum vup_chan chan,
                       const struct vup_negotiated *neg);
/* {"index":0,"flags":"0x0","desc":"0x7f..",...} */
size_t vup_render_json(char *buf, size_t cap, const struct vup_hdr *h,
                       const uint8_t *payload, enum vup_chan chan,
                       const struct vup_negotiated *neg);
/* "0x140000000 <VHOST_USER_F_PROTOCOL_FEATURES|VIRTIO_F_VERSION_1>" */
size_t vup_render_features(char *buf, size_t cap, uint64_t bits, bool protocol);

/* Replies vuproxy makes itself, in place of the receiver: the rule
 * `fail` (FAILED) and replay, for a request the record has no reply for
 * (OK).  One builder, by the catalogue's reply rule. */
enum vup_reply_status {
	VUP_REPLY_OK,     /* what a receiver that succeeded sends */
	VUP_REPLY_FAILED, /* the request's error form */
};
/* Build in rep and payload (VUP_MAX_PAYLOAD bytes) the reply to req
 * (req_payload holds req->size bytes).  Where the answer is a u64 ack,
 * the ack is *value, else 0 (OK) or 1 (FAILED).  A body (ALWAYS rows,
 * FEATURE rows once reply_gate is negotiated and without NEED_REPLY) is
 * zero with *value (else 0) in its first u64; a vring reply keeps the
 * request's ring index, *value is its num.  FAILED bodies have the row's
 * minimum size (GET_CONFIG: 0, its error form); OK bodies the size a
 * succeeding receiver sends (GET_CONFIG: the request's, its offset, size
 * and flags kept).  Returns false, building nothing, when the request
 * expects no reply (an ACK_ANY ack is built only on NEED_REPLY). */
bool vup_reply_build(const struct vup_hdr *req, const uint8_t *req_payload,
                     enum vup_chan chan, const struct vup_negotiated *neg,
                     enum vup_reply_status status, const uint64_t *value,
                     struct vup_hdr *rep, uint8_t *payload);

#endif
