/* ring: configuration, counters and the chain-walking helpers shared by
 * the split (ring_split.c) and packed (ring_packed.c) readers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tap/ring_internal.h"

bool vup__read16(const struct vup_guest_mem *m, uint64_t uaddr, uint16_t *v)
{
	uint8_t b[2];
	if (!vup_guest_read(m, VUP_AS_UADDR, uaddr, b, 2))
		return false;
	*v = vup_le16(b);
	return true;
}

static bool has(uint64_t features, int bit)
{
	return features >> bit & 1;
}

static bool span_ok(uint64_t base, uint64_t len)
{
	return base + len >= base;
}

int vup_ring_init(struct vup_ring *q, const struct vup_ring_config *cfg,
                  const char **reason)
{
	static const char *dummy;
	if (!reason)
		reason = &dummy;
	memset(q, 0, sizeof(*q));
	bool packed = has(cfg->features, VUP_F_RING_PACKED);
	uint32_t n = cfg->size;
	if (n == 0 || n > VUP_RING_MAX_SIZE) {
		*reason = "queue size not in 1..32768";
		return -EINVAL;
	}
	if (!packed && (n & (n - 1))) {
		*reason = "split queue size not a power of 2";
		return -EINVAL;
	}
	if (cfg->snaplen > VUP_RING_MAX_SNAPLEN) {
		*reason = "snap length above 65536";
		return -EINVAL;
	}
	if (!span_ok(cfg->desc, vup_desc_table_size(n)) ||
	    !span_ok(cfg->avail, vup_avail_size(n)) ||
	    !span_ok(cfg->used, vup_used_size(n))) {
		*reason = "ring address wraps around";
		return -EINVAL;
	}
	if (packed && ((cfg->avail_base & 0x7fff) >= n ||
	               (cfg->used_base & 0x7fff) >= n)) {
		*reason = "packed base index past the ring";
		return -EINVAL;
	}
	q->cfg = *cfg;
	q->packed = packed;
	q->indirect = has(cfg->features, VUP_F_INDIRECT_DESC);
	q->in_order = has(cfg->features, VUP_F_IN_ORDER);
	q->snaplen = cfg->snaplen ? cfg->snaplen : 256;
	if (packed) {
		q->avail_cur = cfg->avail_base & 0x7fff;
		q->avail_wrap = cfg->avail_base >> 15;
		q->used_cur = cfg->used_base & 0x7fff;
		q->used_wrap = cfg->used_base >> 15;
	} else {
		q->avail_cur = cfg->avail_base;
		q->used_cur = cfg->used_base;
	}
	q->rec = calloc(n + 1, sizeof(*q->rec));
	q->snap = malloc((size_t)(n + 1) * 2 * q->snaplen);
	q->fifo = calloc(n, sizeof(*q->fifo));
	q->offered = calloc(n, sizeof(*q->offered));
	q->stale = calloc(n, sizeof(*q->stale));
	q->first = calloc(n, sizeof(*q->first));
	q->stamp = calloc(n, sizeof(*q->stamp));
	q->stamp2 = calloc(n, sizeof(*q->stamp2));
	q->work = calloc(n, sizeof(*q->work));
	if (!q->rec || !q->snap || !q->fifo || !q->offered || !q->stale ||
	    !q->first || !q->stamp || !q->stamp2 || !q->work) {
		vup_ring_free(q);
		*reason = "out of memory";
		return -ENOMEM;
	}
	return 0;
}

void vup_ring_free(struct vup_ring *q)
{
	free(q->rec);
	free(q->snap);
	free(q->fifo);
	free(q->offered);
	free(q->stale);
	free(q->first);
	q->first = NULL;
	q->offered = NULL;
	q->stale = NULL;
	free(q->stamp);
	free(q->stamp2);
	free(q->work);
	q->rec = NULL;
	q->snap = NULL;
	q->fifo = NULL;
	q->stamp = q->stamp2 = q->work = NULL;
	q->stopped = true;
}

void vup_ring_stop(struct vup_ring *q)
{
	q->stopped = true;
}

const struct vup_ring_stats *vup_ring_stats(const struct vup_ring *q)
{
	return &q->st;
}

struct budget_mem {
	const struct vup_guest_mem *inner;
	struct vup_ring *q;
};

static bool budget_read(void *ctx, enum vup_addr_space as, uint64_t addr,
                        void *dst, size_t len)
{
	struct budget_mem *b = ctx;
	if (b->q->budget == 0) {
		b->q->halt = true;
		return false;
	}
	b->q->budget--;
	return vup_guest_read(b->inner, as, addr, dst, len);
}

int vup_ring_poll(struct vup_ring *q, const struct vup_guest_mem *mem,
                  uint64_t now_ns, vup_ring_emit_fn emit, void *ctx)
{
	if (q->stopped || !q->rec)
		return -ESHUTDOWN;
	struct budget_mem b = {mem, q};
	struct vup_guest_mem m = {budget_read, &b};
	q->budget = VUP_RING_POLL_READS(q->cfg.size);
	if (q->max_reads && q->max_reads < q->budget)
		q->budget = q->max_reads;
	q->budget_start = q->budget;
	q->halt = false;
	if (q->packed)
		return vup__poll_packed(q, &m, now_ns, emit, ctx);
	return vup__poll_split(q, &m, now_ns, emit, ctx);
}

uint32_t vup_ring_reads(const struct vup_ring *q)
{
	return q->budget_start - q->budget;
}

uint64_t vup_ring_mem(uint32_t size, uint32_t snaplen)
{
	uint64_t n = size;
	return (n + 1) * (sizeof(struct vup_ring_rec) + 2ull * snaplen) +
	       n * (3 * sizeof(uint16_t) + 4 * sizeof(uint32_t));
}

uint32_t vup__next_gen(struct vup_ring *q)
{
	q->gen++;
	if (q->gen == 0) { /* stamps are compared with gen: start over */
		memset(q->stamp, 0, q->cfg.size * sizeof(*q->stamp));
		memset(q->stamp2, 0, q->cfg.size * sizeof(*q->stamp2));
		q->gen = 1;
	}
	return q->gen;
}

