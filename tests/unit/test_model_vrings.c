/* Unit tests for src/model/vrings.c: what the front-end's vring requests
 * set up, and when a ring starts and stops. */
#include "model_feed.h"

/* ---- vrings ---- */

static void vring_set_up(void **state)
{
	(void)state;
	const struct vup_model_vring *r = vup_model_vring(m, 1);
	assert_non_null(r);
	assert_false(r->have_num || r->have_addr || r->have_base);
	assert_int_equal(r->run, VUP_VRING_IDLE);

	fe_state(VUP_REQ_SET_VRING_NUM, 1, 256);
	expect_seq(VUP_EV_VRING_NUM);
	expect_event(VUP_EV_VRING_NUM, 1, 256);
	r = vup_model_vring(m, 1); /* the pointer lasts until a reset */
	assert_true(r->have_num);
	assert_int_equal(r->num, 256);

	fe_addr(1, 0, 0x7f0000001000, 0x7f0000003000, 0x7f0000002000);
	expect_seq(VUP_EV_VRING_ADDR);
	expect_event(VUP_EV_VRING_ADDR, 1, 1);
	assert_true(r->have_addr);
	assert_int_equal(r->desc, 0x7f0000001000);
	assert_int_equal(r->used, 0x7f0000003000);
	assert_int_equal(r->avail, 0x7f0000002000);
	/* The same rings, dirty logging switched on: not moved. */
	fe_addr(1, 1, 0x7f0000001000, 0x7f0000003000, 0x7f0000002000);
	expect_event(VUP_EV_VRING_ADDR, 1, 0);
	assert_int_equal(r->addr_flags, 1);
	fe_addr(1, 1, 0x7f0000001000, 0x7f0000004000, 0x7f0000002000);
	expect_event(VUP_EV_VRING_ADDR, 1, 1);
	/* A short SET_VRING_ADDR sets nothing. */
	uint32_t idx = 1;
	fe(VUP_REQ_SET_VRING_ADDR, &idx, 4);
	assert_int_equal(ev.n, 0);
	assert_int_equal(r->used, 0x7f0000004000);

	/* The whole u32 (a packed ring's wrap counters too). */
	fe_state(VUP_REQ_SET_VRING_BASE, 1, 0x80018002);
	expect_seq(VUP_EV_VRING_BASE);
	expect_event(VUP_EV_VRING_BASE, 1, 0x80018002);
	assert_true(r->have_base);
	assert_int_equal(r->base, 0x80018002);

	fe_vring_fd(VUP_REQ_SET_VRING_CALL, 1, 1);
	expect_seq(VUP_EV_VRING_CALL);
	expect_event(VUP_EV_VRING_CALL, 1, 0);
	assert_true(r->call_fd);
	fe_vring_fd(VUP_REQ_SET_VRING_ERR, 1 | NOFD, 0);
	expect_seq(VUP_EV_VRING_ERR);
	expect_event(VUP_EV_VRING_ERR, 1, 1);
	assert_false(r->err_fd);
	fe_vring_fd(VUP_REQ_SET_VRING_ERR, 1, 1);
	expect_event(VUP_EV_VRING_ERR, 1, 0);
	assert_true(r->err_fd);
	fe_vring_fd(VUP_REQ_SET_VRING_CALL, 1 | NOFD, 0);
	expect_event(VUP_EV_VRING_CALL, 1, 1);
	assert_false(r->call_fd);
	/* NOFD clear but no fd came with it: no fd either. */
	fe_vring_fd(VUP_REQ_SET_VRING_CALL, 1, 1);
	assert_true(r->call_fd);
	fe_vring_fd(VUP_REQ_SET_VRING_CALL, 1, 0);
	expect_event(VUP_EV_VRING_CALL, 1, 0);
	assert_false(r->call_fd);
	assert_int_equal(r->run, VUP_VRING_IDLE);

	fe_state(VUP_REQ_SET_VRING_ENABLE, 1, 1);
	expect_seq(VUP_EV_VRING_ENABLED);
	expect_event(VUP_EV_VRING_ENABLED, 1, 1);
	assert_true(r->enabled);
	fe_state(VUP_REQ_SET_VRING_ENABLE, 1, 0);
	expect_event(VUP_EV_VRING_ENABLED, 1, 0);
	assert_false(r->enabled);

	/* Ring 0 was not touched. */
	const struct vup_model_vring *r0 = vup_model_vring(m, 0);
	assert_false(r0->have_num || r0->have_addr || r0->have_base ||
	             r0->call_fd || r0->err_fd || r0->enabled);
}

