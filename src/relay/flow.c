/* flow: validation, negotiated state and reply pairing for a session,
 * and the rate limit of its warnings. */
#include <errno.h>
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

void vup_flow_check(const struct vup_flow *f, const struct vup_view *v,
                    struct vup_findings *out)
{
	vup_problems_find(f->model, v, out);
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

bool vup_warn_due(struct vup_warn_limit *w, uint64_t now_ns, uint32_t *held)
{
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

uint32_t vup_warn_take_held(struct vup_warn_limit *w, uint64_t now_ns)
{
	uint32_t n = w->held;
	if (!n || (now_ns != UINT64_MAX &&
	           now_ns - w->last_ns < VUP_FLOW_WARN_PERIOD_NS))
		return 0;
	w->held = 0;
	if (now_ns != UINT64_MAX)
		w->last_ns = now_ns;
	return n;
}

bool vup_flow_warn_due(struct vup_flow *f, enum vup_problem kind,
                       uint64_t now_ns, uint32_t *held)
{
	return vup_warn_due(&f->warn[kind % VUP_PROBLEM_COUNT], now_ns, held);
}

uint32_t vup_flow_warn_take_held(struct vup_flow *f, enum vup_problem kind,
                                 uint64_t now_ns)
{
	return vup_warn_take_held(&f->warn[kind % VUP_PROBLEM_COUNT], now_ns);
}
