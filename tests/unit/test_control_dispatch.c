/* control/dispatch.c: a request line to a reply line.  Every mistake a
 * client can make is answered with what it was; fds nobody takes are
 * closed. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "unit.h"
#include "vuproxy/control.h"

static int taken_fd = -1;

static int cmd_echo(struct vup_control_req *r)
{
	int64_t n = 0;
	char s[16] = "";
	if (vup_control_arg_int(r, "n", true, 0, 10, &n) < 0 ||
	    vup_control_arg_str(r, "s", false, s, sizeof(s)) < 0)
		return -1;
	vup_jw_obj(r->out);
	vup_jw_kuint(r->out, "n", (uint64_t)n);
	vup_jw_kstr(r->out, "s", s);
	vup_jw_end(r->out);
	return 0;
}

static int cmd_take(struct vup_control_req *r)
{
	static const char *const kinds[] = {"net", "blk", NULL};
	int k;
	if (vup_control_arg_enum(r, "tap", false, kinds, &k) < 0)
		return -1;
	if (r->nfds != 1)
		return vup_control_fail(r, "want one fd");
	taken_fd = r->fds[0];
	r->fds[0] = -1;
	return 0;
}

static int cmd_keep_none(struct vup_control_req *r)
{
	(void)r;
	return vup_control_fail(r, "refused on purpose");
}

static int cmd_sub(struct vup_control_req *r)
{
	r->subscribe = true;
	return 0;
}

static const struct vup_control_cmd table[] = {
        {"help", "", 0, vup_control_help, "the commands"},
        {"echo", "n,s", 0, cmd_echo, "echo n and s"},
        {"take", "tap", 1, cmd_take, "take one fd"},
        {"refuse", "", 1, cmd_keep_none, "fail, keeping no fd"},
        {"subscribe", "", 0, cmd_sub, "events"},
};

static bool run(const char *line, int *fds, unsigned nfds, char *out,
                size_t cap)
{
	struct vup_jw w;
	vup_jw_init(&w);
	bool sub = vup_control_dispatch(table, COUNT(table), NULL, line,
	                                strlen(line), fds, nfds, &w);
	assert_false(w.oom);
	snprintf(out, cap, "%s", w.buf ? w.buf : "");
	vup_jw_free(&w);
	return sub;
}

static void expect(const char *line, const char *reply)
{
	char out[2048];
	run(line, NULL, 0, out, sizeof(out));
	if (strcmp(out, reply))
		fail_msg("%s\n  replied %s\n  expected %s", line, out, reply);
}

static void replies_name_the_problem(void **state)
{
	(void)state;
	expect("{\"cmd\":\"echo\",\"n\":3,\"id\":7}",
	       "{\"id\":7,\"ok\":true,\"result\":{\"n\":3,\"s\":\"\"}}");
	expect("{\"id\":\"x\\\"y\",\"cmd\":\"echo\",\"n\":0,\"s\":\"hi\"}",
	       "{\"id\":\"x\\\"y\",\"ok\":true,\"result\":{\"n\":0,\"s\":"
	       "\"hi\"}}");
	expect("{\"cmd\":\"echo\",",
	       "{\"ok\":false,\"error\":\"bad JSON at byte 14: unexpected end "
	       "of input (a member name (a string) expected)\"}");
	expect("garbage", "{\"ok\":false,\"error\":\"bad JSON at byte 0: "
	                  "unexpected 'g'\"}");
	expect("[1]", "{\"ok\":false,\"error\":\"a request is a JSON object, "
	              "not array\"}");
	expect("{\"id\":1}", "{\"id\":1,\"ok\":false,\"error\":\"missing "
	                     "\\\"cmd\\\"\"}");
	expect("{\"id\":[1],\"cmd\":1}",
	       "{\"ok\":false,\"error\":\"\\\"cmd\\\" must be a string, not "
	       "number\"}");
	expect("{\"cmd\":\"x\"}", "{\"ok\":false,\"error\":\"unknown command "
	                          "\\\"x\\\" (try \\\"help\\\")\"}");
	expect("{\"cmd\":\"echo\"}", "{\"ok\":false,\"error\":\"echo: missing "
	                             "argument \\\"n\\\"\"}");
	expect("{\"cmd\":\"echo\",\"n\":\"3\"}",
	       "{\"ok\":false,\"error\":\"echo: argument \\\"n\\\" must be an "
	       "integer, not string\"}");
	expect("{\"cmd\":\"echo\",\"n\":11}",
	       "{\"ok\":false,\"error\":\"echo: argument \\\"n\\\" must be an "
	       "integer from 0 to 10\"}");
	expect("{\"cmd\":\"echo\",\"n\":1.5}",
	       "{\"ok\":false,\"error\":\"echo: argument \\\"n\\\" must be an "
	       "integer from 0 to 10\"}");
	expect("{\"cmd\":\"echo\",\"n\":1,\"s\":\"0123456789abcdefg\"}",
	       "{\"ok\":false,\"error\":\"echo: argument \\\"s\\\" is longer "
	       "than 15 bytes\"}");
	expect("{\"cmd\":\"echo\",\"n\":1,\"q\":1}",
	       "{\"ok\":false,\"error\":\"echo: unknown argument \\\"q\\\"; it "
	       "takes n,s\"}");
	expect("{\"cmd\":\"take\",\"tap\":\"usb\"}",
	       "{\"ok\":false,\"error\":\"take: argument \\\"tap\\\" must be "
	       "one of \\\"net\\\", \\\"blk\\\"\"}");
	expect("{\"cmd\":\"take\",\"tap\":7}",
	       "{\"ok\":false,\"error\":\"take: argument \\\"tap\\\" must be a "
	       "string, not number\"}");
}

static void help_lists_the_table(void **state)
{
	(void)state;
	char out[2048];
	run("{\"cmd\":\"help\"}", NULL, 0, out, sizeof(out));
	assert_contains(out, "{\"cmd\":\"echo\",\"args\":\"n,s\",\"fds\":0,"
	                     "\"help\":\"echo n and s\"}");
	assert_contains(out, "{\"cmd\":\"take\",\"args\":\"tap\",\"fds\":1,");
}

static bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void fds_nobody_takes_are_closed(void **state)
{
	(void)state;
	int p[2];
	char out[2048];
	/* to a command that takes none */
	assert_int_equal(pipe(p), 0);
	run("{\"cmd\":\"echo\",\"n\":1}", p, 1, out, sizeof(out));
	assert_string_equal(out, "{\"ok\":false,\"error\":\"echo takes no file "
	                         "descriptor (1 received; closed)\"}");
	assert_false(is_open(p[0]));
	close(p[1]);
	/* with a request that is not even JSON */
	assert_int_equal(pipe(p), 0);
	run("nope", p, 2, out, sizeof(out));
	assert_false(is_open(p[0]));
	assert_false(is_open(p[1]));
	/* to a command that fails */
	assert_int_equal(pipe(p), 0);
	run("{\"cmd\":\"refuse\"}", p, 1, out, sizeof(out));
	assert_contains(out, "refused on purpose");
	assert_false(is_open(p[0]));
	close(p[1]);
	/* taken: left open */
	assert_int_equal(pipe(p), 0);
	run("{\"cmd\":\"take\"}", p, 1, out, sizeof(out));
	assert_string_equal(out, "{\"ok\":true,\"result\":{}}");
	assert_int_equal(taken_fd, p[0]);
	assert_true(is_open(p[0]));
	close(p[0]);
	close(p[1]);
	/* more than a request can carry */
	int many[VUP_CONTROL_FDS_MAX + 2];
	for (unsigned i = 0; i < COUNT(many); i++)
		many[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	run("{\"cmd\":\"take\"}", many, COUNT(many), out, sizeof(out));
	assert_contains(out, "take takes at most one file descriptor");
	for (unsigned i = 0; i < COUNT(many); i++)
		assert_false(is_open(many[i]));
}

static void subscribe_is_told(void **state)
{
	(void)state;
	char out[256];
	assert_true(run("{\"cmd\":\"subscribe\"}", NULL, 0, out, sizeof(out)));
	assert_false(
	        run("{\"cmd\":\"echo\",\"n\":1}", NULL, 0, out, sizeof(out)));
	assert_false(run("{\"cmd\":\"subscribe\",\"x\":1}", NULL, 0, out,
	                 sizeof(out)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(replies_name_the_problem),
	        cmocka_unit_test(help_lists_the_table),
	        cmocka_unit_test(fds_nobody_takes_are_closed),
	        cmocka_unit_test(subscribe_is_told),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
