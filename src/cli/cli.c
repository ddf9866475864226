/* cli: the command line.  One table of subcommands drives dispatch and
 * the usage text; the default subcommand is the proxy itself. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "vuproxy/check.h"
#include "vuproxy/cli.h"
#include "vuproxy/control.h"
#include "vuproxy/dump.h"
#include "vuproxy/log.h"
#include "vuproxy/privdrop.h"
#include "vuproxy/proto.h"
#include "vuproxy/proxy.h"
#include "vuproxy/replay.h"
#include "vuproxy/rules.h"
#include "vuproxy/trace.h"
#include "vuproxy/wireshark_lua.h"

#define VERSION "0.1.0"

static int cmd_proxy(int argc, char **argv);
static int cmd_requests(int argc, char **argv);

static const struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} subcommands[] = {
        {"dump", vup_dump_main,
         "print a trace: a timeline, or --json; --session, --request"},
        {"check", vup_check_main,
         "check FILE: the spec's rules a trace breaks; --json, --junit"},
        {"replay", vup_replay_main,
         "replay FILE --as front-end|back-end: play a session, diff the peer"},
        {"wireshark-lua", vup_wireshark_lua_main,
         "print the Wireshark Lua dissector for traces (from the catalogue)"},
        {"rules", vup_rules_check_main,
         "rules check FILE...: validate fault-injection rules files"},
        {"ctl", vup_ctl_main,
         "ctl SOCKET COMMAND: ask a running vuproxy (sessions, show N, "
         "stats, ...)"},
        {"extcap", vup_extcap_main,
         "Wireshark's extcap: running vuproxys' sessions as interfaces"},
        {"requests", cmd_requests,
         "list the vhost-user requests vuproxy knows (the catalogue)"},
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: vuproxy --frontend listen:PATH|connect:PATH "
	        "--backend connect:PATH|listen:PATH [options]\n"
	        "       vuproxy COMMAND [args]\n"
	        "\n"
	        "Relay vhost-user between a front-end (QEMU, DPDK virtio-user) "
	        "and a back-end\n"
	        "(DPDK vhost, qemu-storage-daemon, SPDK), with every fd.\n"
	        "\n"
	        "options:\n"
	        "  --frontend listen:PATH   accept front-ends (QEMU chardev "
	        "client) on PATH\n"
	        "  --frontend connect:PATH  connect to a listening front-end "
	        "(QEMU server=on,\n"
	        "                           virtio-user server=1)\n"
	        "  --backend connect:PATH   connect to a listening back-end "
	        "(the usual case)\n"
	        "  --backend listen:PATH    accept back-ends that connect "
	        "(net_vhost client=1)\n"
	        "  -v, --verbose            one line per message on stderr "
	        "(-vv: debug)\n"
	        "  -q, --quiet              errors only\n"
	        "  --socket-mode MODE       mode of listening sockets (octal, "
	        "default 0600)\n"
	        "  --max-sessions N         concurrent sessions (default "
	        "1024); more are refused\n"
	        "  --stall-timeout SECS     close a session whose peer stops "
	        "mid-message for\n"
	        "                           SECS (default 30; 0: never)\n"
	        "  --strict                 refuse messages the spec leaves to "
	        "the receiver to\n"
	        "                           judge (default: relay them with a "
	        "warning)\n"
	        "  --no-check               do not run the checker live "
	        "(default: each finding\n"
	        "                           of `vuproxy check` is logged, "
	        "rate-limited)\n"
	        "  --reply-timeout SECS     log a reply owed for SECS "
	        "(default 5; 0: never)\n"
	        "  --trace-findings         with -w: record each finding in "
	        "the trace too (its\n"
	        "                           \"vuproxy findings\" interface, "
	        "Wireshark's expert info)\n"
	        "  --backend-wait MS        how long a front-end waits for "
	        "its back-end before\n"
	        "                           vuproxy closes it (default: 0, "
	        "one attempt, with\n"
	        "                           --backend connect; 2000 with "
	        "--backend listen)\n"
	        "  -r FILE                  apply the fault-injection rules "
	        "in FILE (YAML);\n"
	        "                           SIGHUP reloads it (a bad file "
	        "keeps the old rules)\n"
	        "  -w FILE                  write every message to FILE "
	        "(pcapng in gzip, mode 0600)\n"
	        "  -C SIZE                  with -w: start a new file once one "
	        "passes SIZE million\n"
	        "                           bytes (FILE, then FILE.1, FILE.2 "
	        "... before .pcapng.gz)\n"
	        "  -G SECS                  with -w: start a new file every "
	        "SECS seconds (as -C)\n"
	        "  -W N                     with -C or -G: keep at most N "
	        "files (the "
	        "oldest is removed);\n"
	        "                           each file restates its sessions' "
	        "set-up first\n"
	        "  --ring MB                flight recorder: keep the last MB "
	        "MiB of the trace\n"
	        "                           in memory (messages, findings, tap "
	        "records)\n"
	        "  --snapshot-dir DIR       with --ring: where snapshots go "
	        "(SIGUSR2, ctl, rules)\n"
	        "  --snapshot-on LIST       with --ring: also snapshot on "
	        "failure,nack,timeout,error\n"
	        "  --snapshot-after SECS    with --ring: a snapshot goes on "
	        "recording SECS more\n"
	        "  --snapshot-keep N        with --ring: keep the newest N "
	        "snapshots in DIR\n"
	        "  --tap net|blk            read the virtqueues passively "
	        "and record net frames\n"
	        "                           (Ethernet, one interface per "
	        "queue) or blk requests\n"
	        "  -s SNAPLEN               the tap's bytes kept per frame "
	        "or request data\n"
	        "                           (default 256; 0: 65535)\n"
	        "  --tap-interval USEC      with --tap: how often the rings "
	        "are read (default\n"
	        "                           1000 microseconds)\n"
	        "  --tap-strict             with --tap: record only copies "
	        "the tap verified; by\n"
	        "                           default copies of buffers the "
	        "device used before the\n"
	        "                           tap could check them are kept, "
	        "marked in the trace\n"
	        "  --tap-unverified         accepted for old command lines; "
	        "does nothing (that is\n"
	        "                           the default now)\n"
	        "  --tap-memory MB          the taps' memory: all ring "
	        "readers may hold (default\n"
	        "                           256); queues past it are not "
	        "followed\n"
	        "  --control PATH           the control socket (`vuproxy ctl`; "
	        "default\n"
	        "                           $RUNTIME/NAME.ctl: /run/vuproxy as "
	        "root, else\n"
	        "                           $XDG_RUNTIME_DIR/vuproxy)\n"
	        "  --no-control             no control socket\n"
	        "  --no-keep-memory         keep no copy of the sessions' "
	        "region fds (no live\n"
	        "                           ring indices in ctl show, no tap "
	        "started by ctl)\n"
	        "  --control-mode MODE      its mode (octal, default 0600)\n"
	        "  --name NAME              names the default control socket "
	        "(default: the pid)\n"
	        "  --user NAME              once the listening sockets and -w "
	        "are open, run as\n"
	        "                           NAME for good (vuproxy started "
	        "as root)\n"
	        "  -h, --help               this text\n"
	        "  -V, --version            print the version\n"
	        "\n"
	        "commands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]);
	     i++)
		fprintf(f, "  %-22s %s\n", subcommands[i].name,
		        subcommands[i].summary);
}

int vup_cli_main(int argc, char **argv)
{
	if (argc > 1 && argv[1][0] != '-') {
		for (size_t i = 0;
		     i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
			if (strcmp(argv[1], subcommands[i].name) == 0)
				return subcommands[i].run(argc - 1, argv + 1);
		fprintf(stderr, "vuproxy: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return 2;
	}
	return cmd_proxy(argc, argv);
}

static const char *reply_rule_name(enum vup_reply_rule r)
{
	switch (r) {
	case VUP_REPLY_ALWAYS: return "always";
	case VUP_REPLY_FEATURE: return "feature";
	case VUP_REPLY_POSTCOPY: return "ack/postcopy";
	case VUP_REPLY_ACK_ANY: return "ack/any";
	default: return "ack";
	}
}

static const char *fd_rule_name(enum vup_fd_rule r)
{
	static const char *const n[] = {"0",      "1",        "0-1",
	                                "1/nofd", "nregions", "any"};
	return (unsigned)r < sizeof(n) / sizeof(n[0]) ? n[r] : "?";
}

static int cmd_requests(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("%-8s %-4s %-34s %-18s %-10s %-9s %-13s %-5s %s\n", "channel",
	       "code", "name", "payload", "size", "fds", "reply", "rfds",
	       "gate");
	for (int ch = VUP_CHAN_MAIN; ch <= VUP_CHAN_BACKEND; ch++) {
		for (size_t i = 0; i < vup_proto_count(ch); i++) {
			const struct vup_msg_type *t = vup_proto_at(ch, i);
			char size[24];
			snprintf(size, sizeof(size), "%u-%u", t->req_min,
			         t->req_max);
			const char *gate = t->gate >= 0
			                           ? vup_protocol_feature_name(
			                                     (unsigned)t->gate)
			                           : "-";
			printf("%-8s %-4u %-34s %-18s %-10s %-9s %-13s %-5s "
			       "%s\n",
			       vup_chan_name(ch), t->code, t->name,
			       vup_layout_name(t->req_layout), size,
			       fd_rule_name(t->req_fds),
			       reply_rule_name(t->reply),
			       fd_rule_name(t->rep_fds), gate);
		}
	}
	return 0;
}

struct run_state {
	struct vup_proxy *proxy;
	uv_signal_t sigint, sigterm, sighup, sigusr2;
	bool stopping;
	const char *rules_path;
};

/* Print a rules file's diagnostics, one problem per paragraph. */
static void print_diags(const char *prefix, const char *text)
{
	if (text && *text)
		fprintf(stderr, "%s%s%s", prefix, text,
		        text[strlen(text) - 1] == '\n' ? "" : "\n");
}

