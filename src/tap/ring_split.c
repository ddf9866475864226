/* ring_split: passive reader of a split virtqueue.
 *
 * Each poll runs rounds of two phases.  Avail phase: new avail entries
 * are walked and their readable bytes copied into a record (keyed by head
 * index, or by avail index with IN_ORDER); then the round re-checks each
 * copy: the avail slot, the descriptors (hash) and that the device has
 * not used the buffer meanwhile.  Used phase: each new used entry
 * classifies its record once; written bytes are copied, then the used
 * slot and index are re-read and, for a buffer with a written part (or
 * after uses went by unseen), the head must not have been offered again.
 */
#include <errno.h>
#include <string.h>

#include "tap/ring_internal.h"

struct sdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
	uint8_t raw[VUP_DESC_SIZE];
};

static bool read_desc(const struct vup_guest_mem *m, enum vup_addr_space as,
                      uint64_t base, uint32_t i, struct sdesc *d)
{
	if (!vup_guest_read(m, as, base + (uint64_t)VUP_DESC_SIZE * i, d->raw,
	                    VUP_DESC_SIZE))
		return false;
	d->addr = vup_desc_addr(d->raw);
	d->len = vup_desc_len(d->raw);
	d->flags = vup_sdesc_flags(d->raw);
	d->next = vup_sdesc_next(d->raw);
	return true;
}

static bool fail(struct ring_walk *w, const char *why)
{
	w->why = why;
	return false;
}

/* Walks the chain at head, in order, indirect table included. */
static bool split_walk(struct vup_ring *q, const struct vup_guest_mem *m,
                       uint16_t head, struct ring_walk *w)
{
	uint32_t max = q->cfg.size, i = head, count = 0;
	uint64_t base = q->cfg.desc;
	enum vup_addr_space as = VUP_AS_UADDR;
	bool in_ind = false;
	struct sdesc d;

	if (head >= max)
		return fail(w, "head index past the ring");
	if (!read_desc(m, as, base, i, &d))
		return fail(w, "descriptor table outside memory");
	for (;;) {
		vup__walk_hash(w, d.raw);
		if (d.flags & VUP_DESC_F_INDIRECT) {
			if (!q->indirect)
				return fail(w,
				            "indirect without INDIRECT_DESC");
			if (in_ind)
				return fail(w, "nested indirect table");
			if (d.flags & VUP_DESC_F_NEXT)
				return fail(w, "indirect descriptor with NEXT");
			if (d.len == 0 || d.len % VUP_DESC_SIZE)
				return fail(w, "indirect table length not a "
				               "multiple of 16");
			if (d.len / VUP_DESC_SIZE > VUP_RING_MAX_INDIRECT)
				return fail(w, "indirect table too long");
			in_ind = true;
			w->indirect = true;
			as = VUP_AS_GPA;
			base = d.addr;
			max = d.len / VUP_DESC_SIZE;
			i = 0;
			count = 0;
			if (base + d.len < base ||
			    !read_desc(m, as, base, 0, &d))
				return fail(w, "indirect table outside memory");
			continue;
		}
		if (!vup__walk_seg(w, m, d.addr, d.len,
		                   d.flags & VUP_DESC_F_WRITE))
			return false;
		count++;
		if (!(d.flags & VUP_DESC_F_NEXT))
			return true;
		if (count >= max)
			return fail(w,
			            in_ind ? "loop in indirect table"
			                   : "descriptor loop or chain longer "
			                     "than the queue");
		i = d.next;
		if (i >= max)
			return fail(w, "next index past the table");
		if (!read_desc(m, as, base, i, &d))
			return fail(w, "descriptor table outside memory");
	}
}

static uint32_t mask(const struct vup_ring *q, uint16_t idx)
{
	return idx & (q->cfg.size - 1);
}

static uint64_t avail_slot(const struct vup_ring *q, uint16_t t)
{
	return q->cfg.avail + vup_avail_slot_off(mask(q, t));
}

static bool read_used(const struct vup_ring *q, const struct vup_guest_mem *m,
                      uint16_t u, uint32_t *id, uint32_t *len)
{
	uint8_t b[VUP_USED_ELEM_SIZE];
	if (!vup_guest_read(m, VUP_AS_UADDR,
	                    q->cfg.used + vup_used_slot_off(mask(q, u)), b,
	                    VUP_USED_ELEM_SIZE))
		return false;
	*id = vup_le32(b + VUP_USED_ELEM_ID);
	*len = vup_le32(b + VUP_USED_ELEM_LEN);
	return true;
}

