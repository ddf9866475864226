/* gen_man: writes the man page from its template (doc/vuproxy.1.in): the
 * line "@OPTIONS@" becomes the proxy's options from the option table,
 * "@VERSION@" the version, "@DATE@" its commit's date.  Run by the build
 * (target vup_man). */
#include <stdio.h>
#include <string.h>

#include "cli_internal.h"

/* A template line with @VERSION@ and @DATE@ filled in. */
static void fputs_filled(FILE *out, const char *line)
{
	static const struct {
		const char *key;
		const char *(*value)(void);
	} keys[] = {{"@VERSION@", vup__cli_version},
	            {"@DATE@", vup__cli_version_date}};
	while (*line) {
		size_t i, n = sizeof(keys) / sizeof(keys[0]);
		for (i = 0; i < n; i++)
			if (strncmp(line, keys[i].key, strlen(keys[i].key)) ==
			    0)
				break;
		if (i < n) {
			fputs(keys[i].value(), out);
			line += strlen(keys[i].key);
		} else {
			fputc(*line++, out);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: gen_man TEMPLATE OUT\n");
		return 2;
	}
	FILE *in = fopen(argv[1], "r"), *out = fopen(argv[2], "w");
	if (!in || !out) {
		perror(!in ? argv[1] : argv[2]);
		return 1;
	}
	char line[4096];
	while (fgets(line, sizeof(line), in)) {
		if (strcmp(line, "@OPTIONS@\n") == 0) {
			vup_opts_print_man(out, vup_proxy_opts, VUP_OPT_COUNT);
			continue;
		}
		fputs_filled(out, line);
	}
	int bad = ferror(in) || fclose(out) != 0;
	fclose(in);
	if (bad) {
		fprintf(stderr, "gen_man: %s: write error\n", argv[2]);
		return 1;
	}
	return 0;
}
