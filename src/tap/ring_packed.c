/* ring_packed: passive reader of a packed virtqueue.
 *
 * Avail phase: from the driver position, each available chain is walked
 * (buffer id from its last descriptor) and its readable bytes copied into
 * the record of that id; the copy is re-checked by walking the
 * descriptors again (still available, same hash) and by scanning the used
 * descriptors written meanwhile.  Used phase: from the device position,
 * each used descriptor classifies its record (IN_ORDER: every record up
 * to its id, in avail order) and skips the chain length recorded at
 * avail time.  When the driver has overwritten a used descriptor, or one
 * names a buffer the reader never saw, the position is lost: the pending
 * records count as missed and reading restarts at the driver's position.
 */
#include <errno.h>
#include <string.h>

#include "tap/ring_internal.h"

struct pdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t id, flags;
	uint8_t raw[VUP_DESC_SIZE];
};

static bool read_pdesc(const struct vup_guest_mem *m, enum vup_addr_space as,
                       uint64_t base, uint32_t i, struct pdesc *d)
{
	if (!vup_guest_read(m, as, base + (uint64_t)VUP_DESC_SIZE * i, d->raw,
	                    VUP_DESC_SIZE))
		return false;
	d->addr = vup_desc_addr(d->raw);
	d->len = vup_desc_len(d->raw);
	d->id = vup_pdesc_id(d->raw);
	d->flags = vup_pdesc_flags(d->raw);
	return true;
}

/* The flags of descriptor pos of the ring. */
static bool read_flags(const struct vup_ring *q, const struct vup_guest_mem *m,
                       uint16_t pos, uint16_t *f)
{
	return vup__read16(m,
	                   q->cfg.desc + (uint64_t)VUP_DESC_SIZE * pos +
	                           VUP_PDESC_OFF_FLAGS,
	                   f);
}

static bool bit(uint16_t f, uint16_t b)
{
	return (f & b) != 0;
}

static bool is_avail(uint16_t f, bool wrap)
{
	return bit(f, VUP_PDESC_F_AVAIL) == wrap &&
	       bit(f, VUP_PDESC_F_USED) != wrap;
}

static bool is_used(uint16_t f, bool wrap)
{
	return bit(f, VUP_PDESC_F_AVAIL) == wrap &&
	       bit(f, VUP_PDESC_F_USED) == wrap;
}

static void advance(const struct vup_ring *q, uint16_t *pos, bool *wrap,
                    uint32_t k)
{
	uint32_t p = *pos + k;
	while (p >= q->cfg.size) {
		p -= q->cfg.size;
		*wrap = !*wrap;
	}
	*pos = (uint16_t)p;
}

struct chain {
	uint16_t ndesc, id;
	bool have_id, lost; /* lost: changed under the walk */
};

/* Walks the chain at pos: descriptors must all be available.  A bad data
 * descriptor does not stop the walk (the id and length are still
 * needed); false with w->why if anything was malformed. */
static bool packed_walk(struct vup_ring *q, const struct vup_guest_mem *m,
                        uint16_t pos, bool wrap, struct ring_walk *w,
                        struct chain *c)
{
	uint32_t n = q->cfg.size;
	const char *why = NULL;
	struct pdesc d;

