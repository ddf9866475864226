/* Unit tests for vup_data_decide: the same seed gives the same decisions;
 * vrings and sessions have streams and counters of their own; queue
 * rx/tx, op, sector overlap and size; jitter bounds; corruption within
 * the frame; a reload starts counters again; a state too small. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "../unit/unit.h"
#include "rules/internal.h" /* generation of a rule set */
#include "vuproxy/rules.h"

static struct vup_rules *load(const char *text)
{
	char err[4096], warn[4096];
	struct vup_rules *r = NULL;
	if (vup_rules_parse("t.yaml", text, strlen(text), &r, err, sizeof(err),
	                    warn, sizeof(warn)))
		fail_msg("refused:\n%s", err);
	return r;
}

/* A state for r, started empty (freed by the caller). */
static struct vup_data_state *state(const struct vup_rules *r)
{
	size_t n = vup_data_state_size(r);
	struct vup_data_state *st = malloc(n);
	assert_non_null(st);
	vup_data_state_init(st, n);
	return st;
}

static struct vup_data_req net(uint32_t session, uint32_t vring, uint32_t len)
{
	struct vup_data_req q = {.session = session,
	                         .vring = vring,
	                         .device = VUP_DATA_NET,
	                         .len = len};
	return q;
}

static struct vup_data_req blk(uint32_t type, uint64_t sector, uint64_t sectors)
{
	struct vup_data_req q = {.session = 1,
	                         .vring = 0,
	                         .device = VUP_DATA_BLK,
	                         .len = (uint32_t)(sectors * 512),
	                         .type = type,
	                         .sector = sector,
	                         .sectors = sectors};
	return q;
}

static enum vup_data_action decide(const struct vup_rules *r,
                                   struct vup_data_state *st,
                                   struct vup_data_req q)
{
	struct vup_data_verdict v;
	assert_int_equal(vup_data_decide(r, st, &q, &v), 0);
	assert_true(v.action == VUP_DATA_ACT_PASS || v.rule != NULL);
	return v.action;
}

#define LOSS(seed)                                                             \
	"data:\n  - {name: loss, match: {device: net, queue: tx}, when: "      \
	"{probability: 0.2, seed: " seed "}, action: drop}\n"

#define N 2000

/* The drop pattern of N frames on (session, vring) into out[]; the
 * number dropped. */
static unsigned pattern(const struct vup_rules *r, uint32_t session,
                        uint32_t vring, bool *out)
{
	struct vup_data_state *st = state(r);
	unsigned drops = 0;
	for (int i = 0; i < N; i++) {
		out[i] = decide(r, st, net(session, vring, 100)) ==
		         VUP_DATA_ACT_DROP;
		drops += out[i];
	}
	free(st);
	return drops;
}

static void same_seed_same_decisions(void **state_)
{
	(void)state_;
	struct vup_rules *a = load(LOSS("7")), *b = load(LOSS("7")),
	                 *c = load(LOSS("8"));
	assert_int_not_equal(a->generation, b->generation);
	static bool pa[N], pb[N], pc[N];
	unsigned da = pattern(a, 1, 1, pa);
	/* a fifth, give or take (binomial, sd 18) */
	assert_in_range(da, N / 5 - 80, N / 5 + 80);
	assert_int_equal(pattern(b, 1, 1, pb), da);
	assert_memory_equal(pa, pb, sizeof(pa));
	pattern(c, 1, 1, pc);
	assert_memory_not_equal(pa, pc, sizeof(pa));
	/* A rule of another name has another stream, same seed or not. */
	struct vup_rules *d = load("data:\n  - {name: loss2, match: {device: "
	                           "net, queue: tx}, when: {probability: 0.2, "
	                           "seed: 7}, action: drop}\n");
	pattern(d, 1, 1, pc);
	assert_memory_not_equal(pa, pc, sizeof(pa));
	vup_rules_free(a);
	vup_rules_free(b);
	vup_rules_free(c);
	vup_rules_free(d);
}

/* Traffic on other vrings and sessions, interleaved in any order, changes
 * nothing on a vring; and each vring has its own stream. */
