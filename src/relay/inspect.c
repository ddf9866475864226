/* inspect: the warning lines for what vuproxy finds wrong with a
 * message.
 *
 * The step (step.c) finds the problems with the flow (flow.c).  A problem
 * of the REFUSE class (or of the STRICT class with --strict) closes the
 * session; every other one is relayed with a mark in the trace and a
 * warning line, rate-limited per session and kind: the first is logged,
 * repeats within VUP_FLOW_WARN_PERIOD_NS are counted and told by the next
 * line of that kind, by the proxy's periodic tick, or when the session
 * ends.
 */
#include <stdio.h>
#include <sys/stat.h>

#include "internal.h"
#include "vuproxy/log.h"

/* What became of the message, for the end of its warning line. */
static void fate(const struct vup_verdict *v, char *buf, size_t len)
{
	switch (v->action) {
	case VUP_RULE_ACT_DROP:
		snprintf(buf, len, "dropped by rule %s", v->rule);
		break;
	case VUP_RULE_ACT_FAIL:
		snprintf(buf, len, "answered by rule %s, not relayed", v->rule);
		break;
	case VUP_RULE_ACT_DISCONNECT:
		snprintf(buf, len, "not relayed: rule %s disconnected",
		         v->rule);
		break;
	default: snprintf(buf, len, "relayed"); break;
	}
}

void vup__warn_findings(const struct vup_link *l, const struct vup_hdr *h,
                        const struct vup_findings *fs,
                        const struct vup_verdict *v)
{
	struct vup_session *s = l->s;
	uint64_t now = uv_hrtime();
	char end[320];
	fate(v, end, sizeof(end));
	for (unsigned i = 0; i < fs->n; i++) {
		const struct vup_finding *f = &fs->f[i];
		uint32_t held;
		if (!vup_flow_warn_due(&s->flow, f->kind, now, &held))
			continue;
		char more[96] = "";
		if (held)
			snprintf(more, sizeof(more),
			         " (%u more %s since the last such line)", held,
			         vup_problem_name(f->kind));
		vup_log(VUP_LOG_WARN, "s%u %s%s %s%s: %s; %s%s", s->id,
		        vup__direction(l->side), vup__bch_tag(l),
		        vup_proto_name(l->chan, h->request),
		        (h->flags & VUP_FLAG_REPLY) ? " reply" : "", f->why,
		        end, more);
	}
}

void vup__warn_flush(struct vup_session *s, bool all)
{
	uint64_t now = uv_hrtime();
	for (int k = 1; k < VUP_PROBLEM_COUNT; k++) {
		uint32_t held = vup_flow_warn_take_held(&s->flow, k,
		                                        all ? UINT64_MAX : now);
		if (held)
			vup_log(VUP_LOG_WARN,
			        "s%u %u more %s since the last such line; "
			        "relayed",
			        s->id, held, vup_problem_name(k));
	}
	vup__check_flush(s, all);
}
