/* Unit tests for src/rules loading: every kind of error with its exact
 * file:line:col and the quoted line, what valid files compile to, the
 * warnings, and vup_rules_load on real files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../unit/unit.h"
#include "rules/internal.h" /* what a rule set holds */
#include "rules_load.h"     /* parse, ok, refused; err and warn */
#include "vuproxy/rules.h"

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* ---- errors ---- */

static void error_shows_line_and_caret(void **state)
{
	(void)state;
	refused("rules:\n"
	        "  - name: a\n"
	        "    match: {request: SET_VRING_NUM}\n"
	        "    action: drop\n"
	        "    bogus: 1\n",
	        "t.yaml:5:5: unknown key 'bogus' in rule 1 (expected name, "
	        "match, when, action, continue)\n"
	        "        bogus: 1\n"
	        "        ^\n");
	/* The caret copies tabs and counts UTF-8 characters. */
	refused("rules:\n"
	        "  - name: \"\xc3\xa9t\xc3\xa9\"\n"
	        "    action: {delay: 5 ms}\n",
	        "t.yaml:3:21: delay: expected a duration like 200ms (an "
	        "integer and ns, us, ms or s), got '5 ms'\n"
	        "        action: {delay: 5 ms}\n"
	        "                        ^\n");
	refused("rules:\n"
	        "  - {name: a, action: drop, match: {request: X}}\t# x\n",
	        "t.yaml:2:46: unknown request 'X'\n"
	        "      - {name: a, action: drop, match: {request: X}}\t# x\n"
	        "                                                 ^\n");
}

static void yaml_syntax_errors(void **state)
{
	(void)state;
	refused("rules:\n"
	        "  - name: a\n"
	        "    action: {drop\n",
	        "t.yaml:4:1: did not find expected ',' or '}' (while parsing "
	        "a flow mapping at 3:13)\n");
	refused("rules:\n"
	        "  - name: a\n"
	        "   action: drop\n",
	        "t.yaml:3:4: did not find expected '-' indicator (while "
	        "parsing a block collection at 2:3)\n");
	refused("rules:\n\t- name: a\n",
	        "t.yaml:2:1: found character that cannot start any token");
	/* Bytes that are no UTF-8 (a reader error, found by offset). */
	refused("rules:\n  - name: \xff\n",
	        "t.yaml:2:11: invalid leading UTF-8 octet (byte 0xff at "
	        "offset 17)\n      - name: ?\n              ^\n");
}

static void unknown_keys(void **state)
{
	(void)state;
	refused("rulez: []\n",
	        "t.yaml:1:1: unknown key 'rulez' in the file (expected rules)");
	assert_int_equal(count(err, "t.yaml:"), 1);
	refused("rules:\n"
	        "  - name: a\n"
	        "    match: {requst: GET_FEATURES}\n"
	        "    action: drop\n",
	        "t.yaml:3:13: unknown key 'requst' in match (expected "
	        "request, code, channel, from, reply, session, socket, "
	        "vring, fields, has)");
	refused("rules:\n"
	        "  - name: a\n"
	        "    when: {frist: 2}\n"
	        "    action: drop\n",
	        "t.yaml:3:12: unknown key 'frist' in when");
	refused("rules:\n"
	        "  - name: a\n"
	        "    action: {delay: 1s, jiter: 1ms}\n",
	        "t.yaml:3:25: unknown key 'jiter' in action");
	refused("rules:\n"
	        "  - name: a\n"
	        "    match: {request: SET_VRING_NUM}\n"
	        "    action: {rewrite: {sett: {num: 1}}}\n",
	        "t.yaml:4:24: unknown key 'sett' in rewrite");
	refused("rules:\n"
	        "  - name: a\n"
	        "    match: {request: SET_VRING_NUM, fields: {num: {eg: 1}}}\n"
	        "    action: drop\n",
	        "t.yaml:3:52: unknown key 'eg' in the condition on num");
}

