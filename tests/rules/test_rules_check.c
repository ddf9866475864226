/* Unit tests for src/rules/check_cmd.c: `vuproxy rules check FILE...`,
 * its output (errors with line, column, quoted line and caret; warnings)
 * and its exit status. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../unit/unit.h"
#include "vuproxy/rules.h"

static char out[16384], errout[16384];

static void slurp(int fd, char *buf, size_t cap)
{
	lseek(fd, 0, SEEK_SET);
	ssize_t n = read(fd, buf, cap - 1);
	buf[n > 0 ? n : 0] = '\0';
}

/* Run the command with stdout and stderr captured. */
static int run(int argc, char **argv)
{
	char po[] = "/tmp/vup-check-out-XXXXXX",
	     pe[] = "/tmp/vup-check-err-XXXXXX";
	int fo = mkstemp(po), fe = mkstemp(pe);
	assert_true(fo >= 0 && fe >= 0);
	unlink(po);
	unlink(pe);
	fflush(stdout);
	fflush(stderr);
	int so = dup(1), se = dup(2);
	dup2(fo, 1);
	dup2(fe, 2);
	int rc = vup_rules_check_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	slurp(fo, out, sizeof(out));
	slurp(fe, errout, sizeof(errout));
	close(fo);
	close(fe);
	return rc;
}

static void write_file(char *path, const char *text)
{
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void valid_with_warnings(void **state)
{
	(void)state;
	char path[] = "/tmp/vup-rules-ok-XXXXXX";
	write_file(path, "rules:\n"
	                 "  - name: hide-features\n"
	                 "    match: {request: GET_FEATURES}\n"
	                 "    action: drop\n"
	                 "  - name: slow\n"
	                 "    action: {delay: 1ms}\n");
	char *argv[] = {"rules", "check", path, NULL};
	assert_int_equal(run(3, argv), 0);
	char expect[256];
	snprintf(expect, sizeof(expect), "%s: 2 rules, valid (with warnings)\n",
	         path);
	assert_string_equal(out, expect);
	snprintf(expect, sizeof(expect),
	         "%s:4:13: rule 'hide-features' drops GET_FEATURES", path);
	assert_contains(errout, expect);
	assert_contains(errout, "\n        action: drop\n"
	                        "                ^\n");
	unlink(path);
}

static void invalid_files(void **state)
{
	(void)state;
	char bad[] = "/tmp/vup-rules-bad-XXXXXX",
	     good[] = "/tmp/vup-rules-good-XXXXXX";
	write_file(bad, "rules:\n"
	                "  - name: a\n"
	                "    action: dorp\n"
	                "  - name: b\n"
	                "    match: {request: GET_FEATURES, has: [NOPE]}\n"
	                "    action: drop\n");
	write_file(good, "rules:\n  - {name: a, action: log}\n");
	char *argv[] = {"rules", "check", good, bad, "/nonexistent/x.yaml",
	                NULL};
	assert_int_equal(run(5, argv), 1);
	char expect[512];
	snprintf(expect, sizeof(expect), "%s: 1 rule, valid\n", good);
	assert_string_equal(out, expect);
	snprintf(expect, sizeof(expect),
	         "%s:3:13: unknown action 'dorp' (expected drop, delay, "
	         "rewrite, fail, disconnect, log, snapshot or pass)\n"
	         "        action: dorp\n"
	         "                ^\n"
	         "%s:5:42: has: unknown feature 'NOPE'\n"
	         "        match: {request: GET_FEATURES, has: [NOPE]}\n"
	         "                                             ^\n"
	         "%s: invalid (2 errors)\n",
	         bad, bad, bad);
	assert_contains(errout, expect);
	assert_contains(errout,
	                "/nonexistent/x.yaml: No such file or directory\n");
	unlink(bad);
	unlink(good);
}

/* Data rules: both counts, their errors at file:line:col, their
 * warnings; a file of data rules alone is valid. */
static void data_rules(void **state)
{
	(void)state;
	char both[] = "/tmp/vup-rules-data-XXXXXX",
	     only[] = "/tmp/vup-rules-donly-XXXXXX",
	     bad[] = "/tmp/vup-rules-dbad-XXXXXX";
	write_file(both, "rules:\n  - {name: a, action: log}\n"
	                 "data:\n"
	                 "  - {name: loss, match: {device: net, queue: tx}, "
	                 "when: {probability: 0, seed: 7}, action: drop}\n"
	                 "  - {name: eio, match: {device: blk, op: read}, "
	                 "action: {fail: ioerr}}\n");
	write_file(only, "data:\n  - {name: d, action: {delay: 1ms}}\n");
	write_file(bad, "data:\n  - {name: x, match: {device: net}, action: "
	                "{fail: ioerr}}\n");
	char *argv[] = {"rules", "check", both, only, bad, NULL};
	assert_int_equal(run(5, argv), 1);
	char expect[512];
	snprintf(expect, sizeof(expect),
	         "%s: 3 rules, valid (with warnings): 1 control, 2 data\n"
	         "%s: 1 rule, valid: 0 control, 1 data\n",
	         both, only);
	assert_string_equal(out, expect);
	snprintf(expect, sizeof(expect),
	         "%s:4:57: data rule 'loss': probability 0 never fires\n",
	         both);
	assert_contains(errout, expect);
	snprintf(expect, sizeof(expect),
	         "%s:2:46: fail applies to blk only; this rule matches "
	         "device: net\n"
	         "      - {name: x, match: {device: net}, action: {fail: "
	         "ioerr}}\n"
	         "                                                 ^\n"
	         "%s: invalid (1 error)\n",
	         bad, bad);
	assert_contains(errout, expect);
	unlink(both);
	unlink(only);
	unlink(bad);
}

static void usage(void **state)
{
	(void)state;
	char *none[] = {"rules", NULL};
	assert_int_equal(run(1, none), 2);
	assert_contains(errout, "usage: vuproxy rules check FILE...");
	char *other[] = {"rules", "frob", NULL};
	assert_int_equal(run(2, other), 2);
	assert_contains(errout, "vuproxy rules: unknown command 'frob'");
	char *nofile[] = {"rules", "check", NULL};
	assert_int_equal(run(2, nofile), 2);
	char *help[] = {"rules", "--help", NULL};
	assert_int_equal(run(2, help), 0);
	assert_contains(out, "usage: vuproxy rules check FILE...");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(valid_with_warnings),
	        cmocka_unit_test(invalid_files),
	        cmocka_unit_test(data_rules),
	        cmocka_unit_test(usage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
