/* Unit tests of `vuproxy check` (src/check/cmd.c) on a trace written here
 * with the trace writer: frame numbers count every packet (tap frames
 * too), a message vuproxy refused is still judged, the exit status
 * follows the error findings, --session and --junit; a fault a rule
 * injected is attributed to the rule, judged as its receiver saw it. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check_run.h"
#include "unit.h"
#include "vuproxy/check.h"
#include "vuproxy/trace.h"

static char dir[] = "/tmp/vup-check-XXXXXX";
static char trace_path[600], out_path[600], junit_path[600], rule_path[600];

/* A message of session 1; rule: the rule's name or NULL, as_sent: the
 * copy a rule's action sent. */
static void rmsg(struct vup_trace *t, uint64_t ts, bool from_be, uint8_t action,
                 const char *rule, bool as_sent, uint32_t code, uint32_t flags,
                 const void *p, uint32_t size)
{
	struct vup_trace_hdr th;
	memset(&th, 0, sizeof(th));
	th.session = 1;
	th.action = action;
	th.flags = (uint8_t)((from_be ? VUP_TRACE_F_FROM_BACKEND : 0) |
	                     (as_sent ? VUP_TRACE_F_AS_SENT : 0));
	if (rule)
		snprintf(th.rule, sizeof(th.rule), "%s", rule);
	struct vup_hdr h = hdr(code, flags, size);
	assert_int_equal(vup_trace_message(t, ts, &th, &h, p), 0);
}

static void msg(struct vup_trace *t, uint64_t ts, bool from_be, uint8_t action,
                uint32_t code, uint32_t flags, const void *p, uint32_t size)
{
	rmsg(t, ts, from_be, action, NULL, false, code, flags, p, size);
}

/* A session with rules at work: "add-bit" rewrites the front-end's
 * SET_FEATURES (as received: only offered bits; as sent: bit 0, never
 * offered), "fail-base" answers GET_VRING_BASE itself, "log-owner" only
 * logs SET_OWNER. */
static int write_rule_trace(void)
{
	struct vup_trace_config cfg = {.path = rule_path};
	struct vup_trace *t;
	char err[256];
	if (vup_trace_open(&cfg, &t, err, sizeof(err)))
		return -1;
	vup_trace_add_session(t, 1, "s1 a>b", "session 1");
	uint64_t features = 1ull << VUP_F_VERSION_1, acked = features | 1;
	uint8_t state8[8] = {0};
	rmsg(t, 1, false, VUP_TRACE_ACT_LOG, "log-owner", false,
	     VUP_REQ_SET_OWNER, REQ, NULL, 0); /* frame 1 */
	msg(t, 2, false, VUP_TRACE_ACT_PASS, VUP_REQ_GET_FEATURES, REQ, NULL,
	    0); /* frame 2 */
	msg(t, 3, true, VUP_TRACE_ACT_PASS, VUP_REQ_GET_FEATURES, REPLY,
	    &features, 8); /* frame 3 */
	rmsg(t, 4, false, VUP_TRACE_ACT_REWRITE, "add-bit", false,
	     VUP_REQ_SET_FEATURES, REQ, &features, 8); /* frame 4: fine */
	rmsg(t, 4, false, VUP_TRACE_ACT_REWRITE, "add-bit", true,
	     VUP_REQ_SET_FEATURES, REQ, &acked, 8); /* frame 5: VU012 */
	rmsg(t, 6, false, VUP_TRACE_ACT_FAIL, "fail-base", false,
	     VUP_REQ_GET_VRING_BASE, REQ, state8, 8); /* frame 6 */
	rmsg(t, 6, true, VUP_TRACE_ACT_FAIL, "fail-base", true,
	     VUP_REQ_GET_VRING_BASE, REPLY | VUP_FLAG_NEED_REPLY, state8,
	     8); /* frame 7: made by vuproxy, NEED_REPLY on a reply: VU004 */
	msg(t, 8, false, VUP_TRACE_ACT_PASS, VUP_REQ_GET_VRING_BASE, REQ,
	    state8, 8); /* frame 8: never answered, VU022, no rule */
	/* "fail-config" answers GET_CONFIG with the error form, size 0, as
	 * rules/fail-get-config.yaml does; the request itself is judged as
	 * sent (VU014: CONFIG was not negotiated). */
	uint8_t cfg_req[12 + 8] = {0};
	cfg_req[4] = 8; /* size */
	rmsg(t, 9, false, VUP_TRACE_ACT_FAIL, "fail-config", false,
	     VUP_REQ_GET_CONFIG, REQ, cfg_req, sizeof(cfg_req)); /* 9 */
	rmsg(t, 9, true, VUP_TRACE_ACT_FAIL, "fail-config", true,
	     VUP_REQ_GET_CONFIG, REPLY, NULL, 0); /* frame 10: VU026 */
	return vup_trace_close(t) ? -1 : 0;
}

