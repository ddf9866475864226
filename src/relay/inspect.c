/* inspect: what vuproxy finds wrong with a message, and what it does about
 * it before the rules see the message.
 *
 * The flow (flow.c) finds the problems; a back-end channel that cannot be
 * interposed is found here.  A problem of the REFUSE class (or of the
 * STRICT class with --strict) closes the session; every other one is
 * relayed with a mark in the trace (forward.c records it) and a warning
 * line, rate-limited per session and kind: the first is logged, repeats
 * within VUP_FLOW_WARN_PERIOD_NS are counted and told by the next line of
 * that kind, by the proxy's periodic tick, or when the session ends.
 */
#include <stdio.h>
#include <sys/stat.h>

#include "relay.h"
#include "vuproxy/log.h"

static bool is_socket(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Does this message hand the back-end a back-end channel (whatever its
 * flags say: the back-end may take it)? */
static bool opens_backend_channel(const struct vup_link *from,
                                  const struct vup_hdr *hdr, unsigned nfds)
{
	return from->chan == VUP_CHAN_MAIN && from->side == VUP_FRONTEND &&
	       hdr->request == VUP_REQ_SET_BACKEND_REQ_FD && nfds >= 1;
}

bool vup__interposes_backend_channel(const struct vup_link *from,
                                     const struct vup_hdr *hdr, const int *fds,
                                     unsigned nfds)
{
	return opens_backend_channel(from, hdr, nfds) && nfds == 1 &&
	       is_socket(fds[0]);
}

bool vup__inspect(struct vup_link *l, struct vup_view *v,
                  struct vup_findings *fs)
{
	struct vup_session *s = l->s;
	struct vup_msg *m = &l->ch.in;
	vup_view_decode(v, l->chan, l->side, &m->hdr, m->payload, m->fds,
	                m->nfds, vup_flow_neg(&s->flow), vup__wall_ns());
	vup_flow_check(&s->flow, v, fs);
	struct vup_finding *f;
	if (opens_backend_channel(l, &m->hdr, m->nfds) &&
	    !vup__interposes_backend_channel(l, &m->hdr, m->fds, m->nfds) &&
	    (f = vup_findings_add(fs, VUP_PROBLEM_BACKEND_REQ_FD)))
		snprintf(f->why, sizeof(f->why),
		         "%s: passed on as it is, the back-end channel is not "
		         "interposed",
		         m->nfds == 1 ? "the fd is not a socket"
		                      : "more than one fd");
	const struct vup_finding *no =
	        vup_findings_refusal(fs, s->proxy->cfg.strict);
	if (!no)
		return true;
	vup__record(s, l->chan, l->side, &m->hdr, m->payload, m->fds, m->nfds,
	            VUP_ACT_REFUSED, NULL, false, NULL);
	/* Ours, and going nowhere: consuming the message would forget them
	 * open. */
	vup_close_fds(m->fds, m->nfds);
	m->nfds = 0;
	vup__session_fail(
	        s, "%s%s %s%s: %s", vup__direction(l->side), vup__bch_tag(l),
	        vup_proto_name(l->chan, m->hdr.request),
	        vup_problem_class(no->kind) == VUP_PC_STRICT ? " (--strict)"
	                                                     : "",
	        no->why);
	return false;
}

/* What became of the message, for the end of its warning line. */
static void fate(const struct vup_verdict *v, char *buf, size_t len)
{
	switch (v->action) {
	case VUP_ACT_DROP:
		snprintf(buf, len, "dropped by rule %s", v->rule);
		break;
	case VUP_ACT_FAIL:
		snprintf(buf, len, "answered by rule %s, not relayed", v->rule);
		break;
	case VUP_ACT_DISCONNECT:
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
}
