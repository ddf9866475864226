/* svq_done: the back-end's completions back to the guest, both rings'
 * notifications, and the stop of GET_VRING_BASE (see svq.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "active/svq_internal.h"
#include "vuproxy/ring_layout.h"

/* ---- push: shadow used -> guest used ---- */

/* The data segments of shadow chain sh into q->p->seg: the private copy
 * of a direct chain, or the indirect table read again (the guest may not
 * change it while in flight; if it did, the chain says so). */
static void chain_segs(struct vup_svq *q, uint16_t sh, struct vup_svq_chain *c)
{
	struct vup_svq_priv *p = q->p;
	struct walk w = {0};
	if (p->s_ind[sh]) {
		w.indirect = true;
		w.ind_addr = p->s_seg[sh].addr;
		w.ind_len = p->s_seg[sh].len;
		if (vup__svq_walk_table(q, &w)) {
			c->segs_lost = true;
			w.nseg = 0;
		}
	} else {
		for (uint32_t k = 0, i = sh; k < p->s_ndesc[sh]; k++) {
			p->seg[k] = p->s_seg[i];
			i = p->s_next[i];
		}
		w.nseg = p->s_ndesc[sh];
	}
	c->indirect = p->s_ind[sh];
	c->nseg = w.nseg;
	c->seg = p->seg;
	for (uint32_t k = 0; k < w.nseg; k++)
		*(p->seg[k].write ? &c->wr_len : &c->rd_len) += p->seg[k].len;
}

static const char *bad_id(const struct vup_svq *q, uint32_t id)
{
	if (id >= q->cfg.num)
		return "is past the ring";
	switch (q->p->s_state[id]) {
	case S_DONE: return "was completed already";
	case S_HELD: return "names a chain not offered yet";
	default: return "names no chain in flight";
	}
}

static int push_one(struct vup_svq *q, vup_svq_used_fn fn, void *ctx)
{
	struct vup_svq_priv *p = q->p;
	uint32_t num = q->cfg.num;
	uint8_t e[VUP_USED_ELEM_SIZE];
	memcpy(e,
	       q->cfg.shadow + vup__svq_off_used(num) +
	               vup_used_slot_off(q->s_used & (num - 1)),
	       sizeof(e));
	uint32_t id = vup_le32(e + VUP_USED_ELEM_ID);
	uint32_t len = vup_le32(e + VUP_USED_ELEM_LEN);
	if (id >= num || p->s_state[id] != S_FLIGHT)
		return vup__svq_halt(q, &q->st.bad_used,
		                     "back-end used entry %u: id %" PRIu32
		                     " %s",
		                     q->s_used, id, bad_id(q, id));
	uint16_t gh = p->s_g[id];
	q->s_used++;
	if (fn) {
		struct vup_svq_chain c = {.head = gh,
		                          .avail_idx = p->g_aidx[gh]};
		chain_segs(q, (uint16_t)id, &c);
		fn(ctx, &c, len);
	}
	vup__svq_shadow_release(q, (uint16_t)id, S_DONE);
	p->g_state[gh] = G_FREE;
	p->s_inflight--;
	q->st.completed++;
	return vup__svq_used_elem(q, gh, len);
}

int vup_svq_push(struct vup_svq *q, vup_svq_used_fn fn, void *ctx)
{
	struct vup_svq_priv *p = q->p;
	uint32_t num = q->cfg.num;
	if (q->stopped)
		return -EPROTO;
	uint16_t idx =
	        vup__svq_sh_load(q, vup__svq_off_used(num) + VUP_USED_OFF_IDX);
	uint16_t n = (uint16_t)(idx - q->s_used);
	if (n > p->s_inflight)
		return vup__svq_halt(q, &q->st.bad_index,
		                     "back-end used index jumped from %u to %u "
		                     "with %" PRIu32 " chains in flight",
		                     q->s_used, idx, p->s_inflight);
	uint16_t used0 = q->g_used;
	int rc = 0, done = 0;
	for (; done < n && rc == 0; done++)
		rc = push_one(q, fn, ctx);
	/* What completed before a bad entry is published all the same. */
	if (q->g_used != used0 && vup__svq_publish_used(q) < 0)
		rc = -EPROTO;
	if (rc == 0 && q->event_idx && p->calls_on)
		vup__svq_sh_store(q,
		                  vup__svq_off_avail(num) +
		                          vup_avail_used_event_off(num),
		                  q->s_used);
	return rc < 0 ? rc : done;
}

