/* Unit tests for src/model/replies.c: the replies owed per channel, their
 * pairing and what a reply pays. */
#include "model_feed.h"

/* ---- replies ---- */

static void replies_paid_in_order(void **state)
{
	(void)state;
	char why[160];
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	uint64_t t1 = now;
	expect_seq(VUP_EV_REPLY_OWED);
	expect_event(VUP_EV_REPLY_OWED, UINT32_MAX, VUP_REQ_GET_FEATURES);
	assert_int_equal(ev.e[0].since_ns, t1);
	fe(VUP_REQ_GET_PROTOCOL_FEATURES, NULL, 0);
	uint64_t t2 = now;
	assert_int_equal(vup_model_owed_count(m, MAIN), 2);
	const struct vup_model_owed *o = vup_model_owed_at(m, MAIN, 0);
	assert_int_equal(o->code, VUP_REQ_GET_FEATURES);
	assert_int_equal(o->expect, VUP_EXPECT_YES);
	assert_int_equal(o->since_ns, t1);
	assert_int_equal(vup_model_owed_at(m, MAIN, 1)->since_ns, t2);
	assert_null(vup_model_owed_at(m, MAIN, 2));
	assert_int_equal(vup_model_owed_count(m, BCH), 0);

	uint64_t x = 1;
	assert_int_equal(pairing(MAIN, BE, VUP_REQ_GET_FEATURES, REPLY, &x, 8,
	                         why, sizeof(why)),
	                 VUP_PROBLEM_NONE);
	be_u64(VUP_REQ_GET_FEATURES, 1);
	expect_event(VUP_EV_REPLY_PAID, UINT32_MAX, VUP_REQ_GET_FEATURES);
	assert_int_equal(ev.e[0].since_ns, t1);
	be_u64(VUP_REQ_GET_PROTOCOL_FEATURES, 1);
	expect_event(VUP_EV_REPLY_PAID, UINT32_MAX,
	             VUP_REQ_GET_PROTOCOL_FEATURES);
	assert_int_equal(ev.e[0].since_ns, t2);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
}

/* An ACK-rule request owes its u64 only with NEED_REPLY: certainly with
 * REPLY_ACK, possibly without. */
static void replies_need_reply(void **state)
{
	(void)state;
	fe_state(VUP_REQ_SET_VRING_NUM, 0, 256);
	expect_seq(VUP_EV_VRING_NUM);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
	uint8_t p[8] = {0};
	feed_msg(MAIN, FE, VUP_REQ_SET_VRING_NUM, NEED, p, 8, 0, true);
	expect_seq(VUP_EV_REPLY_OWED, VUP_EV_VRING_NUM);
	assert_int_equal(vup_model_owed_at(m, MAIN, 0)->expect,
	                 VUP_EXPECT_MAYBE);
	be_u64(VUP_REQ_SET_VRING_NUM, 0);
	expect_seq(VUP_EV_REPLY_PAID);

	fe_u64(VUP_REQ_SET_PROTOCOL_FEATURES, 1ull << VUP_PF_REPLY_ACK);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
	feed_msg(MAIN, FE, VUP_REQ_SET_VRING_NUM, NEED, p, 8, 0, true);
	uint64_t asked = now;
	expect_event(VUP_EV_REPLY_OWED, 0, VUP_REQ_SET_VRING_NUM);
	const struct vup_model_owed *o = vup_model_owed_at(m, MAIN, 0);
	assert_int_equal(o->expect, VUP_EXPECT_YES);
	assert_int_equal(o->since_ns, asked);
	be_u64(VUP_REQ_SET_VRING_NUM, 0);
	expect_seq(VUP_EV_REPLY_PAID);
	assert_int_equal(ev.e[0].since_ns, asked);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
}

