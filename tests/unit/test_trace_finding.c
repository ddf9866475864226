/* Unit tests for src/trace/finding.c: the finding record's bytes, as
 * tracemsg.h lays them out, read back; records a reader must skip. */
#include "unit.h"
#include "vuproxy/tracemsg.h"

static struct vup_finding_rec sample(void)
{
	static const char id[] = "VU012", rule[] = "hide-mq",
	                  msg[] = "acked 0x8000, never offered";
	return (struct vup_finding_rec){
	        .severity = 2,
	        .flags = VUP_TRACE_F_FROM_BACKEND,
	        .session = 0x01020304,
	        .frame = 0x1122334455667788ull,
	        .request = 2,
	        .id = id,
	        .id_len = 5,
	        .rule = rule,
	        .rule_len = 7,
	        .message = msg,
	        .message_len = sizeof(msg) - 1,
	};
}

static void test_bytes_as_documented(void **state)
{
	(void)state;
	struct vup_buf b = {0};
	struct vup_finding_rec f = sample();
	assert_int_equal(vup_finding_encode(&b, &f), 0);
	assert_int_equal(b.len % 4, 0);
	assert_int_equal(b.len, 28 + 5 + 7 + 27 + 1);
	const uint8_t *p = b.data;
	assert_memory_equal(p, "VF\x01\x02", 4);
	assert_memory_equal(p + 4, "\x04\x03\x02\x01", 4);
	assert_memory_equal(p + 8, "\x88\x77\x66\x55\x44\x33\x22\x11", 8);
	assert_memory_equal(p + 16, "\x02\0\0\0", 4);
	assert_int_equal(p[20], VUP_TRACE_F_FROM_BACKEND);
	assert_int_equal(p[21], 5);
	assert_int_equal(p[22], 7);
	assert_int_equal(p[24] | p[25] << 8, 27);
	assert_memory_equal(p + 28, "VU012hide-mqacked", 17);
	assert_int_equal(p[b.len - 1], 0);
	vup_buf_free(&b);
}

static void test_round_trip(void **state)
{
	(void)state;
	struct vup_buf b = {0};
	struct vup_finding_rec f = sample(), g;
	assert_int_equal(vup_finding_encode(&b, &f), 0);
	assert_true(vup_finding_decode(b.data, b.len, &g));
	assert_int_equal(g.severity, 2);
	assert_int_equal(g.session, f.session);
	assert_true(g.frame == f.frame);
	assert_int_equal(g.request, 2);
	assert_int_equal(g.flags, f.flags);
	assert_int_equal(g.id_len, 5);
	assert_memory_equal(g.id, "VU012", 5);
	assert_int_equal(g.rule_len, 7);
	assert_memory_equal(g.rule, "hide-mq", 7);
	assert_int_equal(g.message_len, f.message_len);
	assert_memory_equal(g.message, f.message, f.message_len);
	vup_buf_free(&b);
}

static void test_no_rule(void **state)
{
	(void)state;
	struct vup_buf b = {0};
	struct vup_finding_rec f = sample(), g;
	f.rule = NULL;
	f.rule_len = 9; /* ignored without a name */
	assert_int_equal(vup_finding_encode(&b, &f), 0);
	assert_true(vup_finding_decode(b.data, b.len, &g));
	assert_int_equal(g.rule_len, 0);
	assert_memory_equal(g.message, f.message, f.message_len);
	vup_buf_free(&b);
}

/* Anything else is not a finding: short, other magic, other version,
 * lengths past the record. */
static void test_not_a_finding(void **state)
{
	(void)state;
	struct vup_buf b = {0};
	struct vup_finding_rec f = sample(), g;
	assert_int_equal(vup_finding_encode(&b, &f), 0);
	for (size_t n = 0; n < 28 + 5 + 7 + 27; n++)
		assert_false(vup_finding_decode(b.data, n, &g));
	b.data[2] = 2;
	assert_false(vup_finding_decode(b.data, b.len, &g));
	b.data[2] = 1;
	b.data[1] = 'U';
	assert_false(vup_finding_decode(b.data, b.len, &g));
	b.data[1] = 'F';
	b.data[24] = 0xff;
	assert_false(vup_finding_decode(b.data, b.len, &g));
	vup_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_bytes_as_documented),
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_no_rule),
	        cmocka_unit_test(test_not_a_finding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
