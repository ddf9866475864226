/* Unit tests for the `data:` list of a rules file: every key and what it
 * compiles to, every error with its exact file:line:col, the warnings,
 * and the file-level rules (data alone, with rules, shared names). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "../unit/unit.h"
#include "rules/internal.h" /* what a rule set holds */
#include "rules_load.h"     /* parse, ok, refused; err and warn */
#include "vuproxy/rules.h"

/* ---- what valid rules compile to ---- */

static void the_issue_examples(void **state)
{
	(void)state;
	struct vup_rules *r = ok(
	        "data:\n"
	        "  - {name: loss, match: {device: net, queue: tx}, when: "
	        "{probability: 0.2, seed: 7}, action: drop}\n"
	        "  - {name: wan, match: {device: net}, action: {delay: 50ms, "
	        "jitter: 5ms}}\n"
	        "  - {name: eio, match: {device: blk, op: read}, when: {every: "
	        "10}, action: {fail: ioerr}}\n");
	assert_string_equal(warn, "");
	assert_int_equal(vup_rules_count(r), 0);
	assert_int_equal(vup_rules_data_count(r), 3);
	const struct vup_data_rule *d = r->data;
	assert_string_equal(d[0].name, "loss");
	assert_int_equal(d[0].line, 2);
	assert_int_equal(d[0].devices, VUP_DATA_DEV_NET);
	assert_int_equal(d[0].queue, VUP_DQ_TX);
	assert_int_equal(d[0].when.probability_ppm, 200000);
	assert_int_equal(d[0].when.seed, 7);
	assert_int_equal(d[0].action, VUP_DATA_ACT_DROP);
	assert_int_equal(d[0].name_hash, vup__rules_name_hash("loss"));
	assert_int_equal(d[1].action, VUP_DATA_ACT_DELAY);
	assert_int_equal(d[1].delay_ns, 50000000);
	assert_int_equal(d[1].jitter_ns, 5000000);
	assert_int_equal(d[1].limit, 0);
	assert_int_equal(d[1].queue, VUP_DQ_ANY);
	assert_int_equal(d[2].devices, VUP_DATA_DEV_BLK);
	assert_false(d[2].any_op);
	assert_int_equal(d[2].ops, 1u << VUP_BLK_T_IN);
	assert_int_equal(d[2].when.every, 10);
	assert_int_equal(d[2].action, VUP_DATA_ACT_FAIL);
	assert_int_equal(d[2].blk_status, VUP_BLK_S_IOERR);
	vup_rules_free(r);
}

