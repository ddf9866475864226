/* forward: what happens to one message between the socket it came from
 * and the socket it goes to.
 *
 *   check (flow) -> log (-v) -> rules verdict -> trace -> act
 *
 * The one switch on the rules' verdict is here: pass, drop, delay (the
 * direction's hold queue), rewrite, fail (an error reply from vuproxy),
 * disconnect, log.  Every message is recorded before it goes anywhere; a
 * rewritten one is recorded as received and as sent; a delayed one again
 * when it leaves ("released").  SET_BACKEND_REQ_FD
 * is interposed when it is finally forwarded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "step.h"
#include "vuproxy/log.h"
#include "vuproxy/tracemsg.h"

static void log_message(struct vup_session *s, const struct vup_link *l,
                        const struct vup_hdr *h, const uint8_t *payload,
                        unsigned nfds, const char *note)
{
	char fields[1024];
	const char *name = vup_proto_name(l->chan, h->request);
	char unknown[32] = "";
	if (!vup_proto_lookup(l->chan, h->request))
		snprintf(unknown, sizeof(unknown), "(%u)", h->request);
	vup_render_text(fields, sizeof(fields), h, payload, l->chan,
	                vup_flow_neg(&s->flow));
	vup_log(VUP_LOG_MSG, "s%u %s%s %s%s%s%s%s%s (%u B, %u fds)%s", s->id,
	        vup__direction(l->side), vup__bch_tag(l), name, unknown,
	        (h->flags & VUP_FLAG_REPLY) ? " reply" : "",
	        (h->flags & VUP_FLAG_NEED_REPLY) ? " need_reply" : "",
	        fields[0] ? " " : "", fields, h->size, nfds, note);
}

/* Record a message in the trace before it goes anywhere, so that a crash
 * never loses a message a peer has received.  fdi: its fds' kinds (NULL
 * for a message vuproxy made, nfds 0). */
void vup__record(struct vup_session *s, enum vup_chan chan, enum vup_side from,
                 const struct vup_hdr *hdr, const uint8_t *payload,
                 const struct vup_fd_info *fdi, unsigned nfds,
                 enum vup_trace_action action, const char *rule, bool as_sent,
                 const char *mark)
{
	struct vup_trace *t = s->proxy->cfg.trace;
	if (!t)
		return;
	/* Field by field: zeroing the whole header (4.6 KB, room for 255
	 * fds) was most of a message's cost once the recorder always runs;
	 * the encoder reads the fds below nfds and the strings to their
	 * NUL. */
	struct vup_trace_hdr h;
	h.flags =
	        (uint8_t)((chan == VUP_CHAN_BACKEND ? VUP_TRACE_F_BACKEND_CHAN
	                                            : 0) |
	                  (from == VUP_BACKEND ? VUP_TRACE_F_FROM_BACKEND : 0) |
	                  (as_sent ? VUP_TRACE_F_AS_SENT : 0));
	h.action = (uint8_t)action;
	h.session = s->id;
	h.nfds = (uint8_t)nfds;
	h.rule[0] = h.mark[0] = '\0';
	h.declared = false;
	h.declared_ns = 0;
	if (rule && rule[0])
		snprintf(h.rule, sizeof(h.rule), "%s", rule);
	if (mark && mark[0]) /* most messages have none: no printf */
		snprintf(h.mark, sizeof(h.mark), "%s", mark);
	if (nfds)
		memcpy(h.fds, fdi, nfds * sizeof(*fdi));
	vup_trace_message(t, vup__wall_ns(), &h, hdr, payload);
}

/* SET_BACKEND_REQ_FD: keep the front-end's socket, give the back-end one
 * end of our own socketpair instead.  *fd is replaced. */