/* Avail index that used index u stands for with IN_ORDER. */
static uint16_t in_order_avail(const struct vup_ring *q, uint16_t u)
{
	return (uint16_t)(u + q->cfg.avail_base - q->cfg.used_base);
}

/* Marks copies of this round torn if the device used them before the
 * re-check: any new used entry naming them. */
static void scan_used(struct vup_ring *q, const struct vup_guest_mem *m,
                      uint32_t gen, uint16_t U2, bool *all_torn)
{
	uint32_t n = q->cfg.size;
	uint16_t span = U2 - q->used_cur;
	if (span > 32768) /* used index behind us: nothing new */
		return;
	if (span > n) {
		*all_torn = true;
		return;
	}
	for (uint16_t u = q->used_cur; u != U2; u++) {
		uint32_t id, len;
		if (!read_used(q, m, u, &id, &len)) {
			*all_torn = true;
			return;
		}
		uint32_t key;
		if (q->in_order) {
			uint16_t t = in_order_avail(q, u);
			key = mask(q, t);
			if (q->rec[key].avail_idx != t)
				continue;
		} else {
			if (id >= n)
				continue;
			key = id;
		}
		if (q->stamp[key] == gen && (q->rec[key].state == REC_OK ||
		                             q->rec[key].state == REC_BAD))
			vup__used_before_check(q, &q->rec[key]);
	}
}

/* A head the device used before the re-check may have been offered
 * again before the walk read it: Linux frees each frame before it sends
 * the next and takes the lowest free head, so at a few frames a second
 * every frame goes out on head 0, through the same indirect table (the
 * one kmalloc got back).  The walk of the first offer then read the
 * descriptors (and table) as rewritten for the later one: that copy holds
 * another buffer's bytes, which even an unverified copy must not.  The
 * walk loop stamped in stamp2 (free during the avail round), with their
 * last avail index in first[], the heads of the slots it read; this adds
 * the slots offered up to A2.  False if one could not be read. */
static bool stamp_reoffers(struct vup_ring *q, const struct vup_guest_mem *m,
                           uint32_t sgen, uint16_t A2)
{
	uint32_t n = q->cfg.size;
	uint16_t span = A2 - q->avail_cur;
	if (span > 32768)
		return true; /* A2 behind: the copies are torn as lapped */
	uint16_t from = span > n ? A2 - (uint16_t)n : q->avail_cur;
	for (uint16_t t = from; t != A2; t++) {
		uint16_t head;
		if (!vup__read16(m, avail_slot(q, t), &head))
			return false;
		if (head < n) {
			q->stamp2[head] = sgen;
			q->first[head] = t;
		}
	}
	return true;
}

/* Whether r's head was offered again after r's own offer (up to what
 * stamp_reoffers read). */
static bool reoffered(const struct vup_ring *q, const struct vup_ring_rec *r,
                      uint32_t sgen)
{
	return r->head < q->cfg.size && q->stamp2[r->head] == sgen &&
	       q->first[r->head] != r->avail_idx;
}

/* Whether avail entry t may be one whose use the used phase has already
 * counted (the avail phase lagged: lapped or stalled). */
static bool already_used(const struct vup_ring *q, uint16_t head, uint16_t t)
{
	if (q->in_order)
		return (uint16_t)(in_order_avail(q, q->used_cur) - t - 1) <
		       32768;
	uint32_t s = q->stale[head];
	return s && (uint16_t)((uint16_t)s - t - 1) < q->cfg.size;
}

/* Heads used without a record while the avail phase lags: the first of
 * their offers not yet read is the buffer used (a head is offered again
 * only once used), so the avail phase must skip it.  The used heads are
 * at the top of q->work. */