static int write_trace(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(trace_path, sizeof(trace_path), "%s/t.pcapng.gz", dir);
	snprintf(out_path, sizeof(out_path), "%s/out", dir);
	snprintf(junit_path, sizeof(junit_path), "%s/j.xml", dir);
	snprintf(rule_path, sizeof(rule_path), "%s/r.pcapng.gz", dir);
	if (write_rule_trace())
		return -1;
	struct vup_trace_config cfg = {.path = trace_path};
	struct vup_trace *t;
	char err[256];
	if (vup_trace_open(&cfg, &t, err, sizeof(err)))
		return -1;
	vup_trace_add_session(t, 1, "s1 a>b", "session 1");
	uint32_t net;
	vup_trace_add_iface(t, 1, LINKTYPE_ETHERNET, 1514, "s1 net q1 tx", "tx",
	                    &net);
	uint64_t features = 1ull << VUP_F_VERSION_1, acked = features | 1;
	uint8_t state8[8] = {0};
	uint8_t frame[60] = {0};
	msg(t, 1, false, VUP_TRACE_ACT_PASS, VUP_REQ_GET_FEATURES, REQ, NULL,
	    0); /* frame 1 */
	msg(t, 2, true, VUP_TRACE_ACT_PASS, VUP_REQ_GET_FEATURES, REPLY,
	    &features, 8);                                        /* frame 2 */
	vup_trace_packet(t, net, 3, 0, frame, sizeof(frame), 60); /* 3 */
	msg(t, 4, false, VUP_TRACE_ACT_PASS, VUP_REQ_SET_OWNER, REQ, NULL,
	    0); /* frame 4 */
	msg(t, 5, false, VUP_TRACE_ACT_PASS, VUP_REQ_SET_FEATURES, REQ, &acked,
	    8); /* frame 5: VU012 */
	msg(t, 6, false, VUP_TRACE_ACT_REFUSED, VUP_REQ_SET_VRING_NUM, 0x2,
	    state8, 8); /* frame 6: VU001, refused by vuproxy */
	msg(t, 7, false, VUP_TRACE_ACT_PASS, VUP_REQ_GET_VRING_BASE, REQ,
	    state8, 8); /* frame 7: never answered, VU022 */
	return vup_trace_close(t) ? -1 : 0;
}

static int cleanup(void **state)
{
	(void)state;
	unlink(trace_path);
	unlink(out_path);
	unlink(junit_path);
	unlink(rule_path);
	rmdir(dir);
	return 0;
}

/* Run `vuproxy check ARGS... FILE` with stdout into out_path. */
static int run_on(const char *file, const char *a1, const char *a2,
                  const char *a3)
{
	return check_run(out_path, file, a1, a2, a3);
}

static int run(const char *a1, const char *a2, const char *a3)
{
	return run_on(trace_path, a1, a2, a3);
}

#define slurp check_slurp