static int load_rules(const char *path, struct vup_rules **out)
{
	static char err[16384], warn[16384];
	err[0] = warn[0] = '\0';
	int rc =
	        vup_rules_load(path, out, err, sizeof(err), warn, sizeof(warn));
	print_diags("", warn);
	if (rc)
		print_diags("", err);
	return rc;
}

/* SIGHUP: load the rules file again; a bad file keeps the old rules. */
static void on_sighup(uv_signal_t *h, int signum)
{
	(void)signum;
	struct run_state *st = h->data;
	if (!st->rules_path) {
		vup_log(VUP_LOG_INFO, "SIGHUP: no rules file (-r) to reload");
		return;
	}
	struct vup_rules *r;
	if (load_rules(st->rules_path, &r)) {
		vup_log(VUP_LOG_ERROR,
		        "SIGHUP: %s is not valid; the previous rules stay in "
		        "force",
		        st->rules_path);
		return;
	}
	vup_rules_free(vup_proxy_set_rules(st->proxy, r));
	vup_log(VUP_LOG_INFO,
	        "SIGHUP: %u rules loaded from %s (their counters start "
	        "again)",
	        vup_rules_count(r), st->rules_path);
}

/* The first SIGINT/SIGTERM stops the proxy; later ones are ignored, so
 * that the trace is always finished (coreutils' timeout, for one, sends
 * the signal to the child and then to the whole group).  The handlers
 * stay installed but no longer keep the loop alive. */
