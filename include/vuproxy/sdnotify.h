/* sdnotify: the parts of systemd's service protocol vuproxy speaks, without
 * libsystemd: readiness and stop notices to $NOTIFY_SOCKET (sd_notify(3)),
 * the watchdog period ($WATCHDOG_USEC), and the listening sockets a socket
 * unit hands over ($LISTEN_PID, $LISTEN_FDS, $LISTEN_FDNAMES;
 * sd_listen_fds(3)).  The parsers are pure; the functions that read the
 * environment say so. */
#ifndef VUPROXY_SDNOTIFY_H
#define VUPROXY_SDNOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Send STATE ("READY=1", "STOPPING=1\nSTATUS=...") as one datagram to
 * $NOTIFY_SOCKET: a path, or an abstract name when it starts with '@'.
 * 0 when the variable is unset (not run by systemd); never blocks.  A
 * failure returns -errno and is logged once, at debug level: the service
 * runs on whatever the manager thinks of it. */
int vup_sd_notify(const char *state);

/* The first inherited descriptor (SD_LISTEN_FDS_START) and how many
 * vuproxy takes: two listeners and a control socket are all it uses. */
#define VUP_SD_LISTEN_FDS_START 3
#define VUP_SD_LISTEN_MAX       16

struct vup_sd_listen {
	unsigned n;
	struct {
		int fd;
		char name[256]; /* from LISTEN_FDNAMES, else "unknown" */
	} fds[VUP_SD_LISTEN_MAX];
};

/* Pure: what the three variables (NULL when unset) hand to process SELF.
 * Returns how many descriptors (0: none, or meant for another process),
 * or -EINVAL/-E2BIG with err quoting the offending value. */
int vup_sd_listen_parse(const char *pid, const char *fds, const char *names,
                        pid_t self, struct vup_sd_listen *out, char *err,
                        size_t errlen);
/* Reads the variables and unsets them, whatever they held (as
 * sd_listen_fds(1) does: vuproxy's children inherit none of them), and
 * makes every descriptor handed over close-on-exec.  Count or -errno
 * with err set (a descriptor that is not open: -EBADF). */
int vup_sd_listen_take(struct vup_sd_listen *out, char *err, size_t errlen);

/* Pure: the watchdog period the manager expects pings within ($WATCHDOG_USEC,
 * for $WATCHDOG_PID when set).  0 with *usec = 0 when there is none or
 * it is meant for another process; -EINVAL on garbage. */
int vup_sd_watchdog_parse(const char *usec_s, const char *pid_s, pid_t self,
                          uint64_t *usec);
/* The same from the environment. */
uint64_t vup_sd_watchdog_usec(void);

#endif
