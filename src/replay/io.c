/* io: what both replay directions share: waiting for messages on the
 * main and back-end channels with a deadline, sending (recorded messages
 * with fresh fds), comparing a received message with the record and
 * printing differences.  A replay drives one connection in order, so a
 * poll(2) loop with explicit deadlines is all the event loop it needs;
 * the deadlines come from the pacing scheduler (pace.c). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "vuproxy/log.h"

volatile sig_atomic_t vup_replay__stop;

uint64_t vup_replay__now(void)
{
	return vup_clock_monotonic(NULL);
}

static int poll_ms(uint64_t deadline)
{
	if (deadline == UINT64_MAX)
		return -1;
	uint64_t now = vup_replay__now();
	if (deadline <= now)
		return 0;
	uint64_t ms = (deadline - now + 999999) / 1000000;
	return ms > 60000 ? 60000 : (int)ms;
}

/* The ppoll(2) timeout until deadline: NULL (none) for UINT64_MAX, zero
 * when it has passed; nanoseconds, so that a --frames-rate sleep is not
 * rounded up to a millisecond. */
static const struct timespec *poll_ts(uint64_t deadline, struct timespec *ts)
{
	if (deadline == UINT64_MAX)
		return NULL;
	uint64_t now = vup_replay__now();
	uint64_t ns = deadline > now ? deadline - now : 0;
	if (ns > UINT64_C(60000000000))
		ns = UINT64_C(60000000000);
	ts->tv_sec = (time_t)(ns / 1000000000u);
	ts->tv_nsec = (long)(ns % 1000000000u);
	return ts;
}

