/* endpoint: unix socket set-up for both roles. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
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

int vup_endpoint_check_mode(const char *path, unsigned mode, char *err,
                            size_t errlen)
{
	/* Pin what is at PATH now, without following a link (O_PATH with
	 * O_NOFOLLOW opens a link itself): everything below acts on that
	 * inode, never on the path again. */
	int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "open %s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "stat %s: %s", path, strerror(-rc));
	} else if (S_ISLNK(st.st_mode)) {
		snprintf(err, errlen,
		         "%s was replaced by a symbolic link after bind; not "
		         "following it",
		         path);
		rc = -ELOOP;
	} else if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(err, errlen,
		         "%s was replaced after bind (not a socket of ours); "
		         "not changing its mode",
		         path);
		rc = -EEXIST;
	} else if ((st.st_mode & 07777) != (mode & 07777)) {
		/* Narrower than asked: a default ACL on the directory masks
		 * what bind gives (never widens it: bind applies the umask
		 * to sockets itself).  Set the mode of the pinned inode
		 * through its descriptor's /proc link, which names that
		 * inode, not a path a link could be swapped into (fchmod on
		 * an O_PATH descriptor fails with EBADF). */
		char proc[64];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (chmod(proc, mode & 07777) < 0) {
			rc = -errno;
			snprintf(err, errlen, "chmod %s to %04o: %s", path,
			         mode & 07777, strerror(-rc));
		}
	}
	close(fd);
	return rc;
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
	/* The mode comes from the umask: bind creates the socket file with
	 * 0777 & ~umask, so it never exists with looser permissions than
	 * asked, and no chmod by path follows (as root, in a directory
	 * others may write to, chmod would follow a link swapped in after
	 * bind and change the mode of any file). */
	mode_t old = umask(0777 & ~mode);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	umask(old);
	if (rc < 0) {
		snprintf(err, errlen, "bind %s: %s", ep->path, strerror(e));
		close(fd);
		return -e;
	}
	/* Before anyone can connect: the file must be our socket, with the
	 * mode asked (checked and, under a default ACL, set on the inode). */
	rc = vup_endpoint_check_mode(ep->path, mode, err, errlen);
	if (rc) {
		close(fd);
		/* A file swapped in is not ours to remove. */
		if (rc != -ELOOP && rc != -EEXIST)
			unlink(ep->path);
		return rc;
	}
	if (listen(fd, 128) < 0) {
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

int vup_endpoint_inherited(int fd, char *path, size_t cap, char *err,
                           size_t errlen)
{
	int domain = 0, type = 0, acc = 0;
	socklen_t len = sizeof(int);
	const char *what = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) {
		int e = errno;
		snprintf(err, errlen, "descriptor %d: %s", fd,
		         e == ENOTSOCK ? "not a socket" : strerror(e));
		return -e;
	}
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len);
	if (domain != AF_UNIX)
		what = "not a unix socket (vuproxy takes ListenStream=PATH)";
	else if (type != SOCK_STREAM)
		what = "not a stream socket (vuproxy takes ListenStream=, not "
		       "ListenDatagram= or ListenSequentialPacket=)";
	else if (!acc)
		what = "a unix stream socket that is not listening";
	if (what) {
		snprintf(err, errlen, "descriptor %d: %s", fd, what);
		return -EINVAL;
	}
	struct sockaddr_un sa;
	len = sizeof(sa);
	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		int e = errno;
		snprintf(err, errlen, "descriptor %d: getsockname: %s", fd,
		         strerror(e));
		return -e;
	}
	/* Unnamed or abstract ("@name"): no path any endpoint can name. */
	size_t n = len > offsetof(struct sockaddr_un, sun_path)
	                   ? len - offsetof(struct sockaddr_un, sun_path)
	                   : 0;
	if (n && sa.sun_path[0] == '\0')
		snprintf(path, cap, "@%.*s", (int)(n - 1), sa.sun_path + 1);
	else
		snprintf(path, cap, "%.*s", (int)strnlen(sa.sun_path, n),
		         sa.sun_path);
	/* Ours from now on: the loop polls it and accepts until EAGAIN.  The
	 * flag is on the file description systemd shares, which only polls
	 * it while vuproxy is not running. */
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		int e = errno;
		snprintf(err, errlen, "descriptor %d: fcntl: %s", fd,
		         strerror(e));
		return -e;
	}
	return 0;
}

bool vup_endpoint_same_path(const char *a, const char *b)
{
	if (!*a || !*b || *a == '@' || *b == '@')
		return false;
	if (strcmp(a, b) == 0)
		return true;
	/* /var/run/x and /run/x, or a relative --frontend: the same file. */
	char ra[PATH_MAX], rb[PATH_MAX];
	return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}
