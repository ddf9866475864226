/* Unit tests for src/relay/step.c, the rules' actions: drop, delay,
 * rewrite, fail (in the receiver's place, on a request or a reply),
 * disconnect, log and snapshot, each as the exact list of actions, the answer
 * vuproxy makes and what the model is told. */
#include "step_feed.h"

/* ---- rules ---- */

/* A dropped request owes nothing: its reply later is unsolicited. */
static void test_rule_drop(void **state)
{
	(void)state;
	use_rules("rules:\n"
	          "  - name: no-features\n"
	          "    match: {request: GET_FEATURES, from: front-end}\n"
	          "    action: drop\n");
	step(MAIN, FE, VUP_REQ_GET_FEATURES, REQ, NULL, 0, 0);
	expect_actions("RECORD(in fe drop rule=no-features marked), "
	               "DISCARD(in)");
	assert_int_equal(st.verdict.action, VUP_RULE_ACT_DROP);
	assert_false(st.delivered);
	assert_int_equal(st.events.n, 0);
	assert_int_equal(vup_model_owed_count(flow.model, MAIN), 0);

	step_u64(MAIN, BE, VUP_REQ_GET_FEATURES, REPLY, F_VERSION_1, 0);
	expect_actions("RECORD(in be pass marked), SEND(in)");
	assert_true(found(VUP_PROBLEM_UNSOLICITED));
}

static const char *const slow_yaml = "rules:\n"
                                     "  - name: slow\n"
                                     "    match: {request: SET_MEM_TABLE}\n"
                                     "    action: {delay: 50ms}\n";

/* SET_MEM_TABLE of one region, its fd. */
static void step_mem_table(void)
{
	uint8_t p[8 + 32];
	put_u32(p, 0, 1);
	put_u32(p, 4, 0);
	put_u64(p, 8, 0);               /* gpa */
	put_u64(p, 16, 0x40000000);     /* size */
	put_u64(p, 24, 0x7f0000000000); /* uaddr */
	put_u64(p, 32, 0);              /* mmap offset */
	step(MAIN, FE, VUP_REQ_SET_MEM_TABLE, REQ, p, sizeof(p), 1);
}

/* Delayed: held for the rule's time; the model knows it now (it will
 * reach the back-end). */
static void test_rule_delay(void **state)
{
	(void)state;
	use_rules(slow_yaml);
	step_mem_table();
	expect_actions("RECORD(in fe delay rule=slow marked), "
	               "HOLD(in rule=slow +50000000)");
	assert_int_equal(st.a[1].release_ns, NOW + 50 * MS);
	assert_int_equal(st.verdict.delay_ns, 50 * MS);
	assert_true(st.delivered);
	const struct vup_model_region *r;
	assert_int_equal(vup_model_regions(flow.model, &r), 1);
	assert_int_equal(r[0].size, 0x40000000);
	expect_event(VUP_EV_MEM_TABLE, 1, 0);
}

/* A delay of 0 sends at once, its copy as sent recorded as released. */
static void test_rule_delay_zero(void **state)
{
	(void)state;
	use_rules("rules:\n"
	          "  - name: no-wait\n"
	          "    match: {request: SET_VRING_NUM}\n"
	          "    action: {delay: 0ms}\n");
	step_state(VUP_REQ_SET_VRING_NUM, REQ, 0, 256);
	expect_actions("RECORD(in fe delay rule=no-wait marked), "
	               "RECORD(in fe released rule=no-wait as_sent), "
	               "SEND(in)");
	assert_true(st.delivered);
	assert_int_equal(vup_model_vring(flow.model, 0)->num, 256);
}

/* Rewritten: recorded as received (the original) and as sent; what the
 * receiver sees is what the model is fed. */
static void test_rule_rewrite(void **state)
{
	(void)state;
	use_rules("rules:\n"
	          "  - name: no-packed\n"
	          "    match: {request: SET_FEATURES}\n"
	          "    action: {rewrite: {clear_features: "
	          "[VIRTIO_F_RING_PACKED]}}\n");
	step_u64(MAIN, FE, VUP_REQ_SET_FEATURES, REQ,
	         F_VERSION_1 | F_RING_PACKED, 0);
	expect_actions("RECORD(orig fe rewrite rule=no-packed marked), "
	               "RECORD(in fe rewrite rule=no-packed as_sent), "
	               "SEND(in)");
	assert_true(st.verdict.rewritten);
	uint64_t x;
	assert_int_equal(st.orig_hdr.size, 8);
	memcpy(&x, st.orig, 8);
	assert_int_equal(x, F_VERSION_1 | F_RING_PACKED);
	memcpy(&x, msg.payload, 8);
	assert_int_equal(x, F_VERSION_1);
	assert_ptr_equal(view.payload, msg.payload);
	assert_true(st.delivered);
	assert_int_equal(vup_flow_neg(&flow)->features, F_VERSION_1);
}

