/* svq: a split-ring shadow virtqueue (active mode, issue 15).
 *
 * vuproxy is the device of the guest's split ring and the driver of a
 * shadow split ring of the same size, in memory vuproxy owns (the memfd
 * added to the back-end's memory table).  Forwarding is zero-copy: a
 * shadow descriptor carries the guest descriptor's addr, len and flags
 * (an indirect table is passed as it is and stays in guest memory), so
 * the back-end works on guest buffers.  The shadow chain is vuproxy's own
 * copy of a validated chain: a guest that rewrites descriptors after
 * offering them no longer reaches the back-end.
 *
 * Guest memory is read through vup_guest_mem (bounded, guarded) and
 * written only through gwrite: the guest used ring (elements, idx, flags,
 * avail_event), nothing else.  Everything read from either peer is
 * untrusted: a bad chain, an index that jumps, a used id that names no
 * chain in flight stops the vring (counted, with a message naming the
 * vring); nothing is then read or written any more.  No fd, no loop, no
 * clock: the caller waits on kicks and calls and asks who to notify.
 */
#ifndef VUP_ACTIVE_SVQ_H
#define VUP_ACTIVE_SVQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "active/gwrite.h"
#include "vuproxy/guestmem.h"

/* Most data descriptors in one chain, indirect table included (QEMU's
 * VIRTQUEUE_MAX_SIZE). */
#define VUP_SVQ_MAX_CHAIN 1024u

struct vup_svq_config {
	const char *name;           /* in messages, e.g. "vring 1" */
	uint32_t num;               /* SET_VRING_NUM: a power of 2 */
	uint64_t desc, avail, used; /* SET_VRING_ADDR: guest ring uaddrs */
	bool log_used;              /* VHOST_VRING_F_LOG in its flags */
	uint64_t used_log;          /* its log field: the used ring's GPA */
	uint16_t base;              /* SET_VRING_BASE */
	uint64_t features;          /* EVENT_IDX and INDIRECT_DESC honoured */
	uint8_t *shadow;            /* vup_svq_shadow_size(num) bytes, zeroed */
	uint64_t shadow_uaddr;      /* its address as the back-end sees it */
};

/* Shadow ring layout: descriptors at 0, avail after them, used at the
 * next 4 KiB boundary (legacy alignment too). */
uint64_t vup_svq_shadow_size(uint32_t num);
struct vup_svq_addrs {
	uint64_t desc, avail, used;
};

enum vup_svq_verdict {
	VUP_SVQ_FORWARD, /* to the back-end now */
	VUP_SVQ_DROP,    /* completed to the guest with len 0, not forwarded */
	VUP_SVQ_HOLD,    /* kept; vup_svq_release forwards or drops it */
};

struct vup_svq_seg {
	uint64_t addr; /* GPA */
	uint32_t len;
	bool write; /* device-writable */
};

/* One validated chain, valid during a callback. */
struct vup_svq_chain {
	uint16_t head;      /* guest head descriptor index */
	uint16_t avail_idx; /* guest avail index it was offered at */
	bool indirect;
	bool segs_lost; /* push: an indirect table no longer reads back as
	                   valid; seg/nseg are empty */
	uint32_t nseg;
	const struct vup_svq_seg *seg;
	uint32_t rd_len, wr_len;
};

typedef enum vup_svq_verdict (*vup_svq_avail_fn)(void *ctx,
                                                 const struct vup_svq_chain *c);
/* A chain completed to the guest (len as used); its device-writable data
 * is final.  Not called for drops. */
typedef void (*vup_svq_used_fn)(void *ctx, const struct vup_svq_chain *c,
                                uint32_t len);

struct vup_svq_stats {
	uint64_t pulled, forwarded, dropped, held, completed;
	uint64_t bad_chain;  /* guest: malformed chain */
	uint64_t bad_index;  /* either side: an index that jumps */
	uint64_t bad_used;   /* back-end: used id unknown or completed twice */
	uint64_t bad_access; /* guest ring unreadable or unwritable */
	uint64_t unpopped;   /* stop: offered again after a restart */
	uint64_t
	        stop_zeroed; /* stop: completed with len 0 (see vup_svq_stop) */
};

