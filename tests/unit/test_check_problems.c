/* Unit tests for src/check/problems.c and the problems' rows: the one
 * list of a message's problems that the relay and the checker share, its
 * order (the trace's mark lists it), NEED_REPLY on a reply by channel
 * (VU004 / VU033), and --strict stated by rows. */
#include <stdio.h>

#include "model_feed.h"
#include "vuproxy/check.h"
#include "vuproxy/tracemsg.h"

static struct vup_findings fs;

static void find(enum vup_chan chan, enum vup_side from, uint32_t code,
                 uint32_t flags, const void *p, uint32_t size)
{
	struct vup_view v;
	view_of(&v, chan, from, code, flags, p, size, 0);
	vup_problems_find(m, &v, &fs);
	free((void *)v.payload);
}

static void test_order(void **state)
{
	(void)state;
	/* A reply over its bound, with NEED_REPLY and a reserved bit, to
	 * nothing owed: the validator's, then the flags', then pairing. */
	uint8_t p[16] = {0};
	find(MAIN, BE, VUP_REQ_GET_FEATURES, REPLY | VUP_FLAG_NEED_REPLY | 0x10,
	     p, 16);
	assert_int_equal(fs.n, 4);
	assert_int_equal(fs.f[0].kind, VUP_PROBLEM_SIZE);
	assert_int_equal(fs.f[1].kind, VUP_PROBLEM_NEED_REPLY_ON_REPLY);
	assert_int_equal(fs.f[2].kind, VUP_PROBLEM_RESERVED_FLAGS);
	assert_int_equal(fs.f[3].kind, VUP_PROBLEM_UNSOLICITED);
	char mark[512];
	vup_findings_text(&fs, mark, sizeof(mark));
	assert_non_null(strstr(mark, "; need-reply-on-reply: NEED_REPLY set "
	                             "on a reply (flags 0x1d); reserved-flags: "
	                             "reserved flag bits 0x10 set; "
	                             "unsolicited-reply: "));
	assert_true(strncmp(mark, "size: ", 6) == 0);
}

static void test_unknown_and_clean(void **state)
{
	(void)state;
	find(MAIN, FE, 99, REQ, NULL, 0);
	assert_int_equal(fs.n, 1);
	assert_int_equal(fs.f[0].kind, VUP_PROBLEM_UNKNOWN_REQUEST);
	assert_string_equal(fs.f[0].why,
	                    "unknown request code 99 on the main channel");
	find(MAIN, FE, VUP_REQ_GET_FEATURES, REQ, NULL, 0);
	assert_int_equal(fs.n, 0);
}

/* What vuproxy cannot frame ends the list: nothing else is judged. */
static void test_refused_ends(void **state)
{
	(void)state;
	find(MAIN, BE, VUP_REQ_GET_FEATURES, 0x2 | VUP_FLAG_REPLY | 0x10,
	     &(uint64_t){1}, 8);
	assert_int_equal(fs.n, 1);
	assert_int_equal(fs.f[0].kind, VUP_PROBLEM_VERSION);
	assert_non_null(vup_findings_refusal(&fs, false));
}

/* The record's severity byte runs the other way from the enum. */
static void test_severity_byte(void **state)
{
	(void)state;
	assert_int_equal(vup_check_severity_byte(VUP_SEV_ERROR), 2);
	assert_int_equal(vup_check_severity_byte(VUP_SEV_WARNING), 1);
	assert_int_equal(vup_check_severity_byte(VUP_SEV_INFO), 0);
	for (int s = 0; s < VUP_SEV_COUNT; s++)
		assert_string_equal(
		        vup_finding_severity_name(vup_check_severity_byte(s)),
		        vup_check_severity_name(s));
}

static void test_need_reply_rows(void **state)
{
	(void)state;
	enum vup_check_id id;
	assert_true(vup_check_problem_row(VUP_PROBLEM_NEED_REPLY_ON_REPLY, MAIN,
	                                  &id));
	assert_int_equal(id, VUP_CHECK_NEED_REPLY_ON_REPLY);
	assert_string_equal(vup_check_row(id)->code, "VU004");
	assert_int_equal(vup_check_row(id)->severity, VUP_SEV_WARNING);
	assert_true(vup_check_problem_row(VUP_PROBLEM_NEED_REPLY_ON_REPLY, BCH,
	                                  &id));
	assert_int_equal(id, VUP_CHECK_NEED_REPLY_ON_BACKEND_REPLY);
	assert_string_equal(vup_check_row(id)->code, "VU033");
	assert_int_equal(vup_check_row(id)->severity, VUP_SEV_WARNING);
	assert_false(
	        vup_check_problem_row(VUP_PROBLEM_RESERVED_FLAGS, MAIN, &id));
	assert_false(
	        vup_check_problem_row(VUP_PROBLEM_UNKNOWN_REQUEST, BCH, &id));
}

