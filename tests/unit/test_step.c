/* Unit tests for src/relay/step.c: the relay's decision for one message
 * as a list of actions, without sockets: plain pass and what the model
 * is fed, refusal, the hold queues' order, the back-end channel's
 * interposition and the tap's events.  The rules' actions are in
 * test_step_rules.c. */
#include "step_feed.h"

/* ---- plain pass ---- */

static void test_pass_feeds_the_model(void **state)
{
	(void)state;
	step(MAIN, FE, VUP_REQ_GET_FEATURES, REQ, NULL, 0, 0);
	expect_actions("RECORD(in fe pass marked), SEND(in)");
	assert_null(st.refusal);
	assert_int_equal(st.findings.n, 0);
	assert_string_equal(st.mark, "");
	assert_true(st.delivered);
	assert_int_equal(st.verdict.action, VUP_RULE_ACT_PASS);
	assert_non_null(event(VUP_EV_REPLY_OWED));
	assert_int_equal(event(VUP_EV_REPLY_OWED)->value, VUP_REQ_GET_FEATURES);
	assert_int_equal(vup_model_owed_count(flow.model, MAIN), 1);

	/* The back-end's reply pays it. */
	step_u64(MAIN, BE, VUP_REQ_GET_FEATURES, REPLY,
	         F_VERSION_1 | F_RING_PACKED, 0);
	expect_actions("RECORD(in be pass marked), SEND(in)");
	assert_string_equal(st.mark, "");
	assert_non_null(event(VUP_EV_REPLY_PAID));
	assert_int_equal(event(VUP_EV_REPLY_PAID)->value, VUP_REQ_GET_FEATURES);
	assert_int_equal(vup_model_owed_count(flow.model, MAIN), 0);
	uint64_t bits;
	assert_true(vup_model_offered(flow.model, false, &bits));
	assert_int_equal(bits, F_VERSION_1 | F_RING_PACKED);

	step_u64(MAIN, FE, VUP_REQ_SET_FEATURES, REQ, F_VERSION_1, 0);
	expect_actions("RECORD(in fe pass marked), SEND(in)");
	assert_true(st.delivered);
	assert_int_equal(vup_flow_neg(&flow)->features, F_VERSION_1);
}

/* ---- refusal ---- */

/* A message vuproxy cannot relay is recorded and refused; the model and
 * the rules never see it. */
static void test_refuse_bad_version(void **state)
{
	(void)state;
	use_rules("rules:\n"
	          "  - name: first-set-features\n"
	          "    match: {request: SET_FEATURES}\n"
	          "    when: {nth: 1}\n"
	          "    action: drop\n");
	step_u64(MAIN, FE, VUP_REQ_SET_FEATURES, 0x2, F_VERSION_1, 0);
	expect_actions("RECORD(in fe refused), REFUSE(in)");
	assert_non_null(st.refusal);
	assert_int_equal(st.refusal->kind, VUP_PROBLEM_VERSION);
	/* No rule decided: the refusal is the fate, "refused" in the
	 * trace (a note of the trace's, no rule verdict). */
	assert_null(st.verdict.rule);
	assert_int_equal(st.verdict.nlogged, 0);
	assert_contains(st.mark, "version");
	assert_false(st.delivered);
	assert_int_equal(st.events.n, 0);
	assert_int_equal(vup_flow_neg(&flow)->features, 0);
	assert_int_equal(vup_model_owed_count(flow.model, MAIN), 0);

	/* The rule's counter did not count the refused message. */
	step_u64(MAIN, FE, VUP_REQ_SET_FEATURES, REQ, F_VERSION_1, 0);
	expect_actions("RECORD(in fe drop rule=first-set-features marked), "
	               "DISCARD(in)");
}

/* A reply nobody asked for: refused with --strict, else reported in the
 * mark and relayed. */
static void test_refuse_strict(void **state)
{
	(void)state;
	ctx.strict = true;
	step_u64(MAIN, BE, VUP_REQ_GET_FEATURES, REPLY, F_VERSION_1, 0);
	expect_actions("RECORD(in be refused), REFUSE(in)");
	assert_int_equal(st.refusal->kind, VUP_PROBLEM_UNSOLICITED);
	assert_false(st.delivered);
	uint64_t bits;
	assert_false(vup_model_offered(flow.model, false, &bits));

	ctx.strict = false;
	step_u64(MAIN, BE, VUP_REQ_GET_FEATURES, REPLY, F_VERSION_1, 0);
	expect_actions("RECORD(in be pass marked), SEND(in)");
	assert_null(st.refusal);
	assert_true(found(VUP_PROBLEM_UNSOLICITED));
	assert_contains(st.mark, "unsolicited-reply: ");
	assert_true(st.delivered);
}