enum rp_event vup_replay__wait(struct vup_replay_run *r, uint64_t deadline,
                               bool want_main, bool want_bch,
                               enum vup_chan *chan)
{
	for (;;) {
		if (vup_replay__stop)
			return RP_SIGNAL;
		struct pollfd p[2];
		struct vup_channel *ch[2];
		nfds_t n = 0;
		if (r->main.fd >= 0) {
			p[n] = (struct pollfd){
			        .fd = r->main.fd,
			        .events = (short)((want_main ? POLLIN : 0) |
			                          (vup_channel_pending(&r->main)
			                                   ? POLLOUT
			                                   : 0))};
			ch[n++] = &r->main;
		}
		if (r->bch.fd >= 0) {
			p[n] = (struct pollfd){
			        .fd = r->bch.fd,
			        .events = (short)((want_bch ? POLLIN : 0) |
			                          (vup_channel_pending(&r->bch)
			                                   ? POLLOUT
			                                   : 0))};
			ch[n++] = &r->bch;
		}
		/* Messages read ahead make no poll event. */
		bool ahead = (want_main && vup_channel_buffered(&r->main)) ||
		             (want_bch && vup_channel_buffered(&r->bch));
		struct timespec ts = {0, 0};
		int rc =
		        ppoll(p, n, ahead ? &ts : poll_ts(deadline, &ts), NULL);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			snprintf(r->main.why, sizeof(r->main.why), "ppoll: %s",
			         strerror(errno));
			return RP_ERROR;
		}
		if (rc == 0 && !ahead && vup_replay__now() >= deadline)
			return RP_TIMEOUT;
		for (nfds_t i = 0; i < n; i++) {
			bool is_main = ch[i] == &r->main;
			if (p[i].revents & POLLOUT) {
				int f = vup_channel_flush(ch[i]);
				if (f < 0 && is_main)
					return RP_ERROR;
			}
			if ((!(p[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
			     !vup_channel_buffered(ch[i])) ||
			    !(is_main ? want_main : want_bch))
				continue;
			int got = vup_channel_read(ch[i]);
			if (got == VUP_CH_MSG) {
				*chan = is_main ? VUP_CHAN_MAIN
				                : VUP_CHAN_BACKEND;
				r->received++;
				return RP_MSG;
			}
			if (got == VUP_CH_AGAIN)
				continue;
			/* A reset is the peer closing with our data
			 * unread: closed all the same. */
			if (is_main)
				return got == VUP_CH_EOF || got == -ECONNRESET
				               ? RP_EOF
				               : RP_ERROR;
			vup_log(VUP_LOG_INFO,
			        "replay: the back-end channel "
			        "closed (%s)",
			        r->bch.why);
			vup_channel_close(&r->bch);
			break; /* the poll set changed */
		}
	}
}

int vup_replay__send(struct vup_replay_run *r, struct vup_channel *ch,
                     const struct vup_hdr *h, const uint8_t *payload, int *fds,
                     unsigned nfds)
{
	int rc = vup_channel_send(ch, h, payload, fds, nfds);
	if (rc < 0)
		return rc;
	uint64_t deadline = vup_replay__now() +
	                    (uint64_t)r->opt->reply_timeout_ms * 1000000u;
	while (vup_channel_pending(ch)) {
		struct pollfd p = {.fd = ch->fd, .events = POLLOUT};
		int prc = poll(&p, 1, poll_ms(deadline));
		if (prc < 0 && errno != EINTR)
			return -errno;
		if (prc == 0) {
			snprintf(ch->why, sizeof(ch->why),
			         "the peer took nothing for %u ms",
			         r->opt->reply_timeout_ms);
			return -ETIMEDOUT;
		}
		rc = vup_channel_flush(ch);
		if (rc < 0)
			return rc;
	}
	r->sent++;
	return 0;
}

int vup_replay__send_recorded(struct vup_replay_run *r, struct vup_channel *ch,
                              const struct vup_replay_msg *m, char *err,
                              size_t errlen)
{
	int fds[VUP_MAX_FDS];
	int keep[VUP_MAX_FDS];
	unsigned n = 0;
	int rc = 0;
	for (; n < m->nfds; n++) {
		fds[n] = vup_replay_make_fd(m, n, &keep[n], err, errlen);
		if (fds[n] < 0) {
			rc = fds[n];
			goto fail;
		}
	}
	if (vup_log_enabled(VUP_LOG_MSG)) {
		char fields[1024], nb[32];
		vup_render_text(fields, sizeof(fields), &m->hdr, m->payload,
		                m->chan, vup_model_neg(r->model));
		vup_log(VUP_LOG_MSG,
		        "replay > #%llu %s%s%s%s %s (%u B, %u fds)",
		        (unsigned long long)m->frame,
		        m->chan == VUP_CHAN_BACKEND ? "backend " : "",
		        vup_replay_msg_name(m, nb, sizeof(nb)),
		        (m->hdr.flags & VUP_FLAG_REPLY) ? " reply" : "",
		        (m->hdr.flags & VUP_FLAG_NEED_REPLY) ? " need_reply"
		                                             : "",
		        fields, m->hdr.size, m->nfds);
	}
	/* The model learns it as sent; the run's hook sees what the model
	 * made of it while the fds are ours (--frames maps the memory and
	 * keeps the kick eventfds). */
	struct vup_view v;
	struct vup_model_events ev;
	vup_view_decode(&v, m->chan, m->from, &m->hdr, m->payload, fds, n,
	                vup_model_neg(r->model), vup_replay__now());
	v.fd_info = m->fds; /* the kinds recorded, made afresh */
	vup_model_feed(r->model, &v, true, &ev);
	rc = r->on_send ? r->on_send(r, &v, &ev, err, errlen) : 0;
	if (rc < 0)
		goto fail;
	rc = vup_replay__send(r, ch, &m->hdr, m->payload, fds, n);
	if (rc < 0) {
		snprintf(err, errlen, "%s", ch->why);
		vup_close_fds(keep, n);
		return rc;
	}
	/* The socket of SET_BACKEND_REQ_FD is the back-end channel; other
	 * kept ends (pipes, other sockets) have no use: close them. */
	for (unsigned i = 0; i < n; i++) {
		if (keep[i] < 0)
			continue;
		if (m->chan == VUP_CHAN_MAIN &&
		    m->hdr.request == VUP_REQ_SET_BACKEND_REQ_FD &&
		    !(m->hdr.flags & VUP_FLAG_REPLY)) {
			if (r->bch.fd >= 0)
				vup_channel_close(&r->bch);
			vup_channel_init(&r->bch, keep[i]);
			keep[i] = -1;
			int fl = fcntl(r->bch.fd, F_GETFL);
			fcntl(r->bch.fd, F_SETFL, fl | O_NONBLOCK);
		} else {
			close(keep[i]);
		}
	}
	return 0;
fail:
	vup_close_fds(fds, n);
	vup_close_fds(keep, n);
	return rc;
}

void vup_replay__diff(struct vup_replay_run *r, const struct vup_replay_msg *m,
                      const char *what, const char *fmt, ...)
{
	char nb[32];
	if (m)
		printf("#%llu %s%s%s: ", (unsigned long long)m->frame,
		       vup_replay_msg_name(m, nb, sizeof(nb)),
		       (m->hdr.flags & VUP_FLAG_REPLY) ? " reply" : "",
		       m->chan == VUP_CHAN_BACKEND ? " (back-end channel)"
		                                   : "");
	else
		printf("%s: ", what);
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	r->diffs++;
}

unsigned vup_replay__check(struct vup_replay_run *r, struct vup_channel *ch,
                           const struct vup_replay_msg *m)
{
	return vup_replay__check_note(r, ch, m, NULL);
}

unsigned vup_replay__check_note(struct vup_replay_run *r,
                                struct vup_channel *ch,
                                const struct vup_replay_msg *m,
                                const char *note)
{
	struct vup_msg *in = &ch->in;
	struct vup_fd_info live_fds[VUP_MAX_FDS];
	for (unsigned i = 0; i < in->nfds; i++)
		vup_fd_describe(in->fds[i], &live_fds[i]);
	struct vup_replay_view rec = {&m->hdr, m->payload, m->fds, m->nfds};
	struct vup_replay_view live = {&in->hdr, in->payload, live_fds,
	                               in->nfds};
	char text[2048];
	unsigned n = vup_replay_compare(&r->opt->ignore, m->chan,
	                                vup_model_neg(r->model), &rec, &live,
	                                text, sizeof(text));
	r->compared++;
	if (n) {
		vup_replay__diff(r, m, NULL, "%s%s%s%s", text, note ? " (" : "",
		                 note ? note : "", note ? ")" : "");
		r->diffs += n - 1; /* one line, n differences */
	}
	return n;
}

bool vup_replay__wants_reply(const struct vup_hdr *h, enum vup_chan chan,
                             const struct vup_negotiated *neg)
{
	return (h->flags & VUP_FLAG_NEED_REPLY) ||
	       vup_proto_reply_expected(h, chan, neg) == VUP_EXPECT_YES;
}

int vup_replay__default_reply(struct vup_replay_run *r, struct vup_channel *ch,
                              const struct vup_hdr *req,
                              const uint8_t *req_payload)
{
	enum vup_chan chan = ch == &r->bch ? VUP_CHAN_BACKEND : VUP_CHAN_MAIN;
	uint8_t payload[VUP_MAX_PAYLOAD];
	struct vup_hdr h;
	if (!vup_reply_build(req, req_payload, chan, vup_model_neg(r->model),
	                     VUP_REPLY_OK, NULL, &h, payload))
		return 0;
	return vup_replay__send(r, ch, &h, payload, NULL, 0);
}

long vup_replay__find(struct vup_replay_run *r, enum vup_replay_as as,
                      enum vup_chan chan, enum vup_side from, bool reply,
                      uint32_t code)
{
	const struct vup_replay_script *s = r->s;
	while (r->first_unused < s->n && r->used[r->first_unused])
		r->first_unused++;
	for (size_t i = r->first_unused; i < s->n; i++) {
		const struct vup_replay_msg *m = &s->m[i];
		if (r->used[i] || !m->in_view[as] || m->chan != chan ||
		    m->from != from || m->hdr.request != code ||
		    !(m->hdr.flags & VUP_FLAG_REPLY) != !reply)
			continue;
		return (long)i;
	}
	return -1;
}

void vup_replay__drop_in(struct vup_replay_run *r, struct vup_channel *ch)
{
	/* The live peer's message is part of the session too. */
	struct vup_view v;
	vup_view_decode(&v, ch == &r->bch ? VUP_CHAN_BACKEND : VUP_CHAN_MAIN,
	                r->opt->as == VUP_AS_FRONTEND ? VUP_BACKEND
	                                              : VUP_FRONTEND,
	                &ch->in.hdr, ch->in.payload, ch->in.fds, ch->in.nfds,
	                vup_model_neg(r->model), vup_replay__now());
	vup_model_feed(r->model, &v, true, NULL);
	vup_close_fds(ch->in.fds, ch->in.nfds);
	vup_channel_consume(ch);
}

/* A non-blocking connect to a unix socket completes at once or fails;
 * EAGAIN (a full backlog) is worth a short wait. */
static int finish_connect(int fd, unsigned timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int rc;
	do {
		rc = poll(&p, 1, (int)timeout_ms);
	} while (rc < 0 && errno == EINTR && !vup_replay__stop);
	if (rc <= 0)
		return rc == 0 ? -ETIMEDOUT : -errno;
	int e = 0;
	socklen_t len = sizeof(e);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		return -errno;
	return -e;
}

int vup_replay__open_peer(struct vup_replay_run *r, char *err, size_t errlen)
{
	const struct vup_endpoint *ep = &r->opt->peer;
	int fd;
	if (ep->role == VUP_ROLE_CONNECT) {
		fd = vup_endpoint_connect(ep);
		if (fd >= 0) {
			int rc = finish_connect(fd, r->opt->reply_timeout_ms);
			if (rc < 0) {
				close(fd);
				fd = rc;
			}
		}
		if (fd < 0) {
			snprintf(err, errlen,
			         "cannot connect to the %s at %s: %s",
			         r->peer_name, ep->path, strerror(-fd));
			return fd;
		}
	} else {
		int lfd = vup_endpoint_listen(ep, 0600, err, errlen);
		if (lfd < 0)
			return lfd;
		vup_log(VUP_LOG_INFO, "replay: waiting for a %s on %s",
		        r->peer_name, ep->path);
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		int rc;
		do {
			rc = poll(&p, 1, -1);
		} while (rc < 0 && errno == EINTR && !vup_replay__stop);
		fd = rc > 0 ? vup_endpoint_accept(lfd) : -EINTR;
		close(lfd);
		unlink(ep->path);
		if (fd < 0) {
			snprintf(err, errlen, "no %s connected to %s: %s",
			         r->peer_name, ep->path, strerror(-fd));
			return fd;
		}
	}
	vup_channel_init(&r->main, fd);
	vup_log(VUP_LOG_MSG, "replay: connected to the %s (%s)", r->peer_name,
	        ep->path);
	return 0;
}

long vup_replay__find_any(struct vup_replay_run *r, enum vup_replay_as as,
                          enum vup_chan chan, enum vup_side from)
{
	const struct vup_replay_script *s = r->s;
	for (size_t i = r->first_unused; i < s->n; i++) {
		const struct vup_replay_msg *m = &s->m[i];
		if (!r->used[i] && m->in_view[as] && m->chan == chan &&
		    m->from == from && !(m->hdr.flags & VUP_FLAG_REPLY))
			return (long)i;
	}
	return -1;
}