/* ---- chain walking ---- */

void vup__walk_start(struct ring_walk *w, struct vup_ring *q,
                     struct vup_ring_rec *r, uint8_t *rd)
{
	memset(w, 0, sizeof(*w));
	w->r = r;
	w->snaplen = q->snaplen;
	w->hash = 0xcbf29ce484222325ull;
	w->rd = rd;
	if (rd) {
		r->nwseg = 0;
		r->flags = 0;
		r->rd_cap = 0;
		r->wr_cap = 0;
		r->used_len = 0;
	}
}

void vup__walk_hash(struct ring_walk *w, const uint8_t d[16])
{
	for (int i = 0; i < 16; i++) {
		w->hash ^= d[i];
		w->hash *= 0x100000001b3ull;
	}
}

bool vup__walk_seg(struct ring_walk *w, const struct vup_guest_mem *m,
                   uint64_t addr, uint32_t len, bool write)
{
	uint8_t probe;
	w->nseen++;
	if (len == 0) {
		w->why = "zero-length descriptor";
		return false;
	}
	if (addr + len - 1 < addr) {
		w->why = "descriptor wraps the address space";
		return false;
	}
	if (!write && w->seen_write) {
		w->why = "readable descriptor after a writable one";
		return false;
	}
	if (write) {
		w->seen_write = true;
		w->wr_len += len;
	} else {
		w->rd_len += len;
	}
	if (w->rd_len + w->wr_len > UINT32_MAX) {
		w->why = "chain longer than 4 GiB";
		return false;
	}
	if (!w->rd)
		return true;
	/* First and last byte must be in guest memory; the snapped part is
	 * read entirely. */
	if (!vup_guest_read(m, VUP_AS_GPA, addr, &probe, 1) ||
	    !vup_guest_read(m, VUP_AS_GPA, addr + len - 1, &probe, 1)) {
		w->why = "descriptor address outside guest memory";
		return false;
	}
	struct vup_ring_rec *r = w->r;
	if (!write) {
		uint32_t room = w->snaplen - r->rd_cap;
		uint32_t n = len < room ? len : room;
		if (n && !vup_guest_read(m, VUP_AS_GPA, addr, w->rd + r->rd_cap,
		                         n)) {
			w->why = "descriptor address outside guest memory";
			return false;
		}
		r->rd_cap += n;
		return true;
	}
	/* Written part: remember where, enough segments for the snap, and
	 * where it ends (a virtio-blk status byte). */
	r->wlast = addr + len - 1;
	uint64_t before = w->wr_len - len;
	if (before < w->snaplen) {
		if (r->nwseg < VUP_RING_MAX_WSEG)
			r->wseg[r->nwseg++] = (struct wseg){addr, len};
		else
			r->flags |= VUP_RING_BUF_WSEG_TRUNC;
	}
	return true;
}

