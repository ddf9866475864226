/* world: the fake guest driver and fake back-end of the svq tests (see
 * world.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "vuproxy/ring_layout.h"
#include "world.h"

static bool in_region(enum vup_addr_space as, uint64_t addr, size_t len,
                      uint64_t *off)
{
	uint64_t start = as == VUP_AS_GPA ? W_GPA : W_UADDR;
	if (addr < start || addr - start > W_SIZE ||
	    len > W_SIZE - (addr - start))
		return false;
	*off = addr - start;
	return true;
}

static bool mem_read(void *ctx, enum vup_addr_space as, uint64_t addr,
                     void *dst, size_t len)
{
	struct world *w = ctx;
	uint64_t off;
	if (!in_region(as, addr, len, &off))
		return false;
	memcpy(dst, w->mem + off, len);
	return true;
}

static uint8_t *mem_ptr(void *ctx, enum vup_addr_space as, uint64_t addr,
                        size_t len)
{
	struct world *w = ctx;
	uint64_t off;
	return in_region(as, addr, len, &off) ? w->mem + off : NULL;
}

static uint8_t *gpa(const struct world *w, uint64_t a)
{
	assert_true(a >= W_GPA && a - W_GPA < W_SIZE);
	return w->mem + (a - W_GPA);
}

uint32_t w_token_at(const struct world *w, uint64_t a)
{
	return vup_le32(gpa(w, a));
}

uint32_t w_len(uint32_t token, uint32_t wr_len)
{
	return wr_len ? token * 7919u % wr_len + 1 : 0;
}

void w_restart(struct world *w, uint16_t base)
{
	char err[128];
	vup_svq_free(&w->q);
	struct vup_svq_config cfg = {
	        .name = "vring 0",
	        .num = w->num,
	        .desc = W_UADDR + W_DESC,
	        .avail = W_UADDR + W_AVAIL,
	        .used = W_UADDR + W_USED,
	        .log_used = true,
	        .used_log = W_GPA + W_USED,
	        .base = base,
	        .features = w->features,
	        .shadow = w->shadow,
	        .shadow_uaddr = w->shadow_uaddr,
	};
	assert_int_equal(
	        vup_svq_init(&w->q, &cfg, &w->gm, &w->gw, err, sizeof(err)), 0);
	w->b_avail = w->b_used = base;
	w->ntaken = 0;
}

void w_init(struct world *w, uint32_t num, uint64_t features, uint16_t base)
{
	memset(w, 0, sizeof(*w));
	assert_true(num <= 256);
	uint8_t *m = mmap(NULL, W_SIZE + 8192, PROT_NONE,
	                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(mprotect(m + 4096, W_SIZE, PROT_READ | PROT_WRITE), 0);
	w->mem = m + 4096;
	w->num = num;
	w->features = features;
	w->shadow = aligned_alloc(4096, vup_svq_shadow_size(num));
	w->shadow_uaddr = 0x7e0000000000ull;
	w->gm = (struct vup_guest_mem){mem_read, w};
	vup_gwrite_init(&w->gw, (struct vup_guest_wmem){mem_ptr, w});
	w->d_avail = w->d_used = base;
	for (uint32_t i = 0; i < num; i++)
		w->next[i] = (uint16_t)(i + 1);
	w->nfree = (uint16_t)num;
	w->next_token = 1;
	vup_put_le16(w->mem + W_AVAIL + VUP_AVAIL_OFF_IDX, base);
	vup_put_le16(w->mem + W_USED + VUP_USED_OFF_IDX, base);
	w_restart(w, base);
}

void w_free(struct world *w)
{
	vup_svq_free(&w->q);
	free(w->shadow);
	munmap(w->mem - 4096, W_SIZE + 8192);
}

/* ---- the guest driver ---- */

static uint16_t d_alloc(struct world *w)
{
	uint16_t d = w->free_head;
	w->free_head = w->next[d];
	w->nfree--;
	return d;
}

