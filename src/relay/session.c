/* session: one front-end connection paired with one back-end connection.
 *
 * Every message read from one side is checked (flow), logged, and sent to
 * the other side with its fds, in order.  SET_BACKEND_REQ_FD is interposed:
 * the back-end gets one end of a socketpair of ours, so back-end requests
 * and front-end replies are relayed by this same code.  When either peer
 * closes or errs, the whole session closes so that the peers' reconnect
 * logic runs.  A front-end waits for its back-end at most --backend-wait
 * (then it is closed, as a refused connect would have left it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "vuproxy/log.h"

/* Messages handled per readiness callback before yielding to others;
 * with a trace, one: each message then costs a sync flush to the file,
 * and another session's message must not wait behind a burst of them
 * (tests/hostile/test_compress.c measures it). */
#define READ_BURST        16
#define READ_BURST_TRACED 1
#define BACKOFF_MIN_MS    50
#define BACKOFF_MAX_MS    2000
/* How long a front-end waits for a back-end that is there but busy
 * (connect: EAGAIN, its listen backlog full), even with --backend-wait 0. */
#define BACKEND_BUSY_GRACE_MS 1000
/* How long queued messages may take to reach a peer after the other hung up */
#define DRAIN_TIMEOUT_MS 2000

static void on_poll(uv_poll_t *h, int status, int events);
static void drain_later(struct vup_link *l);

const char *vup__direction(enum vup_side from)
{
	return from == VUP_FRONTEND ? "front-end>back-end"
	                            : "back-end>front-end";
}

static const struct vup_endpoint *endpoint(struct vup_session *s,
                                           enum vup_side side)
{
	return side == VUP_FRONTEND ? &s->proxy->cfg.frontend
	                            : &s->proxy->cfg.backend;
}

struct vup_link *vup__link_new(struct vup_session *s, enum vup_side side,
                               enum vup_chan chan, int fd)
{
	struct vup_link *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	vup_channel_init(&l->ch, fd);
	l->side = side;
	l->chan = chan;
	l->s = s;
	l->poll.data = l;
	s->open_links++;
	return l;
}

static void free_session_if_done(struct vup_session *s)
{
	if (s->closing && s->open_links == 0 && s->open_timers == 0) {
		vup__check_close(s);
		vup_flow_free(&s->flow);
		free(s);
	}
}

void vup__session_handle_closed(struct vup_session *s)
{
	s->open_timers--;
	free_session_if_done(s);
}

static void on_link_closed(uv_handle_t *h)
{
	struct vup_link *l = h->data;
	struct vup_session *s = l->s;
	vup_hold_clear(&l->hold);
	vup_channel_close(&l->ch);
	free(l);
	s->open_links--;
	free_session_if_done(s);
}

void vup__link_close(struct vup_link *l)
{
	if (!l)
		return;
	if (l->polling && !uv_is_closing((uv_handle_t *)&l->poll)) {
		uv_close((uv_handle_t *)&l->poll, on_link_closed);
		return;
	}
	if (!l->polling)
		on_link_closed((uv_handle_t *)&l->poll);
}

/* Poll for what the link needs now: input unless paused, output when
 * something is queued. */
void vup__link_update(struct vup_link *l)
{
	if (!l->polling || l->s->closing)
		return;
	drain_later(l); /* resumed with whole messages read ahead */
	int ev = 0;
	if (!l->paused)
		ev |= UV_READABLE;
	if (vup_channel_pending(&l->ch) && !l->dead)
		ev |= UV_WRITABLE;
	if (ev == l->events)
		return;
	l->events = ev;
	if (ev)
		uv_poll_start(&l->poll, ev, on_poll);
	else
		uv_poll_stop(&l->poll);
}

/* The link owns fd from here on, even when polling it fails. */
int vup__link_attach(struct vup_link *l, int fd)
{
	l->ch.fd = fd;
	int rc = uv_poll_init(l->s->proxy->loop, &l->poll, fd);
	if (rc)
		return rc;
	l->polling = true;
	l->events = 0;
	vup__link_update(l);
	return 0;
}

