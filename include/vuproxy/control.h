/* control: the control socket.  JSON lines over a unix stream socket on
 * the relay's libuv loop: one request per line, one reply per request,
 * and, after "subscribe", events on the same connection.
 *
 *   {"id": 7, "cmd": "show", "session": 1}
 *   {"id": 7, "ok": true, "result": {...}}
 *   {"id": 8, "ok": false, "error": "unknown command \"shwo\""}
 *
 * A request may carry fds (SCM_RIGHTS) with its bytes; they are given to
 * the request whose line holds the first byte they came with.  The server
 * never blocks the loop and bounds what each client can make it hold: a
 * line past VUP_CONTROL_LINE_MAX gets an error and the connection is
 * closed; a client that does not read what it is sent (replies, events)
 * past VUP_CONTROL_OUT_MAX is dropped with a log line.
 *
 * What the commands do is the embedder's: it passes ONE table of
 * commands (name, arguments, handler, help); the server parses, checks
 * the arguments' names against the row and the fds against its limit,
 * runs the handler and writes the reply.  The protocol is described in
 * README.md ("Control socket").
 */
#ifndef VUPROXY_CONTROL_H
#define VUPROXY_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "vuproxy/json.h"

#define VUP_CONTROL_LINE_MAX (1u << 20) /* bytes of a request line */
#define VUP_CONTROL_OUT_MAX  (4u << 20) /* queued for one client */
#define VUP_CONTROL_FDS_MAX  4          /* fds one request may carry */

struct vup_control_cmd;

/* One request, as a handler sees it. */
struct vup_control_req {
	const struct vup_json_doc *doc;
	int root; /* the request object's node */
	const struct vup_control_cmd *cmd;
	/* Received fds: the handler owns none of them unless it sets the
	 * slot to -1; the rest are closed after it returns. */
	int fds[VUP_CONTROL_FDS_MAX];
	unsigned nfds;
	struct vup_jw *out; /* the result value; nothing written: {} */
	char err[1024];     /* the error, when the handler fails */
	bool subscribe;     /* set: this connection now receives events */
	void *ctx;          /* the embedder's (vup_control_start) */
	const struct vup_control_cmd *table; /* every command (help) */
	size_t ncmds;
};

/* 0: reply ok with *out (or {}); negative: reply with r->err. */
typedef int (*vup_control_fn)(struct vup_control_req *r);

struct vup_control_cmd {
	const char *name;
	/* The arguments it accepts, comma-separated ("session,tap"); a
	 * member of the request not named here (nor "id", "cmd") is an
	 * error. */
	const char *args;
	unsigned max_fds;
	vup_control_fn run;
	const char *help;
};

/* Handler of a "help" row: every row's name, args and help. */
int vup_control_help(struct vup_control_req *r);

/* Reading arguments.  1: present and valid (*out set); 0: absent and not
 * required; negative: r->err names the argument and what is wrong. */
int vup_control_arg_int(struct vup_control_req *r, const char *key,
                        bool required, int64_t min, int64_t max, int64_t *out);
int vup_control_arg_str(struct vup_control_req *r, const char *key,
                        bool required, char *out, size_t cap);
/* A string argument that must be one of choices (NULL-terminated);
 * *out receives its index. */
int vup_control_arg_enum(struct vup_control_req *r, const char *key,
                         bool required, const char *const *choices, int *out);
/* Set r->err (printf) and return -1. */
__attribute__((format(printf, 2, 3))) int
vup_control_fail(struct vup_control_req *r, const char *fmt, ...);

/* One request line (without its '\n') and its fds to one reply line
 * (without '\n', appended to reply): parse, check, run.  Closes every
 * fd the handler did not take.  Returns true if the request subscribed.
 * No I/O: the server's core, and what the unit tests and the fuzzer
 * drive. */
bool vup_control_dispatch(const struct vup_control_cmd *table, size_t n,
                          void *ctx, const char *line, size_t len, int *fds,
                          unsigned nfds, struct vup_jw *reply);

/* The server. */
struct vup_control;

/* Listen on path (a stale socket there is replaced, a live one or
 * another file is not) with the file mode given, on loop.  0, or -errno
 * with err set. */
int vup_control_start(uv_loop_t *loop, const char *path, unsigned mode,
                      const struct vup_control_cmd *table, size_t n, void *ctx,
                      struct vup_control **out, char *err, size_t errlen);
/* Close every client and the listener, remove the socket file; the
 * server is freed once its handles are closed (the loop runs on). */
void vup_control_stop(struct vup_control *c);
/* Whether some client subscribed (build an event only then). */
bool vup_control_subscribed(const struct vup_control *c);
/* Send one event line (a JSON object, without '\n') to every
 * subscriber. */
void vup_control_publish(struct vup_control *c, const char *line, size_t len);
const char *vup_control_path(const struct vup_control *c);

/* $RUNTIME: /run/vuproxy for root, else $XDG_RUNTIME_DIR/vuproxy (not
 * created).  0, or -errno with err set. */
int vup_control_runtime_dir(char *dir, size_t cap, char *err, size_t errlen);
/* The default path: $RUNTIME/<name>.ctl, $RUNTIME being /run/vuproxy for
 * root, else $XDG_RUNTIME_DIR/vuproxy; the directory is created (0700)
 * if missing.  0, or -errno with err set. */
int vup_control_default_path(const char *name, char *out, size_t cap, char *err,
                             size_t errlen);

/* The proxy's --control, --no-control and --name (cli.c): sets
 * cfg->control_path (into buf) and control_optional.  -1 on a usage
 * error (printed). */
struct vup_proxy_config;
int vup_control_configure(struct vup_proxy_config *cfg, bool off,
                          const char *name, char *buf, size_t len);

/* `vuproxy ctl SOCKET COMMAND [ARGS] [--json]`: the client. */
int vup_ctl_main(int argc, char **argv);
/* `vuproxy extcap ...`: Wireshark's extcap protocol over the control
 * sockets of the running vuproxys (src/control/extcap.c). */
int vup_extcap_main(int argc, char **argv);

#endif