static void vrings_and_sessions_independent(void **state_)
{
	(void)state_;
	struct vup_rules *r = load(LOSS("7"));
	static bool alone[N], mixed[N], other[N];
	pattern(r, 1, 1, alone);
	struct vup_data_state *s1 = state(r), *s3 = state(r), *t1 = state(r);
	for (int i = 0; i < N; i++) {
		for (int k = 0; k < i % 3; k++) { /* bursts elsewhere */
			decide(r, s3, net(1, 3, 60));
			decide(r, t1, net(2, 1, 60));
		}
		mixed[i] = decide(r, s1, net(1, 1, 100)) == VUP_DATA_ACT_DROP;
	}
	assert_memory_equal(alone, mixed, sizeof(alone));
	pattern(r, 1, 3, other);
	assert_memory_not_equal(alone, other, sizeof(alone));
	pattern(r, 2, 1, other);
	assert_memory_not_equal(alone, other, sizeof(alone));
	/* One state moved to another vring starts again for it. */
	struct vup_data_state *moved = state(r);
	for (int i = 0; i < 10; i++)
		decide(r, moved, net(1, 3, 60));
	for (int i = 0; i < N; i++)
		mixed[i] =
		        decide(r, moved, net(1, 1, 100)) == VUP_DATA_ACT_DROP;
	assert_memory_equal(alone, mixed, sizeof(alone));
	free(s1);
	free(s3);
	free(t1);
	free(moved);
	vup_rules_free(r);
}

static void counters_per_vring(void **state_)
{
	(void)state_;
	struct vup_rules *r = load(
	        "data:\n"
	        "  - {name: ev, match: {device: net, queue: 0}, when: {every: "
	        "3}, action: duplicate}\n"
	        "  - {name: nth, match: {device: net, queue: 1}, when: {nth: "
	        "2}, action: duplicate}\n"
	        "  - {name: aft, match: {device: blk}, when: {after: 2}, "
	        "action: {fail: ioerr}}\n");
	struct vup_data_state *a = state(r), *b = state(r), *c = state(r);
	/* vring 0 of sessions 1 and 2: every 3rd frame of each */
	for (int i = 1; i <= 9; i++) {
		bool third = i % 3 == 0;
		assert_int_equal(decide(r, a, net(1, 0, 60)),
		                 third ? VUP_DATA_ACT_DUPLICATE
		                       : VUP_DATA_ACT_PASS);
		assert_int_equal(decide(r, b, net(2, 0, 60)),
		                 third ? VUP_DATA_ACT_DUPLICATE
		                       : VUP_DATA_ACT_PASS);
		/* vring 1: only its own 2nd frame */
		assert_int_equal(decide(r, c, net(1, 1, 60)),
		                 i == 2 ? VUP_DATA_ACT_DUPLICATE
		                        : VUP_DATA_ACT_PASS);
	}
	/* blk vrings 0 and 1: after 2 requests each */
	struct vup_data_state *d0 = state(r), *d1 = state(r);
	for (int i = 1; i <= 4; i++) {
		struct vup_data_req q = blk(VUP_BLK_T_IN, 0, 8);
		assert_int_equal(decide(r, d0, q),
		                 i > 2 ? VUP_DATA_ACT_FAIL : VUP_DATA_ACT_PASS);
		q.vring = 1;
		assert_int_equal(decide(r, d1, q),
		                 i > 2 ? VUP_DATA_ACT_FAIL : VUP_DATA_ACT_PASS);
	}
	free(a);
	free(b);
	free(c);
	free(d0);
	free(d1);
	vup_rules_free(r);
}