static void unknown_names(void **state)
{
	(void)state;
	refused("rules:\n"
	        "  - name: a\n"
	        "    match:\n"
	        "      request: [GET_FEATURES, SET_FEATUERS]\n"
	        "    action: drop\n",
	        "t.yaml:4:31: unknown request 'SET_FEATUERS'\n");
	refused("rules:\n"
	        "  - name: a\n"
	        "    match: {request: 5}\n"
	        "    action: drop\n",
	        "t.yaml:3:22: unknown request '5' (use code: N for a number)");
	/* A field must be in a payload of the matched requests. */
	refused("rules:\n"
	        "  - name: a\n"
	        "    match:\n"
	        "      request: SET_VRING_NUM\n"
	        "      reply: false\n"
	        "      fields: {nmu: 3}\n"
	        "    action: drop\n",
	        "t.yaml:6:16: no field 'nmu' in the payload of SET_VRING_NUM "
	        "(fields: index, num)");
	refused("rules:\n"
	        "  - name: a\n"
	        "    match: {request: SET_OWNER, reply: false, "
	        "fields: {num: 3}}\n"
	        "    action: drop\n",
	        "t.yaml:3:56: no field 'num': the payload of SET_OWNER has no "
	        "fields");
	refused("rules:\n"
	        "  - name: a\n"
	        "    match: {request: SET_VRING_NUM}\n"
	        "    action: {rewrite: {set: {desc: 1}}}\n",
	        "t.yaml:4:30: no field 'desc' in the payload of SET_VRING_NUM");
	refused("rules:\n"
	        "  - name: a\n"
	        "    match: {fields: {bogus: 1}}\n"
	        "    action: drop\n",
	        "t.yaml:3:22: no field 'bogus' in the payload of any request");
	refused("rules:\n"
	        "  - name: a\n"
	        "    match: {request: GET_SHARED_OBJECT, fields: {uuid: 1}}\n"
	        "    action: drop\n",
	        "t.yaml:3:50: field 'uuid' is not a number");
	refused("rules:\n"
	        "  - name: a\n"
	        "    match: {request: GET_FEATURES, has: "
	        "[VIRTIO_F_RING_PAKED]}\n"
	        "    action: drop\n",
	        "t.yaml:3:42: has: unknown feature 'VIRTIO_F_RING_PAKED'");
	refused("rules:\n"
	        "  - name: a\n"
	        "    match: {request: GET_FEATURES}\n"
	        "    action: {rewrite: {set_features: [NOPE]}}\n",
	        "t.yaml:4:39: set_features: unknown feature 'NOPE'");
	/* A feature word the matched requests do not carry. */
	refused("rules:\n"
	        "  - name: a\n"
	        "    match: {request: GET_FEATURES, has: REPLY_ACK}\n"
	        "    action: drop\n",
	        "t.yaml:3:41: has: REPLY_ACK is a protocol feature, and no "
	        "protocol feature word is in the payload of GET_FEATURES");
	refused("rules:\n"
	        "  - name: a\n"
	        "    match: {has: [REPLY_ACK, VIRTIO_F_VERSION_1]}\n"
	        "    action: drop\n",
	        "t.yaml:3:18: has: mixes virtio and protocol features");
	refused("rules:\n"
	        "  - name: a\n"
	        "    match: {request: SET_OWNER, vring: 0}\n"
	        "    action: drop\n",
	        "t.yaml:3:33: vring: the payload of SET_OWNER has no vring "
	        "index");
	refused("rules:\n"
	        "  - name: a\n"
	        "    match: {request: BACKEND_IOTLB_MSG, channel: main}\n"
	        "    action: drop\n",
	        "t.yaml:3:22: BACKEND_IOTLB_MSG travels on the backend "
	        "channel, not main");
}

static void wrong_types(void **state)
{
	(void)state;
	static const struct {
		const char *yaml, *expect;
	} cases[] = {
	        {"    when: {first: abc}\n",
	         "t.yaml:4:19: first: expected a number, got 'abc'"},
	        {"    when: {probability: 2}\n",
	         "t.yaml:4:25: probability: 2 is not between 0 and 1"},
	        {"    when: {probability: 1.0000001}\n",
	         "t.yaml:4:25: probability: 1.0000001 is not between 0 and 1"},
	        {"    when: {probability: 30%}\n",
	         "t.yaml:4:25: probability: expected a number from 0 to 1, "
	         "got '30%'"},
	        {"    when: {probability: -0.5}\n",
	         "t.yaml:4:25: probability: expected a number from 0 to 1"},
	        {"    when: {every: 0}\n",
	         "t.yaml:4:19: every: must be at least 1"},
	        {"    when: {after: -1}\n",
	         "t.yaml:4:19: after: expected a number, got '-1'"},
	        {"    when: {seed: 18446744073709551616}\n",
	         "t.yaml:4:18: seed: 18446744073709551616 is out of range"},
	        {"    when: {nth: 0x}\n",
	         "t.yaml:4:17: nth: expected a number, got '0x'"},
	        {"    when: {nth: \" 5\"}\n",
	         "t.yaml:4:17: nth: expected a number, got ' 5'"},
	        {"    when: {nth: [1]}\n",
	         "t.yaml:4:17: nth: expected a number, got a list"},
	        {"    when: {nth: }\n",
	         "t.yaml:4:17: nth: expected a number, got nothing"},
	        {"    when: {scope: world}\n",
	         "t.yaml:4:19: scope: expected session or global, got 'world'"},
	        {"    when: 3\n",
	         "t.yaml:4:11: when: expected a mapping, got a scalar"},
	        {"    match: {reply: yes}\n",
	         "t.yaml:4:20: reply: expected true or false, got 'yes'"},
	        {"    match: {reply: True}\n",
	         "t.yaml:4:20: reply: expected true or false, got 'True'"},
	        {"    match: {session: -1}\n",
	         "t.yaml:4:22: session: expected a number, got '-1'"},
	        {"    match: {session: 4294967296}\n",
	         "t.yaml:4:22: session: 4294967296 is out of range (at most "
	         "4294967295)"},
	        {"    match: {from: frontend}\n",
	         "t.yaml:4:19: from: expected front-end or back-end, got "
	         "'frontend'"},
	        {"    match: {channel: slave}\n",
	         "t.yaml:4:22: channel: expected main or backend, got 'slave'"},
	        {"    match: {code: [1, x]}\n",
	         "t.yaml:4:23: code: expected a number, got 'x'"},
	        {"    match: {request: GET_FEATURES, code: 1}\n",
	         "t.yaml:4:36: use either request or code, not both"},
	        {"    match: {socket: [a]}\n",
	         "t.yaml:4:21: socket: expected a string, got a list"},
	        {"    match: [request]\n",
	         "t.yaml:4:12: match: expected a mapping, got a list"},
	        {"    continue: yes\n",
	         "t.yaml:4:15: continue: expected true or false, got 'yes'"},
	        {"    match: {code: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, "
	         "13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, "
	         "28, 29, 30, 31, 32]}\n",
	         "t.yaml:4:19: code: at most 32 in one rule"},
	        {"    match: {request: []}\n",
	         "t.yaml:4:22: request: empty list"},
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		char text[512];
		snprintf(text, sizeof(text),
		         "rules:\n  - name: a\n    action: log\n%s",
		         cases[i].yaml);
		refused(text, cases[i].expect);
	}
}