static void vring_kick_starts(void **state)
{
	(void)state;
	fe_vring_fd(VUP_REQ_SET_VRING_KICK, 1, 1);
	expect_seq(VUP_EV_VRING_KICK, VUP_EV_VRING_STARTED);
	expect_event(VUP_EV_VRING_KICK, 1, 0);
	expect_event(VUP_EV_VRING_STARTED, 1, 0);
	assert_true(vup_model_vring(m, 1)->kick_fd);
	assert_int_equal(vup_model_vring(m, 1)->run, VUP_VRING_STARTED);

	/* NOFD: a polled ring, started all the same. */
	fe_vring_fd(VUP_REQ_SET_VRING_KICK, 2 | NOFD, 0);
	expect_seq(VUP_EV_VRING_KICK, VUP_EV_VRING_STARTED);
	expect_event(VUP_EV_VRING_KICK, 2, 1);
	assert_false(vup_model_vring(m, 2)->kick_fd);
	assert_int_equal(vup_model_vring(m, 2)->run, VUP_VRING_STARTED);

	/* In-band notifications: VRING_KICK starts it. */
	fe_state(VUP_REQ_VRING_KICK, 3, 0);
	expect_seq(VUP_EV_VRING_STARTED);
	expect_event(VUP_EV_VRING_STARTED, 3, 0);
	assert_int_equal(vup_model_vring(m, 3)->run, VUP_VRING_STARTED);

	/* A kick that never arrives starts nothing. */
	uint64_t x = 4;
	feed_msg(MAIN, FE, VUP_REQ_SET_VRING_KICK, REQ, &x, 8, 1, false);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_vring(m, 4)->run, VUP_VRING_IDLE);
	assert_false(vup_model_vring(m, 4)->kick_fd);
}