/* A rewrite judged as its receiver gets it: setting NOFD on a kick that
 * carries its fd makes the copy as sent wrong (VU007), the received one
 * was not; the relay's mark stays the received copy's. */
static void test_rule_rewrite_problems_as_sent(void **state)
{
	(void)state;
	use_rules("rules:\n"
	          "  - name: nofd\n"
	          "    match: {request: SET_VRING_KICK}\n"
	          "    action: {rewrite: {set: {nofd: 1}}}\n");
	uint64_t index = 1;
	step(MAIN, FE, VUP_REQ_SET_VRING_KICK, REQ, &index, 8, 1);
	assert_true(st.verdict.rewritten);
	assert_int_equal(st.findings.n, 0);
	assert_int_equal(st.sent_findings.n, 1);
	assert_int_equal(st.sent_findings.f[0].kind, VUP_PROBLEM_FDS);
	assert_string_equal(st.mark, "");
}

/* A rewritten message with fds: the view keeps the fds' kinds, which
 * both of its records carry (the trace copies them). */
static void test_rule_rewrite_keeps_fd_kinds(void **state)
{
	(void)state;
	use_rules("rules:\n"
	          "  - name: kick-ring-2\n"
	          "    match: {request: SET_VRING_KICK}\n"
	          "    action: {rewrite: {set: {index: 2}}}\n");
	uint64_t index = 1;
	step(MAIN, FE, VUP_REQ_SET_VRING_KICK, REQ, &index, 8, 1);
	expect_actions("RECORD(orig fe rewrite rule=kick-ring-2 marked), "
	               "RECORD(in fe rewrite rule=kick-ring-2 as_sent), "
	               "SEND(in)");
	assert_ptr_equal(view.fd_info, fd_kinds);
	assert_int_equal(view.nfds, 1);
	/* The model saw the ring the receiver gets. */
	assert_int_equal(vup_model_vring(flow.model, 2)->run,
	                 VUP_VRING_STARTED);
	assert_int_equal(vup_model_vring(flow.model, 1)->run, VUP_VRING_IDLE);
}

/* A rewrite that continues into a delay: the copy as sent is the
 * delay's, and it is held. */
static void test_rule_rewrite_then_delay(void **state)
{
	(void)state;
	use_rules("rules:\n"
	          "  - name: small-ring\n"
	          "    match: {request: SET_VRING_NUM}\n"
	          "    action: {rewrite: {set: {num: 128}}}\n"
	          "    continue: true\n"
	          "  - name: slow-ring\n"
	          "    match: {request: SET_VRING_NUM}\n"
	          "    action: {delay: 20ms}\n");
	step_state(VUP_REQ_SET_VRING_NUM, REQ, 1, 1024);
	expect_actions("RECORD(orig fe rewrite rule=slow-ring marked), "
	               "RECORD(in fe delay rule=slow-ring as_sent), "
	               "HOLD(in rule=slow-ring +20000000)");
	assert_int_equal(vup_model_vring(flow.model, 1)->num, 128);
}

/* Failed: the request goes nowhere and vuproxy answers in the back-end's
 * place, an ack of 1 unless the rule says. */
static void test_rule_fail_request(void **state)
{
	(void)state;
	negotiate_reply_ack();
	use_rules(FAIL_ENABLE_YAML);
	step_state(SET_VRING_ENABLE, NEED, 0, 1);
	expect_actions("RECORD(in fe fail rule=no-enable marked), "
	               "DISCARD(in), "
	               "RECORD(answer be fail rule=no-enable as_sent), "
	               "SEND(answer back)");
	assert_int_equal(st.answer_hdr.request, SET_VRING_ENABLE);
	assert_int_equal(st.answer_hdr.flags, REPLY);
	assert_int_equal(answer_u64(), 1);
	assert_false(st.delivered);
	assert_int_equal(st.events.n, 0);
	assert_false(vup_model_vring(flow.model, 0)->enabled);
	assert_int_equal(vup_model_owed_count(flow.model, MAIN), 0);
}

static void test_rule_fail_value(void **state)
{
	(void)state;
	negotiate_reply_ack();
	use_rules("rules:\n"
	          "  - name: no-owner\n"
	          "    match: {request: SET_OWNER}\n"
	          "    action: {fail: 0x16}\n");
	step(MAIN, FE, SET_OWNER, NEED, NULL, 0, 0);
	expect_actions("RECORD(in fe fail rule=no-owner marked), "
	               "DISCARD(in), "
	               "RECORD(answer be fail rule=no-owner as_sent), "
	               "SEND(answer back)");
	assert_int_equal(st.answer_hdr.request, SET_OWNER);
	assert_int_equal(answer_u64(), 0x16);
}