static void queues_ops_sectors_sizes(void **state_)
{
	(void)state_;
	struct vup_rules *r = load(
	        "data:\n"
	        "  - {name: rx, match: {device: net, queue: rx, size: [0, "
	        "99]}, "
	        "action: drop}\n"
	        "  - {name: tx, match: {device: net, queue: tx, size: [0, "
	        "99]}, "
	        "action: duplicate}\n"
	        "  - {name: five, match: {device: net, queue: 5}, action: "
	        "corrupt}\n"
	        "  - {name: big, match: {device: net, size: [1000, 1514]}, "
	        "action: {delay: 1ms}}\n"
	        "  - {name: bad, match: {device: blk, op: [read, write], "
	        "sectors: [2048, 2055]}, action: {fail: ioerr}}\n"
	        "  - {name: flush, match: {device: blk, op: flush}, action: "
	        "{fail: unsupp}}\n"
	        "  - {name: blk2, match: {device: blk, queue: 2}, action: "
	        "corrupt_read}\n");
	struct vup_data_state *st = state(r);
	/* net: rx even vrings, tx odd; an index only its vring */
	for (uint32_t q = 0; q < 8; q++)
		assert_int_equal(decide(r, st, net(1, q, 60)),
		                 q % 2 ? VUP_DATA_ACT_DUPLICATE
		                       : VUP_DATA_ACT_DROP);
	assert_int_equal(decide(r, st, net(1, 5, 500)), VUP_DATA_ACT_CORRUPT);
	assert_int_equal(decide(r, st, net(1, 3, 500)), VUP_DATA_ACT_PASS);
	/* size: inclusive bounds */
	assert_int_equal(decide(r, st, net(1, 0, 99)), VUP_DATA_ACT_DROP);
	assert_int_equal(decide(r, st, net(1, 0, 100)), VUP_DATA_ACT_PASS);
	assert_int_equal(decide(r, st, net(1, 0, 999)), VUP_DATA_ACT_PASS);
	assert_int_equal(decide(r, st, net(1, 0, 1000)), VUP_DATA_ACT_DELAY);
	assert_int_equal(decide(r, st, net(1, 0, 1514)), VUP_DATA_ACT_DELAY);
	assert_int_equal(decide(r, st, net(1, 0, 1515)), VUP_DATA_ACT_PASS);
	/* blk: a request matches when its sectors overlap [2048, 2055] */
	static const struct {
		uint64_t sector, n;
		bool hit;
	} s[] = {
	        {2040, 8, false}, {2040, 9, true},        {2047, 2, true},
	        {2050, 1, true},  {2055, 1, true},        {2055, 100, true},
	        {2056, 8, false}, {0, 4096, true},        {2048, 0, false},
	        {0, 2048, false}, {UINT64_MAX, 2, false},
	};
	for (size_t i = 0; i < COUNT(s); i++) {
		for (uint32_t t = VUP_BLK_T_IN; t <= VUP_BLK_T_OUT; t++)
			assert_int_equal(
			        decide(r, st, blk(t, s[i].sector, s[i].n)),
			        s[i].hit ? VUP_DATA_ACT_FAIL
			                 : VUP_DATA_ACT_PASS);
		/* other ops never meet "bad" */
		assert_int_equal(
		        decide(r, st,
		               blk(VUP_BLK_T_DISCARD, s[i].sector, s[i].n)),
		        VUP_DATA_ACT_PASS);
	}
	assert_int_equal(decide(r, st, blk(VUP_BLK_T_FLUSH, 0, 0)),
	                 VUP_DATA_ACT_FAIL);
	assert_int_equal(decide(r, st, blk(200, 2048, 8)), VUP_DATA_ACT_PASS);
	struct vup_data_req q = blk(VUP_BLK_T_IN, 0, 1);
	q.vring = 2;
	assert_int_equal(decide(r, st, q), VUP_DATA_ACT_CORRUPT_READ);
	free(st);
	vup_rules_free(r);
}

