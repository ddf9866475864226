/* flow: validation, negotiated state and reply pairing for a session,
 * and the rate limit of its warnings. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "flow.h"

int vup_flow_init(struct vup_flow *f)
{
	struct vup_model *old = f->model;
	memset(f, 0, sizeof(*f));
	vup_model_free(old);
	f->model = vup_model_new();
	return f->model ? 0 : -ENOMEM;
}

void vup_flow_free(struct vup_flow *f)
{
	vup_model_free(f->model);
	f->model = NULL;
}

void vup_flow_forget(struct vup_flow *f, enum vup_chan chan)
{
	vup_model_forget_owed(f->model, chan);
}

struct vup_finding *vup_findings_add(struct vup_findings *fs,
                                     enum vup_problem kind)
{
	if (fs->n == VUP_FLOW_FINDINGS_MAX)
		return NULL;
	struct vup_finding *f = &fs->f[fs->n++];
	f->kind = kind;
	f->why[0] = '\0';
	return f;
}

const struct vup_finding *vup_findings_refusal(const struct vup_findings *fs,
                                               bool strict)
{
	for (unsigned i = 0; i < fs->n; i++)
		if (vup_problem_refused(fs->f[i].kind, strict))
			return &fs->f[i];
	return NULL;
}

size_t vup_findings_text(const struct vup_findings *fs, char *buf, size_t cap)
{
	size_t n = 0;
	if (cap)
		buf[0] = '\0';
	for (unsigned i = 0; i < fs->n; i++) {
		int k = snprintf(n < cap ? buf + n : NULL,
		                 n < cap ? cap - n : 0, "%s%s: %s",
		                 i ? "; " : "", vup_problem_name(fs->f[i].kind),
		                 fs->f[i].why);
		if (k > 0)
			n += (size_t)k;
	}
	return n;
}

#define FINDING(fs, kind, ...)                                                 \
	do {                                                                   \
		struct vup_finding *f_ = vup_findings_add(fs, kind);           \
		if (f_)                                                        \
			snprintf(f_->why, sizeof(f_->why), __VA_ARGS__);       \
	} while (0)

void vup_flow_check(const struct vup_flow *f, const struct vup_view *v,
                    struct vup_findings *out)
{
	out->n = 0;
	char why[sizeof(out->f[0].why)];
	const struct vup_hdr *h = &v->hdr;
	enum vup_problem p = vup_proto_check_view(v, vup_model_neg(f->model),
	                                          why, sizeof(why));
	if (p) {
		FINDING(out, p, "%s", why);
		if (vup_problem_class(p) == VUP_PC_REFUSE)
			return; /* never relayed: nothing to account for */
	}
	/* Beside whatever else is wrong: libvhost-user echoes it on every
	 * reply, which must not hide the checks of the payload. */
	if ((h->flags & VUP_FLAG_REPLY) && (h->flags & VUP_FLAG_NEED_REPLY) &&
	    v->reply)
		FINDING(out, VUP_PROBLEM_NEED_REPLY_ON_REPLY,
		        "NEED_REPLY set on a reply (flags 0x%x)", h->flags);
	if (h->flags & ~VUP_FLAG_KNOWN)
		FINDING(out, VUP_PROBLEM_RESERVED_FLAGS,
		        "reserved flag bits 0x%x set",
		        h->flags & ~VUP_FLAG_KNOWN);
	if (!v->type)
		FINDING(out, VUP_PROBLEM_UNKNOWN_REQUEST,
		        "unknown request code %u on the %s channel", h->request,
		        vup_chan_name(v->chan));
	/* The sender's role says what the message is; its flags are the
	 * receiver's to judge. */
	p = vup_model_pairing(f->model, v, why, sizeof(why));
	if (p)
		FINDING(out, p, "%s", why);
}

void vup_flow_inspect(struct vup_flow *f, enum vup_chan chan,
                      enum vup_side from, const struct vup_msg *m,
                      struct vup_findings *out)
{
	struct vup_view v;
	vup_view_decode(&v, chan, from, &m->hdr, m->payload, m->fds, m->nfds,
	                vup_model_neg(f->model), 0);
	vup_flow_check(f, &v, out);
	if (!vup_findings_refusal(out, false))
		vup_model_feed(f->model, &v, true, NULL);
}

bool vup_flow_warn_due(struct vup_flow *f, enum vup_problem kind,
                       uint64_t now_ns, uint32_t *held)
{
	struct vup_warn_limit *w = &f->warn[kind % VUP_PROBLEM_COUNT];
	if (w->logged && now_ns - w->last_ns < VUP_FLOW_WARN_PERIOD_NS) {
		w->held++;
		return false;
	}
	*held = w->held;
	w->held = 0;
	w->logged = true;
	w->last_ns = now_ns;
	return true;
}

uint32_t vup_flow_warn_take_held(struct vup_flow *f, enum vup_problem kind,
                                 uint64_t now_ns)
{
	struct vup_warn_limit *w = &f->warn[kind % VUP_PROBLEM_COUNT];
	uint32_t n = w->held;
	if (!n || (now_ns != UINT64_MAX &&
	           now_ns - w->last_ns < VUP_FLOW_WARN_PERIOD_NS))
		return 0;
	w->held = 0;
	if (now_ns != UINT64_MAX)
		w->last_ns = now_ns;
	return n;
}