static int interpose_backend_channel(struct vup_session *s, int *fd)
{
	int sv[2];
	/* The back-end's end stays blocking, as a front-end would give it. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		int e = errno;
		vup__session_fail(s, "SET_BACKEND_REQ_FD: socketpair: %s",
		                  strerror(e));
		return -e;
	}
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK) < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		vup__session_fail(s, "SET_BACKEND_REQ_FD: fcntl: %s",
		                  strerror(e));
		return -e;
	}
	if (s->fe_bch)
		vup_log(VUP_LOG_INFO,
		        "s%u back-end channel replaced by a new "
		        "SET_BACKEND_REQ_FD",
		        s->id);
	vup__bch_close(s);
	struct vup_link *fe =
	        vup__link_new(s, VUP_FRONTEND, VUP_CHAN_BACKEND, -1);
	struct vup_link *be =
	        vup__link_new(s, VUP_BACKEND, VUP_CHAN_BACKEND, -1);
	if (!fe || !be) {
		vup__link_close(fe);
		vup__link_close(be);
		close(sv[0]);
		close(sv[1]);
		vup__session_fail(s, "SET_BACKEND_REQ_FD: out of memory");
		return -ENOMEM;
	}
	fe->peer = be;
	be->peer = fe;
	s->fe_bch = fe;
	s->be_bch = be;
	/* From here the links own the front-end's socket and our end. */
	int fe_fd = *fd;
	*fd = sv[1];
	int rc_fe = vup__link_attach(fe, fe_fd);
	int rc_be = vup__link_attach(be, sv[0]);
	if (rc_fe || rc_be) {
		vup__session_fail(
		        s, "SET_BACKEND_REQ_FD: cannot poll the sockets");
		return -EIO;
	}
	return 0;
}

/* Send a message that came from link `from` to its peer now.  Takes the
 * fds. */
static void send_now(struct vup_link *from, const struct vup_hdr *hdr,
                     const uint8_t *payload, int *fds, unsigned nfds,
                     bool interpose)
{
	struct vup_session *s = from->s;
	/* A channel that is no socket is the back-end's to refuse: it goes
	 * through as it is (the step reported it). */
	if (interpose && interpose_backend_channel(s, &fds[0]) < 0) {
		vup_close_fds(fds, nfds);
		return;
	}
	struct vup_link *to = from->peer;
	if (!to || to->dead) {
		vup_close_fds(fds, nfds);
		return;
	}
	int rc = vup_channel_send(&to->ch, hdr, payload, fds, nfds);
	if (rc < 0) {
		vup__send_failed(to, rc);
		return;
	}
	s->msgs++;
	s->proxy->stats.messages++;
	if (to->ch.out_msgs >= VUP_QUEUE_HIGH_MSGS ||
	    to->ch.out_bytes >= VUP_QUEUE_HIGH_BYTES)
		from->paused = true;
	vup__link_update(to);
	vup__link_update(from);
}

/* A message a rule delayed leaves: recorded again, as sent, with the
 * action "released", so that the trace shows when the receiver got it
 * (a timing note: its arrival record stays the message of record). */
static void record_release(struct vup_link *l, const struct vup_hdr *hdr,
                           const uint8_t *payload, const int *fds,
                           unsigned nfds, const char *rule)
{
	struct vup_fd_info fdi[VUP_MAX_FDS];
	if (!l->s->proxy->cfg.trace)
		return;
	for (unsigned i = 0; i < nfds; i++)
		vup_fd_describe(fds[i], &fdi[i]);
	vup__record(l->s, l->chan, l->side, hdr, payload, fdi, nfds,
	            VUP_TRACE_ACT_RELEASED, rule, true, NULL);
}

/* A held message leaves.  Frees m. */
static void send_held(struct vup_link *l, struct vup_held *m)
{
	if (m->rule)
		record_release(l, &m->hdr, m->payload, m->fds, m->nfds,
		               m->rule);
	send_now(l, &m->hdr, m->payload, m->fds, m->nfds, m->interpose);
	free(m);
}

static void arm_hold_timer(struct vup_session *s)
{
	struct vup_link *links[] = {s->fe, s->be, s->fe_bch, s->be_bch};
	uint64_t next = UINT64_MAX;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (links[i] && vup_hold_next_ns(&links[i]->hold) < next)
			next = vup_hold_next_ns(&links[i]->hold);
	if (next == UINT64_MAX || s->closing) {
		uv_timer_stop(&s->hold_timer);
		return;
	}
	uint64_t now = uv_hrtime();
	uint64_t ms = next > now ? (next - now + 999999) / 1000000 : 0;
	uv_timer_start(&s->hold_timer, vup__release_held, ms, 0);
}

