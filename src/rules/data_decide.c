/* rules: the decision for one frame or disk request (the `data:` list).
 * Pure but for the caller's per-vring state: counters and a splitmix64
 * stream per rule, seeded from (seed, rule name, session, vring), so the
 * same traffic on a vring gives the same decisions whatever the timing
 * and whatever other vrings, sessions and rules see.  The `when`
 * counters, the probability test and the jitter are decide.c's. */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define GAMMA UINT64_C(0x9e3779b97f4a7c15) /* splitmix64's increment */

size_t vup_data_state_size(const struct vup_rules *r)
{
	unsigned n = r ? r->ndata : 0;
	return sizeof(struct vup_data_state) +
	       (size_t)n * sizeof(struct vup_data_counter);
}

void vup_data_state_init(struct vup_data_state *st, size_t bytes)
{
	memset(st, 0, sizeof(*st));
	if (bytes > sizeof(*st)) /* else no counters: cap 0 */
		st->cap = (uint32_t)((bytes - sizeof(*st)) /
		                     sizeof(struct vup_data_counter));
}

/* The first state of rule r's stream on (session, vring). */
static uint64_t stream_start(const struct vup_data_rule *r, uint32_t session,
                             uint32_t vring)
{
	uint64_t x =
	        vup__rules_mix(vup__rules_mix(r->when.seed) ^ r->name_hash);
	return vup__rules_mix(x ^ ((uint64_t)session << 32 | vring));
}

/* splitmix64: the next number of the stream. */
static uint64_t next(struct vup_data_counter *c)
{
	uint64_t z = vup__rules_mix(c->rng); /* mix adds GAMMA first */
	c->rng += GAMMA;
	return z;
}

static void restart(const struct vup_rules *r, struct vup_data_state *st,
                    uint32_t session, uint32_t vring)
{
	st->generation = r->generation;
	st->session = session;
	st->vring = vring;
	for (unsigned i = 0; i < r->ndata; i++) {
		st->c[i].count = 0;
		st->c[i].rng = stream_start(&r->data[i], session, vring);
	}
}

static bool matches(const struct vup_data_rule *r, const struct vup_data_req *q)
{
	if (!(r->devices & (1u << q->device)))
		return false;
	if (r->session >= 0 && (uint64_t)r->session != q->session)
		return false;
	switch (r->queue) {
	case VUP_DQ_ANY: break;
	case VUP_DQ_RX: /* net: receive queues are even, transmit odd */
	case VUP_DQ_TX:
		if ((q->vring & 1) != (r->queue == VUP_DQ_TX))
			return false;
		break;
	case VUP_DQ_INDEX:
		if (q->vring != r->vring)
			return false;
		break;
	}
	if (q->device == VUP_DATA_BLK) {
		if (!r->any_op && (q->type >= 64 || !(r->ops >> q->type & 1)))
			return false;
		/* [sector, sector + sectors - 1] overlaps [first, last] */
		if (r->has_sectors &&
		    (q->sectors == 0 || q->sector > r->sector_last ||
		     q->sector + (q->sectors - 1) < r->sector_first ||
		     q->sector + (q->sectors - 1) < q->sector))
			return false;
	}
	return !r->has_size || (q->device == VUP_DATA_NET &&
	                        q->len >= r->size_min && q->len <= r->size_max);
}

/* The verdict of rule r that fired, its parameters from key. */
static void verdict_of(const struct vup_data_rule *r,
                       const struct vup_data_req *q, uint64_t key,
                       struct vup_data_verdict *v)
{
	v->action = r->action;
	v->rule = r->name;
	switch (r->action) {
	case VUP_DATA_ACT_DELAY:
		v->delay_ns = vup__rules_jitter(r->delay_ns, r->jitter_ns,
		                                vup__rules_mix(key ^ 1));
		v->limit = r->limit;
		break;
	case VUP_DATA_ACT_FAIL: v->blk_status = r->blk_status; break;
	case VUP_DATA_ACT_CORRUPT:
	case VUP_DATA_ACT_CORRUPT_READ: {
		uint32_t bytes = r->bytes < q->len ? r->bytes : q->len;
		uint64_t off = r->offset;
		if (r->offset_random) /* anywhere the bytes fit */
			off = vup__rules_mix(key ^ 2) % (q->len - bytes + 1u);
		v->offset = off < q->len ? (uint32_t)off : q->len;
		v->bytes =
		        q->len - v->offset < bytes ? q->len - v->offset : bytes;
		v->corrupt_key = vup__rules_mix(key ^ 3);
		break;
	}
	default: break;
	}
}

uint8_t vup_data_corrupt_xor(const struct vup_data_verdict *v, uint32_t i)
{
	return (uint8_t)(1u + vup__rules_mix(v->corrupt_key + i) % 255u);
}

int vup_data_decide(const struct vup_rules *r, struct vup_data_state *st,
                    const struct vup_data_req *q, struct vup_data_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->action = VUP_DATA_ACT_PASS;
	if (!r || r->ndata == 0 || !q)
		return 0;
	if (!st || st->cap < r->ndata)
		return -ENOSPC;
	if (st->generation != r->generation || st->session != q->session ||
	    st->vring != q->vring)
		restart(r, st, q->session, q->vring);
	for (unsigned i = 0; i < r->ndata; i++) {
		const struct vup_data_rule *rule = &r->data[i];
		struct vup_data_counter *c = &st->c[i];
		if (!matches(rule, q))
			continue;
		if (!vup__rules_counted(&rule->when, ++c->count))
			continue;
		if (rule->when.probability_ppm < VUP_RULES_PPM &&
		    !vup__rules_drawn(&rule->when, next(c)))
			continue;
		verdict_of(rule, q, next(c), v);
		return 0;
	}
	return 0;
}