	memset(c, 0, sizeof(*c));
	for (;;) {
		if (!read_pdesc(m, VUP_AS_UADDR, q->cfg.desc, pos, &d)) {
			w->why = "descriptor ring outside memory";
			return false;
		}
		if (!is_avail(d.flags, wrap)) {
			/* the device used it (or the driver moved on) */
			w->why = "chain changed while read";
			c->lost = true;
			return false;
		}
		vup__walk_hash(w, d.raw);
		c->ndesc++;
		if (d.flags & VUP_DESC_F_INDIRECT) {
			const char *bad = NULL;
			if (!q->indirect)
				bad = "indirect without INDIRECT_DESC";
			else if (d.flags & VUP_DESC_F_NEXT)
				bad = "indirect descriptor with NEXT";
			else if (d.len == 0 || d.len % VUP_DESC_SIZE)
				bad = "indirect table length not a multiple "
				      "of 16";
			else if (d.len / VUP_DESC_SIZE > VUP_RING_MAX_INDIRECT)
				bad = "indirect table too long";
			w->indirect = true;
			for (uint32_t j = 0; !bad && j < d.len / VUP_DESC_SIZE;
			     j++) {
				struct pdesc e;
				if (!read_pdesc(m, VUP_AS_GPA, d.addr, j, &e)) {
					bad = "indirect table outside memory";
					break;
				}
				vup__walk_hash(w, e.raw);
				if (e.flags & VUP_DESC_F_INDIRECT)
					bad = "nested indirect table";
				else if (!vup__walk_seg(
				                 w, m, e.addr, e.len,
				                 e.flags & VUP_DESC_F_WRITE))
					bad = w->why;
			}
			if (bad && !why)
				why = bad;
		} else if (!vup__walk_seg(w, m, d.addr, d.len,
		                          d.flags & VUP_DESC_F_WRITE)) {
			if (!why)
				why = w->why;
			w->rd = NULL; /* keep walking for the id only */
		}
		if (!(d.flags & VUP_DESC_F_NEXT))
			break; /* INDIRECT with NEXT is bad, yet ends later */
		if (c->ndesc >= n) {
			w->why = "descriptor chain longer than the queue";
			return false;
		}
		advance(q, &pos, &wrap, 1);
	}
	c->id = d.id;
	c->have_id = true;
	w->why = why;
	return why == NULL;
}

static uint16_t pos_of(uint16_t pos, bool wrap)
{
	return (uint16_t)(pos | (uint16_t)wrap << 15);
}

/* Lost the device position: count what we waited for as missed. */
static void desync(struct vup_ring *q)
{
	q->st.desync++;
	q->halt = true; /* at most one per poll: each costs a pass */
	for (uint32_t i = 0; i < q->cfg.size; i++) {
		struct vup_ring_rec *r = &q->rec[i];
		if (r->state == REC_OK || r->state == REC_BAD ||
		    r->state == REC_TORN) {
			vup__count_missed(q);
			r->state = REC_NONE;
		}
	}
	q->fifo_len = 0;
	/* The device may be behind the restart point and still write used
	 * descriptors for buffers offered before it: do not trust captures
	 * until it has used two rings' worth past it. */
	q->suspect = 2 * q->cfg.size;
	q->used_cur = q->avail_cur;
	q->used_wrap = q->avail_wrap;
}

/* A used descriptor the reader has no offer for: a buffer offered and
 * used between two reads, counted missed, and the place is lost.  After
 * the desync the reader waits at the same slot until the driver offers
 * it again; finding the same descriptor there on the next polls is the
 * same buffer, not another one to count. */
static void unmatched_use(struct vup_ring *q, uint16_t p, bool w, uint16_t id)
{
	uint64_t key = ((uint64_t)id << 16 | pos_of(p, w)) + 1;
	if (q->stuck_use == key)
		return;
	vup__count_missed(q);
	desync(q);
	q->stuck_use = key;
}

static void fifo_push(struct vup_ring *q, uint16_t id)
{
	q->fifo[(q->fifo_head + q->fifo_len) % q->cfg.size] = id;
	q->fifo_len++;
}

static uint16_t fifo_at(const struct vup_ring *q, uint32_t i)
{
	return q->fifo[(q->fifo_head + i) % q->cfg.size];
}

/* Position in the FIFO of id, or -1. */
static int32_t fifo_find(const struct vup_ring *q, uint32_t from, uint16_t id)
{
	for (uint32_t i = from; i < q->fifo_len; i++)
		if (fifo_at(q, i) == id)
			return (int32_t)i;
	return -1;
}

/* Marks this round's copies torn if a used descriptor not yet processed
 * names them: every slot from the used position to the avail position
 * is looked at (a walk by chain lengths could be misled by an id offered
 * again).  Such a descriptor is either this buffer's (used before the
 * re-check) or a former use of the id that the reader never processed;
 * either way the copy cannot be trusted.  With IN_ORDER, everything
 * offered before a used buffer is used too. */