__attribute__((format(printf, 2, 3))) void
vup__session_fail(struct vup_session *s, const char *fmt, ...)
{
	char reason[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	vup__session_end(s, true, reason);
}

const char *vup__bch_tag(const struct vup_link *l)
{
	return l->chan == VUP_CHAN_BACKEND ? " [backend-channel]" : "";
}

void vup__bch_close(struct vup_session *s)
{
	/* Replies owed on a channel that is gone will never come. */
	vup_flow_forget(&s->flow, VUP_CHAN_BACKEND);
	vup__link_close(s->fe_bch);
	vup__link_close(s->be_bch);
	s->fe_bch = s->be_bch = NULL;
}

/* Messages accepted but not yet written to a peer that can still take
 * them. */
static size_t undelivered(const struct vup_session *s)
{
	const struct vup_link *links[] = {s->fe, s->be, s->fe_bch, s->be_bch};
	size_t n = 0;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		const struct vup_link *l = links[i];
		if (l && l->ch.fd >= 0 && !l->dead)
			n += l->ch.out_msgs;
	}
	return n;
}

static void on_end_timeout(uv_timer_t *t)
{
	struct vup_session *s = t->data;
	char reason[600];
	snprintf(reason, sizeof(reason),
	         "%s; %zu queued messages could not be delivered",
	         s->end_reason, undelivered(s));
	vup_session_close(s, reason);
}

/* The session is over (a peer hung up, or a message was refused).  What
 * was accepted before is still owed to the peers that are there: stop
 * reading, deliver it (for at most DRAIN_TIMEOUT_MS), then close both. */
void vup__session_end(struct vup_session *s, bool failed, const char *reason)
{
	if (s->closing || s->ending)
		return;
	s->ending = true;
	s->failed = failed;
	vup__warn_flush(s, true);
	vup__check_end(s);
	/* Held (delayed) messages were accepted: they go now. */
	vup__flush_held(s);
	snprintf(s->end_reason, sizeof(s->end_reason), "%s", reason);
	if (failed) {
		vup_log(VUP_LOG_ERROR, "s%u %s; closing session", s->id,
		        reason);
		char detail[300];
		snprintf(detail, sizeof(detail), "s%u %.250s", s->id, reason);
		vup__snapshot_trigger(s->proxy, VUP_SNAP_FAILURE, detail);
	}
	struct vup_link *links[] = {s->fe, s->be, s->fe_bch, s->be_bch};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (links[i]) {
			links[i]->paused = true;
			vup__link_update(links[i]);
		}
	}
	if (!undelivered(s)) {
		vup_session_close(s, reason);
		return;
	}
	uv_timer_start(&s->retry, on_end_timeout, DRAIN_TIMEOUT_MS, 0);
}

/* A peer closed or reset its socket: nothing more can be written to it. */
void vup__peer_gone(struct vup_link *l, const char *how)
{
	struct vup_session *s = l->s;
	l->dead = true;
	if (l->chan == VUP_CHAN_BACKEND) {
		/* One side dropped the back-end channel: drop the other end
		 * too, keep the session. */
		vup_log(VUP_LOG_INFO, "s%u %s %s the back-end channel", s->id,
		        vup_side_name(l->side), how);
		vup__bch_close(s);
		return;
	}
	char reason[64];
	snprintf(reason, sizeof(reason), "%s %s", vup_side_name(l->side), how);
	vup__session_end(s, false, reason);
}

/* Sending to a peer failed: a peer that went away hung up; anything else
 * is an error of the session. */
void vup__send_failed(struct vup_link *to, int rc)
{
	if (rc == -EPIPE || rc == -ECONNRESET) {
		vup__peer_gone(to, "hung up");
		return;
	}
	vup__session_fail(to->s, "to %s%s: %s", vup_side_name(to->side),
	                  vup__bch_tag(to), to->ch.why);
}

/* polled: the socket was reported readable (else the channel's
 * read-ahead is drained).  Reads until a short read has emptied the
 * socket, not until EAGAIN: poll reports what comes next. */
