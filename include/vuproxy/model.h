/* model: what a vhost-user session means, derived once.
 *
 * Fed decoded messages (struct vup_view) of both channels and both
 * directions, in the order vuproxy decides their fate, it keeps what the
 * session has set up: the features offered and acked, the protocol
 * features, the device status, the memory table, each vring's size,
 * addresses, base, fds, enable and run state, the replies owed and the
 * dirty log.  Each message it is fed yields events ("vring 1 started",
 * "memory table replaced", "vring 1 stopped at 4711", "reply owed since
 * T", "acked a feature never offered"); queries answer what is in effect.
 *
 * It does no I/O and reads a payload only through its layout (a field
 * past the payload is absent, never read).  The relay, the tap, replay
 * and dump read a session's state here and keep no copy of it.
 *
 * Fate: a request that never reaches its receiver (dropped, or failed by
 * a rule) changes nothing and is owed no reply.  A reply pays what its
 * request owes and says what the responder did, whatever becomes of it
 * (the back-end stopped its ring when it answered GET_VRING_BASE).
 */
#ifndef VUPROXY_MODEL_H
#define VUPROXY_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/proto.h"

/* Vrings the model follows (the index of a vring fd message is 8 bits). */
#define VUP_MODEL_VRINGS 256u
/* Regions of the memory table (ADD_MEM_REG may go past a table's 32). */
#define VUP_MODEL_REGIONS 512u
/* Replies owed per channel; past this the oldest is no longer awaited. */
#define VUP_MODEL_OWED_MAX 64

/* X(id, text): what a message did.  index: a vring, or a region slot;
 * value as noted. */
#define VUP_MODEL_EVENTS(X)                                                    \
	X(FEATURES_OFFERED, "features offered") /* value: bits */              \
	X(FEATURES_ACKED, "features acked")     /* value: bits */              \
	X(FEATURES_NOT_OFFERED, "acked a feature never offered") /* bits */    \
	X(PROTOCOL_OFFERED, "protocol features offered")                       \
	X(PROTOCOL_ACKED, "protocol features acked")                           \
	X(PROTOCOL_NOT_OFFERED, "acked a protocol feature never offered")      \
	X(STATUS, "device status set")                  /* value: status */    \
	X(MEM_TABLE, "memory table replaced")           /* index: regions */   \
	X(MEM_ADDED, "memory region added")             /* index: slot */      \
	X(MEM_REMOVED, "memory region removed")         /* value: gpa */       \
	X(MEM_UNREADABLE, "memory message unreadable")  /* table unchanged */  \
	X(MEM_ECHO, "back-end echoed the memory table") /* postcopy */         \
	X(MEM_ECHO_ACK, "front-end acknowledged the echo")                     \
	X(LOG_BASE, "dirty log set")         /* value: size */                 \
	X(VRING_NUM, "vring size set")       /* value: num */                  \
	X(VRING_ADDR, "vring addresses set") /* value: 1 moved */              \
	X(VRING_BASE, "vring base set")      /* value: base */                 \
	X(VRING_KICK, "vring kick set")      /* value: 1 no fd */              \
	X(VRING_CALL, "vring call set")      /* value: 1 no fd */              \
	X(VRING_ERR, "vring err set")        /* value: 1 no fd */              \
	X(VRING_STARTED, "vring started")                                      \
	X(VRING_ENABLED, "vring enable set") /* value: 0/1 */                  \
	X(VRING_STOPPING, "vring asked to stop")                               \
	X(VRING_STOPPED, "vring stopped")                  /* value: base */   \
	X(REPLY_OWED, "reply owed")                        /* value: code */   \
	X(REPLY_PAID, "reply received")                    /* value: code */   \
	X(REPLY_FORGOTTEN, "owed reply no longer awaited") /* value: code */   \
	X(RESET, "device reset")                                               \
	X(POSTCOPY_LISTEN, "postcopy listening")                               \
	X(POSTCOPY_END, "postcopy ended")                                      \
	X(BACKEND_CHANNEL, "back-end channel given")

enum vup_model_event_kind {
#define X(id, text) VUP_EV_##id,
	VUP_MODEL_EVENTS(X)
#undef X
	        VUP_EV_COUNT
};
const char *vup_model_event_name(enum vup_model_event_kind k);

struct vup_model_event {
	enum vup_model_event_kind kind;
	uint32_t index;
	uint64_t value;
	uint64_t since_ns; /* REPLY_*: when the request was fed */
};
#define VUP_MODEL_EVENTS_MAX 8
struct vup_model_events {
	unsigned n;
	struct vup_model_event e[VUP_MODEL_EVENTS_MAX];
};