void vup__walk_done(struct ring_walk *w)
{
	struct vup_ring_rec *r = w->r;
	r->ndesc = (uint16_t)(w->nseen > 0xffff ? 0xffff : w->nseen);
	r->rd_len = (uint32_t)w->rd_len;
	r->wr_len = (uint32_t)w->wr_len;
	r->hash = w->hash;
	if (w->indirect)
		r->flags |= VUP_RING_BUF_INDIRECT;
	if (w->rd_len)
		r->flags |= VUP_RING_BUF_READABLE;
	if (w->wr_len)
		r->flags |= VUP_RING_BUF_WRITABLE;
}

uint8_t *vup__rd_snap(struct vup_ring *q, uint32_t key)
{
	return q->snap + (size_t)key * 2 * q->snaplen;
}

uint8_t *vup__wr_snap(struct vup_ring *q, uint32_t key)
{
	return vup__rd_snap(q, key) + q->snaplen;
}

bool vup__copy_written(struct vup_ring *q, const struct vup_guest_mem *m,
                       struct vup_ring_rec *r, uint32_t key)
{
	uint8_t *dst = vup__wr_snap(q, key);
	uint32_t want = r->wr_len;
	if (!(r->flags & VUP_RING_BUF_LEN_UNKNOWN) && r->used_len < want)
		want = r->used_len;
	if (want > q->snaplen)
		want = q->snaplen;
	r->wr_cap = 0;
	if (r->wr_len) {
		if (!vup_guest_read(m, VUP_AS_GPA, r->wlast, &r->wlast_byte, 1))
			return false;
		r->flags |= VUP_RING_BUF_HAS_LAST;
	}
	for (unsigned i = 0; i < r->nwseg && r->wr_cap < want; i++) {
		uint32_t n = want - r->wr_cap;
		if (n > r->wseg[i].len)
			n = r->wseg[i].len;
		if (!vup_guest_read(m, VUP_AS_GPA, r->wseg[i].addr,
		                    dst + r->wr_cap, n))
			return false;
		r->wr_cap += n;
	}
	return true;
}

void vup__used_before_check(struct vup_ring *q, struct vup_ring_rec *r)
{
	/* A chain that looked malformed may have been one the driver had
	 * already got back and reused the memory of (a freed indirect
	 * table): nothing can be said about it. */
	if (r->state == REC_BAD) {
		r->state = REC_TORN;
		return;
	}
	if (!r->rd_len)
		return;
	if (q->cfg.keep_unverified)
		r->flags |= VUP_RING_BUF_UNVERIFIED;
	else
		r->state = REC_TORN;
}

/* ---- counting ---- */

void vup__count_missed(struct vup_ring *q)
{
	q->st.consumed++;
	q->st.missed++;
}

void vup__count_malformed(struct vup_ring *q, const char *why)
{
	q->st.consumed++;
	q->st.malformed++;
	q->st.last_malformed = why;
}

void vup__count_torn(struct vup_ring *q)
{
	q->st.consumed++;
	q->st.torn++;
}

void vup__emit(struct vup_ring *q, struct vup_ring_rec *r, uint32_t key,
               vup_ring_emit_fn emit, void *ctx)
{
	q->st.consumed++;
	q->st.captured++;
	if (r->flags & VUP_RING_BUF_UNVERIFIED)
		q->st.unverified++;
	if (!emit)
		return;
	struct vup_ring_buf b = {
	        .id = r->head,
	        .avail_idx = r->avail_idx,
	        .used_idx = r->used_idx,
	        .ndesc = r->ndesc,
	        .flags = r->flags,
	        .readable_len = r->rd_len,
	        .writable_len = r->wr_len,
	        .used_len = r->used_len,
	        .rd = vup__rd_snap(q, key),
	        .rd_caplen = r->rd_cap,
	        .wr = vup__wr_snap(q, key),
	        .wr_caplen = r->wr_cap,
	        .wr_last = r->wlast_byte,
	        .t_avail_ns = r->t_avail,
	        .t_used_ns = r->t_used,
	};
	emit(ctx, &b);
}
