/* `vuproxy extcap ...`: Wireshark's extcap protocol (extcap(4)), so that
 * the sessions of every running vuproxy show up as capture interfaces.
 *
 *   --extcap-interfaces          one interface per vuproxy (all its
 *                                sessions) and one per live session
 *   --extcap-dlts, --extcap-config, --extcap-capture-filter (checked)
 *   --capture --extcap-interface I --fifo PATH
 *
 * The running vuproxys are found by their control sockets: every *.ctl in
 * /run/vuproxy and $XDG_RUNTIME_DIR/vuproxy, or instead in the
 * directories of --vuproxy-dir / $VUPROXY_CTL_DIR (colon-separated).  A
 * socket nobody answers on is stale and skipped without a word.
 *
 * A capture opens Wireshark's fifo and passes it with "record-start"
 * (format pcapng): vuproxy writes its recording, declared set-up first,
 * straight into the fifo, and this process only waits.  It ends the
 * recording ("record-stop") when Wireshark stops it (SIGTERM, SIGINT, the
 * fifo's reader gone) or when the captured session goes down; when
 * vuproxy exits, the fifo is closed by vuproxy and this exits too.  Exit
 * status 0, or 1 with the reason on stderr (Wireshark shows it). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "vuproxy/control.h"

/* The version of this extcap (Wireshark shows it under About). */
#define EXTCAP_VERSION "1.0"
#define DIRS_MAX       8
#define VUPROXYS_MAX   256
#define ASK_TIMEOUT_S  2 /* a vuproxy that does not answer is skipped */

struct opts {
	bool interfaces, dlts, config, capture;
	const char *iface, *fifo, *filter, *dirs;
};

/* One running vuproxy: its name (the socket's, without .ctl). */
struct vp {
	char name[256];
	char path[4096];
};

static struct vp found[VUPROXYS_MAX]; /* 1 MiB: not on the stack */

/* A connection to a control socket and what it has read. */
struct conn {
	int fd;
	char *buf;
	size_t cap, have, line; /* line: bytes of the last line returned */
	struct vup_json_doc doc;
	bool parsed;
};

static int usage(FILE *f)
{
	fprintf(f, "usage: vuproxy extcap --extcap-interfaces | "
	           "--extcap-interface IF (--extcap-dlts | --extcap-config |\n"
	           "         --capture --fifo PATH) [--vuproxy-dir DIR[:DIR]]\n"
	           "  Wireshark's extcap protocol: run by Wireshark through "
	           "the vuproxy-extcap\n"
	           "  launcher in its extcap folder (README, \"Live in "
	           "Wireshark\").  The vuproxys:\n"
	           "  their control sockets, *.ctl in /run/vuproxy and "
	           "$XDG_RUNTIME_DIR/vuproxy,\n"
	           "  or instead in --vuproxy-dir or $VUPROXY_CTL_DIR.\n");
	return f == stdout ? 0 : 1;
}

/* --opt VALUE or --opt=VALUE.  1 matched, 0 not this option, -1 no
 * value. */
static int opt_value(char **argv, int argc, int *i, const char *name,
                     const char **out)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n) != 0)
		return 0;
	if (argv[*i][n] == '=') {
		*out = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n])
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*out = argv[++*i];
	return 1;
}