struct vup_model_region {
	uint64_t gpa, size, uaddr, mmap_offset;
	uint32_t xen_flags, xen_data; /* XEN_MMAP tables only */
};

enum vup_vring_run {
	VUP_VRING_IDLE,     /* never started, or reset */
	VUP_VRING_STARTED,  /* kicked (fd or in-band) */
	VUP_VRING_STOPPING, /* GET_VRING_BASE sent, not answered */
	VUP_VRING_STOPPED,  /* answered: stopped_at holds the base */
};

struct vup_model_vring {
	uint32_t num;
	uint32_t addr_flags;
	uint64_t desc, used, avail, log;
	uint32_t base;       /* SET_VRING_BASE's whole u32 */
	uint32_t stopped_at; /* GET_VRING_BASE's answer */
	bool have_num, have_addr, have_base;
	bool kick_fd, call_fd, err_fd; /* an fd given (not NOFD) */
	bool enabled;
	enum vup_vring_run run;
};

struct vup_model_owed {
	uint32_t code;
	uint8_t expect; /* enum vup_expect */
	uint32_t vring; /* GET_VRING_BASE: the ring it asked about */
	uint64_t since_ns;
};

struct vup_model;

struct vup_model *vup_model_new(void); /* NULL: out of memory */
void vup_model_free(struct vup_model *m);

/* Feed one message and what became of it (delivered: it reaches, or has
 * reached, its receiver).  ev (may be NULL) receives its events. */
void vup_model_feed(struct vup_model *m, const struct vup_view *v,
                    bool delivered, struct vup_model_events *ev);

/* The pairing a reply would get, or the owed queue's overflow a request
 * would cause, without feeding it: VUP_PROBLEM_NONE, REPLY_ORDER,
 * UNSOLICITED or OWED_REPLIES, with a human reason in why. */
enum vup_problem vup_model_pairing(const struct vup_model *m,
                                   const struct vup_view *v, char *why,
                                   size_t whylen);

/* A channel was closed or replaced: its owed replies will not come. */
void vup_model_forget_owed(struct vup_model *m, enum vup_chan chan);

/* Queries. */
const struct vup_negotiated *vup_model_neg(const struct vup_model *m);
/* The back-end's last offers; false if none was seen. */
bool vup_model_offered(const struct vup_model *m, bool protocol,
                       uint64_t *bits);
bool vup_model_status(const struct vup_model *m, uint8_t *status);
bool vup_model_postcopy(const struct vup_model *m); /* LISTEN .. END */
/* Is v the front-end's acknowledgement of the back-end's postcopy echo
 * of a table or region (memory.c)?  QEMU sends it with the header of the
 * echo it read, REPLY flag included. */
bool vup_model_echo_ack(const struct vup_model *m, const struct vup_view *v);
unsigned vup_model_regions(const struct vup_model *m,
                           const struct vup_model_region **regions);
/* Vring index's state; NULL past VUP_MODEL_VRINGS.  A ring never set up
 * reads as a fresh one; the pointer to one that was lasts until a reset
 * (RESET_OWNER, RESET_DEVICE). */
const struct vup_model_vring *vup_model_vring(const struct vup_model *m,
                                              uint32_t index);
/* The dirty log (SET_LOG_BASE); false if none. */
bool vup_model_log(const struct vup_model *m, uint64_t *size, uint64_t *offset);
/* The replies owed on a channel, oldest first. */
unsigned vup_model_owed_count(const struct vup_model *m, enum vup_chan chan);
const struct vup_model_owed *vup_model_owed_at(const struct vup_model *m,
                                               enum vup_chan chan, unsigned i);

/* The one parser of memory tables (the tap's mirror uses it too).
 * 0, or -EINVAL with a reason naming the request in why. */
/* SET_MEM_TABLE {u32 nregions, u32 pad, region[n]}: at most max regions
 * (32 bytes each, 40 with XEN_MMAP), and no bytes beyond them. */
int vup_model_parse_table(const uint8_t *p, uint32_t size, bool xen_mmap,
                          unsigned max, struct vup_model_region *out,
                          unsigned *n, char *why, size_t whylen);
/* ADD_MEM_REG / REM_MEM_REG {u64 pad, region}; what names the request. */
int vup_model_parse_mem_reg(const char *what, const uint8_t *p, uint32_t size,
                            bool xen_mmap, struct vup_model_region *out,
                            char *why, size_t whylen);

#endif
