/* sdnotify: systemd's notify and socket-activation protocols, spoken by
 * hand: see include/vuproxy/sdnotify.h.  Formats from sd_notify(3) and
 * sd_listen_fds(3) (systemd 252, src/libsystemd/sd-daemon/sd-daemon.c). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vuproxy/log.h"
#include "vuproxy/sdnotify.h"

int vup_sd_notify(const char *state)
{
	static bool told; /* one debug line for the whole run */
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return 0;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	int rc = 0;
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
		rc = -EAFNOSUPPORT;
		goto out;
	}
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract: no NUL terminator counted */
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	                              len + (path[0] == '/'));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	/* Never waits: a manager that does not read its socket must not
	 * stop the relay. */
	if (sendto(fd, state, strlen(state), MSG_DONTWAIT | MSG_NOSIGNAL,
	           (struct sockaddr *)&sa, salen) < 0)
		rc = -errno;
	close(fd);
out:
	if (rc && !told) {
		told = true;
		vup_log(VUP_LOG_DEBUG, "sd_notify to NOTIFY_SOCKET=%s: %s",
		        path, strerror(-rc));
	}
	return rc;
}

/* A whole decimal number in [min, max], nothing around it. */
static bool parse_num(const char *s, long long min, long long max,
                      long long *out)
{
	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static int parse_names(const char *names, struct vup_sd_listen *out, char *err,
                       size_t errlen)
{
	unsigned i = 0;
	const char *p = names;
	for (;;) {
		size_t len = strcspn(p, ":");
		if (i < out->n) {
			if (len >= sizeof(out->fds[i].name)) {
				snprintf(err, errlen,
				         "LISTEN_FDNAMES: name %u is longer "
				         "than %zu bytes",
				         i + 1, sizeof(out->fds[i].name) - 1);
				return -EINVAL;
			}
			memcpy(out->fds[i].name, p, len);
			out->fds[i].name[len] = '\0';
		}
		i++;
		if (!p[len])
			break;
		p += len + 1;
	}
	if (i != out->n) {
		snprintf(err, errlen,
		         "LISTEN_FDNAMES='%s' names %u sockets, LISTEN_FDS "
		         "says %u",
		         names, i, out->n);
		return -EINVAL;
	}
	return 0;
}

int vup_sd_listen_parse(const char *pid, const char *fds, const char *names,
                        pid_t self, struct vup_sd_listen *out, char *err,
                        size_t errlen)
{
	out->n = 0;
	if (!pid)
		return 0;
	long long v;
	if (!parse_num(pid, 1, INT_MAX, &v)) {
		snprintf(err, errlen, "LISTEN_PID='%s': not a process id", pid);
		return -EINVAL;
	}
	if ((pid_t)v != self) /* inherited from a parent it was meant for */
		return 0;
	if (!fds)
		return 0;
	if (!parse_num(fds, 0, INT_MAX - VUP_SD_LISTEN_FDS_START, &v)) {
		snprintf(err, errlen, "LISTEN_FDS='%s': not a count", fds);
		return -EINVAL;
	}
	if (v > VUP_SD_LISTEN_MAX) {
		snprintf(err, errlen,
		         "LISTEN_FDS=%lld: vuproxy takes at most %d sockets", v,
		         VUP_SD_LISTEN_MAX);
		return -E2BIG;
	}
	out->n = (unsigned)v;
	for (unsigned i = 0; i < out->n; i++) {
		out->fds[i].fd = VUP_SD_LISTEN_FDS_START + (int)i;
		snprintf(out->fds[i].name, sizeof(out->fds[i].name), "unknown");
	}
	/* An empty list names one socket "" (as systemd splits it), which
	 * is what LISTEN_FDS=0 never has: only check a list for n > 0. */
	int rc = names && out->n ? parse_names(names, out, err, errlen) : 0;
	if (rc)
		out->n = 0;
	return rc ? rc : (int)out->n;
}

int vup_sd_listen_take(struct vup_sd_listen *out, char *err, size_t errlen)
{
	int rc = vup_sd_listen_parse(getenv("LISTEN_PID"), getenv("LISTEN_FDS"),
	                             getenv("LISTEN_FDNAMES"), getpid(), out,
	                             err, errlen);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	for (int i = 0; i < rc; i++) {
		int fd = out->fds[i].fd;
		int flags = fcntl(fd, F_GETFD);
		if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
			int e = errno;
			snprintf(err, errlen,
			         "LISTEN_FDS=%d: descriptor %d (%s): %s", rc,
			         fd, out->fds[i].name, strerror(e));
			return -e;
		}
	}
	return rc;
}

int vup_sd_watchdog_parse(const char *usec_s, const char *pid_s, pid_t self,
                          uint64_t *usec)
{
	*usec = 0;
	if (!usec_s)
		return 0;
	long long v;
	if (pid_s) {
		if (!parse_num(pid_s, 1, INT_MAX, &v))
			return -EINVAL;
		if ((pid_t)v != self)
			return 0;
	}
	if (!parse_num(usec_s, 1, LLONG_MAX, &v))
		return -EINVAL;
	*usec = (uint64_t)v;
	return 0;
}

uint64_t vup_sd_watchdog_usec(void)
{
	uint64_t usec;
	const char *s = getenv("WATCHDOG_USEC");
	if (vup_sd_watchdog_parse(s, getenv("WATCHDOG_PID"), getpid(), &usec)) {
		vup_log(VUP_LOG_WARN,
		        "WATCHDOG_USEC='%s': not a period; no "
		        "watchdog pings",
		        s);
		return 0;
	}
	return usec;
}