/* A reply that may or may not come is passed over by the next one. */
static void replies_optional_skipped(void **state)
{
	(void)state;
	char why[160];
	uint8_t p[8] = {0};
	feed_msg(MAIN, FE, VUP_REQ_SET_VRING_NUM, NEED, p, 8, 0, true);
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	assert_int_equal(vup_model_owed_count(m, MAIN), 2);
	uint64_t x = 3;
	assert_int_equal(pairing(MAIN, BE, VUP_REQ_GET_FEATURES, REPLY, &x, 8,
	                         why, sizeof(why)),
	                 VUP_PROBLEM_NONE);
	be_u64(VUP_REQ_GET_FEATURES, 3);
	expect_seq(VUP_EV_REPLY_PAID, VUP_EV_FEATURES_OFFERED);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
}

static void replies_out_of_order(void **state)
{
	(void)state;
	char why[160];
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	fe(VUP_REQ_GET_PROTOCOL_FEATURES, NULL, 0);
	fe_state(VUP_REQ_GET_VRING_BASE, 2, 0);
	uint64_t x = 1ull << VUP_PF_MQ;
	assert_int_equal(pairing(MAIN, BE, VUP_REQ_GET_PROTOCOL_FEATURES, REPLY,
	                         &x, 8, why, sizeof(why)),
	                 VUP_PROBLEM_REPLY_ORDER);
	assert_string_equal(why, "reply to GET_PROTOCOL_FEATURES while a "
	                         "reply to GET_FEATURES is owed");
	/* Pairing changes nothing. */
	assert_int_equal(vup_model_owed_count(m, MAIN), 3);
	be_u64(VUP_REQ_GET_PROTOCOL_FEATURES, x);
	expect_seq(VUP_EV_REPLY_PAID, VUP_EV_PROTOCOL_OFFERED);
	expect_event(VUP_EV_REPLY_PAID, UINT32_MAX,
	             VUP_REQ_GET_PROTOCOL_FEATURES);
	assert_int_equal(vup_model_owed_count(m, MAIN), 2);
	assert_int_equal(vup_model_owed_at(m, MAIN, 0)->code,
	                 VUP_REQ_GET_FEATURES);
	assert_int_equal(vup_model_owed_at(m, MAIN, 1)->code,
	                 VUP_REQ_GET_VRING_BASE);
	assert_int_equal(vup_model_owed_at(m, MAIN, 1)->vring, 2);
	/* The rest pair in order. */
	be_u64(VUP_REQ_GET_FEATURES, 0);
	expect_event(VUP_EV_REPLY_PAID, UINT32_MAX, VUP_REQ_GET_FEATURES);
	be_state(VUP_REQ_GET_VRING_BASE, 2, 5);
	expect_event(VUP_EV_VRING_STOPPED, 2, 5);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
}

static void replies_unsolicited(void **state)
{
	(void)state;
	char why[200];
	uint64_t x = 0;
	assert_int_equal(pairing(MAIN, BE, VUP_REQ_GET_FEATURES, REPLY, &x, 8,
	                         why, sizeof(why)),
	                 VUP_PROBLEM_UNSOLICITED);
	assert_string_equal(why,
	                    "reply to GET_FEATURES (code 1) that nobody asked "
	                    "for");
	be_u64(VUP_REQ_GET_FEATURES, 7);
	expect_no_event(VUP_EV_REPLY_PAID);

	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	fe(VUP_REQ_GET_PROTOCOL_FEATURES, NULL, 0);
	assert_int_equal(pairing(MAIN, BE, 40, REPLY, &x, 8, why, sizeof(why)),
	                 VUP_PROBLEM_UNSOLICITED);
	assert_contains(why, "reply to GET_STATUS (code 40) that nobody "
	                     "asked for");
	assert_contains(why, "(a reply to GET_FEATURES is owed)");
	be_u64(40, 0xf);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_owed_count(m, MAIN), 2);
	assert_int_equal(vup_model_owed_at(m, MAIN, 0)->code,
	                 VUP_REQ_GET_FEATURES);
	assert_int_equal(vup_model_owed_at(m, MAIN, 1)->code,
	                 VUP_REQ_GET_PROTOCOL_FEATURES);
	/* An unknown code is unsolicited too, by number. */
	assert_int_equal(pairing(MAIN, BE, 999, REPLY, &x, 8, why, sizeof(why)),
	                 VUP_PROBLEM_UNSOLICITED);
	assert_contains(why, "reply to UNKNOWN (code 999)");
}