static void every_key(void **state)
{
	(void)state;
	struct vup_rules *r = ok(
	        "rules:\n"
	        "  - {name: c, match: {request: GET_FEATURES}, action: log}\n"
	        "data:\n"
	        "  - name: net-all\n"
	        "    match: {device: net, queue: 3, session: 2, size: [64, "
	        "1514]}\n"
	        "    when: {after: 5, first: 9, seed: 0x10, probability: 1}\n"
	        "    action: {delay: 10us, jitter: 2us, limit: 100}\n"
	        "  - name: dup\n"
	        "    match: {device: net, queue: rx}\n"
	        "    when: {nth: 2}\n"
	        "    action: duplicate\n"
	        "  - {name: c1, match: {device: net}, action: corrupt}\n"
	        "  - {name: c2, match: {device: net}, action: {corrupt: "
	        "{offset: 14, bytes: 4}}}\n"
	        "  - {name: c3, match: {device: net}, action: {corrupt: "
	        "{offset: random, bytes: 2}}}\n"
	        "  - name: blk-all\n"
	        "    match: {device: blk, queue: 0, op: [write, flush, "
	        "discard, "
	        "write_zeroes, get_id], sectors: [0, 0xffffffffffffffff]}\n"
	        "    action: {fail: unsupp}\n"
	        "  - {name: r1, match: {device: blk, op: any}, action: "
	        "corrupt_read}\n"
	        "  - {name: r2, match: {device: blk}, action: {corrupt_read: "
	        "{offset: 512}}}\n"
	        "  - {name: both, action: {delay: 1s}}\n"
	        "  - {name: exempt, match: {session: 7}, action: pass}\n");
	assert_int_equal(vup_rules_count(r), 1);
	assert_int_equal(vup_rules_data_count(r), 10);
	const struct vup_data_rule *d = r->data;
	assert_int_equal(d[0].queue, VUP_DQ_INDEX);
	assert_int_equal(d[0].vring, 3);
	assert_int_equal(d[0].session, 2);
	assert_true(d[0].has_size);
	assert_int_equal(d[0].size_min, 64);
	assert_int_equal(d[0].size_max, 1514);
	assert_int_equal(d[0].when.after, 5);
	assert_int_equal(d[0].when.first, 9);
	assert_int_equal(d[0].when.seed, 16);
	assert_int_equal(d[0].delay_ns, 10000);
	assert_int_equal(d[0].jitter_ns, 2000);
	assert_int_equal(d[0].limit, 100);
	assert_int_equal(d[1].queue, VUP_DQ_RX);
	assert_int_equal(d[1].when.nth, 2);
	assert_int_equal(d[1].action, VUP_DATA_ACT_DUPLICATE);
	/* corrupt alone: one byte anywhere */
	assert_int_equal(d[2].action, VUP_DATA_ACT_CORRUPT);
	assert_true(d[2].offset_random);
	assert_int_equal(d[2].bytes, 1);
	assert_false(d[3].offset_random);
	assert_int_equal(d[3].offset, 14);
	assert_int_equal(d[3].bytes, 4);
	assert_true(d[4].offset_random);
	assert_int_equal(d[4].bytes, 2);
	assert_int_equal(d[5].queue, VUP_DQ_INDEX);
	assert_int_equal(d[5].vring, 0);
	assert_int_equal(d[5].ops, (1u << 1) | (1u << 4) | (1u << 11) |
	                                   (1u << 13) | (1u << 8));
	assert_true(d[5].has_sectors);
	assert_int_equal(d[5].sector_first, 0);
	assert_int_equal(d[5].sector_last, UINT64_MAX);
	assert_int_equal(d[5].blk_status, VUP_BLK_S_UNSUPP);
	assert_true(d[6].any_op);
	assert_int_equal(d[6].action, VUP_DATA_ACT_CORRUPT_READ);
	assert_false(d[7].offset_random);
	assert_int_equal(d[7].offset, 512);
	assert_int_equal(d[7].bytes, 1);
	/* no device: both */
	assert_int_equal(d[8].devices, VUP_DATA_DEV_NET | VUP_DATA_DEV_BLK);
	assert_int_equal(d[8].session, -1);
	assert_int_equal(d[9].action, VUP_DATA_ACT_PASS);
	assert_int_equal(d[9].session, 7);
	vup_rules_free(r);
	for (int a = 0; a < VUP_DATA_ACT_COUNT; a++)
		assert_string_not_equal(vup_data_action_name(a), "unknown");
	assert_string_equal(vup_data_action_name(VUP_DATA_ACT_COUNT),
	                    "unknown");
}

