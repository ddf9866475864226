/* proxy_run: the proxy once its options are parsed: the rules, the
 * recorder, --user, the signals, the loop, and the summary at exit. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli_internal.h"
#include "vuproxy/control.h"
#include "vuproxy/log.h"
#include "vuproxy/privdrop.h"
#include "vuproxy/rules.h"
#include "vuproxy/sdnotify.h"

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
	else if (vup_rules_data_count(*out))
		vup_log(VUP_LOG_WARN,
		        "%s: %u data rules have no effect without --active "
		        "(control rules apply as usual)",
		        path, vup_rules_data_count(*out));
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
	vup_sd_notify("STOPPING=1"); /* systemd (Type=notify) */
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
static int become_user(void *ctx)
{
	const struct vup_privdrop_user *u = ctx;
	char err[256];
	if (vup_privdrop_apply(u, err, sizeof(err))) {
		vup_log(VUP_LOG_ERROR, "--user %s: %s; stopping", u->name, err);
		return -1;
	}
	vup_log(VUP_LOG_INFO, "running as %s (uid %u, gid %u) from now on",
	        u->name, (unsigned)u->uid, (unsigned)u->gid);
	return 0;
}

/* Everything that can fail before the loop: 0, or the exit status. */
static int prepare(struct vup_proxy_args *a, char *pid_name, size_t pid_len,
                   char *control_path, size_t control_len,
                   struct vup_privdrop_user *run_as, struct vup_rules **rules)
{
	struct vup_proxy_config *cfg = &a->cfg;
	char err[256];
	cfg->name = a->name;
	if (!cfg->name) {
		snprintf(pid_name, pid_len, "%ld", (long)getpid());
		cfg->name = pid_name;
	}
	if (vup_control_configure(cfg, a->no_control, a->name, control_path,
	                          control_len))
		return 2;
	if (a->user &&
	    prepare_user(a->user, run_as, cfg, &a->tcfg, a->rules_path))
		return 2;
	if (a->rules_path && load_rules(a->rules_path, rules)) {
		fprintf(stderr, "vuproxy: -r %s: not loaded\n", a->rules_path);
		return 2;
	}
	/* The recorder runs without -w too: it keeps each session's set-up
	 * for a recording started at run time, and the ring. */
	if (vup_trace_open(&a->tcfg, &cfg->trace, err, sizeof(err))) {
		fprintf(stderr, "vuproxy: -w %s\n", err);
		vup_rules_free(*rules);
		return 1;
	}
	if (a->ring_mb &&
	    vup_trace_ring(cfg->trace, (size_t)a->ring_mb << 20)) {
		fprintf(stderr, "vuproxy: --ring %u: out of memory\n",
		        a->ring_mb);
		vup_trace_close(cfg->trace);
		vup_rules_free(*rules);
		return 1;
	}
	return 0;
}

static void start_signals(uv_loop_t *loop, struct run_state *st)
{
	/* Before the sockets: a SIGTERM as soon as vuproxy says it listens
	 * is handled (on the loop), not the default action. */
	uv_signal_init(loop, &st->sigint);
	uv_signal_init(loop, &st->sigterm);
	st->sigint.data = st->sigterm.data = st;
	uv_signal_start(&st->sigint, on_signal, SIGINT);
	uv_signal_start(&st->sigterm, on_signal, SIGTERM);
	uv_signal_init(loop, &st->sighup);
	st->sighup.data = st;
	uv_signal_start(&st->sighup, on_sighup, SIGHUP);
	uv_signal_init(loop, &st->sigusr2);
	st->sigusr2.data = st;
	uv_signal_start(&st->sigusr2, on_sigusr2, SIGUSR2);
}