static void on_signal(uv_signal_t *h, int signum)
{
	struct run_state *st = h->data;
	if (st->stopping) {
		vup_log(VUP_LOG_INFO, "%s: already stopping",
		        strsignal(signum));
		return;
	}
	st->stopping = true;
	vup_log(VUP_LOG_INFO, "%s: stopping", strsignal(signum));
	uv_unref((uv_handle_t *)&st->sigint);
	uv_unref((uv_handle_t *)&st->sigterm);
	uv_close((uv_handle_t *)&st->sighup, NULL);
	uv_close((uv_handle_t *)&st->sigusr2, NULL);
	vup_proxy_stop(st->proxy);
}

/* SIGUSR2: a flight-recorder snapshot (--ring, --snapshot-dir). */
static void on_sigusr2(uv_signal_t *h, int signum)
{
	(void)signum;
	struct run_state *st = h->data;
	vup_proxy_snapshot(st->proxy);
}

/* Sessions hold several fds each; use all the process may have. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int parse_uint(const char *opt, const char *s, int base,
                      unsigned long max, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, base);
	if (errno || !*s || *end || v > max) {
		fprintf(stderr, "vuproxy: %s '%s': not a number in range\n",
		        opt, s);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

/* --user: who NAME is, and whether NAME will be able to do what vuproxy
 * does after the drop: create the next trace files (-C), reload the rules
 * (SIGHUP), connect to a peer's socket. */