static void on_readable(struct vup_link *l, bool polled)
{
	struct vup_session *s = l->s;
	int burst = vup_trace_active(s->proxy->cfg.trace) ? READ_BURST_TRACED
	                                                  : READ_BURST;
	for (int i = 0; i < burst && !s->closing && !l->paused; i++) {
		if ((i || !polled) && !vup_channel_more(&l->ch))
			return;
		int rc = vup_channel_read(&l->ch);
		if (rc == VUP_CH_AGAIN)
			return;
		if (rc == VUP_CH_MSG) {
			l->mid_since =
			        0; /* the next message has its own clock */
			vup__relay(l);
			vup_channel_consume(&l->ch);
			continue;
		}
		if (rc == VUP_CH_EOF && l->ch.in_got == 0) {
			vup__peer_gone(l, l->chan == VUP_CHAN_BACKEND
			                          ? "closed"
			                          : "hung up");
			return;
		}
		char name[48] = "";
		if (l->ch.in_got >= VUP_HDR_SIZE)
			snprintf(name, sizeof(name), " %s",
			         vup_proto_name(l->chan, l->ch.in.hdr.request));
		vup__session_fail(s, "%s%s%s: %s", vup__direction(l->side),
		                  vup__bch_tag(l), name, l->ch.why);
		return;
	}
	drain_later(l); /* the burst ended with messages read ahead */
}

static void on_writable(struct vup_link *l)
{
	struct vup_session *s = l->s;
	int rc = vup_channel_flush(&l->ch);
	if (rc < 0 && s->ending) {
		l->dead = true; /* cannot deliver the rest to this one */
		vup__link_update(l);
	} else if (rc < 0) {
		vup__send_failed(l, rc);
		return;
	}
	if (s->ending) {
		if (!undelivered(s))
			vup_session_close(s, s->end_reason);
		return;
	}
	/* Resume the source once the queue has drained enough. */
	struct vup_link *src = l->peer;
	if (src && src->paused && l->ch.out_msgs <= VUP_QUEUE_LOW_MSGS &&
	    l->ch.out_bytes < VUP_QUEUE_HIGH_BYTES / 2) {
		src->paused = false;
		vup__link_update(src);
	}
	vup__link_update(l);
}

/* libuv reports POLLERR as EBADF; the socket knows the real error.  A
 * reset is a peer going away (often a crash), not a protocol failure. */
static void on_socket_error(struct vup_link *l)
{
	struct vup_session *s = l->s;
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(l->ch.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0 || err == ECONNRESET || err == EPIPE) {
		vup__peer_gone(l, "reset the connection");
		return;
	}
	vup__session_fail(s, "%s%s: socket error: %s", vup_side_name(l->side),
	                  vup__bch_tag(l), strerror(err));
}

/* The link whose message has been incomplete the longest, if any: a
 * link vuproxy does not read (paused, back-pressure) is not stalled by
 * its peer. */
static struct vup_link *oldest_partial(struct vup_session *s)
{
	struct vup_link *links[] = {s->fe, s->be, s->fe_bch, s->be_bch};
	struct vup_link *old = NULL;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		struct vup_link *l = links[i];
		if (l && l->mid_since && !l->paused &&
		    (!old || l->mid_since < old->mid_since))
			old = l;
	}
	return old;
}

static void watch_stall(struct vup_session *s);

static void on_stall(uv_timer_t *t)
{
	struct vup_session *s = t->data;
	struct vup_link *l = oldest_partial(s);
	if (!l || s->closing)
		return;
	uint64_t ms = s->proxy->cfg.stall_timeout_ms;
	if (uv_now(s->proxy->loop) - l->mid_since < ms) {
		watch_stall(s); /* that message completed; a later one runs */
		return;
	}
	char name[48] = "";
	if (l->ch.in_got >= VUP_HDR_SIZE)
		snprintf(name, sizeof(name), " %s",
		         vup_proto_name(l->chan, l->ch.in.hdr.request));
	vup__session_fail(s,
	                  "%s%s%s: stopped mid-message after %zu bytes for "
	                  "%u s (--stall-timeout)",
	                  vup__direction(l->side), vup__bch_tag(l), name,
	                  l->ch.in_got, (unsigned)(ms / 1000));
}

