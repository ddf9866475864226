/* The tap's memory budget (--tap-memory): a queue whose reader would
 * take the proxy's taps past it is not followed, with a log line, and
 * what a stopped queue held is given back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "tap_feed.h"
#include "vuproxy/proto.h"
#include "vuproxy/ring.h"
#include "vuproxy/tap.h"

#define MEM (1u << 20)

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static void msg(struct vup_tap *t, uint32_t req, const uint8_t *p,
                uint32_t size, const int *fds, unsigned nfds)
{
	struct vup_hdr h = {req, VUP_FLAG_VERSION, size};
	tap_feed(t, VUP_CHAN_MAIN, VUP_FRONTEND, &h, p, fds, nfds, 1);
}

/* A net session with one memfd region and queue 1 of `num` slots. */
static void set_up(struct vup_tap *t, int fd, uint32_t num)
{
	uint8_t p[48] = {0};
	put64(p, 1ull << 32); /* VERSION_1 */
	msg(t, VUP_REQ_SET_FEATURES, p, 8, NULL, 0);
	memset(p, 0, sizeof(p));
	put32(p, 1);
	put64(p + 8, 0);                  /* gpa */
	put64(p + 16, MEM);               /* size */
	put64(p + 24, 0x7f0000000000ull); /* uaddr */
	msg(t, VUP_REQ_SET_MEM_TABLE, p, 40, &fd, 1);
	memset(p, 0, sizeof(p));
	put32(p, 1);
	put32(p + 4, num);
	msg(t, VUP_REQ_SET_VRING_NUM, p, 8, NULL, 0);
	msg(t, VUP_REQ_SET_VRING_BASE, (uint8_t[8]){1}, 8, NULL, 0);
	memset(p, 0, sizeof(p));
	put32(p, 1);
	put64(p + 8, 0x7f0000000000ull);            /* desc */
	put64(p + 16, 0x7f0000000000ull + 0x80000); /* used */
	put64(p + 24, 0x7f0000000000ull + 0x40000); /* avail */
	msg(t, VUP_REQ_SET_VRING_ADDR, p, 40, NULL, 0);
	memset(p, 0, sizeof(p));
	put64(p, 1);
	msg(t, VUP_REQ_SET_VRING_KICK, p, 8, &fd, 1);
}

static void budget(void **state)
{
	(void)state;
	int fd = memfd_create("vup-test-guest", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, MEM), 0);
	uint64_t need = vup_ring_mem(4096, 128 + 12);
	struct vup_tap_budget b = {.mem_limit = need - 1};
	struct vup_tap_config c = {
	        .budget = &b, .kind = VUP_TAP_NET, .snaplen = 128};
	/* Too little: not followed, nothing taken. */
	struct vup_tap *t = vup_tap_new(&c, 1, NULL);
	set_up(t, fd, 4096);
	assert_false(vup_tap_running(t));
	assert_int_equal(b.mem_used, 0);
	vup_tap_end(t, 2);
	tap_model_forget(t);
	vup_tap_free(t);
	/* Enough: followed, its share taken while it runs, given back. */
	b.mem_limit = need;
	t = vup_tap_new(&c, 2, NULL);
	set_up(t, fd, 4096);
	assert_true(vup_tap_running(t));
	assert_int_equal(b.mem_used, need);
	/* A second session finds the budget spent. */
	struct vup_tap *t2 = vup_tap_new(&c, 3, NULL);
	set_up(t2, fd, 16);
	assert_false(vup_tap_running(t2));
	vup_tap_end(t, 3);
	assert_int_equal(b.mem_used, 0);
	vup_tap_end(t2, 3);
	tap_model_forget(t2);
	vup_tap_free(t2);
	tap_model_forget(t);
	vup_tap_free(t);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