static void wrong_actions(void **state)
{
	(void)state;
	static const struct {
		const char *yaml, *expect;
	} cases[] = {
	        {"    action: dorp\n",
	         "t.yaml:3:13: unknown action 'dorp' (expected drop, delay, "
	         "rewrite, fail, disconnect, log, snapshot or pass)"},
	        {"    action: delay\n",
	         "t.yaml:3:13: action: delay needs a value, like {delay: "
	         "200ms}"},
	        {"    action: {delay: 200}\n",
	         "t.yaml:3:21: delay: expected a duration like 200ms"},
	        {"    action: {delay: 1.5s}\n",
	         "t.yaml:3:21: delay: expected a duration like 200ms"},
	        {"    action: {delay: 25h}\n",
	         "t.yaml:3:21: delay: expected a duration like 200ms"},
	        {"    action: {delay: 86401s}\n",
	         "t.yaml:3:21: delay: 86401s is longer than 24h"},
	        {"    action: {delay: 99999999999999999999999ns}\n",
	         "t.yaml:3:21: delay: 99999999999999999999999ns is longer "
	         "than 24h"},
	        {"    action: {jitter: 1ms}\n",
	         "t.yaml:3:14: jitter goes with delay"},
	        {"    action: {delay: 1ms, fail: 1}\n",
	         "t.yaml:3:26: one action per rule: delay and fail"},
	        {"    action: {drop: true}\n",
	         "t.yaml:3:14: drop takes no value: write action: drop"},
	        {"    action: {snapshot: x}\n",
	         "t.yaml:3:14: snapshot takes no value: write action: "
	         "snapshot"},
	        {"    action: {snapshot: {nth: 1}}\n",
	         "t.yaml:3:14: snapshot takes no value: write action: "
	         "snapshot"},
	        {"    action: {fail: bad}\n",
	         "t.yaml:3:20: fail: expected a number, got 'bad'"},
	        {"    action: {disconnect: frontend}\n",
	         "t.yaml:3:26: disconnect: expected front-end, back-end or "
	         "both, got 'frontend'"},
	        {"    action: {}\n",
	         "t.yaml:3:13: action: expected drop, delay, rewrite, fail, "
	         "disconnect, log, snapshot or pass"},
	        {"    action: {rewrite: {}}\n",
	         "t.yaml:3:23: rewrite: expected set, set_features or "
	         "clear_features"},
	        {"    action: {rewrite: {set: {num: 0x100000000}}}\n"
	         "    match: {request: SET_VRING_NUM}\n",
	         "t.yaml:3:35: num: 0x100000000 is out of range (at most "
	         "4294967295)"},
	        {"    action: {rewrite: {set: {nofd: 2}}}\n"
	         "    match: {request: SET_VRING_CALL}\n",
	         "t.yaml:3:36: nofd: 2 is out of range (at most 1)"},
	        {"    action: {rewrite: {set_features: [VIRTIO_F_VERSION_1], "
	         "clear_features: VIRTIO_F_VERSION_1}}\n"
	         "    match: {request: SET_FEATURES}\n",
	         "t.yaml:3:60: clear_features: a feature is both set and "
	         "cleared"},
	        {"    action: {rewrite: {clear_features: []}}\n"
	         "    match: {request: SET_FEATURES}\n",
	         "t.yaml:3:40: clear_features: expected feature names, got an "
	         "empty list"},
	        {"    action: fail\n"
	         "    match: {request: GET_FEATURES, reply: true}\n",
	         "t.yaml:3:13: fail answers a request in place of its "
	         "receiver; it cannot apply to replies (reply: true)"},
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		char text[512];
		snprintf(text, sizeof(text), "rules:\n  - name: a\n%s",
		         cases[i].yaml);
		refused(text, cases[i].expect);
	}
}