/* QEMU and DPDK send each message with one sendmsg: a peer that stops
 * in the middle of one for --stall-timeout is broken (or hostile, holding
 * a session and its fds).  Each link's clock starts at its message's
 * first byte, so trickling does not restart it; the timer is set for
 * the oldest incomplete message. */
static void watch_stall(struct vup_session *s)
{
	uint64_t ms = s->proxy->cfg.stall_timeout_ms;
	if (!ms)
		return;
	struct vup_link *l = oldest_partial(s);
	if (!l) {
		uv_timer_stop(&s->stall_timer);
		return;
	}
	uint64_t now = uv_now(s->proxy->loop);
	uint64_t due = l->mid_since + ms;
	uv_timer_start(&s->stall_timer, on_stall, due > now ? due - now : 0, 0);
}

/* After reading l: when its current message began, if one is under way. */
static void note_partial(struct vup_link *l)
{
	if (!l->ch.in_got)
		l->mid_since = 0;
	else if (!l->mid_since)
		l->mid_since = uv_now(l->s->proxy->loop) | 1;
}

static struct vup_link *link_at(struct vup_session *s, int i)
{
	return i == 0 ? s->fe : i == 1 ? s->be : i == 2 ? s->fe_bch : s->be_bch;
}

/* Whole messages a channel read ahead make no poll event.  While a link
 * has some, the session's idle handle gives it its turn of each loop
 * iteration (and keeps the loop from blocking in poll); a link served so
 * skips its poll event of the same iteration: one turn per link and
 * iteration, as when the messages waited in the socket. */
static void on_drain(uv_idle_t *h)
{
	struct vup_session *s = h->data;
	bool served = false;
	for (int i = 0; i < 4 && !s->closing; i++) {
		struct vup_link *l = link_at(s, i);
		if (!l)
			continue;
		l->drain_turn = !l->paused && vup_channel_buffered(&l->ch);
		if (!l->drain_turn)
			continue;
		served = true;
		on_readable(l, false);
		if (!s->closing) {
			note_partial(l);
			watch_stall(s);
		}
	}
	if (!served && !s->closing)
		uv_idle_stop(h); /* after a turn that cleared every mark */
}

static void drain_later(struct vup_link *l)
{
	struct vup_session *s = l->s;
	if (!l->paused && !s->closing && vup_channel_buffered(&l->ch))
		uv_idle_start(&s->drain_idle, on_drain);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct vup_link *l = h->data;
	struct vup_session *s = l->s;
	if (s->closing)
		return;
	if (status < 0 && s->ending) {
		l->dead = true;
		l->paused = true;
		vup__link_update(l);
		if (!undelivered(s))
			vup_session_close(s, s->end_reason);
		return;
	}
	if (status < 0) {
		on_socket_error(l);
		return;
	}
	if (events & UV_WRITABLE)
		on_writable(l);
	if (!s->closing && (events & UV_READABLE) && !l->drain_turn) {
		on_readable(l, true);
		if (!s->closing) {
			note_partial(l);
			watch_stall(s);
		}
	}
}

static void trace_session(struct vup_session *s)
{
	const struct vup_endpoint *fe = &s->proxy->cfg.frontend;
	const struct vup_endpoint *be = &s->proxy->cfg.backend;
	const char *fr = fe->role == VUP_ROLE_LISTEN ? "listen" : "connect";
	const char *br = be->role == VUP_ROLE_LISTEN ? "listen" : "connect";
	char name[300], desc[400];
	snprintf(name, sizeof(name), "s%u %s:%s>%s:%s", s->id, fr, fe->path, br,
	         be->path);
	snprintf(desc, sizeof(desc),
	         "vhost-user session %u: front-end %s:%s, back-end %s:%s",
	         s->id, fr, fe->path, br, be->path);
	vup_trace_add_session(s->proxy->cfg.trace, s->id, name, desc);
}

