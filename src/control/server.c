/* control: the server on the loop.  A listening socket of our own polled
 * with uv_poll_t, clients read with recvmsg (their fds stay with the
 * bytes they came with), replies and events written without blocking.
 * Every client is bounded: its line, its fds, its output. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vuproxy/control.h"
#include "vuproxy/endpoint.h"
#include "vuproxy/log.h"

#define READ_CHUNK    65536
#define READS_PER_RUN 16           /* then the loop gets its turn */
#define PENDING_FDS   16           /* fds received, their line not complete */
#define OUT_PAUSE     (256u << 10) /* stop reading requests past this */

struct client {
	struct vup_control *c;
	unsigned id;
	int fd;
	uv_poll_t poll;
	int events;
	char *in;
	size_t in_len;
	uint64_t in_off; /* stream offset of in[0] */
	struct {
		uint64_t off; /* stream offset of the byte they came with */
		int fd;
	} pfd[PENDING_FDS];
	unsigned npfd;
	struct vup_jw out;
	size_t out_done; /* bytes of out already sent */
	bool subscribed;
	bool closing; /* flush what is queued, then close */
	bool gone;
	struct client *prev, *next;
};

struct vup_control {
	uv_loop_t *loop;
	int fd;
	uv_poll_t poll;
	char path[108];
	const struct vup_control_cmd *table;
	size_t n;
	void *ctx;
	struct client *clients;
	unsigned nsubs, next_id, open_handles;
	bool stopping;
};

static void update(struct client *cl);
static void on_client(uv_poll_t *h, int status, int events);

static void maybe_free(struct vup_control *c)
{
	if (c->stopping && !c->open_handles)
		free(c);
}

static void on_client_closed(uv_handle_t *h)
{
	struct client *cl = h->data;
	struct vup_control *c = cl->c;
	vup_jw_free(&cl->out);
	free(cl->in);
	free(cl);
	c->open_handles--;
	maybe_free(c);
}

static void drop(struct client *cl, const char *why)
{
	if (cl->gone)
		return;
	struct vup_control *c = cl->c;
	cl->gone = true;
	if (why)
		vup_log(VUP_LOG_INFO, "control: client %u %s; dropped", cl->id,
		        why);
	if (cl->subscribed)
		c->nsubs--;
	for (unsigned i = 0; i < cl->npfd; i++)
		close(cl->pfd[i].fd);
	cl->npfd = 0;
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		c->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	uv_close((uv_handle_t *)&cl->poll, on_client_closed);
	close(cl->fd);
}

/* Write what is queued; true if the client is still there. */
static bool flush(struct client *cl)
{
	while (cl->out_done < cl->out.len) {
		ssize_t n = send(cl->fd, cl->out.buf + cl->out_done,
		                 cl->out.len - cl->out_done,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			drop(cl, NULL); /* it went away: nothing to tell */
			return false;
		}
		cl->out_done += (size_t)n;
	}
	if (cl->out_done && cl->out_done < cl->out.len &&
	    cl->out_done >= 65536) {
		/* A subscriber a little behind for ever: what was sent
		 * goes, so that the buffer holds only what is owed. */
		memmove(cl->out.buf, cl->out.buf + cl->out_done,
		        cl->out.len - cl->out_done);
		cl->out.len -= cl->out_done;
		cl->out_done = 0;
	}
	if (cl->out_done == cl->out.len) {
		/* A burst's buffer is not kept for the client's life. */
		if (cl->out.cap > (1u << 20)) {
			vup_jw_free(&cl->out);
			vup_jw_init(&cl->out);
		} else {
			vup_jw_reset(&cl->out);
		}
		cl->out_done = 0;
		if (cl->closing) {
			drop(cl, NULL);
			return false;
		}
	}
	update(cl);
	return true;
}

/* Queue one line; a client that lets too much pile up is dropped. */
static bool queue_line(struct client *cl, const char *s, size_t n)
{
	if (cl->out.len - cl->out_done + n + 1 > VUP_CONTROL_OUT_MAX) {
		char why[96];
		snprintf(why, sizeof(why),
		         "does not read what it is sent (%zu bytes queued)",
		         cl->out.len - cl->out_done);
		drop(cl, why);
		return false;
	}
	vup_jw_bytes(&cl->out, s, n);
	vup_jw_bytes(&cl->out, "\n", 1);
	if (cl->out.oom) {
		drop(cl, "cannot be answered (out of memory)");
		return false;
	}
	return true;
}