static void mark_stale(struct vup_ring *q, const struct vup_guest_mem *m,
                       uint32_t nmiss)
{
	uint32_t n = q->cfg.size, gen = vup__next_gen(q);
	uint16_t A, head;
	if (!vup__read16(m, q->cfg.avail + VUP_AVAIL_OFF_IDX, &A))
		return;
	uint16_t span = A - q->avail_cur;
	if (span > 32768)
		return;
	uint16_t from = span > n ? A - (uint16_t)n : q->avail_cur;
	for (uint16_t t = from; t != A; t++) {
		if (!vup__read16(m, avail_slot(q, t), &head))
			return;
		if (head < n && q->stamp2[head] != gen) {
			q->stamp2[head] = gen;
			q->first[head] = t;
		}
	}
	for (uint32_t i = 0; i < nmiss; i++) {
		uint32_t id = q->work[n - 1 - i];
		if (q->stamp2[id] != gen)
			continue;           /* its offer was read already */
		if (q->stale[id] >> 16 & 2) /* twice in a round: be safe */
			q->stale[id] = 3u << 16 | A;
		else
			q->stale[id] = 3u << 16 | (uint16_t)(q->first[id] + 1);
	}
	for (uint32_t i = 0; i < nmiss; i++) /* forget the round marker */
		q->stale[q->work[n - 1 - i]] &= ~(2u << 16);
}

/* 1 if it stopped at a head still outstanding (key in *conflict). */
/* Reads a walk may take before the re-check's share is checked again. */
#define RECHECK_MARGIN 8

static int avail_round(struct vup_ring *q, const struct vup_guest_mem *m,
                       uint64_t now, uint32_t *conflict)
{
	uint32_t n = q->cfg.size, nw = 0, gen = vup__next_gen(q);
	uint32_t sgen = vup__next_gen(q); /* heads offered (stamp2) */
	uint16_t A, Uc, A2, U2;
	int rc = 0;

	if (!vup__read16(m, q->cfg.avail + VUP_AVAIL_OFF_IDX, &A) ||
	    !vup__read16(m, q->cfg.used + VUP_USED_OFF_IDX, &Uc)) {
		if (q->halt)
			return 0;
		q->st.unreadable++;
		return -EFAULT;
	}
	q->avail_seen = A;
	uint16_t behind = A - q->avail_cur;
	if ((uint16_t)(A - Uc) > n || behind > 32768) {
		q->st.bad_index++; /* more than a ring outstanding */
		return 0;
	}
	if (behind > n) /* lapped: their used entries will count missed */
		q->avail_cur = A - n;
	/* Reads the re-check will need: the two indices, and per walked
	 * chain its avail slot and descriptors again.  A poll with a capped
	 * budget stops walking while the re-check still fits, instead of
	 * running dry in it and calling every copy of the round torn. */
	uint32_t recheck = 2;
	while (q->avail_cur != A) {
		uint16_t t = q->avail_cur, head;
		if (q->budget < recheck + RECHECK_MARGIN)
			break; /* the rest next poll */
		if (!vup__read16(m, avail_slot(q, t), &head)) {
			if (!q->halt)
				q->st.unreadable++;
			break;
		}
		if (head < n) {
			q->stamp2[head] = sgen;
			q->first[head] = t;
		}
		if (!q->in_order && head >= n) {
			q->avail_cur++; /* no record: its use counts malformed
			                 */
			continue;
		}
		if (already_used(q, head, t)) {
			q->avail_cur++; /* its use was counted missed */
			continue;
		}
		if (!q->in_order)
			q->stale[head] = 0;
		uint32_t key = q->in_order ? mask(q, t) : head;
		struct vup_ring_rec *r = &q->rec[key];
		if (r->state != REC_NONE) {
			*conflict = key;
			rc = 1;
			break;
		}
		struct ring_walk w;
		vup__walk_start(&w, q, r, vup__rd_snap(q, key));
		bool ok = split_walk(q, m, head, &w);
		if (q->halt)
			break; /* out of reads: walk it next poll */
		vup__walk_done(&w);
		r->state = ok ? REC_OK : REC_BAD;
		r->why = w.why;
		r->head = head;
		r->avail_idx = t;
		r->losses = q->losses;
		r->t_avail = now;
		if (head < n)
			q->offered[head] = t;
		q->stamp[key] = gen;
		q->work[nw++] = key;
		q->avail_cur++;
		recheck += 1 + w.nseen + (w.indirect ? 1 : 0);
	}
	if (!nw)
		return rc;

	/* Re-check what this round copied. */
	bool all_torn = false, unverified = false;
	if (!vup__read16(m, q->cfg.used + VUP_USED_OFF_IDX, &U2) ||
	    !vup__read16(m, q->cfg.avail + VUP_AVAIL_OFF_IDX, &A2))
		all_torn = true;
	else
		scan_used(q, m, gen, U2, &all_torn);
	for (uint32_t i = 0; !all_torn && i < nw; i++)
		unverified |=
		        q->rec[q->work[i]].state == REC_OK &&
		        q->rec[q->work[i]].flags & VUP_RING_BUF_UNVERIFIED;
	/* Only a copy used before U2 was read can have been offered again
	 * before its walk (U2 is read before A2): no extra read otherwise. */
	if (unverified && !stamp_reoffers(q, m, sgen, A2))
		all_torn = true;
	for (uint32_t i = 0; i < nw; i++) {
		struct vup_ring_rec *r = &q->rec[q->work[i]];
		if (r->state != REC_OK)
			continue;
		uint16_t head;
		struct ring_walk w;
		vup__walk_start(&w, q, r, NULL);
		if (all_torn || (uint16_t)(A2 - r->avail_idx) > n ||
		    (r->flags & VUP_RING_BUF_UNVERIFIED &&
		     reoffered(q, r, sgen)) ||
		    !vup__read16(m, avail_slot(q, r->avail_idx), &head) ||
		    head != r->head || !split_walk(q, m, head, &w) ||
		    w.hash != r->hash)
			r->state = REC_TORN;
	}
	return rc;
}