struct vup_session *vup_session_new(struct vup_proxy *p)
{
	struct vup_session *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->proxy = p;
	s->id = ++p->next_id;
	int rc = vup_flow_init(&s->flow);
	s->fe = rc ? NULL : vup__link_new(s, VUP_FRONTEND, VUP_CHAN_MAIN, -1);
	s->be = rc ? NULL : vup__link_new(s, VUP_BACKEND, VUP_CHAN_MAIN, -1);
	if (!s->fe || !s->be) {
		free(s->fe);
		free(s->be);
		vup_flow_free(&s->flow);
		free(s);
		return NULL;
	}
	s->fe->peer = s->be;
	s->be->peer = s->fe;
	vup__check_open(s);
	if (p->cfg.trace)
		trace_session(s);
	vup__tap_session_open(s);
	if (p->cfg.active != VUP_TAP_OFF && vup__active_open(s) < 0)
		vup_log(VUP_LOG_ERROR,
		        "s%u --active: out of memory, the "
		        "session stays in passthrough",
		        s->id);
	uv_timer_init(p->loop, &s->retry);
	s->retry.data = s;
	uv_timer_init(p->loop, &s->hold_timer);
	s->hold_timer.data = s;
	uv_timer_init(p->loop, &s->stall_timer);
	s->stall_timer.data = s;
	uv_idle_init(p->loop, &s->drain_idle);
	s->drain_idle.data = s;
	s->open_timers = 4; /* the timers and drain_idle, until closed */
	return s;
}

bool vup_session_has(const struct vup_session *s, enum vup_side side)
{
	const struct vup_link *l = side == VUP_FRONTEND ? s->fe : s->be;
	return l && l->ch.fd >= 0;
}

/* --backend-wait with --backend listen: no back-end came in time.  The
 * front-end gets the close it would get from an absent back-end. */
static void on_backend_wait_over(uv_timer_t *t)
{
	struct vup_session *s = t->data;
	if (s->closing || s->ending || vup_session_has(s, VUP_BACKEND))
		return;
	vup__session_fail(s,
	                  "no back-end connected on %s within %d ms "
	                  "(--backend-wait)",
	                  s->proxy->cfg.backend.path,
	                  s->proxy->cfg.backend_wait_ms);
}

/* The front-end is there and the back-end is not: the front-end (QEMU
 * waits for its replies with its main loop stopped) waits at most
 * --backend-wait, counted from now.  What it sends meanwhile is queued
 * for the back-end. */
static void await_backend(struct vup_session *s)
{
	s->be_since = uv_now(s->proxy->loop);
	if (endpoint(s, VUP_BACKEND)->role == VUP_ROLE_CONNECT) {
		vup_session_connect(s, VUP_BACKEND);
		return;
	}
	uv_timer_start(&s->retry, on_backend_wait_over,
	               (uint64_t)s->proxy->cfg.backend_wait_ms, 0);
}

void vup_session_attach(struct vup_session *s, enum vup_side side, int fd)
{
	struct vup_link *l = side == VUP_FRONTEND ? s->fe : s->be;
	const struct vup_endpoint *ep = endpoint(s, side);
	if (vup__link_attach(l, fd)) {
		vup__session_fail(s, "%s: cannot poll the socket",
		                  vup_side_name(side));
		return;
	}
	vup_log(VUP_LOG_INFO, "s%u %s %s %s", s->id, vup_side_name(side),
	        ep->role == VUP_ROLE_LISTEN ? "accepted on" : "connected to",
	        ep->path);
	if (side == VUP_BACKEND)
		uv_timer_stop(&s->retry); /* the wait is over */
	enum vup_side other = side == VUP_FRONTEND ? VUP_BACKEND : VUP_FRONTEND;
	if (vup_session_has(s, other)) {
		vup__event_session_up(s);
		return;
	}
	if (other == VUP_BACKEND)
		await_backend(s);
	else if (endpoint(s, other)->role == VUP_ROLE_CONNECT)
		vup_session_connect(s, other); /* no one waits: for ever */
}

static void on_retry(uv_timer_t *t)
{
	struct vup_session *s = t->data;
	if (!s->closing)
		vup_session_connect(s, s->connecting);
}