static void structure_errors(void **state)
{
	(void)state;
	/* Duplicate keys, which libyaml accepts silently. */
	refused("rules:\n"
	        "  - name: a\n"
	        "    action: drop\n"
	        "    action: log\n",
	        "t.yaml:4:5: duplicate key 'action' (first at 3:5)\n"
	        "        action: log\n"
	        "        ^\n");
	refused("rules:\n"
	        "  - name: a\n"
	        "    match: {request: GET_FEATURES, request: SET_FEATURES}\n"
	        "    action: drop\n",
	        "t.yaml:3:36: duplicate key 'request' (first at 3:13)");
	refused("rules: []\nrules: []\n",
	        "t.yaml:2:1: duplicate key 'rules' (first at 1:1)");
	refused("rules:\n"
	        "  - name: same\n"
	        "    action: drop\n"
	        "  - name: same\n"
	        "    action: log\n",
	        "t.yaml:4:11: duplicate rule name 'same' (first at line 2)");
	refused("rules:\n"
	        "  - match: {request: GET_FEATURES}\n"
	        "    action: drop\n",
	        "t.yaml:2:5: rule 1 has no name");
	refused("rules:\n"
	        "  - name: lazy\n"
	        "    match: {request: GET_FEATURES}\n",
	        "t.yaml:2:5: rule lazy has no action");
	refused("rules:\n"
	        "  - name: \"\"\n"
	        "    action: drop\n",
	        "t.yaml:2:11: name: expected a string, got an empty string");
	refused("rules:\n"
	        "  - name: \"a\\tb\"\n"
	        "    action: drop\n",
	        "t.yaml:2:11: name: control characters are not allowed");
	refused("rules:\n"
	        "  - name: \"a\\0b\"\n"
	        "    action: drop\n",
	        "t.yaml:2:11: NUL character in a string");
	/* Aliases are refused, not expanded (no billion laughs). */
	refused("rules:\n"
	        "  - name: a\n"
	        "    match: &m {request: GET_FEATURES}\n"
	        "    action: drop\n"
	        "  - name: b\n"
	        "    match: *m\n"
	        "    action: log\n",
	        "t.yaml:6:12: aliases (*m) are not supported: write the value "
	        "out\n"
	        "        match: *m\n"
	        "               ^\n");
	refused("rules: []\n---\nrules: []\n",
	        "t.yaml:2:1: only one YAML document is allowed");
	refused("", "t.yaml:1:1: empty file: expected a mapping with 'rules:'");
	refused("# nothing\n",
	        "t.yaml:1:1: empty file: expected a mapping with 'rules:'");
	refused("- name: a\n",
	        "t.yaml:1:1: the file: expected a mapping, got a list");
	refused("{}\n", "t.yaml:1:1: no 'rules:' in the file");
	refused("rules:\n", "t.yaml:1:7: rules: expected a list of rules, got "
	                    "nothing");
	refused("rules:\n  - drop\n",
	        "t.yaml:2:5: rule 1: expected a mapping, got a scalar");
	refused("rules:\n  - {[a]: 1, name: a, action: drop}\n",
	        "t.yaml:2:6: rule 1: keys must be plain words, not a list");
	char deep[256] = "rules: ";
	for (int i = 0; i < 40; i++)
		strcat(deep, "[");
	refused(deep, "t.yaml:1:39: nested more than 32 levels deep");
}

/* One run reports every problem, in file order. */
static void all_errors_at_once(void **state)
{
	(void)state;
	refused("rules:\n"
	        "  - name: a\n"
	        "    match: {request: NOPE, fields: {num: 1}}\n"
	        "    when: {first: abc, probability: 2}\n"
	        "    action: drop\n"
	        "    action: log\n"
	        "  - name: a\n"
	        "    action: dorp\n"
	        "    extra: 1\n",
	        "t.yaml:3:22: unknown request 'NOPE'\n");
	assert_int_equal(count(err, "t.yaml:"), 7);
	const char *order[] = {
	        "t.yaml:3:22:", "t.yaml:4:19:", "t.yaml:4:37:", "t.yaml:6:5:",
	        "t.yaml:7:11:", "t.yaml:8:13:", "t.yaml:9:5:"};
	const char *p = err;
	for (size_t i = 0; i < COUNT(order); i++) {
		const char *q = strstr(p, order[i]);
		if (!q)
			fail_msg("%s missing or out of order in\n%s", order[i],
			         err);
		p = q;
	}
}

static void error_buffer_keeps_whole_lines(void **state)
{
	(void)state;
	char small[120];
	struct vup_rules *r = (struct vup_rules *)1;
	const char *text = "rules:\n  - name: a\n    action: dorp\n"
	                   "  - name: b\n    action: dorp\n";
	assert_int_equal(vup_rules_parse("t.yaml", text, strlen(text), &r,
	                                 small, sizeof(small), NULL, 0),
	                 -EINVAL);
	assert_null(r);
	assert_true(strlen(small) > 0 && strlen(small) < sizeof(small));
	assert_int_equal(small[strlen(small) - 1], '\n');
	assert_contains(small, "t.yaml:3:13: unknown action 'dorp'");
	assert_lacks(small, "t.yaml:5:13");
	/* NULL buffers are fine. */
	assert_int_equal(vup_rules_parse("t.yaml", text, strlen(text), &r, NULL,
	                                 0, NULL, 0),
	                 -EINVAL);
}

