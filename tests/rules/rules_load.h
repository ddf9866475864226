/* Helpers of the rules loading tests (test_rules_load.c for control
 * rules, test_rules_data_load.c for data rules): parse a text as
 * "t.yaml", expect it accepted or refused with a given error. */
#ifndef VUP_TESTS_RULES_LOAD_H
#define VUP_TESTS_RULES_LOAD_H

#include <errno.h>

#include "../unit/unit.h"
#include "vuproxy/rules.h"

static char err[32768], warn[32768];

static int parse(const char *text, struct vup_rules **r)
{
	err[0] = warn[0] = '\0';
	return vup_rules_parse("t.yaml", text, strlen(text), r, err,
	                       sizeof(err), warn, sizeof(warn));
}

static struct vup_rules *ok(const char *text)
{
	struct vup_rules *r = NULL;
	int rc = parse(text, &r);
	if (rc || !r)
		fail_msg("refused (%d):\n%s", rc, err);
	assert_string_equal(err, "");
	return r;
}

/* Refused, with expect among the errors. */
static void refused(const char *text, const char *expect)
{
	struct vup_rules *r = (struct vup_rules *)1;
	int rc = parse(text, &r);
	if (rc == 0) {
		vup_rules_free(r);
		fail_msg("accepted:\n%s", text);
	}
	assert_int_equal(rc, -EINVAL);
	assert_null(r);
	assert_contains(err, expect);
}

#endif