/* A front-end waits for this back-end connect: ms left of --backend-wait
 * (0: give up now); UINT64_MAX when no front-end waits.  A back-end whose
 * listen backlog is full (busy: connect said EAGAIN, many VMs reconnecting
 * after it restarted) is there, and QEMU's blocking connect would wait for
 * it: the front-end does, BACKEND_BUSY_GRACE_MS at least. */
static uint64_t wait_left(struct vup_session *s, enum vup_side side, bool busy)
{
	if (side != VUP_BACKEND || !vup_session_has(s, VUP_FRONTEND))
		return UINT64_MAX;
	uint64_t waited = uv_now(s->proxy->loop) - s->be_since;
	uint64_t wait = (uint64_t)s->proxy->cfg.backend_wait_ms;
	if (busy && wait < BACKEND_BUSY_GRACE_MS)
		wait = BACKEND_BUSY_GRACE_MS;
	return waited < wait ? wait - waited : 0;
}

void vup_session_connect(struct vup_session *s, enum vup_side side)
{
	const struct vup_endpoint *ep = endpoint(s, side);
	int fd = vup_endpoint_connect(ep);
	if (side == VUP_BACKEND)
		s->be_attempts++;
	if (fd >= 0) {
		s->backoff_ms = 0;
		vup_session_attach(s, side, fd);
		return;
	}
	if (fd == -EMFILE || fd == -ENFILE) {
		vup__session_fail(s, "%s connect:%s: out of file descriptors",
		                  vup_side_name(side), ep->path);
		return;
	}
	uint64_t left = wait_left(s, side, fd == -EAGAIN);
	if (left == 0) {
		vup__session_fail(
		        s,
		        "back-end connect:%s: %s (%u attempt%s in %llu ms, "
		        "--backend-wait %d)",
		        ep->path, strerror(-fd), s->be_attempts,
		        s->be_attempts == 1 ? "" : "s",
		        (unsigned long long)(uv_now(s->proxy->loop) -
		                             s->be_since),
		        s->proxy->cfg.backend_wait_ms);
		return;
	}
	s->connecting = side;
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (s->backoff_ms > BACKOFF_MAX_MS)
		s->backoff_ms = BACKOFF_MAX_MS;
	uint64_t ms = s->backoff_ms < left ? s->backoff_ms : left;
	vup_log(VUP_LOG_INFO, "s%u %s connect:%s: %s; retrying in %llu ms",
	        s->id, vup_side_name(side), ep->path, strerror(-fd),
	        (unsigned long long)ms);
	uv_timer_start(&s->retry, on_retry, ms, 0);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct vup_session *s = h->data;
	s->open_timers--;
	free_session_if_done(s);
}

void vup_session_close(struct vup_session *s, const char *reason)
{
	if (s->closing)
		return;
	s->closing = true;
	vup_log(VUP_LOG_INFO, "s%u closed: %s; %llu messages relayed", s->id,
	        reason, (unsigned long long)s->msgs);
	vup__event_session_down(s, reason);
	uv_close((uv_handle_t *)&s->retry, on_timer_closed);
	uv_close((uv_handle_t *)&s->hold_timer, on_timer_closed);
	uv_close((uv_handle_t *)&s->stall_timer, on_timer_closed);
	uv_close((uv_handle_t *)&s->drain_idle, on_timer_closed);
	vup_rules_session_free(s->rules_state);
	s->rules_state = NULL;
	vup_rules_free(s->own_rules);
	s->own_rules = NULL;
	/* The tap's last records and statistics go before its interfaces
	 * are forgotten. */
	vup__tap_session_close(s);
	vup__active_close(s);
	vup__keep_close(s);
	if (s->proxy->cfg.trace)
		vup_trace_end_session(s->proxy->cfg.trace, s->id);
	vup__bch_close(s);
	struct vup_link *fe = s->fe, *be = s->be;
	s->fe = s->be = NULL;
	vup_proxy_session_closed(s->proxy, s);
	vup__link_close(fe);
	vup__link_close(be);
}
