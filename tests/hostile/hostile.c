/* hostile: the harness of the hostile-peer suite.  See hostile.h. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostile.h"

/* The external vuproxy, from the environment (all or nothing). */
static struct {
	bool set;
	char fe[128], be[128], log[128], trace[256];
	pid_t pid;
} ext;

static char own_trace[256];
static const char *const *more_args; /* hx_args */
static int nmore;

void hx_args(const char *const *args, int n)
{
	more_args = args;
	nmore = n;
}

static bool has_arg(const char *arg)
{
	for (int i = 0; i < nmore; i++)
		if (strcmp(more_args[i], arg) == 0)
			return true;
	return false;
}

bool hx_tap(void)
{
	return has_arg("--tap");
}

bool hx_strict(void)
{
	return has_arg("--strict");
}

static int read_env(void)
{
	const char *fe = getenv("HOSTILE_FE_SOCK");
	const char *be = getenv("HOSTILE_BE_SOCK");
	const char *log = getenv("HOSTILE_LOG");
	const char *trace = getenv("HOSTILE_TRACE");
	const char *pid = getenv("HOSTILE_PID");
	if (!fe && !be && !log && !trace && !pid)
		return 0;
	if (!fe || !be || !log || !trace || !pid)
		return peer_fail(
		        -EINVAL,
		        "HOSTILE_FE_SOCK, HOSTILE_BE_SOCK, HOSTILE_LOG, "
		        "HOSTILE_TRACE and HOSTILE_PID go together");
	snprintf(ext.fe, sizeof(ext.fe), "%s", fe);
	snprintf(ext.be, sizeof(ext.be), "%s", be);
	snprintf(ext.log, sizeof(ext.log), "%s", log);
	snprintf(ext.trace, sizeof(ext.trace), "%s", trace);
	ext.pid = (pid_t)atoi(pid);
	ext.set = true;
	return 0;
}

bool hx_external(void)
{
	return ext.set;
}

int hx_setup(void **state)
{
	static bool env_read;
	if (!env_read) {
		if (read_env() < 0) {
			print_error("%s\n", peer_error());
			return -1;
		}
		env_read = true;
	}
	return peer_setup(state);
}

int hx_teardown(void **state)
{
	return peer_teardown(state);
}

const char *hx_trace_path(const struct peer_fx *fx)
{
	(void)fx;
	return ext.set ? ext.trace : own_trace;
}

int hx_start(struct peer_fx *fx, const char *const *extra)
{
	return hx_start_w(fx, NULL, extra);
}