static void too_many_errors_are_capped(void **state)
{
	(void)state;
	size_t cap = 64 * 1024, len = 0;
	char *text = malloc(cap);
	len += (size_t)snprintf(text + len, cap - len, "rules:\n");
	for (int i = 0; i < 300; i++)
		len += (size_t)snprintf(text + len, cap - len,
		                        "  - {name: r%d, action: dorp}\n", i);
	refused(text, "(200 more not shown)\n");
	assert_int_equal(count(err, "unknown action"), 100);
	free(text);
}

/* ---- what valid files compile to ---- */

static void a_full_rule(void **state)
{
	(void)state;
	struct vup_rules *r =
	        ok("# a comment\n"
	           "rules:\n"
	           "  - name: slow-mem-table\n"
	           "    match:\n"
	           "      request: VHOST_USER_SET_VRING_NUM\n"
	           "      from: front-end\n"
	           "      reply: false\n"
	           "      session: 7\n"
	           "      socket: \"/run/vm*.sock\"\n"
	           "      vring: 1\n"
	           "      fields: {num: {gt: 0x100, lt: 1024}, index: 1}\n"
	           "    when:\n"
	           "      every: 2\n"
	           "      first: 10\n"
	           "      nth: 4\n"
	           "      after: 1\n"
	           "      probability: 0.3\n"
	           "      seed: 0xdeadbeef\n"
	           "      scope: global\n"
	           "    action: {delay: 2s, jitter: 100ms}\n"
	           "    continue: true\n");
	assert_int_equal(r->n, 1);
	assert_string_equal(r->path, "t.yaml");
	const struct vup_rule *x = &r->rules[0];
	assert_string_equal(x->name, "slow-mem-table");
	assert_int_equal(x->line, 3);
	assert_int_equal(x->match.nrequests, 1);
	assert_int_equal(x->match.requests[0].chan, VUP_CHAN_MAIN);
	assert_int_equal(x->match.requests[0].code, 8);
	assert_int_equal(x->match.chan, -1);
	assert_int_equal(x->match.from, VUP_FRONTEND);
	assert_int_equal(x->match.reply, 0);
	assert_int_equal(x->match.session, 7);
	assert_string_equal(x->match.socket_glob, "/run/vm*.sock");
	assert_int_equal(x->match.vring, 1);
	assert_int_equal(x->match.nfields, 3);
	assert_string_equal(x->match.fields[0].name, "num");
	assert_int_equal(x->match.fields[0].op, VUP_CMP_LT);
	assert_int_equal(x->match.fields[0].value, 1024);
	assert_int_equal(x->match.fields[1].op, VUP_CMP_GT);
	assert_int_equal(x->match.fields[1].value, 0x100);
	assert_string_equal(x->match.fields[2].name, "index");
	assert_int_equal(x->match.fields[2].op, VUP_CMP_EQ);
	assert_int_equal(x->when.every, 2);
	assert_int_equal(x->when.first, 10);
	assert_int_equal(x->when.nth, 4);
	assert_int_equal(x->when.after, 1);
	assert_int_equal(x->when.probability_ppm, 300000);
	assert_int_equal(x->when.seed, 0xdeadbeef);
	assert_true(x->when.global);
	assert_int_equal(x->action, VUP_RULE_ACT_DELAY);
	assert_int_equal(x->delay_ns, 2000000000ull);
	assert_int_equal(x->jitter_ns, 100000000ull);
	assert_true(x->cont);
	assert_string_equal(warn, "");
	vup_rules_free(r);
}

static void defaults_and_empty(void **state)
{
	(void)state;
	struct vup_rules *r = ok("rules: []\n");
	assert_int_equal(r->n, 0);
	vup_rules_free(r);
	r = ok("rules:\n  - name: everything\n    action: log\n");
	const struct vup_rule *x = &r->rules[0];
	assert_int_equal(x->match.nrequests, 0);
	assert_int_equal(x->match.chan, -1);
	assert_int_equal(x->match.from, -1);
	assert_int_equal(x->match.reply, -1);
	assert_int_equal(x->match.session, -1);
	assert_null(x->match.socket_glob);
	assert_int_equal(x->match.vring, -1);
	assert_int_equal(x->when.probability_ppm, 1000000);
	assert_false(x->when.global);
	assert_false(x->cont);
	assert_int_equal(x->action, VUP_RULE_ACT_LOG);
	vup_rules_free(r);
}

