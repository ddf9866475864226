/* options: the proxy's command line as one table.  The parser, `--help`
 * and the man page's OPTIONS section are all read off VUP_PROXY_OPTIONS;
 * parsing is a pure function (no output, no environment), so that it is
 * unit-tested (tests/unit/test_cli_options.c). */
#ifndef VUP_CLI_OPTIONS_H
#define VUP_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "vuproxy/proxy.h"
#include "vuproxy/trace.h"

/* X(id, long name or NULL, short letter or 0, argument name or NULL,
 *   number base (0: not a number, 8, 10), min, max, help).
 * A numeric option's value is checked against [min, max] by the parser.
 * The help is one paragraph: --help wraps it, the man page fills it. */
#define VUP_PROXY_OPTIONS(X)                                                   \
	X(FRONTEND, "frontend", 0, "listen:PATH|connect:PATH", 0, 0, 0,        \
	  "The front-end side (QEMU, DPDK virtio-user). listen:PATH accepts "  \
	  "front-ends on PATH (QEMU's chardev in client mode, the usual "      \
	  "case); connect:PATH connects to a front-end listening there "       \
	  "(QEMU server=on, virtio-user server=1).")                           \
	X(BACKEND, "backend", 0, "connect:PATH|listen:PATH", 0, 0, 0,          \
	  "The back-end side (DPDK vhost, qemu-storage-daemon, SPDK, "         \
	  "virtiofsd). connect:PATH connects to a listening back-end (the "    \
	  "usual case); listen:PATH accepts back-ends that connect (DPDK "     \
	  "net_vhost client=1).")                                              \
	X(CONFIG, "config", 0, "FILE", 0, 0, 0,                                \
	  "Read options from FILE, one per line as on the command line, the "  \
	  "leading -- optional (frontend listen:/run/vuproxy/vm1.sock); "      \
	  "blank lines and lines starting with # are ignored, and the value "  \
	  "is the rest of the line. Options after --config override the "      \
	  "file's. The systemd unit reads /etc/vuproxy/NAME.conf this way.")   \
	X(VERBOSE, "verbose", 'v', NULL, 0, 0, 0,                              \
	  "One line per message on stderr; -vv: debug.")                       \
	X(QUIET, "quiet", 'q', NULL, 0, 0, 0, "Errors only.")                  \
	X(SOCKET_MODE, "socket-mode", 0, "MODE", 8, 0, 0777,                   \
	  "File mode of the listening sockets (octal, default 0600).")         \
	X(MAX_SESSIONS, "max-sessions", 0, "N", 10, 1, 1000000,                \
	  "Concurrent sessions (default 1024); more are refused.")             \
	X(STALL_TIMEOUT, "stall-timeout", 0, "SECS", 10, 0, 86400,             \
	  "Close a session whose peer stops mid-message for SECS (default "    \
	  "30; 0: never).")                                                    \
	X(STRICT, "strict", 0, NULL, 0, 0, 0,                                  \
	  "Refuse messages the spec leaves to the receiver to judge "          \
	  "(default: relay them with a warning).")                             \
	X(NO_CHECK, "no-check", 0, NULL, 0, 0, 0,                              \
	  "Do not run the checker live (default: each finding of `vuproxy "    \
	  "check` is logged, rate-limited).")                                  \
	X(REPLY_TIMEOUT, "reply-timeout", 0, "SECS", 10, 0, 86400,             \
	  "Log a reply owed for SECS (default 5; 0: never).")                  \
	X(BACKEND_WAIT, "backend-wait", 0, "MS", 10, 0, 2147483647,            \
	  "How long a front-end waits for its back-end before vuproxy closes " \
	  "it (default: 0, one attempt, with --backend connect; 2000 with "    \
	  "--backend listen).")                                                \
	X(RULES, NULL, 'r', "FILE", 0, 0, 0,                                   \
	  "Apply the fault-injection rules in FILE (YAML); SIGHUP reloads it " \
	  "(a bad file keeps the old rules).")                                 \
	X(WRITE, NULL, 'w', "FILE", 0, 0, 0,                                   \
	  "Write every message to FILE (pcapng in gzip, mode 0600).")          \
	X(ROTATE_SIZE, NULL, 'C', "SIZE", 10, 1, 1000000,                      \
	  "With -w: start a new file once one passes SIZE million bytes "      \
	  "(FILE, then FILE.1, FILE.2 ... before .pcapng.gz).")                \
	X(ROTATE_SECS, NULL, 'G', "SECS", 10, 1, 31536000,                     \
	  "With -w: start a new file every SECS seconds (named as with -C).")  \
	X(MAX_FILES, NULL, 'W', "N", 10, 1, 1000000,                           \
	  "With -C or -G: keep at most N files (the oldest is removed); each " \
	  "file restates its sessions' set-up first.")                         \
	X(TRACE_FINDINGS, "trace-findings", 0, NULL, 0, 0, 0,                  \
	  "With -w: record each finding in the trace too (its \"vuproxy "      \
	  "findings\" interface, Wireshark's expert info).")                   \
	X(RING, "ring", 0, "MB", 10, 1, 65536,                                 \
	  "Flight recorder: keep the last MB MiB of the trace in memory "      \
	  "(messages, findings, tap records), for snapshots.")                 \
	X(SNAPSHOT_DIR, "snapshot-dir", 0, "DIR", 0, 0, 0,                     \
	  "With --ring: where snapshots go (SIGUSR2, ctl snapshot, a rule's "  \
	  "snapshot action).")                                                 \
	X(SNAPSHOT_ON, "snapshot-on", 0, "LIST", 0, 0, 0,                      \
	  "With --ring: also snapshot on these events, comma-separated: "      \
	  "failure, nack, timeout, error (at most one automatic snapshot "     \
	  "every 10 seconds).")                                                \
	X(SNAPSHOT_AFTER, "snapshot-after", 0, "SECS", 10, 0, 86400,           \
	  "With --ring: a snapshot goes on recording SECS more.")              \
	X(SNAPSHOT_KEEP, "snapshot-keep", 0, "N", 10, 1, 1000000,              \
	  "With --ring: keep the newest N snapshots in DIR.")                  \
	X(TAP, "tap", 0, "net|blk", 0, 0, 0,                                   \
	  "Read the virtqueues passively and record net frames (Ethernet, "    \
	  "one interface per queue) or blk requests.")                         \
	X(ACTIVE, "active", 0, "net|blk", 0, 0, 0,                             \
	  "Shadow the sessions' split virtqueues: vuproxy becomes the device " \
	  "of the guest's rings and the driver of shadow rings in a memfd it " \
	  "adds to the back-end's memory table. It WRITES the guest's used "   \
	  "rings (nothing else); packed rings, IN_ORDER, host notifiers, "     \
	  "in-band notifications, postcopy, inflight and memory slots are "    \
	  "hidden from the offers. A session with an IOMMU "                   \
	  "(ACCESS_PLATFORM) or 8 memory regions stays in passthrough. net "   \
	  "only for now.")                                                     \
	X(SNAPLEN, "snaplen", 's', "SNAPLEN", 10, 0, 65535,                    \
	  "The tap's bytes kept per frame or request data (default 256; 0: "   \
	  "65535).")                                                           \
	X(TAP_INTERVAL, "tap-interval", 0, "USEC", 10, 10, 1000000,            \
	  "With --tap: how often the rings are read (default 1000 "            \
	  "microseconds).")                                                    \
	X(TAP_STRICT, "tap-strict", 0, NULL, 0, 0, 0,                          \
	  "With --tap: record only copies the tap verified; by default "       \
	  "copies of buffers the device used before the tap could check them " \
	  "are kept, marked in the trace.")                                    \
	X(TAP_UNVERIFIED, "tap-unverified", 0, NULL, 0, 0, 0,                  \
	  "Accepted for old command lines; does nothing (that is the "         \
	  "default now).")                                                     \
	X(TAP_MEMORY, "tap-memory", 0, "MB", 10, 1, 1048576,                   \
	  "The taps' memory: what all ring readers may hold (default 256 "     \
	  "MiB); queues past it are not followed.")                            \
	X(CONTROL, "control", 0, "PATH", 0, 0, 0,                              \
	  "The control socket (vuproxy ctl); default $RUNTIME/NAME.ctl, "      \
	  "where "                                                             \
	  "$RUNTIME is /run/vuproxy as root, else $XDG_RUNTIME_DIR/vuproxy.")  \
	X(NO_CONTROL, "no-control", 0, NULL, 0, 0, 0, "No control socket.")    \
	X(CONTROL_MODE, "control-mode", 0, "MODE", 8, 0, 0777,                 \
	  "The control socket's file mode (octal, default 0600).")             \
	X(NAME, "name", 0, "NAME", 0, 0, 0,                                    \
	  "Names the default control socket and the snapshots (default: the "  \
	  "pid).")                                                             \
	X(NO_KEEP_MEMORY, "no-keep-memory", 0, NULL, 0, 0, 0,                  \
	  "Keep no copy of the sessions' region fds (no live ring indices in " \
	  "ctl show, no tap started by ctl record).")                          \
	X(USER, "user", 0, "NAME", 0, 0, 0,                                    \
	  "Once the listening sockets and -w are open, run as NAME for good "  \
	  "(vuproxy started as root).")                                        \
	X(HELP, "help", 'h', NULL, 0, 0, 0, "Print this help.")                \
	X(VERSION, "version", 'V', NULL, 0, 0, 0, "Print the version.")

