/* endpoint: unix socket set-up for both roles. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vuproxy/endpoint.h"

int vup_endpoint_parse(const char *spec, struct vup_endpoint *ep, char *err,
                       size_t errlen)
{
	const char *path;
	if (strncmp(spec, "listen:", 7) == 0) {
		ep->role = VUP_ROLE_LISTEN;
		path = spec + 7;
	} else if (strncmp(spec, "connect:", 8) == 0) {
		ep->role = VUP_ROLE_CONNECT;
		path = spec + 8;
	} else {
		snprintf(err, errlen, "'%s': want listen:PATH or connect:PATH",
		         spec);
		return -EINVAL;
	}
	if (!*path) {
		snprintf(err, errlen, "'%s': the socket path is empty", spec);
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(ep->path)) {
		snprintf(err, errlen, "'%s': socket path longer than %zu bytes",
		         spec, sizeof(ep->path) - 1);
		return -EINVAL;
	}
	strcpy(ep->path, path);
	return 0;
}

static void fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", path);
}

static int unix_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

/* A socket file nobody listens on may be replaced; anything else not. */
static int remove_stale(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen,
		         "%s exists and is not a socket; not "
		         "replacing it",
		         path);
		return -EEXIST;
	}
	struct vup_endpoint probe = {.role = VUP_ROLE_CONNECT};
	strcpy(probe.path, path);
	/* Only a refused connection proves nobody listens: a live listener
	 * with a full backlog answers EAGAIN. */
	int fd = vup_endpoint_connect(&probe);
	if (fd >= 0) {
		close(fd);
		snprintf(err, errlen, "%s: another process is listening on it",
		         path);
		return -EADDRINUSE;
	}
	if (fd == -EAGAIN) {
		snprintf(err, errlen,
		         "%s: another process is listening on it (its backlog "
		         "is full)",
		         path);
		return -EADDRINUSE;
	}
	if (fd != -ECONNREFUSED) {
		snprintf(err, errlen,
		         "%s: cannot tell whether another process is listening "
		         "on it (connect: %s); not replacing it",
		         path, strerror(-fd));
		return -EADDRINUSE;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		int e = errno;
		snprintf(err, errlen, "unlink %s: %s", path, strerror(e));
		return -e;
	}
	return 0;
}

int vup_endpoint_listen(const struct vup_endpoint *ep, unsigned mode, char *err,
                        size_t errlen)
{
	int rc = remove_stale(ep->path, err, errlen);
	if (rc) {
		if (rc != -EEXIST && rc != -EADDRINUSE)
			snprintf(err, errlen, "%s: %s", ep->path,
			         strerror(-rc));
		return rc;
	}
	int fd = unix_socket();
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(-fd));
		return fd;
	}
	struct sockaddr_un sa;
	fill_addr(&sa, ep->path);
	/* Never let the socket exist with looser permissions than asked. */
	mode_t old = umask(0777 & ~mode);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	umask(old);
	if (rc < 0) {
		snprintf(err, errlen, "bind %s: %s", ep->path, strerror(e));
		close(fd);
		return -e;
	}
	if (chmod(ep->path, mode) < 0 || listen(fd, 128) < 0) {
		e = errno;
		snprintf(err, errlen, "listen %s: %s", ep->path, strerror(e));
		close(fd);
		unlink(ep->path);
		return -e;
	}
	return fd;
}

int vup_endpoint_connect(const struct vup_endpoint *ep)
{
	int fd = unix_socket();
	if (fd < 0)
		return fd;
	struct sockaddr_un sa;
	fill_addr(&sa, ep->path);
	int rc;
	do {
		rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	} while (rc < 0 && errno == EINTR);
	if (rc < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int vup_endpoint_accept(int listen_fd)
{
	int fd;
	do {
		fd = accept4(listen_fd, NULL, NULL,
		             SOCK_NONBLOCK | SOCK_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}