static int prepare_user(const char *name, struct vup_privdrop_user *u,
                        const struct vup_proxy_config *cfg,
                        const struct vup_trace_config *tcfg,
                        const char *rules_path)
{
	char err[256], dir[4096];
	if (vup_privdrop_lookup(name, u, err, sizeof(err))) {
		fprintf(stderr, "vuproxy: --user %s: %s\n", name, err);
		return -1;
	}
	struct vup_privdrop_need needs[4];
	size_t n = 0;
	if (tcfg->rotate_bytes) {
		snprintf(dir, sizeof(dir), "%s", tcfg->path);
		char *slash = strrchr(dir, '/');
		if (!slash)
			snprintf(dir, sizeof(dir), ".");
		else
			slash[slash == dir] = '\0';
		needs[n++] = (struct vup_privdrop_need){
		        dir, W_OK | X_OK,
		        "-C creates the next trace files there", true};
	}
	if (rules_path)
		needs[n++] = (struct vup_privdrop_need){
		        rules_path, R_OK, "SIGHUP reloads -r from it", false};
	const struct vup_endpoint *eps[] = {&cfg->frontend, &cfg->backend};
	for (int i = 0; i < 2; i++)
		if (eps[i]->role == VUP_ROLE_CONNECT)
			needs[n++] = (struct vup_privdrop_need){
			        eps[i]->path, W_OK,
			        i ? "--backend connect: needs write permission"
			          : "--frontend connect: needs write "
			            "permission",
			        false};
	if (vup_privdrop_check(u, needs, n)) {
		fprintf(stderr, "vuproxy: --user %s: refused\n", name);
		return -1;
	}
	return 0;
}

/* Become the --user for good: after the listening sockets are open and
 * before the first connection. */
static int become_user(const struct vup_privdrop_user *u)
{
	char err[256];
	if (vup_privdrop_apply(u, err, sizeof(err))) {
		vup_log(VUP_LOG_ERROR, "--user %s: %s; stopping", u->name, err);
		return -1;
	}
	vup_log(VUP_LOG_INFO, "running as %s (uid %u, gid %u) from now on",
	        u->name, (unsigned)u->uid, (unsigned)u->gid);
	return 0;
}