/* The checker turns the front-end's 0xd reply on the back-end channel
 * into VU033, the back-end's on the main channel into VU004. */
static unsigned rows_of(enum vup_chan chan, enum vup_side from, uint32_t code,
                        enum vup_check_id want, enum vup_check_id other)
{
	struct vup_checker *c = vup_checker_new(3);
	assert_non_null(c);
	struct vup_view v;
	view_of(&v, chan, from, code, REPLY | VUP_FLAG_NEED_REPLY,
	        &(uint64_t){0}, 8, 0);
	struct vup_check_findings out;
	vup_check_before(c, m, &v);
	vup_model_feed(m, &v, true, &ev);
	vup_check_message(c, m, &v, true, &ev, 9, &out);
	unsigned hits = 0;
	for (unsigned i = 0; i < out.n; i++) {
		assert_int_not_equal(out.f[i].row->id, other);
		if (out.f[i].row->id == want) {
			assert_true(out.f[i].frame == 9);
			assert_non_null(
			        strstr(out.f[i].message, "(flags 0xd)"));
			hits++;
		}
	}
	free((void *)v.payload);
	vup_checker_free(c);
	return hits;
}

static void test_checker_by_channel(void **state)
{
	(void)state;
	assert_int_equal(rows_of(BCH, FE, 2 /* BACKEND_CONFIG_CHANGE_MSG */,
	                         VUP_CHECK_NEED_REPLY_ON_BACKEND_REPLY,
	                         VUP_CHECK_NEED_REPLY_ON_REPLY),
	                 1);
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	assert_int_equal(rows_of(MAIN, BE, VUP_REQ_GET_FEATURES,
	                         VUP_CHECK_NEED_REPLY_ON_REPLY,
	                         VUP_CHECK_NEED_REPLY_ON_BACKEND_REPLY),
	                 1);
}

/* --strict by rows refuses exactly what it refused by problem class. */
static void test_refusal_by_rows(void **state)
{
	(void)state;
	for (int p = 1; p < VUP_PROBLEM_COUNT; p++)
		for (int chan = MAIN; chan <= BCH; chan++)
			for (int strict = 0; strict < 2; strict++) {
				struct vup_findings one = {.chan = chan};
				assert_non_null(vup_findings_add(&one, p));
				assert_int_equal(
				        vup_findings_refusal(&one, strict) !=
				                NULL,
				        vup_problem_refused(p, strict));
			}
}

/* tests/hostile/README.md lists the rows --strict refuses, by id. */
static void test_strict_rows_documented(void **state)
{
	(void)state;
	FILE *f = fopen(VUP_SOURCE_DIR "/tests/hostile/README.md", "r");
	assert_non_null(f);
	static const char lead[] = "Rows `--strict` refuses:";
	char line[1024], *list = NULL;
	while (!list && fgets(line, sizeof(line), f))
		if (strncmp(line, lead, sizeof(lead) - 1) == 0)
			list = line + sizeof(lead) - 1;
	fclose(f);
	assert_non_null(list);
	char want[512] = "";
	for (int id = 0; id < VUP_CHECK_COUNT; id++)
		if (vup_check_refusal(id) == VUP_REFUSE_STRICT)
			snprintf(want + strlen(want),
			         sizeof(want) - strlen(want), "%s%s",
			         want[0] ? ", " : " ", vup_check_row(id)->code);
	assert_true(strncmp(list, want, strlen(want)) == 0);
	assert_int_equal(vup_check_refusal(VUP_CHECK_VERSION),
	                 VUP_REFUSE_ALWAYS);
	assert_int_equal(
	        vup_check_refusal(VUP_CHECK_NEED_REPLY_ON_BACKEND_REPLY),
	        VUP_REFUSE_STRICT);
	assert_int_equal(vup_check_refusal(VUP_CHECK_GATE), VUP_REFUSE_NEVER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_order, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unknown_and_clean, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_refused_ends, setup,
	                                        teardown),
	        cmocka_unit_test(test_severity_byte),
	        cmocka_unit_test_setup_teardown(test_need_reply_rows, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_checker_by_channel, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_refusal_by_rows, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_strict_rows_documented,
	                                        setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
