/* Unit tests for src/model/model.c: negotiation, reset, status, the dirty
 * log and postcopy, checked through the model's events and queries; and
 * every catalogue request fed random payloads, its replies owed held
 * against a reference queue. */
#include "model_feed.h"

/* ---- negotiation ---- */

static void features_offered_and_acked(void **state)
{
	(void)state;
	uint64_t bits, offer = 1ull << 32 | 1ull << 30 | 1ull << 0;
	assert_false(vup_model_offered(m, false, &bits));
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	be_u64(VUP_REQ_GET_FEATURES, offer);
	expect_seq(VUP_EV_REPLY_PAID, VUP_EV_FEATURES_OFFERED);
	expect_event(VUP_EV_FEATURES_OFFERED, 0, offer);
	assert_true(vup_model_offered(m, false, &bits));
	assert_int_equal(bits, offer);
	assert_false(vup_model_offered(m, true, &bits));

	fe_u64(VUP_REQ_SET_FEATURES, 1ull << 32 | 1ull << 30);
	expect_seq(VUP_EV_FEATURES_ACKED);
	expect_event(VUP_EV_FEATURES_ACKED, 0, 1ull << 32 | 1ull << 30);
	assert_int_equal(vup_model_neg(m)->features, 1ull << 32 | 1ull << 30);

	/* Acked beyond the offer: exactly the bits never offered. */
	fe_u64(VUP_REQ_SET_FEATURES, offer | 1ull << 33 | 1ull << 45);
	expect_event(VUP_EV_FEATURES_ACKED, 0, offer | 1ull << 33 | 1ull << 45);
	expect_event(VUP_EV_FEATURES_NOT_OFFERED, 0, 1ull << 33 | 1ull << 45);
	assert_int_equal(vup_model_neg(m)->features,
	                 offer | 1ull << 33 | 1ull << 45);
	expect_no_event(VUP_EV_PROTOCOL_NOT_OFFERED);
}

static void protocol_features_offered_and_acked(void **state)
{
	(void)state;
	uint64_t bits, offer = 1ull << VUP_PF_MQ | 1ull << VUP_PF_REPLY_ACK;
	fe(VUP_REQ_GET_PROTOCOL_FEATURES, NULL, 0);
	be_u64(VUP_REQ_GET_PROTOCOL_FEATURES, offer);
	expect_seq(VUP_EV_REPLY_PAID, VUP_EV_PROTOCOL_OFFERED);
	expect_event(VUP_EV_PROTOCOL_OFFERED, 0, offer);
	assert_true(vup_model_offered(m, true, &bits));
	assert_int_equal(bits, offer);
	assert_false(vup_model_offered(m, false, &bits));

	fe_u64(VUP_REQ_SET_PROTOCOL_FEATURES, 1ull << VUP_PF_REPLY_ACK);
	expect_seq(VUP_EV_PROTOCOL_ACKED);
	assert_int_equal(vup_model_neg(m)->protocol_features,
	                 1ull << VUP_PF_REPLY_ACK);
	assert_int_equal(vup_model_neg(m)->features, 0);

	fe_u64(VUP_REQ_SET_PROTOCOL_FEATURES, offer | 1ull << VUP_PF_XEN_MMAP);
	expect_seq(VUP_EV_PROTOCOL_ACKED, VUP_EV_PROTOCOL_NOT_OFFERED);
	expect_event(VUP_EV_PROTOCOL_NOT_OFFERED, 0, 1ull << VUP_PF_XEN_MMAP);
}

/* Without an offer there is nothing to hold the ack against. */
static void ack_without_offer(void **state)
{
	(void)state;
	fe_u64(VUP_REQ_SET_FEATURES, ~0ull);
	expect_seq(VUP_EV_FEATURES_ACKED);
	expect_event(VUP_EV_FEATURES_ACKED, 0, ~0ull);
	fe_u64(VUP_REQ_SET_PROTOCOL_FEATURES, 0xffff);
	expect_seq(VUP_EV_PROTOCOL_ACKED);
	assert_int_equal(vup_model_neg(m)->features, ~0ull);
	assert_int_equal(vup_model_neg(m)->protocol_features, 0xffff);
}

/* A SET_FEATURES that never reaches the back-end, or that does not hold
 * its u64, changes nothing. */
