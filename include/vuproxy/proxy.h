/* proxy: the relay server.  Listens and/or connects on both sides and
 * pairs each front-end connection with its own back-end connection (a
 * session).  Runs on a libuv loop that the caller owns. */
#ifndef VUPROXY_PROXY_H
#define VUPROXY_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "vuproxy/endpoint.h"
#include "vuproxy/tap.h"
#include "vuproxy/trace.h"

struct vup_sd_listen;

struct vup_proxy_config {
	struct vup_endpoint frontend;
	struct vup_endpoint backend;
	unsigned socket_mode;      /* listening sockets, default 0600 */
	unsigned max_sessions;     /* concurrent; more are refused */
	unsigned stall_timeout_ms; /* a peer mid-message this long is cut off;
	                              0 never */
	int backend_wait_ms;       /* --backend-wait: how long a session whose
	                              front-end is there waits for its back-end;
	                              -1: the default of the back-end's role */
	struct vup_trace *trace;   /* -w, or NULL */
	struct vup_tap_config tap; /* --tap, -s */
	/* --active: shadow the sessions' vrings (net only for now); OFF:
	 * passthrough */
	enum vup_tap_kind active;
	uint32_t tap_interval_us; /* --tap-interval: poll period */
	uint64_t tap_mem_limit;   /* --tap-memory: bytes; 0 = 256 MiB */
	/* --no-keep-memory: no copy of the sessions' region fds (no live
	 * indices in show without --tap, no tap started at run time) */
	bool no_keep_memory;
	bool strict;   /* --strict: refuse what the receiver would judge */
	bool no_check; /* --no-check: no live checker (check.h) */
	/* --trace-findings: the checker's findings are recorded in the
	 * trace (tracemsg.h).  Off by default: a trace then holds the
	 * session's packets only, as readers counting them expect. */
	bool trace_findings;
	unsigned reply_timeout_s; /* --reply-timeout: log a reply owed this
	                             long; 0 never */
	/* The recorder (never NULL once started: it keeps each session's
	 * set-up for recordings started at run time; trace above). */
	const char *name;          /* --name: snapshots' names, the ctl */
	const char *snapshot_dir;  /* --snapshot-dir, or NULL */
	unsigned snapshot_on;      /* --snapshot-on: 1 << VUP_SNAP_x */
	unsigned snapshot_after_s; /* --snapshot-after */
	unsigned snapshot_keep;    /* --snapshot-keep: 0 keeps every one */
	/* --control: the control socket (control.h) at this path, NULL
	 * none, with this file mode.  control_optional (the default path):
	 * failing to open it is a warning, not a failure to start. */
	const char *control_path;
	unsigned control_mode;
	bool control_optional;
	/* Called once every listening socket (the control socket too) is
	 * open and before the first connection is made: where --user drops
	 * privileges.  Nonzero stops the start (-EPERM). */
	int (*on_listening)(void *ctx);
	void *on_listening_ctx;
	/* The sockets systemd handed over (sdnotify.h), taken by the caller
	 * before it opened any file: then LISTEN_FDS can only name what
	 * systemd passed, never a descriptor of vuproxy's own (a trace, the
	 * loop's).  NULL: vup_proxy_start takes them from the environment. */
	const struct vup_sd_listen *inherited;
};

/* What takes a flight-recorder snapshot: X(id, name, chosen by
 * --snapshot-on).  ctl and a signal ask for one; a rule's `snapshot`
 * action too; the others, when --snapshot-on names them. */
#define VUP_SNAPSHOT_TRIGGERS(X)                                               \
	X(CTL, "ctl", false)                                                   \
	X(SIGNAL, "sigusr2", false)                                            \
	X(RULE, "rule", false)                                                 \
	X(FAILURE, "failure", true) /* a session failed */                     \
	X(NACK, "nack", true)       /* a reply said failed (VU024) */          \
	X(TIMEOUT, "timeout", true) /* a reply past --reply-timeout */         \
	X(ERROR, "error", true)     /* an error-level finding */
enum vup_snapshot_trigger {
#define X(id, name, sel) VUP_SNAP_##id,
	VUP_SNAPSHOT_TRIGGERS(X)
#undef X
	        VUP_SNAP_COUNT
};
const char *vup_snapshot_trigger_name(enum vup_snapshot_trigger t);
/* "failure,nack" -> mask; -1 with err naming the word. */
int vup_snapshot_triggers_parse(const char *list, unsigned *mask, char *err,
                                size_t errlen);

/* --backend-wait defaults.  connect: one attempt, as the front-end would
 * get ECONNREFUSED at once without vuproxy (QEMU waits for its replies
 * with its main loop stopped).  listen: the back-end connects by itself;
 * DPDK's client=1 retries its connect once a second, and a front-end
 * (QEMU reconnect=1) tries again a second after a close. */
#define VUP_BACKEND_WAIT_CONNECT_MS 0
#define VUP_BACKEND_WAIT_LISTEN_MS  2000

struct vup_proxy_stats {
	uint64_t sessions;         /* opened since start */
	uint64_t sessions_failed;  /* closed on a protocol or I/O error */
	uint64_t messages;         /* relayed, both channels */
	uint64_t refused;          /* connections refused (limits) */
	struct vup_tap_totals tap; /* over closed sessions */
};

struct vup_proxy;
struct vup_rules;

/* Open listening sockets and start connecting.  0 or -errno (logged). */
int vup_proxy_start(uv_loop_t *loop, const struct vup_proxy_config *cfg,
                    struct vup_proxy **out);
/* Tell systemd (Type=notify) that the proxy serves: READY=1 and a
 * STATUS= line naming its sockets.  Call once listening, and after any
 * --user drop.  Nothing without $NOTIFY_SOCKET. */
void vup_proxy_notify_ready(struct vup_proxy *p);
/* Close every session and listener; the loop ends once all is closed.
 * Safe to call twice. */
void vup_proxy_stop(struct vup_proxy *p);
const struct vup_proxy_stats *vup_proxy_stats(const struct vup_proxy *p);
/* Use these rules from the next message on (NULL: none); returns the
 * previous set, which the caller frees. */
struct vup_rules *vup_proxy_set_rules(struct vup_proxy *p,
                                      struct vup_rules *rules);
/* SIGUSR2: a flight-recorder snapshot into --snapshot-dir (logged). */
void vup_proxy_snapshot(struct vup_proxy *p);
/* Free after the loop has finished. */
void vup_proxy_free(struct vup_proxy *p);

#endif