static int parse(struct opts *o, int argc, char **argv)
{
	const struct {
		const char *name;
		bool *flag;
		const char **value;
	} t[] = {
	        {"--extcap-interfaces", &o->interfaces, NULL},
	        {"--extcap-dlts", &o->dlts, NULL},
	        {"--extcap-config", &o->config, NULL},
	        {"--capture", &o->capture, NULL},
	        {"--extcap-interface", NULL, &o->iface},
	        {"--fifo", NULL, &o->fifo},
	        {"--extcap-capture-filter", NULL, &o->filter},
	        {"--vuproxy-dir", NULL, &o->dirs},
	};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int m = 0;
		for (size_t k = 0; k < sizeof(t) / sizeof(t[0]) && !m; k++) {
			if (t[k].flag && strcmp(a, t[k].name) == 0)
				m = *t[k].flag = true;
			else if (t[k].value)
				m = opt_value(argv, argc, &i, t[k].name,
				              t[k].value);
		}
		if (m > 0)
			continue;
		/* --extcap-version, the control pipes, --debug and what
		 * newer Wireshark versions pass: not ours to refuse. */
		if (m == 0 && (strncmp(a, "--extcap-", 9) == 0 ||
		               strncmp(a, "--debug", 7) == 0)) {
			if (!strchr(a, '=') && i + 1 < argc &&
			    argv[i + 1][0] != '-')
				i++;
			continue;
		}
		fprintf(stderr, "vuproxy extcap: %s '%s'\n",
		        m ? "no value for" : "unknown option", a);
		return -1;
	}
	return 0;
}

/* The directories to look in: the user's list, else the defaults. */
static size_t dirs(const struct opts *o, char out[][4096])
{
	const char *list = o->dirs ? o->dirs : getenv("VUPROXY_CTL_DIR");
	size_t n = 0;
	if (list && *list) {
		for (const char *p = list; *p && n < DIRS_MAX;) {
			size_t l = strcspn(p, ":");
			if (l && l < 4096)
				snprintf(out[n++], 4096, "%.*s", (int)l, p);
			p += l + (p[l] == ':');
		}
		return n;
	}
	snprintf(out[n++], 4096, "/run/vuproxy");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg && *xdg)
		snprintf(out[n++], 4096, "%s/vuproxy", xdg);
	return n;
}

/* A name that fits in an extcap sentence and an interface value. */
static bool name_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == '{' || *s == '}' ||
		    *s == 0x7f)
			return false;
	return true;
}

/* Every control socket in the directories, the first of each name. */
static size_t discover(const struct opts *o, struct vp *out, size_t cap)
{
	char d[DIRS_MAX][4096];
	size_t nd = dirs(o, d), n = 0;
	for (size_t i = 0; i < nd; i++) {
		DIR *dir = opendir(d[i]);
		struct dirent *e;
		while (dir && (e = readdir(dir)) && n < cap) {
			size_t l = strlen(e->d_name);
			if (l <= 4 || strcmp(e->d_name + l - 4, ".ctl") != 0 ||
			    l - 4 >= sizeof(out->name))
				continue;
			struct vp *v = &out[n];
			snprintf(v->name, sizeof(v->name), "%.*s", (int)(l - 4),
			         e->d_name);
			if ((size_t)snprintf(v->path, sizeof(v->path), "%s/%s",
			                     d[i],
			                     e->d_name) >= sizeof(v->path) ||
			    !name_ok(v->name))
				continue;
			struct stat st;
			bool dup = false;
			for (size_t k = 0; k < n && !dup; k++)
				dup = strcmp(out[k].name, v->name) == 0;
			if (!dup && stat(v->path, &st) == 0 &&
			    S_ISSOCK(st.st_mode))
				n++;
		}
		if (dir)
			closedir(dir);
	}
	return n;
}

static void conn_close(struct conn *c)
{
	if (c->parsed)
		vup_json_doc_free(&c->doc);
	c->parsed = false;
	free(c->buf);
	if (c->fd >= 0)
		close(c->fd);
	*c = (struct conn){.fd = -1};
}

static int conn_open(struct conn *c, const char *path)
{
	*c = (struct conn){.fd = vup__ctl_connect(path)};
	if (c->fd < 0)
		return c->fd;
	/* Bounded: a stopped vuproxy must not hang Wireshark. */
	struct timeval tv = {.tv_sec = ASK_TIMEOUT_S};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return 0;
}

