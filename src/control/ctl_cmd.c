/* `vuproxy ctl SOCKET COMMAND [ARGS] [--json]`: one request to a running
 * vuproxy's control socket, its reply as a table (or the JSON with
 * --json).  Exit status: 0 ok, 1 error reply, 2 cannot connect or usage.
 *
 * A FILE to record or snapshot into is opened here, by the user who runs
 * the client, and passed as an fd: a hardened vuproxy writes where its
 * user can, not where it could. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "vuproxy/control.h"

#define REPLY_MAX (64u << 20)

struct ctl {
	const char *sock;
	const char *cmd; /* the protocol's name, for the printer */
	bool json, prometheus, stream;
	bool quiet_stdout;   /* stdout carries a recording: replies to stderr */
	int fd_pass;         /* -1 none */
	const char *created; /* the file fd_pass opened, if it made it */
	struct vup_jw req;
};

static int usage(void)
{
	fprintf(stderr,
	        "usage: vuproxy ctl SOCKET|NAME COMMAND [ARGS] [--json]\n"
	        "  sessions | show N | stats [--prometheus] | log-level "
	        "[LEVEL] | subscribe\n"
	        "  rules load FILE [--session N] | rules clear [--session N]\n"
	        "  record start FILE|- [--session N] [--tap net|blk] | "
	        "record stop\n"
	        "  snapshot [FILE] | help\n"
	        "NAME: the vuproxy started with --name NAME (its socket "
	        "$RUNTIME/NAME.ctl)\n");
	return 2;
}

/* Not truncated here: vuproxy empties the file once it takes it, so a
 * refused request (a recording runs already, into this very file) leaves
 * it as it was.  A file made here and refused is removed again. */
static int open_out(struct ctl *c, const char *path)
{
	int fd =
	        open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	             0600);
	if (fd >= 0)
		c->created = path;
	else if (errno == EEXIST)
		fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		fprintf(stderr, "vuproxy ctl: %s: %s\n", path, strerror(errno));
	return fd;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "vuproxy ctl: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	size_t cap = VUP_CONTROL_LINE_MAX / 2 + 1; /* escaping may double */
	char *buf = malloc(cap);
	size_t n = buf ? fread(buf, 1, cap, f) : 0;
	fclose(f);
	if (!buf || n == cap) {
		fprintf(stderr, "vuproxy ctl: %s: larger than %zu bytes\n",
		        path, cap - 1);
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* --session N, --tap K after the positional arguments. */
static int options(struct ctl *c, int argc, char **argv, bool tap)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--session") == 0 && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end || v < 0)
				return usage();
			vup_jw_key(&c->req, "session");
			vup_jw_int(&c->req, v);
		} else if (tap && strcmp(argv[i], "--tap") == 0 &&
		           i + 1 < argc) {
			vup_jw_kstr(&c->req, "tap", argv[++i]);
		} else {
			fprintf(stderr, "vuproxy ctl: unexpected '%s'\n",
			        argv[i]);
			return usage();
		}
	}
	return 0;
}

static void begin(struct ctl *c, const char *cmd)
{
	c->cmd = cmd;
	vup_jw_kstr(&c->req, "cmd", cmd);
}

static int rules_args(struct ctl *c, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "clear") == 0) {
		begin(c, "rules-clear");
		return options(c, argc - 1, argv + 1, false);
	}
	if (argc < 2 || strcmp(argv[0], "load") != 0)
		return usage();
	size_t len;
	char *text = read_file(argv[1], &len);
	if (!text)
		return 1;
	begin(c, "rules-load");
	vup_jw_kstr(&c->req, "name", argv[1]);
	vup_jw_key(&c->req, "text");
	vup_jw_strn(&c->req, text, len);
	free(text);
	return options(c, argc - 2, argv + 2, false);
}

static int record_args(struct ctl *c, int argc, char **argv)
{
	if (argc == 1 && strcmp(argv[0], "stop") == 0) {
		begin(c, "record-stop");
		return 0;
	}
	if (argc < 2 || strcmp(argv[0], "start") != 0)
		return usage();
	const char *file = argv[1];
	size_t n = strlen(file);
	bool gz = n > 3 && strcmp(file + n - 3, ".gz") == 0;
	begin(c, "record-start");
	vup_jw_kstr(&c->req, "format", gz ? "gzip" : "pcapng");
	if (strcmp(file, "-") == 0) {
		c->fd_pass = STDOUT_FILENO;
		c->quiet_stdout = true;
	} else if ((c->fd_pass = open_out(c, file)) < 0) {
		return 1;
	}
	return options(c, argc - 2, argv + 2, true);
}