uint32_t w_offer(struct world *w, unsigned nseg, unsigned nwr, bool indirect)
{
	if (w->nfree < (indirect ? 1 : nseg) || w->next_token >= W_MAXOFF)
		return UINT32_MAX;
	uint32_t tok = w->next_token++;
	uint16_t head = d_alloc(w), d = head;
	uint8_t *table = w->mem + W_IND + 256u * head;
	for (unsigned k = 0; k < nseg; k++) {
		uint64_t data =
		        indirect ? W_DATA + 0x20000u + (4u * head + k) * W_SEG
		                 : W_DATA + (uint64_t)d * W_SEG;
		if (k == 0)
			vup_put_le32(w->mem + data, tok);
		uint16_t flags =
		        (uint16_t)(k >= nseg - nwr ? VUP_DESC_F_WRITE : 0);
		uint16_t nx = 0;
		if (k + 1 < nseg) {
			flags |= VUP_DESC_F_NEXT;
			nx = indirect ? (uint16_t)(k + 1) : d_alloc(w);
		}
		uint8_t *slot =
		        indirect ? table + 16u * k : w->mem + W_DESC + 16u * d;
		vup_sdesc_put(slot, W_GPA + data, W_SEG, flags, nx);
		if (!indirect)
			w->next[d] = nx, d = nx;
	}
	if (indirect)
		vup_sdesc_put(w->mem + W_DESC + 16u * head,
		              W_GPA + W_IND + 256u * head, 16u * nseg,
		              VUP_DESC_F_INDIRECT, 0);
	w->chain_len[head] = (uint16_t)(indirect ? 1 : nseg);
	w->tok_of_head[head] = tok;
	w->in_flight[head] = true;
	w->state[tok] = 1;
	vup_put_le16(w->mem + W_AVAIL +
	                     vup_avail_slot_off(w->d_avail & (w->num - 1)),
	             head);
	w->d_avail++;
	w->offered++;
	return tok;
}

void w_publish(struct world *w)
{
	uint16_t v = w->d_avail; /* little-endian host */
	__atomic_store_n((uint16_t *)(void *)(w->mem + W_AVAIL + 2), v,
	                 __ATOMIC_RELEASE);
}

unsigned w_reap(struct world *w)
{
	uint16_t idx = __atomic_load_n(
	        (uint16_t *)(void *)(w->mem + W_USED + 2), __ATOMIC_ACQUIRE);
	unsigned n = 0;
	for (; w->d_used != idx; w->d_used++, n++) {
		const uint8_t *e = w->mem + W_USED +
		                   vup_used_slot_off(w->d_used & (w->num - 1));
		uint32_t id = vup_le32(e), len = vup_le32(e + 4);
		assert_true(id < w->num);
		assert_true(w->in_flight[id]);
		uint32_t tok = w->tok_of_head[id];
		assert_int_equal(w->state[tok], 1);
		w->state[tok] = 2;
		w->done_len[tok] = len;
		w->in_flight[id] = false;
		/* free the chain: its descriptors, in our own links */
		uint16_t last = (uint16_t)id;
		for (unsigned k = 1; k < w->chain_len[id]; k++)
			last = w->next[last];
		w->next[last] = w->free_head;
		w->free_head = (uint16_t)id;
		w->nfree = (uint16_t)(w->nfree + w->chain_len[id]);
		w->completed++;
	}
	return n;
}

/* ---- the back-end ---- */

static const uint8_t *sdesc(const struct world *w, uint32_t i)
{
	assert_true(i < w->num);
	return w->shadow + 16u * i;
}