/* ---- notifications ---- */

/* The virtio spec's vring_need_event. */
static bool need_event(uint16_t ev, uint16_t nw, uint16_t old)
{
	return (uint16_t)(nw - ev - 1) < (uint16_t)(nw - old);
}

bool vup_svq_backend_needs_kick(struct vup_svq *q)
{
	uint32_t num = q->cfg.num;
	uint16_t old = q->s_kicked, nw = q->s_avail;
	q->s_kicked = nw;
	if (q->stopped || old == nw)
		return false;
	/* Our avail idx store before the back-end's flag or event load. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint64_t u = vup__svq_off_used(num);
	if (q->event_idx)
		return need_event(
		        vup__svq_sh_load(q, u + vup_used_avail_event_off(num)),
		        nw, old);
	return !(vup__svq_sh_load(q, u + VUP_USED_OFF_FLAGS) &
	         VUP_USED_F_NO_NOTIFY);
}

bool vup_svq_guest_needs_call(struct vup_svq *q)
{
	uint32_t num = q->cfg.num;
	uint16_t old = q->g_signalled, nw = q->g_used, v;
	q->g_signalled = nw;
	if (old == nw)
		return false;
	if (q->stopped)
		return true; /* a spurious call is harmless; no more reads */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (q->event_idx) {
		if (!vup__svq_read16(
		            q, q->cfg.avail + vup_avail_used_event_off(num),
		            &v)) {
			q->st.bad_access++;
			return true;
		}
		return need_event(v, nw, old);
	}
	if (!vup__svq_read16(q, q->cfg.avail + VUP_AVAIL_OFF_FLAGS, &v)) {
		q->st.bad_access++;
		return true;
	}
	return !(v & VUP_AVAIL_F_NO_INTERRUPT);
}

int vup__svq_avail_event(struct vup_svq *q)
{
	uint8_t b[2];
	if (!q->event_idx || !q->p->kicks_on)
		return 0;
	vup_put_le16(b, q->g_avail);
	return vup__svq_used_write(q, VUP_GW_AVAIL_EVENT,
	                           vup_used_avail_event_off(q->cfg.num), b, 2);
}

int vup_svq_want_guest_kicks(struct vup_svq *q, bool on)
{
	struct vup_svq_priv *p = q->p;
	int rc = 0;
	if (q->stopped)
		return -EPROTO;
	bool was = p->kicks_on;
	p->kicks_on = on;
	if (q->event_idx) {
		/* Off: the guest kicks at most once more (as QEMU). */
		rc = vup__svq_avail_event(q);
	} else if (was != on) {
		uint8_t b[2];
		vup_put_le16(b, on ? 0 : VUP_USED_F_NO_NOTIFY);
		rc = vup__svq_used_write(q, VUP_GW_USED_FLAGS,
		                         VUP_USED_OFF_FLAGS, b, 2);
	}
	/* The flag or event store before the caller's re-check. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return rc;
}

void vup_svq_want_backend_calls(struct vup_svq *q, bool on)
{
	uint32_t num = q->cfg.num;
	uint64_t a = vup__svq_off_avail(num);
	q->p->calls_on = on;
	if (q->event_idx) {
		if (on)
			vup__svq_sh_store(q, a + vup_avail_used_event_off(num),
			                  q->s_used);
	} else {
		vup__svq_sh_store(q, a + VUP_AVAIL_OFF_FLAGS,
		                  on ? 0 : VUP_AVAIL_F_NO_INTERRUPT);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool vup_svq_guest_pending(struct vup_svq *q)
{
	uint16_t idx;
	if (q->stopped)
		return false;
	/* Unreadable: let pull find it and stop the vring. */
	return !vup__svq_read16(q, q->cfg.avail + VUP_AVAIL_OFF_IDX, &idx) ||
	       idx != q->g_avail;
}