static void update(struct client *cl)
{
	if (cl->gone)
		return;
	int ev = 0;
	if (!cl->closing && cl->out.len - cl->out_done < OUT_PAUSE)
		ev |= UV_READABLE;
	if (cl->out_done < cl->out.len)
		ev |= UV_WRITABLE;
	if (ev != cl->events) {
		cl->events = ev;
		if (ev)
			uv_poll_start(&cl->poll, ev, on_client);
		else
			uv_poll_stop(&cl->poll);
	}
}

/* Fail the client with one error reply, then close it. */
static void refuse(struct client *cl, const char *error)
{
	struct vup_jw w;
	vup_jw_init(&w);
	vup_jw_obj(&w);
	vup_jw_kbool(&w, "ok", false);
	vup_jw_kstr(&w, "error", error);
	vup_jw_end(&w);
	cl->closing = true;
	if (queue_line(cl, w.buf, w.len))
		flush(cl);
	vup_jw_free(&w);
}

/* The complete line in[at..at+len): run it with the fds of its bytes. */
static bool run_line(struct client *cl, size_t at, size_t len)
{
	int fds[PENDING_FDS];
	unsigned nfds = 0, kept = 0;
	uint64_t end = cl->in_off + at + len + 1;
	for (unsigned i = 0; i < cl->npfd; i++) {
		if (cl->pfd[i].off < end)
			fds[nfds++] = cl->pfd[i].fd;
		else
			cl->pfd[kept++] = cl->pfd[i];
	}
	cl->npfd = kept;
	const char *s = cl->in + at;
	size_t k = len;
	while (k && strchr(" \t\r", s[k - 1]))
		k--;
	if (!k && !nfds)
		return true; /* a blank line: nothing asked */
	struct vup_control *c = cl->c;
	bool sub = vup_control_dispatch(c->table, c->n, c->ctx, s, k, fds, nfds,
	                                &cl->out);
	/* dispatch appended the reply to out: bound it like any line */
	if (cl->out.oom || cl->out.len - cl->out_done > VUP_CONTROL_OUT_MAX) {
		drop(cl, "does not read its replies");
		return false;
	}
	vup_jw_bytes(&cl->out, "\n", 1);
	if (sub && !cl->subscribed) {
		cl->subscribed = true;
		c->nsubs++;
	}
	return true;
}

/* Run every complete line read so far; keep the rest, moved to the
 * front once (a read of 64 KiB of newlines is 64K lines: moving the
 * rest after each was quadratic). */
static bool run_lines(struct client *cl)
{
	size_t start = 0;
	for (;;) {
		char *nl = memchr(cl->in + start, '\n', cl->in_len - start);
		if (!nl)
			break;
		size_t len = (size_t)(nl - (cl->in + start));
		if (!run_line(cl, start, len))
			return false;
		start += len + 1;
		if (cl->closing)
			break;
	}
	memmove(cl->in, cl->in + start, cl->in_len - start);
	cl->in_len -= start;
	cl->in_off += start;
	if (cl->in_len > VUP_CONTROL_LINE_MAX) {
		char e[64];
		snprintf(e, sizeof(e), "request longer than %u bytes",
		         VUP_CONTROL_LINE_MAX);
		refuse(cl, e);
		return false;
	}
	return true;
}

/* The fds of one recvmsg of n bytes, kept with the offset of its last
 * byte. */
static bool take_fds(struct client *cl, struct msghdr *mh, size_t n_read)
{
	size_t last = n_read ? n_read - 1 : 0;
	bool ok = !(mh->msg_flags & MSG_CTRUNC);
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm;
	     cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int),
			       sizeof(fd));
			/* The kernel ends a read after the bytes the fds
			 * came with (it merges earlier sends without fds
			 * into it): they belong to its last byte's line. */
			if (cl->npfd < PENDING_FDS) {
				cl->pfd[cl->npfd].off =
				        cl->in_off + cl->in_len + last;
				cl->pfd[cl->npfd++].fd = fd;
			} else {
				close(fd);
				ok = false;
			}
		}
	}
	return ok;
}