static void scan_used(struct vup_ring *q, const struct vup_guest_mem *m,
                      uint32_t gen, uint32_t nw)
{
	uint16_t p = q->used_cur;
	bool w = q->used_wrap, lost = false;
	uint32_t mark = gen ^ 0x80000000u;
	for (uint32_t i = 0; i < q->cfg.size; i++) {
		if (p == q->avail_cur && w == q->avail_wrap)
			break;
		struct pdesc d;
		if (!read_pdesc(m, VUP_AS_UADDR, q->cfg.desc, p, &d)) {
			lost = true;
			break;
		}
		if (is_used(d.flags, w) && d.id < q->cfg.size &&
		    q->stamp[d.id] == gen)
			q->stamp[d.id] = mark;
		advance(q, &p, &w, 1);
	}
	bool carry = false; /* IN_ORDER: a later capture was used */
	for (uint32_t i = nw; i-- > 0;) {
		uint32_t id = q->work[i];
		bool used = lost || q->stamp[id] == mark;
		if (q->stamp[id] == mark)
			q->stamp[id] = gen;
		if (q->in_order && used)
			carry = true;
		if ((used || carry) &&
		    (q->rec[id].state == REC_OK || q->rec[id].state == REC_BAD))
			vup__used_before_check(q, &q->rec[id]);
	}
}

/* Whether the slot before pos is an available descriptor of the same
 * pass with NEXT: then pos is inside a chain (the driver went round
 * more than once since the last read; the 1-bit wrap cannot tell). */
static bool mid_chain(const struct vup_ring *q, const struct vup_guest_mem *m,
                      uint16_t pos, bool wrap)
{
	uint16_t pp = pos ? pos - 1 : (uint16_t)(q->cfg.size - 1), pf;
	bool pw = pos ? wrap : !wrap;
	if (q->cfg.size < 2 || !read_flags(q, m, pp, &pf))
		return false;
	return is_avail(pf, pw) && (pf & VUP_DESC_F_NEXT);
}

/* After losing the avail position: skips forward to a slot that surely
 * starts a chain (available, and the slot before it is the available
 * end of a chain of the same pass).  Skipped buffers are not captured.
 * True once found. */
static bool resync_avail(struct vup_ring *q, const struct vup_guest_mem *m)
{
	uint32_t n = q->cfg.size;
	for (uint32_t i = 0; i < n; i++) {
		uint16_t p = q->avail_cur, pp = p ? p - 1 : (uint16_t)(n - 1);
		bool w = q->avail_wrap, pw = p ? w : !w;
		uint16_t f, pf;
		if (!read_flags(q, m, p, &f) || !read_flags(q, m, pp, &pf))
			return false;
		if (is_avail(f, w) && is_avail(pf, pw) &&
		    !(pf & VUP_DESC_F_NEXT) && n > 1) {
			/* Offers were skipped: records may be of buffers
			 * offered again since; start both sides afresh. */
			q->avail_lost = false;
			desync(q);
			return true;
		}
		if (!is_avail(f, w) && !is_used(f, w))
			return false; /* not offered yet (or lapped): wait */
		advance(q, &q->avail_cur, &q->avail_wrap, 1);
	}
	return false;
}

