/* systemd: what the relay does for a service manager (vuproxy@.service
 * and vuproxy@.socket in dist/systemd): adopt the listening sockets it
 * hands over, ping its watchdog, say when the proxy is ready.  Without
 * systemd (no LISTEN_*, NOTIFY_SOCKET or WATCHDOG_USEC) all of this does
 * nothing. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "vuproxy/log.h"
#include "vuproxy/sdnotify.h"

static void close_all(const struct vup_sd_listen *l, unsigned from)
{
	for (unsigned i = from; i < l->n; i++)
		close(l->fds[i].fd);
}

/* The inherited socket bound where a listen: endpoint asks, if any. */
static int match_side(const struct vup_proxy *p, const char *path)
{
	for (int side = 0; side < 2; side++) {
		const struct vup_endpoint *ep = side == VUP_FRONTEND
		                                        ? &p->cfg.frontend
		                                        : &p->cfg.backend;
		if (ep->role == VUP_ROLE_LISTEN &&
		    vup_endpoint_same_path(ep->path, path))
			return side;
	}
	return -1;
}

int vup__systemd_listeners(struct vup_proxy *p, int fds[2])
{
	struct vup_sd_listen taken;
	const struct vup_sd_listen *l = p->cfg.inherited;
	char err[512], path[sizeof(p->cfg.frontend.path) + 2];
	fds[0] = fds[1] = -1;
	if (!l) {
		int n = vup_sd_listen_take(&taken, err, sizeof(err));
		if (n < 0) {
			vup_log(VUP_LOG_ERROR, "socket activation: %s", err);
			return n;
		}
		l = &taken;
	}
	for (unsigned i = 0; i < l->n; i++) {
		int fd = l->fds[i].fd;
		int rc = vup_endpoint_inherited(fd, path, sizeof(path), err,
		                                sizeof(err));
		if (rc < 0) {
			/* A unit that hands over what vuproxy cannot serve is
			 * a mistake to fix, not to run around. */
			vup_log(VUP_LOG_ERROR,
			        "socket activation: %s (LISTEN_FDNAMES: %s)",
			        err, l->fds[i].name);
			close_all(l, i);
			for (int s = 0; s < 2; s++)
				if (fds[s] >= 0)
					close(fds[s]);
			fds[0] = fds[1] = -1;
			return rc;
		}
		int side = match_side(p, path);
		if (side < 0 || fds[side] >= 0) {
			vup_log(VUP_LOG_WARN,
			        "socket activation: descriptor %d (%s) is "
			        "bound "
			        "to %s, which %s; closing it",
			        fd, l->fds[i].name, *path ? path : "no path",
			        side < 0 ? "no listen: endpoint names"
			                 : "another descriptor already serves");
			close(fd);
			continue;
		}
		fds[side] = fd;
	}
	return 0;
}

static void on_watchdog(uv_timer_t *t)
{
	(void)t;
	vup_sd_notify("WATCHDOG=1");
}

void vup__systemd_watchdog_start(struct vup_proxy *p)
{
	uint64_t usec = vup_sd_watchdog_usec();
	uv_timer_init(p->loop, &p->sd_watchdog);
	p->sd_watchdog.data = p;
	if (!usec)
		return;
	/* Twice per period, as sd_watchdog_enabled(3) advises; a loop
	 * stuck for the whole period is what the manager restarts. */
	uint64_t ms = usec / 2000 ? usec / 2000 : 1;
	uv_timer_start(&p->sd_watchdog, on_watchdog, ms, ms);
	uv_unref((uv_handle_t *)&p->sd_watchdog); /* keeps no loop alive */
	vup_log(VUP_LOG_INFO, "systemd watchdog: a ping every %llu ms",
	        (unsigned long long)ms);
}

/* "front-end listen:PATH (from systemd)" */
static void describe(const struct vup_proxy *p, int side, char *out, size_t cap)
{
	const struct vup_endpoint *ep =
	        side == VUP_FRONTEND ? &p->cfg.frontend : &p->cfg.backend;
	snprintf(out, cap, "%s %s:%s%s", vup_side_name((enum vup_side)side),
	         ep->role == VUP_ROLE_LISTEN ? "listen" : "connect", ep->path,
	         p->listen_inherited[side] ? " (from systemd)" : "");
}

void vup_proxy_notify_ready(struct vup_proxy *p)
{
	char fe[sizeof(p->cfg.frontend.path) + 64];
	char be[sizeof(fe)], msg[4096 + 2 * sizeof(fe) + 64];
	describe(p, VUP_FRONTEND, fe, sizeof(fe));
	describe(p, VUP_BACKEND, be, sizeof(be));
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s, %s%s%s", fe, be,
	         p->ctl ? ", control " : "", p->ctl ? p->cfg.control_path : "");
	vup_sd_notify(msg);
}
