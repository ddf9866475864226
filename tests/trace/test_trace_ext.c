/* Unit tests of the pseudo-header's extensions (pcapng.h, the versioning
 * rule): the declared-state mark (VUP_TRACE_EXT_DECLARED) encodes and
 * decodes alone and beside a problem mark, fds and a rule name; an
 * extension of a type this reader does not know is skipped by its length
 * before or after it; a value too short for a u64, or a length past the
 * header, is ignored, never read out of bounds, and the message still
 * starts where the header says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vuproxy/le.h"
#include "vuproxy/pcapng.h"

#define WHEN 1700000000123456789ull

static void round_trip(const struct vup_trace_hdr *in,
                       struct vup_trace_hdr *out)
{
	static uint8_t buf[VUP_TRACE_HDR_MAX];
	size_t n = vup_trace_hdr_size(in);
	assert_true(n <= VUP_TRACE_HDR_MAX);
	assert_int_equal(n % 4, 0);
	vup_trace_hdr_encode(in, buf);
	char err[128];
	assert_int_equal(vup_trace_hdr_decode(buf, n, out, err, sizeof(err)),
	                 (int)n);
}

static void test_without(void **state)
{
	(void)state;
	static struct vup_trace_hdr h, d;
	h.session = 3;
	h.flags = VUP_TRACE_F_FROM_BACKEND;
	round_trip(&h, &d);
	assert_false(d.declared);
	assert_int_equal(d.declared_ns, 0);
	assert_int_equal(vup_trace_hdr_size(&h), VUP_TRACE_FIXED);
}

static void test_declared_alone(void **state)
{
	(void)state;
	static struct vup_trace_hdr h, d;
	h.session = 7;
	h.declared = true;
	h.declared_ns = WHEN;
	assert_int_equal(vup_trace_hdr_size(&h),
	                 VUP_TRACE_FIXED + VUP_TRACE_EXT_HDR + 8);
	round_trip(&h, &d);
	assert_true(d.declared);
	assert_true(d.declared_ns == WHEN);
	assert_int_equal(d.session, 7);
	assert_string_equal(d.mark, "");
}

/* With fds, a rule and a mark: each comes back, none shifts another. */
static void test_declared_with_all(void **state)
{
	(void)state;
	static struct vup_trace_hdr h, d;
	h.session = 1;
	h.action = VUP_TRACE_ACT_REWRITE;
	h.flags = VUP_TRACE_F_AS_SENT;
	h.nfds = 2;
	h.fds[0] = (struct vup_fd_info){VUP_FDK_MEMFD, 1u << 20};
	h.fds[1] = (struct vup_fd_info){VUP_FDK_EVENTFD, 0};
	snprintf(h.rule, sizeof(h.rule), "odd-rule");
	snprintf(h.mark, sizeof(h.mark), "size: five");
	h.declared = true;
	h.declared_ns = WHEN;
	round_trip(&h, &d);
	assert_true(d.declared);
	assert_true(d.declared_ns == WHEN);
	assert_string_equal(d.rule, "odd-rule");
	assert_string_equal(d.mark, "size: five");
	assert_int_equal(d.nfds, 2);
	assert_int_equal(d.fds[0].kind, VUP_FDK_MEMFD);
	assert_true(d.fds[0].size == 1u << 20);
	assert_int_equal(d.action, VUP_TRACE_ACT_REWRITE);
	assert_int_equal(d.flags, VUP_TRACE_F_AS_SENT);
}

/* A header by hand: the fixed part, then extensions (type, len, value)
 * laid out as given, each padded to 4; the message after them. */
struct ext {
	uint16_t type, len;
	const void *value;
};