static void request_names(void **state)
{
	(void)state;
	struct vup_rules *r =
	        ok("rules:\n"
	           "  - name: a\n"
	           "    match:\n"
	           "      request: [get_features, VHOST_USER_SET_OWNER,\n"
	           "                SET_SLAVE_REQ_FD, SLAVE_IOTLB_MSG,\n"
	           "                BACKEND_SHMEM_UNMAP]\n"
	           "    action: log\n"
	           "  - name: b\n"
	           "    match: {code: 99, channel: backend}\n"
	           "    action: log\n"
	           "  - name: c\n"
	           "    match: {code: [0x1, 200]}\n"
	           "    action: log\n"
	           "  - name: d\n"
	           "    match: {channel: backend}\n"
	           "    action: log\n");
	const struct vup_rule_match *m = &r->rules[0].match;
	assert_int_equal(m->nrequests, 5);
	const unsigned chans[] = {0, 0, 0, 1, 1}, codes[] = {1, 3, 21, 1, 10};
	for (int i = 0; i < 5; i++) {
		assert_int_equal(m->requests[i].chan, chans[i]);
		assert_int_equal(m->requests[i].code, codes[i]);
	}
	m = &r->rules[1].match;
	assert_int_equal(m->nrequests, 1);
	assert_int_equal(m->requests[0].chan, VUP_CHAN_BACKEND);
	assert_int_equal(m->requests[0].code, 99);
	m = &r->rules[2].match;
	assert_int_equal(m->nrequests, 2);
	assert_int_equal(m->requests[0].chan, VUP_CHAN_MAIN);
	assert_int_equal(m->requests[0].code, 1);
	assert_int_equal(m->requests[1].code, 200);
	m = &r->rules[3].match;
	assert_int_equal(m->nrequests, 0);
	assert_int_equal(m->chan, VUP_CHAN_BACKEND);
	vup_rules_free(r);
}

static void probabilities(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		uint32_t ppm;
	} cases[] = {
	        {"0", 0},           {"1", 1000000},
	        {"1.0", 1000000},   {"0.5", 500000},
	        {".25", 250000},    {"0.000001", 1},
	        {"0.0000005", 1},   {"0.0000004", 0},
	        {"0.3", 300000},    {"0.99999999", 1000000},
	        {"00.125", 125000},
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		char text[256];
		snprintf(text, sizeof(text),
		         "rules:\n  - name: a\n    when: {probability: %s}\n"
		         "    action: log\n",
		         cases[i].text);
		struct vup_rules *r = ok(text);
		if (r->rules[0].when.probability_ppm != cases[i].ppm)
			fail_msg("%s: %u ppm, expected %u", cases[i].text,
			         r->rules[0].when.probability_ppm,
			         cases[i].ppm);
		vup_rules_free(r);
	}
}

static void actions(void **state)
{
	(void)state;
	struct vup_rules *r = ok(
	        "rules:\n"
	        "  - {name: a, action: drop}\n"
	        "  - {name: b, action: fail}\n"
	        "  - {name: c, action: {fail: 0x16}}\n"
	        "  - {name: d, action: {disconnect: front-end}}\n"
	        "  - {name: e, action: {disconnect: back-end}}\n"
	        "  - {name: f, action: {disconnect: both}}\n"
	        "  - {name: g, action: disconnect}\n"
	        "  - {name: h, action: pass}\n"
	        "  - {name: i, action: {delay: 7ns}}\n"
	        "  - {name: j, action: {delay: 7us}}\n"
	        "  - {name: k, action: {delay: 0ms}}\n"
	        "  - name: l\n"
	        "    match: {request: [GET_FEATURES, GET_PROTOCOL_FEATURES]}\n"
	        "    action:\n"
	        "      rewrite:\n"
	        "        set_features: [VIRTIO_F_VERSION_1, REPLY_ACK]\n"
	        "        clear_features: [VIRTIO_F_RING_PACKED, "
	        "VHOST_USER_PROTOCOL_F_MQ]\n"
	        "  - name: m\n"
	        "    match: {request: SET_VRING_ADDR}\n"
	        "    action: {rewrite: {set: {flags: 1, log: 0x1000}}}\n"
	        "  - {name: n, action: snapshot, when: {nth: 1}}\n");
	const struct vup_rule *x = r->rules;
	assert_int_equal(x[0].action, VUP_RULE_ACT_DROP);
	assert_int_equal(x[1].action, VUP_RULE_ACT_FAIL);
	assert_false(x[1].fail_has_value);
	assert_int_equal(x[1].fail_value, 1);
	assert_true(x[2].fail_has_value);
	assert_int_equal(x[2].fail_value, 0x16);
	assert_int_equal(x[3].disconnect, 1);
	assert_int_equal(x[4].disconnect, 2);
	assert_int_equal(x[5].disconnect, 3);
	assert_int_equal(x[6].action, VUP_RULE_ACT_DISCONNECT);
	assert_int_equal(x[6].disconnect, 3);
	assert_int_equal(x[7].action, VUP_RULE_ACT_PASS);
	assert_int_equal(x[8].delay_ns, 7);
	assert_int_equal(x[9].delay_ns, 7000);
	assert_int_equal(x[10].delay_ns, 0);
	assert_int_equal(x[11].action, VUP_RULE_ACT_REWRITE);
	assert_int_equal(x[11].nrewrites, 2);
	assert_null(x[11].rewrites[0].field);
	assert_false(x[11].rewrites[0].protocol);
	assert_int_equal(x[11].rewrites[0].set_features, 1ull << 32);
	assert_int_equal(x[11].rewrites[0].clear_features, 1ull << 34);
	assert_true(x[11].rewrites[1].protocol);
	assert_int_equal(x[11].rewrites[1].set_features, 1ull << 3);
	assert_int_equal(x[11].rewrites[1].clear_features, 1ull << 0);
	assert_int_equal(x[12].nrewrites, 2);
	assert_string_equal(x[12].rewrites[0].field, "flags");
	assert_int_equal(x[12].rewrites[0].value, 1);
	assert_string_equal(x[12].rewrites[1].field, "log");
	assert_int_equal(x[12].rewrites[1].value, 0x1000);
	assert_int_equal(x[13].action, VUP_RULE_ACT_SNAPSHOT);
	assert_int_equal(x[13].when.nth, 1);
	assert_string_equal(vup_rules_action_name(x[13].action), "snapshot");
	vup_rules_free(r);
}

