/* Unit tests of the replay comparison (src/replay/compare.c): fields from
 * the catalogue's layouts, feature bits by name, --ignore forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vuproxy/replay.h"

#define REPLY (VUP_FLAG_VERSION | VUP_FLAG_REPLY)
#define REQ   VUP_FLAG_VERSION

struct msg {
	struct vup_hdr h;
	uint8_t p[64];
	struct vup_fd_info fds[2];
	unsigned nfds;
};

static struct vup_replay_view view(const struct msg *m)
{
	struct vup_replay_view v = {&m->h, m->p, m->fds, m->nfds};
	return v;
}

static unsigned cmp(const struct vup_replay_ignore *ig, enum vup_chan chan,
                    const struct msg *a, const struct msg *b, char *out,
                    size_t cap)
{
	struct vup_replay_view ra = view(a), rb = view(b);
	struct vup_negotiated neg = {0};
	return vup_replay_compare(ig, chan, &neg, &ra, &rb, out, cap);
}

static struct msg u64msg(uint32_t req, uint32_t flags, uint64_t v)
{
	struct msg m = {.h = {req, flags, 8}};
	memcpy(m.p, &v, 8);
	return m;
}

#define BIT(n) (UINT64_C(1) << (n))

static void identical(void **state)
{
	(void)state;
	char out[256];
	struct msg a = u64msg(1, REPLY, BIT(32) | BIT(34));
	assert_int_equal(cmp(NULL, VUP_CHAN_MAIN, &a, &a, out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

static void feature_bits_named(void **state)
{
	(void)state;
	char out[256];
	struct msg rec = u64msg(1, REPLY, BIT(32) | BIT(34));
	struct msg live = u64msg(1, REPLY, BIT(32) | BIT(35));
	assert_int_equal(
	        cmp(NULL, VUP_CHAN_MAIN, &rec, &live, out, sizeof(out)), 1);
	assert_string_equal(out, "-VIRTIO_F_RING_PACKED +VIRTIO_F_IN_ORDER");
	/* Protocol features by their protocol names, unnamed bits by
	 * number. */
	rec = u64msg(15, REPLY, BIT(3) | BIT(60));
	live = u64msg(15, REPLY, BIT(5));
	assert_int_equal(
	        cmp(NULL, VUP_CHAN_MAIN, &rec, &live, out, sizeof(out)), 1);
	assert_string_equal(out, "-REPLY_ACK -bit60 +BACKEND_REQ");
	/* Status bits. */
	rec = u64msg(40, REPLY, 0xf);
	live = u64msg(40, REPLY, 0xb);
	assert_int_equal(
	        cmp(NULL, VUP_CHAN_MAIN, &rec, &live, out, sizeof(out)), 1);
	assert_string_equal(out, "-DRIVER_OK");
}

static void fields_and_size(void **state)
{
	(void)state;
	char out[256];
	/* GET_VRING_BASE reply: index 1, num 0 vs 5. */
	struct msg rec = {.h = {11, REPLY, 8}}, live = rec;
	uint32_t idx = 1, num = 5;
	memcpy(rec.p, &idx, 4);
	memcpy(live.p, &idx, 4);
	memcpy(live.p + 4, &num, 4);
	assert_int_equal(
	        cmp(NULL, VUP_CHAN_MAIN, &rec, &live, out, sizeof(out)), 1);
	assert_string_equal(out, "num 0 -> 5");
	/* SET_VRING_ADDR: hex fields, several differences in one line. */
	struct msg a = {.h = {9, REQ, 40}}, b;
	uint64_t desc = 0x1000, used = 0x3000;
	memcpy(a.p + 8, &desc, 8);
	b = a;
	desc = 0x2000;
	memcpy(b.p + 8, &desc, 8);
	memcpy(b.p + 16, &used, 8);
	b.h.flags |= VUP_FLAG_NEED_REPLY;
	assert_int_equal(cmp(NULL, VUP_CHAN_MAIN, &a, &b, out, sizeof(out)), 3);
	assert_string_equal(out, "need_reply 0 -> 1, desc 0x1000 -> 0x2000, "
	                         "used 0x0 -> 0x3000");
	/* An ack of size 0 where 8 bytes were recorded. */
	struct msg ack = u64msg(6, REPLY, 0), empty = {.h = {6, REPLY, 0}};
	assert_int_equal(
	        cmp(NULL, VUP_CHAN_MAIN, &ack, &empty, out, sizeof(out)), 1);
	assert_string_equal(out, "size 8 -> 0");
	/* A different request altogether. */
	struct msg other = u64msg(2, REQ, 0);
	assert_int_equal(
	        cmp(NULL, VUP_CHAN_MAIN, &ack, &other, out, sizeof(out)), 1);
	assert_string_equal(out, "request SET_LOG_BASE -> SET_FEATURES");
}

