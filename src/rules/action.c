/* rules: the `action:` of a rule (drop, delay with jitter, rewrite, fail,
 * disconnect, log, snapshot, pass), durations, and rewrite bodies.  The
 * action words are VUP_RULE_ACTIONS's: no list of them here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* "200ms": an integer and a unit (ns, us, ms, s), at most 24 h. */
bool vup__rules_duration(struct vup_rctx *c, const struct vup_ynode *n,
                         const char *what, uint64_t *ns)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} units[] = {
	        {"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000}};
	if (!n || n->kind != VUP_Y_SCALAR || n->len == 0) {
		vup__rerr(c, n, "%s: expected a duration like 200ms, got %s",
		          what, vup__ykind_name(n));
		return false;
	}
	const char *s = n->s;
	uint64_t v = 0;
	bool big = false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > VUP_RULES_MAX_DELAY)
			big = true;
		else
			v = v * 10 + (uint64_t)(*s - '0');
	}
	for (size_t i = 0; s != n->s && i < sizeof(units) / sizeof(units[0]);
	     i++) {
		if (strcmp(s, units[i].unit) != 0)
			continue;
		if (big || v > VUP_RULES_MAX_DELAY / units[i].ns) {
			vup__rerr(c, n, "%s: %s is longer than 24h", what,
			          n->s);
			return false;
		}
		*ns = v * units[i].ns;
		return true;
	}
	vup__rerr(c, n,
	          "%s: expected a duration like 200ms (an integer and ns, us, "
	          "ms or s), got '%s'",
	          what, n->s);
	return false;
}

static bool add_rewrite(struct vup_rule *r, const char *field, uint64_t value,
                        bool protocol, uint64_t set, uint64_t clear)
{
	struct vup_rewrite *w =
	        realloc(r->rewrites, (r->nrewrites + 1) * sizeof(*w));
	if (!w)
		return false;
	r->rewrites = w;
	w += r->nrewrites;
	memset(w, 0, sizeof(*w));
	if (field && !(w->field = strdup(field)))
		return false;
	r->nrewrites++;
	w->value = value;
	w->protocol = protocol;
	w->set_features = set;
	w->clear_features = clear;
	return true;
}

static const char *const rewrite_keys[] = {"set", "set_features",
                                           "clear_features"};

bool vup__rules_rewrite(struct vup_rctx *c, struct vup_rbuild *b,
                        const struct vup_ynode *n)
{
	struct vup_rule *r = b->rule;
	const struct vup_ynode *k[3], *v[3];
	bool ok = true;
	if (!vup__ymap(c, n, "rewrite", rewrite_keys, 3, k, v))
		return false;
	if (!v[0] && !v[1] && !v[2]) {
		vup__rerr(c, n,
		          "rewrite: expected set, set_features or "
		          "clear_features");
		return false;
	}
	if (v[0] && (v[0]->kind != VUP_Y_MAP || v[0]->n == 0)) {
		vup__rerr(c, v[0],
		          "set: expected a mapping of field: value, "
		          "got %s",
		          vup__ykind_name(v[0]));
		ok = false;
	} else if (v[0]) {
		for (size_t i = 0; i + 1 < v[0]->n; i += 2) {
			const struct vup_ynode *f = v[0]->kid[i];
			uint64_t max, x;
			if (f->kind != VUP_Y_SCALAR) {
				vup__rerr(c, f, "set: expected a field name");
				ok = false;
			} else if (!vup__rules_field(c, b, f, &max) ||
			           !vup__yu64(c, v[0]->kid[i + 1], f->s, max,
			                      &x) ||
			           !add_rewrite(r, f->s, x, false, 0, 0)) {
				ok = false;
			}
		}
	}
	uint64_t sv = 0, sp = 0, cv = 0, cp = 0;
	if (v[1] && !vup__rules_features(c, b, v[1], "set_features", &sv, &sp))
		ok = false;
	if (v[2] &&
	    !vup__rules_features(c, b, v[2], "clear_features", &cv, &cp))
		ok = false;
	if (ok && ((sv & cv) || (sp & cp))) {
		vup__rerr(c, k[2],
		          "clear_features: a feature is both set and "
		          "cleared");
		ok = false;
	}
	if (ok && (sv | cv) && !add_rewrite(r, NULL, 0, false, sv, cv))
		ok = false;
	if (ok && (sp | cp) && !add_rewrite(r, NULL, 0, true, sp, cp))
		ok = false;
	return ok;
}

/* The keys of an action mapping: every action's word (VUP_RULE_ACTIONS,
 * at its enum value), then jitter. */
static const char *const action_keys[] = {
#define X(id, s) s,
        VUP_RULE_ACTIONS(X)
#undef X
                "jitter"};
enum { A_JITTER = VUP_RULE_ACT_COUNT, A_COUNT };

/* Written as a mapping {action: value}: with a value. */
static bool takes_value(enum vup_rule_action a)
{
	return a == VUP_RULE_ACT_DELAY || a == VUP_RULE_ACT_REWRITE ||
	       a == VUP_RULE_ACT_FAIL || a == VUP_RULE_ACT_DISCONNECT;
}

