/* Private to src/control: the client's printers (ctl_print.c, prom.c)
 * and its socket helpers (ctl_cmd.c), which the extcap (extcap.c) shares. */
#ifndef VUP_CONTROL_CTL_H
#define VUP_CONTROL_CTL_H

#include <stdio.h>
#include <sys/types.h>

#include "vuproxy/json.h"

/* A reply's result (node res of d) as a human table for command cmd
 * ("sessions", "show", ...); anything else is printed as JSON. */
void vup__ctl_print(FILE *f, const char *cmd, const struct vup_json_doc *d,
                    int res);
/* One event line as a human line. */
void vup__ctl_print_event(FILE *f, const struct vup_json_doc *d);
/* The result of "stats" in the Prometheus text exposition format
 * (version 0.0.4): prefix vuproxy_, a HELP and a TYPE line per metric,
 * counters named *_total.  0, or -EINVAL if res is not an object. */
int vup__prom_write(FILE *f, const struct vup_json_doc *d, int res);

/* Connect to a control socket: the fd (blocking, close-on-exec), or
 * -errno, nothing printed. */
int vup__ctl_connect(const char *path);
/* Send a request line, fd (or -1) passed on its first byte.  0 or
 * -errno. */
int vup__ctl_send(int sock, const char *buf, size_t len, int fd);
/* One line from the socket into *buf (grown): its length with the '\n',
 * 0 at EOF, negative on error.  Bytes after the line stay in *have. */
ssize_t vup__ctl_read_line(int sock, char **buf, size_t *cap, size_t *have);

#endif
