/* step: one message's fate as a list of actions (see step.h).
 *
 *   check (flow, model) -> refuse? -> rules verdict -> model fed -> act
 *
 * Every message is recorded before it goes anywhere; a rewritten one is
 * recorded as received and as sent; a delayed one again when it leaves
 * (by the adapter, from its HOLD).  vhost-user is ordered per connection:
 * once a message of a direction is held, every later one of that
 * direction waits behind it, answers of vuproxy's own included.
 */
#include <stdio.h>
#include <string.h>

#include "step.h"

static struct vup_step_action *add(struct vup_step *o, enum vup_step_kind k,
                                   enum vup_step_msg msg)
{
	/* At most 5 actions per message (a rewrite that is then failed:
	 * two records, a discard, the answer's record and its send). */
	struct vup_step_action *a =
	        &o->a[o->n < VUP_STEP_ACTIONS_MAX ? o->n++
	                                          : VUP_STEP_ACTIONS_MAX - 1];
	memset(a, 0, sizeof(*a));
	a->kind = k;
	a->msg = msg;
	return a;
}

static void record(struct vup_step *o, enum vup_step_msg msg,
                   enum vup_side from, enum vup_trace_action action,
                   const char *rule, bool as_sent)
{
	struct vup_step_action *a = add(o, VUP_STEP_RECORD, msg);
	a->from = from;
	a->action = action;
	a->rule = rule;
	a->as_sent = as_sent;
}

bool vup_step_opens_backend_channel(const struct vup_view *v)
{
	return v->chan == VUP_CHAN_MAIN && v->from == VUP_FRONTEND &&
	       v->hdr.request == VUP_REQ_SET_BACKEND_REQ_FD && v->nfds >= 1;
}

/* The findings, and the one vuproxy must refuse the message for. */
static void check(const struct vup_step_ctx *c, const struct vup_view *v,
                  bool interpose, struct vup_step *o)
{
	vup_flow_check(c->flow, v, &o->findings);
	struct vup_finding *f;
	if (vup_step_opens_backend_channel(v) && !interpose &&
	    (f = vup_findings_add(&o->findings, VUP_PROBLEM_BACKEND_REQ_FD)))
		snprintf(f->why, sizeof(f->why),
		         "%s: passed on as it is, the back-end channel is not "
		         "interposed",
		         v->nfds == 1 ? "the fd is not a socket"
		                      : "more than one fd");
	o->refusal = vup_findings_refusal(&o->findings, c->strict);
	vup_findings_text(&o->findings, o->mark, sizeof(o->mark));
}

/* Send now, or wait behind what is held in that direction (or for the
 * rule's delay). */
static void pass_on(const struct vup_step_ctx *c, struct vup_step *o,
                    enum vup_step_msg msg, enum vup_side from, bool back,
                    bool interpose, uint64_t delay_ns, const char *rule)
{
	if (!delay_ns && !c->held[from]) {
		if (rule) /* a delay of 0 (or jitter below it) */
			record(o, msg, from, VUP_TRACE_ACT_RELEASED, rule,
			       true);
		struct vup_step_action *a = add(o, VUP_STEP_SEND, msg);
		a->back = back;
		a->interpose = interpose;
		return;
	}
	struct vup_step_action *a = add(o, VUP_STEP_HOLD, msg);
	a->back = back;
	a->interpose = interpose;
	a->release_ns = c->now_ns + delay_ns;
	a->rule = rule;
}

/* Rule `fail`: vuproxy answers in the receiver's place.  A failed reply
 * reaches its requester as the error form; a failed request is answered
 * back to its sender, behind anything the receiver already sent that
 * way.  A request that expects no reply is just dropped. */
static void fail(const struct vup_step_ctx *c, const struct vup_view *v,
                 struct vup_step *o)
{
	const struct vup_verdict *vd = &o->verdict;
	const uint64_t *value = vd->fail_has_value ? &vd->fail_value : NULL;
	const struct vup_negotiated *neg = vup_flow_neg(c->flow);
	struct vup_hdr req = v->hdr;
	if (v->reply)
		req.flags = VUP_FLAG_VERSION | VUP_FLAG_NEED_REPLY;
	if (!vup_reply_build(&req, v->payload, v->chan, neg, VUP_REPLY_FAILED,
	                     value, &o->answer_hdr, o->answer))
		return;
	enum vup_side to_sender =
	        v->from == VUP_FRONTEND ? VUP_BACKEND : VUP_FRONTEND;
	enum vup_side from = v->reply ? v->from : to_sender;
	record(o, VUP_STEP_MSG_ANSWER, from, VUP_TRACE_ACT_FAIL, vd->rule,
	       true);
	pass_on(c, o, VUP_STEP_MSG_ANSWER, from, !v->reply, false, 0, NULL);
}

/* The rules' verdict on the message, the original kept if rewritten. */
static void decide(const struct vup_step_ctx *c, struct vup_msg *m,
                   const struct vup_view *v, struct vup_step *o)
{
	o->verdict = (struct vup_verdict){.action = VUP_RULE_ACT_PASS};
	if (!c->rules)
		return;
	o->orig_hdr = m->hdr;
	memcpy(o->orig, m->payload, m->hdr.size);
	struct vup_rules_msg rm = {
	        .session = c->session,
	        .frontend_path = c->frontend_path,
	        .backend_path = c->backend_path,
	        .chan = v->chan,
	        .from = v->from,
	        .hdr = &m->hdr,
	        .payload = m->payload,
	        .neg = vup_flow_neg(c->flow),
	        .view = v,
	};
	vup_rules_decide(c->rules, c->rules_state, &rm, &o->verdict);
}