/* "drop, delay, ..., snapshot or pass": every action, pass last. */
_Static_assert(VUP_RULE_ACT_PASS == 0, "action_list puts action 0 last");
static const char *action_list(char *buf, size_t len)
{
	size_t at = 0;
	buf[0] = 0;
	for (unsigned a = 1; a <= VUP_RULE_ACT_COUNT && at < len; a++) {
		unsigned x = a % VUP_RULE_ACT_COUNT; /* PASS (0) last */
		int w = snprintf(buf + at, len - at, "%s%s",
		                 a == 1                    ? ""
		                 : a == VUP_RULE_ACT_COUNT ? " or "
		                                           : ", ",
		                 action_keys[x]);
		if (w < 0)
			break;
		at += (size_t)w;
	}
	return buf;
}

static bool parse_disconnect(struct vup_rctx *c, const struct vup_ynode *n,
                             unsigned *sides)
{
	const char *s;
	if (!vup__ystr(c, n, "disconnect", &s))
		return false;
	if (strcmp(s, "front-end") == 0)
		*sides = 1;
	else if (strcmp(s, "back-end") == 0)
		*sides = 2;
	else if (strcmp(s, "both") == 0)
		*sides = 3;
	else {
		vup__rerr(c, n,
		          "disconnect: expected front-end, back-end or both, "
		          "got '%s'",
		          s);
		return false;
	}
	return true;
}

int vup__rules_one_action(struct vup_rctx *c, const struct vup_ynode **k,
                          const char *const *words, int count)
{
	int chosen = -1;
	for (int i = 0; i < count; i++) {
		if (!k[i])
			continue;
		if (chosen >= 0) {
			vup__rerr(c, k[i], "one action per rule: %s and %s",
			          words[chosen], words[i]);
			return -2;
		}
		chosen = i;
	}
	return chosen;
}

const char *vup_rules_action_name(enum vup_rule_action a)
{
	return (unsigned)a < VUP_RULE_ACT_COUNT ? action_keys[a] : "unknown";
}

/* action: WORD.  False (reported) when WORD is no action or needs a
 * value. */
static bool scalar_action(struct vup_rctx *c, struct vup_rule *r,
                          const struct vup_ynode *n)
{
	for (unsigned a = 0; a < VUP_RULE_ACT_COUNT; a++) {
		if (strcmp(n->s, action_keys[a]) != 0)
			continue;
		if (a == VUP_RULE_ACT_DELAY || a == VUP_RULE_ACT_REWRITE) {
			vup__rerr(c, n, "action: %s needs a value, like {%s}",
			          n->s,
			          a == VUP_RULE_ACT_DELAY
			                  ? "delay: 200ms"
			                  : "rewrite: {set: {num: 128}}");
			return false;
		}
		r->action = (enum vup_rule_action)a;
		if (r->action == VUP_RULE_ACT_DISCONNECT)
			r->disconnect = 3;
		return true;
	}
	char list[160];
	vup__rerr(c, n, "unknown action '%s' (expected %s)", n->s,
	          action_list(list, sizeof(list)));
	return false;
}

bool vup__rules_action(struct vup_rctx *c, struct vup_rbuild *b,
                       const struct vup_ynode *n,
                       const struct vup_ynode **rewrite)
{
	struct vup_rule *r = b->rule;
	*rewrite = NULL;
	r->fail_value = 1;
	if (n && n->kind == VUP_Y_SCALAR && n->len)
		return scalar_action(c, r, n);
	const struct vup_ynode *k[A_COUNT], *v[A_COUNT];
	if (!vup__ymap(c, n, "action", action_keys, A_COUNT, k, v))
		return false;
	for (int i = 0; i < VUP_RULE_ACT_COUNT; i++) {
		if (k[i] && !takes_value((enum vup_rule_action)i)) {
			vup__rerr(c, k[i],
			          "%s takes no value: write action: %s",
			          action_keys[i], action_keys[i]);
			return false;
		}
	}
	int chosen =
	        vup__rules_one_action(c, k, action_keys, VUP_RULE_ACT_COUNT);
	if (chosen == -2)
		return false;
	if (k[A_JITTER] && chosen != VUP_RULE_ACT_DELAY) {
		vup__rerr(c, k[A_JITTER], "jitter goes with delay");
		return false;
	}
	switch (chosen) {
	case VUP_RULE_ACT_DELAY:
		r->action = VUP_RULE_ACT_DELAY;
		return vup__rules_duration(c, v[chosen], "delay",
		                           &r->delay_ns) &&
		       (!v[A_JITTER] ||
		        vup__rules_duration(c, v[A_JITTER], "jitter",
		                            &r->jitter_ns));
	case VUP_RULE_ACT_REWRITE:
		r->action = VUP_RULE_ACT_REWRITE;
		*rewrite = v[chosen];
		return true;
	case VUP_RULE_ACT_FAIL:
		r->action = VUP_RULE_ACT_FAIL;
		r->fail_has_value = true;
		return vup__yu64(c, v[chosen], "fail", UINT64_MAX,
		                 &r->fail_value);
	case VUP_RULE_ACT_DISCONNECT:
		r->action = VUP_RULE_ACT_DISCONNECT;
		return parse_disconnect(c, v[chosen], &r->disconnect);
	default: {
		char list[160];
		vup__rerr(c, n, "action: expected %s",
		          action_list(list, sizeof(list)));
		return false;
	}
	}
}
