/* options: the table of the proxy's options and what reads it: the
 * scanner, the config file splitter, --help and the man page. */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

const struct vup_opt_def vup_proxy_opts[VUP_OPT_COUNT] = {
#define X(id, l, s, a, b, lo, hi, h) {VUP_OPT_##id, l, s, a, b, lo, hi, h},
        VUP_PROXY_OPTIONS(X)
#undef X
};

/* ---- scanning ---- */

static const struct vup_opt_def *by_letter(const struct vup_opt_def *defs,
                                           size_t ndefs, char c)
{
	for (size_t i = 0; i < ndefs; i++)
		if (c && defs[i].letter == c)
			return &defs[i];
	return NULL;
}

/* The option NAME (len bytes) names: exact, else the only one it is a
 * prefix of.  NULL with *ambiguous set when several are. */
static const struct vup_opt_def *by_name(const struct vup_opt_def *defs,
                                         size_t ndefs, const char *name,
                                         size_t len, bool *ambiguous)
{
	const struct vup_opt_def *found = NULL;
	*ambiguous = false;
	for (size_t i = 0; i < ndefs; i++) {
		if (!defs[i].name || strncmp(defs[i].name, name, len) != 0)
			continue;
		if (defs[i].name[len] == '\0')
			return &defs[i];
		if (found)
			*ambiguous = true;
		found = &defs[i];
	}
	return *ambiguous ? NULL : found;
}

static void opt_label(const struct vup_opt_def *d, char *buf, size_t len)
{
	if (d->name)
		snprintf(buf, len, "--%s", d->name);
	else
		snprintf(buf, len, "-%c", d->letter);
}

/* A numeric argument within the definition's range. */
static int to_number(const struct vup_opt_def *d, const char *s,
                     unsigned long *out, char *err, size_t errlen)
{
	char label[64], *end;
	opt_label(d, label, sizeof(label));
	errno = 0;
	unsigned long v = strtoul(s, &end, d->base);
	if (errno || !*s || *end || *s == '-' || isspace((unsigned char)*s)) {
		snprintf(err, errlen, "%s '%s': not a%s number", label, s,
		         d->base == 8 ? "n octal" : "");
		return -1;
	}
	if (v < d->min || v > d->max) {
		snprintf(err, errlen,
		         d->base == 8 ? "%s '%s': not in %lo..%lo"
		                      : "%s '%s': not in %lu..%lu",
		         label, s, d->min, d->max);
		return -1;
	}
	*out = v;
	return 0;
}

static int add(const struct vup_opt_def *d, const char *arg, int argi,
               struct vup_opt_val *out, size_t max, size_t *n, char *err,
               size_t errlen)
{
	if (*n >= max) {
		snprintf(err, errlen, "too many options (at most %zu)", max);
		return -1;
	}
	struct vup_opt_val *v = &out[*n];
	*v = (struct vup_opt_val){.id = d->id, .arg = arg, .argi = argi};
	/* A numeric option always has a value (the table says so); the
	 * compiler cannot know. */
	if (d->base && arg && to_number(d, arg, &v->num, err, errlen))
		return -1;
	(*n)++;
	return 0;
}

/* "--name[=value]" at argv[*i]; advances *i past a separate value. */
static int scan_long(const struct vup_opt_def *defs, size_t ndefs, int argc,
                     char *const *argv, int *i, struct vup_opt_val *out,
                     size_t max, size_t *n, char *err, size_t errlen)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	bool ambiguous;
	const struct vup_opt_def *d =
	        by_name(defs, ndefs, name, len, &ambiguous);
	if (!d) {
		snprintf(err, errlen, "%s option '--%.*s'",
		         ambiguous ? "ambiguous" : "unknown", (int)len, name);
		return -1;
	}
	if (!d->arg) {
		if (eq) {
			snprintf(err, errlen, "--%s takes no value", d->name);
			return -1;
		}
		return add(d, NULL, *i, out, max, n, err, errlen);
	}
	int at = *i;
	const char *val = eq ? eq + 1 : NULL;
	if (!val) {
		if (*i + 1 >= argc) {
			snprintf(err, errlen, "--%s needs a value (%s)",
			         d->name, d->arg);
			return -1;
		}
		val = argv[++*i];
	}
	return add(d, val, at, out, max, n, err, errlen);
}

