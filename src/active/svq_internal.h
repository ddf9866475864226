/* svq_internal: what svq.c (set-up, walk, pull) and svq_done.c (push,
 * notifications, stop) share: the private book-keeping and helpers. */
#ifndef VUP_ACTIVE_SVQ_INTERNAL_H
#define VUP_ACTIVE_SVQ_INTERNAL_H

#include "active/svq.h"

#define VUP_SVQ_NONE 0xffffu

enum { G_FREE, G_FLIGHT, G_HELD };         /* a guest head */
enum { S_FREE, S_DONE, S_HELD, S_FLIGHT }; /* a shadow head */

struct vup_svq_priv {
	/* per guest head */
	uint8_t *g_state;
	uint16_t *g_sh, *g_aidx, *held_prev, *held_next;
	/* per guest avail slot: the head pulled at the last index there */
	uint16_t *a_head;
	/* per shadow descriptor / head */
	uint8_t *s_state;
	uint8_t *s_ind; /* the chain is one indirect descriptor */
	uint16_t *s_next, *s_g, *s_pos, *s_ndesc;
	struct vup_svq_seg *s_seg;
	uint16_t free_head, held_first, held_last;
	uint32_t nfree, s_inflight;
	bool kicks_on, calls_on;
	struct vup_svq_seg seg[VUP_SVQ_MAX_CHAIN]; /* walk scratch */
};

struct walk {
	uint32_t nseg;
	uint64_t rd, wr;
	bool seen_write, indirect;
	uint64_t ind_addr;
	uint32_t ind_len;
};

/* Stops the vring (once): counts, and writes "NAME: message" to q->why.
 * Returns -EPROTO. */
int vup__svq_halt(struct vup_svq *q, uint64_t *counter, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Shadow ring offsets and its index words (acquire loads, release
 * stores: the back-end is another process). */
uint64_t vup__svq_off_avail(uint32_t num);
uint64_t vup__svq_off_used(uint32_t num);
uint16_t vup__svq_sh_load(const struct vup_svq *q, uint64_t off);
void vup__svq_sh_store(const struct vup_svq *q, uint64_t off, uint16_t v);

/* Guest ring: a bounded read; writes to the used ring through gwrite
 * (a failed write stops the vring). */
bool vup__svq_read16(struct vup_svq *q, uint64_t uaddr, uint16_t *v);
int vup__svq_used_write(struct vup_svq *q, enum vup_gwrite_kind kind,
                        uint64_t off, const void *src, size_t len);
/* One used element {head, len} at g_used, then g_used++. */
int vup__svq_used_elem(struct vup_svq *q, uint16_t head, uint32_t len);
/* Release fence, then used.idx = g_used. */
int vup__svq_publish_used(struct vup_svq *q);

/* Walks the guest chain at head into q->p->seg; NULL or what is wrong. */
const char *vup__svq_walk(struct vup_svq *q, uint16_t head, struct walk *w);
/* Walks an indirect table only (w->ind_addr, w->ind_len set). */
const char *vup__svq_walk_table(struct vup_svq *q, struct walk *w);
/* EVENT_IDX with guest kicks wanted: avail_event = g_avail. */
int vup__svq_avail_event(struct vup_svq *q);
/* Returns a shadow chain's descriptors to the free list. */
void vup__svq_shadow_release(struct vup_svq *q, uint16_t head, uint8_t state);

#endif