static void file_level(void **state)
{
	(void)state;
	struct vup_rules *r = ok("data: []\n");
	assert_int_equal(vup_rules_data_count(r), 0);
	vup_rules_free(r);
	r = ok("rules: []\ndata: []\n");
	vup_rules_free(r);
	assert_int_equal(vup_rules_data_count(NULL), 0);
	refused("datta: []\n", "t.yaml:1:1: unknown key 'datta' in the file "
	                       "(expected rules) or data (data-plane rules)");
	refused("data:\n", "t.yaml:1:6: data: expected a list of data rules, "
	                   "got nothing");
	refused("data: {a: 1}\n", "t.yaml:1:7: data: expected a list of data "
	                          "rules, got a mapping");
	refused("data:\n  - drop\n",
	        "t.yaml:2:5: data rule 1: expected a mapping, got a scalar");
	refused("data:\n  - {action: drop, match: {device: net}}\n",
	        "t.yaml:2:5: data rule 1 has no name");
	refused("data:\n  - {name: x}\n", "t.yaml:2:5: data rule x has no "
	                                  "action");
	/* names are shared with rules: (both name decisions in the trace) */
	refused("rules:\n  - {name: a, action: log}\ndata:\n"
	        "  - {name: a, match: {device: net}, action: drop}\n",
	        "t.yaml:4:12: duplicate rule name 'a' (first at line 2)");
	refused("data:\n  - {name: a, action: pass}\n  - {name: a, action: "
	        "pass}\n",
	        "t.yaml:3:12: duplicate rule name 'a' (first at line 2)");
	/* no continue: the first data rule that fires decides */
	refused("data:\n  - {name: a, action: pass, continue: true}\n",
	        "t.yaml:2:29: unknown key 'continue' in data rule 1 "
	        "(expected name, match, when, action)");
	/* the control rules' errors are reported beside */
	refused("rules:\n  - {name: a, action: dorp}\ndata:\n"
	        "  - {name: b, action: dorp}\n",
	        "t.yaml:2:23: unknown action 'dorp'");
	assert_contains(err, "t.yaml:4:23: unknown data action 'dorp' "
	                     "(expected drop, delay, duplicate, corrupt, "
	                     "fail, corrupt_read or pass)");
}

/* ---- errors, each at its line:col ---- */

static void match_errors(void **state)
{
	(void)state;
	refused("data:\n  - {name: a, match: {device: disk}, action: pass}\n",
	        "t.yaml:2:31: device: expected net or blk, got 'disk'");
	refused("data:\n  - {name: a, match: {dev: net}, action: pass}\n",
	        "t.yaml:2:23: unknown key 'dev' in match (expected device, "
	        "queue, session, op, sectors, size)");
	refused("data:\n  - {name: a, match: {device: net, queue: rq}, "
	        "action: pass}\n",
	        "t.yaml:2:43: queue: expected rx, tx or a vring index, got "
	        "'rq'");
	refused("data:\n  - {name: a, match: {device: net, queue: 70000}, "
	        "action: pass}\n",
	        "t.yaml:2:43: queue: 70000 is out of range (at most 65535)");
	refused("data:\n  - {name: a, match: {device: blk, queue: rx}, "
	        "action: pass}\n",
	        "t.yaml:2:43: queue rx: net only; this rule matches device: "
	        "blk");
	refused("data:\n  - {name: a, match: {queue: tx}, action: pass}\n",
	        "t.yaml:2:30: queue tx: net only: add device: net");
	refused("data:\n  - {name: a, match: {device: net, op: read}, action: "
	        "pass}\n",
	        "t.yaml:2:36: op: blk only; this rule matches device: net");
	refused("data:\n  - {name: a, match: {op: read}, action: pass}\n",
	        "t.yaml:2:23: op: blk only: add device: blk");
	refused("data:\n  - {name: a, match: {device: blk, op: trim}, action: "
	        "pass}\n",
	        "t.yaml:2:40: op: expected read, write, flush, discard, "
	        "write_zeroes, get_id or any, got 'trim'");
	refused("data:\n  - {name: a, match: {device: blk, op: []}, action: "
	        "pass}\n",
	        "t.yaml:2:40: op: expected a request type or a list of them");
	refused("data:\n  - {name: a, match: {device: net, sectors: [1, 2]}, "
	        "action: pass}\n",
	        "t.yaml:2:36: sectors: blk only; this rule matches device: "
	        "net");
	refused("data:\n  - {name: a, match: {device: blk, sectors: [9, 2]}, "
	        "action: pass}\n",
	        "t.yaml:2:45: sectors: [9, 2] is empty (first > last)");
	refused("data:\n  - {name: a, match: {device: blk, sectors: 5}, "
	        "action: pass}\n",
	        "t.yaml:2:45: sectors: expected [first, last], got a scalar");
	refused("data:\n  - {name: a, match: {device: blk, sectors: [1, 2, "
	        "3]}, action: pass}\n",
	        "t.yaml:2:45: sectors: expected [first, last], got a list of "
	        "another length");
	refused("data:\n  - {name: a, match: {device: blk, size: [1, 2]}, "
	        "action: pass}\n",
	        "t.yaml:2:36: size: net only; this rule matches device: blk");
	refused("data:\n  - {name: a, match: {device: net, size: [1, "
	        "0x100000000]}, action: pass}\n",
	        "t.yaml:2:46: size: 0x100000000 is out of range (at most "
	        "4294967295)");
	refused("data:\n  - {name: a, match: {session: -1}, action: pass}\n",
	        "t.yaml:2:32: session: expected a number");
}