static void ack_dropped_or_short(void **state)
{
	(void)state;
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	be_u64(VUP_REQ_GET_FEATURES, 0xff);
	fe_u64(VUP_REQ_SET_FEATURES, 0x0f);
	uint64_t x = 0xf0 | 1ull << 40;
	feed_msg(MAIN, FE, VUP_REQ_SET_FEATURES, REQ, &x, 8, 0, false);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_neg(m)->features, 0x0f);
	feed_msg(MAIN, FE, VUP_REQ_SET_PROTOCOL_FEATURES, REQ, &x, 8, 0, false);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_neg(m)->protocol_features, 0);

	uint32_t four = 0xf0;
	fe(VUP_REQ_SET_FEATURES, &four, 4);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_neg(m)->features, 0x0f);
	fe(VUP_REQ_SET_PROTOCOL_FEATURES, &four, 4);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_neg(m)->protocol_features, 0);

	/* A short offer is no offer either (the reply still pays). */
	uint64_t bits;
	fe(VUP_REQ_GET_PROTOCOL_FEATURES, NULL, 0);
	be(VUP_REQ_GET_PROTOCOL_FEATURES, &four, 4);
	expect_seq(VUP_EV_REPLY_PAID);
	assert_false(vup_model_offered(m, true, &bits));
}

/* ---- reset, status, log, postcopy ---- */

static void set_up_session(void)
{
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	be_u64(VUP_REQ_GET_FEATURES, 1ull << 32 | 1ull << 30);
	fe_u64(VUP_REQ_SET_FEATURES, 1ull << 32 | 1ull << 30);
	fe(VUP_REQ_GET_PROTOCOL_FEATURES, NULL, 0);
	be_u64(VUP_REQ_GET_PROTOCOL_FEATURES, 0x3ffff);
	fe_u64(VUP_REQ_SET_PROTOCOL_FEATURES, 0x1ff);
	fe_u64(VUP_REQ_SET_STATUS, 0x0f);
	feed_two();
	fe_state(VUP_REQ_SET_VRING_NUM, 0, 256);
	fe_addr(0, 0, 0x1000, 0x3000, 0x2000);
	fe_state(VUP_REQ_SET_VRING_BASE, 0, 5);
	fe_vring_fd(VUP_REQ_SET_VRING_CALL, 0, 1);
	fe_vring_fd(VUP_REQ_SET_VRING_KICK, 0, 1);
	fe_state(VUP_REQ_SET_VRING_ENABLE, 0, 1);
	uint64_t log[2] = {0x10000, 0x200};
	feed_msg(MAIN, FE, VUP_REQ_SET_LOG_BASE, REQ, log, 16, 1, true);
	fe(VUP_REQ_POSTCOPY_LISTEN, NULL, 0);
}

static void reset_clears_device_state(void **state)
{
	(void)state;
	static const uint32_t codes[] = {VUP_REQ_RESET_OWNER,
	                                 VUP_REQ_RESET_DEVICE};
	for (unsigned c = 0; c < COUNT(codes); c++) {
		set_up_session();
		const struct vup_model_region *r;
		uint64_t bits, size, off;
		uint8_t status;
		assert_int_equal(vup_model_vring(m, 0)->run, VUP_VRING_STARTED);
		assert_int_equal(vup_model_regions(m, &r), 2);

		/* Dropped: nothing happens. */
		feed_msg(MAIN, FE, codes[c], REQ, NULL, 0, 0, false);
		assert_int_equal(ev.n, 0);
		assert_int_equal(vup_model_regions(m, &r), 2);

		fe(codes[c], NULL, 0);
		expect_seq(VUP_EV_RESET);
		const struct vup_model_vring *v = vup_model_vring(m, 0);
		assert_false(v->have_num || v->have_addr || v->have_base ||
		             v->kick_fd || v->call_fd || v->enabled);
		assert_int_equal(v->run, VUP_VRING_IDLE);
		assert_int_equal(v->num, 0);
		assert_int_equal(vup_model_regions(m, &r), 0);
		/* Status 0, as a reset device has. */
		assert_true(vup_model_status(m, &status));
		assert_int_equal(status, 0);
		assert_false(vup_model_log(m, &size, &off));
		assert_false(vup_model_postcopy(m));
		/* What was negotiated stays. */
		assert_int_equal(vup_model_neg(m)->features,
		                 1ull << 32 | 1ull << 30);
		assert_int_equal(vup_model_neg(m)->protocol_features, 0x1ff);
		assert_true(vup_model_offered(m, false, &bits));
		assert_int_equal(bits, 1ull << 32 | 1ull << 30);
		assert_true(vup_model_offered(m, true, &bits));
		assert_int_equal(bits, 0x3ffff);
	}
}