static void fds_kinds_and_sizes(void **state)
{
	(void)state;
	char out[256];
	struct msg a = u64msg(12, REQ, 0), b;
	a.nfds = 1;
	a.fds[0].kind = VUP_FDK_EVENTFD;
	b = a;
	assert_int_equal(cmp(NULL, VUP_CHAN_MAIN, &a, &b, out, sizeof(out)), 0);
	b.fds[0].kind = VUP_FDK_PIPE;
	assert_int_equal(cmp(NULL, VUP_CHAN_MAIN, &a, &b, out, sizeof(out)), 1);
	assert_string_equal(out, "fds [eventfd] -> [pipe]");
	/* Memory fds compare sizes too. */
	struct msg m = {.h = {5, REQ, 8 + 32}}, n;
	uint32_t one = 1;
	memcpy(m.p, &one, 4);
	m.nfds = 1;
	m.fds[0] = (struct vup_fd_info){VUP_FDK_MEMFD, 4096};
	n = m;
	n.fds[0].size = 8192;
	assert_int_equal(cmp(NULL, VUP_CHAN_MAIN, &m, &n, out, sizeof(out)), 1);
	assert_string_equal(out, "fds [memfd 4096] -> [memfd 8192]");
	uint64_t uaddr = 0x7f0000;
	memcpy(n.p + 8 + 16, &uaddr, 8);
	n.fds[0].size = 4096;
	assert_int_equal(cmp(NULL, VUP_CHAN_MAIN, &m, &n, out, sizeof(out)), 1);
	assert_string_equal(out, "region 0 uaddr 0x0 -> 0x7f0000");
}

static void ignore_forms(void **state)
{
	(void)state;
	char out[256], err[256];
	struct vup_replay_ignore ig = {0};
	struct msg rec = u64msg(1, REPLY, BIT(32) | BIT(34));
	struct msg live = u64msg(1, REPLY, BIT(32) | BIT(35));
	/* A bit name: only that bit. */
	assert_int_equal(vup_replay_ignore_add(&ig, "VIRTIO_F_RING_PACKED", err,
	                                       sizeof(err)),
	                 0);
	assert_int_equal(cmp(&ig, VUP_CHAN_MAIN, &rec, &live, out, sizeof(out)),
	                 1);
	assert_string_equal(out, "+VIRTIO_F_IN_ORDER");
	/* REQUEST.FIELD: only on that request. */
	assert_int_equal(vup_replay_ignore_add(&ig, "GET_FEATURES.features",
	                                       err, sizeof(err)),
	                 0);
	assert_int_equal(cmp(&ig, VUP_CHAN_MAIN, &rec, &live, out, sizeof(out)),
	                 0);
	struct msg srec = u64msg(2, REQ, BIT(34)), slive = u64msg(2, REQ, 0);
	assert_int_equal(
	        cmp(&ig, VUP_CHAN_MAIN, &srec, &slive, out, sizeof(out)), 0);
	slive = u64msg(2, REQ, BIT(33));
	assert_int_equal(
	        cmp(&ig, VUP_CHAN_MAIN, &srec, &slive, out, sizeof(out)), 1);
	assert_string_equal(out, "+VIRTIO_F_ACCESS_PLATFORM");
	/* A plain field name: everywhere. */
	struct msg a = {.h = {11, REPLY, 8}}, b = a;
	b.p[4] = 9;
	assert_int_equal(vup_replay_ignore_add(&ig, "num", err, sizeof(err)),
	                 0);
	assert_int_equal(cmp(&ig, VUP_CHAN_MAIN, &a, &b, out, sizeof(out)), 0);
	assert_int_equal(vup_replay_ignore_add(&ig, "fds", err, sizeof(err)),
	                 0);
	assert_int_equal(
	        vup_replay_ignore_add(&ig, "DRIVER_OK", err, sizeof(err)), 0);
	assert_int_equal(ig.status_mask, 4);
	assert_int_equal(vup_replay_ignore_add(&ig, "set_slave_req_fd.fds", err,
	                                       sizeof(err)),
	                 0);
	/* Refused, with the offending input quoted. */
	assert_int_equal(
	        vup_replay_ignore_add(&ig, "nosuchfield", err, sizeof(err)),
	        -22);
	assert_non_null(strstr(err, "'nosuchfield'"));
	assert_int_equal(
	        vup_replay_ignore_add(&ig, "NO_SUCH_REQ.num", err, sizeof(err)),
	        -22);
	assert_non_null(strstr(err, "no request 'NO_SUCH_REQ'"));
	assert_int_equal(vup_replay_ignore_add(&ig, "GET_FEATURES.bogus", err,
	                                       sizeof(err)),
	                 -22);
}

static void output_bounded(void **state)
{
	(void)state;
	char out[8];
	struct msg rec = u64msg(1, REPLY, 0);
	struct msg live = u64msg(1, REPLY, ~UINT64_C(0));
	assert_int_equal(
	        cmp(NULL, VUP_CHAN_MAIN, &rec, &live, out, sizeof(out)), 1);
	assert_int_equal(strlen(out), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(identical),
	        cmocka_unit_test(feature_bits_named),
	        cmocka_unit_test(fields_and_size),
	        cmocka_unit_test(fds_kinds_and_sizes),
	        cmocka_unit_test(ignore_forms),
	        cmocka_unit_test(output_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
