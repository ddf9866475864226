/* Seeded randomized test of src/active/svq.c: the fake guest driver, the
 * fake back-end and the svq interleaved at random (sizes, features,
 * verdicts, completion in order or in any order, GET_VRING_BASE and
 * restart mid-traffic), for a few hundred seeds.  Invariants: every
 * buffer offered is completed exactly once in the guest's used ring,
 * with the back-end's len if the back-end saw it (at most once) and
 * used it, else 0; no vring stops. */
#include <errno.h>
#include <stdio.h>

#include "../unit/unit.h"
#include "vuproxy/bits.h"
#include "world.h"

#define SEEDS 300
#define STEPS 3000

static struct world W;
static uint32_t wr_of[W_MAXOFF];
static uint8_t abandoned[W_MAXOFF];

static uint64_t rng, restarts;
static uint64_t totals[5];

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11) % n;
}

/* The svq's counters, before a restart resets them. */
static void account(void)
{
	totals[1] += W.q.st.dropped;
	totals[2] += W.q.st.held;
	totals[4] += W.q.st.unpopped;
}

static void offer(bool ind)
{
	unsigned nseg = 1 + rnd(ind ? 4 : 3), nwr = rnd(nseg + 1);
	uint32_t t = w_offer(&W, nseg, nwr, ind && rnd(2));
	if (t != UINT32_MAX)
		wr_of[t] = nwr * W_SEG;
}

/* GET_VRING_BASE: held chains go out, the back-end takes some, finishes
 * what it took (as DPDK does before it answers), then the restart. */
static void stop_restart(bool any_order)
{
	uint16_t base;
	assert_true(vup_svq_stop_begin(&W.q) >= 0);
	w_take(&W, rnd(4));
	while (W.ntaken && rnd(4))
		w_complete(&W, any_order ? rnd(W.ntaken) : 0);
	/* What the back-end took and never used comes back empty. */
	for (uint32_t k = 0; k < W.ntaken; k++)
		abandoned[W.taken_tok[k]] = 1;
	W.ntaken = 0;
	if (w_stop(&W, &base) != 0)
		fail_msg("stop: %s", W.q.why);
	assert_int_equal(W.q.g_used, base);
	w_reap(&W);
	account();
	restarts++;
	w_restart(&W, base);
}

static void step(bool ind, bool any_order)
{
	switch (rnd(12)) {
	case 0:
	case 1: offer(ind); break;
	case 2: w_publish(&W); break;
	case 3: assert_true(w_pull(&W) >= 0); break;
	case 4: w_take(&W, 1 + rnd(4)); break;
	case 5:
		if (W.ntaken)
			w_complete(&W, any_order ? rnd(W.ntaken) : 0);
		break;
	case 6: assert_true(w_push(&W) >= 0); break;
	case 7: w_reap(&W); break;
	case 8: {
		int h = w_head_of(&W, 1 + rnd(W.next_token));
		if (h >= 0) {
			int rc = vup_svq_release(&W.q, (uint16_t)h,
			                         rnd(2) ? VUP_SVQ_FORWARD
			                                : VUP_SVQ_DROP);
			assert_true(rc == 0 || rc == -ENOENT);
		}
		break;
	}
	case 9:
		vup_svq_backend_needs_kick(&W.q);
		vup_svq_guest_needs_call(&W.q);
		break;
	case 10:
		assert_int_equal(vup_svq_want_guest_kicks(&W.q, rnd(2)), 0);
		break;
	default:
		if (rnd(6) == 0)
			stop_restart(any_order);
		break;
	}
}

static void run_seed(uint64_t seed)
{
	rng = seed * 0x9e3779b97f4a7c15ull + 1;
	restarts = 0;
	uint32_t num = 4u << rnd(4);
	uint64_t feat = (rnd(2) ? 1ull << VUP_F_INDIRECT_DESC : 0) |
	                (rnd(2) ? 1ull << VUP_F_EVENT_IDX : 0);
	bool any_order = rnd(2);
	w_init(&W, num, feat, (uint16_t)rnd(65536));
	memset(wr_of, 0, sizeof(wr_of));
	memset(abandoned, 0, sizeof(abandoned));
	for (uint32_t t = 0; t < W_MAXOFF; t++) {
		uint32_t r = rnd(10);
		W.verdict[t] = r < 8   ? VUP_SVQ_FORWARD
		               : r < 9 ? VUP_SVQ_DROP
		                       : VUP_SVQ_HOLD;
	}
	for (unsigned i = 0; i < STEPS; i++)
		step(feat >> VUP_F_INDIRECT_DESC & 1, any_order);
	/* Drain: everything offered comes back. */
	w_publish(&W);
	for (unsigned i = 0; i < 1000 && W.completed != W.offered; i++) {
		assert_true(w_pull(&W) >= 0);
		assert_true(vup_svq_release_all(&W.q) >= 0);
		w_take(&W, 1000);
		while (W.ntaken)
			w_complete(&W, any_order ? rnd(W.ntaken) : 0);
		assert_true(w_push(&W) >= 0);
		w_reap(&W);
	}
	if (W.q.stopped)
		fail_msg("seed %llu: %s", (unsigned long long)seed, W.q.why);
	for (uint32_t t = 1; t < W.next_token; t++) {
		bool used = W.seen[t] && !abandoned[t];
		if (W.state[t] != 2 || W.seen[t] > 1 || W.used_cb[t] != used ||
		    W.done_len[t] != (used ? w_len(t, wr_of[t]) : 0))
			fail_msg("seed %llu token %u: state %u seen %u cb %u "
			         "len %u",
			         (unsigned long long)seed, t, W.state[t],
			         W.seen[t], W.used_cb[t], W.done_len[t]);
	}
	assert_int_equal(W.offered, W.completed);
	assert_true(W.offered > 0);
	assert_int_equal(W.q.st.bad_chain + W.q.st.bad_index + W.q.st.bad_used +
	                         W.q.st.bad_access,
	                 0);
	account();
	totals[0] += W.offered;
	totals[3] += restarts;
	w_free(&W);
}

static void test_random(void **state)
{
	(void)state;
	for (uint64_t s = 1; s <= SEEDS; s++) {
		run_seed(s);
	}
	printf("%d seeds, %llu buffers, %llu dropped, %llu held, %llu "
	       "restarts, %llu un-popped\n",
	       SEEDS, (unsigned long long)totals[0],
	       (unsigned long long)totals[1], (unsigned long long)totals[2],
	       (unsigned long long)totals[3], (unsigned long long)totals[4]);
	/* Each path ran. */
	for (int i = 0; i < 5; i++)
		assert_true(totals[i] > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
