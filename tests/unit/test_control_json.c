/* control/json.c, json_write.c: the reader refuses what RFC 8259
 * refuses, naming the byte, stays bounded on hostile input; the writer's
 * output is read back by the reader. */
#include <errno.h>
#include <stdlib.h>

#include "unit.h"
#include "vuproxy/json.h"

static int parse(struct vup_json_doc *d, const char *s, char *err)
{
	return vup_json_parse(d, s, strlen(s), err, 256);
}

static void valid_document(void **state)
{
	(void)state;
	struct vup_json_doc d;
	char err[256], buf[64];
	const char *s = " {\"a\": [1, -2, 3.5e2, true, false, null],"
	                " \"b\\u00e9\": \"x\\n\\ud83d\\ude00\\\"\","
	                " \"c\": {\"d\": {}} } ";
	assert_int_equal(parse(&d, s, err), 0);
	assert_int_equal(d.n[0].type, VUP_JSON_OBJECT);
	assert_int_equal(d.n[0].count, 3);
	int a = vup_json_get(&d, 0, "a");
	assert_int_equal(d.n[a].type, VUP_JSON_ARRAY);
	assert_int_equal(d.n[a].count, 6);
	int64_t v;
	int e = d.n[a].child;
	assert_int_equal(vup_json_int(&d, e, &v), 0);
	assert_int_equal(v, 1);
	e = d.n[e].next;
	assert_int_equal(vup_json_int(&d, e, &v), 0);
	assert_int_equal(v, -2);
	e = d.n[e].next;
	assert_int_equal(vup_json_int(&d, e, &v), -EINVAL); /* 3.5e2 */
	assert_int_equal(d.n[d.n[e].next].type, VUP_JSON_TRUE);
	int b = vup_json_get(&d, 0, "b\xc3\xa9");
	assert_true(b >= 0);
	assert_int_equal(vup_json_string(&d, b, buf, sizeof(buf), NULL), 0);
	assert_string_equal(buf, "x\n\xf0\x9f\x98\x80\"");
	assert_int_equal(vup_json_string(&d, b, buf, 4, NULL), -E2BIG);
	int c = vup_json_get(&d, 0, "c");
	int dd = vup_json_get(&d, c, "d");
	assert_int_equal(d.n[dd].type, VUP_JSON_OBJECT);
	assert_int_equal(d.n[dd].count, 0);
	assert_int_equal(vup_json_get(&d, 0, "zz"), -1);
	assert_int_equal(vup_json_get(&d, a, "a"), -1); /* not an object */
	vup_json_doc_free(&d);
}

static void refused_with_byte(void **state)
{
	(void)state;
	static const struct {
		const char *in, *err;
	} cases[] = {
	        {"", "bad JSON at byte 0: unexpected end of input"},
	        {"{\"a\":}", "bad JSON at byte 5: unexpected '}'"},
	        {"[1,]", "bad JSON at byte 3: unexpected ']'"},
	        {"{\"a\" 1}", "bad JSON at byte 5: ':' expected"},
	        {"{1:2}", "bad JSON at byte 1: a member name"},
	        {"01", "bad JSON at byte 0: leading zero"},
	        {"1.",
	         "bad JSON at byte 2: unexpected end of input (bad fraction"},
	        {"-",
	         "bad JSON at byte 1: unexpected end of input (bad number"},
	        {"1e+", "bad exponent"},
	        {"\"a\x01\"", "bad JSON at byte 2: control character"},
	        {"\"\\q\"", "bad JSON at byte 1: bad escape"},
	        {"\"\\u12g4\"", "bad \\u escape"},
	        {"\"\xff\"", "bad JSON at byte 1: invalid UTF-8"},
	        {"\"\xc0\xaf\"", "invalid UTF-8"},     /* overlong */
	        {"\"\xed\xa0\x80\"", "invalid UTF-8"}, /* a surrogate */
	        {"\"abc", "unterminated string"},
	        {"nul", "bad JSON at byte 0: unexpected 'n'"},
	        {"[1] x", "bad JSON at byte 4: trailing bytes"},
	        {"[1 2]", "bad JSON at byte 3: ',' or ']' expected"},
	        {"{\"a\":1 \"b\":2}",
	         "bad JSON at byte 7: ',' or '}' expected"},
	        {"\x80", "unexpected byte 0x80"},
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		struct vup_json_doc d;
		char err[256] = "";
		if (parse(&d, cases[i].in, err) >= 0)
			fail_msg("accepted %s", cases[i].in);
		assert_contains(err, cases[i].err);
		assert_null(d.n);
	}
}