bool vup_svq_backend_pending(struct vup_svq *q)
{
	return !q->stopped &&
	       vup__svq_sh_load(q, vup__svq_off_used(q->cfg.num) +
	                                   VUP_USED_OFF_IDX) != q->s_used;
}

/* ---- GET_VRING_BASE ---- */

int vup_svq_stop_begin(struct vup_svq *q)
{
	return vup_svq_release_all(q);
}

/* Gives the chain at guest head h back (un-pop) or completes it with len
 * 0; either way its shadow descriptors are free again. */
static int settle(struct vup_svq *q, uint16_t h, bool unpop)
{
	struct vup_svq_priv *p = q->p;
	vup__svq_shadow_release(q, p->g_sh[h], S_FREE);
	p->g_state[h] = G_FREE;
	p->s_inflight--;
	if (unpop) {
		q->g_avail = p->g_aidx[h];
		q->st.unpopped++;
		return 0;
	}
	q->st.stop_zeroed++;
	return vup__svq_used_elem(q, h, 0);
}

/* The guest head pulled at avail index t if it is still in flight. */
static bool in_flight_at(const struct vup_svq *q, uint16_t t, uint16_t *h)
{
	const struct vup_svq_priv *p = q->p;
	*h = p->a_head[t & (q->cfg.num - 1)];
	return p->g_aidx[*h] == t && p->g_state[*h] == G_FLIGHT;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

int vup_svq_stop(struct vup_svq *q, uint16_t backend_base, vup_svq_used_fn fn,
                 void *ctx, uint16_t *base)
{
	struct vup_svq_priv *p = q->p;
	uint32_t num = q->cfg.num;
	int ret = 0;
	*base = q->g_avail;
	if (vup_svq_release_all(q) < 0 || vup_svq_push(q, fn, ctx) < 0)
		return -EPROTO;
	uint16_t untaken = (uint16_t)(q->s_avail - backend_base);
	if (untaken > p->s_inflight) {
		ret = vup__svq_halt(q, &q->st.bad_index,
		                    "GET_VRING_BASE: back-end base %u with %u "
		                    "offered and %" PRIu32 " in flight",
		                    backend_base, q->s_avail, p->s_inflight);
		untaken = 0;
	}
	/* The longest suffix of the guest's avail order not taken. */
	uint16_t h, used0 = q->g_used;
	for (uint32_t k = 0; k < num; k++) {
		uint16_t t = (uint16_t)(q->g_avail - 1);
		if (!in_flight_at(q, t, &h) ||
		    (uint16_t)(p->s_pos[p->g_sh[h]] - backend_base) >= untaken)
			break;
		settle(q, h, true);
	}
	/* Everything else still in flight, in guest order: a chain can
	 * stay in flight while the guest goes round the ring. */
	uint32_t *keys = malloc(num * sizeof(*keys)), n = 0;
	for (uint32_t g = 0; g < num; g++)
		if (p->g_state[g] == G_FLIGHT) {
			uint32_t age = (uint16_t)(q->g_avail - p->g_aidx[g]);
			if (keys)
				keys[n++] = (0xffffu - age) << 16 | g;
			else if (settle(q, (uint16_t)g, false) < 0)
				ret = -EPROTO;
		}
	if (keys)
		qsort(keys, n, sizeof(*keys), cmp_u32);
	for (uint32_t k = 0; k < n; k++)
		if (settle(q, (uint16_t)keys[k], false) < 0)
			ret = -EPROTO;
	free(keys);
	if (q->g_used != used0 && vup__svq_publish_used(q) < 0)
		ret = -EPROTO;
	*base = q->g_avail;
	if (!q->stopped)
		vup__svq_halt(q, NULL, "stopped by GET_VRING_BASE at %u",
		              q->g_avail);
	return ret;
}