/* ---- hold ordering ---- */

/* Behind what is held in its direction, a message waits (from now on:
 * the queue keeps it behind the others). */
static void test_held_direction(void **state)
{
	(void)state;
	ctx.held[FE] = true;
	step_state(VUP_REQ_SET_VRING_NUM, REQ, 0, 256);
	expect_actions("RECORD(in fe pass marked), HOLD(in +0)");
	assert_true(st.delivered);

	/* The other direction is not held back. */
	step_u64(MAIN, BE, VUP_REQ_GET_FEATURES, REPLY, F_VERSION_1, 0);
	expect_actions("RECORD(in be pass marked), SEND(in)");

	/* A delay of 0 waits too; it is recorded when it leaves. */
	use_rules("rules:\n"
	          "  - name: no-wait\n"
	          "    match: {request: SET_VRING_NUM}\n"
	          "    action: {delay: 0ms}\n");
	step_state(VUP_REQ_SET_VRING_NUM, REQ, 0, 256);
	expect_actions("RECORD(in fe delay rule=no-wait marked), "
	               "HOLD(in rule=no-wait +0)");
}

/* vuproxy's answer goes back behind what the back-end already sent. */
static void test_held_answer(void **state)
{
	(void)state;
	negotiate_reply_ack();
	use_rules(FAIL_ENABLE_YAML);
	ctx.held[FE] = true; /* the request's direction: it goes nowhere */
	step_state(SET_VRING_ENABLE, NEED, 0, 1);
	expect_actions("RECORD(in fe fail rule=no-enable marked), "
	               "DISCARD(in), "
	               "RECORD(answer be fail rule=no-enable as_sent), "
	               "SEND(answer back)");
	ctx.held[FE] = false;
	ctx.held[BE] = true;
	step_state(SET_VRING_ENABLE, NEED, 0, 1);
	expect_actions("RECORD(in fe fail rule=no-enable marked), "
	               "DISCARD(in), "
	               "RECORD(answer be fail rule=no-enable as_sent), "
	               "HOLD(answer back +0)");
}

/* ---- the back-end channel ---- */

static void test_interpose(void **state)
{
	(void)state;
	negotiate_reply_ack();
	fd_is_socket = true;
	step(MAIN, FE, VUP_REQ_SET_BACKEND_REQ_FD, REQ, NULL, 0, 1);
	assert_true(vup_step_opens_backend_channel(&view));
	expect_actions("RECORD(in fe pass marked), SEND(in interpose)");
	assert_false(found(VUP_PROBLEM_BACKEND_REQ_FD));
	assert_string_equal(st.mark, "");
	expect_event(VUP_EV_BACKEND_CHANNEL, 0, 1);

	/* Behind a held message: interposed when it leaves. */
	ctx.held[FE] = true;
	step(MAIN, FE, VUP_REQ_SET_BACKEND_REQ_FD, REQ, NULL, 0, 1);
	expect_actions("RECORD(in fe pass marked), HOLD(in interpose +0)");
}

/* Whatever its flags say: the back-end may take it. */
static void test_interpose_any_flags(void **state)
{
	(void)state;
	negotiate_reply_ack();
	fd_is_socket = true;
	step(MAIN, FE, VUP_REQ_SET_BACKEND_REQ_FD, REPLY, NULL, 0, 1);
	assert_true(vup_step_opens_backend_channel(&view));
	expect_actions("RECORD(in fe pass marked), SEND(in interpose)");
	assert_false(found(VUP_PROBLEM_BACKEND_REQ_FD));
}

