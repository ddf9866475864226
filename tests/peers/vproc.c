/* vproc: the vuproxy binary under test as a child process, its log, and
 * the per-test fixture (temp dir, socket paths, our listeners). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer.h"

int vproc_start(struct vproc *v, const char *log_path, const char *const *args)
{
	const char *bin = getenv("VUPROXY");
	if (!bin || !*bin)
		return peer_fail(-EINVAL,
		                 "VUPROXY is not set (the vuproxy binary "
		                 "under test)");
	memset(v, 0, sizeof(*v));
	snprintf(v->log, sizeof(v->log), "%s", log_path);
	const char *argv[64];
	size_t n = 0;
	argv[n++] = bin;
	for (size_t i = 0; args && args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return peer_fail(-errno, "fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(125);
		execv(bin, (char *const *)argv);
		dprintf(2, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	v->pid = pid;
	return 0;
}

int vproc_wait(struct vproc *v, int timeout_ms)
{
	if (v->exited)
		return 0;
	if (v->pid <= 0)
		return peer_fail(-ECHILD, "vuproxy was not started");
	uint64_t end = peer_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		int st;
		pid_t r = waitpid(v->pid, &st, WNOHANG);
		if (r == v->pid) {
			v->status = st;
			v->exited = true;
			return 0;
		}
		if (r < 0 && errno != EINTR)
			return peer_fail(-errno, "waitpid: %s",
			                 strerror(errno));
		if (peer_now_ms() >= end)
			return peer_fail(-ETIMEDOUT,
			                 "vuproxy still runs after %d ms",
			                 timeout_ms);
		peer_sleep_ms(2);
	}
}

int vproc_stop(struct vproc *v, int timeout_ms)
{
	if (!v->exited && v->pid > 0)
		kill(v->pid, SIGTERM);
	if (vproc_wait(v, timeout_ms) < 0) {
		vproc_kill(v);
		return peer_fail(-1,
		                 "vuproxy did not stop within %d ms of SIGTERM",
		                 timeout_ms);
	}
	if (WIFEXITED(v->status))
		return WEXITSTATUS(v->status);
	return peer_fail(-1, "vuproxy was killed by signal %d",
	                 WTERMSIG(v->status));
}

void vproc_kill(struct vproc *v)
{
	if (v->pid <= 0 || v->exited)
		return;
	kill(v->pid, SIGKILL);
	int st;
	while (waitpid(v->pid, &st, 0) < 0 && errno == EINTR)
		;
	v->status = st;
	v->exited = true;
}

char *vproc_log(const struct vproc *v)
{
	FILE *f = fopen(v->log, "r");
	if (!f)
		return strdup("");
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			char *b = realloc(buf, cap * 2);
			if (!b) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = b;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf)
		buf[len] = '\0';
	return buf;
}

const char *vproc_log_tail(const struct vproc *v)
{
	static char tail[3072];
	char *log = vproc_log(v);
	size_t len = log ? strlen(log) : 0;
	const char *from = log && len >= sizeof(tail)
	                           ? log + len - (sizeof(tail) - 1)
	                   : log ? log
	                         : "";
	snprintf(tail, sizeof(tail), "%s", from);
	free(log);
	return tail;
}

/* Does one line of log contain all needles? */
static bool line_match(const char *log, const char **needles, size_t n)
{
	const char *line = log;
	while (*line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		bool all = true;
		for (size_t i = 0; all && i < n; i++) {
			const char *hit = memmem(line, len, needles[i],
			                         strlen(needles[i]));
			all = hit != NULL;
		}
		if (all)
			return true;
		if (!end)
			break;
		line = end + 1;
	}
	return false;
}

static size_t collect(va_list ap, const char **needles, size_t cap)
{
	size_t n = 0;
	const char *s;
	while ((s = va_arg(ap, const char *)) && n < cap)
		needles[n++] = s;
	return n;
}

static void describe(const char *log, const char **needles, size_t n)
{
	char msg[4096];
	size_t used = (size_t)snprintf(msg, sizeof(msg),
	                               "no log line contains all of:");
	for (size_t i = 0; i < n && used < sizeof(msg); i++)
		used += (size_t)snprintf(msg + used, sizeof(msg) - used,
		                         " \"%s\"", needles[i]);
	size_t loglen = strlen(log);
	const char *tail = loglen > 2500 ? log + loglen - 2500 : log;
	if (used < sizeof(msg))
		snprintf(msg + used, sizeof(msg) - used, "\n--- log%s ---\n%s",
		         tail != log ? " (tail)" : "", tail);
	peer_fail(-1, "%s", msg);
}

bool vproc_has_line(const struct vproc *v, ...)
{
	const char *needles[16];
	va_list ap;
	va_start(ap, v);
	size_t n = collect(ap, needles, 16);
	va_end(ap);
	char *log = vproc_log(v);
	bool ok = log && line_match(log, needles, n);
	if (!ok && log)
		describe(log, needles, n);
	free(log);
	return ok;
}

int vproc_wait_line(const struct vproc *v, int timeout_ms, ...)
{
	const char *needles[16];
	va_list ap;
	va_start(ap, timeout_ms);
	size_t n = collect(ap, needles, 16);
	va_end(ap);
	uint64_t end = peer_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		char *log = vproc_log(v);
		bool ok = log && line_match(log, needles, n);
		if (ok || peer_now_ms() >= end) {
			if (!ok && log)
				describe(log, needles, n);
			free(log);
			return ok ? 0 : -ETIMEDOUT;
		}
		free(log);
		peer_sleep_ms(5);
	}
}