static void verdict_parameters(void **state_)
{
	(void)state_;
	struct vup_rules *r = load(
	        "data:\n"
	        "  - {name: fail, match: {device: blk, op: write}, action: "
	        "{fail: unsupp}}\n"
	        "  - {name: wan, match: {device: net, queue: 0}, action: "
	        "{delay: 50ms, jitter: 5ms, limit: 64}}\n"
	        "  - {name: wide, match: {device: net, queue: 2}, action: "
	        "{delay: 1ms, jitter: 3ms}}\n"
	        "  - {name: fixed, match: {device: net, queue: 1}, action: "
	        "{corrupt: {offset: 10, bytes: 4}}}\n"
	        "  - {name: any, match: {device: net, queue: 3}, action: "
	        "{corrupt: {bytes: 8}}}\n"
	        "  - {name: rd, match: {device: blk, op: read}, action: "
	        "{corrupt_read: {offset: 4000, bytes: 200}}}\n");
	struct vup_data_state *st = state(r);
	struct vup_data_verdict v;
	struct vup_data_req q = blk(VUP_BLK_T_OUT, 0, 8);
	assert_int_equal(vup_data_decide(r, st, &q, &v), 0);
	assert_int_equal(v.action, VUP_DATA_ACT_FAIL);
	assert_string_equal(v.rule, "fail");
	assert_int_equal(v.blk_status, VUP_BLK_S_UNSUPP);
	/* jitter: uniform over [45 ms, 55 ms], both ends nearly reached */
	uint64_t lo = UINT64_MAX, hi = 0;
	for (int i = 0; i < 20000; i++) {
		q = net(1, 0, 60);
		vup_data_decide(r, st, &q, &v);
		assert_int_equal(v.action, VUP_DATA_ACT_DELAY);
		assert_int_equal(v.limit, 64);
		lo = v.delay_ns < lo ? v.delay_ns : lo;
		hi = v.delay_ns > hi ? v.delay_ns : hi;
	}
	assert_true(lo >= 45000000 && lo < 45010000);
	assert_true(hi <= 55000000 && hi > 54990000);
	/* a jitter larger than the delay: never below 0 */
	unsigned zeros = 0;
	for (int i = 0; i < 1000; i++) {
		q = net(1, 2, 60);
		vup_data_decide(r, st, &q, &v);
		assert_true(v.delay_ns <= 4000000);
		zeros += v.delay_ns == 0;
	}
	assert_in_range(zeros, 200, 450); /* [-2 ms, 0] of [-2, 4] */
	/* corrupt at a fixed offset, clipped to the frame */
	q = net(1, 1, 100);
	vup_data_decide(r, st, &q, &v);
	assert_int_equal(v.action, VUP_DATA_ACT_CORRUPT);
	assert_int_equal(v.offset, 10);
	assert_int_equal(v.bytes, 4);
	q.len = 12;
	vup_data_decide(r, st, &q, &v);
	assert_int_equal(v.offset, 10);
	assert_int_equal(v.bytes, 2);
	q.len = 10;
	vup_data_decide(r, st, &q, &v);
	assert_int_equal(v.bytes, 0); /* nothing there to corrupt */
	/* random offsets: the 8 bytes always inside, spread over the frame;
	 * the XOR bytes never 0 */
	uint32_t omin = UINT32_MAX, omax = 0;
	for (int i = 0; i < 2000; i++) {
		q = net(1, 3, 64);
		vup_data_decide(r, st, &q, &v);
		assert_int_equal(v.bytes, 8);
		assert_true(v.offset + v.bytes <= 64);
		omin = v.offset < omin ? v.offset : omin;
		omax = v.offset > omax ? v.offset : omax;
		for (uint32_t b = 0; b < v.bytes; b++)
			assert_int_not_equal(vup_data_corrupt_xor(&v, b), 0);
	}
	assert_int_equal(omin, 0);
	assert_int_equal(omax, 56);
	q = net(1, 3, 5); /* shorter than the bytes: the whole frame */
	vup_data_decide(r, st, &q, &v);
	assert_int_equal(v.offset, 0);
	assert_int_equal(v.bytes, 5);
	/* corrupt_read: within the read data (8 sectors = 4096 bytes) */
	q = blk(VUP_BLK_T_IN, 0, 8);
	vup_data_decide(r, st, &q, &v);
	assert_int_equal(v.action, VUP_DATA_ACT_CORRUPT_READ);
	assert_int_equal(v.offset, 4000);
	assert_int_equal(v.bytes, 96);
	free(st);
	vup_rules_free(r);
}

/* The first rule that fires decides; one that matched but did not fire
 * lets later rules see the request; rules after a decision do not count
 * it; a rule without device meets both. */
