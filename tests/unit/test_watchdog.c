/* Unit tests for src/relay/watchdog.c: which owed replies the reply
 * watchdog tells, and when, with the model fed views at known times (no
 * sockets, no loop: the tick's time is an argument). */
#include "model_feed.h"
#include "relay/watchdog.h"

#define SEC 1000000000ull

static struct vup_watchdog w;
static struct vup_watchdog_late late[8];

static unsigned due(uint64_t at)
{
	return vup_watchdog_due(&w, m, at, 5 * SEC, late, 8);
}

static int wsetup(void **state)
{
	memset(&w, 0, sizeof(w));
	return setup(state);
}

static void test_once_after_timeout(void **state)
{
	(void)state;
	fe_state(VUP_REQ_GET_VRING_BASE, 0, 0);
	uint64_t asked = now;
	assert_int_equal(due(asked + 5 * SEC - 1), 0);
	assert_int_equal(due(asked + 5 * SEC), 1);
	assert_int_equal(late[0].chan, VUP_CHAN_MAIN);
	assert_int_equal(late[0].owed->code, VUP_REQ_GET_VRING_BASE);
	assert_true(late[0].owed->since_ns == asked);
	/* Told once, however long it stays owed. */
	assert_int_equal(due(asked + 6 * SEC), 0);
	assert_int_equal(due(asked + 600 * SEC), 0);
}

static void test_each_request_its_own_clock(void **state)
{
	(void)state;
	fe_state(VUP_REQ_GET_VRING_BASE, 0, 0);
	uint64_t first = now;
	now += 2 * SEC;
	fe_state(VUP_REQ_GET_VRING_BASE, 1, 0);
	uint64_t second = now;
	assert_int_equal(due(first + 5 * SEC), 1);
	assert_true(late[0].owed->since_ns == first);
	assert_int_equal(due(second + 5 * SEC - 1), 0);
	assert_int_equal(due(second + 5 * SEC), 1);
	assert_true(late[0].owed->since_ns == second);
}

/* A reply that came, or a request that owes none, is never told. */
static void test_paid_and_unowed(void **state)
{
	(void)state;
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	be_u64(VUP_REQ_GET_FEATURES, 1);
	fe_state(VUP_REQ_SET_VRING_NUM, 0, 256);
	assert_int_equal(due(now + 60 * SEC), 0);
	/* NEED_REPLY without REPLY_ACK: a reply may come, or not. */
	feed_msg(BCH, BE, 2 /* BACKEND_CONFIG_CHANGE_MSG */, NEED, NULL, 0, 0,
	         true);
	assert_int_equal(vup_model_owed_count(m, VUP_CHAN_BACKEND), 1);
	assert_int_equal(due(now + 60 * SEC), 0);
}

/* A delay rule holds the request: the back-end has not even seen it.
 * Nothing is due while the channel holds, and the wait counts from the
 * release (review: a 5 s delay blamed the back-end). */
static void test_held_is_not_late(void **state)
{
	(void)state;
	fe_state(VUP_REQ_GET_VRING_BASE, 0, 0);
	uint64_t asked = now;
	w.holding[VUP_CHAN_MAIN] = true;
	assert_int_equal(due(asked + 30 * SEC), 0);
	w.holding[VUP_CHAN_MAIN] = false;
	w.released_ns[VUP_CHAN_MAIN] = asked + 30 * SEC;
	assert_int_equal(due(asked + 34 * SEC), 0);
	assert_int_equal(due(asked + 35 * SEC), 1);
	assert_true(late[0].owed->since_ns == asked);
	assert_int_equal(due(asked + 36 * SEC), 0); /* told once */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_once_after_timeout, wsetup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_each_request_its_own_clock,
	                                        wsetup, teardown),
	        cmocka_unit_test_setup_teardown(test_paid_and_unowed, wsetup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_held_is_not_late, wsetup,
	                                        teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