static void status_log_postcopy(void **state)
{
	(void)state;
	uint8_t status = 0xff;
	uint64_t size = 1, off = 1;
	assert_false(vup_model_status(m, &status));
	assert_false(vup_model_log(m, &size, &off));
	assert_false(vup_model_postcopy(m));

	fe_u64(VUP_REQ_SET_STATUS, 0x0b);
	expect_seq(VUP_EV_STATUS);
	expect_event(VUP_EV_STATUS, 0, 0x0b);
	assert_true(vup_model_status(m, &status));
	assert_int_equal(status, 0x0b);
	uint32_t four = 0x0f;
	fe(VUP_REQ_SET_STATUS, &four, 4);
	assert_int_equal(ev.n, 0);
	assert_true(vup_model_status(m, &status));
	assert_int_equal(status, 0x0b);

	uint64_t log[2] = {0x40000, 0x1000};
	feed_msg(MAIN, FE, VUP_REQ_SET_LOG_BASE, REQ, log, 16, 1, true);
	expect_seq(VUP_EV_LOG_BASE);
	expect_event(VUP_EV_LOG_BASE, 0, 0x40000);
	assert_true(vup_model_log(m, &size, &off));
	assert_int_equal(size, 0x40000);
	assert_int_equal(off, 0x1000);
	/* crosvm sends the size alone. */
	feed_msg(MAIN, FE, VUP_REQ_SET_LOG_BASE, REQ, log, 8, 1, true);
	assert_true(vup_model_log(m, &size, &off));
	assert_int_equal(size, 0x40000);
	assert_int_equal(off, 0);
	/* With LOG_SHMFD a reply always follows. */
	fe_u64(VUP_REQ_SET_PROTOCOL_FEATURES, 1ull << VUP_PF_LOG_SHMFD);
	feed_msg(MAIN, FE, VUP_REQ_SET_LOG_BASE, REQ, log, 16, 1, true);
	expect_seq(VUP_EV_REPLY_OWED, VUP_EV_LOG_BASE);

	fe(VUP_REQ_POSTCOPY_LISTEN, NULL, 0);
	expect_seq(VUP_EV_POSTCOPY_LISTEN);
	assert_true(vup_model_postcopy(m));
	feed_msg(MAIN, FE, VUP_REQ_POSTCOPY_END, REQ, NULL, 0, 0, false);
	assert_true(vup_model_postcopy(m));
	fe(VUP_REQ_POSTCOPY_END, NULL, 0);
	expect_seq(VUP_EV_REPLY_OWED, VUP_EV_POSTCOPY_END);
	assert_false(vup_model_postcopy(m));

	feed_msg(MAIN, FE, VUP_REQ_SET_BACKEND_REQ_FD, REQ, NULL, 0, 1, true);
	expect_seq(VUP_EV_BACKEND_CHANNEL);
	expect_event(VUP_EV_BACKEND_CHANNEL, 0, 1);
}

static void event_names(void **state)
{
	(void)state;
	assert_string_equal(vup_model_event_name(VUP_EV_FEATURES_OFFERED),
	                    "features offered");
	assert_string_equal(vup_model_event_name(VUP_EV_VRING_STOPPED),
	                    "vring stopped");
	assert_string_equal(vup_model_event_name(VUP_EV_BACKEND_CHANNEL),
	                    "back-end channel given");
	assert_string_equal(vup_model_event_name(VUP_EV_COUNT), "?");
	for (int k = 0; k < VUP_EV_COUNT; k++)
		assert_string_not_equal(vup_model_event_name(k), "?");
}

/* ---- robustness ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* The replies owed, kept here the simple way (an array, moved on each
 * removal) to hold the model's ring buffer against. */
struct ref_owed {
	unsigned n;
	uint32_t code[VUP_MODEL_OWED_MAX];
	uint8_t expect[VUP_MODEL_OWED_MAX];
};
static struct ref_owed ref[2];

static void ref_remove(struct ref_owed *q, unsigned i)
{
	memmove(&q->code[i], &q->code[i + 1], (q->n - i - 1) * 4);
	memmove(&q->expect[i], &q->expect[i + 1], q->n - i - 1);
	q->n--;
}

/* The pairing a reply gets: the entry it pays (-1: none), and whether
 * an entry that is not optional comes before it. */
static int ref_match(const struct ref_owed *q, uint32_t code, bool *early)
{
	*early = false;
	for (unsigned i = 0; i < q->n; i++) {
		if (q->code[i] == code)
			return (int)i;
		if (q->expect[i] != VUP_EXPECT_MAYBE)
			*early = true;
	}
	return -1;
}