/* A snapshot rule, like log, never hides a later rule; a drop there
 * would. */
static void snapshot_never_shadows(void **state)
{
	(void)state;
	static const char *const text =
	        "rules:\n"
	        "  - {name: s, action: %s, match: {request: SET_OWNER}}\n"
	        "  - {name: t, action: drop, match: {request: SET_OWNER}}\n";
	char buf[256];
	snprintf(buf, sizeof(buf), text, "snapshot");
	struct vup_rules *r = ok(buf);
	assert_lacks(warn, "never applies");
	vup_rules_free(r);
	snprintf(buf, sizeof(buf), text, "pass");
	r = ok(buf);
	assert_contains(warn, "t.yaml:3:5: rule 't' never applies: rule 's'");
	vup_rules_free(r);
}

/* Every load is a new generation (sessions reset their counters). */
static void generations_differ(void **state)
{
	(void)state;
	struct vup_rules *a = ok("rules: []\n"), *b = ok("rules: []\n");
	assert_int_not_equal(a->generation, b->generation);
	vup_rules_free(a);
	vup_rules_free(b);
}

/* ---- warnings ---- */

static void warnings(void **state)
{
	(void)state;
	struct vup_rules *r = ok(
	        "rules:\n"
	        "  - name: drop-features\n"                           /* 2 */
	        "    match: {request: GET_FEATURES, reply: false}\n"  /* 3 */
	        "    action: drop\n"                                  /* 4 */
	        "  - name: drop-num\n"                                /* 5 */
	        "    match: {request: SET_VRING_NUM}\n"               /* 6 */
	        "    action: drop\n"                                  /* 7 */
	        "  - name: fail-features\n"                           /* 8 */
	        "    match: {request: GET_VRING_BASE}\n"              /* 9 */
	        "    action: {fail: 1}\n"                             /* 10 */
	        "  - name: fail-config\n"                             /* 11 */
	        "    match: {request: [GET_CONFIG, SET_MEM_TABLE]}\n" /* 12 */
	        "    action: fail\n"                                  /* 13 */
	        "  - name: all-front\n"                               /* 14 */
	        "    match: {from: front-end}\n"                      /* 15 */
	        "    action: {delay: 1ms}\n"                          /* 16 */
	        "  - name: hidden\n"                                  /* 17 */
	        "    match: {request: SET_OWNER, from: front-end}\n"  /* 18 */
	        "    action: log\n"                                   /* 19 */
	        "  - name: seedless\n"                                /* 20 */
	        "    when: {seed: 5}\n"                               /* 21 */
	        "    action: {delay: 1ms, jitter: 2ms}\n");           /* 22 */
	assert_contains(warn,
	                "t.yaml:4:13: rule 'drop-features' drops GET_FEATURES, "
	                "which always gets a reply: the sender will wait for "
	                "it forever (fail would answer instead, with a zeroed "
	                "reply the sender takes as real: there is no error "
	                "form)\n"
	                "        action: drop\n"
	                "                ^\n");
	assert_contains(warn, "t.yaml:7:13: rule 'drop-num' drops "
	                      "SET_VRING_NUM: a sender that set NEED_REPLY "
	                      "(REPLY_ACK) will wait for the ack forever");
	assert_contains(warn, "t.yaml:10:13: rule 'fail-features' fails "
	                      "GET_VRING_BASE, whose reply has no error form");
	assert_lacks(warn, "fail-config");
	assert_contains(warn, "t.yaml:17:5: rule 'hidden' never applies: rule "
	                      "'all-front' (line 14) takes every message it "
	                      "matches first");
	assert_contains(warn, "t.yaml:22:13: rule 'seedless': jitter is larger "
	                      "than the delay");
	assert_lacks(warn, "seed has no effect");
	assert_int_equal(count(warn, "t.yaml:"), 5);
	vup_rules_free(r);

	/* No shadowing through a rule that has conditions, or continues. */
	r = ok("rules:\n"
	       "  - {name: a, action: log}\n"
	       "  - {name: b, action: drop, when: {first: 1}}\n"
	       "  - {name: c, action: drop, match: {reply: true}, "
	       "continue: true}\n"
	       "  - {name: d, action: pass, match: {fields: {num: 1}}}\n"
	       "  - {name: e, action: pass, match: {request: SET_VRING_NUM}}\n"
	       "  - {name: f, action: {delay: 1s}, when: {every: 2}, match: "
	       "{request: [SET_VRING_NUM, SET_OWNER]}}\n"
	       "  - {name: g, action: {delay: 1s}, match: {request: SET_OWNER, "
	       "from: back-end}}\n"
	       "  - {name: h, when: {seed: 3}, action: {delay: 1s}, match: "
	       "{request: SET_OWNER}}\n");
	assert_lacks(warn, "never applies");
	assert_contains(warn, "rule 'c' drops replies");
	assert_contains(warn, "t.yaml:9:21: rule 'h': seed has no effect");
	vup_rules_free(r);

	r = ok("rules:\n"
	       "  - {name: a, action: pass, match: {request: [SET_OWNER, "
	       "SET_VRING_NUM]}}\n"
	       "  - {name: b, action: drop, match: {request: SET_VRING_NUM, "
	       "vring: 1}}\n"
	       "  - {name: c, action: fail, match: {channel: backend}}\n"
	       "  - {name: d, action: log, match: {request: SLAVE_IOTLB_MSG, "
	       "reply: false}}\n");
	assert_contains(warn, "t.yaml:3:5: rule 'b' never applies: rule 'a'");
	assert_contains(warn, "t.yaml:5:5: rule 'd' never applies: rule 'c'");
	assert_lacks(warn, "rule 'c' fails"); /* backend replies are acks */
	vup_rules_free(r);
}

