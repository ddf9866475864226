/* events: what subscribers of the control socket are told (session up
 * and down, rule hits, findings).  Each hook costs a test of one counter
 * when nobody subscribed. */
#include <string.h>

#include "internal.h"
#include "vuproxy/control.h"

static void begin(struct vup_jw *w, const char *kind,
                  const struct vup_session *s)
{
	vup_jw_init(w);
	vup_jw_obj(w);
	vup_jw_kstr(w, "event", kind);
	vup_jw_key(w, "time");
	vup_jw_time(w, vup__wall_ns());
	vup_jw_kuint(w, "session", s->id);
}

static void send_event(struct vup_session *s, struct vup_jw *w)
{
	vup_jw_end(w);
	if (!w->oom)
		vup_control_publish(s->proxy->ctl, w->buf, w->len);
	vup_jw_free(w);
}

void vup__event_session_up(struct vup_session *s)
{
	if (!vup_control_subscribed(s->proxy->ctl))
		return;
	struct vup_jw w;
	begin(&w, "session-up", s);
	vup_jw_kstr(&w, "frontend", s->proxy->cfg.frontend.path);
	vup_jw_kstr(&w, "backend", s->proxy->cfg.backend.path);
	send_event(s, &w);
}

void vup__event_session_down(struct vup_session *s, const char *reason)
{
	if (!vup_control_subscribed(s->proxy->ctl))
		return;
	struct vup_jw w;
	begin(&w, "session-down", s);
	vup_jw_kstr(&w, "reason", reason);
	vup_jw_kbool(&w, "failed", s->failed);
	vup_jw_kuint(&w, "messages", s->msgs);
	send_event(s, &w);
}

void vup__event_rule(struct vup_session *s, const struct vup_view *v,
                     const struct vup_verdict *vd)
{
	if (!vup_control_subscribed(s->proxy->ctl) ||
	    (!vd->rule && !vd->nlogged))
		return;
	const char *req = v->type ? v->type->name : "unknown";
	/* The deciding rule, then the `log` rules that saw it pass. */
	for (unsigned i = 0; i < vd->nlogged + (vd->rule != NULL); i++) {
		bool decider = vd->rule && i == 0;
		struct vup_jw w;
		begin(&w, "rule", s);
		vup_jw_kstr(&w, "rule",
		            decider ? vd->rule : vd->logged[i - !!vd->rule]);
		vup_jw_kstr(&w, "action",
		            decider ? vup_rules_action_name(vd->action)
		                    : "log");
		vup_jw_kstr(&w, "request", req);
		vup_jw_kbool(&w, "reply", v->reply);
		send_event(s, &w);
	}
}

void vup__event_finding(struct vup_session *s,
                        const struct vup_check_finding *f)
{
	if (!vup_control_subscribed(s->proxy->ctl))
		return;
	struct vup_jw w;
	begin(&w, "finding", s);
	vup_jw_kstr(&w, "id", f->row->code);
	vup_jw_kstr(&w, "severity", vup_check_severity_name(f->row->severity));
	vup_jw_kstr(&w, "request", f->request);
	vup_jw_kstr(&w, "message", f->message);
	if (f->rule)
		vup_jw_kstr(&w, "rule", f->rule);
	send_event(s, &w);
}