enum vup_opt_id {
#define X(id, l, s, a, b, lo, hi, h) VUP_OPT_##id,
	VUP_PROXY_OPTIONS(X)
#undef X
	        VUP_OPT_COUNT
};

struct vup_opt_def {
	enum vup_opt_id id;
	const char *name; /* long, without "--"; NULL: short only */
	char letter;      /* short; 0: long only */
	const char *arg;  /* NULL: a flag */
	int base;         /* 0: any text; 8 or 10: a number */
	unsigned long min, max;
	const char *help;
};

extern const struct vup_opt_def vup_proxy_opts[VUP_OPT_COUNT];

/* An option found on the command line.  num is its value when the
 * definition is numeric (already checked against min..max). */
struct vup_opt_val {
	enum vup_opt_id id;
	const char *arg;
	unsigned long num;
	int argi; /* index in argv of the option, for error origins */
};

/* Scan argv[first..argc-1] like getopt_long (--name=V, --name V, -xV,
 * -x V, -vq, unambiguous prefixes of long names, "--" ends options) but
 * with no positional arguments.  Fills out[0..*n-1] in order.  0, or -1
 * with err naming the option and what is wrong, and *bad its argv
 * index. */
int vup_opts_scan(const struct vup_opt_def *defs, size_t ndefs, int argc,
                  char *const *argv, int first, struct vup_opt_val *out,
                  size_t max, size_t *n, int *bad, char *err, size_t errlen);

