/* proxy: listeners and connectors on both sides, and how they pair into
 * sessions.
 *
 *   front-end  back-end   a session starts when...
 *   listen     connect    a front-end connects; we then connect the back-end
 *                         (for --backend-wait, default one attempt)
 *   listen     listen     a front-end connects; it takes the next back-end
 *                         that connects (or one already waiting) within
 *                         --backend-wait (default 2 s)
 *   connect    listen     a back-end connects; we then connect the front-end
 *   connect    connect    at start, and again after each session ends; the
 *                         back-end is connected first so that the front-end
 *                         never waits on a proxy with nobody behind it
 *
 * A front-end whose back-end does not come within --backend-wait is
 * closed: without vuproxy it would have been refused at once, and QEMU
 * reads its replies with its main loop stopped.  Connecting to a
 * front-end, and to a back-end no front-end waits for, goes on for ever.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "vuproxy/control.h"
#include "vuproxy/log.h"

#define RESTART_DELAY_MS     100
#define VUP_WATCHDOG_TICK_MS 1000

static void start_session_connect_connect(struct vup_proxy *p);

static struct vup_session *add_session(struct vup_proxy *p)
{
	if (p->live >= p->cfg.max_sessions) {
		p->stats.refused++;
		vup_log(VUP_LOG_ERROR,
		        "refusing a new session: %u sessions are live "
		        "(--max-sessions)",
		        p->live);
		return NULL;
	}
	struct vup_session *s = vup_session_new(p);
	if (!s) {
		p->stats.refused++;
		vup_log(VUP_LOG_ERROR, "refusing a new session: out of memory");
		return NULL;
	}
	s->next = p->sessions;
	if (p->sessions)
		p->sessions->prev = s;
	p->sessions = s;
	p->live++;
	p->stats.sessions++;
	return s;
}

/* listen/listen: back-ends wait unwatched until a front-end comes; one
 * that hung up meanwhile must not be paired. */
