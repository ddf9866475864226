/* Unit tests for src/relay/hold.c: the delay queue of one direction.
 * Release times never decrease along a queue (a message delayed less
 * than the one ahead waits for it), messages leave in order once due,
 * the queue copies what it is given and closes the fds it drops. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "relay/hold.h"
#include "unit.h"

#define MS 1000000ull

static struct vup_hold q;

static int teardown(void **state)
{
	(void)state;
	vup_hold_clear(&q);
	return 0;
}

/* Queue request code req (a u64 payload: its number) at now + delay. */
static void push(uint64_t now, uint64_t delay, uint32_t req, const char *rule)
{
	uint8_t p[8];
	put_u64(p, 0, req);
	struct vup_hdr h = hdr(req, REQ, 8);
	assert_int_equal(vup_hold_push(&q, now, delay, rule, &h, p, NULL, 0),
	                 0);
}

/* Pop the first message due at now: its request code, or 0 (none).
 * The message is checked whole and freed. */
static uint32_t pop(uint64_t now)
{
	struct vup_held *m = vup_hold_pop_ready(&q, now);
	if (!m)
		return 0;
	assert_null(m->next);
	assert_int_equal(m->hdr.size, 8);
	uint64_t x;
	memcpy(&x, m->payload, 8);
	assert_int_equal(x, m->hdr.request);
	uint32_t req = m->hdr.request;
	free(m);
	return req;
}

static void test_empty(void **state)
{
	(void)state;
	assert_true(vup_hold_empty(&q));
	assert_int_equal(vup_hold_next_ns(&q), UINT64_MAX);
	assert_null(vup_hold_pop_ready(&q, UINT64_MAX));
	vup_hold_clear(&q); /* nothing to drop */
	assert_true(vup_hold_empty(&q));
}

/* A message delayed less than the one ahead of it waits for it; one
 * delayed more keeps its own time. */
static void test_release_never_decreases(void **state)
{
	(void)state;
	push(0, 100 * MS, 1, "slow");
	push(10 * MS, 20 * MS, 2, "quick"); /* due at 30 ms: waits till 100 */
	push(20 * MS, 0, 3, NULL); /* behind them, no delay of its own */
	push(30 * MS, 200 * MS, 4, "slower");
	push(40 * MS, 10 * MS, 5, NULL);
	assert_int_equal(q.count, 5);
	uint64_t want[] = {100 * MS, 100 * MS, 100 * MS, 230 * MS, 230 * MS};
	unsigned i = 0;
	for (const struct vup_held *m = q.head; m; m = m->next, i++) {
		assert_true(i < COUNT(want));
		assert_int_equal(m->release_ns, want[i]);
		assert_int_equal(m->hdr.request, i + 1);
	}
	assert_int_equal(i, 5);
	assert_int_equal(q.tail->hdr.request, 5);
	assert_int_equal(vup_hold_next_ns(&q), 100 * MS);
}

/* Only what is due leaves, first in first out. */
static void test_pop_ready_order(void **state)
{
	(void)state;
	push(0, 50 * MS, 1, "a");
	push(0, 80 * MS, 2, "b");
	push(0, 80 * MS, 3, NULL);
	push(0, 200 * MS, 4, "c");
	assert_int_equal(pop(50 * MS - 1), 0);
	assert_int_equal(q.count, 4);
	assert_int_equal(pop(50 * MS), 1);
	assert_int_equal(vup_hold_next_ns(&q), 80 * MS);
	assert_int_equal(pop(79 * MS), 0);
	/* Late: everything due leaves at once, in order. */
	assert_int_equal(pop(150 * MS), 2);
	assert_int_equal(pop(150 * MS), 3);
	assert_int_equal(pop(150 * MS), 0);
	assert_int_equal(vup_hold_next_ns(&q), 200 * MS);
	assert_int_equal(q.count, 1);
	assert_int_equal(pop(UINT64_MAX), 4);
	assert_true(vup_hold_empty(&q));
	assert_null(q.tail);
	assert_int_equal(q.count, 0);
	assert_int_equal(vup_hold_next_ns(&q), UINT64_MAX);
	/* Emptied, the queue starts over: nothing ahead to wait for. */
	push(300 * MS, 5 * MS, 5, NULL);
	assert_ptr_equal(q.head, q.tail);
	assert_int_equal(vup_hold_next_ns(&q), 305 * MS);
	assert_int_equal(pop(305 * MS), 5);
}