static void action_errors(void **state)
{
	(void)state;
	/* an action that does not fit the device */
	refused("data:\n  - {name: a, match: {device: net}, action: {fail: "
	        "ioerr}}\n",
	        "t.yaml:2:46: fail applies to blk only; this rule matches "
	        "device: net");
	refused("data:\n  - {name: a, match: {device: blk}, action: "
	        "duplicate}\n",
	        "t.yaml:2:45: duplicate applies to net only; this rule "
	        "matches device: blk");
	refused("data:\n  - {name: a, match: {device: blk}, action: drop}\n",
	        "t.yaml:2:45: drop applies to net only; this rule matches "
	        "device: blk");
	refused("data:\n  - {name: a, match: {device: blk}, action: corrupt}\n",
	        "t.yaml:2:45: corrupt applies to net only");
	refused("data:\n  - {name: a, match: {device: net}, action: "
	        "corrupt_read}\n",
	        "t.yaml:2:45: corrupt_read applies to blk only");
	/* no device: only what fits both */
	refused("data:\n  - {name: a, action: drop}\n",
	        "t.yaml:2:23: drop applies to net only: add device: net to "
	        "the match");
	refused("data:\n  - {name: a, action: {fail: ioerr}}\n",
	        "t.yaml:2:24: fail applies to blk only: add device: blk to "
	        "the match");
	refused("data:\n  - {name: a, action: {delay: 1ms, limit: 5}}\n",
	        "t.yaml:2:36: limit: net only (frames held in copies): add "
	        "device: net");
	refused("data:\n  - {name: a, match: {device: blk}, action: {delay: "
	        "1ms, limit: 5}}\n",
	        "t.yaml:2:58: limit: net only (frames held in copies)");
	/* values */
	refused("data:\n  - {name: a, match: {device: blk}, action: {fail: "
	        "eio}}\n",
	        "t.yaml:2:52: fail: expected ioerr or unsupp, got 'eio'");
	refused("data:\n  - {name: a, match: {device: blk}, action: fail}\n",
	        "t.yaml:2:45: action: fail needs a value, like {fail: ioerr}");
	refused("data:\n  - {name: a, action: delay}\n",
	        "t.yaml:2:23: action: delay needs a value, like {delay: "
	        "50ms}");
	refused("data:\n  - {name: a, action: {delay: 5 ms}}\n",
	        "t.yaml:2:31: delay: expected a duration like 200ms");
	refused("data:\n  - {name: a, action: {delay: 86401s}}\n",
	        "t.yaml:2:31: delay: 86401s is longer than 24h");
	refused("data:\n  - {name: a, match: {device: net}, action: {delay: "
	        "1ms, limit: 0}}\n",
	        "t.yaml:2:65: limit: must be at least 1");
	refused("data:\n  - {name: a, match: {device: net}, action: {delay: "
	        "1ms, limit: 65537}}\n",
	        "t.yaml:2:65: limit: 65537 is out of range (at most 65536)");
	refused("data:\n  - {name: a, match: {device: net}, action: {drop: "
	        "1}}\n",
	        "t.yaml:2:46: drop takes no value: write action: drop");
	refused("data:\n  - {name: a, match: {device: net}, action: {drop, "
	        "delay: 1ms}}\n",
	        "t.yaml:2:52: one action per rule: drop and delay");
	refused("data:\n  - {name: a, match: {device: net}, action: "
	        "{duplicate, jitter: 1ms}}\n",
	        "t.yaml:2:57: jitter goes with delay");
	refused("data:\n  - {name: a, match: {device: net}, action: {jitter: "
	        "1ms}}\n",
	        "t.yaml:2:45: action: expected drop, delay, duplicate, "
	        "corrupt, fail, corrupt_read or pass");
	refused("data:\n  - {name: a, match: {device: net}, action: {corrupt: "
	        "{offset: here}}}\n",
	        "t.yaml:2:64: offset: expected a byte offset or random, got "
	        "'here'");
	refused("data:\n  - {name: a, match: {device: net}, action: {corrupt: "
	        "{bytes: 0}}}\n",
	        "t.yaml:2:63: bytes: must be at least 1");
	refused("data:\n  - {name: a, match: {device: net}, action: {corrupt: "
	        "{bytes: 65537}}}\n",
	        "t.yaml:2:63: bytes: 65537 is out of range (at most 65536)");
	refused("data:\n  - {name: a, match: {device: net}, action: {corrupt: "
	        "{at: 1}}}\n",
	        "t.yaml:2:56: unknown key 'at' in corrupt (expected offset, "
	        "bytes)");
	refused("data:\n  - {name: a, match: {device: blk}, action: "
	        "{corrupt_read: 3}}\n",
	        "t.yaml:2:60: corrupt_read: expected a mapping, got a scalar");
}