/* Past VUP_MODEL_OWED_MAX the oldest is no longer awaited. */
static void replies_owed_bounded(void **state)
{
	(void)state;
	char why[200];
	fe(40, NULL, 0); /* GET_STATUS */
	for (unsigned i = 1; i < VUP_MODEL_OWED_MAX; i++) {
		assert_int_equal(pairing(MAIN, FE, VUP_REQ_GET_FEATURES, REQ,
		                         NULL, 0, why, sizeof(why)),
		                 VUP_PROBLEM_NONE);
		fe(VUP_REQ_GET_FEATURES, NULL, 0);
	}
	uint64_t second = vup_model_owed_at(m, MAIN, 1)->since_ns;
	assert_int_equal(vup_model_owed_count(m, MAIN), VUP_MODEL_OWED_MAX);
	assert_int_equal(pairing(MAIN, FE, VUP_REQ_GET_FEATURES, REQ, NULL, 0,
	                         why, sizeof(why)),
	                 VUP_PROBLEM_OWED_REPLIES);
	assert_string_equal(why, "64 requests on the main channel are "
	                         "awaiting replies; the oldest (GET_STATUS) "
	                         "is no longer awaited");
	/* A request owing nothing overflows nothing. */
	uint64_t x = 0;
	assert_int_equal(pairing(MAIN, FE, VUP_REQ_SET_FEATURES, REQ, &x, 8,
	                         why, sizeof(why)),
	                 VUP_PROBLEM_NONE);
	assert_int_equal(vup_model_owed_count(m, MAIN), VUP_MODEL_OWED_MAX);

	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	expect_seq(VUP_EV_REPLY_FORGOTTEN, VUP_EV_REPLY_OWED);
	expect_event(VUP_EV_REPLY_FORGOTTEN, 0, 40);
	assert_int_equal(vup_model_owed_count(m, MAIN), VUP_MODEL_OWED_MAX);
	assert_int_equal(vup_model_owed_at(m, MAIN, 0)->since_ns, second);
	assert_int_equal(
	        vup_model_owed_at(m, MAIN, VUP_MODEL_OWED_MAX - 1)->since_ns,
	        now);
	/* The forgotten one's reply is now unsolicited; the others pay. */
	be_u64(40, 0);
	expect_no_event(VUP_EV_REPLY_PAID);
	for (unsigned i = 0; i < VUP_MODEL_OWED_MAX; i++) {
		be_u64(VUP_REQ_GET_FEATURES, 0);
		expect_event(VUP_EV_REPLY_PAID, UINT32_MAX,
		             VUP_REQ_GET_FEATURES);
	}
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
}

/* Fate: a request that never arrives owes nothing; a reply pays and
 * tells what the back-end did, whatever becomes of it. */
static void replies_fate(void **state)
{
	(void)state;
	uint64_t bits;
	feed_msg(MAIN, FE, VUP_REQ_GET_FEATURES, REQ, NULL, 0, 0, false);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	uint64_t x = 0x30;
	feed_msg(MAIN, BE, VUP_REQ_GET_FEATURES, REPLY, &x, 8, 0, false);
	expect_seq(VUP_EV_REPLY_PAID, VUP_EV_FEATURES_OFFERED);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
	assert_true(vup_model_offered(m, false, &bits));
	assert_int_equal(bits, 0x30);
	/* Events are optional. */
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	struct vup_view v;
	view_of(&v, MAIN, BE, VUP_REQ_GET_FEATURES, REPLY, &x, 8, 0);
	vup_model_feed(m, &v, true, NULL);
	free((void *)v.payload);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
}