/* The next line, parsed into c->doc.  1, 0 at EOF, or -errno. */
static int conn_next(struct conn *c)
{
	if (c->parsed)
		vup_json_doc_free(&c->doc);
	c->parsed = false;
	if (c->line) { /* the last line goes (none before the first) */
		memmove(c->buf, c->buf + c->line, c->have - c->line);
		c->have -= c->line;
		c->line = 0;
	}
	ssize_t n = vup__ctl_read_line(c->fd, &c->buf, &c->cap, &c->have);
	if (n <= 0)
		return n == 0 ? 0 : (int)n;
	c->line = (size_t)n;
	char err[128];
	if (vup_json_parse(&c->doc, c->buf, (size_t)n - 1, err, sizeof(err)))
		return -EBADMSG;
	c->parsed = true;
	return 1;
}

/* A whole line already read and waiting? */
static bool conn_buffered(const struct conn *c)
{
	return c->have > c->line &&
	       memchr(c->buf + c->line, '\n', c->have - c->line);
}

/* Is the line an event "session-down" of session sid?  (Never for 0,
 * every session: that capture lasts as long as vuproxy.) */
static bool is_down(const struct conn *c, int64_t sid)
{
	char kind[32];
	int64_t s = -1;
	if (!sid ||
	    vup_json_string(&c->doc, vup_json_get(&c->doc, 0, "event"), kind,
	                    sizeof(kind), NULL) ||
	    strcmp(kind, "session-down") != 0)
		return false;
	vup_json_int(&c->doc, vup_json_get(&c->doc, 0, "session"), &s);
	return s == sid;
}

/* Send cmd (a JSON object line), fd passed with it (or -1), and read
 * up to its reply, noting on the way whether session sid went down.
 * 0: ok, the reply's result node in *res; 1: an error reply, its text in
 * err; -errno: the connection failed. */
static int ask(struct conn *c, const char *req, int fd, int64_t sid, bool *down,
               int *res, char *err, size_t errlen)
{
	int rc = vup__ctl_send(c->fd, req, strlen(req), fd);
	while (rc == 0 && (rc = conn_next(c)) == 1) {
		if (vup_json_get(&c->doc, 0, "event") >= 0) {
			if (down && is_down(c, sid))
				*down = true;
			rc = 0;
			continue;
		}
		int ok = vup_json_get(&c->doc, 0, "ok");
		if (ok >= 0 && c->doc.n[ok].type == VUP_JSON_TRUE) {
			*res = vup_json_get(&c->doc, 0, "result");
			return 0;
		}
		if (vup_json_string(&c->doc, vup_json_get(&c->doc, 0, "error"),
		                    err, errlen, NULL))
			snprintf(err, errlen, "an error reply without text");
		return 1;
	}
	return rc == 0 ? -ECONNRESET : rc;
}

/* A member of object o as a string ("" if absent); the role before
 * "listen:"/"connect:" dropped from endpoints. */
static void member(const struct vup_json_doc *d, int o, const char *key,
                   char *out, size_t cap)
{
	if (vup_json_string(d, vup_json_get(d, o, key), out, cap, NULL))
		*out = '\0';
	const char *colon = strchr(out, ':');
	if (colon && (strncmp(out, "listen:", 7) == 0 ||
	              strncmp(out, "connect:", 8) == 0))
		memmove(out, colon + 1, strlen(colon));
}

/* The interfaces of one vuproxy; nothing if it does not answer. */
static void list_one(const struct vp *v)
{
	struct conn c;
	int res = -1;
	char err[256];
	if (conn_open(&c, v->path) < 0 ||
	    ask(&c, "{\"cmd\":\"sessions\"}\n", -1, 0, NULL, &res, err,
	        sizeof(err)) != 0 ||
	    res < 0 || c.doc.n[res].type != VUP_JSON_ARRAY) {
		conn_close(&c);
		return;
	}
	printf("interface {value=vuproxy-%s}{display=vuproxy %s: all "
	       "sessions}\n",
	       v->name, v->name);
	for (int s = c.doc.n[res].child; s >= 0; s = c.doc.n[s].next) {
		int64_t id;
		char fe[1024], be[1024], state[32];
		if (vup_json_int(&c.doc, vup_json_get(&c.doc, s, "session"),
		                 &id))
			continue;
		member(&c.doc, s, "frontend", fe, sizeof(fe));
		member(&c.doc, s, "backend", be, sizeof(be));
		member(&c.doc, s, "state", state, sizeof(state));
		if (strcmp(state, "closed") == 0 || !name_ok(fe) ||
		    !name_ok(be))
			continue;
		printf("interface {value=vuproxy-%s-s%lld}{display=vuproxy %s "
		       "session %lld (front-end %s, back-end %s)}\n",
		       v->name, (long long)id, v->name, (long long)id, fe, be);
	}
	conn_close(&c);
}