unsigned w_take(struct world *w, unsigned max)
{
	struct vup_svq_addrs a = vup_svq_shadow_addrs(&w->q);
	uint8_t *av = w->shadow + (a.avail - w->shadow_uaddr);
	uint16_t idx =
	        __atomic_load_n((uint16_t *)(void *)(av + 2), __ATOMIC_ACQUIRE);
	unsigned n = 0;
	for (; w->b_avail != idx && n < max; w->b_avail++, n++) {
		uint16_t head = vup_le16(
		        av + vup_avail_slot_off(w->b_avail & (w->num - 1)));
		const uint8_t *d = sdesc(w, head);
		uint32_t wr = 0, tok = 0, guard = 0;
		const uint8_t *table = NULL;
		if (vup_sdesc_flags(d) & VUP_DESC_F_INDIRECT) {
			table = gpa(w, vup_desc_addr(d));
			d = table;
		}
		for (;;) {
			assert_true(++guard <= 64);
			if (!tok)
				tok = w_token_at(w, vup_desc_addr(d));
			if (vup_sdesc_flags(d) & VUP_DESC_F_WRITE)
				wr += vup_desc_len(d);
			if (!(vup_sdesc_flags(d) & VUP_DESC_F_NEXT))
				break;
			d = table ? table + 16u * vup_sdesc_next(d)
			          : sdesc(w, vup_sdesc_next(d));
		}
		assert_true(tok > 0 && tok < W_MAXOFF);
		w->seen[tok]++;
		assert_true(w->ntaken < 256);
		w->taken[w->ntaken] = head;
		w->taken_tok[w->ntaken] = tok;
		w->taken_len[w->ntaken] = w_len(tok, wr);
		w->ntaken++;
	}
	return n;
}

void w_complete(struct world *w, unsigned k)
{
	assert_true(k < w->ntaken);
	struct vup_svq_addrs a = vup_svq_shadow_addrs(&w->q);
	uint8_t *u = w->shadow + (a.used - w->shadow_uaddr);
	uint8_t *e = u + vup_used_slot_off(w->b_used & (w->num - 1));
	vup_put_le32(e, w->taken[k]);
	vup_put_le32(e + 4, w->taken_len[k]);
	w->b_used++;
	__atomic_store_n((uint16_t *)(void *)(u + 2), w->b_used,
	                 __ATOMIC_RELEASE);
	memmove(&w->taken[k], &w->taken[k + 1],
	        (w->ntaken - k - 1) * sizeof(w->taken[0]));
	memmove(&w->taken_tok[k], &w->taken_tok[k + 1],
	        (w->ntaken - k - 1) * sizeof(w->taken_tok[0]));
	memmove(&w->taken_len[k], &w->taken_len[k + 1],
	        (w->ntaken - k - 1) * sizeof(w->taken_len[0]));
	w->ntaken--;
}

/* ---- svq callbacks ---- */

static enum vup_svq_verdict on_avail(void *ctx, const struct vup_svq_chain *c)
{
	struct world *w = ctx;
	assert_true(c->nseg > 0);
	uint32_t tok = w_token_at(w, c->seg[0].addr);
	assert_true(tok > 0 && tok < W_MAXOFF);
	return (enum vup_svq_verdict)w->verdict[tok];
}

static void on_used(void *ctx, const struct vup_svq_chain *c, uint32_t len)
{
	struct world *w = ctx;
	assert_false(c->segs_lost);
	uint32_t tok = w_token_at(w, c->seg[0].addr);
	assert_true(tok > 0 && tok < W_MAXOFF);
	assert_int_equal(len, w_len(tok, c->wr_len));
	w->used_cb[tok]++;
}

int w_pull(struct world *w)
{
	return vup_svq_pull(&w->q, on_avail, w);
}

int w_push(struct world *w)
{
	return vup_svq_push(&w->q, on_used, w);
}

int w_stop(struct world *w, uint16_t *base)
{
	return vup_svq_stop(&w->q, w->b_avail, on_used, w, base);
}

int w_head_of(const struct world *w, uint32_t tok)
{
	for (uint32_t h = 0; h < w->num; h++)
		if (w->in_flight[h] && w->tok_of_head[h] == tok)
			return (int)h;
	return -1;
}
