/* control/prom.c: `ctl stats --prometheus` is the Prometheus text
 * format, checked line by line against its grammar (prom_check.h); and
 * the checker itself refuses what the grammar refuses. */
#include <stdlib.h>

#include "control/ctl.h"
#include "prom_check.h"
#include "unit.h"

static char *render(const char *json)
{
	struct vup_json_doc d;
	char err[256];
	assert_int_equal(vup_json_parse(&d, json, strlen(json), err, 256), 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(vup__prom_write(f, &d, 0), 0);
	fclose(f);
	vup_json_doc_free(&d);
	return buf;
}

static void stats_render_in_the_format(void **state)
{
	(void)state;
	char *out = render("{\"sessions_total\":3,\"sessions_failed_total\":1,"
	                   "\"sessions_live\":2,\"messages_total\":1234,"
	                   "\"refused_total\":0,\"note\":\"text is skipped\","
	                   "\"tap\":{\"queues\":2,\"captured_total\":99,"
	                   "\"odd-name\":1}}");
	char why[512];
	int n = prom_check(out, why, sizeof(why));
	if (n < 0)
		fail_msg("%s\n%s", why, out);
	assert_int_equal(n, 8);
	assert_contains(out, "# HELP vuproxy_messages_total Messages relayed, "
	                     "both channels.\n# TYPE vuproxy_messages_total "
	                     "counter\nvuproxy_messages_total 1234\n");
	assert_contains(out, "# TYPE vuproxy_sessions_live gauge\n");
	assert_contains(out, "vuproxy_tap_captured_total 99\n");
	assert_contains(out, "vuproxy_tap_odd_name 1\n");
	assert_lacks(out, "note");
	free(out);
}

static void checker_refuses_what_the_grammar_refuses(void **state)
{
	(void)state;
	static const char *const bad[] = {
	        "vuproxy_a_total 1\n", /* no HELP/TYPE */
	        "# HELP vuproxy_a x\n# TYPE vuproxy_a counter\nvuproxy_a 1\n",
	        "# HELP vuproxy_a_total x\n# TYPE vuproxy_a_total gauge\n"
	        "vuproxy_a_total 1\n",
	        "# HELP a x\n# TYPE a gauge\na 1\n", /* prefix */
	        "# HELP vuproxy_a x\n# TYPE vuproxy_a gauge\nvuproxy_a one\n",
	        "# HELP vuproxy_a x\n# TYPE vuproxy_a gauge\nvuproxy_a 1",
	        "# HELP vuproxy_a x\n# TYPE vuproxy_a gauge\n"
	        "vuproxy_a{l=\"x} 1\n",
	        "# HELP vuproxy_a x\n# TYPE vuproxy_a gauge\nvuproxy_a 1\n"
	        "vuproxy_a 2\n",
	        "# HELP 9a x\n# TYPE 9a gauge\n9a 1\n",
	        "# comment\n",
	};
	char why[512];
	for (size_t i = 0; i < COUNT(bad); i++)
		if (prom_check(bad[i], why, sizeof(why)) >= 0)
			fail_msg("accepted: %s", bad[i]);
	assert_int_equal(prom_check("# HELP vuproxy_a x\n# TYPE vuproxy_a "
	                            "gauge\nvuproxy_a{l=\"v\\\"\",m=\"\"} "
	                            "-1.5e3 1700000000000\n",
	                            why, sizeof(why)),
	                 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(stats_render_in_the_format),
	        cmocka_unit_test(checker_refuses_what_the_grammar_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
