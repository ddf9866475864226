/* session: one front-end connection paired with one back-end connection.
 *
 * Every message read from one side is checked (flow), logged, and sent to
 * the other side with its fds, in order.  SET_BACKEND_REQ_FD is interposed:
 * the back-end gets one end of a socketpair of ours, so back-end requests
 * and front-end replies are relayed by this same code.  When either peer
 * closes or errs, the whole session closes so that the peers' reconnect
 * logic runs.
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

#include "relay.h"
#include "vuproxy/log.h"

/* Stop reading a peer when the other side has this much queued. */
#define QUEUE_HIGH_MSGS  256
#define QUEUE_HIGH_BYTES (1u << 20)
#define QUEUE_LOW_MSGS   64
/* Messages handled per readiness callback before yielding to others. */
#define READ_BURST     16
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
/* How long queued messages may take to reach a peer after the other hung up */
#define DRAIN_TIMEOUT_MS 2000

static void on_poll(uv_poll_t *h, int status, int events);

static const char *direction(enum vup_side from)
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

static struct vup_link *link_new(struct vup_session *s, enum vup_side side,
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
	if (s->closing && s->open_links == 0 && !s->retry_active)
		free(s);
}

static void on_link_closed(uv_handle_t *h)
{
	struct vup_link *l = h->data;
	struct vup_session *s = l->s;
	vup_channel_close(&l->ch);
	free(l);
	s->open_links--;
	free_session_if_done(s);
}