static int list(const struct opts *o)
{
	size_t n = discover(o, found, VUPROXYS_MAX);
	printf("extcap {version=%s}{display=vuproxy: vhost-user sessions "
	       "of running vuproxys}\n",
	       EXTCAP_VERSION);
	for (size_t i = 0; i < n; i++)
		list_one(&found[i]);
	return 0;
}

/* Interface value to its vuproxy and session (0: all sessions).  A name
 * that is a vuproxy's whole takes precedence over one with -sN cut. */
static int resolve(const struct opts *o, const char *iface, struct vp *out,
                   int64_t *sid)
{
	struct vp *v = found;
	if (strncmp(iface, "vuproxy-", 8) != 0)
		return -ENOENT;
	const char *rest = iface + 8;
	size_t n = discover(o, v, VUPROXYS_MAX);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, rest) == 0) {
			*out = v[i];
			*sid = 0;
			return 0;
		}
	const char *s = strrchr(rest, '-');
	char *end;
	long long id = s && s[1] == 's' ? strtoll(s + 2, &end, 10) : 0;
	if (!s || s[1] != 's' || !s[2] || *end || id <= 0)
		return -ENOENT;
	for (size_t i = 0; i < n; i++)
		if (strlen(v[i].name) == (size_t)(s - rest) &&
		    strncmp(v[i].name, rest, (size_t)(s - rest)) == 0) {
			*out = v[i];
			*sid = id;
			return 0;
		}
	return -ENOENT;
}

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

/* SIGTERM, SIGINT, SIGHUP set stop_signal and interrupt what blocks
 * (no SA_RESTART); they stay blocked but during *old's ppoll. */
static void catch_stops(sigset_t *old)
{
	struct sigaction sa = {.sa_handler = on_stop};
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, old);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Until Wireshark stops us, the session goes down or vuproxy goes away.
 * Wireshark's reading end of the fifo is watched too (POLLERR once it
 * is closed): a Wireshark that died without a signal to us (its stdin
 * pipe says nothing: it is closed from the start).  Returns true if the
 * recording should be stopped (vuproxy still there). */
static bool wait_for_end(struct conn *c, int64_t sid, int fifo,
                         const sigset_t *old)
{
	while (!stop_signal) {
		while (conn_buffered(c)) {
			if (conn_next(c) != 1)
				return false;
			if (is_down(c, sid))
				return true;
		}
		struct pollfd pf[2] = {{c->fd, POLLIN, 0}, {fifo, 0, 0}};
		int n = ppoll(pf, 2, NULL, old);
		if (n < 0 && errno != EINTR)
			return true;
		if (n > 0 && pf[0].revents) {
			if (conn_next(c) != 1) /* vuproxy exited */
				return false;
			if (is_down(c, sid))
				return true;
		}
		if (n > 0 && pf[1].revents)
			return true;
	}
	return true;
}