/* "-abc" or "-wFILE" or "-w FILE" at argv[*i]. */
static int scan_short(const struct vup_opt_def *defs, size_t ndefs, int argc,
                      char *const *argv, int *i, struct vup_opt_val *out,
                      size_t max, size_t *n, char *err, size_t errlen)
{
	int at = *i;
	for (const char *p = argv[*i] + 1; *p; p++) {
		const struct vup_opt_def *d = by_letter(defs, ndefs, *p);
		if (!d) {
			snprintf(err, errlen, "unknown option '-%c'", *p);
			return -1;
		}
		if (!d->arg) {
			if (add(d, NULL, at, out, max, n, err, errlen))
				return -1;
			continue;
		}
		const char *val = p[1] ? p + 1 : NULL;
		if (!val) {
			if (*i + 1 >= argc) {
				snprintf(err, errlen, "-%c needs a value (%s)",
				         *p, d->arg);
				return -1;
			}
			val = argv[++*i];
		}
		return add(d, val, at, out, max, n, err, errlen);
	}
	return 0;
}

int vup_opts_scan(const struct vup_opt_def *defs, size_t ndefs, int argc,
                  char *const *argv, int first, struct vup_opt_val *out,
                  size_t max, size_t *n, int *bad, char *err, size_t errlen)
{
	*n = 0;
	for (int i = first; i < argc; i++) {
		const char *a = argv[i];
		int rc;
		*bad = i;
		if (strcmp(a, "--") == 0) {
			if (i + 1 < argc) {
				*bad = i + 1;
				snprintf(err, errlen,
				         "unexpected argument '%s'",
				         argv[i + 1]);
				return -1;
			}
			break;
		}
		if (a[0] != '-' || a[1] == '\0') {
			snprintf(err, errlen, "unexpected argument '%s'", a);
			return -1;
		}
		if (a[1] == '-')
			rc = scan_long(defs, ndefs, argc, argv, &i, out, max, n,
			               err, errlen);
		else
			rc = scan_short(defs, ndefs, argc, argv, &i, out, max,
			                n, err, errlen);
		if (rc)
			return -1;
	}
	*bad = -1;
	return 0;
}

/* ---- config files ---- */

/* One line (NUL-terminated, blanks trimmed) into args. */
static int split_line(const struct vup_opt_def *defs, size_t ndefs, char *line,
                      int lineno, char **args, int *lines, size_t max,
                      size_t *n, char *err, size_t errlen)
{
	/* "name value", or "--name=value" as on a command line (a long
	 * name only: "-w=F" is getopt's "=F", spelled out here as "-w F"). */
	bool letter = line[0] == '-' && line[1] && line[1] != '-';
	char *val = line + strcspn(line, letter ? " \t" : " \t=");
	bool eq = *val == '=';
	if (*val) {
		*val++ = '\0';
		if (!eq)
			val += strspn(val, " \t");
	}
	const struct vup_opt_def *d = NULL;
	bool ambiguous = false;
	if (line[0] == '-' && line[1] != '-' && line[1] && !line[2])
		d = by_letter(defs, ndefs, line[1]);
	else {
		const char *name =
		        line[0] == '-' && line[1] == '-' ? line + 2 : line;
		d = by_name(defs, ndefs, name, strlen(name), &ambiguous);
		if (d && strcmp(d->name, name) != 0)
			d = NULL; /* a file spells options out */
	}
	if (!d) {
		snprintf(err, errlen, "%d: unknown option '%s'", lineno, line);
		return -1;
	}
	if (d->id == VUP_OPT_CONFIG || d->id == VUP_OPT_HELP ||
	    d->id == VUP_OPT_VERSION) {
		snprintf(err, errlen, "%d: '%s' has no place in a config file",
		         lineno, line);
		return -1;
	}
	if (!d->arg != !*val || (eq && !d->arg)) {
		snprintf(err, errlen,
		         d->arg ? "%d: '%s' needs a value (%s)"
		                : "%d: '%s' takes no value%.0s",
		         lineno, line, d->arg ? d->arg : "");
		return -1;
	}
	if (*n + (*val ? 2 : 1) > max) {
		snprintf(err, errlen, "%d: too many options", lineno);
		return -1;
	}
	/* The name as the scanner wants it: "--name" needs no room of its
	 * own, the line's text is rewritten in place when spelled without
	 * the dashes (there are two bytes before each line: see below). */
	if (line[0] != '-') {
		line -= 2;
		line[0] = line[1] = '-';
	}
	lines[*n] = lineno;
	args[(*n)++] = line;
	if (*val) {
		lines[*n] = lineno;
		args[(*n)++] = val;
	}
	return 0;
}