unsigned vproc_count(const struct vproc *v, const char *needle)
{
	char *log = vproc_log(v);
	unsigned n = 0;
	for (const char *p = log; p && (p = strstr(p, needle)); p++)
		n++;
	free(log);
	return n;
}

int vproc_wait_count(const struct vproc *v, const char *needle, unsigned n,
                     int timeout_ms)
{
	uint64_t end = peer_now_ms() + (uint64_t)timeout_ms;
	unsigned got;
	while ((got = vproc_count(v, needle)) < n) {
		if (peer_now_ms() >= end)
			return peer_fail(-ETIMEDOUT,
			                 "\"%s\" occurs %u times in the log, "
			                 "want %u",
			                 needle, got, n);
		peer_sleep_ms(5);
	}
	return 0;
}

unsigned long vproc_rss_kib(const struct vproc *v)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)v->pid);
	FILE *f = fopen(path, "r");
	unsigned long kib = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lu kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* `vuproxy ctl`. */

int vproc_ctl(const char *sock, char *out, size_t cap, ...)
{
	const char *argv[24] = {getenv("VUPROXY"), "ctl", sock};
	int n = 3;
	va_list ap;
	va_start(ap, cap);
	for (const char *a; (a = va_arg(ap, const char *)) && n < 23;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	int p[2];
	if (pipe(p))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	size_t len = 0;
	ssize_t k;
	while (len + 1 < cap && (k = read(p[0], out + len, cap - 1 - len)) > 0)
		len += (size_t)k;
	out[len] = '\0';
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The fixture. */

int peer_fx_init(struct peer_fx *fx)
{
	memset(fx, 0, sizeof(*fx));
	fx->fe_listen = fx->be_listen = -1;
	int rc = peer_tmpdir(fx->dir, sizeof(fx->dir));
	if (rc)
		return rc;
	snprintf(fx->fe_path, sizeof(fx->fe_path), "%s/fe.sock", fx->dir);
	snprintf(fx->be_path, sizeof(fx->be_path), "%s/be.sock", fx->dir);
	snprintf(fx->log_path, sizeof(fx->log_path), "%s/vuproxy.log", fx->dir);
	return 0;
}

int peer_fx_start(struct peer_fx *fx, const char *fe_role, const char *be_role,
                  const char *const *extra)
{
	char fe_arg[256], be_arg[256];
	snprintf(fe_arg, sizeof(fe_arg), "%s:%s", fe_role, fx->fe_path);
	snprintf(be_arg, sizeof(be_arg), "%s:%s", be_role, fx->be_path);
	bool fe_listen = strcmp(fe_role, "listen") == 0;
	bool be_listen = strcmp(be_role, "listen") == 0;
	if (!fe_listen && fx->fe_listen < 0) {
		fx->fe_listen = peer_listen(fx->fe_path, 1024);
		if (fx->fe_listen < 0)
			return fx->fe_listen;
	}
	if (!be_listen && fx->be_listen < 0) {
		fx->be_listen = peer_listen(fx->be_path, 1024);
		if (fx->be_listen < 0)
			return fx->be_listen;
	}
	const char *args[48] = {"--frontend", fe_arg, "--backend", be_arg};
	size_t n = 4;
	for (size_t i = 0; extra && extra[i] && n < 47; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	int rc = vproc_start(&fx->vp, fx->log_path, args);
	if (rc)
		return rc;
	fx->started = true;
	if (fe_listen) {
		rc = vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS, "listening on",
		                     fx->fe_path, NULL);
		if (rc)
			return rc;
	}
	if (be_listen)
		rc = vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS, "listening on",
		                     fx->be_path, NULL);
	return rc;
}

int peer_fx_session(struct peer_fx *fx, struct peer **fe, struct peer **be)
{
	*fe = *be = NULL;
	int fd = peer_connect(fx->fe_path, PEER_TIMEOUT_MS);
	if (fd < 0)
		return fd;
	*fe = peer_new(fd, "fe");
	fd = peer_accept(fx->be_listen, PEER_TIMEOUT_MS);
	if (fd < 0) {
		char why[512];
		snprintf(why, sizeof(why), "%s", peer_error());
		return peer_fail(fd, "back-end: vuproxy did not connect: %s",
		                 why);
	}
	*be = peer_new(fd, "be");
	return 0;
}

int peer_fx_stop(struct peer_fx *fx)
{
	int rc = vproc_stop(&fx->vp, PEER_TIMEOUT_MS);
	if (rc != 0) {
		char why[256];
		if (rc > 0)
			snprintf(why, sizeof(why),
			         "vuproxy exited with status %d", rc);
		else
			snprintf(why, sizeof(why), "%s", peer_error());
		char *log = vproc_log(&fx->vp);
		size_t len = log ? strlen(log) : 0;
		peer_fail(-1, "%s\n--- log ---\n%s", why,
		          log && len > 2500 ? log + len - 2500
		          : log             ? log
		                            : "");
		free(log);
		return -1;
	}
	if (!vproc_has_line(&fx->vp, "vuproxy: ", " sessions (", NULL))
		return -1;
	return 0;
}

void peer_fx_fini(struct peer_fx *fx)
{
	peer_free_all();
	if (fx->started)
		vproc_kill(&fx->vp);
	if (fx->fe_listen >= 0)
		close(fx->fe_listen);
	if (fx->be_listen >= 0)
		close(fx->be_listen);
	fx->fe_listen = fx->be_listen = -1;
	if (fx->dir[0] && !getenv("VUP_PEERS_KEEP"))
		peer_rmtree(fx->dir);
}