struct vup_svq_priv;

struct vup_svq {
	struct vup_svq_config cfg;
	const struct vup_guest_mem *gmem;
	struct vup_gwrite *gw;
	bool event_idx, indirect, stopped;
	char why[160];                         /* why the vring stopped */
	uint16_t g_avail, g_used, g_signalled; /* guest: next avail, used */
	uint16_t s_avail, s_used, s_kicked;    /* shadow: published, consumed */
	struct vup_svq_stats st;
	struct vup_svq_priv *p;
};

/* Checks cfg, sets the shadow ring's indices to base.  0, -EINVAL with
 * err, -ENOMEM.  gmem and gw must outlive q. */
int vup_svq_init(struct vup_svq *q, const struct vup_svq_config *cfg,
                 const struct vup_guest_mem *gmem, struct vup_gwrite *gw,
                 char *err, size_t errlen);
void vup_svq_free(struct vup_svq *q);
struct vup_svq_addrs vup_svq_shadow_addrs(const struct vup_svq *q);

/* New guest avail entries: each chain is validated and given to fn (NULL:
 * all forwarded).  Shadow descriptors then avail entries are written and
 * the shadow avail idx is published (release).  Returns the chains
 * pulled, or -EPROTO once the vring stopped (q->why). */
int vup_svq_pull(struct vup_svq *q, vup_svq_avail_fn fn, void *ctx);

/* Forwards (FORWARD) or completes with len 0 (DROP) a held chain.  0,
 * -ENOENT if head is not held, -EPROTO if stopped. */
int vup_svq_release(struct vup_svq *q, uint16_t head, enum vup_svq_verdict v);
/* Forwards every held chain, in guest order.  Returns how many. */
int vup_svq_release_all(struct vup_svq *q);

/* New shadow used entries: each goes to the guest used ring (id = guest
 * head, the back-end's len, the back-end's order) and fn is called; then
 * the guest used idx is published.  Returns the chains completed, or
 * -EPROTO once stopped. */
int vup_svq_push(struct vup_svq *q, vup_svq_used_fn fn, void *ctx);

/* Notifications.  needs_kick/needs_call: whether the peer asked for one
 * since the last that said yes (NO_NOTIFY / NO_INTERRUPT, or the event
 * index with EVENT_IDX). */
bool vup_svq_backend_needs_kick(struct vup_svq *q);
bool vup_svq_guest_needs_call(struct vup_svq *q);
/* vuproxy's own wishes: guest kicks (used.flags or avail_event, written
 * to guest memory) and back-end calls (in the shadow ring).  After
 * enabling, check *_pending to close the race with the peer. */
int vup_svq_want_guest_kicks(struct vup_svq *q, bool on);
void vup_svq_want_backend_calls(struct vup_svq *q, bool on);
bool vup_svq_guest_pending(struct vup_svq *q);
bool vup_svq_backend_pending(struct vup_svq *q);

/* GET_VRING_BASE.  stop_begin releases held chains (guest order) before
 * the caller forwards the request.  stop, with the back-end's answer:
 * drains the shadow used ring to the guest (fn as in push), then un-pops
 * the chains the back-end never took (shadow avail from backend_base on):
 * the guest will offer them again after a restart at the returned base.
 * Only a suffix of the guest's avail order can be un-popped: a chain the
 * back-end did not take, offered before one already completed (a drop),
 * and one the back-end took but never used, is completed with len 0
 * (counted in stop_zeroed).  Then g_used == base.  *base gets the guest's
 * next avail index; 0, or -EPROTO if stopped (*base = next avail). */
int vup_svq_stop_begin(struct vup_svq *q);
int vup_svq_stop(struct vup_svq *q, uint16_t backend_base, vup_svq_used_fn fn,
                 void *ctx, uint16_t *base);

#endif