static void link_close(struct vup_link *l)
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
static void link_update(struct vup_link *l)
{
	if (!l->polling || l->s->closing)
		return;
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
static int link_attach(struct vup_link *l, int fd)
{
	l->ch.fd = fd;
	int rc = uv_poll_init(l->s->proxy->loop, &l->poll, fd);
	if (rc)
		return rc;
	l->polling = true;
	l->events = 0;
	link_update(l);
	return 0;
}

static void session_end(struct vup_session *s, bool failed, const char *reason);

__attribute__((format(printf, 2, 3))) static void
session_fail(struct vup_session *s, const char *fmt, ...)
{
	char reason[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	session_end(s, true, reason);
}

static const char *bch_tag(const struct vup_link *l)
{
	return l->chan == VUP_CHAN_BACKEND ? " [backend-channel]" : "";
}

static void log_message(struct vup_session *s, const struct vup_link *l,
                        const struct vup_msg *m)
{
	char fields[1024];
	const struct vup_hdr *h = &m->hdr;
	const char *name = vup_proto_name(l->chan, h->request);
	char unknown[32] = "";
	if (!vup_proto_lookup(l->chan, h->request))
		snprintf(unknown, sizeof(unknown), "(%u)", h->request);
	vup_render_text(fields, sizeof(fields), h, m->payload, l->chan,
	                &s->flow.neg);
	vup_log(VUP_LOG_MSG, "s%u %s%s %s%s%s%s%s%s (%u B, %u fds)", s->id,
	        direction(l->side),
	        l->chan == VUP_CHAN_BACKEND ? " [backend-channel]" : "", name,
	        unknown, (h->flags & VUP_FLAG_REPLY) ? " reply" : "",
	        (h->flags & VUP_FLAG_NEED_REPLY) ? " need_reply" : "",
	        fields[0] ? " " : "", fields, h->size, m->nfds);
}

static void bch_close(struct vup_session *s)
{
	/* Replies owed on a channel that is gone will never come. */
	vup_flow_forget(&s->flow, VUP_CHAN_BACKEND);
	link_close(s->fe_bch);
	link_close(s->be_bch);
	s->fe_bch = s->be_bch = NULL;
}

/* SET_BACKEND_REQ_FD: keep the front-end's socket, give the back-end one
 * end of our own socketpair instead.  *fd is replaced. */
static int interpose_backend_channel(struct vup_session *s, int *fd)
{
	struct stat st;
	if (fstat(*fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		session_fail(s,
		             "front-end>back-end SET_BACKEND_REQ_FD: the fd is "
		             "not a socket");
		return -EINVAL;
	}
	int sv[2];
	/* The back-end's end stays blocking, as a front-end would give it. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		session_fail(s, "SET_BACKEND_REQ_FD: socketpair: %s",
		             strerror(errno));
		return -errno;
	}
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK) < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		session_fail(s, "SET_BACKEND_REQ_FD: fcntl: %s", strerror(e));
		return -e;
	}
	if (s->fe_bch)
		vup_log(VUP_LOG_INFO,
		        "s%u back-end channel replaced by a new "
		        "SET_BACKEND_REQ_FD",
		        s->id);
	bch_close(s);
	struct vup_link *fe = link_new(s, VUP_FRONTEND, VUP_CHAN_BACKEND, -1);
	struct vup_link *be = link_new(s, VUP_BACKEND, VUP_CHAN_BACKEND, -1);
	if (!fe || !be) {
		link_close(fe);
		link_close(be);
		close(sv[0]);
		close(sv[1]);
		session_fail(s, "SET_BACKEND_REQ_FD: out of memory");
		return -ENOMEM;
	}
	fe->peer = be;
	be->peer = fe;
	s->fe_bch = fe;
	s->be_bch = be;
	/* From here the links own the front-end's socket and our end. */
	int fe_fd = *fd;
	*fd = sv[1];
	int rc_fe = link_attach(fe, fe_fd);
	int rc_be = link_attach(be, sv[0]);
	if (rc_fe || rc_be) {
		session_fail(s, "SET_BACKEND_REQ_FD: cannot poll the sockets");
		return -EIO;
	}
	return 0;
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
static void session_end(struct vup_session *s, bool failed, const char *reason)
{
	if (s->closing || s->ending)
		return;
	s->ending = true;
	s->failed = failed;
	snprintf(s->end_reason, sizeof(s->end_reason), "%s", reason);
	if (failed)
		vup_log(VUP_LOG_ERROR, "s%u %s; closing session", s->id,
		        reason);
	struct vup_link *links[] = {s->fe, s->be, s->fe_bch, s->be_bch};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (links[i]) {
			links[i]->paused = true;
			link_update(links[i]);
		}
	}
	if (!undelivered(s)) {
		vup_session_close(s, reason);
		return;
	}
	uv_timer_start(&s->retry, on_end_timeout, DRAIN_TIMEOUT_MS, 0);
}

/* A peer closed or reset its socket: nothing more can be written to it. */
static void peer_gone(struct vup_link *l, const char *how)
{
	struct vup_session *s = l->s;
	l->dead = true;
	if (l->chan == VUP_CHAN_BACKEND) {
		/* One side dropped the back-end channel: drop the other end
		 * too, keep the session. */
		vup_log(VUP_LOG_INFO, "s%u %s %s the back-end channel", s->id,
		        vup_side_name(l->side), how);
		bch_close(s);
		return;
	}
	char reason[64];
	snprintf(reason, sizeof(reason), "%s %s", vup_side_name(l->side), how);
	session_end(s, false, reason);
}

/* Sending to a peer failed: a peer that went away hung up; anything else
 * is an error of the session. */
static void send_failed(struct vup_link *to, int rc)
{
	if (rc == -EPIPE || rc == -ECONNRESET) {
		peer_gone(to, "hung up");
		return;
	}
	session_fail(to->s, "to %s%s: %s", vup_side_name(to->side), bch_tag(to),
	             to->ch.why);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Record a message in the trace before it goes anywhere, so that a crash
 * never loses a message a peer has received. */
static void record(struct vup_session *s, const struct vup_link *l,
                   const struct vup_msg *m, enum vup_action action)
{
	struct vup_trace *t = s->proxy->cfg.trace;
	if (!t)
		return;
	struct vup_trace_hdr h = {
	        .flags = (uint8_t)((l->chan == VUP_CHAN_BACKEND
	                                    ? VUP_TRACE_F_BACKEND_CHAN
	                                    : 0) |
	                           (l->side == VUP_BACKEND
	                                    ? VUP_TRACE_F_FROM_BACKEND
	                                    : 0)),
	        .action = (uint8_t)action,
	        .session = s->id,
	        .nfds = (uint8_t)m->nfds,
	};
	for (unsigned i = 0; i < m->nfds; i++)
		vup_fd_describe(m->fds[i], &h.fds[i]);
	vup_trace_message(t, now_ns(), &h, &m->hdr, m->payload);
}

static void relay(struct vup_link *l)
{
	struct vup_session *s = l->s;
	struct vup_msg *m = &l->ch.in;
	char why[384], warn[192];
	const char *name = vup_proto_name(l->chan, m->hdr.request);
	if (vup_flow_inspect(&s->flow, l->chan, l->side, m, why, sizeof(why),
	                     warn, sizeof(warn))) {
		record(s, l, m, VUP_ACT_REFUSED);
		session_fail(s, "%s%s %s: %s", direction(l->side), bch_tag(l),
		             name, why);
		return;
	}
	if (warn[0])
		vup_log(VUP_LOG_WARN, "s%u %s %s: %s", s->id,
		        direction(l->side), name, warn);
	if (vup_log_enabled(VUP_LOG_MSG))
		log_message(s, l, m);
	record(s, l, m, VUP_ACT_PASS);

	int fds[VUP_MAX_FDS];
	unsigned nfds = m->nfds;
	memcpy(fds, m->fds, sizeof(int) * nfds);
	m->nfds = 0; /* ours now; handed to the peer's channel below */
	if (l->chan == VUP_CHAN_MAIN && l->side == VUP_FRONTEND &&
	    m->hdr.request == 21 /* SET_BACKEND_REQ_FD */ && nfds == 1 &&
	    interpose_backend_channel(s, &fds[0]) < 0) {
		vup_close_fds(fds, nfds);
		return;
	}
	struct vup_link *to = l->peer;
	int rc = vup_channel_send(&to->ch, &m->hdr, m->payload, fds, nfds);
	if (rc < 0) {
		send_failed(to, rc);
		return;
	}
	s->msgs++;
	s->proxy->stats.messages++;
	if (to->ch.out_msgs >= QUEUE_HIGH_MSGS ||
	    to->ch.out_bytes >= QUEUE_HIGH_BYTES)
		l->paused = true;
	link_update(to);
	link_update(l);
}

static void on_readable(struct vup_link *l)
{
	struct vup_session *s = l->s;
	for (int i = 0; i < READ_BURST && !s->closing && !l->paused; i++) {
		int rc = vup_channel_read(&l->ch);
		if (rc == VUP_CH_AGAIN)
			return;
		if (rc == VUP_CH_MSG) {
			relay(l);
			vup_channel_consume(&l->ch);
			continue;
		}
		if (rc == VUP_CH_EOF && l->ch.in_got == 0) {
			peer_gone(l, l->chan == VUP_CHAN_BACKEND ? "closed"
			                                         : "hung up");
			return;
		}
		char name[48] = "";
		if (l->ch.in_got >= VUP_HDR_SIZE)
			snprintf(name, sizeof(name), " %s",
			         vup_proto_name(l->chan, l->ch.in.hdr.request));
		session_fail(s, "%s%s%s: %s", direction(l->side), bch_tag(l),
		             name, l->ch.why);
		return;
	}
}

static void on_writable(struct vup_link *l)
{
	struct vup_session *s = l->s;
	int rc = vup_channel_flush(&l->ch);
	if (rc < 0 && s->ending) {
		l->dead = true; /* cannot deliver the rest to this one */
		link_update(l);
	} else if (rc < 0) {
		send_failed(l, rc);
		return;
	}
	if (s->ending) {
		if (!undelivered(s))
			vup_session_close(s, s->end_reason);
		return;
	}
	/* Resume the source once the queue has drained enough. */
	struct vup_link *src = l->peer;
	if (src && src->paused && l->ch.out_msgs <= QUEUE_LOW_MSGS &&
	    l->ch.out_bytes < QUEUE_HIGH_BYTES / 2) {
		src->paused = false;
		link_update(src);
	}
	link_update(l);
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
		peer_gone(l, "reset the connection");
		return;
	}
	session_fail(s, "%s%s: socket error: %s", vup_side_name(l->side),
	             bch_tag(l), strerror(err));
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
		link_update(l);
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
	if (!s->closing && (events & UV_READABLE))
		on_readable(l);
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
	vup_flow_init(&s->flow);
	s->fe = link_new(s, VUP_FRONTEND, VUP_CHAN_MAIN, -1);
	s->be = link_new(s, VUP_BACKEND, VUP_CHAN_MAIN, -1);
	if (!s->fe || !s->be) {
		free(s->fe);
		free(s->be);
		free(s);
		return NULL;
	}
	s->fe->peer = s->be;
	s->be->peer = s->fe;
	if (p->cfg.trace)
		trace_session(s);
	uv_timer_init(p->loop, &s->retry);
	s->retry.data = s;
	s->retry_active = true; /* the timer handle is open until close */
	return s;
}

bool vup_session_has(const struct vup_session *s, enum vup_side side)
{
	const struct vup_link *l = side == VUP_FRONTEND ? s->fe : s->be;
	return l && l->ch.fd >= 0;
}

void vup_session_attach(struct vup_session *s, enum vup_side side, int fd)
{
	struct vup_link *l = side == VUP_FRONTEND ? s->fe : s->be;
	const struct vup_endpoint *ep = endpoint(s, side);
	if (link_attach(l, fd)) {
		session_fail(s, "%s: cannot poll the socket",
		             vup_side_name(side));
		return;
	}
	vup_log(VUP_LOG_INFO, "s%u %s %s %s", s->id, vup_side_name(side),
	        ep->role == VUP_ROLE_LISTEN ? "accepted on" : "connected to",
	        ep->path);
	enum vup_side other = side == VUP_FRONTEND ? VUP_BACKEND : VUP_FRONTEND;
	if (!vup_session_has(s, other) &&
	    endpoint(s, other)->role == VUP_ROLE_CONNECT)
		vup_session_connect(s, other);
}

static void on_retry(uv_timer_t *t)
{
	struct vup_session *s = t->data;
	if (!s->closing)
		vup_session_connect(s, s->connecting);
}

void vup_session_connect(struct vup_session *s, enum vup_side side)
{
	const struct vup_endpoint *ep = endpoint(s, side);
	int fd = vup_endpoint_connect(ep);
	if (fd >= 0) {
		s->backoff_ms = 0;
		vup_session_attach(s, side, fd);
		return;
	}
	if (fd == -EMFILE || fd == -ENFILE) {
		session_fail(s, "%s connect:%s: out of file descriptors",
		             vup_side_name(side), ep->path);
		return;
	}
	s->connecting = side;
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (s->backoff_ms > BACKOFF_MAX_MS)
		s->backoff_ms = BACKOFF_MAX_MS;
	vup_log(VUP_LOG_INFO, "s%u %s connect:%s: %s; retrying in %u ms", s->id,
	        vup_side_name(side), ep->path, strerror(-fd), s->backoff_ms);
	uv_timer_start(&s->retry, on_retry, s->backoff_ms, 0);
}

static void on_retry_closed(uv_handle_t *h)
{
	struct vup_session *s = h->data;
	s->retry_active = false;
	free_session_if_done(s);
}

void vup_session_close(struct vup_session *s, const char *reason)
{
	if (s->closing)
		return;
	s->closing = true;
	vup_log(VUP_LOG_INFO, "s%u closed: %s; %llu messages relayed", s->id,
	        reason, (unsigned long long)s->msgs);
	uv_close((uv_handle_t *)&s->retry, on_retry_closed);
	if (s->proxy->cfg.trace)
		vup_trace_end_session(s->proxy->cfg.trace, s->id);
	bch_close(s);
	struct vup_link *fe = s->fe, *be = s->be;
	s->fe = s->be = NULL;
	vup_proxy_session_closed(s->proxy, s);
	link_close(fe);
	link_close(be);
}
