/* Unit tests of `vuproxy check` on a file that starts in the middle of a
 * session and restates its set-up first (declared state, issue 13),
 * written with rtrace (tests/replay/rtrace.h): the events after it are
 * judged against that set-up, fully, with frames numbered as Wireshark
 * numbers them (declared packets count); the declared records add no
 * finding of their own, and what they owe is not owed.  The same
 * records not declared do give their findings: the tests can fail. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check_run.h"
#include "rtrace.h"
#include "unit.h"

#define M  VUP_CHAN_MAIN
#define FE VUP_FRONTEND
#define BE VUP_BACKEND

static char dir[] = "/tmp/vup-check-decl-XXXXXX";
static char trace[600], out_path[600];
static struct rt t;

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(trace, sizeof(trace), "%s/t.pcapng", dir);
	snprintf(out_path, sizeof(out_path), "%s/out", dir);
	return 0;
}

static int cleanup(void **state)
{
	(void)state;
	unlink(trace);
	unlink(out_path);
	rmdir(dir);
	return 0;
}

/* Write t (continued when asked) and check it; its exit status. */
static int check(bool continued)
{
	t.continued = continued;
	assert_int_equal(rt_write(&t, trace), 0);
	return check_run(out_path, trace, NULL, NULL, NULL);
}

/* SET_VRING_ADDR of vring 1 with its used ring outside the table. */
static void addr_outside(void)
{
	uint8_t addr[40] = {0};
	uint32_t index = 1;
	uint64_t desc = 0x7f0000104000, used = 0x7f0000900000,
	         avail = 0x7f0000105000;
	memcpy(addr, &index, 4);
	memcpy(addr + 8, &desc, 8);
	memcpy(addr + 16, &used, 8);
	memcpy(addr + 24, &avail, 8);
	rt_add(&t, 1, M, FE, VUP_REQ_SET_VRING_ADDR, REQ, addr, sizeof(addr));
}

/* An event judged against the declared memory table: frame 22 (after 21
 * declared packets), and the set-up it needs is there. */
static void test_events_judged_against_setup(void **state)
{
	(void)state;
	memset(&t, 0, sizeof(t));
	rt_net_setup(&t, 1, 2);
	size_t n = t.n;
	addr_outside();
	rt_net_teardown(&t, 1, 2, 0);
	rt_declare(&t, n);
	assert_int_equal(check(true), 1);
	const char *o = check_slurp(out_path);
	assert_contains(o, "frame 22 s1 VU030 error SET_VRING_ADDR");
	assert_contains(o, "judged against the set-up it declared (21 "
	                   "records)");
	assert_lacks(o, "began in an earlier file");
	assert_contains(o, "1 errors, 0 warnings, 0 infos in 1 sessions, 5 "
	                   "messages");
	/* Without the declared state (an older vuproxy's rotated file):
	 * not judged, and said so. */
	memmove(&t.m[0], &t.m[n], (t.n - n) * sizeof(t.m[0]));
	t.n -= n;
	assert_int_equal(check(true), 0);
	o = check_slurp(out_path);
	assert_lacks(o, "VU030");
	assert_contains(o, "session 1 began in an earlier file");
}

/* Declared records out of order, acking what was never offered: as
 * events each gives a finding, as declared state none. */
static void build_odd_setup(void)
{
	memset(&t, 0, sizeof(t));
	rt_add(&t, 1, M, FE, VUP_REQ_GET_FEATURES, REQ, NULL, 0); /* VU015 */
	rt_u64(&t, 1, M, BE, VUP_REQ_GET_FEATURES, REPLY, 1ull << 32);
	rt_u64(&t, 1, M, FE, VUP_REQ_SET_FEATURES, REQ,
	       1ull << 32 | 1ull << 15); /* VU012 */
	uint8_t addr[40] = {0};
	rt_add(&t, 1, M, FE, VUP_REQ_SET_VRING_ADDR, REQ, addr,
	       sizeof(addr)); /* VU019 */
	rt_add(&t, 1, M, FE, VUP_REQ_GET_PROTOCOL_FEATURES, REQ, NULL, 0);
	/* ...its reply missing: VU022 */
}

static void test_declared_not_judged(void **state)
{
	(void)state;
	build_odd_setup();
	assert_int_equal(check(false), 1);
	const char *o = check_slurp(out_path);
	assert_contains(o, "VU015");
	assert_contains(o, "VU012");
	assert_contains(o, "VU019");
	assert_contains(o, "VU022");
	build_odd_setup();
	rt_declare(&t, t.n);
	for (int continued = 0; continued < 2; continued++) {
		assert_int_equal(check(continued), 0);
		o = check_slurp(out_path);
		assert_lacks(o, "VU0");
		assert_contains(o, "0 errors, 0 warnings, 0 infos in 1 "
		                   "sessions, 0 messages");
		assert_contains(o, "judged against the set-up it declared (5 "
		                   "records)");
	}
}

/* A declared request without its reply owes nothing; an event after it
 * still does, and the frame named counts the declared packets. */
static void test_owed_after_declared(void **state)
{
	(void)state;
	build_odd_setup();
	size_t n = t.n;
	rt_u64(&t, 1, M, FE, VUP_REQ_GET_VRING_BASE, REQ, 0);
	rt_declare(&t, n);
	assert_int_equal(check(true), 1);
	const char *o = check_slurp(out_path);
	assert_contains(o, "frame 6 s1 VU022 error GET_VRING_BASE");
	assert_lacks(o, "GET_PROTOCOL_FEATURES");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_events_judged_against_setup),
	        cmocka_unit_test(test_declared_not_judged),
	        cmocka_unit_test(test_owed_after_declared),
	};
	return cmocka_run_group_tests(tests, setup, cleanup);
}