/* COMMAND [ARGS] to the request in c->req.  0, or the exit status. */
static int build(struct ctl *c, int argc, char **argv)
{
	const char *cmd = argv[0];
	vup_jw_obj(&c->req);
	if (strcmp(cmd, "rules") == 0)
		return rules_args(c, argc - 1, argv + 1);
	if (strcmp(cmd, "record") == 0)
		return record_args(c, argc - 1, argv + 1);
	if (strcmp(cmd, "show") == 0) {
		char *end;
		long v = argc == 2 ? strtol(argv[1], &end, 10) : -1;
		if (argc != 2 || *end || v < 0)
			return usage();
		begin(c, "show");
		vup_jw_key(&c->req, "session");
		vup_jw_int(&c->req, v);
		return 0;
	}
	if (strcmp(cmd, "log-level") == 0 && argc <= 2) {
		begin(c, "log-level");
		if (argc == 2)
			vup_jw_kstr(&c->req, "level", argv[1]);
		return 0;
	}
	if (strcmp(cmd, "snapshot") == 0 && argc <= 2) {
		begin(c, "snapshot");
		if (argc == 2 && (c->fd_pass = open_out(c, argv[1])) < 0)
			return 1;
		return 0;
	}
	if (strcmp(cmd, "stats") == 0 && argc == 2 &&
	    strcmp(argv[1], "--prometheus") == 0) {
		c->prometheus = true;
		argc = 1;
	}
	static const char *const plain[] = {"sessions", "stats", "subscribe",
	                                    "help", NULL};
	for (int i = 0; plain[i]; i++)
		if (strcmp(cmd, plain[i]) == 0 && argc == 1) {
			begin(c, plain[i]);
			c->stream = strcmp(cmd, "subscribe") == 0;
			return 0;
		}
	fprintf(stderr, "vuproxy ctl: unknown command or arguments: %s\n", cmd);
	return usage();
}

int vup__ctl_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A stopped vuproxy whose backlog is full must not hang the client
	 * in connect (a unix connect honours the send timeout). */
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* SOCKET: a path, or the name of a vuproxy (--name, the unit's
 * instance) whose socket is $RUNTIME/NAME.ctl: a word with no slash
 * that names no file here. */
static const char *socket_path(const char *arg, char *buf, size_t len)
{
	char dir[4096], err[256];
	if (strchr(arg, '/') || access(arg, F_OK) == 0 ||
	    vup_control_runtime_dir(dir, sizeof(dir), err, sizeof(err)))
		return arg;
	size_t n = strlen(arg);
	bool has_ext = n > 4 && strcmp(arg + n - 4, ".ctl") == 0;
	if ((size_t)snprintf(buf, len, "%s/%s%s", dir, arg,
	                     has_ext ? "" : ".ctl") >= len)
		return arg;
	return buf;
}

static int connect_to(const char *arg)
{
	char buf[4096];
	const char *path = socket_path(arg, buf, sizeof(buf));
	int fd = vup__ctl_connect(path);
	if (fd < 0)
		fprintf(stderr,
		        "vuproxy ctl: cannot connect to %s: %s; is vuproxy "
		        "running with --control?\n",
		        path, strerror(-fd));
	return fd;
}

/* The request line, with the fd to pass on its first byte. */
int vup__ctl_send(int sock, const char *buf, size_t len, int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	memset(&cbuf, 0, sizeof(cbuf)); /* its padding goes out too */
	struct iovec iov = {(void *)buf, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		mh.msg_control = cbuf.b;
		mh.msg_controllen = sizeof(cbuf.b);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	while (iov.iov_len) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		iov.iov_base = (char *)iov.iov_base + n;
		iov.iov_len -= (size_t)n;
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
	}
	return 0;
}

/* One line from the socket into *buf (grown); its length, 0 at EOF,
 * negative on error.  Bytes after the line stay in *have. */
