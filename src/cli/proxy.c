/* proxy: `vuproxy [options]`.  --config files are read into the argument
 * list first (so that later options override theirs), then the options
 * are parsed (proxy_args.c) and the proxy runs (proxy_run.c). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_internal.h"
#include "vuproxy/log.h"

#define CONFIG_MAX_BYTES (1u << 20)
#define CONFIG_MAX_ARGS  4096

/* The command line with its config files spliced in; origin[i] names
 * where args[i] came from ("FILE:LINE"), NULL for the command line. */
struct expanded {
	int argc;
	char **argv;
	char **origin;
	char **owned; /* buffers to free */
	size_t nowned;
};

/* PATH's text, NUL-terminated, or NULL with err set.  Never waits for
 * a FIFO's writer: `--config FIFO` with nobody writing to it is refused
 * (a unit's start must not hang on it); a pipe a writer holds, as
 * `--config <(...)` gives, is read to its end. */
static char *read_file(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	char *text = NULL;
	size_t n = 0;
	int e = fd < 0 || fstat(fd, &st) < 0 ? errno : 0;
	if (!e && S_ISDIR(st.st_mode))
		e = EISDIR;
	if (!e && !(text = malloc(CONFIG_MAX_BYTES + 1)))
		e = ENOMEM;
	while (!e && n <= CONFIG_MAX_BYTES) {
		ssize_t r = read(fd, text + n, CONFIG_MAX_BYTES + 1 - n);
		if (r < 0 && errno == EAGAIN) { /* a pipe's writer, later */
			poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1,
			     -1);
			continue;
		}
		if (r < 0 && errno != EINTR)
			e = errno;
		if (r == 0)
			break;
		n += r > 0 ? (size_t)r : 0;
	}
	if (fd >= 0)
		close(fd);
	const char *why = e                       ? strerror(e)
	                  : n > CONFIG_MAX_BYTES  ? "larger than 1 MiB"
	                  : memchr(text, '\0', n) ? "not a text file"
	                  : !n && S_ISFIFO(st.st_mode)
	                          ? "a FIFO or pipe nothing was written to"
	                          : NULL;
	if (why) {
		snprintf(err, errlen, "%s: %s", path, why);
		free(text);
		return NULL;
	}
	text[n] = '\0';
	return text;
}

static bool keep(struct expanded *e, char *p)
{
	char **o = realloc(e->owned, (e->nowned + 1) * sizeof(*o));
	if (!o)
		return false;
	e->owned = o;
	e->owned[e->nowned++] = p;
	return true;
}

static bool push(struct expanded *e, char *arg, char *origin)
{
	char **a = realloc(e->argv, (size_t)(e->argc + 2) * sizeof(*a));
	if (a)
		e->argv = a;
	char **o = realloc(e->origin, (size_t)(e->argc + 2) * sizeof(*o));
	if (o)
		e->origin = o;
	if (!a || !o)
		return false;
	e->argv[e->argc] = arg;
	e->origin[e->argc++] = origin;
	e->argv[e->argc] = NULL;
	return true;
}

/* FILE's options, appended to e. */
static int splice_config(struct expanded *e, const char *path, char *err,
                         size_t errlen)
{
	char *text = read_file(path, err, errlen), why[256];
	if (!text)
		return -1;
	size_t len = strlen(text), buflen = 3 * len + 3, n;
	char *buf = malloc(buflen);
	char **args = malloc(CONFIG_MAX_ARGS * sizeof(*args));
	int *lines = malloc(CONFIG_MAX_ARGS * sizeof(*lines));
	int rc = -1;
	if (!buf || !args || !lines || !keep(e, buf)) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(buf);
		goto out;
	}
	if (vup_opts_split_config(vup_proxy_opts, VUP_OPT_COUNT, text, buf,
	                          buflen, args, lines, CONFIG_MAX_ARGS, &n, why,
	                          sizeof(why))) {
		snprintf(err, errlen, "%s:%s", path, why);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char *origin = malloc(strlen(path) + 16);
		if (!origin || !keep(e, origin)) {
			free(origin);
			snprintf(err, errlen, "%s: out of memory", path);
			goto out;
		}
		sprintf(origin, "%s:%d", path, lines[i]);
		if (!push(e, args[i], origin)) {
			snprintf(err, errlen, "%s: out of memory", path);
			goto out;
		}
	}
	rc = 0;
out:
	free(text);
	free(args);
	free(lines);
	return rc;
}

static void expanded_free(struct expanded *e)
{
	for (size_t i = 0; i < e->nowned; i++)
		free(e->owned[i]);
	free(e->owned);
	free(e->argv);
	free(e->origin);
}

/* The --config options of the command line as the parser will see them:
 * any spelling getopt_long takes (--config=F, --conf F), and never an
 * other option's value ("-w --config" writes to a file of that name).
 * *n = 0 when the line does not scan: the parser says why. */
static struct vup_opt_val *find_configs(int argc, char **argv, size_t *n)
{
	size_t max = 1;
	for (int i = 1; i < argc; i++)
		max += strlen(argv[i]) + 1;
	struct vup_opt_val *v = calloc(max, sizeof(*v));
	char why[256];
	int bad;
	if (v && vup_opts_scan(vup_proxy_opts, VUP_OPT_COUNT, argc, argv, 1, v,
	                       max, n, &bad, why, sizeof(why)))
		*n = 0;
	return v;
}

static int expand(int argc, char **argv, struct expanded *e, char *err,
                  size_t errlen)
{
	*e = (struct expanded){0};
	size_t n = 0, k = 0;
	struct vup_opt_val *v = find_configs(argc, argv, &n);
	if (!v)
		goto oom;
	for (int i = 0; i < argc; i++) {
		const char *path = NULL;
		for (; k < n && v[k].argi <= i; k++)
			if (v[k].argi == i && v[k].id == VUP_OPT_CONFIG)
				path = v[k].arg;
		if (!path) {
			if (!push(e, argv[i], NULL))
				goto oom;
			continue;
		}
		if (splice_config(e, path, err, errlen)) {
			free(v);
			return -1;
		}
		if (i + 1 < argc && path == argv[i + 1])
			i++; /* "--config FILE": FILE was its value */
	}
	free(v);
	return 0;
oom:
	free(v);
	snprintf(err, errlen, "out of memory");
	return -1;
}

int vup__cli_proxy(int argc, char **argv)
{
	struct expanded e;
	struct vup_proxy_args a;
	char err[512];
	if (expand(argc, argv, &e, err, sizeof(err))) {
		fprintf(stderr, "vuproxy: --config %s\n", err);
		expanded_free(&e);
		return 2;
	}
	if (vup_proxy_args_parse(e.argc, e.argv, &a, err, sizeof(err))) {
		const char *at = a.bad_arg >= 0 ? e.origin[a.bad_arg] : NULL;
		fprintf(stderr, "vuproxy: %s%s%s\n", at ? at : "",
		        at ? ": " : "", err);
		fprintf(stderr, "Try 'vuproxy --help'.\n");
		expanded_free(&e);
		return 2;
	}
	int rc = 0;
	if (a.help)
		vup__cli_usage(stdout);
	else if (a.version)
		printf("vuproxy %s\n", vup__cli_version());
	else {
		if (a.verbosity)
			vup_log_level = a.verbosity < 0   ? VUP_LOG_ERROR
			                : a.verbosity < 2 ? VUP_LOG_MSG
			                                  : VUP_LOG_DEBUG;
		rc = vup__proxy_run(&a);
	}
	expanded_free(&e);
	return rc;
}