static void vring_stopped_by_get_base(void **state)
{
	(void)state;
	fe_vring_fd(VUP_REQ_SET_VRING_KICK, 1, 1);
	fe_vring_fd(VUP_REQ_SET_VRING_KICK, 0, 1);
	fe_state(VUP_REQ_GET_VRING_BASE, 1, 0);
	uint64_t asked = now;
	expect_seq(VUP_EV_REPLY_OWED, VUP_EV_VRING_STOPPING);
	expect_event(VUP_EV_VRING_STOPPING, 1, 0);
	expect_event(VUP_EV_REPLY_OWED, 1, VUP_REQ_GET_VRING_BASE);
	assert_int_equal(find_ev(VUP_EV_REPLY_OWED)->since_ns, asked);
	assert_int_equal(vup_model_vring(m, 1)->run, VUP_VRING_STOPPING);
	assert_int_equal(vup_model_owed_count(m, MAIN), 1);
	assert_int_equal(vup_model_owed_at(m, MAIN, 0)->vring, 1);

	/* The answer claims ring 0: ring 1 is the one asked about. */
	be_state(VUP_REQ_GET_VRING_BASE, 0, 4711);
	expect_seq(VUP_EV_REPLY_PAID, VUP_EV_VRING_STOPPED);
	expect_event(VUP_EV_REPLY_PAID, 1, VUP_REQ_GET_VRING_BASE);
	assert_int_equal(find_ev(VUP_EV_REPLY_PAID)->since_ns, asked);
	expect_event(VUP_EV_VRING_STOPPED, 1, 4711);
	const struct vup_model_vring *r = vup_model_vring(m, 1);
	assert_int_equal(r->run, VUP_VRING_STOPPED);
	assert_int_equal(r->stopped_at, 4711);
	assert_int_equal(vup_model_vring(m, 0)->run, VUP_VRING_STARTED);
	assert_int_equal(vup_model_vring(m, 0)->stopped_at, 0);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);

	/* An answer nobody asked for stops nothing. */
	be_state(VUP_REQ_GET_VRING_BASE, 0, 99);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_vring(m, 0)->run, VUP_VRING_STARTED);
	assert_int_equal(vup_model_vring(m, 1)->stopped_at, 4711);

	/* A GET_VRING_BASE dropped on its way: the ring runs on, and no
	 * reply is owed. */
	uint8_t p[8] = {0};
	feed_msg(MAIN, FE, VUP_REQ_GET_VRING_BASE, REQ, p, 8, 0, false);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_vring(m, 0)->run, VUP_VRING_STARTED);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);

	/* GET_VRING_BASE_SKIP_DRAIN stops it the same way. */
	fe_state(VUP_REQ_GET_VRING_BASE_SKIP_DRAIN, 0, 0);
	expect_event(VUP_EV_VRING_STOPPING, 0, 0);
	be_state(VUP_REQ_GET_VRING_BASE_SKIP_DRAIN, 0, 0x8005);
	expect_event(VUP_EV_VRING_STOPPED, 0, 0x8005);
	assert_int_equal(vup_model_vring(m, 0)->run, VUP_VRING_STOPPED);
	assert_int_equal(vup_model_vring(m, 0)->stopped_at, 0x8005);

	/* Kicked again, it runs. */
	fe_vring_fd(VUP_REQ_SET_VRING_KICK, 1, 1);
	assert_int_equal(vup_model_vring(m, 1)->run, VUP_VRING_STARTED);
}

/* Indexes past the rings the model keeps are told, not kept. */
static void vring_index_past_model(void **state)
{
	(void)state;
	assert_non_null(vup_model_vring(m, VUP_MODEL_VRINGS - 1));
	assert_null(vup_model_vring(m, VUP_MODEL_VRINGS));
	assert_null(vup_model_vring(m, UINT32_MAX));
	fe_state(VUP_REQ_SET_VRING_NUM, 300, 128);
	expect_event(VUP_EV_VRING_NUM, 300, 128);
	fe_state(VUP_REQ_SET_VRING_BASE, 256, 7);
	expect_event(VUP_EV_VRING_BASE, 256, 7);
	fe_state(VUP_REQ_SET_VRING_ENABLE, 1000, 1);
	expect_event(VUP_EV_VRING_ENABLED, 1000, 1);
	fe_state(VUP_REQ_VRING_KICK, 999, 0);
	expect_event(VUP_EV_VRING_STARTED, 999, 0);
	fe_state(VUP_REQ_GET_VRING_BASE, 300, 0);
	expect_event(VUP_EV_VRING_STOPPING, 300, 0);
	expect_event(VUP_EV_REPLY_OWED, 300, VUP_REQ_GET_VRING_BASE);
	be_state(VUP_REQ_GET_VRING_BASE, 300, 4711);
	expect_event(VUP_EV_VRING_STOPPED, 300, 4711);
	/* Ring 300 & 0xff is not ring 44. */
	const struct vup_model_vring *r = vup_model_vring(m, 300 & 0xff);
	assert_false(r->have_num || r->have_base || r->enabled);
	assert_int_equal(r->run, VUP_VRING_IDLE);
	r = vup_model_vring(m, 1000 & 0xff);
	assert_false(r->enabled);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	        T(vring_set_up),
	        T(vring_kick_starts),
	        T(vring_stopped_by_get_base),
	        T(vring_index_past_model),
	};
#undef T
	return cmocka_run_group_tests_name("model_vrings", tests, NULL, NULL);
}
