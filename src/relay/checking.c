/* checking: the checker (check.h) live in the relay, and the reply
 * watchdog.
 *
 * Each session has a checker, fed every message once the step has fed
 * the model, with the problems the step found (vup_check_problems: no
 * second pass).  A finding is one log line naming the session, the
 * message and the row, rate-limited per session and row as the
 * warnings are (flow.h), and, with --trace-findings, a finding record in
 * the trace naming the frame of the message's record (tracemsg.h).  Its lines
 * are not "warning:" lines: those stay one per problem the relay relays
 * (inspect.c), which the checker's rows restate with their spec.
 * Nothing is formatted or allocated for a message without a finding.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "vuproxy/log.h"
#include "vuproxy/tracemsg.h"

void vup__check_open(struct vup_session *s)
{
	if (!s->proxy->cfg.no_check)
		s->checker = vup_checker_new(s->id); /* NULL: go without */
}

void vup__check_close(struct vup_session *s)
{
	vup_checker_free(s->checker);
	s->checker = NULL;
}

static void record(struct vup_session *s, const struct vup_check_finding *f,
                   uint32_t request, uint8_t flags, uint64_t about,
                   const char *rule)
{
	struct vup_trace *t = s->proxy->cfg.trace;
	if (!t)
		return;
	/* The snapshot a finding may take holds the finding. */
	struct vup_finding_rec r = {
	        .severity = vup_check_severity_byte(f->row->severity),
	        .flags = flags,
	        .session = s->id,
	        .request = request,
	        .id = f->row->code,
	        .id_len = strlen(f->row->code),
	        .rule = rule,
	        .rule_len = rule ? strlen(rule) : 0,
	        .message = f->message,
	        .message_len = strlen(f->message),
	};
	vup_trace_finding(t, vup__wall_ns(), &r, about);
	/* After the finding: the snapshot it takes holds it. */
	char detail[300];
	snprintf(detail, sizeof(detail), "s%u %s %s", s->id, f->row->code,
	         f->request ? f->request : "");
	if (f->row->id == VUP_CHECK_NACK)
		vup__snapshot_trigger(s->proxy, VUP_SNAP_NACK, detail);
	else if (f->row->id == VUP_CHECK_REPLY_LATE)
		vup__snapshot_trigger(s->proxy, VUP_SNAP_TIMEOUT, detail);
	else if (f->row->severity == VUP_SEV_ERROR)
		vup__snapshot_trigger(s->proxy, VUP_SNAP_ERROR, detail);
}

static uint8_t trace_flags(enum vup_chan chan, enum vup_side from)
{
	return (uint8_t)((chan == VUP_CHAN_BACKEND ? VUP_TRACE_F_BACKEND_CHAN
	                                           : 0) |
	                 (from == VUP_BACKEND ? VUP_TRACE_F_FROM_BACKEND : 0));
}

static void log_finding(struct vup_session *s, const struct vup_link *l,
                        const struct vup_view *v,
                        const struct vup_check_finding *f, uint64_t now)
{
	uint32_t held;
	if (!vup_warn_due(&s->check_warn[f->row->id], now, &held))
		return;
	char more[80] = "";
	if (held)
		snprintf(more, sizeof(more),
		         " (%u more %s since the last such line)", held,
		         f->row->code);
	vup_log(VUP_LOG_INFO, "s%u check %s [%s] %s%s %s (#%u)%s: %s%s", s->id,
	        f->row->code, vup_check_severity_name(f->row->severity),
	        vup__direction(l->side), vup__bch_tag(l), f->request,
	        v->hdr.request, v->reply ? " reply" : "", f->message, more);
}

void vup__check_message(struct vup_session *s, const struct vup_link *l,
                        const struct vup_view *v, const struct vup_step *st,
                        uint64_t about, const char *rule)
{
	if (!s->checker)
		return;
	/* One message at a time per proxy, as the step's buffers. */
	static struct vup_check_findings out;
	/* The receiver's view: a rewrite is judged as sent. */
	vup_check_problems(s->checker, v,
	                   st->verdict.rewritten ? &st->sent_findings
	                                         : &st->findings);
	vup_check_message(s->checker, s->flow.model, v, st->delivered,
	                  &st->events, about, &out);
	if (!out.n)
		return;
	uint64_t now = uv_hrtime();
	for (unsigned i = 0; i < out.n; i++) {
		log_finding(s, l, v, &out.f[i], now);
		vup__event_finding(s, &out.f[i]);
		record(s, &out.f[i], v->hdr.request,
		       trace_flags(v->chan, v->from), about, rule);
	}
}

