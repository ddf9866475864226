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

/* --frames-rate: item i is due at start + i / pps, each deadline from
 * the one start; exact for rates that do not divide a second. */
static void rate_deadlines(void **state)
{
	(void)state;
	struct fake f = {.now = 777};
	struct vup_clock c = {fake_now, &f};
	struct vup_rate r;
	vup_rate_init(&r, &c, 3);
	vup_rate_start(&r);
	assert_int_equal(vup_rate_deadline(&r, 0), 777);
	assert_int_equal(vup_rate_deadline(&r, 1), 777 + 333333333);
	assert_int_equal(vup_rate_deadline(&r, 2), 777 + 666666666);
	assert_int_equal(vup_rate_deadline(&r, 3), 777 + 1000000000);
	/* Frame 3000000 of a 3 pps schedule: 1e6 s, no rounding error
	 * added up over the frames before it. */
	assert_int_equal(vup_rate_deadline(&r, 3000001),
	                 777 + 1000000 * 1000 * MS + 333333333);
	assert_int_equal(vup_rate_offset_ns(1000000, 1000000), 1000 * MS);
	assert_int_equal(vup_rate_offset_ns(999999, 1000000), 999999000);
	assert_int_equal(vup_rate_offset_ns(1, VUP_RATE_MAX_PPS), 1);
	assert_int_equal(vup_rate_offset_ns(5, 0), 0);
	/* Far past any clock: saturates. */
	assert_int_equal(vup_rate_offset_ns(UINT64_MAX, 1), UINT64_MAX);
	assert_int_equal(vup_rate_offset_ns(UINT64_MAX, VUP_RATE_MAX_PPS),
	                 UINT64_MAX / VUP_RATE_MAX_PPS * 1000000000u +
	                         UINT64_MAX % VUP_RATE_MAX_PPS);
}

/* A sender paced at 1 Mpps that takes 1.5 us per frame falls behind and
 * then offers every due frame at once: frame i never goes before its
 * deadline, and after N frames it is at most one frame's work late (not
 * N * 0.5 us, as sleeping 1 us between frames would make it). */
static void rate_catches_up(void **state)
{
	(void)state;
	struct fake f = {.now = 1000};
	struct vup_clock c = {fake_now, &f};
	struct vup_rate r;
	vup_rate_init(&r, &c, 1000000);
	vup_rate_start(&r);
	uint64_t i = 0, max_late = 0;
	while (i < 100000) {
		/* Offer every frame due now, as frames.c does. */
		uint64_t now = f.now;
		while (i < 100000 && vup_rate_deadline(&r, i) <= now) {
			assert_true(vup_rate_deadline(&r, i) <= now);
			if (now - vup_rate_deadline(&r, i) > max_late)
				max_late = now - vup_rate_deadline(&r, i);
			i++;
		}
		f.now += vup_rate_wait_ns(&r, i) + 1500; /* wait, work */
	}
	/* The last frame is due at 99999 us; the sender is done within a
	 * few us of it. */
	assert_true(f.now - 1000 <= 99999000 + 3000 + 1500);
	assert_true(max_late <= 3000);
}

/* Waits until each deadline; no rate: never waits, never reads the
 * clock. */
static void rate_waits(void **state)
{
	(void)state;
	struct fake f = {.now = 50 * MS};
	struct vup_clock c = {fake_now, &f};
	struct vup_rate r;
	vup_rate_init(&r, &c, 10000);                 /* 100 us apart */
	assert_int_equal(vup_rate_wait_ns(&r, 0), 0); /* starts here */
	assert_int_equal(vup_rate_wait_ns(&r, 1), 100000);
	assert_int_equal(vup_rate_wait_ns(&r, 10), 1 * MS);
	f.now += 250000;
	assert_int_equal(vup_rate_wait_ns(&r, 2), 0);
	assert_int_equal(vup_rate_wait_ns(&r, 3), 50000);
	/* Below the spin threshold: a caller busy-waits for frame 3. */
	assert_true(vup_rate_wait_ns(&r, 3) < VUP_RATE_SPIN_NS + 1);
	assert_true(vup_rate_wait_ns(&r, 4) >= VUP_RATE_SPIN_NS);

	struct fake g = {.now = 9};
	struct vup_clock d = {fake_now, &g};
	vup_rate_init(&r, &d, 0);
	assert_int_equal(vup_rate_wait_ns(&r, 0), 0);
	assert_int_equal(vup_rate_wait_ns(&r, 1000000000), 0);
	assert_int_equal(g.reads, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(deadlines_from_one_start),
	        cmocka_unit_test(no_drift),
	        cmocka_unit_test(implicit_start_and_odd_times),
	        cmocka_unit_test(off_never_waits),
	        cmocka_unit_test(monotonic_clock_moves),
	        cmocka_unit_test(rate_deadlines),
	        cmocka_unit_test(rate_catches_up),
	        cmocka_unit_test(rate_waits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
