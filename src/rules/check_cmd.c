/* `vuproxy rules check FILE...`: validate rules files (control rules and
 * data rules).  Every problem is printed as file:line:col: reason with the
 * offending line and a caret;
 * exit 0 when all files are valid (warnings allowed), 1 when one is not,
 * 2 on a usage error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: vuproxy rules check FILE...\n"
	           "\n"
	           "Validate fault-injection rules files: print every error "
	           "as file:line:col with\n"
	           "the offending line, and warnings about rules that cannot "
	           "work as meant.\n"
	           "Exit status: 0 valid (warnings allowed), 1 invalid, 2 "
	           "usage.\n");
}

static int check_file(const char *path)
{
	char *text;
	size_t len;
	int rc = vup__rules_read(path, &text, &len);
	if (rc) {
		fprintf(stderr, "%s: %s\n", path,
		        rc == -EFBIG ? "larger than 1 MiB" : strerror(-rc));
		return 1;
	}
	struct vup_rdiag err = {0}, warn = {0};
	struct vup_rules *r;
	rc = vup__rules_parse(path, text, len, &r, &err, &warn);
	free(text);
	fputs(vup__rdiag_text(&warn), stderr);
	if (rc == 0) {
		/* With data rules, the total first (what scripts read)
		 * and then the two kinds. */
		unsigned n = r->n + r->ndata;
		printf("%s: %u rule%s, valid%s", path, n, n == 1 ? "" : "s",
		       warn.count ? " (with warnings)" : "");
		if (r->ndata)
			printf(": %u control, %u data", r->n, r->ndata);
		putchar('\n');
		vup_rules_free(r);
	} else {
		fputs(vup__rdiag_text(&err), stderr);
		fprintf(stderr, "%s: invalid (%u error%s)\n", path, err.count,
		        err.count == 1 ? "" : "s");
	}
	vup__rdiag_free(&err);
	vup__rdiag_free(&warn);
	return rc == 0 ? 0 : 1;
}

int vup_rules_check_main(int argc, char **argv)
{
	if (argc >= 2 &&
	    (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "check") != 0) {
		if (argc >= 2)
			fprintf(stderr, "vuproxy rules: unknown command '%s'\n",
			        argv[1]);
		usage(stderr);
		return 2;
	}
	if (argc < 3) {
		usage(stderr);
		return 2;
	}
	int status = 0;
	for (int i = 2; i < argc; i++)
		if (check_file(argv[i]))
			status = 1;
	return status;
}