static void when_errors(void **state)
{
	(void)state;
	refused("data:\n  - {name: a, when: {scope: global}, action: pass}\n",
	        "t.yaml:2:29: scope: data rules count per session and vring; "
	        "global is not supported");
	refused("data:\n  - {name: a, when: {every: 0}, action: pass}\n",
	        "t.yaml:2:29: every: must be at least 1");
	refused("data:\n  - {name: a, when: {probability: 2}, action: pass}\n",
	        "t.yaml:2:35: probability: 2 is not between 0 and 1");
	refused("data:\n  - {name: a, when: {evry: 2}, action: pass}\n",
	        "t.yaml:2:22: unknown key 'evry' in when");
}

/* ---- warnings ---- */

static void warnings(void **state)
{
	(void)state;
	struct vup_rules *r = ok(
	        "data:\n"
	        "  - {name: never, match: {device: net}, when: {probability: "
	        "0}, action: drop}\n"
	        "  - {name: seedless, match: {device: net}, when: {seed: 3}, "
	        "action: drop}\n"
	        "  - {name: flushes, match: {device: blk, op: [flush, get_id], "
	        "sectors: [0, 7]}, action: {fail: ioerr}}\n"
	        "  - {name: all-reads, match: {device: blk, op: read}, action: "
	        "{fail: ioerr}}\n"
	        "  - {name: some-reads, match: {device: blk, op: read, "
	        "sectors: [8, 15]}, action: {fail: unsupp}}\n"
	        "  - {name: some-writes, match: {device: blk, op: write, "
	        "sectors: [8, 15]}, action: {fail: unsupp}}\n"
	        "  - {name: wide, action: {delay: 1ms, jitter: 2ms}}\n");
	assert_contains(warn, "t.yaml:2:47: data rule 'never': probability 0 "
	                      "never fires");
	assert_contains(warn, "t.yaml:3:50: data rule 'seedless': seed has no "
	                      "effect without probability, jitter or corrupt");
	assert_contains(warn, "t.yaml:8:26: data rule 'wide': jitter is larger "
	                      "than the delay; delays below 0 become 0");
	assert_contains(warn, "t.yaml:4:5: data rule 'flushes' never applies: "
	                      "flush and get_id requests have no sectors");
	assert_contains(warn, "t.yaml:6:5: data rule 'some-reads' never "
	                      "applies: data rule 'all-reads' (line 5) takes "
	                      "every request it matches first");
	assert_lacks(warn, "'some-writes' never");
	vup_rules_free(r);
	/* `rules check` output: the example file, valid without warnings */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(the_issue_examples),
	        cmocka_unit_test(every_key),
	        cmocka_unit_test(file_level),
	        cmocka_unit_test(match_errors),
	        cmocka_unit_test(action_errors),
	        cmocka_unit_test(when_errors),
	        cmocka_unit_test(warnings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