/* What the model should say of a message, and do with it. */
static enum vup_problem ref_feed(enum vup_chan chan, enum vup_side from,
                                 const struct vup_hdr *h, bool delivered,
                                 bool apply)
{
	struct ref_owed *q = &ref[chan];
	bool early;
	if (vup_proto_is_responder(chan, from)) {
		int i = ref_match(q, h->request, &early);
		if (i < 0)
			return VUP_PROBLEM_UNSOLICITED;
		if (apply && early)
			ref_remove(q, (unsigned)i);
		else if (apply)
			for (int k = 0; k <= i; k++)
				ref_remove(q, 0);
		return early ? VUP_PROBLEM_REPLY_ORDER : VUP_PROBLEM_NONE;
	}
	enum vup_expect e = vup_proto_reply_expected(h, chan, vup_model_neg(m));
	if (e == VUP_EXPECT_NONE)
		return VUP_PROBLEM_NONE;
	bool full = q->n == VUP_MODEL_OWED_MAX;
	enum vup_problem p = full && q->expect[0] != VUP_EXPECT_MAYBE
	                             ? VUP_PROBLEM_OWED_REPLIES
	                             : VUP_PROBLEM_NONE;
	if (!apply || !delivered)
		return p;
	if (full)
		ref_remove(q, 0);
	q->code[q->n] = h->request;
	q->expect[q->n++] = (uint8_t)e;
	return p;
}

static void check_invariants(void)
{
	assert_true(ev.n <= VUP_MODEL_EVENTS_MAX);
	for (unsigned i = 0; i < ev.n; i++)
		assert_true((unsigned)ev.e[i].kind < VUP_EV_COUNT);
	for (int c = 0; c < 2; c++) {
		unsigned n = vup_model_owed_count(m, c);
		assert_true(n <= VUP_MODEL_OWED_MAX);
		assert_int_equal(n, ref[c].n);
		for (unsigned i = 0; i < n; i++) {
			const struct vup_model_owed *o =
			        vup_model_owed_at(m, c, i);
			assert_non_null(o);
			assert_int_equal(o->code, ref[c].code[i]);
			assert_int_equal(o->expect, ref[c].expect[i]);
		}
		assert_null(vup_model_owed_at(m, c, n));
	}
	const struct vup_model_region *r;
	assert_true(vup_model_regions(m, &r) <= VUP_MODEL_REGIONS);
}

/* One message of random bytes: its pairing, then fed, both checked
 * against the reference queue. */
static void feed_random(enum vup_chan chan, enum vup_side from, uint32_t code,
                        uint32_t size)
{
	static const uint32_t flags[] = {REQ, REPLY, NEED, REPLY | NEED, 0};
	uint8_t p[48];
	for (uint32_t i = 0; i < size; i++)
		p[i] = (uint8_t)next_random();
	uint64_t r = next_random();
	struct vup_hdr h = hdr(code, flags[r % 5], size);
	bool delivered = (r >> 16) % 8 != 0;
	char why[256];
	enum vup_problem pr =
	        pairing(chan, from, code, h.flags, p, size, why, sizeof(why));
	assert_int_equal(pr, ref_feed(chan, from, &h, delivered, false));
	assert_true(pr == VUP_PROBLEM_NONE || (why[0] && strlen(why) < 256));
	bool paid = vup_proto_is_responder(chan, from) &&
	            pr != VUP_PROBLEM_UNSOLICITED;
	ref_feed(chan, from, &h, delivered, true);
	feed_msg(chan, from, code, h.flags, p, size, (r >> 8) % 4, delivered);
	assert_int_equal(find_ev(VUP_EV_REPLY_PAID) != NULL, paid);
	check_invariants();
}

static void random_payloads(void **state)
{
	(void)state;
	memset(ref, 0, sizeof(ref));
	for (int round = 0; round < 3; round++) {
		for (int c = 0; c < 2; c++) {
			size_t n = vup_proto_count(c);
			for (size_t i = 0; i <= n; i++) {
				/* The catalogue's codes and one past it. */
				uint32_t code = i < n ? vup_proto_at(c, i)->code
				                      : (uint32_t)(n + 1);
				for (uint32_t size = 0; size <= 48; size++)
					for (int s = 0; s < 2; s++)
						feed_random(c, s, code, size);
			}
		}
	}
	/* In random order, with everything negotiated. */
	fe_u64(VUP_REQ_SET_FEATURES, ~0ull);
	fe_u64(VUP_REQ_SET_PROTOCOL_FEATURES, ~0ull);
	for (int i = 0; i < 20000; i++) {
		uint64_t r = next_random();
		enum vup_chan c = r & 1 ? BCH : MAIN;
		uint32_t code = (uint32_t)(r >> 8) % (vup_proto_count(c) + 2);
		feed_random(c, r & 2 ? BE : FE, code, (uint32_t)(r >> 16) % 49);
	}
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	        T(features_offered_and_acked),
	        T(protocol_features_offered_and_acked),
	        T(ack_without_offer),
	        T(ack_dropped_or_short),
	        T(reset_clears_device_state),
	        T(status_log_postcopy),
	        T(event_names),
	        T(random_payloads),
	};
#undef T
	return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