static void replies_forgotten_with_channel(void **state)
{
	(void)state;
	char why[200];
	uint8_t uuid[16] = {1};
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	feed_msg(BCH, BE, 8, REQ, uuid, 16, 0, true); /* SHARED_OBJECT_LOOKUP */
	assert_int_equal(vup_model_owed_count(m, MAIN), 1);
	assert_int_equal(vup_model_owed_count(m, BCH), 1);
	vup_model_forget_owed(m, BCH);
	assert_int_equal(vup_model_owed_count(m, BCH), 0);
	assert_int_equal(vup_model_owed_count(m, MAIN), 1);
	uint64_t x = 0;
	assert_int_equal(pairing(BCH, FE, 8, REPLY, &x, 8, why, sizeof(why)),
	                 VUP_PROBLEM_UNSOLICITED);
	vup_model_forget_owed(m, MAIN);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
	assert_null(vup_model_owed_at(m, MAIN, 0));
	be_u64(VUP_REQ_GET_FEATURES, 1);
	expect_no_event(VUP_EV_REPLY_PAID);
	/* The queue works on after it is emptied. */
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	be_u64(VUP_REQ_GET_FEATURES, 1);
	expect_event(VUP_EV_REPLY_PAID, UINT32_MAX, VUP_REQ_GET_FEATURES);
}

/* On the back-end channel the back-end asks and the front-end answers;
 * its codes are its own (4 is BACKEND_VRING_CALL there, RESET_OWNER on
 * the main channel). */
static void replies_backend_channel(void **state)
{
	(void)state;
	char why[200];
	uint8_t uuid[16] = {1, 2, 3};
	fe_u64(VUP_REQ_SET_PROTOCOL_FEATURES, 1ull << VUP_PF_REPLY_ACK);
	fe_state(VUP_REQ_SET_VRING_NUM, 1, 256);
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	feed_msg(BCH, BE, 8, REQ, uuid, 16, 0, true);
	uint64_t asked = now;
	expect_seq(VUP_EV_REPLY_OWED);
	expect_event(VUP_EV_REPLY_OWED, UINT32_MAX, 8);
	uint8_t st[8] = {1, 0, 0, 0, 0, 0, 0, 0};
	feed_msg(BCH, BE, 4, NEED, st, 8, 0, true); /* BACKEND_VRING_CALL */
	expect_seq(VUP_EV_REPLY_OWED);
	feed_msg(BCH, BE, 5, REQ, st, 8, 0, true); /* BACKEND_VRING_ERR */
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_owed_count(m, BCH), 2);
	assert_int_equal(vup_model_owed_count(m, MAIN), 1);
	/* Not a reset, not a memory table. */
	assert_true(vup_model_vring(m, 1)->have_num);

	/* A back-end's reply on the main channel pays nothing there. */
	be_u64(8, 0);
	expect_no_event(VUP_EV_REPLY_PAID);
	assert_int_equal(vup_model_owed_count(m, BCH), 2);
	uint64_t x = 0;
	assert_int_equal(pairing(BCH, FE, 4, REPLY, &x, 8, why, sizeof(why)),
	                 VUP_PROBLEM_REPLY_ORDER);
	assert_string_equal(why, "reply to BACKEND_VRING_CALL while a reply "
	                         "to BACKEND_SHARED_OBJECT_LOOKUP is owed");
	feed_msg(BCH, FE, 8, REPLY, &x, 8, 1, true);
	expect_seq(VUP_EV_REPLY_PAID);
	expect_event(VUP_EV_REPLY_PAID, UINT32_MAX, 8);
	assert_int_equal(ev.e[0].since_ns, asked);
	feed_msg(BCH, FE, 4, REPLY, &x, 8, 0, true);
	expect_seq(VUP_EV_REPLY_PAID);
	assert_int_equal(vup_model_owed_count(m, BCH), 0);
	assert_int_equal(vup_model_owed_count(m, MAIN), 1);
	be_u64(VUP_REQ_GET_FEATURES, 0);
	expect_seq(VUP_EV_REPLY_PAID, VUP_EV_FEATURES_OFFERED);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	        T(replies_paid_in_order),
	        T(replies_need_reply),
	        T(replies_optional_skipped),
	        T(replies_out_of_order),
	        T(replies_unsolicited),
	        T(replies_owed_bounded),
	        T(replies_fate),
	        T(replies_forgotten_with_channel),
	        T(replies_backend_channel),
	};
#undef T
	return cmocka_run_group_tests_name("model_replies", tests, NULL, NULL);
}