/* A config file's text as arguments: each line "[--]name [value]",
 * "[--]name=value" or "-x [value]" becomes "--name" (and "value"),
 * checked against defs
 * (known, value present exactly when one is taken, no --config).
 * args[] point into buf (NUL-separated copy of text, len+2 bytes);
 * lines[i] is the 1-based line of args[i].  0, or -1 with err
 * "LINE: ...". */
int vup_opts_split_config(const struct vup_opt_def *defs, size_t ndefs,
                          const char *text, char *buf, size_t buflen,
                          char **args, int *lines, size_t max, size_t *n,
                          char *err, size_t errlen);

/* --help's option list: "  -v, --verbose            help..." wrapped at
 * 79 columns. */
void vup_opts_print_help(FILE *f, const struct vup_opt_def *defs, size_t ndefs);
/* The man page's OPTIONS entries (.TP, bold names, italic arguments). */
void vup_opts_print_man(FILE *f, const struct vup_opt_def *defs, size_t ndefs);

/* What `vuproxy [options]` asks for, before any side effect: no file is
 * opened and nothing is printed.  Fields left to run time: cfg.name
 * (NULL: the pid), the control socket path, cfg.trace. */
struct vup_proxy_args {
	struct vup_proxy_config cfg;
	struct vup_trace_config tcfg;
	const char *rules_path, *user, *name;
	unsigned ring_mb;
	int verbosity; /* -1 quiet, 0 default, 1 -v, 2 -vv */
	bool no_control;
	bool help, version;
	int bad_arg; /* on failure: argv index of the option at fault, or -1 */
};

/* Parse and validate: 0 (a->help or a->version may be set), or -1 with
 * err saying what is wrong (usage error).  argv[0] is the program. */
int vup_proxy_args_parse(int argc, char *const *argv, struct vup_proxy_args *a,
                         char *err, size_t errlen);

#endif