static void order_and_both_devices(void **state_)
{
	(void)state_;
	struct vup_rules *r =
	        load("data:\n"
	             "  - {name: keep, match: {session: 9}, action: pass}\n"
	             "  - {name: odd, match: {device: net}, when: {every: 2}, "
	             "action: drop}\n"
	             "  - {name: later, match: {device: net}, when: {nth: 2}, "
	             "action: duplicate}\n"
	             "  - {name: both, action: {delay: 2ms}}\n");
	struct vup_data_state *st = state(r), *sb = state(r), *s9 = state(r);
	struct vup_data_verdict v;
	/* frames 1..4: later counts 1 and 3 only (2 and 4 were dropped) */
	assert_int_equal(decide(r, st, net(1, 0, 60)), VUP_DATA_ACT_DELAY);
	assert_int_equal(decide(r, st, net(1, 0, 60)), VUP_DATA_ACT_DROP);
	assert_int_equal(decide(r, st, net(1, 0, 60)), VUP_DATA_ACT_DUPLICATE);
	assert_int_equal(decide(r, st, net(1, 0, 60)), VUP_DATA_ACT_DROP);
	assert_int_equal(decide(r, st, net(1, 0, 60)), VUP_DATA_ACT_DELAY);
	struct vup_data_req q = blk(VUP_BLK_T_IN, 0, 1);
	vup_data_decide(r, sb, &q, &v);
	assert_int_equal(v.action, VUP_DATA_ACT_DELAY);
	assert_string_equal(v.rule, "both");
	assert_int_equal(v.delay_ns, 2000000);
	q = net(9, 0, 60);
	vup_data_decide(r, s9, &q, &v);
	assert_int_equal(v.action, VUP_DATA_ACT_PASS);
	assert_string_equal(v.rule, "keep");
	free(st);
	free(sb);
	free(s9);
	vup_rules_free(r);
}

/* A reload (a new rule set) starts the counters again; a state too small
 * for the set is refused; no rules: pass. */
static void reload_and_sizes(void **state_)
{
	(void)state_;
	const char *text = "rules: []\ndata:\n  - {name: once, match: "
	                   "{device: net}, when: {nth: 1}, action: drop}\n"
	                   "  - {name: two, match: {device: blk}, action: "
	                   "{fail: ioerr}}\n";
	struct vup_rules *a = load(text), *b = load(text);
	assert_int_equal(vup_data_state_size(a),
	                 sizeof(struct vup_data_state) +
	                         2 * sizeof(struct vup_data_counter));
	assert_int_equal(vup_data_state_size(NULL),
	                 sizeof(struct vup_data_state));
	struct vup_data_state *st = state(a);
	assert_int_equal(st->cap, 2);
	assert_int_equal(decide(a, st, net(1, 0, 60)), VUP_DATA_ACT_DROP);
	assert_int_equal(decide(a, st, net(1, 0, 60)), VUP_DATA_ACT_PASS);
	assert_int_equal(decide(b, st, net(1, 0, 60)), VUP_DATA_ACT_DROP);
	assert_int_equal(decide(b, st, net(1, 0, 60)), VUP_DATA_ACT_PASS);
	/* too small: -ENOSPC and pass */
	size_t small =
	        vup_data_state_size(NULL) + sizeof(struct vup_data_counter);
	struct vup_data_state *tiny = malloc(small);
	vup_data_state_init(tiny, small);
	struct vup_data_req q = net(1, 0, 60);
	struct vup_data_verdict v;
	assert_int_equal(vup_data_decide(a, tiny, &q, &v), -ENOSPC);
	assert_int_equal(v.action, VUP_DATA_ACT_PASS);
	assert_null(v.rule);
	assert_int_equal(vup_data_decide(NULL, NULL, &q, &v), 0);
	assert_int_equal(v.action, VUP_DATA_ACT_PASS);
	/* control rules only: every frame passes, any state */
	struct vup_rules *c = load("rules:\n  - {name: x, action: log}\n");
	assert_int_equal(vup_data_decide(c, tiny, &q, &v), 0);
	assert_int_equal(v.action, VUP_DATA_ACT_PASS);
	free(tiny);
	free(st);
	vup_rules_free(a);
	vup_rules_free(b);
	vup_rules_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(same_seed_same_decisions),
	        cmocka_unit_test(vrings_and_sessions_independent),
	        cmocka_unit_test(counters_per_vring),
	        cmocka_unit_test(queues_ops_sectors_sizes),
	        cmocka_unit_test(verdict_parameters),
	        cmocka_unit_test(order_and_both_devices),
	        cmocka_unit_test(reload_and_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