static int avail_round(struct vup_ring *q, const struct vup_guest_mem *m,
                       uint64_t now, uint32_t *conflict)
{
	uint32_t n = q->cfg.size, nw = 0, gen = vup__next_gen(q);
	struct vup_ring_rec *scratch = &q->rec[n];
	int rc = 0;

	if (q->avail_lost && !resync_avail(q, m))
		return 0;
	for (uint32_t iter = 0; iter < n; iter++) {
		uint16_t pos = q->avail_cur;
		bool wrap = q->avail_wrap;
		uint16_t f;
		if (!read_flags(q, m, pos, &f)) {
			if (q->halt)
				break;
			q->st.unreadable++;
			return -EFAULT;
		}
		if (!is_avail(f, wrap))
			break;
		if (mid_chain(q, m, pos, wrap)) { /* lapped: lost our place */
			q->avail_lost = true;
			if (!resync_avail(q, m))
				break;
			continue;
		}
		struct ring_walk w;
		struct chain c;
		vup__walk_start(&w, q, scratch, vup__rd_snap(q, n));
		bool ok = packed_walk(q, m, pos, wrap, &w, &c);
		if (q->halt)
			break; /* out of reads: walk it next poll */
		vup__walk_done(&w);
		if (c.lost) { /* chain length unknown: find a chain start */
			q->avail_lost = true;
			if (!resync_avail(q, m))
				break;
			continue;
		}
		if (!c.have_id || c.id >= n) {
			/* no record possible: its use counts malformed */
			advance(q, &q->avail_cur, &q->avail_wrap,
			        c.ndesc ? c.ndesc : 1);
			continue;
		}
		struct vup_ring_rec *r = &q->rec[c.id];
		if (r->state != REC_NONE) {
			*conflict = c.id;
			rc = 1;
			break;
		}
		*r = *scratch;
		memcpy(vup__rd_snap(q, c.id), vup__rd_snap(q, n), r->rd_cap);
		r->state = !ok ? REC_BAD : q->suspect ? REC_TORN : REC_OK;
		r->why = w.why;
		r->head = c.id;
		r->ndesc = c.ndesc;
		r->avail_idx = pos_of(pos, wrap);
		r->t_avail = now;
		q->stamp[c.id] = gen;
		q->work[nw++] = c.id;
		if (q->in_order)
			fifo_push(q, c.id);
		advance(q, &q->avail_cur, &q->avail_wrap, c.ndesc);
	}
	if (!nw)
		return rc;
	scan_used(q, m, gen, nw);
	for (uint32_t i = 0; i < nw; i++) {
		struct vup_ring_rec *r = &q->rec[q->work[i]];
		if (r->state != REC_OK)
			continue;
		struct ring_walk w;
		struct chain c;
		vup__walk_start(&w, q, r, NULL);
		if (!packed_walk(q, m, r->avail_idx & 0x7fff,
		                 r->avail_idx >> 15, &w, &c) ||
		    w.hash != r->hash || c.id != r->head)
			r->state = REC_TORN;
	}
	return rc;
}

/* Stamps the ids of chains offered beyond what the avail phase read:
 * every slot of the ring from the avail position on that ends an
 * available chain (consumed slots do not stop the scan: the avail phase
 * may be stalled behind them).  False if the ring could not be read. */
static bool stamp_offers(struct vup_ring *q, const struct vup_guest_mem *m,
                         uint32_t gen)
{
	uint16_t p = q->avail_cur;
	bool w = q->avail_wrap;
	for (uint32_t i = 0; i < q->cfg.size; i++) {
		struct pdesc d;
		if (!read_pdesc(m, VUP_AS_UADDR, q->cfg.desc, p, &d))
			return false;
		if (is_avail(d.flags, w) && !(d.flags & VUP_DESC_F_NEXT) &&
		    d.id < q->cfg.size)
			q->stamp2[d.id] = gen;
		advance(q, &p, &w, 1);
	}
	return true;
}

/* Classifies one record at its use.  True if it awaits the re-check. */
static bool take(struct vup_ring *q, const struct vup_guest_mem *m, uint16_t id,
                 uint64_t now, bool len_known, uint32_t len)
{
	struct vup_ring_rec *r = &q->rec[id];
	switch (r->state) {
	case REC_BAD:
		vup__count_malformed(q, r->why);
		r->state = REC_NONE;
		return false;
	case REC_TORN:
		vup__count_torn(q);
		r->state = REC_NONE;
		return false;
	case REC_OK: break;
	default: vup__count_missed(q); return false;
	}
	r->t_used = now;
	r->used_len = len_known ? len : 0;
	if (!len_known)
		r->flags |= VUP_RING_BUF_LEN_UNKNOWN;
	else if (len > r->wr_len)
		r->flags |= VUP_RING_BUF_LEN_OVER;
	if (!vup__copy_written(q, m, r, id)) {
		vup__count_torn(q);
		r->state = REC_NONE;
		return false;
	}
	r->state = REC_COPIED;
	return true;
}