static int cmd_proxy(int argc, char **argv)
{
	enum {
		OPT_FRONTEND = 256,
		OPT_BACKEND,
		OPT_MODE,
		OPT_MAX,
		OPT_TAP,
		OPT_TAP_INTERVAL,
		OPT_TAP_UNVERIFIED,
		OPT_TAP_STRICT,
		OPT_USER,
		OPT_STALL,
		OPT_TAP_MEMORY,
		OPT_STRICT,
		OPT_BACKEND_WAIT,
		OPT_NO_CHECK,
		OPT_REPLY_TIMEOUT,
		OPT_TRACE_FINDINGS,
		OPT_RING,
		OPT_SNAPSHOT_DIR,
		OPT_SNAPSHOT_ON,
		OPT_SNAPSHOT_AFTER,
		OPT_SNAPSHOT_KEEP,
		OPT_CONTROL,
		OPT_NO_CONTROL,
		OPT_NO_KEEP_MEMORY,
		OPT_CONTROL_MODE,
		OPT_NAME
	};
	static const struct option opts[] = {
	        {"frontend", required_argument, NULL, OPT_FRONTEND},
	        {"backend", required_argument, NULL, OPT_BACKEND},
	        {"socket-mode", required_argument, NULL, OPT_MODE},
	        {"max-sessions", required_argument, NULL, OPT_MAX},
	        {"tap", required_argument, NULL, OPT_TAP},
	        {"tap-interval", required_argument, NULL, OPT_TAP_INTERVAL},
	        {"tap-unverified", no_argument, NULL, OPT_TAP_UNVERIFIED},
	        {"tap-strict", no_argument, NULL, OPT_TAP_STRICT},
	        {"user", required_argument, NULL, OPT_USER},
	        {"stall-timeout", required_argument, NULL, OPT_STALL},
	        {"tap-memory", required_argument, NULL, OPT_TAP_MEMORY},
	        {"strict", no_argument, NULL, OPT_STRICT},
	        {"no-check", no_argument, NULL, OPT_NO_CHECK},
	        {"trace-findings", no_argument, NULL, OPT_TRACE_FINDINGS},
	        {"control", required_argument, NULL, OPT_CONTROL},
	        {"no-control", no_argument, NULL, OPT_NO_CONTROL},
	        {"no-keep-memory", no_argument, NULL, OPT_NO_KEEP_MEMORY},
	        {"control-mode", required_argument, NULL, OPT_CONTROL_MODE},
	        {"name", required_argument, NULL, OPT_NAME},
	        {"reply-timeout", required_argument, NULL, OPT_REPLY_TIMEOUT},
	        {"backend-wait", required_argument, NULL, OPT_BACKEND_WAIT},
	        {"ring", required_argument, NULL, OPT_RING},
	        {"snapshot-dir", required_argument, NULL, OPT_SNAPSHOT_DIR},
	        {"snapshot-on", required_argument, NULL, OPT_SNAPSHOT_ON},
	        {"snapshot-after", required_argument, NULL, OPT_SNAPSHOT_AFTER},
	        {"snapshot-keep", required_argument, NULL, OPT_SNAPSHOT_KEEP},
	        {"snaplen", required_argument, NULL, 's'},
	        {"verbose", no_argument, NULL, 'v'},
	        {"quiet", no_argument, NULL, 'q'},
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},
	        {0},
	};
	struct vup_proxy_config cfg = {.socket_mode = 0600,
	                               .max_sessions = 1024,
	                               .stall_timeout_ms = 30000,
	                               .reply_timeout_s = 5,
	                               .backend_wait_ms = -1,
	                               .control_mode = 0600};
	const char *name = NULL;
	bool no_control = false;
	char control_path[4096];
	struct vup_trace_config tcfg = {0};
	const char *rules_path = NULL, *user = NULL;
	struct vup_privdrop_user run_as;
	struct vup_rules *rules = NULL;
	unsigned rotate_mb = 0, ring_mb = 0;
	bool have_fe = false, have_be = false;
	char err[256];
	int c;
	unsigned snaplen = 0, tap_interval = 0;
	bool have_snaplen = false, tap_unverified = false;
	while ((c = getopt_long(argc, argv, "vqhVw:C:G:W:r:s:", opts, NULL)) !=
	       -1) {
		switch (c) {
		case OPT_FRONTEND:
		case OPT_BACKEND: {
			struct vup_endpoint *ep = c == OPT_FRONTEND
			                                  ? &cfg.frontend
			                                  : &cfg.backend;
			if (vup_endpoint_parse(optarg, ep, err, sizeof(err))) {
				fprintf(stderr, "vuproxy: --%s %s\n",
				        c == OPT_FRONTEND ? "frontend"
				                          : "backend",
				        err);
				return 2;
			}
			*(c == OPT_FRONTEND ? &have_fe : &have_be) = true;
			break;
		}
		case OPT_MODE:
			if (parse_uint("--socket-mode", optarg, 8, 0777,
			               &cfg.socket_mode))
				return 2;
			break;
		case OPT_TAP_MEMORY: {
			unsigned mb;
			if (parse_uint("--tap-memory", optarg, 10, 1048576,
			               &mb) ||
			    mb == 0) {
				if (mb == 0)
					fprintf(stderr,
					        "vuproxy: --tap-memory "
					        "must be at least 1 (MiB)\n");
				return 2;
			}
			cfg.tap_mem_limit = (uint64_t)mb << 20;
			break;
		}
		case OPT_STALL: {
			unsigned secs;
			if (parse_uint("--stall-timeout", optarg, 10, 86400,
			               &secs))
				return 2;
			cfg.stall_timeout_ms = secs * 1000;
			break;
		}
		case OPT_REPLY_TIMEOUT:
			if (parse_uint("--reply-timeout", optarg, 10, 86400,
			               &cfg.reply_timeout_s))
				return 2;
			break;
		case OPT_BACKEND_WAIT: {
			unsigned ms;
			if (parse_uint("--backend-wait", optarg, 10, INT_MAX,
			               &ms))
				return 2;
			cfg.backend_wait_ms = (int)ms;
			break;
		}
		case OPT_MAX:
			if (parse_uint("--max-sessions", optarg, 10, 1000000,
			               &cfg.max_sessions) ||
			    cfg.max_sessions == 0) {
				if (cfg.max_sessions == 0)
					fprintf(stderr, "vuproxy: "
					                "--max-sessions must "
					                "be at least 1\n");
				return 2;
			}
			break;
		case OPT_TAP:
			if (vup_tap_kind_parse(optarg, &cfg.tap.kind)) {
				fprintf(stderr,
				        "vuproxy: --tap %s: net or blk\n",
				        optarg);
				return 2;
			}
			break;
		case OPT_CONTROL: cfg.control_path = optarg; break;
		case OPT_NO_CONTROL: no_control = true; break;
		case OPT_NO_KEEP_MEMORY: cfg.no_keep_memory = true; break;
		case OPT_NAME: name = optarg; break;
		case OPT_CONTROL_MODE:
			if (parse_uint("--control-mode", optarg, 8, 0777,
			               &cfg.control_mode))
				return 2;
			break;
		case OPT_TAP_UNVERIFIED: tap_unverified = true; break;
		case OPT_TAP_STRICT: cfg.tap.strict = true; break;
		case OPT_USER: user = optarg; break;
		case OPT_STRICT: cfg.strict = true; break;
		case OPT_NO_CHECK: cfg.no_check = true; break;
		case OPT_TRACE_FINDINGS: cfg.trace_findings = true; break;
		case OPT_RING:
			if (parse_uint("--ring", optarg, 10, 65536, &ring_mb) ||
			    ring_mb == 0) {
				if (ring_mb == 0)
					fprintf(stderr, "vuproxy: --ring is in "
					                "MiB, at least 1\n");
				return 2;
			}
			break;
		case OPT_SNAPSHOT_DIR: cfg.snapshot_dir = optarg; break;
		case OPT_SNAPSHOT_ON:
			if (vup_snapshot_triggers_parse(optarg,
			                                &cfg.snapshot_on, err,
			                                sizeof(err))) {
				fprintf(stderr, "vuproxy: --snapshot-on %s\n",
				        err);
				return 2;
			}
			break;
		case OPT_SNAPSHOT_AFTER:
			if (parse_uint("--snapshot-after", optarg, 10, 86400,
			               &cfg.snapshot_after_s))
				return 2;
			break;
		case OPT_SNAPSHOT_KEEP:
			if (parse_uint("--snapshot-keep", optarg, 10, 1000000,
			               &cfg.snapshot_keep) ||
			    cfg.snapshot_keep == 0) {
				if (cfg.snapshot_keep == 0)
					fprintf(stderr,
					        "vuproxy: --snapshot-keep "
					        "must be at least 1\n");
				return 2;
			}
			break;
		case OPT_TAP_INTERVAL:
			if (parse_uint("--tap-interval", optarg, 10, 1000000,
			               &tap_interval) ||
			    tap_interval < 10) {
				if (tap_interval < 10)
					fprintf(stderr,
					        "vuproxy: --tap-interval is in "
					        "microseconds, 10 to "
					        "1000000\n");
				return 2;
			}
			break;
		case 's':
			if (parse_uint("-s", optarg, 10, 65535, &snaplen))
				return 2;
			have_snaplen = true;
			break;
		case 'v':
			vup_log_level = vup_log_level < VUP_LOG_MSG
			                        ? VUP_LOG_MSG
			                        : VUP_LOG_DEBUG;
			break;
		case 'q': vup_log_level = VUP_LOG_ERROR; break;
		case 'w': tcfg.path = optarg; break;
		case 'r': rules_path = optarg; break;
		case 'C':
			if (parse_uint("-C", optarg, 10, 1000000, &rotate_mb) ||
			    rotate_mb == 0) {
				if (rotate_mb == 0)
					fprintf(stderr,
					        "vuproxy: -C must be at "
					        "least 1\n");
				return 2;
			}
			tcfg.rotate_bytes = (uint64_t)rotate_mb * 1000000u;
			break;
		case 'G':
			if (parse_uint("-G", optarg, 10, 31536000,
			               &tcfg.rotate_secs) ||
			    tcfg.rotate_secs == 0) {
				if (tcfg.rotate_secs == 0)
					fprintf(stderr,
					        "vuproxy: -G must be at "
					        "least 1\n");
				return 2;
			}
			break;
		case 'W':
			if (parse_uint("-W", optarg, 10, 1000000,
			               &tcfg.max_files) ||
			    tcfg.max_files == 0) {
				if (tcfg.max_files == 0)
					fprintf(stderr,
					        "vuproxy: -W must be at "
					        "least 1\n");
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("vuproxy " VERSION "\n"); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vuproxy: unexpected argument '%s'\n",
		        argv[optind]);
		return 2;
	}
	if (!have_fe || !have_be) {
		fprintf(stderr, "vuproxy: both --frontend and --backend are "
		                "needed\n");
		usage(stderr);
		return 2;
	}
	if (strcmp(cfg.frontend.path, cfg.backend.path) == 0) {
		fprintf(stderr,
		        "vuproxy: --frontend and --backend name the "
		        "same socket %s\n",
		        cfg.frontend.path);
		return 2;
	}

	if ((tcfg.rotate_bytes || tcfg.rotate_secs || tcfg.max_files) &&
	    !tcfg.path) {
		fprintf(stderr, "vuproxy: -C, -G and -W need -w FILE\n");
		return 2;
	}
	if ((cfg.snapshot_dir || cfg.snapshot_on || cfg.snapshot_after_s ||
	     cfg.snapshot_keep) &&
	    !ring_mb) {
		fprintf(stderr, "vuproxy: --snapshot-dir, --snapshot-on, "
		                "--snapshot-after and --snapshot-keep need "
		                "--ring MB\n");
		return 2;
	}
	if (cfg.snapshot_on && !cfg.snapshot_dir) {
		fprintf(stderr, "vuproxy: --snapshot-on needs --snapshot-dir "
		                "DIR to write into\n");
		return 2;
	}
	if ((cfg.snapshot_on & (1u << VUP_SNAP_NACK | 1u << VUP_SNAP_ERROR)) &&
	    cfg.no_check) {
		fprintf(stderr, "vuproxy: --snapshot-on nack and error need "
		                "the checker (no --no-check)\n");
		return 2;
	}
	char pid_name[32];
	cfg.name = name;
	if (!cfg.name) {
		snprintf(pid_name, sizeof(pid_name), "%ld", (long)getpid());
		cfg.name = pid_name;
	}
	tcfg.findings = cfg.trace_findings;
	if (cfg.trace_findings && (!tcfg.path || cfg.no_check)) {
		fprintf(stderr, "vuproxy: --trace-findings needs -w FILE and "
		                "the checker (no --no-check)\n");
		return 2;
	}
	if (tcfg.max_files && !tcfg.rotate_bytes && !tcfg.rotate_secs) {
		fprintf(stderr, "vuproxy: -W needs -C SIZE or -G SECS\n");
		return 2;
	}
	/* -s and --tap-memory also serve a tap started by ctl record. */
	if ((tap_interval || tap_unverified || cfg.tap.strict) &&
	    cfg.tap.kind == VUP_TAP_OFF) {
		fprintf(stderr, "vuproxy: --tap-interval, --tap-strict and "
		                "--tap-unverified need --tap\n");
		return 2;
	}
	/* -s 0 means as much as a record can hold, as for tcpdump. */
	cfg.tap.snaplen = !have_snaplen ? 256 : snaplen ? snaplen : 65535;
	cfg.tap_interval_us = tap_interval ? tap_interval : 1000;
	if (vup_control_configure(&cfg, no_control, name, control_path,
	                          sizeof(control_path)))
		return 2;
	if (user && prepare_user(user, &run_as, &cfg, &tcfg, rules_path))
		return 2;
	if (rules_path && load_rules(rules_path, &rules)) {
		fprintf(stderr, "vuproxy: -r %s: not loaded\n", rules_path);
		return 2;
	}
	/* The recorder runs without -w too: it keeps each session's set-up
	 * for a recording started at run time, and the ring. */
	int rc = vup_trace_open(&tcfg, &cfg.trace, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "vuproxy: -w %s\n", err);
		return 1;
	}
	if (ring_mb && vup_trace_ring(cfg.trace, (size_t)ring_mb << 20)) {
		fprintf(stderr, "vuproxy: --ring %u: out of memory\n", ring_mb);
		vup_trace_close(cfg.trace);
		return 1;
	}

	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	/* --user: without a listener, the drop comes first, so that even the
	 * first connection is made as the user. */
	bool listens = cfg.frontend.role == VUP_ROLE_LISTEN ||
	               cfg.backend.role == VUP_ROLE_LISTEN;
	if (user && !listens && become_user(&run_as)) {
		vup_rules_free(rules);
		vup_trace_close(cfg.trace);
		return 1;
	}
	uv_loop_t *loop = uv_default_loop();
	struct run_state st = {0};
	/* Before the sockets: a SIGTERM as soon as vuproxy says it listens
	 * is handled (on the loop), not the default action. */
	uv_signal_init(loop, &st.sigint);
	uv_signal_init(loop, &st.sigterm);
	st.sigint.data = st.sigterm.data = &st;
	uv_signal_start(&st.sigint, on_signal, SIGINT);
	uv_signal_start(&st.sigterm, on_signal, SIGTERM);
	uv_signal_init(loop, &st.sighup);
	st.sighup.data = &st;
	uv_signal_start(&st.sighup, on_sighup, SIGHUP);
	uv_signal_init(loop, &st.sigusr2);
	st.sigusr2.data = &st;
	uv_signal_start(&st.sigusr2, on_sigusr2, SIGUSR2);
	int started = vup_proxy_start(loop, &cfg, &st.proxy);
	vup_proxy_set_rules(st.proxy, rules);
	st.rules_path = rules_path;
	if (started >= 0 && user && listens && become_user(&run_as)) {
		vup_proxy_stop(st.proxy);
		started = -EPERM;
	}
	if (started < 0) {
		uv_close((uv_handle_t *)&st.sigint, NULL);
		uv_close((uv_handle_t *)&st.sigterm, NULL);
		uv_close((uv_handle_t *)&st.sighup, NULL);
		uv_close((uv_handle_t *)&st.sigusr2, NULL);
		uv_run(loop, UV_RUN_DEFAULT);
		vup_rules_free(vup_proxy_set_rules(st.proxy, NULL));
		vup_proxy_free(st.proxy);
		uv_loop_close(loop);
		vup_trace_close(cfg.trace);
		return 1;
	}
	uv_run(loop, UV_RUN_DEFAULT);
	/* The proxy has stopped.  A late SIGINT/SIGTERM (coreutils' timeout
	 * sends one to the child and one to its group) must not kill us
	 * once closing the handles restores the default action: block them
	 * until exit. */
	sigset_t late;
	sigemptyset(&late);
	sigaddset(&late, SIGINT);
	sigaddset(&late, SIGTERM);
	sigprocmask(SIG_BLOCK, &late, NULL);
	/* Finish the trace before anything else. */
	uint64_t written = vup_trace_count(cfg.trace);
	if (vup_trace_close(cfg.trace) == 0 && tcfg.path)
		fprintf(stderr, "vuproxy: %llu messages written to %s\n",
		        (unsigned long long)written, tcfg.path);
	uv_close((uv_handle_t *)&st.sigint, NULL);
	uv_close((uv_handle_t *)&st.sigterm, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	/* Closing restored the default action: ignore them from now on and
	 * let a pending one go, so that nothing is left pending at exit. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	sigprocmask(SIG_UNBLOCK, &late, NULL);
	const struct vup_proxy_stats *ps = vup_proxy_stats(st.proxy);
	fprintf(stderr,
	        "vuproxy: %llu sessions (%llu failed), %llu messages relayed, "
	        "%llu connections refused\n",
	        (unsigned long long)ps->sessions,
	        (unsigned long long)ps->sessions_failed,
	        (unsigned long long)ps->messages,
	        (unsigned long long)ps->refused);
	if (cfg.tap.kind != VUP_TAP_OFF) {
		/* Strict: nothing unverified, what could not be verified is
		 * in torn. */
		char unv[48] = " (strict)";
		if (!cfg.tap.strict)
			snprintf(unv, sizeof(unv), " (%llu unverified)",
			         (unsigned long long)ps->tap.unverified);
		fprintf(stderr,
		        "vuproxy: tap: %u queues, %llu buffers consumed: "
		        "%llu captured%s, %llu missed, %llu torn, %llu "
		        "malformed\n",
		        ps->tap.queues, (unsigned long long)ps->tap.consumed,
		        (unsigned long long)ps->tap.captured, unv,
		        (unsigned long long)ps->tap.missed,
		        (unsigned long long)ps->tap.torn,
		        (unsigned long long)ps->tap.malformed);
	}
	vup_rules_free(vup_proxy_set_rules(st.proxy, NULL));
	vup_proxy_free(st.proxy);
	uv_loop_close(loop);
	return 0;
}