ssize_t vup__ctl_read_line(int sock, char **buf, size_t *cap, size_t *have)
{
	for (;;) {
		char *nl = *have ? memchr(*buf, '\n', *have) : NULL;
		if (nl)
			return nl - *buf + 1;
		if (*have == *cap) {
			size_t ncap = *cap ? *cap * 2 : 65536;
			char *b =
			        ncap <= REPLY_MAX ? realloc(*buf, ncap) : NULL;
			if (!b)
				return -E2BIG;
			*buf = b;
			*cap = ncap;
		}
		ssize_t n = read(sock, *buf + *have, *cap - *have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : 0;
		*have += (size_t)n;
	}
}

/* Print one reply; its exit status. */
static int show_reply(struct ctl *c, const char *line, size_t len)
{
	FILE *out = c->quiet_stdout ? stderr : stdout;
	struct vup_json_doc d;
	char err[256];
	if (vup_json_parse(&d, line, len, err, sizeof(err))) {
		fprintf(stderr,
		        "vuproxy ctl: %s sent a reply that is not "
		        "JSON (%s)\n",
		        c->sock, err);
		return 1;
	}
	int ok = vup_json_get(&d, 0, "ok"), res = vup_json_get(&d, 0, "result");
	int rc = ok >= 0 && d.n[ok].type == VUP_JSON_TRUE ? 0 : 1;
	if (vup_json_get(&d, 0, "event") >= 0) {
		if (c->json)
			fprintf(out, "%.*s\n", (int)len, line);
		else
			vup__ctl_print_event(out, &d);
		rc = 0;
	} else if (rc) {
		char e[1100];
		if (vup_json_string(&d, vup_json_get(&d, 0, "error"), e,
		                    sizeof(e), NULL))
			snprintf(e, sizeof(e), "%.*s", (int)len, line);
		fprintf(stderr, "vuproxy ctl: %s\n", e);
	} else if (c->json || res < 0) {
		fprintf(out, "%.*s\n", (int)len, line);
	} else if (c->prometheus) {
		vup__prom_write(out, &d, res);
	} else {
		vup__ctl_print(out, c->cmd, &d, res);
	}
	vup_json_doc_free(&d);
	fflush(out);
	return rc;
}

static int converse(struct ctl *c)
{
	int sock = connect_to(c->sock);
	if (sock < 0)
		return 2;
	vup_jw_bytes(&c->req, "\n", 1);
	int rc = vup__ctl_send(sock, c->req.buf, c->req.len, c->fd_pass);
	if (rc < 0) {
		fprintf(stderr, "vuproxy ctl: %s: sending: %s\n", c->sock,
		        strerror(-rc));
		close(sock);
		return 2;
	}
	char *buf = NULL;
	size_t cap = 0, have = 0;
	int status = 1;
	bool first = true;
	for (;;) {
		ssize_t n = vup__ctl_read_line(sock, &buf, &cap, &have);
		if (n <= 0) {
			if (first || !c->stream)
				fprintf(stderr,
				        "vuproxy ctl: %s closed the "
				        "connection%s%s\n",
				        c->sock, n < 0 ? ": " : "",
				        n < 0 ? strerror((int)-n) : "");
			status = first ? 1 : 0;
			break;
		}
		int r = show_reply(c, buf, (size_t)n - 1);
		if (first)
			status = r;
		first = false;
		memmove(buf, buf + n, have - (size_t)n);
		have -= (size_t)n;
		if (!c->stream || status)
			break;
	}
	free(buf);
	close(sock);
	return status;
}

int vup_ctl_main(int argc, char **argv)
{
	struct ctl c = {.fd_pass = -1};
	/* --json anywhere; the rest in order */
	char *args[64];
	int n = 0;
	for (int i = 1; i < argc && n < 63; i++) {
		if (strcmp(argv[i], "--json") == 0)
			c.json = true;
		else if (strcmp(argv[i], "-h") == 0 ||
		         strcmp(argv[i], "--help") == 0)
			return usage() - 2;
		else
			args[n++] = argv[i];
	}
	if (n < 2)
		return usage();
	c.sock = args[0];
	vup_jw_init(&c.req);
	int rc = build(&c, n - 1, args + 1);
	if (rc == 0) {
		vup_jw_end(&c.req);
		rc = converse(&c);
	}
	if (c.fd_pass > STDOUT_FILENO)
		close(c.fd_pass);
	if (rc && c.created)
		unlink(c.created);
	vup_jw_free(&c.req);
	return rc;
}