int hx_start_w(struct peer_fx *fx, const char *trace, const char *const *extra)
{
	if (ext.set) {
		if (kill(ext.pid, 0) < 0)
			return peer_fail(-ESRCH,
			                 "the external vuproxy (pid %d) is not "
			                 "running",
			                 (int)ext.pid);
		snprintf(fx->fe_path, sizeof(fx->fe_path), "%s", ext.fe);
		snprintf(fx->be_path, sizeof(fx->be_path), "%s", ext.be);
		snprintf(fx->log_path, sizeof(fx->log_path), "%s", ext.log);
		memset(&fx->vp, 0, sizeof(fx->vp));
		fx->vp.pid = ext.pid;
		snprintf(fx->vp.log, sizeof(fx->vp.log), "%s", ext.log);
		return 0;
	}
	if (trace)
		snprintf(own_trace, sizeof(own_trace), "%s", trace);
	else
		snprintf(own_trace, sizeof(own_trace), "%s/trace.pcapng.gz",
		         fx->dir);
	const char *args[40] = {"-w", own_trace};
	size_t n = 2;
	for (int i = 0; i < nmore && n < 39; i++)
		args[n++] = more_args[i];
	for (size_t i = 0; extra && extra[i] && n < 39; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	return peer_fx_start(fx, "listen", "connect", args);
}

int hx_stop(struct peer_fx *fx, const char *summary)
{
	if (ext.set)
		return 0;
	int rc = peer_fx_stop(fx);
	if (rc == 0 && summary &&
	    !vproc_has_line(&fx->vp, "vuproxy: ", summary, NULL))
		rc = -1;
	return rc;
}

/* The highest session number whose front-end was accepted on fe_path. */
unsigned hx_newest_session(const struct peer_fx *fx)
{
	char *log = vproc_log(&fx->vp);
	char needle[256];
	snprintf(needle, sizeof(needle), " front-end accepted on %s",
	         fx->fe_path);
	unsigned best = 0;
	for (char *line = log; line && *line;) {
		char *end = strchr(line, '\n');
		if (end)
			*end = '\0';
		const char *hit = strstr(line, needle);
		unsigned id;
		if (hit && hit[strlen(needle)] == '\0' &&
		    sscanf(line, "%*s s%u front-end", &id) == 1 && id > best)
			best = id;
		if (!end)
			break;
		line = end + 1;
	}
	free(log);
	return best;
}

int hs_open(struct peer_fx *fx, struct hsess *s)
{
	int rc = hs_open_anon(fx, s);
	if (rc < 0)
		return rc;
	s->id = hx_newest_session(fx);
	if (!s->id)
		return peer_fail(-1, "no 'sN front-end accepted on %s' line",
		                 fx->fe_path);
	return 0;
}

int hs_open_anon(struct peer_fx *fx, struct hsess *s)
{
	static uint64_t features = 0x7000;
	memset(s, 0, sizeof(*s));
	int fd;
	if (ext.set) {
		/* listen/listen: the back-end waits in vuproxy, the
		 * front-end that comes next takes it. */
		fd = peer_connect(fx->be_path, PEER_TIMEOUT_MS);
		if (fd < 0)
			return fd;
		s->be = peer_new(fd, "be");
		fd = peer_connect(fx->fe_path, PEER_TIMEOUT_MS);
		if (fd < 0)
			return fd;
		s->fe = peer_new(fd, "fe");
	} else {
		int rc = peer_fx_session(fx, &s->fe, &s->be);
		if (rc < 0)
			return rc;
	}
	/* The pair is ours: what one says, the other hears. */
	uint64_t f = ++features;
	int rc = peer_get_features(s->fe, s->be, f);
	if (rc < 0)
		return rc;
	uint32_t code = peer_code("GET_FEATURES");
	hs_expect(s, VUP_CHAN_MAIN, VUP_FRONTEND, code, false, "pass");
	hs_expect(s, VUP_CHAN_MAIN, VUP_BACKEND, code, true, "pass");
	return 0;
}

void hs_free(struct hsess *s)
{
	peer_free(s->fe);
	peer_free(s->be);
	peer_free(s->fe_b);
	peer_free(s->be_b);
	s->fe = s->be = s->fe_b = s->be_b = NULL;
}

struct hrec *hs_expect(struct hsess *s, enum vup_chan chan, enum vup_side from,
                       uint32_t code, bool reply, const char *action)
{
	static struct hrec spare;
	if (s->nrec == HS_MAX_REC) {
		s->overflow = true;
		return &spare;
	}
	struct hrec *r = &s->rec[s->nrec++];
	memset(r, 0, sizeof(*r));
	r->chan = chan;
	r->from = from;
	r->code = code;
	r->reply = reply;
	snprintf(r->action, sizeof(r->action), "%s", action);
	return r;
}

int hs_relay(struct hsess *s, enum vup_side from, enum vup_chan chan,
             uint32_t code, uint32_t flags, const void *payload, uint32_t size,
             const int *fds, unsigned nfds)
{
	struct peer *src, *dst;
	if (chan == VUP_CHAN_MAIN) {
		src = from == VUP_FRONTEND ? s->fe : s->be;
		dst = from == VUP_FRONTEND ? s->be : s->fe;
	} else {
		src = from == VUP_FRONTEND ? s->fe_b : s->be_b;
		dst = from == VUP_FRONTEND ? s->be_b : s->fe_b;
	}
	if (!src || !dst)
		return peer_fail(-EINVAL, "hs_relay: no such channel");
	int rc = peer_relay_check(src, dst, code, flags, payload, size, fds,
	                          nfds);
	if (rc == 0)
		hs_expect(s, chan, from, code, flags & VUP_FLAG_REPLY, "pass");
	return rc;
}

int hs_open_bch(struct hsess *s)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return peer_fail(-errno, "socketpair: %s", strerror(errno));
	uint32_t code = peer_code("SET_BACKEND_REQ_FD");
	int rc = peer_send(s->fe, code, V, NULL, 0, &sv[1], 1);
	close(sv[1]);
	struct vup_msg *m = calloc(1, sizeof(*m));
	if (rc == 0 && m)
		rc = peer_recv(s->be, m, PEER_TIMEOUT_MS) == 1 ? 0 : -1;
	if (rc == 0 && m->nfds != 1)
		rc = peer_fail(-1, "SET_BACKEND_REQ_FD arrived with %u fds",
		               m->nfds);
	if (rc == 0) {
		s->fe_b = peer_new(sv[0], "fe-bch");
		s->be_b = peer_new(m->fds[0], "be-bch");
		m->nfds = 0;
		hs_expect(s, VUP_CHAN_MAIN, VUP_FRONTEND, code, false, "pass");
	} else {
		close(sv[0]);
	}
	if (m)
		peer_msg_close(m);
	free(m);
	return rc;
}