static void test_interpose_not_a_socket(void **state)
{
	(void)state;
	negotiate_reply_ack();
	fd_is_socket = false;
	step(MAIN, FE, VUP_REQ_SET_BACKEND_REQ_FD, REQ, NULL, 0, 1);
	expect_actions("RECORD(in fe pass marked), SEND(in)");
	assert_true(found(VUP_PROBLEM_BACKEND_REQ_FD));
	assert_contains(st.mark, "backend-req-fd: the fd is not a socket: "
	                         "passed on as it is, the back-end channel "
	                         "is not interposed");
	assert_true(st.delivered);

	/* A STRICT problem: --strict refuses it. */
	ctx.strict = true;
	step(MAIN, FE, VUP_REQ_SET_BACKEND_REQ_FD, REQ, NULL, 0, 1);
	expect_actions("RECORD(in fe refused), REFUSE(in)");
	assert_int_equal(st.refusal->kind, VUP_PROBLEM_BACKEND_REQ_FD);
}

static void test_interpose_two_fds(void **state)
{
	(void)state;
	negotiate_reply_ack();
	fd_is_socket = true;
	step(MAIN, FE, VUP_REQ_SET_BACKEND_REQ_FD, REQ, NULL, 0, 2);
	expect_actions("RECORD(in fe pass marked), SEND(in)");
	assert_true(found(VUP_PROBLEM_BACKEND_REQ_FD));
	assert_contains(st.mark, "backend-req-fd: more than one fd");
}

/* Delayed, it is interposed when it leaves. */
static void test_interpose_delayed(void **state)
{
	(void)state;
	negotiate_reply_ack();
	use_rules("rules:\n"
	          "  - name: late-channel\n"
	          "    match: {request: SET_BACKEND_REQ_FD}\n"
	          "    action: {delay: 1s}\n");
	fd_is_socket = true;
	step(MAIN, FE, VUP_REQ_SET_BACKEND_REQ_FD, REQ, NULL, 0, 1);
	expect_actions("RECORD(in fe delay rule=late-channel marked), "
	               "HOLD(in rule=late-channel interpose +1000000000)");
	assert_false(found(VUP_PROBLEM_BACKEND_REQ_FD));
}

/* Only the front-end hands out the back-end channel, and only on the
 * main channel. */
static void test_interpose_not_from_backend(void **state)
{
	(void)state;
	negotiate_reply_ack();
	fd_is_socket = true;
	step(MAIN, BE, VUP_REQ_SET_BACKEND_REQ_FD, REQ, NULL, 0, 1);
	assert_false(vup_step_opens_backend_channel(&view));
	assert_int_equal(st.n, 2);
	assert_int_equal(st.a[1].kind, VUP_STEP_SEND);
	assert_false(st.a[1].interpose);
	assert_false(found(VUP_PROBLEM_BACKEND_REQ_FD));

	step(BCH, FE, VUP_REQ_SET_BACKEND_REQ_FD, REQ, NULL, 0, 1);
	assert_false(vup_step_opens_backend_channel(&view));
	assert_int_equal(st.a[st.n - 1].kind, VUP_STEP_SEND);
	assert_false(st.a[st.n - 1].interpose);
	assert_false(found(VUP_PROBLEM_BACKEND_REQ_FD));
}

/* ---- the tap's events ---- */

static void test_events_for_the_tap(void **state)
{
	(void)state;
	use_rules("rules:\n"
	          "  - name: no-kick-1\n"
	          "    match: {request: SET_VRING_KICK, vring: 1}\n"
	          "    action: drop\n");
	step_u64(MAIN, FE, VUP_REQ_SET_VRING_KICK, REQ, 0, 1);
	expect_actions("RECORD(in fe pass marked), SEND(in)");
	assert_true(st.delivered);
	expect_event(VUP_EV_VRING_STARTED, 0, 0);
	assert_int_equal(vup_model_vring(flow.model, 0)->run,
	                 VUP_VRING_STARTED);

	step_u64(MAIN, FE, VUP_REQ_SET_VRING_KICK, REQ, 1, 1);
	expect_actions("RECORD(in fe drop rule=no-kick-1 marked), "
	               "DISCARD(in)");
	assert_false(st.delivered);
	assert_int_equal(st.events.n, 0);
	assert_int_equal(vup_model_vring(flow.model, 1)->run, VUP_VRING_IDLE);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(test_pass_feeds_the_model),
	        T(test_refuse_bad_version),
	        T(test_refuse_strict),
	        T(test_held_direction),
	        T(test_held_answer),
	        T(test_interpose),
	        T(test_interpose_any_flags),
	        T(test_interpose_not_a_socket),
	        T(test_interpose_two_fds),
	        T(test_interpose_delayed),
	        T(test_interpose_not_from_backend),
	        T(test_events_for_the_tap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