static void test_text(void **state)
{
	(void)state;
	assert_int_equal(run(NULL, NULL, NULL), 1);
	const char *out = slurp(out_path);
	assert_contains(out, "frame 5 s1 VU012 error SET_FEATURES: acked 0x1");
	assert_contains(out, "frame 6 s1 VU001 error SET_VRING_NUM");
	assert_contains(out, "frame 7 s1 VU022 error GET_VRING_BASE");
	/* GET_FEATURES came before SET_OWNER, as QEMU sends it. */
	assert_contains(out, "frame 1 s1 VU015 warning GET_FEATURES");
	assert_contains(out, "3 errors, 1 warnings, 0 infos in 1 sessions, "
	                     "6 messages");
}

static void test_json(void **state)
{
	(void)state;
	assert_int_equal(run("--json", NULL, NULL), 1);
	const char *out = slurp(out_path);
	assert_contains(out, "{\"id\":\"VU012\",\"severity\":\"error\","
	                     "\"session\":1,\"frame\":5,\"request\":"
	                     "\"SET_FEATURES\",\"message\":\"acked 0x1, "
	                     "never offered\",\"spec\":"
	                     "\"VHOST_USER_SET_FEATURES: Enable features");
	assert_lacks(out, "errors,"); /* the summary goes to stderr */
}

static void test_session(void **state)
{
	(void)state;
	assert_int_equal(run("--session", "2", NULL), 0);
	assert_contains(slurp(out_path), "0 errors, 0 warnings, 0 infos in 0 "
	                                 "sessions, 0 messages");
}

static void test_junit(void **state)
{
	(void)state;
	assert_int_equal(run("--junit", junit_path, NULL), 1);
	const char *x = slurp(junit_path);
	char want[64];
	snprintf(want, sizeof(want), "tests=\"%d\" failures=\"3\"",
	         VUP_CHECK_COUNT);
	assert_contains(x, want);
	assert_contains(x, "<testcase classname=\"session 1\" name=\"VU012 "
	                   "acked features never offered\"><failure "
	                   "message=\"frame 5: SET_FEATURES: acked 0x1");
	assert_contains(x, "</testsuite></testsuites>");
}

/* The receiver's view of a rewrite is the copy as sent: only that one
 * trips VU012, and the rule is named; a reply vuproxy made is judged as
 * the front-end reads it, but not paired with a request the back-end
 * never saw; LOG is no fault. */
static void test_rule(void **state)
{
	(void)state;
	assert_int_equal(run_on(rule_path, NULL, NULL, NULL), 1);
	const char *out = slurp(out_path);
	assert_contains(out, "frame 5 s1 VU012 error SET_FEATURES: acked 0x1, "
	                     "never offered (");
	assert_contains(out, "); injected by rule add-bit\n");
	assert_lacks(out, "frame 4 ");
	assert_contains(out, "frame 7 s1 VU004 warning GET_VRING_BASE");
	assert_contains(out, "injected by rule fail-base\n");
	assert_lacks(out, "VU009");
	assert_contains(out, "frame 8 s1 VU022 error GET_VRING_BASE");
	assert_lacks(out, "log-owner");
	assert_contains(out, "frame 9 s1 VU014 error GET_CONFIG");
	assert_contains(out, "frame 10 s1 VU026 error GET_CONFIG: GET_CONFIG "
	                     "of 8 bytes answered with size 0 (");
	assert_contains(out, "injected by rule fail-config\n");
	assert_contains(out, "4 errors, 1 warnings, 0 infos in 1 sessions, "
	                     "9 messages");

	assert_int_equal(run_on(rule_path, "--json", NULL, NULL), 1);
	out = slurp(out_path);
	assert_contains(out, "\"frame\":5,\"request\":\"SET_FEATURES\"");
	assert_contains(out, ",\"rule\":\"add-bit\"}\n");
	assert_contains(out, ",\"rule\":\"fail-base\"}\n");
	assert_contains(out, ",\"rule\":null}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_text),    cmocka_unit_test(test_json),
	        cmocka_unit_test(test_session), cmocka_unit_test(test_junit),
	        cmocka_unit_test(test_rule),
	};
	return cmocka_run_group_tests(tests, write_trace, cleanup);
}