int hs_alive(struct hsess *s, uint64_t features)
{
	int rc = peer_get_features(s->fe, s->be, features);
	if (rc == 0) {
		uint32_t code = peer_code("GET_FEATURES");
		hs_expect(s, VUP_CHAN_MAIN, VUP_FRONTEND, code, false, "pass");
		hs_expect(s, VUP_CHAN_MAIN, VUP_BACKEND, code, true, "pass");
	}
	return rc;
}

int hx_wait_closed(const struct peer_fx *fx, unsigned id)
{
	char needle[32];
	snprintf(needle, sizeof(needle), " s%u closed: ", id);
	return vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS, needle, NULL);
}

/* Does one line of log hold every needle? */
static bool any_line(const char *log, const char **needles, size_t n)
{
	for (const char *line = log; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		bool all = true;
		for (size_t i = 0; all && i < n; i++)
			all = memmem(line, len, needles[i], strlen(needles[i]));
		if (all)
			return true;
		line = end ? end + 1 : NULL;
	}
	return false;
}

bool hx_error_line(const struct peer_fx *fx, unsigned id, ...)
{
	char first[32];
	snprintf(first, sizeof(first), "error: s%u ", id);
	const char *needles[16] = {first};
	size_t n = 1;
	va_list ap;
	va_start(ap, id);
	const char *s;
	while ((s = va_arg(ap, const char *)) && n < 16)
		needles[n++] = s;
	va_end(ap);
	char *log = vproc_log(&fx->vp);
	bool ok = any_line(log, needles, n);
	free(log);
	return ok;
}

int hs_close_clean(struct peer_fx *fx, struct hsess *s)
{
	peer_free(s->fe);
	s->fe = NULL;
	int rc = peer_expect_eof(s->be, PEER_TIMEOUT_MS);
	if (rc < 0)
		return rc;
	char needle[64];
	snprintf(needle, sizeof(needle), " s%u closed: front-end hung up",
	         s->id);
	rc = vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS, needle, NULL);
	if (rc < 0)
		return rc;
	if (hx_error_line(fx, s->id, NULL))
		return peer_fail(-1, "s%u logged an error: %s", s->id,
		                 vproc_log_tail(&fx->vp));
	return 0;
}

/* Trace records, from vuproxy dump --json. */

static bool json_str(const char *line, const char *key, char *out, size_t len)
{
	char k[64];
	snprintf(k, sizeof(k), "\"%s\":\"", key);
	const char *p = strstr(line, k);
	if (!p)
		return false;
	p += strlen(k);
	const char *e = strchr(p, '"');
	if (!e)
		return false;
	snprintf(out, len, "%.*s", (int)(e - p), p);
	return true;
}

