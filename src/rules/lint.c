/* rules: warnings about a valid rule set (`vuproxy rules check` prints
 * them, loading does not fail on them): a dropped request its sender
 * waits for, a `fail` whose reply cannot say "error", a rule that an
 * earlier catch-all rule hides. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The catalogue rows a rule can meet as requests (from their sender). */
static bool meets_request(const struct vup_rule *r,
                          const struct vup_msg_type *t)
{
	const struct vup_rule_match *m = &r->match;
	enum vup_side sender =
	        t->chan == VUP_CHAN_MAIN ? VUP_FRONTEND : VUP_BACKEND;
	if (vup__rules_reply_filter(r) == 1)
		return false;
	if (m->from >= 0 && m->from != (int)sender)
		return false;
	if (m->chan >= 0 && m->chan != (int)t->chan)
		return false;
	if (!m->nrequests)
		return true;
	for (unsigned i = 0; i < m->nrequests; i++)
		if (m->requests[i].chan == t->chan &&
		    m->requests[i].code == t->code)
			return true;
	return false;
}

struct names {
	char buf[160];
	size_t len;
	unsigned n;
};

static void add_name(struct names *nm, const char *s)
{
	if (nm->n++ == 3) {
		snprintf(nm->buf + nm->len, sizeof(nm->buf) - nm->len, ", ...");
		nm->len = strlen(nm->buf);
	}
	if (nm->n > 3)
		return;
	snprintf(nm->buf + nm->len, sizeof(nm->buf) - nm->len, "%s%s",
	         nm->n > 1 ? ", " : "", s);
	nm->len = strlen(nm->buf);
}

static void lint_drop(struct vup_rctx *c, const struct vup_rbuild *b)
{
	const struct vup_rule *r = b->rule;
	struct names always = {0}, acked = {0};
	bool all_have_error_form = true;
	for (int ch = VUP_CHAN_MAIN; ch <= VUP_CHAN_BACKEND; ch++) {
		for (size_t i = 0; i < vup_proto_count(ch); i++) {
			const struct vup_msg_type *t = vup_proto_at(ch, i);
			if (!meets_request(r, t))
				continue;
			add_name(t->reply == VUP_REPLY_ALWAYS ? &always
			                                      : &acked,
			         t->name);
			if (!vup_proto_has_error_form(t))
				all_have_error_form = false;
		}
	}
	if (always.n)
		vup__rwarn(
		        c, b->action,
		        "rule '%s' drops %s, which always get%s a reply: the "
		        "sender will wait for it forever (%s)",
		        r->name, always.buf, always.n > 1 ? "" : "s",
		        all_have_error_form
		                ? "fail answers with an error instead"
		                : "fail would answer instead, with a zeroed "
		                  "reply the sender takes as real: there is "
		                  "no error form");
	else if (acked.n)
		vup__rwarn(c, b->action,
		           "rule '%s' drops %s: a sender that set NEED_REPLY "
		           "(REPLY_ACK) will wait for the ack forever (fail "
		           "answers with an error instead)",
		           r->name, acked.buf);
	else if (r->match.reply == 1)
		vup__rwarn(c, b->action,
		           "rule '%s' drops replies: the sender of the request "
		           "will wait for them forever",
		           r->name);
}

static void lint_fail(struct vup_rctx *c, const struct vup_rbuild *b)
{
	struct names bad = {0};
	for (int ch = VUP_CHAN_MAIN; ch <= VUP_CHAN_BACKEND; ch++) {
		for (size_t i = 0; i < vup_proto_count(ch); i++) {
			const struct vup_msg_type *t = vup_proto_at(ch, i);
			if (meets_request(b->rule, t) &&
			    !vup_proto_has_error_form(t))
				add_name(&bad, t->name);
		}
	}
	if (bad.n)
		vup__rwarn(c, b->action,
		           "rule '%s' fails %s, whose reply has no error form: "
		           "the sender will take the error reply for an answer",
		           b->rule->name, bad.buf);
}