/* The driver offered the head of r again before the used round's
 * re-check (it got the buffer back: a polling device and a quick
 * driver).  That threatens only what was copied at the use, the written
 * part; a buffer with nothing device-writable was copied, and re-checked
 * or flagged, when it was offered.  Unless uses went by unseen since r
 * was made: the use seen may then be the later offer's. */
static bool reoffer_harmless(const struct vup_ring *q,
                             const struct vup_ring_rec *r)
{
	return !r->wr_len && r->losses == q->losses;
}

/* The used entries up to U, the used index read before the avail round:
 * every buffer used by then was offered before that round read the avail
 * index, so it has a record (copied, or flagged used before its check)
 * unless the ring lapped it.  Reading the used index after the avail
 * round instead let buffers offered and used while it ran (a 14 us round
 * at 100 kpps: 7% of them) count missed.
 *
 * A head used twice since the last poll (offered, used, offered again and
 * used again: a polling device, a driver sending frames back to back)
 * has one record, the first offer's (torn: its walk read the second
 * offer's chain, see stamp_reoffers): the round stops before the second
 * use and returns 1, so that the next avail round records the second
 * offer and the next used round takes its use. */
static int used_round(struct vup_ring *q, const struct vup_guest_mem *m,
                      uint16_t U, uint64_t now, vup_ring_emit_fn emit,
                      void *ctx)
{
	uint32_t n = q->cfg.size, nw = 0, nmiss = 0;
	uint16_t U2, A2;
	int rc = 0;
	/* Heads whose use this round took (stamp2 is free until the
	 * re-check below takes a generation of its own). */
	uint32_t seen = vup__next_gen(q);

	uint16_t d = U - q->used_cur;
	if (d == 0)
		return 0;
	if (d > 32768) { /* behind our start (in flight) or hostile */
		q->st.bad_index++;
		return 0;
	}
	if (d > n) { /* overwritten before we saw them: counted at once (at
		        25 Mpps a 1 ms poll finds 25000 of them) */
		uint16_t k = (uint16_t)(d - n);
		q->st.consumed += k;
		q->st.missed += k;
		q->used_cur += k;
		q->losses++;
	}
	uint16_t u;
	/* As in the avail round, keep what the re-check needs: the indices,
	 * the avail slots offered since (their number is not known yet: a
	 * ring's worth at most, the walk's last look as a guess), and a
	 * used entry per copy. */
	uint32_t recheck = 2 + (uint16_t)(q->avail_seen - q->avail_cur);
	for (u = q->used_cur; u != U; u++) {
		uint32_t id, len, key;
		struct vup_ring_rec *r;
		if (q->budget < recheck + RECHECK_MARGIN)
			break; /* the rest next poll */
		if (!read_used(q, m, u, &id, &len)) {
			if (q->halt)
				break; /* out of reads: the rest next poll */
			vup__count_malformed(q, "used ring outside memory");
			q->losses++;
			continue;
		}
		if (q->in_order) {
			uint16_t t = in_order_avail(q, u);
			key = mask(q, t);
			r = &q->rec[key];
			if (r->avail_idx != t)
				r = NULL;
		} else if (id >= n) {
			vup__count_malformed(q, "used id past the ring");
			continue;
		} else {
			key = id;
			r = &q->rec[key];
		}
		if (!q->in_order && q->stamp2[key] == seen) {
			rc = 1; /* its second use: after the re-check */
			break;
		}
		if (!q->in_order)
			q->stamp2[key] = seen;
		if (!r || r->state == REC_NONE || r->state == REC_COPIED) {
			vup__count_missed(q);
			if (!q->in_order)
				q->work[n - 1 - nmiss++] = id;
			continue;
		}
		if (r->state == REC_BAD) {
			vup__count_malformed(q, r->why);
			r->state = REC_NONE;
			continue;
		}
		if (r->state == REC_TORN) {
			vup__count_torn(q);
			r->state = REC_NONE;
			continue;
		}
		r->t_used = now;
		r->used_id = id;
		r->used_len = len;
		/* IN_ORDER: a batch writes only its last entry, the others
		 * hold stale data; only the newest entry is trusted. */
		if (q->in_order && (id != r->head || (uint16_t)(u + 1) != U)) {
			r->flags |= VUP_RING_BUF_LEN_UNKNOWN;
			r->used_len = 0;
		} else if (len > r->wr_len) {
			r->flags |= VUP_RING_BUF_LEN_OVER;
		}
		if (!vup__copy_written(q, m, r, key)) {
			vup__count_torn(q); /* memory went away since avail */
			r->state = REC_NONE;
			continue;
		}
		r->state = REC_COPIED;
		r->used_idx = u;
		q->work[nw++] = key;
		recheck += 1;
	}
	q->used_cur = u;
	if (nmiss)
		mark_stale(q, m, nmiss);
	if (!nw)
		return rc;

	/* Re-check: used slot unchanged and not lapped, head not offered
	 * again since (neither in what avail phases saw nor after). */
	uint32_t gen = vup__next_gen(q);
	bool all_torn = false;
	if (!vup__read16(m, q->cfg.used + VUP_USED_OFF_IDX, &U2) ||
	    !vup__read16(m, q->cfg.avail + VUP_AVAIL_OFF_IDX, &A2)) {
		all_torn = true;
	} else {
		uint16_t span = A2 - q->avail_cur;
		if (span <= 32768) {
			uint16_t from = span > n ? A2 - n : q->avail_cur;
			for (uint16_t t = from; t != A2; t++) {
				uint16_t head;
				if (!vup__read16(m, avail_slot(q, t), &head)) {
					all_torn = true;
					break;
				}
				if (head < n)
					q->stamp2[head] = gen;
			}
		}
	}
	for (uint32_t i = 0; i < nw; i++) {
		uint32_t key = q->work[i], id, len;
		struct vup_ring_rec *r = &q->rec[key];
		bool ok =
		        !all_torn && (uint16_t)(U2 - r->used_idx) <= n &&
		        read_used(q, m, r->used_idx, &id, &len) &&
		        id == r->used_id &&
		        (r->flags & VUP_RING_BUF_LEN_UNKNOWN ||
		         len == r->used_len) &&
		        !(r->head < n && (q->offered[r->head] != r->avail_idx ||
		                          (q->stamp2[r->head] == gen &&
		                           !reoffer_harmless(q, r))));
		if (ok)
			vup__emit(q, r, key, emit, ctx);
		else
			vup__count_torn(q);
		r->state = REC_NONE;
	}
	return rc;
}

int vup__poll_split(struct vup_ring *q, const struct vup_guest_mem *m,
                    uint64_t now, vup_ring_emit_fn emit, void *ctx)
{
	uint32_t conflict = 0;
	int rc = 1;
	for (int round = 0; rc == 1 && round < 9 && !q->halt; round++) {
		if (round == 8) { /* still outstanding: offered twice */
			q->rec[conflict].state = REC_NONE;
			q->st.dropped++;
		}
		uint16_t U;
		if (!vup__read16(m, q->cfg.used + VUP_USED_OFF_IDX, &U)) {
			if (q->halt)
				return 0;
			q->st.unreadable++;
			return -EFAULT;
		}
		rc = avail_round(q, m, now, &conflict);
		if (rc < 0)
			return -EFAULT;
		int urc = used_round(q, m, U, now, emit, ctx);
		if (urc < 0)
			return -EFAULT;
		if (urc == 1)
			rc = 1; /* a head used twice: another round */
	}
	return 0;
}