/* GET_CONFIG's error form is an empty reply. */
static void test_rule_fail_get_config(void **state)
{
	(void)state;
	use_rules("rules:\n"
	          "  - name: fail-get-config\n"
	          "    match: {request: GET_CONFIG, from: front-end}\n"
	          "    action: fail\n");
	uint8_t p[12 + 8] = {0};
	put_u32(p, 0, 0); /* offset */
	put_u32(p, 4, 8); /* size */
	step(MAIN, FE, GET_CONFIG, REQ, p, sizeof(p), 0);
	expect_actions("RECORD(in fe fail rule=fail-get-config marked), "
	               "DISCARD(in), "
	               "RECORD(answer be fail rule=fail-get-config as_sent), "
	               "SEND(answer back)");
	assert_int_equal(st.answer_hdr.request, GET_CONFIG);
	assert_int_equal(st.answer_hdr.flags, REPLY);
	assert_int_equal(st.answer_hdr.size, 0);
	assert_int_equal(vup_model_owed_count(flow.model, MAIN), 0);
}

/* The most actions one message takes: rewritten, then failed.  The
 * answer is the rewritten request's. */
static void test_rule_rewrite_then_fail(void **state)
{
	(void)state;
	negotiate_reply_ack();
	use_rules("rules:\n"
	          "  - name: ring-one\n"
	          "    match: {request: SET_VRING_ENABLE}\n"
	          "    action: {rewrite: {set: {index: 1}}}\n"
	          "    continue: true\n"
	          "  - name: no-enable\n"
	          "    match: {request: SET_VRING_ENABLE}\n"
	          "    action: fail\n");
	step_state(SET_VRING_ENABLE, NEED, 0, 1);
	expect_actions("RECORD(orig fe rewrite rule=no-enable marked), "
	               "RECORD(in fe fail rule=no-enable as_sent), "
	               "DISCARD(in), "
	               "RECORD(answer be fail rule=no-enable as_sent), "
	               "SEND(answer back)");
	assert_int_equal(answer_u64(), 1);
	assert_false(vup_model_vring(flow.model, 0)->enabled);
	assert_false(vup_model_vring(flow.model, 1)->enabled);
}

/* A request that expects no reply is just dropped. */
static void test_rule_fail_no_reply(void **state)
{
	(void)state;
	use_rules(FAIL_ENABLE_YAML);
	step_state(SET_VRING_ENABLE, REQ, 0, 1);
	expect_actions("RECORD(in fe fail rule=no-enable marked), "
	               "DISCARD(in)");
	assert_false(st.delivered);
	assert_false(vup_model_vring(flow.model, 0)->enabled);
}

/* On the back-end channel the back-end asks: the front-end's answer is
 * vuproxy's, sent back to the back-end. */
static void test_rule_fail_backend_channel(void **state)
{
	(void)state;
	negotiate_reply_ack();
	use_rules("rules:\n"
	          "  - name: no-config-change\n"
	          "    match: {request: BACKEND_CONFIG_CHANGE_MSG}\n"
	          "    action: fail\n");
	step(BCH, BE, BACKEND_CONFIG_CHANGE_MSG, NEED, NULL, 0, 0);
	expect_actions("RECORD(in be fail rule=no-config-change marked), "
	               "DISCARD(in), "
	               "RECORD(answer fe fail rule=no-config-change as_sent), "
	               "SEND(answer back)");
	assert_int_equal(answer_u64(), 1);
	assert_int_equal(vup_model_owed_count(flow.model, BCH), 0);
}

/* `fail` meets only messages without the reply flag (rules.h): a
 * responder's message without it (a role problem, relayed) reaches the
 * rule; the error form goes on to the requester in the responder's
 * place, and the reply still pays what was owed. */