/* --active on a message that goes on: its rewrite (the copy received
 * kept in orig, as a rule's), or its refusal.  False: refused. */
static bool shadow(const struct vup_step_ctx *c, struct vup_msg *m,
                   const struct vup_view *v, struct vup_step *o)
{
	o->rewritten = o->verdict.rewritten;
	enum vup_rule_action ra = o->verdict.action;
	if (!c->active || ra == VUP_RULE_ACT_DROP || ra == VUP_RULE_ACT_FAIL ||
	    ra == VUP_RULE_ACT_DISCONNECT)
		return true;
	struct vup_hdr hdr = m->hdr;
	static uint8_t before[VUP_MAX_PAYLOAD];
	memcpy(before, m->payload, m->hdr.size);
	if (!vup_active_rewrite(c->active, v, m, c->active_io, &o->active)) {
		if (!o->active.refuse)
			return true;
		record(o, VUP_STEP_MSG_IN, v->from, VUP_TRACE_ACT_REFUSED, NULL,
		       false);
		add(o, VUP_STEP_REFUSE, VUP_STEP_MSG_IN);
		return false;
	}
	if (!o->rewritten) { /* a rule's rewrite kept the original */
		o->orig_hdr = hdr;
		memcpy(o->orig, before, hdr.size);
	}
	o->rewritten = true;
	int slot = o->active.fd_slot;
	if (slot >= 0) {
		for (unsigned i = 0; i < o->orig_nfds; i++)
			o->sent_fdi[i] = o->orig_fdi[i];
		o->sent_fdi[slot] = c->active_io->fd_info;
	}
	return true;
}

void vup_step(const struct vup_step_ctx *c, struct vup_msg *m,
              struct vup_view *v, struct vup_step *o)
{
	o->n = 0;
	o->rewritten = false;
	o->active = (struct vup_active_out){.kept_fd = -1, .fd_slot = -1};
	o->orig_nfds = m->nfds;
	for (unsigned i = 0; i < m->nfds; i++)
		o->orig_fdi[i] =
		        v->fd_info ? v->fd_info[i] : (struct vup_fd_info){0};
	o->delivered = false;
	o->events.n = 0;
	/* Its one fd a socket vuproxy can stand in front of. */
	bool interpose = vup_step_opens_backend_channel(v) && v->nfds == 1 &&
	                 v->fd_info && v->fd_info[0].kind == VUP_FDK_SOCKET;
	check(c, v, interpose, o);
	if (o->refusal) {
		/* No rule ran: o->refusal is the message's fate. */
		o->verdict = (struct vup_verdict){.action = VUP_RULE_ACT_PASS};
		record(o, VUP_STEP_MSG_IN, v->from, VUP_TRACE_ACT_REFUSED, NULL,
		       false);
		add(o, VUP_STEP_REFUSE, VUP_STEP_MSG_IN);
		return;
	}
	decide(c, m, v, o);
	if (!shadow(c, m, v, o))
		return;
	const struct vup_verdict *vd = &o->verdict;
	enum vup_trace_action act = vup_rules_trace_action(vd);
	const char *rule = vd->rule      ? vd->rule
	                   : vd->nlogged ? vd->logged[0]
	                                 : NULL;
	if (!rule && o->rewritten)
		rule = VUP_ACTIVE_RULE;
	enum vup_step_msg received =
	        o->rewritten ? VUP_STEP_MSG_ORIG : VUP_STEP_MSG_IN;
	record(o, received, v->from, o->rewritten ? VUP_TRACE_ACT_REWRITE : act,
	       rule, false);
	o->a[o->n - 1].marked = true;
	if (o->rewritten) {
		record(o, VUP_STEP_MSG_IN, v->from,
		       act == VUP_TRACE_ACT_PASS ? VUP_TRACE_ACT_REWRITE : act,
		       rule, true);
		/* What the receiver sees is what counts from now on. */
		const struct vup_fd_info *kinds =
		        o->active.fd_slot >= 0 ? o->sent_fdi : v->fd_info;
		vup_view_decode(v, v->chan, v->from, &m->hdr, m->payload,
		                m->fds, m->nfds, vup_flow_neg(c->flow),
		                v->time_ns);
		v->fd_info = kinds;
		vup_flow_check(c->flow, v, &o->sent_findings);
	}
	/* Whatever is not sent on never reaches its receiver. */
	o->delivered = vd->action != VUP_RULE_ACT_DROP &&
	               vd->action != VUP_RULE_ACT_FAIL &&
	               vd->action != VUP_RULE_ACT_DISCONNECT;
	vup_model_feed(c->flow->model, v, o->delivered, &o->events);
	switch (vd->action) {
	case VUP_RULE_ACT_DROP:
		add(o, VUP_STEP_DISCARD, VUP_STEP_MSG_IN);
		break;
	case VUP_RULE_ACT_FAIL:
		add(o, VUP_STEP_DISCARD, VUP_STEP_MSG_IN);
		fail(c, v, o);
		break;
	case VUP_RULE_ACT_DISCONNECT:
		add(o, VUP_STEP_DISCARD, VUP_STEP_MSG_IN);
		add(o, VUP_STEP_CLOSE, VUP_STEP_MSG_IN)->sides = vd->disconnect;
		break;
	case VUP_RULE_ACT_DELAY:
		pass_on(c, o, VUP_STEP_MSG_IN, v->from, false, interpose,
		        vd->delay_ns, rule);
		break;
	default: /* PASS, LOG, REWRITE */
		pass_on(c, o, VUP_STEP_MSG_IN, v->from, false, interpose, 0,
		        NULL);
		break;
	}
}