static int used_round(struct vup_ring *q, const struct vup_guest_mem *m,
                      uint64_t now, vup_ring_emit_fn emit, void *ctx)
{
	uint32_t n = q->cfg.size, nw = 0;

	for (uint32_t iter = 0; iter < n; iter++) {
		uint16_t p = q->used_cur;
		bool w = q->used_wrap;
		struct pdesc d;
		if (!read_pdesc(m, VUP_AS_UADDR, q->cfg.desc, p, &d)) {
			if (q->halt)
				break;
			q->st.unreadable++;
			return -EFAULT;
		}
		if (!is_used(d.flags, w)) {
			if (bit(d.flags, VUP_PDESC_F_AVAIL) != w &&
			    bit(d.flags, VUP_PDESC_F_USED) == w &&
			    !(p == q->avail_cur && w == q->avail_wrap))
				desync(q); /* driver wrote over it */
			break;
		}
		uint32_t skip = 0;
		if (d.id >= n) {
			vup__count_malformed(q, "used id past the ring");
			desync(q);
			break;
		}
		if (q->in_order) {
			int32_t at = fifo_find(q, 0, d.id);
			if (at < 0) {
				unmatched_use(q, p, w, d.id);
				break;
			}
			for (int32_t i = 0; i <= at; i++) {
				uint16_t id = fifo_at(q, 0);
				q->fifo_head = (q->fifo_head + 1) % n;
				q->fifo_len--;
				skip += q->rec[id].ndesc;
				bool last = i == at;
				if (take(q, m, id, now, last, d.len)) {
					q->rec[id].used_idx = pos_of(p, w);
					q->rec[id].used_wrap = w;
					q->rec[id].used_id = d.id;
					q->work[nw++] = id;
				}
			}
		} else {
			struct vup_ring_rec *r = &q->rec[d.id];
			if (r->state == REC_NONE || r->state == REC_COPIED) {
				unmatched_use(q, p, w, d.id);
				break;
			}
			skip = r->ndesc;
			if (take(q, m, d.id, now, true, d.len)) {
				r->used_idx = pos_of(p, w);
				r->used_wrap = w;
				r->used_id = d.id;
				q->work[nw++] = d.id;
			}
		}
		if (skip == 0)
			skip = 1;
		q->stuck_use = 0;
		q->suspect = q->suspect > skip ? q->suspect - skip : 0;
		advance(q, &q->used_cur, &q->used_wrap, skip);
	}

	/* Re-check: the used descriptor is still there (the driver writes
	 * over it when it offers the slot again) and the id was not offered
	 * again (the device could then be writing the buffer anew). */
	uint32_t gen = vup__next_gen(q);
	bool all_torn = nw && !stamp_offers(q, m, gen);
	for (uint32_t i = 0; i < nw; i++) {
		uint16_t id = (uint16_t)q->work[i];
		struct vup_ring_rec *r = &q->rec[id];
		struct pdesc d;
		if (!all_torn && q->stamp2[id] != gen &&
		    read_pdesc(m, VUP_AS_UADDR, q->cfg.desc,
		               r->used_idx & 0x7fff, &d) &&
		    is_used(d.flags, r->used_wrap) && d.id == r->used_id)
			vup__emit(q, r, id, emit, ctx);
		else
			vup__count_torn(q);
		r->state = REC_NONE;
	}
	return 0;
}

int vup__poll_packed(struct vup_ring *q, const struct vup_guest_mem *m,
                     uint64_t now, vup_ring_emit_fn emit, void *ctx)
{
	uint32_t conflict = 0;
	int rc = avail_round(q, m, now, &conflict);
	int rc2 = used_round(q, m, now, emit, ctx);
	if (rc < 0 || rc2 < 0)
		return -EFAULT;
	for (int round = 0; rc == 1 && round < 8 && !q->halt; round++) {
		if (round == 7) { /* still outstanding: offered twice */
			struct vup_ring_rec *r = &q->rec[conflict];
			if (r->state != REC_COPIED)
				r->state = REC_NONE;
			q->st.dropped++;
		}
		rc = avail_round(q, m, now, &conflict);
		if (rc < 0 || used_round(q, m, now, emit, ctx) < 0)
			return -EFAULT;
	}
	return 0;
}