static void test_rule_fail_reply(void **state)
{
	(void)state;
	step(MAIN, FE, VUP_REQ_GET_VRING_BASE, REQ,
	     (uint8_t[8]){1, 0, 0, 0, 0, 0, 0, 0}, 8, 0);
	assert_int_equal(vup_model_owed_count(flow.model, MAIN), 1);
	use_rules("rules:\n"
	          "  - name: lose-base\n"
	          "    match: {request: GET_VRING_BASE, from: back-end}\n"
	          "    action: {fail: 9}\n");
	uint8_t p[8];
	put_u32(p, 0, 1);
	put_u32(p, 4, 4711);
	step(MAIN, BE, VUP_REQ_GET_VRING_BASE, REQ, p, 8, 0);
	expect_actions("RECORD(in be fail rule=lose-base marked), "
	               "DISCARD(in), "
	               "RECORD(answer be fail rule=lose-base as_sent), "
	               "SEND(answer)");
	assert_contains(st.mark, "role: ");
	assert_int_equal(st.answer_hdr.request, VUP_REQ_GET_VRING_BASE);
	assert_int_equal(st.answer_hdr.flags, REPLY);
	assert_int_equal(st.answer_hdr.size, 8);
	uint32_t index, num;
	memcpy(&index, st.answer, 4);
	memcpy(&num, st.answer + 4, 4);
	assert_int_equal(index, 1);
	assert_int_equal(num, 9);
	assert_int_equal(vup_model_owed_count(flow.model, MAIN), 0);
	/* What the back-end did, whatever the front-end is told. */
	expect_event(VUP_EV_VRING_STOPPED, 1, 4711);
	assert_int_equal(vup_model_vring(flow.model, 1)->stopped_at, 4711);

	/* A reply flagged as one never meets the rule. */
	step(MAIN, FE, VUP_REQ_GET_VRING_BASE, REQ, p, 8, 0);
	step(MAIN, BE, VUP_REQ_GET_VRING_BASE, REPLY, p, 8, 0);
	expect_actions("RECORD(in be pass marked), SEND(in)");
}

static void test_rule_disconnect(void **state)
{
	(void)state;
	use_rules("rules:\n"
	          "  - name: crash\n"
	          "    match:\n"
	          "      request: SET_STATUS\n"
	          "      fields: {status: {mask: 4, eq: 4}}\n"
	          "    action: {disconnect: back-end}\n"
	          "  - name: cut\n"
	          "    match: {request: SET_VRING_NUM}\n"
	          "    action: disconnect\n");
	step_u64(MAIN, FE, VUP_REQ_SET_STATUS, REQ, 0xf, 0);
	expect_actions("RECORD(in fe disconnect rule=crash marked), "
	               "DISCARD(in), CLOSE(in sides=2)");
	assert_false(st.delivered);
	uint8_t status;
	assert_false(vup_model_status(flow.model, &status));

	step_state(VUP_REQ_SET_VRING_NUM, REQ, 0, 256);
	expect_actions("RECORD(in fe disconnect rule=cut marked), "
	               "DISCARD(in), CLOSE(in sides=3)");
}

static void test_rule_log(void **state)
{
	(void)state;
	use_rules("rules:\n"
	          "  - name: watch-num\n"
	          "    match: {request: SET_VRING_NUM}\n"
	          "    action: log\n");
	step_state(VUP_REQ_SET_VRING_NUM, REQ, 0, 256);
	expect_actions("RECORD(in fe log rule=watch-num marked), SEND(in)");
	assert_true(st.delivered);
	assert_int_equal(vup_model_vring(flow.model, 0)->num, 256);
}

/* A snapshot rule is recorded as a log (the trace has no snapshot
 * action); the verdict names it whatever a later rule decides. */
static void test_rule_snapshot(void **state)
{
	(void)state;
	use_rules("rules:\n"
	          "  - name: catch-num\n"
	          "    match: {request: SET_VRING_NUM}\n"
	          "    action: snapshot\n"
	          "  - name: cut-second\n"
	          "    match: {request: SET_VRING_NUM}\n"
	          "    when: {nth: 2}\n"
	          "    action: drop\n");
	step_state(VUP_REQ_SET_VRING_NUM, REQ, 0, 256);
	expect_actions("RECORD(in fe log rule=catch-num marked), SEND(in)");
	assert_string_equal(st.verdict.snapshot, "catch-num");
	assert_true(st.delivered);
	assert_int_equal(vup_model_vring(flow.model, 0)->num, 256);
	step_state(VUP_REQ_SET_VRING_NUM, REQ, 0, 128);
	expect_actions("RECORD(in fe drop rule=cut-second marked), "
	               "DISCARD(in)");
	assert_string_equal(st.verdict.snapshot, "catch-num");
	assert_false(st.delivered);
	assert_int_equal(vup_model_vring(flow.model, 0)->num, 256);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(test_rule_drop),
	        T(test_rule_delay),
	        T(test_rule_delay_zero),
	        T(test_rule_rewrite),
	        T(test_rule_rewrite_problems_as_sent),
	        T(test_rule_rewrite_keeps_fd_kinds),
	        T(test_rule_rewrite_then_delay),
	        T(test_rule_fail_request),
	        T(test_rule_fail_value),
	        T(test_rule_fail_get_config),
	        T(test_rule_rewrite_then_fail),
	        T(test_rule_fail_no_reply),
	        T(test_rule_fail_backend_channel),
	        T(test_rule_fail_reply),
	        T(test_rule_disconnect),
	        T(test_rule_log),
	        T(test_rule_snapshot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