static void print_summary(const struct vup_proxy_config *cfg,
                          const struct vup_proxy_stats *ps)
{
	fprintf(stderr,
	        "vuproxy: %llu sessions (%llu failed), %llu messages relayed, "
	        "%llu connections refused\n",
	        (unsigned long long)ps->sessions,
	        (unsigned long long)ps->sessions_failed,
	        (unsigned long long)ps->messages,
	        (unsigned long long)ps->refused);
	if (cfg->tap.kind == VUP_TAP_OFF)
		return;
	/* Strict: nothing unverified, what could not be verified is in
	 * torn. */
	char unv[48] = " (strict)";
	if (!cfg->tap.strict)
		snprintf(unv, sizeof(unv), " (%llu unverified)",
		         (unsigned long long)ps->tap.unverified);
	fprintf(stderr,
	        "vuproxy: tap: %u queues, %llu buffers consumed: %llu "
	        "captured%s, %llu missed, %llu torn, %llu malformed\n",
	        ps->tap.queues, (unsigned long long)ps->tap.consumed,
	        (unsigned long long)ps->tap.captured, unv,
	        (unsigned long long)ps->tap.missed,
	        (unsigned long long)ps->tap.torn,
	        (unsigned long long)ps->tap.malformed);
}

/* The proxy has stopped: the trace first, then the handles, then the
 * summary. */
static void finish(uv_loop_t *loop, struct run_state *st,
                   struct vup_proxy_args *a)
{
	/* A late SIGINT/SIGTERM (coreutils' timeout sends one to the child
	 * and one to its group) must not kill us once closing the handles
	 * restores the default action: block them until exit. */
	sigset_t late;
	sigemptyset(&late);
	sigaddset(&late, SIGINT);
	sigaddset(&late, SIGTERM);
	sigprocmask(SIG_BLOCK, &late, NULL);
	uint64_t written = vup_trace_count(a->cfg.trace);
	if (vup_trace_close(a->cfg.trace) == 0 && a->tcfg.path)
		fprintf(stderr, "vuproxy: %llu messages written to %s\n",
		        (unsigned long long)written, a->tcfg.path);
	uv_close((uv_handle_t *)&st->sigint, NULL);
	uv_close((uv_handle_t *)&st->sigterm, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	/* Closing restored the default action: ignore them from now on and
	 * let a pending one go, so that nothing is left pending at exit. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	sigprocmask(SIG_UNBLOCK, &late, NULL);
	print_summary(&a->cfg, vup_proxy_stats(st->proxy));
	vup_rules_free(vup_proxy_set_rules(st->proxy, NULL));
	vup_proxy_free(st->proxy);
	uv_loop_close(loop);
}

int vup__proxy_run(struct vup_proxy_args *a)
{
	char pid_name[32], control_path[4096], err[512];
	struct vup_privdrop_user run_as;
	struct vup_rules *rules = NULL;
	struct vup_sd_listen inherited;
	struct vup_proxy_config *cfg = &a->cfg;
	/* systemd's sockets first, while descriptors 3 and up are only what
	 * it passed: a LISTEN_FDS that names more is refused here, before
	 * the trace or the loop could be given a number it names. */
	if (vup_sd_listen_take(&inherited, err, sizeof(err)) < 0) {
		vup_log(VUP_LOG_ERROR, "socket activation: %s", err);
		return 1;
	}
	cfg->inherited = &inherited;
	int rc = prepare(a, pid_name, sizeof(pid_name), control_path,
	                 sizeof(control_path), &run_as, &rules);
	if (rc)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	/* --user: once the sockets are open (the control socket too, in a
	 * directory only root may write) and before the first connection,
	 * so that every connection is made as the user. */
	if (a->user) {
		cfg->on_listening = become_user;
		cfg->on_listening_ctx = &run_as;
	}
	uv_loop_t *loop = uv_default_loop();
	struct run_state st = {0};
	start_signals(loop, &st);
	int started = vup_proxy_start(loop, cfg, &st.proxy);
	vup_proxy_set_rules(st.proxy, rules);
	st.rules_path = a->rules_path;
	if (started < 0) {
		uv_close((uv_handle_t *)&st.sigint, NULL);
		uv_close((uv_handle_t *)&st.sigterm, NULL);
		uv_close((uv_handle_t *)&st.sighup, NULL);
		uv_close((uv_handle_t *)&st.sigusr2, NULL);
		uv_run(loop, UV_RUN_DEFAULT);
		vup_rules_free(vup_proxy_set_rules(st.proxy, NULL));
		vup_proxy_free(st.proxy);
		uv_loop_close(loop);
		vup_trace_close(cfg->trace);
		return 1;
	}
	vup_proxy_notify_ready(st.proxy); /* systemd: listening, user dropped */
	uv_run(loop, UV_RUN_DEFAULT);
	finish(loop, &st, a);
	return 0;
}
