/* proxy: `vuproxy [options]`.  --config files are read into the argument
 * list first (so that later options override theirs), then the options
 * are parsed (proxy_args.c) and the proxy runs (proxy_run.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

static char *read_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	char *text = malloc(CONFIG_MAX_BYTES + 1);
	size_t n = text ? fread(text, 1, CONFIG_MAX_BYTES + 1, f) : 0;
	bool bad = ferror(f) || n > CONFIG_MAX_BYTES;
	fclose(f);
	if (!text || bad) {
		snprintf(err, errlen, "%s: %s", path,
		         !text                  ? "out of memory"
		         : n > CONFIG_MAX_BYTES ? "larger than 1 MiB"
		                                : "read error");
		free(text);
		return NULL;
	}
	text[n] = '\0';
	if (memchr(text, '\0', n)) {
		snprintf(err, errlen, "%s: not a text file", path);
		free(text);
		return NULL;
	}
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

/* "--config FILE" and "--config=FILE" (spelled out: a prefix of it is
 * left to the parser, which says it is read first). */
static const char *config_arg(int argc, char **argv, int *i)
{
	if (strncmp(argv[*i], "--config=", 9) == 0)
		return argv[*i] + 9;
	if (strcmp(argv[*i], "--config") == 0 && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static int expand(int argc, char **argv, struct expanded *e, char *err,
                  size_t errlen)
{
	*e = (struct expanded){0};
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			for (; i < argc; i++)
				if (!push(e, argv[i], NULL))
					goto oom;
			break;
		}
		const char *path = i ? config_arg(argc, argv, &i) : NULL;
		if (path) {
			if (splice_config(e, path, err, errlen))
				return -1;
		} else if (!push(e, argv[i], NULL)) {
			goto oom;
		}
	}
	return 0;
oom:
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
