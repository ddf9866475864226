/* Internals of the tap (tap.c: its queues, started, read and stopped;
 * tap_follow.c: what each message does to them; tap_decode.c: turning
 * consumed buffers into trace records). */
#ifndef VUP_TAP_INTERNAL_H
#define VUP_TAP_INTERNAL_H

#include "vuproxy/memmap.h"
#include "vuproxy/pcapng.h"
#include "vuproxy/ring.h"
#include "vuproxy/tap.h"
#include "vuproxy/tapfmt.h"

struct vup_tap;

/* One virtqueue as the front-end set it up. */
struct tap_queue {
	struct vup_tap *tap;
	uint32_t index;
	uint32_t num, base;
	uint64_t desc, avail, used;
	bool have_num, have_addr, have_base, kicked, enabled;
	bool running; /* ring is initialised and read */
	bool failed;  /* refused until reconfigured */
	struct vup_ring ring;
	struct vup_ring_stats done; /* counts of earlier runs */
	bool declared;              /* net: its trace interface exists */
	uint32_t handle;
	uint64_t start_ns;
	/* net rx: a frame merged over several buffers, being assembled */
	bool pend_active, pend_unverified;
	uint8_t *pend; /* snap length bytes */
	uint32_t pend_cap, pend_orig;
	uint64_t pend_ts;
	uint16_t pend_next_used; /* split: used index of the next part */
	uint32_t cont;           /* parts still to come */
	uint32_t skip;           /* parts of a frame cut by a hole, to drop */
	uint64_t frames_dropped; /* buffers whose header made no sense */
	uint64_t frames;         /* records written */
	uint64_t mem;            /* bytes its reader holds (budget share) */
};

struct vup_tap {
	struct vup_tap_config cfg;
	uint32_t session;
	struct vup_trace *trace;
	struct vup_memmap *mem;
	uint64_t features, protocol_features;
	bool off; /* ACCESS_PLATFORM: not following this session */
	bool warned_index;
	bool blk_declared;
	uint32_t blk_handle;
	uint64_t blk_start_ns;
	struct tap_queue *q[VUP_TAP_MAX_QUEUES];
	unsigned nrunning; /* queues being read */
	unsigned next_q;   /* vup_tap_poll starts there */
	/* GET_VRING_BASE (or _SKIP_DRAIN) requests sent and not answered
	 * yet, oldest first */
	uint32_t gvb[VUP_TAP_MAX_QUEUES];
	unsigned ngvb;
	bool warned_mem;
	/* POSTCOPY_LISTEN until POSTCOPY_END: pages not migrated yet must
	 * fault into the back-end's userfaultfd, so the tap reads no guest
	 * memory (its queues wait, their readers keep their place) */
	bool postcopy;
	/* The back-end echoed SET_MEM_TABLE / ADD_MEM_REG (postcopy): the
	 * request code whose acknowledgement from the front-end, the same
	 * request with a u64 0 and no fd, is still to come; 0 none */
	uint32_t echo;
};

static inline bool vup__tap_has(uint64_t bits, unsigned bit)
{
	return bits >> bit & 1;
}

/* A payload field, by its id. */
static inline bool vup__tap_field(enum vup_field_id id, const uint8_t *p,
                                  uint32_t size, uint64_t *v)
{
	return vup_field_read(id, p, size, v);
}

/* tap.c: the queues.  The queue of a vring index, made on first use (NULL
 * past VUP_TAP_MAX_QUEUES or out of memory). */
struct tap_queue *vup__tap_queue(struct vup_tap *t, uint32_t index);
/* Start reading a queue once it is fully described and running. */
void vup__tap_try_start(struct vup_tap *t, struct tap_queue *q, uint64_t now);
void vup__tap_try_start_all(struct vup_tap *t, uint64_t now);
/* Read what is left (not in postcopy), then stop reading the queue. */
void vup__tap_stop_queue(struct vup_tap *t, struct tap_queue *q, uint64_t now,
                         const char *why);
void vup__tap_stop_all(struct vup_tap *t, uint64_t now, const char *why);
/* A new memory table snapshot (NULL: none usable). */
void vup__tap_set_mem(struct vup_tap *t, struct vup_memmap *m, uint64_t now);

/* Bytes of virtio-net header in front of each frame. */
uint32_t vup__net_hdr_len(uint64_t features);
/* Record the merged frame being assembled, as far as it got. */
void vup__tap_flush_pending(struct tap_queue *q);
/* The packet comment of an unverified copy (b NULL: always), else NULL. */
const char *vup__unverified_note(const struct vup_ring_buf *b);
/* The ring readers' emit callback; ctx is the tap_queue. */
void vup__tap_emit(void *ctx, const struct vup_ring_buf *b);

#endif