static bool parse_rec(const char *line, struct hrec *r)
{
	char chan[16], from[16], req[64];
	memset(r, 0, sizeof(*r));
	const char *code = strstr(line, "\"code\":");
	const char *fds = strstr(line, "\"fds\":[");
	if (!json_str(line, "channel", chan, sizeof(chan)) ||
	    !json_str(line, "from", from, sizeof(from)) ||
	    !json_str(line, "request", req, sizeof(req)) ||
	    !json_str(line, "action", r->action, sizeof(r->action)) || !code ||
	    !fds)
		return false;
	r->chan = strcmp(chan, "main") == 0 ? VUP_CHAN_MAIN : VUP_CHAN_BACKEND;
	r->from = strcmp(from, "front-end") == 0 ? VUP_FRONTEND : VUP_BACKEND;
	r->code = (uint32_t)strtoul(code + 7, NULL, 10);
	r->reply = strstr(line, "\"reply\":true") != NULL;
	json_str(line, "mark", r->mark, sizeof(r->mark));
	const char *end = strchr(fds, ']');
	unsigned i = 0;
	for (const char *k = fds;
	     end && (k = strstr(k, "\"kind\":\"")) && k < end; k++) {
		char kind[16];
		json_str(k - 1, "kind", kind, sizeof(kind));
		size_t used = strlen(r->fdkinds);
		snprintf(r->fdkinds + used, sizeof(r->fdkinds) - used, "%s%s",
		         used ? "," : "", kind);
		const char *sz = strstr(k, "\"size\":");
		if (sz && i < 4)
			r->fdsize[i] = strtoull(sz + 7, NULL, 10);
		i++;
	}
	return true;
}

static void rec_text(const struct hrec *r, char *out, size_t len)
{
	snprintf(out, len, "%s %s %s%s %s [%s]%s%s",
	         r->chan == VUP_CHAN_MAIN ? "main" : "backend",
	         vup_side_name(r->from), vup_proto_name(r->chan, r->code),
	         r->reply ? " reply" : "", r->action, r->fdkinds,
	         r->mark[0] ? " mark: " : "", r->mark);
}

static bool rec_equal(const struct hrec *want, const struct hrec *got)
{
	if (want->chan != got->chan || want->from != got->from ||
	    want->code != got->code || want->reply != got->reply ||
	    strcmp(want->action, got->action) != 0)
		return false;
	/* Marked where a problem was relayed, and nowhere else. */
	if (strncmp(got->mark, want->mark, strlen(want->mark)) != 0 ||
	    (!want->mark[0] && got->mark[0]))
		return false;
	if (!want->fdkinds[0])
		return true;
	if (strcmp(want->fdkinds, got->fdkinds) != 0)
		return false;
	for (int i = 0; i < 4; i++)
		if (want->fdsize[i] && want->fdsize[i] != got->fdsize[i])
			return false;
	return true;
}

/* Run vuproxy dump --json on the trace (session 0: all of them); calls
 * each(line, arg) per control-message record.  Returns the records seen, with
 * dump's exit status in *code and its stderr in err; both are set on every
 * path (-1 and "" when dump did not run or did not exit). */
long hx_dump(const struct peer_fx *fx, unsigned id, const char *request,
             void (*each)(const char *line, void *arg), void *arg, int *code,
             char *err, size_t errlen)
{
	const char *bin = getenv("VUPROXY");
	char cmd[1024], sess[32] = "", err_path[256];
	*code = -1;
	err[0] = '\0';
	if (id)
		snprintf(sess, sizeof(sess), "--session %u ", id);
	snprintf(err_path, sizeof(err_path), "%s/dump.err", fx->dir);
	snprintf(cmd, sizeof(cmd), "'%s' dump --json %s%s%s '%s' 2>'%s'", bin,
	         sess, request ? "--request " : "", request ? request : "",
	         hx_trace_path(fx), err_path);
	FILE *p = popen(cmd, "r");
	if (!p)
		return peer_fail(-errno, "popen %s: %s", cmd, strerror(errno));
	static char line[1 << 16];
	long n = 0;
	while (fgets(line, sizeof(line), p)) {
		/* Control messages only, not the tap's records (--tap). */
		if (line[0] != '{' || !strstr(line, "\"request\":\""))
			continue;
		if (each)
			each(line, arg);
		n++;
	}
	int st = pclose(p);
	*code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	FILE *e = fopen(err_path, "r");
	if (e) {
		size_t k = fread(err, 1, errlen - 1, e);
		err[k] = '\0';
		fclose(e);
	}
	return n;
}

