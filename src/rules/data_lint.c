/* rules: warnings about valid data rules (`vuproxy rules check` prints
 * them; loading does not fail on them): a rule that never fires or never
 * matches, a seed or jitter that does nothing as meant, a rule an earlier
 * one always takes first. */
#include <stdlib.h>

#include "internal.h"

/* Does every request that meets rule y also meet rule x? */
static bool covers(const struct vup_data_rule *x, const struct vup_data_rule *y)
{
	if ((x->devices & y->devices) != y->devices)
		return false;
	if (x->session >= 0 && x->session != y->session)
		return false;
	if (x->queue != VUP_DQ_ANY &&
	    (x->queue != y->queue ||
	     (x->queue == VUP_DQ_INDEX && x->vring != y->vring)))
		return false;
	if (!x->any_op && (y->any_op || (y->ops & ~x->ops)))
		return false;
	if (x->has_sectors &&
	    (!y->has_sectors || y->sector_first < x->sector_first ||
	     y->sector_last > x->sector_last))
		return false;
	return !x->has_size || (y->has_size && y->size_min >= x->size_min &&
	                        y->size_max <= x->size_max);
}

/* Fires on every request it matches (and so decides it). */
static bool final(const struct vup_data_rule *a)
{
	const struct vup_rule_when *w = &a->when;
	return !w->nth && !w->first && !w->every && !w->after &&
	       w->probability_ppm >= VUP_RULES_PPM;
}

/* Pairs compared for "never applies" at most, as lint.c. */
#define LINT_PAIRS 2000000u

static void lint_one(struct vup_rctx *c, const struct vup_dbuild *b)
{
	const struct vup_data_rule *r = b->rule;
	const uint64_t no_sectors = (UINT64_C(1) << VUP_BLK_T_FLUSH) |
	                            (UINT64_C(1) << VUP_BLK_T_GET_ID);
	if (r->when.probability_ppm == 0)
		vup__rwarn(c, b->when,
		           "data rule '%s': probability 0 never fires",
		           r->name);
	if (r->jitter_ns > r->delay_ns)
		vup__rwarn(c, b->action,
		           "data rule '%s': jitter is larger than the delay; "
		           "delays below 0 become 0",
		           r->name);
	bool random = r->jitter_ns || r->action == VUP_DATA_ACT_CORRUPT ||
	              r->action == VUP_DATA_ACT_CORRUPT_READ;
	if (r->when.seed && r->when.probability_ppm >= VUP_RULES_PPM && !random)
		vup__rwarn(c, b->when,
		           "data rule '%s': seed has no effect without "
		           "probability, jitter or corrupt",
		           r->name);
	if (r->has_sectors && !r->any_op && !(r->ops & ~no_sectors))
		vup__rwarn(c, b->node,
		           "data rule '%s' never applies: flush and get_id "
		           "requests have no sectors",
		           r->name);
}

void vup__rules_data_lint(struct vup_rctx *c, const struct vup_dbuild *b,
                          unsigned n)
{
	unsigned *finals = malloc(sizeof(*finals) * (n ? n : 1));
	unsigned nfinals = 0;
	size_t pairs = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct vup_data_rule *r = b[i].rule;
		lint_one(c, &b[i]);
		bool capped = pairs + nfinals > LINT_PAIRS; /* quietly */
		for (unsigned f = 0; finals && !capped && f < nfinals; f++) {
			const struct vup_data_rule *a = b[finals[f]].rule;
			if (covers(a, r)) {
				vup__rwarn(c, b[i].node,
				           "data rule '%s' never applies: data "
				           "rule '%s' (line %u) takes every "
				           "request it matches first",
				           r->name, a->name, a->line);
				break;
			}
		}
		pairs += nfinals;
		if (finals && final(r))
			finals[nfinals++] = i;
	}
	free(finals);
}