static char *repeat(const char *a, size_t n, const char *b, size_t m)
{
	char *s = malloc(strlen(a) * n + strlen(b) * m + 8); /* + a tail */
	s[0] = '\0';
	char *p = s;
	for (size_t i = 0; i < n; i++)
		p = stpcpy(p, a);
	for (size_t i = 0; i < m; i++)
		p = stpcpy(p, b);
	return s;
}

static void depth_and_size_bounded(void **state)
{
	(void)state;
	struct vup_json_doc d;
	char err[256];
	char *ok = repeat("[", 32, "]", 32);
	assert_int_equal(parse(&d, ok, err), 0);
	vup_json_doc_free(&d);
	char *deep = repeat("[", 33, "]", 33);
	assert_int_equal(parse(&d, deep, err), -EINVAL);
	assert_contains(err, "bad JSON at byte 32: nested deeper than 32");
	/* a million levels: refused at the same place, no recursion */
	char *huge = repeat("{\"a\":", 1000000, "", 0);
	assert_int_equal(parse(&d, huge, err), -EINVAL);
	assert_contains(err, "nested deeper than 32");
	char *many = repeat("[", 1, "0,", VUP_JSON_NODES_MAX + 1);
	strcat(many, "0]");
	assert_int_equal(parse(&d, many, err), -E2BIG);
	assert_contains(err, "more than 65536 values");
	free(ok);
	free(deep);
	free(huge);
	free(many);
}

static void writer_round_trip(void **state)
{
	(void)state;
	struct vup_jw w;
	vup_jw_init(&w);
	vup_jw_obj(&w);
	vup_jw_kstr(&w, "s", "q\"\\\n\x01\x7f\xff\xc3\xa9");
	vup_jw_kuint(&w, "u", UINT64_MAX);
	vup_jw_key(&w, "i");
	vup_jw_int(&w, INT64_MIN);
	vup_jw_khex(&w, "h", 0xabc);
	vup_jw_key(&w, "a");
	vup_jw_arr(&w);
	vup_jw_null(&w);
	vup_jw_bool(&w, true);
	vup_jw_obj(&w);
	vup_jw_end(&w);
	vup_jw_arr(&w);
	vup_jw_end(&w);
	vup_jw_end(&w);
	vup_jw_key(&w, "t");
	vup_jw_time(&w, 1700000000123456789ull);
	vup_jw_end(&w);
	assert_false(w.oom);
	assert_string_equal(
	        w.buf,
	        "{\"s\":\"q\\\"\\\\\\u000a\\u0001\\u007f\\ufffd\xc3\xa9\","
	        "\"u\":18446744073709551615,\"i\":-9223372036854775808,"
	        "\"h\":\"0xabc\",\"a\":[null,true,{},[]],"
	        "\"t\":\"2023-11-14T22:13:20.123456789Z\"}");
	struct vup_json_doc d;
	char err[256], buf[64];
	assert_int_equal(vup_json_parse(&d, w.buf, w.len, err, sizeof(err)), 0);
	assert_int_equal(
	        vup_json_string(&d, vup_json_get(&d, 0, "s"), buf, 64, NULL),
	        0);
	assert_string_equal(buf, "q\"\\\n\x01\x7f\xef\xbf\xbd\xc3\xa9");
	int64_t v;
	assert_int_equal(vup_json_int(&d, vup_json_get(&d, 0, "i"), &v), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(vup_json_int(&d, vup_json_get(&d, 0, "u"), &v),
	                 -ERANGE);
	vup_json_doc_free(&d);
	vup_jw_free(&w);
}

static void nul_refused_when_decoded(void **state)
{
	(void)state;
	struct vup_json_doc d;
	char err[256], buf[16];
	assert_int_equal(parse(&d, "\"a\\u0000b\"", err), 0);
	assert_int_equal(vup_json_string(&d, 0, buf, sizeof(buf), NULL),
	                 -EILSEQ);
	vup_json_doc_free(&d);
	/* a lone surrogate decodes as U+FFFD */
	assert_int_equal(parse(&d, "\"\\udc00\"", err), 0);
	assert_int_equal(vup_json_string(&d, 0, buf, sizeof(buf), NULL), 0);
	assert_string_equal(buf, "\xef\xbf\xbd");
	vup_json_doc_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(valid_document),
	        cmocka_unit_test(refused_with_byte),
	        cmocka_unit_test(depth_and_size_bounded),
	        cmocka_unit_test(writer_round_trip),
	        cmocka_unit_test(nul_refused_when_decoded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
