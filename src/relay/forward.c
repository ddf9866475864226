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

#include "relay.h"
#include "vuproxy/log.h"

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
 * never loses a message a peer has received.  fds may be NULL for a
 * message vuproxy made (nfds 0). */
void vup__record(struct vup_session *s, enum vup_chan chan, enum vup_side from,
                 const struct vup_hdr *hdr, const uint8_t *payload,
                 const int *fds, unsigned nfds, enum vup_action action,
                 const char *rule, bool as_sent, const char *mark)
{
	struct vup_trace *t = s->proxy->cfg.trace;
	if (!t)
		return;
	struct vup_trace_hdr h = {
	        .flags = (uint8_t)((chan == VUP_CHAN_BACKEND
	                                    ? VUP_TRACE_F_BACKEND_CHAN
	                                    : 0) |
	                           (from == VUP_BACKEND
	                                    ? VUP_TRACE_F_FROM_BACKEND
	                                    : 0) |
	                           (as_sent ? VUP_TRACE_F_AS_SENT : 0)),
	        .action = (uint8_t)action,
	        .session = s->id,
	        .nfds = (uint8_t)nfds,
	};
	if (rule)
		snprintf(h.rule, sizeof(h.rule), "%s", rule);
	if (mark)
		snprintf(h.mark, sizeof(h.mark), "%s", mark);
	for (unsigned i = 0; i < nfds; i++)
		vup_fd_describe(fds[i], &h.fds[i]);
	vup_trace_message(t, vup__wall_ns(), &h, hdr, payload);
}