static size_t by_hand(uint8_t *out, const struct ext *e, size_t n,
                      uint16_t hlen_extra)
{
	memset(out, 0, 256);
	out[0] = VUP_TRACE_MAGIC0;
	out[1] = VUP_TRACE_MAGIC1;
	out[2] = VUP_TRACE_VERSION;
	out[8] = 1;
	size_t at = VUP_TRACE_FIXED;
	for (size_t i = 0; i < n; i++) {
		vup_put_le16(out + at, e[i].type);
		vup_put_le16(out + at + 2, e[i].len);
		memcpy(out + at + 4, e[i].value, e[i].len);
		at += (4u + e[i].len + 3) / 4 * 4;
	}
	at += hlen_extra;
	vup_put_le16(out + 4, (uint16_t)at);
	memcpy(out + at, "MSG!", 4);
	return at;
}

static void decode_hand(const struct ext *e, size_t n, uint16_t extra,
                        struct vup_trace_hdr *d)
{
	uint8_t buf[256];
	size_t hl = by_hand(buf, e, n, extra);
	char err[128];
	int rc = vup_trace_hdr_decode(buf, hl + 4, d, err, sizeof(err));
	assert_int_equal(rc, (int)hl);
	assert_memory_equal(buf + rc, "MSG!", 4);
}

static void test_unknown_skipped(void **state)
{
	(void)state;
	uint8_t when[8];
	vup_put_le64(when, WHEN);
	static struct vup_trace_hdr d;
	/* An unknown extension after the declared one... */
	struct ext after[] = {
	        {VUP_TRACE_EXT_DECLARED, 8, when},
	        {0x7f01, 5, "\1\2\3\4\5"},
	        {VUP_TRACE_EXT_MARK, 3, "a:b"},
	};
	decode_hand(after, 3, 0, &d);
	assert_true(d.declared);
	assert_true(d.declared_ns == WHEN);
	assert_string_equal(d.mark, "a:b");
	/* ...and before it. */
	struct ext before[] = {
	        {0x7f02, 1, "x"},
	        {VUP_TRACE_EXT_DECLARED, 8, when},
	};
	decode_hand(before, 2, 0, &d);
	assert_true(d.declared);
	assert_true(d.declared_ns == WHEN);
	/* A longer value (a later version's): the first 8 bytes are the
	 * time, the rest skipped. */
	uint8_t longer[12] = {0};
	vup_put_le64(longer, WHEN);
	struct ext more[] = {{VUP_TRACE_EXT_DECLARED, 12, longer}};
	decode_hand(more, 1, 0, &d);
	assert_true(d.declared);
	assert_true(d.declared_ns == WHEN);
}

static void test_truncated_ignored(void **state)
{
	(void)state;
	uint8_t when[8];
	vup_put_le64(when, WHEN);
	static struct vup_trace_hdr d;
	/* A value of 4 bytes: no u64 in it. */
	struct ext short_value[] = {{VUP_TRACE_EXT_DECLARED, 4, when}};
	decode_hand(short_value, 1, 0, &d);
	assert_false(d.declared);
	assert_int_equal(d.declared_ns, 0);
	/* A header that ends inside the value: the length says 8, the
	 * header length leaves 4 (the extension is cut). */
	uint8_t buf[256];
	struct ext cut[] = {{VUP_TRACE_EXT_DECLARED, 8, when}};
	size_t hl = by_hand(buf, cut, 1, 0);
	vup_put_le16(buf + 4, (uint16_t)(hl - 4));
	char err[128];
	assert_int_equal(vup_trace_hdr_decode(buf, hl, &d, err, sizeof(err)),
	                 (int)hl - 4);
	assert_false(d.declared);
	/* A declared mark after one that runs past the header: neither. */
	struct ext bad[] = {
	        {0x7f01, 2, "ab"},
	        {VUP_TRACE_EXT_DECLARED, 8, when},
	};
	hl = by_hand(buf, bad, 2, 0);
	vup_put_le16(buf + VUP_TRACE_FIXED + 2, 200); /* runs past the end */
	assert_int_equal(vup_trace_hdr_decode(buf, hl, &d, err, sizeof(err)),
	                 (int)hl);
	assert_false(d.declared);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_without),
	        cmocka_unit_test(test_declared_alone),
	        cmocka_unit_test(test_declared_with_all),
	        cmocka_unit_test(test_unknown_skipped),
	        cmocka_unit_test(test_truncated_ignored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