static bool still_connected(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

static void drop_dead_spares(struct vup_proxy *p)
{
	unsigned kept = 0;
	for (unsigned i = 0; i < p->nspare; i++) {
		if (still_connected(p->spare_be[i]))
			p->spare_be[kept++] = p->spare_be[i];
		else
			close(p->spare_be[i]);
	}
	p->nspare = kept;
}

/* The oldest live session still waiting for a back-end (listen/listen). */
static struct vup_session *waiting_for_backend(struct vup_proxy *p)
{
	struct vup_session *found = NULL;
	for (struct vup_session *s = p->sessions; s; s = s->next)
		if (!vup_session_has(s, VUP_BACKEND) && !s->ending)
			found = s;
	return found;
}

/* Out of fds: accept the connection with the fd kept in reserve for this
 * and close it at once, so that the peer sees a refusal instead of hanging
 * in the backlog (and the listener does not spin). */
static void refuse_without_fds(struct vup_proxy *p, enum vup_side side)
{
	const char *path = side == VUP_FRONTEND ? p->cfg.frontend.path
	                                        : p->cfg.backend.path;
	p->stats.refused++;
	vup_log(VUP_LOG_ERROR,
	        "%s connection on %s refused: out of file descriptors "
	        "(RLIMIT_NOFILE); existing sessions continue",
	        vup_side_name(side), path);
	if (p->reserve_fd >= 0) {
		close(p->reserve_fd);
		int fd = vup_endpoint_accept(p->listen_fd[side]);
		if (fd >= 0)
			close(fd);
		p->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
}

static void on_accept(uv_poll_t *h, int status, int events)
{
	struct vup_proxy *p = h->data;
	enum vup_side side =
	        h == &p->listen_poll[VUP_FRONTEND] ? VUP_FRONTEND : VUP_BACKEND;
	(void)events;
	if (status < 0 || p->stopping)
		return;
	int fd = vup_endpoint_accept(p->listen_fd[side]);
	if (fd == -EMFILE || fd == -ENFILE) {
		refuse_without_fds(p, side);
		return;
	}
	if (fd < 0)
		return; /* EAGAIN, ECONNABORTED: nothing to do */
	const struct vup_endpoint *other =
	        side == VUP_FRONTEND ? &p->cfg.backend : &p->cfg.frontend;
	if (side == VUP_BACKEND && other->role == VUP_ROLE_LISTEN) {
		/* listen/listen: pair with a waiting front-end, or wait. */
		struct vup_session *s = waiting_for_backend(p);
		if (s) {
			vup_session_attach(s, VUP_BACKEND, fd);
			return;
		}
		drop_dead_spares(p);
		if (p->nspare == sizeof(p->spare_be) / sizeof(p->spare_be[0])) {
			vup_log(VUP_LOG_ERROR,
			        "back-end connection refused: %u back-ends "
			        "already wait for a front-end",
			        p->nspare);
			p->stats.refused++;
			close(fd);
			return;
		}
		vup_log(VUP_LOG_INFO,
		        "back-end accepted on %s; waiting for a front-end",
		        p->cfg.backend.path);
		p->spare_be[p->nspare++] = fd;
		return;
	}
	struct vup_session *s = add_session(p);
	if (!s) {
		close(fd);
		return;
	}
	/* Attaching one side connects the other if its role is connect. */
	vup_session_attach(s, side, fd);
	if (!s->closing && other->role == VUP_ROLE_LISTEN)
		drop_dead_spares(p);
	if (!s->closing && other->role == VUP_ROLE_LISTEN && p->nspare) {
		int be = p->spare_be[0];
		memmove(p->spare_be, p->spare_be + 1,
		        --p->nspare * sizeof(p->spare_be[0]));
		vup_session_attach(s, VUP_BACKEND, be);
	}
}

static void start_session_connect_connect(struct vup_proxy *p)
{
	if (p->stopping)
		return;
	struct vup_session *s = add_session(p);
	if (!s)
		return;
	/* Back-end first; attaching it connects the front-end. */
	vup_session_connect(s, VUP_BACKEND);
}

static void on_restart(uv_timer_t *t)
{
	start_session_connect_connect(t->data);
}

void vup_proxy_session_closed(struct vup_proxy *p, struct vup_session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		p->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	p->live--;
	if (s->failed)
		p->stats.sessions_failed++;
	if (p->reserve_fd < 0 && !p->stopping)
		p->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (!p->stopping && p->cfg.frontend.role == VUP_ROLE_CONNECT &&
	    p->cfg.backend.role == VUP_ROLE_CONNECT)
		uv_timer_start(&p->restart, on_restart, RESTART_DELAY_MS, 0);
}

static int open_listener(struct vup_proxy *p, enum vup_side side)
{
	const struct vup_endpoint *ep =
	        side == VUP_FRONTEND ? &p->cfg.frontend : &p->cfg.backend;
	char err[256];
	int fd = vup_endpoint_listen(ep, p->cfg.socket_mode, err, sizeof(err));
	if (fd < 0) {
		vup_log(VUP_LOG_ERROR, "%s listen:%s: %s", vup_side_name(side),
		        ep->path, err);
		return fd;
	}
	p->listen_fd[side] = fd;
	uv_poll_init(p->loop, &p->listen_poll[side], fd);
	p->listen_poll[side].data = p;
	uv_poll_start(&p->listen_poll[side], UV_READABLE, on_accept);
	vup_log(VUP_LOG_INFO, "%s: listening on %s (mode %04o)",
	        vup_side_name(side), ep->path, p->cfg.socket_mode);
	return 0;
}

/* The control socket; only a failure at a path asked for is fatal. */
static int open_control(struct vup_proxy *p)
{
	char err[512];
	const struct vup_proxy_config *cfg = &p->cfg;
	int rc =
	        vup_control_start(p->loop, cfg->control_path, cfg->control_mode,
	                          vup__control_cmds, vup__control_ncmds, p,
	                          &p->ctl, err, sizeof(err));
	if (rc < 0) {
		vup_log(cfg->control_optional ? VUP_LOG_WARN : VUP_LOG_ERROR,
		        "control socket: %s%s", err,
		        cfg->control_optional ? "; running without one" : "");
		return cfg->control_optional ? 0 : rc;
	}
	vup_log(VUP_LOG_INFO, "control: listening on %s (mode %04o)",
	        cfg->control_path, cfg->control_mode);
	return 0;
}

/* Every period: the warnings held back for longer than that are told,
 * so that a burst that stops is counted within 10 s, not at the end of a
 * session that may last for days; and the replies owed past
 * --reply-timeout. */
static void on_warn_tick(uv_timer_t *t)
{
	struct vup_proxy *p = t->data;
	uint64_t now = uv_hrtime();
	for (struct vup_session *s = p->sessions; s; s = s->next) {
		vup__warn_flush(s, false);
		vup__watchdog(s, now);
	}
}

int vup_proxy_start(uv_loop_t *loop, const struct vup_proxy_config *cfg,
                    struct vup_proxy **out)
{
	struct vup_proxy *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->loop = loop;
	p->cfg = *cfg;
	if (cfg->backend_wait_ms < 0)
		p->cfg.backend_wait_ms = cfg->backend.role == VUP_ROLE_LISTEN
		                                 ? VUP_BACKEND_WAIT_LISTEN_MS
		                                 : VUP_BACKEND_WAIT_CONNECT_MS;
	p->listen_fd[0] = p->listen_fd[1] = -1;
	p->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	uv_timer_init(loop, &p->restart);
	p->restart.data = p;
	uv_timer_init(loop, &p->warn_tick);
	p->warn_tick.data = p;
	vup__recorder_init(p);
	/* With the reply watchdog, once a second: a reply owed is told
	 * within --reply-timeout + 1 s. */
	uint64_t tick_ms = cfg->reply_timeout_s
	                           ? VUP_WATCHDOG_TICK_MS
	                           : VUP_FLOW_WARN_PERIOD_NS / 1000000;
	uv_timer_start(&p->warn_tick, on_warn_tick, tick_ms, tick_ms);
	uv_unref((uv_handle_t *)&p->warn_tick); /* keeps no loop alive */
	p->tap_budget.mem_limit = cfg->tap_mem_limit ? cfg->tap_mem_limit
	                                             : VUP_TAP_MEMORY_DEFAULT;
	*out = p;
	if (vup__tap_timer_start(p) < 0) {
		vup_proxy_stop(p);
		return -EINVAL;
	}
	for (int side = 0; side < 2; side++) {
		const struct vup_endpoint *ep =
		        side == VUP_FRONTEND ? &cfg->frontend : &cfg->backend;
		if (ep->role != VUP_ROLE_LISTEN)
			continue;
		int rc = open_listener(p, (enum vup_side)side);
		if (rc < 0) {
			vup_proxy_stop(p);
			return rc;
		}
	}
	if (cfg->control_path && open_control(p) < 0) {
		vup_proxy_stop(p);
		return -EINVAL;
	}
	if (cfg->on_listening && cfg->on_listening(cfg->on_listening_ctx)) {
		vup_proxy_stop(p);
		return -EPERM;
	}
	if (cfg->frontend.role == VUP_ROLE_CONNECT &&
	    cfg->backend.role == VUP_ROLE_CONNECT)
		start_session_connect_connect(p);
	return 0;
}

void vup_proxy_stop(struct vup_proxy *p)
{
	if (p->stopping)
		return;
	p->stopping = true;
	uv_close((uv_handle_t *)&p->restart, NULL);
	uv_close((uv_handle_t *)&p->warn_tick, NULL);
	vup__tap_timer_stop(p);
	for (int side = 0; side < 2; side++) {
		if (p->listen_fd[side] < 0)
			continue;
		uv_close((uv_handle_t *)&p->listen_poll[side], NULL);
		close(p->listen_fd[side]);
		unlink(side == VUP_FRONTEND ? p->cfg.frontend.path
		                            : p->cfg.backend.path);
		p->listen_fd[side] = -1;
	}
	while (p->nspare)
		close(p->spare_be[--p->nspare]);
	if (p->reserve_fd >= 0)
		close(p->reserve_fd);
	p->reserve_fd = -1;
	while (p->sessions)
		vup_session_close(p->sessions, "vuproxy is stopping");
	/* After the sessions: a snapshot being written holds their ends. */
	vup__recorder_close(p);
	/* After the sessions: subscribers are told they went down. */
	vup_control_stop(p->ctl);
	p->ctl = NULL;
}

const struct vup_proxy_stats *vup_proxy_stats(const struct vup_proxy *p)
{
	return &p->stats;
}

struct vup_rules *vup_proxy_set_rules(struct vup_proxy *p,
                                      struct vup_rules *rules)
{
	struct vup_rules *old = p->rules;
	p->rules = rules;
	return old;
}

void vup_proxy_free(struct vup_proxy *p)
{
	free(p);
}