/* Send what the hold queues may release now, in order. */
void vup__release_held(uv_timer_t *t)
{
	struct vup_session *s = t->data;
	uint64_t now = uv_hrtime();
	struct vup_link *links[] = {s->fe, s->be, s->fe_bch, s->be_bch};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		struct vup_link *l = links[i];
		struct vup_held *m;
		while (l && !s->closing &&
		       (m = vup_hold_pop_ready(&l->hold, now))) {
			send_held(l, m);
			/* A request left: its wait starts now (the
			 * links requests come from, watchdog.h). */
			if (l == s->fe || l == s->be_bch)
				s->watchdog.released_ns[l->chan] = now;
		}
		if (l && !s->closing && l->paused && !s->ending &&
		    l->hold.count <= VUP_QUEUE_LOW_MSGS &&
		    l->peer->ch.out_msgs <= VUP_QUEUE_LOW_MSGS) {
			l->paused = false;
			vup__link_update(l);
		}
	}
	if (!s->closing)
		arm_hold_timer(s);
}

void vup__flush_held(struct vup_session *s)
{
	struct vup_link *links[] = {s->fe, s->be, s->fe_bch, s->be_bch};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		struct vup_held *m;
		while (links[i] && !s->closing &&
		       (m = vup_hold_pop_ready(&links[i]->hold, UINT64_MAX)))
			send_held(links[i], m);
	}
}

/* Hold a message of this direction until release_ns (never before what
 * is held ahead of it).  Takes the fds. */
static void hold(struct vup_link *from, const struct vup_hdr *hdr,
                 const uint8_t *payload, int *fds, unsigned nfds, uint64_t now,
                 uint64_t release_ns, const char *rule, bool interpose)
{
	uint64_t delay = release_ns > now ? release_ns - now : 0;
	if (vup_hold_push(&from->hold, now, delay, rule, hdr, payload, fds,
	                  nfds) < 0) {
		vup__session_fail(from->s, "out of memory holding a message");
		return;
	}
	from->hold.tail->interpose = interpose;
	if (from->hold.count >= VUP_QUEUE_HIGH_MSGS) {
		from->paused = true;
		vup__link_update(from);
	}
	arm_hold_timer(from->s);
}

static void apply_disconnect(struct vup_session *s, const struct vup_verdict *v)
{
	static const char *const what[] = {"", "the front-end", "the back-end",
	                                   "both peers"};
	char reason[320];
	snprintf(reason, sizeof(reason), "rule %s disconnected %s", v->rule,
	         what[v->disconnect & 3]);
	vup_log(VUP_LOG_INFO, "s%u %s", s->id, reason);
	struct vup_link *cut[] = {(v->disconnect & 1) ? s->fe : NULL,
	                          (v->disconnect & 2) ? s->be : NULL};
	for (int i = 0; i < 2; i++) {
		if (!cut[i] || cut[i]->ch.fd < 0)
			continue;
		/* The peer sees its connection end now, as after a crash;
		 * what was queued for it is lost, as it would be. */
		shutdown(cut[i]->ch.fd, SHUT_RDWR);
		cut[i]->dead = true;
	}
	vup__session_end(s, false, reason);
}

static const char *rule_note(const struct vup_verdict *v, char *buf, size_t len)
{
	if (v->action == VUP_RULE_ACT_PASS && !v->nlogged)
		return "";
	if (v->action == VUP_RULE_ACT_PASS && v->rule) {
		snprintf(buf, len, " [pass: rule %s]", v->rule);
		return buf;
	}
	if (v->action == VUP_RULE_ACT_PASS)
		snprintf(buf, len, " [log: rule %s]", v->logged[0]);
	else if (v->action == VUP_RULE_ACT_DELAY)
		snprintf(buf, len, " [delay %llu ms: rule %s]",
		         (unsigned long long)(v->delay_ns / 1000000), v->rule);
	else
		snprintf(buf, len, " [%s: rule %s]",
		         vup_rules_action_name(v->action), v->rule);
	return buf;
}

/* The bytes an action is about. */
struct bytes {
	const struct vup_hdr *hdr;
	const uint8_t *payload;
	const struct vup_fd_info *fdi; /* the fds' kinds */
	unsigned nfds;
};