static void on_readable(struct client *cl)
{
	for (int r = 0; r < READS_PER_RUN && !cl->closing &&
	                cl->out.len - cl->out_done < OUT_PAUSE;
	     r++) {
		size_t room = VUP_CONTROL_LINE_MAX + 1 - cl->in_len;
		if (room > READ_CHUNK)
			room = READ_CHUNK;
		char *in = realloc(cl->in, cl->in_len + room);
		if (!in) {
			drop(cl, "cannot be read (out of memory)");
			return;
		}
		cl->in = in;
		union {
			char buf[CMSG_SPACE(PENDING_FDS * sizeof(int))];
			struct cmsghdr align;
		} cbuf;
		struct iovec iov = {cl->in + cl->in_len, room};
		struct msghdr mh = {.msg_iov = &iov,
		                    .msg_iovlen = 1,
		                    .msg_control = cbuf.buf,
		                    .msg_controllen = sizeof(cbuf.buf)};
		ssize_t n =
		        recvmsg(cl->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			/* gone, perhaps mid-request: what it did not finish
			 * is not run */
			cl->closing = true;
			break;
		}
		if (!take_fds(cl, &mh, (size_t)n)) {
			refuse(cl, "too many file descriptors waiting for "
			           "their requests");
			return;
		}
		cl->in_len += (size_t)n;
		if (!run_lines(cl))
			return;
	}
	flush(cl);
}

static void on_client(uv_poll_t *h, int status, int events)
{
	struct client *cl = h->data;
	if (status < 0) {
		drop(cl, NULL);
		return;
	}
	if (events & UV_WRITABLE && !flush(cl))
		return;
	if (events & UV_READABLE && !cl->gone)
		on_readable(cl);
}

static void on_accept(uv_poll_t *h, int status, int events)
{
	struct vup_control *c = h->data;
	(void)events;
	if (status < 0 || c->stopping)
		return;
	int fd = vup_endpoint_accept(c->fd);
	if (fd < 0)
		return;
	struct client *cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(fd);
		return;
	}
	cl->c = c;
	cl->fd = fd;
	cl->id = ++c->next_id;
	vup_jw_init(&cl->out);
	uv_poll_init(c->loop, &cl->poll, fd);
	cl->poll.data = cl;
	c->open_handles++;
	cl->next = c->clients;
	if (c->clients)
		c->clients->prev = cl;
	c->clients = cl;
	cl->events = UV_READABLE;
	uv_poll_start(&cl->poll, UV_READABLE, on_client);
	vup_log(VUP_LOG_DEBUG, "control: client %u connected", cl->id);
}

static void on_listener_closed(uv_handle_t *h)
{
	struct vup_control *c = h->data;
	c->open_handles--;
	maybe_free(c);
}

int vup_control_start(uv_loop_t *loop, const char *path, unsigned mode,
                      const struct vup_control_cmd *table, size_t n, void *ctx,
                      struct vup_control **out, char *err, size_t errlen)
{
	struct vup_endpoint ep = {.role = VUP_ROLE_LISTEN};
	if (strlen(path) >= sizeof(ep.path)) {
		snprintf(err, errlen, "%s: longer than %zu bytes", path,
		         sizeof(ep.path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(ep.path, path);
	struct vup_control *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	int fd = vup_endpoint_listen(&ep, mode, err, errlen);
	if (fd < 0) {
		free(c);
		return fd;
	}
	*c = (struct vup_control){.loop = loop,
	                          .fd = fd,
	                          .table = table,
	                          .n = n,
	                          .ctx = ctx,
	                          .open_handles = 1};
	strcpy(c->path, path);
	uv_poll_init(loop, &c->poll, fd);
	c->poll.data = c;
	uv_poll_start(&c->poll, UV_READABLE, on_accept);
	*out = c;
	return 0;
}

void vup_control_stop(struct vup_control *c)
{
	if (!c || c->stopping)
		return;
	c->stopping = true;
	/* What fits in the sockets now is sent (the last events); nothing
	 * waits for a client that does not read. */
	for (struct client *cl = c->clients, *next; cl; cl = next) {
		next = cl->next;
		flush(cl);
	}
	while (c->clients)
		drop(c->clients, NULL);
	uv_close((uv_handle_t *)&c->poll, on_listener_closed);
	close(c->fd);
	unlink(c->path);
}

bool vup_control_subscribed(const struct vup_control *c)
{
	return c && c->nsubs > 0;
}

void vup_control_publish(struct vup_control *c, const char *line, size_t len)
{
	if (!c)
		return;
	for (struct client *cl = c->clients, *next; cl; cl = next) {
		next = cl->next;
		if (cl->subscribed && !cl->closing && queue_line(cl, line, len))
			flush(cl);
	}
}

const char *vup_control_path(const struct vup_control *c)
{
	return c->path;
}