/* Does every message that meets rule b also meet rule a (a has no
 * condition b lacks)? */
static bool covers(const struct vup_rule *a, const struct vup_rule *b)
{
	const struct vup_rule_match *x = &a->match, *y = &b->match;
	int ra = vup__rules_reply_filter(a), rb = vup__rules_reply_filter(b);
	if (ra >= 0 && ra != rb)
		return false;
	if (x->from >= 0 && x->from != y->from)
		return false;
	if (x->session >= 0 && x->session != y->session)
		return false;
	if (x->vring >= 0 && x->vring != y->vring)
		return false;
	if (x->socket_glob &&
	    (!y->socket_glob || strcmp(x->socket_glob, y->socket_glob) != 0))
		return false;
	if (x->nfields)
		return false;
	if ((x->has_features & ~y->has_features) ||
	    (x->has_protocol_features & ~y->has_protocol_features))
		return false;
	if (x->chan >= 0 && x->chan != y->chan) {
		/* b may still name only requests of a's channel */
		if (!y->nrequests)
			return false;
		for (unsigned i = 0; i < y->nrequests; i++)
			if ((int)y->requests[i].chan != x->chan)
				return false;
	}
	if (!x->nrequests)
		return true;
	if (!y->nrequests)
		return false;
	for (unsigned i = 0; i < y->nrequests; i++) {
		unsigned j = 0;
		while (j < x->nrequests &&
		       (x->requests[j].chan != y->requests[i].chan ||
		        x->requests[j].code != y->requests[i].code))
			j++;
		if (j == x->nrequests)
			return false;
	}
	return true;
}

/* Fires on every message it matches and stops there (log and snapshot
 * rules never stop). */
static bool final(const struct vup_rule *a)
{
	const struct vup_rule_when *w = &a->when;
	return !a->cont && a->action != VUP_RULE_ACT_LOG &&
	       a->action != VUP_RULE_ACT_SNAPSHOT && !w->nth && !w->first &&
	       !w->every && !w->after && w->probability_ppm >= VUP_RULES_PPM;
}

/* Pairs of rules compared for "never applies" at most: the check is
 * quadratic, and a reload runs on the relay's thread. */
#define LINT_PAIRS 2000000u

void vup__rules_lint(struct vup_rctx *c, const struct vup_rbuild *b, unsigned n)
{
	/* The final rules so far: only they can hide a later one. */
	unsigned *finals = malloc(sizeof(*finals) * (n ? n : 1));
	unsigned nfinals = 0;
	size_t pairs = 0;
	bool capped = false;
	for (unsigned i = 0; i < n; i++) {
		const struct vup_rule *r = b[i].rule;
		if (r->action == VUP_RULE_ACT_DROP)
			lint_drop(c, &b[i]);
		if (r->action == VUP_RULE_ACT_FAIL)
			lint_fail(c, &b[i]);
		if (r->jitter_ns > r->delay_ns)
			vup__rwarn(
			        c, b[i].action,
			        "rule '%s': jitter is larger than the delay; "
			        "delays below 0 become 0",
			        r->name);
		if (r->when.seed && r->when.probability_ppm >= VUP_RULES_PPM &&
		    !r->jitter_ns)
			vup__rwarn(c, b[i].when,
			           "rule '%s': seed has no effect without "
			           "probability or jitter",
			           r->name);
		if (finals && !capped && pairs + nfinals > LINT_PAIRS) {
			capped = true;
			vup__rwarn(c, b[i].node,
			           "rule '%s' and those after it were not "
			           "checked for rules that never apply (more "
			           "than %u pairs of rules)",
			           r->name, LINT_PAIRS);
		}
		for (unsigned f = 0; finals && !capped && f < nfinals; f++) {
			const struct vup_rule *a = b[finals[f]].rule;
			if (covers(a, r)) {
				vup__rwarn(c, b[i].node,
				           "rule '%s' never applies: rule '%s' "
				           "(line %u) takes every message it "
				           "matches first",
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