static struct bytes bytes_of(const struct vup_msg *m, const struct vup_view *v,
                             const struct vup_step *st, enum vup_step_msg which)
{
	switch (which) {
	case VUP_STEP_MSG_ORIG:
		return (struct bytes){&st->orig_hdr, st->orig,
		                      st->orig_nfds ? st->orig_fdi : NULL,
		                      st->orig_nfds};
	case VUP_STEP_MSG_ANSWER:
		return (struct bytes){&st->answer_hdr, st->answer, NULL, 0};
	default:
		return (struct bytes){&m->hdr, m->payload, v->fd_info, m->nfds};
	}
}

/* Carry out one action of the step on the loop. */
static void act(struct vup_link *l, struct vup_msg *m, const struct vup_view *v,
                const struct vup_step *st, const struct vup_step_action *a,
                uint64_t now)
{
	struct vup_session *s = l->s;
	struct bytes b = bytes_of(m, v, st, a->msg);
	int fds[VUP_MAX_FDS];
	unsigned nfds = a->msg == VUP_STEP_MSG_ANSWER ? 0 : m->nfds;
	switch (a->kind) {
	case VUP_STEP_RECORD:
		vup__record(s, l->chan, a->from, b.hdr, b.payload, b.fdi,
		            b.nfds, a->action, a->rule, a->as_sent,
		            a->marked ? st->mark : NULL);
		return;
	case VUP_STEP_SEND:
	case VUP_STEP_HOLD: {
		struct vup_link *from = a->back ? l->peer : l;
		if (a->msg != VUP_STEP_MSG_ANSWER) {
			/* The fds are the receiver's, or the hold's, now. */
			if (nfds)
				memcpy(fds, m->fds, sizeof(int) * nfds);
			m->nfds = 0;
		}
		if (a->back && vup_log_enabled(VUP_LOG_MSG))
			log_message(s, from, b.hdr, b.payload, 0,
			            " [made by vuproxy]");
		if (a->kind == VUP_STEP_SEND)
			send_now(from, b.hdr, b.payload, fds, nfds,
			         a->interpose);
		else
			hold(from, b.hdr, b.payload, fds, nfds, now,
			     a->release_ns, a->rule, a->interpose);
		return;
	}
	case VUP_STEP_DISCARD:
		vup_close_fds(m->fds, m->nfds);
		m->nfds = 0;
		return;
	case VUP_STEP_CLOSE: apply_disconnect(s, &st->verdict); return;
	case VUP_STEP_REFUSE: {
		const struct vup_finding *no = st->refusal;
		/* Ours, and going nowhere: consuming the message would
		 * forget them open. */
		vup_close_fds(m->fds, m->nfds);
		m->nfds = 0;
		if (!no) { /* --active cannot shadow it */
			vup__session_fail(
			        s, "%s %s: --active: %s",
			        vup__direction(l->side),
			        vup_proto_name(l->chan, m->hdr.request),
			        st->active.why);
			return;
		}
		vup__session_fail(s, "%s%s %s%s: %s", vup__direction(l->side),
		                  vup__bch_tag(l),
		                  vup_proto_name(l->chan, m->hdr.request),
		                  vup_problem_class(no->kind) == VUP_PC_STRICT
		                          ? " (--strict)"
		                          : "",
		                  no->why);
		return;
	}
	}
}

/* The kept region fds and the tap follow what the model made of a
 * message that reaches its receiver, or of a reply whatever becomes of
 * it (the device did what it says: a ring answered for is stopped),
 * while the fds are open. */
static void tap_follow(struct vup_session *s, const struct vup_view *v,
                       const struct vup_step *st)
{
	if (!(st->delivered || v->reply) || !st->events.n)
		return;
	vup__keep_follow(s, v, &st->events);
	if (!s->tap)
		return;
	vup_tap_message(s->tap, s->flow.model, v, &st->events, vup__wall_ns());
	if (vup_tap_running(s->tap))
		vup__tap_timer_arm(s->proxy);
}