/* hx_dump, where a live or killed trace (no gzip trailer: dump exits 2
 * saying it is cut short) is as good as a finished one. */
static long run_dump(const struct peer_fx *fx, unsigned id, const char *request,
                     void (*each)(const char *line, void *arg), void *arg)
{
	int code;
	char err[1024];
	long n = hx_dump(fx, id, request, each, arg, &code, err, sizeof(err));
	if (n < 0 || code == 0 || (code == 2 && strstr(err, "cut short")))
		return n;
	return peer_fail(-1, "vuproxy dump %s: exit %d: %s", hx_trace_path(fx),
	                 code, err);
}

struct collect {
	struct hrec got[HS_MAX_REC + 1];
	unsigned n;
	bool bad;
};

static void collect_one(const char *line, void *arg)
{
	struct collect *c = arg;
	if (c->n > HS_MAX_REC)
		return;
	if (!parse_rec(line, &c->got[c->n]))
		c->bad = true;
	c->n++;
}

int hs_check_trace(const struct peer_fx *fx, const struct hsess *s)
{
	if (s->overflow)
		return peer_fail(-1, "s%u: more than %d records expected",
		                 s->id, HS_MAX_REC);
	struct collect *c = calloc(1, sizeof(*c));
	if (!c)
		return peer_fail(-ENOMEM, "out of memory");
	long n = run_dump(fx, s->id, NULL, collect_one, c);
	int rc = n < 0 ? -1 : 0;
	unsigned bad = 0;
	if (rc == 0 && c->bad)
		rc = peer_fail(-1, "dump printed a line that is not a record");
	if (rc == 0) {
		while (bad < s->nrec && bad < c->n &&
		       rec_equal(&s->rec[bad], &c->got[bad]))
			bad++;
		if (bad != s->nrec || (long)s->nrec != n)
			rc = -1;
	}
	if (rc < 0 && n >= 0 && !c->bad) {
		char msg[6144], t[256];
		size_t u = (size_t)snprintf(
		        msg, sizeof(msg),
		        "the trace of s%u differs at record %u (%ld records, "
		        "%u expected)\n  expected:",
		        s->id, bad, n, s->nrec);
		for (unsigned i = 0; i < s->nrec && u < sizeof(msg); i++) {
			rec_text(&s->rec[i], t, sizeof(t));
			u += (size_t)snprintf(msg + u, sizeof(msg) - u,
			                      "\n    %s", t);
		}
		if (u < sizeof(msg))
			u += (size_t)snprintf(msg + u, sizeof(msg) - u,
			                      "\n  in the trace:");
		for (unsigned i = 0;
		     i < c->n && i <= HS_MAX_REC && u < sizeof(msg); i++) {
			rec_text(&c->got[i], t, sizeof(t));
			u += (size_t)snprintf(msg + u, sizeof(msg) - u,
			                      "\n    %s", t);
		}
		peer_fail(-1, "%s", msg);
	}
	free(c);
	return rc;
}

long hx_trace_count(const struct peer_fx *fx, unsigned id, const char *request)
{
	return run_dump(fx, id, request, NULL, NULL);
}

int hx_nfds(const struct peer_fx *fx)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)fx->vp.pid);
	DIR *d = opendir(path);
	if (!d)
		return peer_fail(-errno, "%s: %s", path, strerror(errno));
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int hx_wait_nfds(const struct peer_fx *fx, int want)
{
	uint64_t end = peer_now_ms() + 2000;
	int n;
	while ((n = hx_nfds(fx)) != want && peer_now_ms() < end)
		peer_sleep_ms(5);
	return n;
}

int hx_memfd(size_t size)
{
	int fd = memfd_create("vup-hostile", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		fprintf(stderr, "memfd: %s\n", strerror(errno));
		abort();
	}
	return fd;
}

void hx_hdr(uint8_t *buf, uint32_t req, uint32_t flags, uint32_t size)
{
	struct vup_hdr h = {req, flags, size};
	memcpy(buf, &h, sizeof(h));
}