void vup__check_end(struct vup_session *s)
{
	if (!s->checker)
		return;
	/* The session ends (a peer hung up, or a message was refused):
	 * what it still owes never came.  (vuproxy stopping closes its
	 * sessions without this: it cuts them off, it does not end them.)
	 * Told once each, not rate-limited: there are few. */
	static struct vup_check_findings out;
	vup_check_end(s->checker, s->flow.model, false, &out);
	for (unsigned i = 0; i < out.n; i++) {
		const struct vup_check_finding *f = &out.f[i];
		vup_log(VUP_LOG_INFO, "s%u check %s [%s] %s: %s", s->id,
		        f->row->code, vup_check_severity_name(f->row->severity),
		        f->request, f->message);
		/* About the request: the front-end's on the main channel,
		 * the back-end's on its own. */
		record(s, f, f->code,
		       trace_flags(f->chan, f->chan == VUP_CHAN_MAIN
		                                    ? VUP_FRONTEND
		                                    : VUP_BACKEND),
		       f->frame, NULL);
	}
}

void vup__check_flush(struct vup_session *s, bool all)
{
	uint64_t now = uv_hrtime();
	for (int k = 0; k < VUP_CHECK_COUNT; k++) {
		uint32_t held = vup_warn_take_held(&s->check_warn[k],
		                                   all ? UINT64_MAX : now);
		if (held)
			vup_log(VUP_LOG_INFO,
			        "s%u check %s: %u more since the last such "
			        "line",
			        s->id, vup_check_row(k)->code, held);
	}
}

/* A reply owed past --reply-timeout: told once, with a VU044 finding
 * about the request's record (late, not missing: it may still come). */
static void tell_late(struct vup_session *s, const struct vup_watchdog_late *w,
                      unsigned secs)
{
	/* The main channel's replies are the back-end's to send, the
	 * back-end channel's the front-end's. */
	enum vup_side owes =
	        w->chan == VUP_CHAN_MAIN ? VUP_BACKEND : VUP_FRONTEND;
	const char *name = vup_proto_name(w->chan, w->owed->code);
	uint64_t about =
	        s->checker ? vup_check_owed_frame(s->checker, w->chan, w->owed)
	                   : 0;
	struct vup_trace *t = s->proxy->cfg.trace;
	uint64_t frame = t && about ? vup_trace_frame(t, about) : 0;
	char where[48] = "";
	if (frame)
		snprintf(where, sizeof(where), ", asked in frame %llu",
		         (unsigned long long)frame);
	vup_log(VUP_LOG_WARN,
	        "s%u %s has not answered %s (#%u)%s for %u s%s "
	        "(--reply-timeout); check VU044",
	        s->id, vup_side_name(owes), name, w->owed->code,
	        w->chan == VUP_CHAN_BACKEND ? " [backend-channel]" : "", secs,
	        where);
	if (!s->checker) {
		char detail[160];
		snprintf(detail, sizeof(detail), "s%u %s", s->id, name);
		vup__snapshot_trigger(s->proxy, VUP_SNAP_TIMEOUT, detail);
		return;
	}
	struct vup_check_finding f = {
	        .row = vup_check_row(VUP_CHECK_REPLY_LATE),
	        .session = s->id,
	        .request = name,
	};
	snprintf(f.message, sizeof(f.message),
	         "%s (#%u) on the %s channel not answered for %u s", name,
	         w->owed->code, vup_chan_name(w->chan), secs);
	record(s, &f, w->owed->code,
	       trace_flags(w->chan,
	                   owes == VUP_BACKEND ? VUP_FRONTEND : VUP_BACKEND),
	       about, NULL);
}

void vup__watchdog(struct vup_session *s, uint64_t now_ns)
{
	unsigned secs = s->proxy->cfg.reply_timeout_s;
	if (!secs || s->closing)
		return;
	/* Requests travel from the front-end on the main channel, from
	 * the back-end on the back-end channel. */
	s->watchdog.holding[VUP_CHAN_MAIN] =
	        s->fe && !vup_hold_empty(&s->fe->hold);
	s->watchdog.holding[VUP_CHAN_BACKEND] =
	        s->be_bch && !vup_hold_empty(&s->be_bch->hold);
	struct vup_watchdog_late late[2 * VUP_MODEL_OWED_MAX];
	unsigned n = vup_watchdog_due(&s->watchdog, s->flow.model, now_ns,
	                              (uint64_t)secs * 1000000000ull, late,
	                              sizeof(late) / sizeof(late[0]));
	for (unsigned i = 0; i < n; i++)
		tell_late(s, &late[i], secs);
}