void vup__relay(struct vup_link *l)
{
	struct vup_session *s = l->s;
	struct vup_msg *m = &l->ch.in;
	uint64_t now = uv_hrtime();
	struct vup_view view;
	/* Monotonic: the model's ages (replies owed since) and the holds;
	 * the tap and the trace stamp their records with the wall clock. */
	vup_view_decode(&view, l->chan, l->side, &m->hdr, m->payload, m->fds,
	                m->nfds, vup_flow_neg(&s->flow), now);
	/* The fds' kinds, asked once: the step and the trace read them. */
	struct vup_fd_info fdi[VUP_MAX_FDS];
	for (unsigned i = 0; i < m->nfds; i++)
		vup_fd_describe(m->fds[i], &fdi[i]);
	view.fd_info = m->nfds ? fdi : NULL;
	struct vup_step_ctx c = {
	        .flow = &s->flow,
	        .rules = s->own_rules ? s->own_rules : s->proxy->rules,
	        .rules_state = &s->rules_state,
	        .session = s->id,
	        .frontend_path = s->proxy->cfg.frontend.path,
	        .backend_path = s->proxy->cfg.backend.path,
	        .strict = s->proxy->cfg.strict,
	        .now_ns = now,
	};
	c.held[l->side] = !vup_hold_empty(&l->hold);
	c.held[!l->side] = l->peer && !vup_hold_empty(&l->peer->hold);
	/* One message at a time per proxy: the step's buffers are kept. */
	static struct vup_step st;
	struct vup_active_io aio;
	if (s->active && vup__active_prepare(s, &view, &aio)) {
		c.active = vup__active_state(s);
		c.active_io = &aio;
	}
	vup_step(&c, m, &view, &st);
	const struct vup_verdict *v = &st.verdict;
	vup__event_rule(s, &view, v);
	if (!st.refusal && vup_log_enabled(VUP_LOG_MSG)) {
		char note_buf[320];
		const char *note = rule_note(v, note_buf, sizeof(note_buf));
		log_message(s, l, st.rewritten ? &st.orig_hdr : &m->hdr,
		            st.rewritten ? st.orig : m->payload, st.orig_nfds,
		            st.rewritten ? "" : note);
		if (st.rewritten)
			log_message(s, l, &m->hdr, m->payload, m->nfds, note);
	}
	if (!st.refusal && st.findings.n)
		vup__warn_findings(l, st.rewritten ? &st.orig_hdr : &m->hdr,
		                   &st.findings, v);
	/* The tap's records follow the message's own (its records come
	 * first in the actions). */
	bool tapped = false;
	/* The record the checker's findings name: the last of the message
	 * itself (as sent, when rewritten), not vuproxy's answer. */
	uint64_t about = 0;
	const char *rule = NULL;
	struct vup_trace *trace = s->proxy->cfg.trace;
	for (unsigned i = 0; i < st.n && !s->closing; i++) {
		const struct vup_step_action *a = &st.a[i];
		if (!tapped && a->kind != VUP_STEP_RECORD) {
			tap_follow(s, &view, &st);
			tapped = true;
		}
		uint64_t seq = trace ? vup_trace_seq(trace) : 0;
		act(l, m, &view, &st, a, now);
		/* Only a record that was written can be named. */
		if (a->kind == VUP_STEP_RECORD &&
		    a->msg != VUP_STEP_MSG_ANSWER &&
		    a->action != VUP_TRACE_ACT_RELEASED && trace &&
		    vup_trace_seq(trace) != seq) {
			about = vup_trace_seq(trace);
			rule = vup_trace_action_faults(a->action) ? a->rule
			                                          : NULL;
		}
	}
	if (c.active) /* after the sends: its fds are the receiver's */
		vup__active_after(s, &view, &st, &aio);
	/* After the records: a finding names a frame already written. */
	vup__check_message(s, l, &view, &st, about, rule);
	/* A rule's `snapshot`: after the records, so that it holds them. */
	if (st.verdict.snapshot && !s->closing) {
		char detail[300];
		snprintf(detail, sizeof(detail), "s%u rule %s on %s", s->id,
		         st.verdict.snapshot,
		         vup_proto_name(view.chan, view.hdr.request));
		vup__snapshot_trigger(s->proxy, VUP_SNAP_RULE, detail);
	}
	/* The session failed midway: what was not passed on is closed. */
	vup_close_fds(m->fds, m->nfds);
	m->nfds = 0;
}