static void record(struct vup_session *s, enum vup_chan chan,
                   enum vup_side from, const struct vup_hdr *hdr,
                   const uint8_t *payload, const int *fds, unsigned nfds,
                   enum vup_action action, const char *rule, bool as_sent)
{
	vup__record(s, chan, from, hdr, payload, fds, nfds, action, rule,
	            as_sent, NULL);
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
                     const uint8_t *payload, int *fds, unsigned nfds)
{
	struct vup_session *s = from->s;
	/* A channel that is no socket is the back-end's to refuse: it goes
	 * through as it is (vup__relay reported it). */
	if (vup__interposes_backend_channel(from, hdr, fds, nfds) &&
	    interpose_backend_channel(s, &fds[0]) < 0) {
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
	record(l->s, l->chan, l->side, hdr, payload, fds, nfds,
	       VUP_ACT_RELEASED, rule, true);
}

/* A held message leaves.  Frees m. */
static void send_held(struct vup_link *l, struct vup_held *m)
{
	if (m->rule)
		record_release(l, &m->hdr, m->payload, m->fds, m->nfds,
		               m->rule);
	send_now(l, &m->hdr, m->payload, m->fds, m->nfds);
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
		       (m = vup_hold_pop_ready(&l->hold, now)))
			send_held(l, m);
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

/* Send, or hold behind what is already held in this direction.  rule:
 * the rule that delays it (delay_ns), else NULL. */
static void forward(struct vup_link *from, const struct vup_hdr *hdr,
                    const uint8_t *payload, int *fds, unsigned nfds,
                    uint64_t delay_ns, const char *rule)
{
	if (!delay_ns && vup_hold_empty(&from->hold)) {
		if (rule) /* a delay of 0 (or jitter below it) */
			record_release(from, hdr, payload, fds, nfds, rule);
		send_now(from, hdr, payload, fds, nfds);
		return;
	}
	if (vup_hold_push(&from->hold, uv_hrtime(), delay_ns, rule, hdr,
	                  payload, fds, nfds) < 0) {
		vup__session_fail(from->s, "out of memory holding a message");
		return;
	}
	if (from->hold.count >= VUP_QUEUE_HIGH_MSGS) {
		from->paused = true;
		vup__link_update(from);
	}
	arm_hold_timer(from->s);
}

/* The error answer vuproxy gives in place of the receiver (vuproxy/proto.h,
 * vup_reply_build); a request that expects no reply is dropped. */
static void apply_fail(struct vup_link *l, const struct vup_hdr *hdr,
                       const uint8_t *req_payload, const struct vup_verdict *v)
{
	struct vup_session *s = l->s;
	struct vup_hdr rep;
	uint8_t payload[VUP_MAX_PAYLOAD];
	const uint64_t *value = v->fail_has_value ? &v->fail_value : NULL;
	if (vup_proto_is_responder(l->chan, l->side)) {
		/* A failed reply: the requester gets the error form instead. */
		struct vup_hdr req = *hdr;
		req.flags = VUP_FLAG_VERSION | VUP_FLAG_NEED_REPLY;
		if (!vup_reply_build(&req, req_payload, l->chan,
		                     vup_flow_neg(&s->flow), VUP_REPLY_FAILED,
		                     value, &rep, payload))
			return;
		record(s, l->chan, l->side, &rep, payload, NULL, 0,
		       VUP_ACT_FAIL, v->rule, true);
		forward(l, &rep, payload, NULL, 0, 0, NULL);
		return;
	}
	if (!vup_reply_build(hdr, req_payload, l->chan, vup_flow_neg(&s->flow),
	                     VUP_REPLY_FAILED, value, &rep, payload))
		return;
	/* The answer travels back like the receiver's replies would, behind
	 * anything the receiver already sent in that direction. */
	struct vup_link *back = l->peer;
	record(s, l->chan, back->side, &rep, payload, NULL, 0, VUP_ACT_FAIL,
	       v->rule, true);
	if (vup_log_enabled(VUP_LOG_MSG))
		log_message(s, back, &rep, payload, 0, " [made by vuproxy]");
	forward(back, &rep, payload, NULL, 0, 0, NULL);
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
	if (v->action == VUP_ACT_PASS && !v->nlogged)
		return "";
	if (v->action == VUP_ACT_PASS && v->rule) {
		snprintf(buf, len, " [pass: rule %s]", v->rule);
		return buf;
	}
	if (v->action == VUP_ACT_PASS)
		snprintf(buf, len, " [log: rule %s]", v->logged[0]);
	else if (v->action == VUP_ACT_DELAY)
		snprintf(buf, len, " [delay %llu ms: rule %s]",
		         (unsigned long long)(v->delay_ns / 1000000), v->rule);
	else
		snprintf(buf, len, " [%s: rule %s]", vup_action_name(v->action),
		         v->rule);
	return buf;
}

/* The model learns what became of a message: delivered (now or after a
 * delay, as it is sent: rewritten or not), or not (dropped, failed,
 * cut).  The tap follows what the model says, while the fds are open. */
static void feed(struct vup_session *s, const struct vup_view *v,
                 bool delivered)
{
	struct vup_model_events ev;
	vup_model_feed(s->flow.model, v, delivered, &ev);
	if (!s->tap || !delivered || !ev.n)
		return;
	vup_tap_message(s->tap, s->flow.model, v, &ev, v->time_ns);
	if (vup_tap_running(s->tap))
		vup__tap_timer_arm(s->proxy);
}

void vup__relay(struct vup_link *l)
{
	struct vup_session *s = l->s;
	struct vup_msg *m = &l->ch.in;
	struct vup_findings fs;
	struct vup_view view;
	if (!vup__inspect(l, &view, &fs))
		return;
	char mark[256];
	vup_findings_text(&fs, mark, sizeof(mark));

	struct vup_verdict v = {.action = VUP_ACT_PASS};
	struct vup_hdr orig_hdr = m->hdr;
	static uint8_t orig[VUP_MAX_PAYLOAD];
	struct vup_rules *rules = s->proxy->rules;
	if (rules) {
		memcpy(orig, m->payload, m->hdr.size);
		struct vup_rules_msg rm = {
		        .session = s->id,
		        .frontend_path = s->proxy->cfg.frontend.path,
		        .backend_path = s->proxy->cfg.backend.path,
		        .chan = l->chan,
		        .from = l->side,
		        .hdr = &m->hdr,
		        .payload = m->payload,
		        .neg = vup_flow_neg(&s->flow),
		};
		vup_rules_decide(rules, &s->rules_state, &rm, &v);
	}
	char note_buf[320];
	const char *note = rule_note(&v, note_buf, sizeof(note_buf));
	if (vup_log_enabled(VUP_LOG_MSG))
		log_message(s, l, &orig_hdr, v.rewritten ? orig : m->payload,
		            m->nfds, v.rewritten ? "" : note);
	enum vup_action act = v.action;
	if (act == VUP_ACT_PASS && v.nlogged)
		act = VUP_ACT_LOG;
	const char *rule = v.rule ? v.rule : v.nlogged ? v.logged[0] : NULL;
	vup__record(s, l->chan, l->side, &orig_hdr,
	            v.rewritten ? orig : m->payload, m->fds, m->nfds,
	            v.rewritten ? VUP_ACT_REWRITE : act, rule, false, mark);
	if (fs.n)
		vup__warn_findings(l, &orig_hdr, &fs, &v);
	if (v.rewritten) {
		record(s, l->chan, l->side, &m->hdr, m->payload, m->fds,
		       m->nfds, act == VUP_ACT_PASS ? VUP_ACT_REWRITE : act,
		       rule, true);
		if (vup_log_enabled(VUP_LOG_MSG))
			log_message(s, l, &m->hdr, m->payload, m->nfds, note);
		/* What the receiver sees is what counts from now on. */
		vup_view_decode(&view, l->chan, l->side, &m->hdr, m->payload,
		                m->fds, m->nfds, vup_flow_neg(&s->flow),
		                view.time_ns);
	}
	/* Whatever is not sent on is not delivered. */
	feed(s, &view,
	     v.action != VUP_ACT_DROP && v.action != VUP_ACT_FAIL &&
	             v.action != VUP_ACT_DISCONNECT);

	int fds[VUP_MAX_FDS];
	unsigned nfds = m->nfds;
	if (nfds)
		memcpy(fds, m->fds, sizeof(int) * nfds);
	m->nfds = 0; /* ours now */
	switch (v.action) {
	case VUP_ACT_DROP:
		/* A dropped request's reply will never come: the model was
		 * not told of it.  Its fds are closed. */
		vup_close_fds(fds, nfds);
		break;
	case VUP_ACT_FAIL:
		vup_close_fds(fds, nfds);
		apply_fail(l, &m->hdr, m->payload, &v);
		break;
	case VUP_ACT_DISCONNECT:
		vup_close_fds(fds, nfds);
		apply_disconnect(s, &v);
		break;
	case VUP_ACT_DELAY:
		forward(l, &m->hdr, m->payload, fds, nfds, v.delay_ns, rule);
		break;
	default: /* PASS, LOG, REWRITE */
		forward(l, &m->hdr, m->payload, fds, nfds, 0, NULL);
		break;
	}
}
