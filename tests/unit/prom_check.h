/* A checker of the Prometheus text exposition format (version 0.0.4,
 * https://prometheus.io/docs/instrumenting/exposition_formats/), line by
 * line against its grammar, plus vuproxy's conventions: every metric
 * named vuproxy_*, with one HELP and one TYPE line before its sample,
 * counters (and only they) named *_total, no metric twice.  Shared by
 * the unit test of the printer and the test that reads `ctl stats
 * --prometheus` from a live vuproxy. */
#ifndef VUP_TESTS_PROM_CHECK_H
#define VUP_TESTS_PROM_CHECK_H

#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROM_NAME  "[a-zA-Z_:][a-zA-Z0-9_:]*"
#define PROM_VALUE "([-+]?[0-9]+(\\.[0-9]*)?([eE][-+]?[0-9]+)?|NaN|[-+]Inf)"
#define PROM_LABEL "[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\[\\\\\"n])*\""

static bool prom_match(const char *re, const char *s, regmatch_t *m, size_t n)
{
	regex_t r;
	if (regcomp(&r, re, REG_EXTENDED))
		abort();
	bool ok = regexec(&r, s, n, m, 0) == 0;
	regfree(&r);
	return ok;
}

/* The number of samples, or -1 with the offending line in why. */
static inline int prom_check(const char *text, char *why, size_t whylen)
{
	static const char help_re[] = "^# HELP (" PROM_NAME ") [^\n]*$";
	static const char type_re[] =
	        "^# TYPE (" PROM_NAME ") (counter|gauge|histogram|summary|"
	        "untyped)$";
	static const char sample_re[] =
	        "^(" PROM_NAME ")(\\{(" PROM_LABEL "(," PROM_LABEL
	        ")*,?)?\\})? " PROM_VALUE "( -?[0-9]+)?$";
	char help[128] = "", type[128] = "", kind[16] = "", seen[8192] = " ";
	int samples = 0, lineno = 0;
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		if (!nl) {
			snprintf(why, whylen, "the last line has no newline");
			return -1;
		}
		char line[1024];
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		p = nl + 1;
		lineno++;
		regmatch_t m[4];
		char name[128];
		if (!line[0])
			continue;
		if (prom_match(help_re, line, m, 2)) {
			snprintf(help, sizeof(help), "%.*s",
			         (int)(m[1].rm_eo - m[1].rm_so),
			         line + m[1].rm_so);
			continue;
		}
		if (prom_match(type_re, line, m, 3)) {
			snprintf(type, sizeof(type), "%.*s",
			         (int)(m[1].rm_eo - m[1].rm_so),
			         line + m[1].rm_so);
			snprintf(kind, sizeof(kind), "%.*s",
			         (int)(m[2].rm_eo - m[2].rm_so),
			         line + m[2].rm_so);
			continue;
		}
		if (line[0] == '#') {
			snprintf(why, whylen,
			         "line %d: a comment that is no HELP or "
			         "TYPE line of the grammar: %.200s",
			         lineno, line);
			return -1;
		}
		if (!prom_match(sample_re, line, m, 2)) {
			snprintf(why, whylen, "line %d: not a sample: %.200s",
			         lineno, line);
			return -1;
		}
		snprintf(name, sizeof(name), "%.*s",
		         (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
		size_t n = strlen(name);
		bool total = n > 6 && strcmp(name + n - 6, "_total") == 0;
		char key[140];
		snprintf(key, sizeof(key), " %s ", name);
		const char *bad =
		        strncmp(name, "vuproxy_", 8) ? "not prefixed vuproxy_"
		        : strcmp(help, name)         ? "no HELP line before it"
		        : strcmp(type, name)         ? "no TYPE line before it"
		        : total != (strcmp(kind, "counter") == 0)
		                ? "a counter must be named *_total, and only a "
		                  "counter"
		        : strstr(seen, key) ? "the metric appears twice"
		                            : NULL;
		if (bad) {
			snprintf(why, whylen, "line %d: %s: %.200s", lineno,
			         bad, line);
			return -1;
		}
		snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen),
		         "%s ", name);
		samples++;
	}
	return samples;
}

#endif