/* The header, payload, fds and rule name are copied: the caller's
 * buffers (the channel's, the rules') may change before it leaves. */
static void test_copies(void **state)
{
	(void)state;
	char rule[] = "slow-mem-table";
	uint8_t p[40];
	for (unsigned i = 0; i < sizeof(p); i++)
		p[i] = (uint8_t)(0x40 + i);
	struct vup_hdr h = hdr(5, REQ | VUP_FLAG_NEED_REPLY, sizeof(p));
	int fds[2] = {-1, -1}; /* never closed here: popped, they are ours */
	assert_int_equal(vup_hold_push(&q, 7, 3, rule, &h, p, fds, 2), 0);
	memset(rule, 'x', sizeof(rule) - 1);
	memset(p, 0, sizeof(p));
	h.request = 99;
	/* Nothing ahead, nothing delayed: a message behind an empty queue. */
	assert_int_equal(vup_hold_push(&q, 8, 0, NULL, &h, p, NULL, 0), 0);

	struct vup_held *m = vup_hold_pop_ready(&q, 10);
	assert_non_null(m);
	assert_int_equal(m->release_ns, 10);
	assert_int_equal(m->hdr.request, 5);
	assert_int_equal(m->hdr.flags, REQ | VUP_FLAG_NEED_REPLY);
	assert_int_equal(m->hdr.size, 40);
	for (unsigned i = 0; i < 40; i++)
		assert_int_equal(m->payload[i], 0x40 + i);
	assert_int_equal(m->nfds, 2);
	assert_int_equal(m->fds[0], -1);
	assert_int_equal(m->fds[1], -1);
	assert_string_equal(m->rule, "slow-mem-table");
	assert_false(m->interpose);
	free(m);

	m = vup_hold_pop_ready(&q, 10);
	assert_non_null(m);
	assert_int_equal(m->release_ns, 10); /* behind the first */
	assert_int_equal(m->hdr.request, 99);
	assert_null(m->rule);
	assert_int_equal(m->nfds, 0);
	free(m);
}

/* An empty payload still carries its rule's name. */
static void test_empty_payload(void **state)
{
	(void)state;
	struct vup_hdr h = hdr(3, REQ, 0);
	assert_int_equal(vup_hold_push(&q, 0, 1, "owner", &h, NULL, NULL, 0),
	                 0);
	struct vup_held *m = vup_hold_pop_ready(&q, 1);
	assert_non_null(m);
	assert_int_equal(m->hdr.size, 0);
	assert_string_equal(m->rule, "owner");
	free(m);
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

/* What is dropped has its fds closed; what was popped is the caller's. */
static void test_clear_closes_fds(void **state)
{
	(void)state;
	int a[2], b[2];
	assert_int_equal(pipe(a), 0);
	assert_int_equal(pipe(b), 0);
	struct vup_hdr h = hdr(12, REQ, 8);
	uint8_t p[8] = {0};
	assert_int_equal(vup_hold_push(&q, 0, 10, NULL, &h, p, a, 2), 0);
	assert_int_equal(vup_hold_push(&q, 0, 20, "r", &h, p, b, 1), 0);
	struct vup_held *m = vup_hold_pop_ready(&q, 10);
	assert_non_null(m);
	vup_hold_clear(&q);
	assert_true(vup_hold_empty(&q));
	assert_null(q.tail);
	assert_int_equal(q.count, 0);
	assert_true(fd_open(a[0]) && fd_open(a[1])); /* popped: not closed */
	assert_false(fd_open(b[0]));                 /* dropped: closed */
	assert_true(fd_open(b[1]));                  /* never given */
	close(a[0]);
	close(a[1]);
	close(b[1]);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_teardown(test_empty, teardown),
	        cmocka_unit_test_teardown(test_release_never_decreases,
	                                  teardown),
	        cmocka_unit_test_teardown(test_pop_ready_order, teardown),
	        cmocka_unit_test_teardown(test_copies, teardown),
	        cmocka_unit_test_teardown(test_empty_payload, teardown),
	        cmocka_unit_test_teardown(test_clear_closes_fds, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
