/* Unit tests of the replay pacing scheduler (src/replay/pace.c) with a
 * fake clock: every deadline is start + (ts - ts0), whatever happened
 * before; lateness never accumulates; pacing off means no wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vuproxy/replay.h"

struct fake {
	uint64_t now;
	unsigned reads;
};

static uint64_t fake_now(void *ctx)
{
	struct fake *f = ctx;
	f->reads++;
	return f->now;
}

#define MS 1000000ull

static void deadlines_from_one_start(void **state)
{
	(void)state;
	struct fake f = {.now = 5000 * MS};
	struct vup_clock c = {fake_now, &f};
	struct vup_pace p;
	vup_pace_init(&p, &c, true);
	/* Recorded at 100 s, 100.010 s, 100.500 s, 103 s. */
	uint64_t ts0 = 100000 * MS;
	vup_pace_start(&p, ts0);
	assert_int_equal(vup_pace_deadline(&p, ts0), 5000 * MS);
	assert_int_equal(vup_pace_wait_ns(&p, ts0), 0);
	assert_int_equal(vup_pace_wait_ns(&p, ts0 + 10 * MS), 10 * MS);
	/* The clock moves 4 ms: 6 ms left. */
	f.now += 4 * MS;
	assert_int_equal(vup_pace_wait_ns(&p, ts0 + 10 * MS), 6 * MS);
	/* We are late: the message of 100.010 s went at 5000.030 (20 ms
	 * late).  The next deadline does not move: 5000.500. */
	f.now = 5000 * MS + 30 * MS;
	assert_int_equal(vup_pace_wait_ns(&p, ts0 + 10 * MS), 0);
	assert_int_equal(vup_pace_deadline(&p, ts0 + 500 * MS),
	                 5000 * MS + 500 * MS);
	assert_int_equal(vup_pace_wait_ns(&p, ts0 + 500 * MS), 470 * MS);
	/* Far behind: everything due is sent at once, and the schedule
	 * catches up instead of drifting. */
	f.now = 5000 * MS + 2900 * MS;
	assert_int_equal(vup_pace_wait_ns(&p, ts0 + 500 * MS), 0);
	assert_int_equal(vup_pace_wait_ns(&p, ts0 + 3000 * MS), 100 * MS);
}

/* Summing sleeps would drift by the time spent between messages; a
 * schedule from one start does not: 1000 messages 1 ms apart, each
 * handled 0.3 ms late, end on time. */
static void no_drift(void **state)
{
	(void)state;
	struct fake f = {.now = 0};
	struct vup_clock c = {fake_now, &f};
	struct vup_pace p;
	vup_pace_init(&p, &c, true);
	vup_pace_start(&p, 7 * MS);
	for (unsigned i = 0; i < 1000; i++) {
		uint64_t ts = 7 * MS + i * MS;
		uint64_t w = vup_pace_wait_ns(&p, ts);
		f.now += w; /* sleep exactly as told */
		assert_int_equal(f.now, i * MS);
		f.now += 300000; /* work after each message */
	}
	assert_int_equal(vup_pace_deadline(&p, 7 * MS + 999 * MS), 999 * MS);
}

static void implicit_start_and_odd_times(void **state)
{
	(void)state;
	struct fake f = {.now = 42};
	struct vup_clock c = {fake_now, &f};
	struct vup_pace p;
	vup_pace_init(&p, &c, true);
	assert_false(p.started);
	/* The first deadline asked for anchors the schedule. */
	assert_int_equal(vup_pace_deadline(&p, 1000), 42);
	assert_true(p.started);
	/* A timestamp before ts0 (a capture may hold anything) is due at
	 * the start, not in 584 years. */
	assert_int_equal(vup_pace_deadline(&p, 10), 42);
	/* The largest timestamp: exact, no wrap. */
	assert_int_equal(vup_pace_deadline(&p, UINT64_MAX),
	                 42 + (UINT64_MAX - 1000));
	/* A sum past the clock's range saturates instead of wrapping. */
	f.now = UINT64_MAX - 5;
	vup_pace_start(&p, 0);
	assert_int_equal(vup_pace_deadline(&p, 100), UINT64_MAX);
}

static void off_never_waits(void **state)
{
	(void)state;
	struct fake f = {.now = 0};
	struct vup_clock c = {fake_now, &f};
	struct vup_pace p;
	vup_pace_init(&p, &c, false);
	assert_int_equal(vup_pace_wait_ns(&p, 1), 0);
	assert_int_equal(vup_pace_wait_ns(&p, 1000000 * MS), 0);
	assert_int_equal(f.reads, 0); /* not even the clock is read */
}

static void monotonic_clock_moves(void **state)
{
	(void)state;
	uint64_t a = vup_clock_monotonic(NULL);
	uint64_t b = vup_clock_monotonic(NULL);
	assert_true(a > 0);
	assert_true(b >= a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(deadlines_from_one_start),
	        cmocka_unit_test(no_drift),
	        cmocka_unit_test(implicit_start_and_odd_times),
	        cmocka_unit_test(off_never_waits),
	        cmocka_unit_test(monotonic_clock_moves),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
