/* Internals of the tap (tap.c: its queues, started, read and stopped;
 * tap_follow.c: what each message does to them; tap_decode.c: turning
 * consumed buffers into trace records). */
#ifndef VUP_TAP_INTERNAL_H
#define VUP_TAP_INTERNAL_H

#include "vuproxy/memmap.h"
#include "vuproxy/model.h"
#include "vuproxy/pcapng.h"
#include "vuproxy/ring.h"
#include "vuproxy/tap.h"
#include "vuproxy/tapfmt.h"

struct vup_tap;

/* One virtqueue the tap reads (its set-up is the session model's). */
struct tap_queue {
	struct vup_tap *tap;
	uint32_t index;
	/* The ring being read, as it was when the reader started. */
	uint32_t num;
	uint64_t desc, avail, used;
	/* A SET_VRING_BASE no start has used yet: a restart without one
	 * starts at the used index in memory. */
	bool base_pending;
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
	const struct vup_model *model; /* the session's, from its messages */
	bool off; /* ACCESS_PLATFORM: not following this session */
	bool warned_index;
	bool blk_declared;
	uint32_t blk_handle;
	uint64_t blk_start_ns;
	struct tap_queue *q[VUP_TAP_MAX_QUEUES];
	unsigned nrunning; /* queues being read */
	unsigned next_q;   /* vup_tap_poll starts there */
	bool warned_mem;
	/* POSTCOPY_LISTEN until POSTCOPY_END: pages not migrated yet must
	 * fault into the back-end's userfaultfd, so the tap reads no guest
	 * memory (its queues wait, their readers keep their place) */
	bool postcopy;
};

static inline bool vup__tap_has(uint64_t bits, unsigned bit)
{
	return bits >> bit & 1;
}

/* What the session negotiated (nothing before its first message). */
static inline const struct vup_negotiated *vup__tap_neg(const struct vup_tap *t)
{
	static const struct vup_negotiated none;
	return t->model ? vup_model_neg(t->model) : &none;
}

/* The model's state of a queue's vring (NULL before any message). */
static inline const struct vup_model_vring *
vup__tap_vring(const struct tap_queue *q)
{
	return q->tap->model ? vup_model_vring(q->tap->model, q->index) : NULL;
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

/* Record the merged frame being assembled, as far as it got. */
void vup__tap_flush_pending(struct tap_queue *q);
/* The packet comment of an unverified copy (b NULL: always), else NULL. */
const char *vup__unverified_note(const struct vup_ring_buf *b);
/* The ring readers' emit callback; ctx is the tap_queue. */
void vup__tap_emit(void *ctx, const struct vup_ring_buf *b);

#endif