/* Subscribe, pass the fifo with record-start, wait, record-stop. */
static int record(struct conn *c, const struct vp *v, int64_t sid,
                  const char *fifo, const sigset_t *old)
{
	char err[1100], req[256];
	int res, rc;
	bool down = false;
	if ((rc = ask(c, "{\"cmd\":\"subscribe\"}\n", -1, sid, &down, &res, err,
	              sizeof(err))))
		goto refused;
	/* Blocks until Wireshark opens its end: let a stop interrupt it
	 * (one that came while signals were blocked is handled as they are
	 * unblocked, before the open: checked after). */
	sigprocmask(SIG_SETMASK, old, NULL);
	int fd = stop_signal ? (errno = EINTR, -1)
	                     : open(fifo, O_WRONLY | O_CLOEXEC);
	int e = errno;
	catch_stops(NULL);
	if (fd < 0) {
		if (stop_signal)
			return 0;
		fprintf(stderr, "vuproxy extcap: %s: %s\n", fifo, strerror(e));
		return 1;
	}
	if (sid)
		snprintf(req, sizeof(req),
		         "{\"cmd\":\"record-start\",\"format\":\"pcapng\","
		         "\"session\":%lld}\n",
		         (long long)sid);
	else
		snprintf(req, sizeof(req),
		         "{\"cmd\":\"record-start\",\"format\":\"pcapng\"}\n");
	rc = ask(c, req, fd, sid, &down, &res, err, sizeof(err));
	bool stop = !rc && (down || wait_for_end(c, sid, fd, old));
	/* Closed before record-stop: vuproxy then holds the only writing
	 * end, and Wireshark reads the end of the capture once vuproxy
	 * closes it (record-stop, or its exit). */
	close(fd);
	if (rc)
		goto refused;
	if (stop)
		ask(c, "{\"cmd\":\"record-stop\"}\n", -1, 0, NULL, &res, err,
		    sizeof(err)); /* refused: it had stopped (Wireshark left) */
	return 0;
refused:
	if (rc < 0)
		snprintf(err, sizeof(err), "%s", strerror(-rc));
	fprintf(stderr, "vuproxy extcap: vuproxy %s (%s): %s\n", v->name,
	        v->path, err);
	return 1;
}

static int capture(const struct opts *o)
{
	if (!o->fifo) {
		fprintf(stderr, "vuproxy extcap: --capture needs --fifo\n");
		return 1;
	}
	if (o->filter && *o->filter) {
		fprintf(stderr,
		        "vuproxy extcap: a capture filter does not apply to "
		        "vhost-user messages; use a display filter (vhostuser "
		        "or vuproxy fields)\n");
		return 1;
	}
	struct vp v;
	int64_t sid;
	if (resolve(o, o->iface, &v, &sid)) {
		fprintf(stderr,
		        "vuproxy extcap: %s: no such vuproxy (is it still "
		        "running? its control socket is looked for in "
		        "/run/vuproxy, $XDG_RUNTIME_DIR/vuproxy or "
		        "$VUPROXY_CTL_DIR)\n",
		        o->iface);
		return 1;
	}
	sigset_t old;
	catch_stops(&old);
	struct conn c;
	int rc = conn_open(&c, v.path);
	if (rc < 0) {
		fprintf(stderr, "vuproxy extcap: cannot connect to %s: %s\n",
		        v.path, strerror(-rc));
		return 1;
	}
	rc = record(&c, &v, sid, o->fifo, &old);
	conn_close(&c);
	return rc;
}

int vup_extcap_main(int argc, char **argv)
{
	struct opts o = {0};
	if (argc == 2 &&
	    (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
		return usage(stdout);
	if (parse(&o, argc, argv) < 0)
		return usage(stderr);
	if (o.interfaces)
		return list(&o);
	if (!o.iface)
		return usage(stderr);
	if (o.dlts) {
		/* Informational: the fifo carries pcapng, and its interface
		 * blocks name the link types (USER0 for the messages, and
		 * EN10MB for a tap's packets). */
		printf("dlt {number=147}{name=USER0}{display=vhost-user "
		       "messages (vuproxy)}\n");
		return 0;
	}
	if (o.config)
		return 0; /* no options */
	if (o.capture)
		return capture(&o);
	if (o.filter) {
		/* Wireshark checks a capture filter: a line means invalid. */
		if (*o.filter)
			printf("vuproxy captures take no capture filter; use "
			       "a display filter\n");
		return 0;
	}
	return usage(stderr);
}
