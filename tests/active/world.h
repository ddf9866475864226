/* world: a guest and a back-end around one shadow virtqueue, in plain
 * buffers, for the svq tests.
 *
 * Guest memory is one region (GPA W_GPA, uaddr W_UADDR) between two
 * PROT_NONE guard pages: a read or write by the svq outside it faults.
 * The fake guest driver is Linux's split-ring driver in miniature: a
 * LIFO free list of descriptors (heads are reused), one token per buffer
 * in its first 4 bytes, used entries checked against what it offered.
 * The fake back-end reads the shadow ring as a vhost-user back-end does
 * (DPDK's split path: last_avail, chains by GPA, indirect tables), keeps
 * what it took, and completes it in order or in any order asked, with a
 * len derived from the token.
 */
#ifndef VUP_TEST_ACTIVE_WORLD_H
#define VUP_TEST_ACTIVE_WORLD_H

#include <stdbool.h>
#include <stdint.h>

#include "active/svq.h"

#define W_GPA    0x40000000ull
#define W_UADDR  0x7f1200000000ull
#define W_SIZE   0x100000u
#define W_DESC   0x0000u
#define W_AVAIL  0x2000u
#define W_USED   0x3000u
#define W_IND    0x10000u /* indirect tables: 256 bytes per head */
#define W_DATA   0x20000u /* 512 bytes per descriptor */
#define W_SEG    512u
#define W_MAXOFF 4096u /* tokens: one per offer */

struct world {
	uint32_t num;
	uint8_t *mem; /* W_SIZE bytes between guard pages */
	uint8_t *shadow;
	uint64_t shadow_uaddr;
	struct vup_guest_mem gm;
	struct vup_gwrite gw;
	struct vup_svq q;
	uint64_t features;
	/* driver */
	uint16_t d_avail, d_used, free_head, nfree;
	uint16_t next[256], chain_len[256];
	uint32_t tok_of_head[256];
	bool in_flight[256];
	uint32_t next_token;
	uint32_t offered, completed;
	uint8_t state[W_MAXOFF]; /* per token: 0 new, 1 offered, 2 done */
	uint32_t done_len[W_MAXOFF];
	/* back-end */
	uint16_t b_avail, b_used;
	uint16_t taken[256]; /* shadow heads taken, not yet used */
	uint32_t taken_tok[256], taken_len[256];
	uint32_t ntaken;
	uint8_t seen[W_MAXOFF]; /* times the back-end saw each token */
	/* svq callbacks */
	uint8_t verdict[W_MAXOFF]; /* vup_svq_verdict per token */
	uint32_t used_cb[W_MAXOFF];
};

void w_init(struct world *w, uint32_t num, uint64_t features, uint16_t base);
/* Re-creates the svq over the same guest ring at base (a restart). */
void w_restart(struct world *w, uint16_t base);
void w_free(struct world *w);

/* The guest offers one buffer of nseg segments (writable ones last:
 * nwr of them), directly or as an indirect table.  Returns its token, or
 * UINT32_MAX when no descriptors are free. */
uint32_t w_offer(struct world *w, unsigned nseg, unsigned nwr, bool indirect);
/* The guest publishes what it offered (avail idx). */
void w_publish(struct world *w);
/* The guest reads its used ring: checks each entry, frees its chain. */
unsigned w_reap(struct world *w);

/* The back-end takes what the shadow avail ring offers (at most max). */
unsigned w_take(struct world *w, unsigned max);
/* The back-end completes its k-th taken chain (0: oldest), publishing. */
void w_complete(struct world *w, unsigned k);
/* The len the back-end writes for a token. */
uint32_t w_len(uint32_t token, uint32_t wr_len);

/* pull / push with the test callbacks (verdict[] per token). */
int w_pull(struct world *w);
int w_push(struct world *w);

/* vup_svq_stop with the back-end's base and the used callback. */
int w_stop(struct world *w, uint16_t *base);
/* The guest head of an offered token, or -1. */
int w_head_of(const struct world *w, uint32_t tok);

/* Token of a chain's first segment. */
uint32_t w_token_at(const struct world *w, uint64_t gpa);

#endif