/* Large files: names are checked through a hash, and the "never
 * applies" check (quadratic) stops with a warning after 2M pairs, so that
 * a 1 MiB file loads fast enough for a reload on the relay's thread. */
static void large_files(void **state)
{
	(void)state;
	enum { N = 3000 };
	size_t cap = 80 * (size_t)N + 64, len = 0;
	char *text = malloc(cap);
	assert_non_null(text);
	len += (size_t)snprintf(text, cap, "rules:\n");
	for (unsigned i = 0; i < N; i++)
		len += (size_t)snprintf(text + len, cap - len,
		                        "  - {name: r%u, match: {session: %u}, "
		                        "action: {delay: 1ms}}\n",
		                        i, i);
	struct vup_rules *r = ok(text);
	assert_int_equal(r->n, N);
	/* Rule i is compared with the i final rules before it: with rule
	 * 2000 (line 2002) the pairs would reach 2000 * 2001 / 2. */
	assert_contains(warn, "t.yaml:2002:5: rule 'r2000' and those after "
	                      "it were not checked for rules that never "
	                      "apply (more than 2000000 pairs of rules)");
	assert_int_equal(count(warn, "not checked"), 1);
	vup_rules_free(r);
	/* The last name repeats one near the start. */
	len += (size_t)snprintf(text + len, cap - len,
	                        "  - {name: r7, action: log}\n");
	refused(text, "t.yaml:3002:12: duplicate rule name 'r7' (first at "
	              "line 9)");
	free(text);
}

/* ---- files ---- */

static void load_files(void **state)
{
	(void)state;
	char path[] = "/tmp/vup-rules-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "rules:\n  - name: a\n    action: dorp\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	struct vup_rules *r = (struct vup_rules *)1;
	assert_int_equal(
	        vup_rules_load(path, &r, err, sizeof(err), warn, sizeof(warn)),
	        -EINVAL);
	assert_null(r);
	char expect[128];
	snprintf(expect, sizeof(expect), "%s:3:13: unknown action 'dorp'",
	         path);
	assert_contains(err, expect);

	FILE *f = fopen(path, "w");
	fputs("rules:\n  - {name: a, action: log}\n", f);
	fclose(f);
	assert_int_equal(
	        vup_rules_load(path, &r, err, sizeof(err), warn, sizeof(warn)),
	        0);
	assert_string_equal(r->path, path);
	assert_int_equal(r->n, 1);
	vup_rules_free(r);
	unlink(path);

	assert_int_equal(
	        vup_rules_load(path, &r, err, sizeof(err), warn, sizeof(warn)),
	        -ENOENT);
	assert_null(r);
	snprintf(expect, sizeof(expect), "%s: No such file or directory", path);
	assert_contains(err, expect);
	assert_int_equal(vup_rules_load("/tmp", &r, err, sizeof(err), NULL, 0),
	                 -EISDIR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(error_shows_line_and_caret),
	        cmocka_unit_test(yaml_syntax_errors),
	        cmocka_unit_test(unknown_keys),
	        cmocka_unit_test(unknown_names),
	        cmocka_unit_test(wrong_types),
	        cmocka_unit_test(wrong_actions),
	        cmocka_unit_test(structure_errors),
	        cmocka_unit_test(all_errors_at_once),
	        cmocka_unit_test(error_buffer_keeps_whole_lines),
	        cmocka_unit_test(too_many_errors_are_capped),
	        cmocka_unit_test(a_full_rule),
	        cmocka_unit_test(defaults_and_empty),
	        cmocka_unit_test(request_names),
	        cmocka_unit_test(probabilities),
	        cmocka_unit_test(actions),
	        cmocka_unit_test(snapshot_never_shadows),
	        cmocka_unit_test(generations_differ),
	        cmocka_unit_test(warnings),
	        cmocka_unit_test(large_files),
	        cmocka_unit_test(load_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