int vup_opts_split_config(const struct vup_opt_def *defs, size_t ndefs,
                          const char *text, char *buf, size_t buflen,
                          char **args, int *lines, size_t max, size_t *n,
                          char *err, size_t errlen)
{
	*n = 0;
	int lineno = 0;
	size_t at = 0;
	for (const char *p = text; *p || p == text;) {
		const char *end = p + strcspn(p, "\n");
		size_t len = (size_t)(end - p);
		lineno++;
		/* Two spare bytes before each line for the "--" of a name
		 * written without them. */
		if (at + 2 + len + 1 > buflen) {
			snprintf(err, errlen, "%d: the file is too large",
			         lineno);
			return -1;
		}
		char *line = buf + at + 2;
		memcpy(line, p, len);
		line[len] = '\0';
		at += 2 + len + 1;
		while (len && isspace((unsigned char)line[len - 1]))
			line[--len] = '\0';
		line += strspn(line, " \t");
		if (*line && *line != '#' &&
		    split_line(defs, ndefs, line, lineno, args, lines, max, n,
		               err, errlen))
			return -1;
		if (!*end)
			break;
		p = end + 1;
	}
	return 0;
}

/* ---- --help and the man page ---- */

/* The help wrapped to the columns from col to 79. */
static void print_wrapped(FILE *f, const char *text, int col, int at)
{
	const int width = 79;
	const char *p = text;
	while (*p) {
		size_t word = strcspn(p, " ");
		if (at > col && at + 1 + (int)word > width) {
			fprintf(f, "\n%*s", col, "");
			at = col;
		} else if (at > col) {
			fputc(' ', f);
			at++;
		} else {
			fprintf(f, "%*s", col - at, "");
			at = col;
		}
		fprintf(f, "%.*s", (int)word, p);
		at += (int)word;
		p += word;
		p += strspn(p, " ");
	}
	fputc('\n', f);
}

void vup_opts_print_help(FILE *f, const struct vup_opt_def *defs, size_t ndefs)
{
	const int col = 27;
	for (size_t i = 0; i < ndefs; i++) {
		const struct vup_opt_def *d = &defs[i];
		char head[96];
		int len;
		if (d->name && d->letter)
			len = snprintf(head, sizeof(head), "  -%c, --%s",
			               d->letter, d->name);
		else if (d->name)
			len = snprintf(head, sizeof(head), "  --%s", d->name);
		else
			len = snprintf(head, sizeof(head), "  -%c", d->letter);
		if (d->arg)
			len += snprintf(head + len, sizeof(head) - (size_t)len,
			                " %s", d->arg);
		fputs(head, f);
		if (len + 1 >= col) { /* a long argument: help below */
			fputc('\n', f);
			len = 0;
		}
		print_wrapped(f, d->help, col, len);
	}
}

/* roff text: dashes as \-, backslashes as \e, no line starting with a
 * control character. */
static void print_roff(FILE *f, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	for (; *s; s++) {
		if (*s == '-')
			fputs("\\-", f);
		else if (*s == '\\')
			fputs("\\e", f);
		else
			fputc(*s, f);
	}
}

void vup_opts_print_man(FILE *f, const struct vup_opt_def *defs, size_t ndefs)
{
	for (size_t i = 0; i < ndefs; i++) {
		const struct vup_opt_def *d = &defs[i];
		fputs(".TP\n", f);
		if (d->letter)
			fprintf(f, "\\fB\\-%c\\fR%s", d->letter,
			        d->name ? ", " : "");
		if (d->name) {
			fputs("\\fB", f);
			print_roff(f, "--");
			print_roff(f, d->name);
			fputs("\\fR", f);
		}
		if (d->arg) {
			fputs(" \\fI", f);
			print_roff(f, d->arg);
			fputs("\\fR", f);
		}
		fputc('\n', f);
		print_roff(f, d->help);
		fputc('\n', f);
	}
}
