/* endpoint: "listen:PATH" / "connect:PATH" unix socket endpoints. */
#ifndef VUPROXY_ENDPOINT_H
#define VUPROXY_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/un.h>

enum vup_role { VUP_ROLE_LISTEN, VUP_ROLE_CONNECT };

struct vup_endpoint {
	enum vup_role role;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Parse "listen:PATH" or "connect:PATH".  0 or -EINVAL with err set. */
int vup_endpoint_parse(const char *spec, struct vup_endpoint *ep, char *err,
                       size_t errlen);
/* Create a non-blocking listening socket at ep->path with the given file
 * mode, replacing a stale socket file (never a live one, never a file that
 * is not a socket).  Returns the fd or -errno with err set. */
int vup_endpoint_listen(const struct vup_endpoint *ep, unsigned mode, char *err,
                        size_t errlen);
/* After bind: check that PATH is still the socket file just created (not
 * followed if a symbolic link, refused if not a socket owned by the
 * effective uid) and that its mode is MODE, setting it on that very inode
 * (never by path) when the umask did not apply.  0, or -errno with err
 * set (-ELOOP or -EEXIST: PATH was replaced). */
int vup_endpoint_check_mode(const char *path, unsigned mode, char *err,
                            size_t errlen);
/* One non-blocking connect attempt.  Returns the fd or -errno. */
int vup_endpoint_connect(const struct vup_endpoint *ep);
/* Accept one connection as a non-blocking, close-on-exec fd, or -errno. */
int vup_endpoint_accept(int listen_fd);

/* A descriptor a service manager handed over (LISTEN_FDS): 0 if it is a
 * listening AF_UNIX stream socket, with the path it is bound to in PATH
 * ("" unnamed, "@name" abstract), made non-blocking and close-on-exec;
 * else -errno with err saying what it is instead. */
int vup_endpoint_inherited(int fd, char *path, size_t cap, char *err,
                           size_t errlen);
/* Do two socket paths name the same file (equal, or after realpath)? */
bool vup_endpoint_same_path(const char *a, const char *b);

#endif
