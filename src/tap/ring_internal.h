/* Shared internals of the ring readers (ring.c, ring_split.c,
 * ring_packed.c): per-buffer records, chain walking helpers, counters. */
#ifndef VUP_TAP_RING_INTERNAL_H
#define VUP_TAP_RING_INTERNAL_H

#include "vuproxy/ring.h"
#include "vuproxy/ring_layout.h"

enum rec_state { REC_NONE, REC_OK, REC_BAD, REC_TORN, REC_COPIED };

struct wseg {
	uint64_t addr;
	uint32_t len;
};

/* What the reader knows about one outstanding buffer. */
struct vup_ring_rec {
	uint8_t state, nwseg;
	uint16_t head, avail_idx, ndesc;
	uint16_t used_idx; /* REC_COPIED: where it was used */
	uint32_t losses;   /* split: the ring's losses when it was walked */
	bool used_wrap;
	uint32_t flags, rd_len, wr_len, rd_cap, wr_cap, used_len, used_id;
	uint64_t t_avail, t_used, hash;
	uint64_t wlast; /* gpa of the last device-writable byte */
	uint8_t wlast_byte;
	const char *why;
	struct wseg wseg[VUP_RING_MAX_WSEG];
};

/* One chain walk: copy mode (rd != NULL) fills the record, check mode
 * only recomputes the hash of the descriptors. */
struct ring_walk {
	struct vup_ring_rec *r;
	uint8_t *rd;
	uint32_t snaplen;
	uint64_t hash;
	uint64_t rd_len, wr_len;
	uint32_t nseen;
	bool seen_write, indirect;
	const char *why;
};

bool vup__read16(const struct vup_guest_mem *m, uint64_t uaddr, uint16_t *v);

void vup__walk_start(struct ring_walk *w, struct vup_ring *q,
                     struct vup_ring_rec *r, uint8_t *rd);
/* Hashes one descriptor's 16 bytes. */
void vup__walk_hash(struct ring_walk *w, const uint8_t d[16]);
/* Accounts one data descriptor.  False with w->why set if malformed. */
bool vup__walk_seg(struct ring_walk *w, const struct vup_guest_mem *m,
                   uint64_t addr, uint32_t len, bool write);
/* Fills the record's totals and flags from a successful walk. */
void vup__walk_done(struct ring_walk *w);

/* Starts a new stamp generation (see struct vup_ring.gen). */
uint32_t vup__next_gen(struct vup_ring *q);

uint8_t *vup__rd_snap(struct vup_ring *q, uint32_t key);
uint8_t *vup__wr_snap(struct vup_ring *q, uint32_t key);

/* Copies the written part of r (up to its used len) into its snap. */
bool vup__copy_written(struct vup_ring *q, const struct vup_guest_mem *m,
                       struct vup_ring_rec *r, uint32_t key);

/* The device used r before the re-check of the copy made when it became
 * available.  A chain that failed its walk counts torn, not malformed.  A
 * chain with nothing device-readable copied nothing then:
 * it stays good (its written part is copied and checked when used).
 * Otherwise the readable copy is torn, or with keep_unverified kept and
 * flagged unverified. */
void vup__used_before_check(struct vup_ring *q, struct vup_ring_rec *r);

/* Classification of one consumed buffer (keeps the count invariant). */
void vup__count_missed(struct vup_ring *q);
void vup__count_malformed(struct vup_ring *q, const char *why);
void vup__count_torn(struct vup_ring *q);
void vup__emit(struct vup_ring *q, struct vup_ring_rec *r, uint32_t key,
               vup_ring_emit_fn emit, void *ctx);

int vup__poll_split(struct vup_ring *q, const struct vup_guest_mem *m,
                    uint64_t now, vup_ring_emit_fn emit, void *ctx);
int vup__poll_packed(struct vup_ring *q, const struct vup_guest_mem *m,
                     uint64_t now, vup_ring_emit_fn emit, void *ctx);

#endif
