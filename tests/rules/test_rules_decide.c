/* Unit tests for src/rules/decide.c: every match key, the counters of
 * `when` (nth, first, every, after, scope), seeded probability and
 * jitter, every action, continue, log, snapshot, and the reset of counters
 * when the rule set changes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "../unit/unit.h"
#include "rules/internal.h" /* what a rule set holds */
#include "vuproxy/rules.h"

static struct vup_rules *load(const char *text)
{
	char err[8192];
	struct vup_rules *r = NULL;
	if (vup_rules_parse("t.yaml", text, strlen(text), &r, err, sizeof(err),
	                    NULL, 0))
		fail_msg("refused:\n%s", err);
	return r;
}

/* A message to decide on. */
struct m {
	enum vup_chan chan;
	enum vup_side from;
	uint32_t req, flags, size;
	uint8_t p[64];
	uint32_t session;
	const char *fe, *be;
	struct vup_negotiated neg;
	struct vup_hdr h;
};

static struct vup_verdict decide(struct vup_rules *r,
                                 struct vup_rules_session **ss, struct m *x)
{
	struct vup_verdict v;
	x->h = hdr(x->req, x->flags ? x->flags : REQ, x->size);
	struct vup_rules_msg m = {
	        .session = x->session,
	        .frontend_path = x->fe,
	        .backend_path = x->be,
	        .chan = x->chan,
	        .from = x->from,
	        .hdr = &x->h,
	        .payload = x->p,
	        .neg = &x->neg,
	};
	memset(&v, 0xa5, sizeof(v)); /* all of it is written */
	vup_rules_decide(r, ss, &m, &v);
	return v;
}

/* The action for a front-end request of code req (8-byte payload u64). */
static enum vup_rule_action act(struct vup_rules *r,
                                struct vup_rules_session **ss,
                                enum vup_chan chan, enum vup_side from,
                                uint32_t req, uint32_t flags, uint64_t u64)
{
	struct m x = {.chan = chan,
	              .from = from,
	              .req = req,
	              .flags = flags,
	              .size = 8};
	put_u64(x.p, 0, u64);
	return decide(r, ss, &x).action;
}

#define MAIN VUP_CHAN_MAIN
#define BCH  VUP_CHAN_BACKEND
#define FE   VUP_FRONTEND
#define BE   VUP_BACKEND

enum {
	GET_FEATURES = 1,
	SET_FEATURES = 2,
	SET_OWNER = 3,
	SET_MEM_TABLE = 5,
	SET_VRING_NUM = 8,
	SET_VRING_ADDR = 9,
	GET_VRING_BASE = 11,
	SET_VRING_CALL = 13,
	GET_PROTOCOL_FEATURES = 15,
	SET_VRING_ENABLE = 18,
	B_IOTLB = 1,
	B_HOST_NOTIFIER = 3,
};

/* ---- match ---- */

static void match_request(void **state)
{
	(void)state;
	struct vup_rules_session *ss = NULL;
	struct vup_rules *r = load("rules:\n"
	                           "  - name: one\n"
	                           "    match: {request: SET_VRING_NUM}\n"
	                           "    action: drop\n"
	                           "  - name: list\n"
	                           "    match: {request: [SLAVE_IOTLB_MSG, "
	                           "vhost_user_get_features]}\n"
	                           "    action: {fail: 7}\n");
	struct m x = {
	        .chan = MAIN, .from = FE, .req = SET_VRING_NUM, .size = 8};
	struct vup_verdict v = decide(r, &ss, &x);
	assert_int_equal(v.action, VUP_RULE_ACT_DROP);
	assert_string_equal(v.rule, "one");
	assert_int_equal(v.nlogged, 0);
	assert_false(v.rewritten);
	/* Replies too when the rule does not say. */
	assert_int_equal(act(r, &ss, MAIN, BE, SET_VRING_NUM, REPLY, 0),
	                 VUP_RULE_ACT_DROP);
	/* The same code on the other channel is another request. */
	assert_int_equal(act(r, &ss, BCH, BE, SET_VRING_NUM, REQ, 0),
	                 VUP_RULE_ACT_PASS);
	assert_int_equal(act(r, &ss, MAIN, FE, SET_VRING_ADDR, REQ, 0),
	                 VUP_RULE_ACT_PASS);
	assert_int_equal(act(r, &ss, BCH, BE, B_IOTLB, REQ, 0),
	                 VUP_RULE_ACT_FAIL);
	assert_int_equal(act(r, &ss, MAIN, FE, GET_FEATURES, REQ, 0),
	                 VUP_RULE_ACT_FAIL);
	assert_int_equal(act(r, &ss, MAIN, FE, SET_FEATURES, REQ, 0),
	                 VUP_RULE_ACT_PASS);
	assert_int_equal(act(r, &ss, BCH, BE, 2, REQ, 0), VUP_RULE_ACT_PASS);
	x.req = GET_FEATURES;
	x.size = 0;
	v = decide(r, &ss, &x);
	assert_int_equal(v.action, VUP_RULE_ACT_FAIL);
	assert_int_equal(v.fail_value, 7);
	assert_string_equal(v.rule, "list");
	vup_rules_session_free(ss);
	vup_rules_free(r);
}

static void match_code_and_channel(void **state)
{
	(void)state;
	struct vup_rules_session *ss = NULL;
	struct vup_rules *r = load("rules:\n"
	                           "  - name: unknown-backend\n"
	                           "    match: {code: 99, channel: backend}\n"
	                           "    action: drop\n"
	                           "  - name: main-codes\n"
	                           "    match: {code: [1, 0xc8]}\n"
	                           "    action: {fail: 2}\n"
	                           "  - name: backend-channel\n"
	                           "    match: {channel: backend}\n"
	                           "    action: log\n");
	assert_int_equal(act(r, &ss, BCH, BE, 99, REQ, 0), VUP_RULE_ACT_DROP);
	assert_int_equal(act(r, &ss, MAIN, FE, 99, REQ, 0), VUP_RULE_ACT_PASS);
	assert_int_equal(act(r, &ss, MAIN, FE, 1, REQ, 0), VUP_RULE_ACT_FAIL);
	assert_int_equal(act(r, &ss, MAIN, FE, 200, REQ, 0), VUP_RULE_ACT_FAIL);
	struct m x = {
	        .chan = BCH, .from = FE, .req = 1, .flags = REPLY, .size = 8};
	struct vup_verdict v = decide(r, &ss, &x);
	assert_int_equal(v.action, VUP_RULE_ACT_PASS);
	assert_int_equal(v.nlogged, 1);
	assert_string_equal(v.logged[0], "backend-channel");
	x.chan = MAIN;
	v = decide(r, &ss, &x);
	assert_int_equal(v.nlogged, 0);
	vup_rules_session_free(ss);
	vup_rules_free(r);
}

static void match_from_and_reply(void **state)
{
	(void)state;
	struct vup_rules_session *ss = NULL;
	struct vup_rules *r =
	        load("rules:\n"
	             "  - name: backend-replies\n"
	             "    match: {from: back-end, reply: true}\n"
	             "    action: drop\n"
	             "  - name: frontend-requests\n"
	             "    match: {from: front-end, reply: false}\n"
	             "    action: {delay: 1ms}\n"
	             "  - name: rest\n"
	             "    match: {request: SET_OWNER}\n"
	             "    action: {fail: 3}\n");
	assert_int_equal(act(r, &ss, MAIN, BE, GET_FEATURES, REPLY, 0),
	                 VUP_RULE_ACT_DROP);
	assert_int_equal(act(r, &ss, MAIN, FE, GET_FEATURES, REQ, 0),
	                 VUP_RULE_ACT_DELAY);
	/* Back-end requests on the back-end channel: neither rule. */
	assert_int_equal(act(r, &ss, BCH, BE, B_IOTLB, REQ, 0),
	                 VUP_RULE_ACT_PASS);
	/* Front-end replies on the back-end channel: neither. */
	assert_int_equal(act(r, &ss, BCH, FE, B_IOTLB, REPLY, 0),
	                 VUP_RULE_ACT_PASS);
	/* fail meets requests only: a SET_OWNER reply passes. */
	assert_int_equal(act(r, &ss, MAIN, FE, SET_OWNER, REPLY, 0),
	                 VUP_RULE_ACT_PASS);
	assert_int_equal(act(r, &ss, MAIN, BE, SET_OWNER, REQ, 0),
	                 VUP_RULE_ACT_FAIL);
	vup_rules_session_free(ss);
	vup_rules_free(r);
}

static void match_session_and_socket(void **state)
{
	(void)state;
	struct vup_rules_session *ss = NULL;
	struct vup_rules *r = load("rules:\n"
	                           "  - name: s3\n"
	                           "    match: {session: 3}\n"
	                           "    action: drop\n"
	                           "  - name: vms\n"
	                           "    match: {socket: \"/run/vm*.sock\"}\n"
	                           "    action: {disconnect: back-end}\n");
	struct m x = {.chan = MAIN, .from = FE, .req = SET_OWNER, .size = 0};
	x.session = 3;
	assert_int_equal(decide(r, &ss, &x).action, VUP_RULE_ACT_DROP);
	x.session = 4;
	assert_int_equal(decide(r, &ss, &x).action, VUP_RULE_ACT_PASS);
	x.fe = "/run/vm1.sock";
	assert_int_equal(decide(r, &ss, &x).action, VUP_RULE_ACT_DISCONNECT);
	x.fe = "/tmp/f.sock";
	x.be = "/run/vm-backend.sock";
	struct vup_verdict v = decide(r, &ss, &x);
	assert_int_equal(v.action, VUP_RULE_ACT_DISCONNECT);
	assert_int_equal(v.disconnect, 2);
	x.be = "/run/vm/x.sock"; /* fnmatch: * matches '/' too (no FNM_PATHNAME)
	                          */
	assert_int_equal(decide(r, &ss, &x).action, VUP_RULE_ACT_DISCONNECT);
	x.be = "/run/dpdk.sock";
	assert_int_equal(decide(r, &ss, &x).action, VUP_RULE_ACT_PASS);
	x.fe = x.be = NULL;
	assert_int_equal(decide(r, &ss, &x).action, VUP_RULE_ACT_PASS);
	vup_rules_session_free(ss);
	vup_rules_free(r);
}

static void match_vring(void **state)
{
	(void)state;
	struct vup_rules_session *ss = NULL;
	struct vup_rules *r = load("rules:\n"
	                           "  - name: q1\n"
	                           "    match: {vring: 1}\n"
	                           "    action: drop\n");
	struct m x = {
	        .chan = MAIN, .from = FE, .req = SET_VRING_NUM, .size = 8};
	put_u32(x.p, 0, 1);
	put_u32(x.p, 4, 256);
	assert_int_equal(decide(r, &ss, &x).action, VUP_RULE_ACT_DROP);
	put_u32(x.p, 0, 0);
	assert_int_equal(decide(r, &ss, &x).action, VUP_RULE_ACT_PASS);
	/* vring fds: bits 0-7, NOFD (bit 8) aside */
	assert_int_equal(act(r, &ss, MAIN, FE, SET_VRING_CALL, REQ, 0x101),
	                 VUP_RULE_ACT_DROP);
	assert_int_equal(act(r, &ss, MAIN, FE, SET_VRING_CALL, REQ, 0x100),
	                 VUP_RULE_ACT_PASS);
	assert_int_equal(act(r, &ss, MAIN, FE, SET_VRING_ENABLE, REQ, 1),
	                 VUP_RULE_ACT_DROP);
	assert_int_equal(act(r, &ss, MAIN, BE, GET_VRING_BASE, REPLY, 1),
	                 VUP_RULE_ACT_DROP);
	/* vring addr: index is the first u32 of 40 bytes */
	x.req = SET_VRING_ADDR;
	x.size = 40;
	put_u32(x.p, 0, 1);
	assert_int_equal(decide(r, &ss, &x).action, VUP_RULE_ACT_DROP);
	/* host notifier on the back-end channel */
	x.chan = BCH;
	x.from = BE;
	x.req = B_HOST_NOTIFIER;
	x.size = 24;
	put_u64(x.p, 0, 0x101);
	assert_int_equal(decide(r, &ss, &x).action, VUP_RULE_ACT_DROP);
	/* No index in the payload, or no payload: no match. */
	assert_int_equal(act(r, &ss, MAIN, FE, SET_FEATURES, REQ, 1),
	                 VUP_RULE_ACT_PASS);
	x = (struct m){.chan = MAIN, .from = FE, .req = SET_VRING_NUM};
	x.p[0] = 1;
	assert_int_equal(decide(r, &ss, &x).action, VUP_RULE_ACT_PASS);
	vup_rules_session_free(ss);
	vup_rules_free(r);
}

static void match_fields(void **state)
{
	(void)state;
	struct vup_rules_session *ss = NULL;
	struct vup_rules *r = load(
	        "rules:\n"
	        "  - name: eq\n"
	        "    match: {request: SET_VRING_NUM, fields: {num: 100}}\n"
	        "    action: {fail: 1}\n"
	        "  - name: range\n"
	        "    match: {request: SET_VRING_NUM, fields: {num: {gt: 200, "
	        "lt: 300}}}\n"
	        "    action: {fail: 2}\n"
	        "  - name: mask\n"
	        "    match:\n"
	        "      request: SET_VRING_NUM\n"
	        "      fields: {num: {mask: 0xff, eq: 0}, index: {ne: 0}}\n"
	        "    action: {fail: 3}\n"
	        "  - name: packed\n"
	        "    match: {request: GET_VRING_BASE, reply: true,\n"
	        "            fields: {avail_wrap: 1, used_idx: {lt: 10}}}\n"
	        "    action: {delay: 4ms}\n");
	static const struct {
		uint32_t index, num;
		uint64_t fail; /* 0: passes */
	} cases[] = {
	        {0, 100, 1}, {0, 101, 0}, {0, 200, 0}, {0, 201, 2}, {0, 299, 2},
	        {0, 300, 0}, {0, 512, 0}, {1, 512, 3}, {1, 511, 0}, {1, 256, 2},
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		struct m x = {.chan = MAIN,
		              .from = FE,
		              .req = SET_VRING_NUM,
		              .size = 8};
		put_u32(x.p, 0, cases[i].index);
		put_u32(x.p, 4, cases[i].num);
		struct vup_verdict v = decide(r, &ss, &x);
		if (cases[i].fail == 0) {
			assert_int_equal(v.action, VUP_RULE_ACT_PASS);
			assert_null(v.rule);
		} else {
			assert_int_equal(v.action, VUP_RULE_ACT_FAIL);
			assert_int_equal(v.fail_value, cases[i].fail);
		}
	}
	/* A payload too short for the field does not match. */
	struct m x = {
	        .chan = MAIN, .from = FE, .req = SET_VRING_NUM, .size = 4};
	put_u32(x.p, 4, 100);
	assert_int_equal(decide(r, &ss, &x).action, VUP_RULE_ACT_PASS);
	/* Packed-ring fields exist once RING_PACKED is negotiated. */
	x = (struct m){.chan = MAIN,
	               .from = BE,
	               .req = GET_VRING_BASE,
	               .flags = REPLY,
	               .size = 8};
	put_u32(x.p, 4, 0x00058000); /* avail_wrap 1, used_idx 5 */
	assert_int_equal(decide(r, &ss, &x).action, VUP_RULE_ACT_PASS);
	x.neg.features = 1ull << VUP_F_RING_PACKED;
	assert_int_equal(decide(r, &ss, &x).action, VUP_RULE_ACT_DELAY);
	put_u32(x.p, 4, 0x00050000); /* avail_wrap 0 */
	assert_int_equal(decide(r, &ss, &x).action, VUP_RULE_ACT_PASS);
	vup_rules_session_free(ss);
	vup_rules_free(r);
}

static void match_features(void **state)
{
	(void)state;
	struct vup_rules_session *ss = NULL;
	struct vup_rules *r =
	        load("rules:\n"
	             "  - name: packed\n"
	             "    match: {has: [VIRTIO_F_RING_PACKED, "
	             "VIRTIO_F_VERSION_1]}\n"
	             "    action: drop\n"
	             "  - name: ack\n"
	             "    match: {has: VHOST_USER_PROTOCOL_F_REPLY_ACK}\n"
	             "    action: {fail: 5}\n");
	uint64_t both = 1ull << 34 | 1ull << 32;
	assert_int_equal(act(r, &ss, MAIN, BE, GET_FEATURES, REPLY, both),
	                 VUP_RULE_ACT_DROP);
	assert_int_equal(act(r, &ss, MAIN, FE, SET_FEATURES, REQ, both | 1),
	                 VUP_RULE_ACT_DROP);
	assert_int_equal(act(r, &ss, MAIN, BE, GET_FEATURES, REPLY, 1ull << 34),
	                 VUP_RULE_ACT_PASS);
	/* The same bits in another payload are no features. */
	assert_int_equal(act(r, &ss, MAIN, FE, SET_VRING_CALL, REQ, both),
	                 VUP_RULE_ACT_PASS);
	assert_int_equal(act(r, &ss, MAIN, FE, SET_FEATURES, REQ, 1ull << 3),
	                 VUP_RULE_ACT_PASS);
	/* Protocol bits in the protocol word only. */
	assert_int_equal(act(r, &ss, MAIN, FE, 16, REQ, 1ull << 3),
	                 VUP_RULE_ACT_FAIL);
	assert_int_equal(
	        act(r, &ss, MAIN, BE, GET_PROTOCOL_FEATURES, REPLY, 0xfffffff7),
	        VUP_RULE_ACT_PASS);
	vup_rules_session_free(ss);
	vup_rules_free(r);
}

/* ---- when ---- */

/* Which of n matching messages (GET_FEATURES) a rule fires on, as a
 * string of 0/1; a non-matching message goes between each. */
static void fired(const char *when, unsigned n, char *out)
{
	char text[512];
	snprintf(text, sizeof(text),
	         "rules:\n  - name: r\n    match: {request: GET_FEATURES}\n"
	         "    when: %s\n    action: drop\n",
	         when);
	struct vup_rules *r = load(text);
	struct vup_rules_session *ss = NULL;
	for (unsigned i = 0; i < n; i++) {
		out[i] = act(r, &ss, MAIN, FE, GET_FEATURES, REQ, 0) ==
		                         VUP_RULE_ACT_DROP
		                 ? '1'
		                 : '0';
		assert_int_equal(act(r, &ss, MAIN, FE, SET_OWNER, REQ, 0),
		                 VUP_RULE_ACT_PASS);
	}
	out[n] = '\0';
	vup_rules_session_free(ss);
	vup_rules_free(r);
}

static void when_counts(void **state)
{
	(void)state;
	static const struct {
		const char *when, *expect;
	} cases[] = {
	        {"{nth: 3}", "0010000000"},
	        {"{first: 2}", "1100000000"},
	        {"{every: 3}", "0010010010"},
	        {"{after: 7}", "0000000111"},
	        {"{after: 0}", "1111111111"},
	        {"{every: 2, after: 4}", "0000010101"},
	        {"{first: 5, every: 2}", "0101000000"},
	        {"{nth: 4, every: 2}", "0001000000"},
	        {"{probability: 0}", "0000000000"},
	        {"{probability: 1}", "1111111111"},
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		char got[16];
		fired(cases[i].when, 10, got);
		if (strcmp(got, cases[i].expect) != 0)
			fail_msg("when %s: fired %s, expected %s",
			         cases[i].when, got, cases[i].expect);
	}
}

/* Counters count the matches of the rule that reach it, before `when`;
 * an earlier deciding rule hides messages from later ones. */
static void counters_count_matches(void **state)
{
	(void)state;
	struct vup_rules_session *ss = NULL;
	struct vup_rules *r = load("rules:\n"
	                           "  - name: a\n"
	                           "    match: {request: GET_FEATURES}\n"
	                           "    when: {every: 2}\n"
	                           "    action: drop\n"
	                           "  - name: b\n"
	                           "    match: {request: GET_FEATURES}\n"
	                           "    when: {nth: 2}\n"
	                           "    action: {fail: 1}\n");
	/* a: 1 no, 2 yes, 3 no, 4 yes; b sees 1 and 3: fires on 3 */
	const enum vup_rule_action expect[] = {
	        VUP_RULE_ACT_PASS, VUP_RULE_ACT_DROP, VUP_RULE_ACT_FAIL,
	        VUP_RULE_ACT_DROP, VUP_RULE_ACT_PASS};
	for (size_t i = 0; i < COUNT(expect); i++)
		assert_int_equal(act(r, &ss, MAIN, FE, GET_FEATURES, REQ, 0),
		                 expect[i]);
	vup_rules_session_free(ss);
	vup_rules_free(r);
}

static void scope_session_and_global(void **state)
{
	(void)state;
	struct vup_rules_session *s1 = NULL, *s2 = NULL;
	struct vup_rules *r = load("rules:\n"
	                           "  - name: per-session\n"
	                           "    match: {request: GET_FEATURES}\n"
	                           "    when: {first: 1, scope: session}\n"
	                           "    action: drop\n"
	                           "  - name: global\n"
	                           "    match: {request: SET_OWNER}\n"
	                           "    when: {first: 1, scope: global}\n"
	                           "    action: drop\n");
	assert_int_equal(act(r, &s1, MAIN, FE, GET_FEATURES, REQ, 0),
	                 VUP_RULE_ACT_DROP);
	assert_int_equal(act(r, &s1, MAIN, FE, GET_FEATURES, REQ, 0),
	                 VUP_RULE_ACT_PASS);
	assert_int_equal(act(r, &s2, MAIN, FE, GET_FEATURES, REQ, 0),
	                 VUP_RULE_ACT_DROP);
	assert_int_equal(act(r, &s1, MAIN, FE, SET_OWNER, REQ, 0),
	                 VUP_RULE_ACT_DROP);
	assert_int_equal(act(r, &s2, MAIN, FE, SET_OWNER, REQ, 0),
	                 VUP_RULE_ACT_PASS);
	assert_int_equal(r->global_count[1], 2);
	assert_int_equal(r->global_count[0], 0);
	/* Without a session (NULL ss), session scope still decides. */
	assert_int_equal(act(r, NULL, MAIN, FE, GET_FEATURES, REQ, 0),
	                 VUP_RULE_ACT_DROP);
	vup_rules_session_free(s1);
	vup_rules_session_free(s2);
	vup_rules_free(r);
}

/* n decisions of a rule with probability p and seed s, one session. */
static unsigned draws(const char *p, const char *seed, unsigned n, char *out)
{
	char text[256];
	snprintf(text, sizeof(text),
	         "rules:\n  - name: r\n    match: {request: SET_OWNER}\n"
	         "    when: {probability: %s, seed: %s}\n    action: drop\n",
	         p, seed);
	struct vup_rules *r = load(text);
	struct vup_rules_session *ss = NULL;
	unsigned hits = 0;
	for (unsigned i = 0; i < n; i++) {
		bool hit = act(r, &ss, MAIN, FE, SET_OWNER, REQ, 0) ==
		           VUP_RULE_ACT_DROP;
		hits += hit;
		if (out)
			out[i] = hit ? '1' : '0';
	}
	if (out)
		out[n] = '\0';
	vup_rules_session_free(ss);
	vup_rules_free(r);
	return hits;
}

static void probability_is_seeded(void **state)
{
	(void)state;
	static char a[1001], b[1001], c[1001];
	draws("0.5", "42", 1000, a);
	draws("0.5", "42", 1000, b);
	assert_string_equal(a, b); /* same seed, same decisions */
	draws("0.5", "43", 1000, c);
	assert_string_not_equal(a, c);
	unsigned differ = 0;
	for (int i = 0; i < 1000; i++)
		differ += a[i] != c[i];
	assert_in_range(differ, 400, 600); /* independent sequences */

	/* Roughly P of the matches. */
	unsigned hits = draws("0.3", "7", 10000, NULL);
	assert_in_range(hits, 2800, 3200);
	hits = draws("0.01", "7", 10000, NULL);
	assert_in_range(hits, 60, 140);
	hits = draws("0.999", "7", 10000, NULL);
	assert_in_range(hits, 9970, 9999);
}

/* Decisions depend on the session's own counts, not on what other
 * sessions do in between (the timing). */
static void probability_ignores_interleaving(void **state)
{
	(void)state;
	struct vup_rules *r = load("rules:\n"
	                           "  - name: r\n"
	                           "    match: {request: SET_OWNER}\n"
	                           "    when: {probability: 0.5, seed: 9}\n"
	                           "    action: drop\n");
	struct vup_rules_session *alone = NULL, *s1 = NULL, *s2 = NULL;
	char x[201], y[201];
	for (int i = 0; i < 200; i++)
		x[i] = act(r, &alone, MAIN, FE, SET_OWNER, REQ, 0) ==
		                       VUP_RULE_ACT_DROP
		               ? '1'
		               : '0';
	for (int i = 0; i < 200; i++) {
		for (int k = 0; k < i % 3; k++)
			act(r, &s2, MAIN, FE, SET_OWNER, REQ, 0);
		y[i] = act(r, &s1, MAIN, FE, SET_OWNER, REQ, 0) ==
		                       VUP_RULE_ACT_DROP
		               ? '1'
		               : '0';
	}
	x[200] = y[200] = '\0';
	assert_string_equal(x, y);
	vup_rules_session_free(alone);
	vup_rules_session_free(s1);
	vup_rules_session_free(s2);
	vup_rules_free(r);
}

static void delay_and_jitter(void **state)
{
	(void)state;
	const char *text = "rules:\n"
	                   "  - name: slow\n"
	                   "    match: {request: SET_MEM_TABLE}\n"
	                   "    when: {seed: 5}\n"
	                   "    action: {delay: 100ms, jitter: 50ms}\n"
	                   "  - name: fixed\n"
	                   "    match: {request: SET_OWNER}\n"
	                   "    action: {delay: 2s}\n";
	struct vup_rules *r1 = load(text), *r2 = load(text);
	struct vup_rules_session *s1 = NULL, *s2 = NULL;
	uint64_t lo = UINT64_MAX, hi = 0;
	for (int i = 0; i < 500; i++) {
		struct m x = {.chan = MAIN, .from = FE, .req = 5, .size = 8};
		struct vup_verdict v1 = decide(r1, &s1, &x);
		struct vup_verdict v2 = decide(r2, &s2, &x);
		assert_int_equal(v1.action, VUP_RULE_ACT_DELAY);
		assert_string_equal(v1.rule, "slow");
		assert_int_equal(v1.delay_ns, v2.delay_ns);
		assert_in_range(v1.delay_ns, 50000000, 150000000);
		lo = v1.delay_ns < lo ? v1.delay_ns : lo;
		hi = v1.delay_ns > hi ? v1.delay_ns : hi;
	}
	assert_true(lo < 60000000 &&
	            hi > 140000000); /* spread over the range */
	struct m x = {.chan = MAIN, .from = FE, .req = SET_OWNER};
	struct vup_verdict v = decide(r1, &s1, &x);
	assert_int_equal(v.action, VUP_RULE_ACT_DELAY);
	assert_int_equal(v.delay_ns, 2000000000ull);

	/* Jitter larger than the delay never goes below 0. */
	struct vup_rules *r3 = load("rules:\n"
	                            "  - name: j\n"
	                            "    action: {delay: 1ms, jitter: 10ms}\n");
	unsigned zeros = 0;
	for (int i = 0; i < 200; i++) {
		v = decide(r3, &s1, &x);
		assert_in_range(v.delay_ns, 0, 11000000);
		zeros += v.delay_ns == 0;
	}
	assert_true(zeros > 50);
	vup_rules_session_free(s1);
	vup_rules_session_free(s2);
	vup_rules_free(r1);
	vup_rules_free(r2);
	vup_rules_free(r3);
}

/* ---- actions ---- */

static void rewrite_field(void **state)
{
	(void)state;
	struct vup_rules_session *ss = NULL;
	struct vup_rules *r =
	        load("rules:\n"
	             "  - name: shrink\n"
	             "    match: {request: SET_VRING_NUM, fields: {num: {gt: "
	             "256}}}\n"
	             "    action: {rewrite: {set: {num: 128}}}\n"
	             "  - name: nofd\n"
	             "    match: {request: SET_VRING_CALL}\n"
	             "    action: {rewrite: {set: {nofd: 1}}}\n");
	struct m x = {
	        .chan = MAIN, .from = FE, .req = SET_VRING_NUM, .size = 8};
	put_u32(x.p, 0, 2);
	put_u32(x.p, 4, 1024);
	struct vup_verdict v = decide(r, &ss, &x);
	assert_int_equal(v.action, VUP_RULE_ACT_REWRITE);
	assert_true(v.rewritten);
	assert_string_equal(v.rule, "shrink");
	uint8_t expect[8];
	put_u32(expect, 0, 2);
	put_u32(expect, 4, 128);
	assert_memory_equal(x.p, expect, 8);
	/* A bit-field: only its bit changes. */
	x = (struct m){
	        .chan = MAIN, .from = FE, .req = SET_VRING_CALL, .size = 8};
	put_u64(x.p, 0, 0x3);
	v = decide(r, &ss, &x);
	assert_true(v.rewritten);
	uint64_t u;
	memcpy(&u, x.p, 8);
	assert_int_equal(u, 0x103);
	/* Already so: the rule decides, nothing changes. */
	v = decide(r, &ss, &x);
	assert_int_equal(v.action, VUP_RULE_ACT_REWRITE);
	assert_false(v.rewritten);
	/* A payload too short keeps its bytes. */
	x.size = 4;
	put_u64(x.p, 0, 0x3);
	v = decide(r, &ss, &x);
	assert_false(v.rewritten);
	memcpy(&u, x.p, 8);
	assert_int_equal(u, 0x3);
	vup_rules_session_free(ss);
	vup_rules_free(r);
}

static void rewrite_features(void **state)
{
	(void)state;
	struct vup_rules_session *ss = NULL;
	struct vup_rules *r =
	        load("rules:\n"
	             "  - name: hide-packed\n"
	             "    match:\n"
	             "      request: [GET_FEATURES, GET_PROTOCOL_FEATURES]\n"
	             "      reply: true\n"
	             "    action:\n"
	             "      rewrite:\n"
	             "        clear_features: [VIRTIO_F_RING_PACKED, MQ]\n"
	             "        set_features: [VIRTIO_F_IN_ORDER, "
	             "VHOST_USER_PROTOCOL_F_CONFIG]\n");
	uint64_t offered = 1ull << 34 | 1ull << 32 | 1ull << 30;
	struct m x = {.chan = MAIN,
	              .from = BE,
	              .req = GET_FEATURES,
	              .flags = REPLY,
	              .size = 8};
	put_u64(x.p, 0, offered);
	struct vup_verdict v = decide(r, &ss, &x);
	assert_int_equal(v.action, VUP_RULE_ACT_REWRITE);
	assert_true(v.rewritten);
	uint64_t u;
	memcpy(&u, x.p, 8);
	assert_int_equal(u, (offered & ~(1ull << 34)) | 1ull << 35);
	/* The protocol word gets the protocol edits only. */
	x.req = GET_PROTOCOL_FEATURES;
	put_u64(x.p, 0, 1ull << 0 | 1ull << 3 | 1ull << 34);
	v = decide(r, &ss, &x);
	assert_true(v.rewritten);
	memcpy(&u, x.p, 8);
	assert_int_equal(u, 1ull << 3 | 1ull << 9 | 1ull << 34);
	/* The request (no payload) is not matched. */
	x = (struct m){.chan = MAIN, .from = FE, .req = GET_FEATURES};
	v = decide(r, &ss, &x);
	assert_int_equal(v.action, VUP_RULE_ACT_PASS);
	assert_false(v.rewritten);
	vup_rules_session_free(ss);
	vup_rules_free(r);
}

static void continue_and_log(void **state)
{
	(void)state;
	struct vup_rules_session *ss = NULL;
	struct vup_rules *r = load("rules:\n"
	                           "  - name: see-all\n"
	                           "    action: log\n"
	                           "  - name: cap\n"
	                           "    match: {request: SET_VRING_NUM}\n"
	                           "    action: {rewrite: {set: {num: 64}}}\n"
	                           "    continue: true\n"
	                           "  - name: once\n"
	                           "    when: {first: 1}\n"
	                           "    action: log\n"
	                           "  - name: slow\n"
	                           "    match: {request: SET_VRING_NUM}\n"
	                           "    when: {every: 2}\n"
	                           "    action: {delay: 5ms}\n"
	                           "  - name: drop-owner\n"
	                           "    match: {request: SET_OWNER}\n"
	                           "    action: drop\n"
	                           "    continue: true\n"
	                           "  - name: after-drop\n"
	                           "    match: {request: SET_OWNER}\n"
	                           "    action: log\n"
	                           "  - name: pass-owner\n"
	                           "    match: {request: SET_OWNER, "
	                           "from: back-end}\n"
	                           "    action: pass\n"
	                           "  - name: never\n"
	                           "    action: {fail: 9}\n");
	struct m x = {
	        .chan = MAIN, .from = FE, .req = SET_VRING_NUM, .size = 8};
	put_u32(x.p, 4, 1024);
	/* 1st: logged twice, rewritten, then "never" decides (fail). */
	struct vup_verdict v = decide(r, &ss, &x);
	assert_int_equal(v.nlogged, 2);
	assert_string_equal(v.logged[0], "see-all");
	assert_string_equal(v.logged[1], "once");
	assert_true(v.rewritten);
	assert_int_equal(v.action, VUP_RULE_ACT_FAIL);
	assert_string_equal(v.rule, "never");
	/* 2nd: the delay decides; the rewrite stays done. */
	put_u32(x.p, 4, 1024);
	v = decide(r, &ss, &x);
	assert_int_equal(v.nlogged, 1);
	assert_true(v.rewritten);
	assert_int_equal(v.action, VUP_RULE_ACT_DELAY);
	assert_int_equal(v.delay_ns, 5000000);
	assert_string_equal(v.rule, "slow");
	uint32_t num;
	memcpy(&num, x.p + 4, 4);
	assert_int_equal(num, 64);
	/* drop with continue: the drop stands unless a later rule decides. */
	x = (struct m){.chan = MAIN, .from = FE, .req = SET_OWNER};
	v = decide(r, &ss, &x);
	assert_int_equal(v.action, VUP_RULE_ACT_FAIL); /* "never" comes later */
	x.from = BE;
	v = decide(r, &ss, &x);
	assert_int_equal(v.action, VUP_RULE_ACT_PASS);
	assert_string_equal(v.rule, "pass-owner");
	assert_int_equal(v.nlogged, 2);
	assert_string_equal(v.logged[1], "after-drop");
	vup_rules_session_free(ss);
	vup_rules_free(r);

	r = load("rules:\n"
	         "  - name: drop-owner\n"
	         "    match: {request: SET_OWNER}\n"
	         "    action: drop\n"
	         "    continue: true\n"
	         "  - name: other\n"
	         "    match: {request: GET_FEATURES}\n"
	         "    action: {fail: 1}\n");
	ss = NULL;
	x = (struct m){.chan = MAIN, .from = FE, .req = SET_OWNER};
	v = decide(r, &ss, &x);
	assert_int_equal(v.action, VUP_RULE_ACT_DROP);
	assert_string_equal(v.rule, "drop-owner");
	vup_rules_session_free(ss);
	vup_rules_free(r);
}

/* Rules are looked up through an index by request code (decide.c); the
 * file's order still decides between rules that name the request and
 * rules that do not, for indexed and unindexed codes alike. */
static void index_keeps_file_order(void **state)
{
	(void)state;
	struct vup_rules_session *ss = NULL;
	struct vup_rules *r = load("rules:\n"
	                           "  - name: any-from-backend\n"
	                           "    match: {from: back-end}\n"
	                           "    action: {delay: 1ms}\n"
	                           "  - name: owner\n"
	                           "    match: {request: SET_OWNER}\n"
	                           "    action: drop\n"
	                           "  - name: unknown\n"
	                           "    match: {code: 99}\n"
	                           "    action: {fail: 4}\n"
	                           "  - name: requests\n"
	                           "    match: {reply: false}\n"
	                           "    action: {fail: 5}\n");
	assert_int_equal(act(r, &ss, MAIN, BE, SET_OWNER, REQ, 0),
	                 VUP_RULE_ACT_DELAY);
	assert_int_equal(act(r, &ss, MAIN, FE, SET_OWNER, REQ, 0),
	                 VUP_RULE_ACT_DROP);
	assert_int_equal(act(r, &ss, MAIN, FE, GET_FEATURES, REQ, 0),
	                 VUP_RULE_ACT_FAIL);
	assert_int_equal(act(r, &ss, MAIN, FE, 99, REQ, 0), VUP_RULE_ACT_FAIL);
	struct m x = {.chan = MAIN, .from = FE, .req = 99, .size = 8};
	assert_int_equal(decide(r, &ss, &x).fail_value, 4);
	x.req = 63; /* the last indexed code */
	assert_int_equal(decide(r, &ss, &x).fail_value, 5);
	x.req = 64; /* the first unindexed one */
	assert_int_equal(decide(r, &ss, &x).fail_value, 5);
	assert_int_equal(act(r, &ss, MAIN, FE, SET_OWNER, REPLY, 0),
	                 VUP_RULE_ACT_DROP);
	assert_int_equal(act(r, &ss, MAIN, FE, GET_FEATURES, REPLY, 0),
	                 VUP_RULE_ACT_PASS);
	assert_int_equal(act(r, &ss, BCH, BE, B_IOTLB, REQ, 0),
	                 VUP_RULE_ACT_DELAY);
	vup_rules_session_free(ss);
	vup_rules_free(r);
}

/* A field is read once per message for all the rules that test it; a
 * rewrite (with continue) makes the later rules read it anew. */
static void rewrite_then_match_reads_anew(void **state)
{
	(void)state;
	struct vup_rules_session *ss = NULL;
	struct vup_rules *r =
	        load("rules:\n"
	             "  - name: is-256\n"
	             "    match: {request: SET_VRING_NUM, fields: {num: 256}}\n"
	             "    action: log\n"
	             "  - name: shrink\n"
	             "    match: {request: SET_VRING_NUM, fields: {num: 256}}\n"
	             "    action: {rewrite: {set: {num: 128}}}\n"
	             "    continue: true\n"
	             "  - name: was-256\n"
	             "    match: {request: SET_VRING_NUM, fields: {num: 256}}\n"
	             "    action: {fail: 8}\n"
	             "  - name: is-128\n"
	             "    match: {request: SET_VRING_NUM, fields: {num: 128}}\n"
	             "    action: {fail: 9}\n");
	struct m x = {
	        .chan = MAIN, .from = FE, .req = SET_VRING_NUM, .size = 8};
	put_u32(x.p, 4, 256);
	struct vup_verdict v = decide(r, &ss, &x);
	assert_int_equal(v.nlogged, 1);
	assert_true(v.rewritten);
	assert_int_equal(v.action, VUP_RULE_ACT_FAIL);
	assert_int_equal(v.fail_value, 9);
	assert_string_equal(v.rule, "is-128");
	vup_rules_session_free(ss);
	vup_rules_free(r);
}

static void log_is_capped(void **state)
{
	(void)state;
	char text[2048] = "rules:\n";
	for (int i = 0; i < 10; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
		         "  - {name: log%d, action: log}\n", i);
	strcat(text, "  - {name: last, action: drop}\n");
	struct vup_rules *r = load(text);
	struct vup_rules_session *ss = NULL;
	struct m x = {.chan = MAIN, .from = FE, .req = SET_OWNER};
	struct vup_verdict v = decide(r, &ss, &x);
	assert_int_equal(v.action, VUP_RULE_ACT_DROP);
	assert_string_equal(v.rule, "last");
	assert_int_equal(v.nlogged, VUP_VERDICT_MAX_LOGGED);
	assert_string_equal(v.logged[0], "log0");
	assert_string_equal(v.logged[7], "log7");
	vup_rules_session_free(ss);
	vup_rules_free(r);
}

/* A snapshot rule fires like a log (noted, decides nothing) and names
 * itself in v.snapshot; nth: 1 fires once per session. */
static void snapshot_rules(void **state)
{
	(void)state;
	struct vup_rules_session *ss = NULL, *ss2 = NULL;
	struct vup_rules *r = load("rules:\n"
	                           "  - name: second-mem-table\n"
	                           "    match: {request: SET_MEM_TABLE}\n"
	                           "    when: {nth: 2}\n"
	                           "    action: snapshot\n"
	                           "  - name: first-owner\n"
	                           "    match: {request: SET_OWNER}\n"
	                           "    when: {nth: 1}\n"
	                           "    action: snapshot\n"
	                           "  - name: every-owner\n"
	                           "    match: {request: SET_OWNER}\n"
	                           "    action: snapshot\n"
	                           "  - name: drop-second-owner\n"
	                           "    match: {request: SET_OWNER}\n"
	                           "    when: {nth: 2}\n"
	                           "    action: drop\n");
	struct m x = {.chan = MAIN, .from = FE, .req = SET_OWNER};
	/* 1st: both snapshot rules fire, the first is named; nothing
	 * decides, so the message passes, marked LOG in the trace. */
	struct vup_verdict v = decide(r, &ss, &x);
	assert_int_equal(v.action, VUP_RULE_ACT_PASS);
	assert_null(v.rule);
	assert_string_equal(v.snapshot, "first-owner");
	assert_int_equal(v.nlogged, 2);
	assert_string_equal(v.logged[0], "first-owner");
	assert_string_equal(v.logged[1], "every-owner");
	assert_int_equal(vup_rules_trace_action(&v), VUP_TRACE_ACT_LOG);
	/* 2nd: nth 1 is done; a later drop decides, the snapshot stands. */
	v = decide(r, &ss, &x);
	assert_int_equal(v.action, VUP_RULE_ACT_DROP);
	assert_string_equal(v.rule, "drop-second-owner");
	assert_string_equal(v.snapshot, "every-owner");
	assert_int_equal(v.nlogged, 1);
	assert_int_equal(vup_rules_trace_action(&v), VUP_TRACE_ACT_DROP);
	v = decide(r, &ss, &x);
	assert_int_equal(v.action, VUP_RULE_ACT_PASS);
	assert_string_equal(v.snapshot, "every-owner");
	/* Another session has its own counters: nth 1 fires there again. */
	x.session = 2;
	v = decide(r, &ss2, &x);
	assert_string_equal(v.snapshot, "first-owner");
	/* "When SET_MEM_TABLE comes a second time": not the first. */
	x = (struct m){.chan = MAIN, .from = FE, .req = SET_MEM_TABLE};
	v = decide(r, &ss, &x);
	assert_null(v.snapshot);
	assert_int_equal(v.nlogged, 0);
	assert_int_equal(vup_rules_trace_action(&v), VUP_TRACE_ACT_PASS);
	v = decide(r, &ss, &x);
	assert_string_equal(v.snapshot, "second-mem-table");
	assert_int_equal(v.action, VUP_RULE_ACT_PASS);
	assert_int_equal(vup_rules_trace_action(&v), VUP_TRACE_ACT_LOG);
	v = decide(r, &ss, &x);
	assert_null(v.snapshot);
	vup_rules_session_free(ss);
	vup_rules_session_free(ss2);
	vup_rules_free(r);

	/* README's "the first NACK": any reply whose ack is not 0. */
	r = load("rules:\n"
	         "  - name: first-nack\n"
	         "    match: {reply: true, from: back-end, "
	         "fields: {ack: {ne: 0}}}\n"
	         "    when: {nth: 1}\n"
	         "    action: snapshot\n");
	ss = NULL;
	x = (struct m){.chan = MAIN,
	               .from = BE,
	               .req = SET_VRING_NUM,
	               .flags = REPLY,
	               .size = 8};
	assert_null(decide(r, &ss, &x).snapshot); /* ack 0 */
	put_u64(x.p, 0, 1);
	assert_string_equal(decide(r, &ss, &x).snapshot, "first-nack");
	assert_null(decide(r, &ss, &x).snapshot); /* once */
	vup_rules_session_free(ss);
	vup_rules_free(r);
}

static void disconnect_sides_and_fail(void **state)
{
	(void)state;
	struct vup_rules_session *ss = NULL;
	struct vup_rules *r = load(
	        "rules:\n"
	        "  - {name: fe, match: {code: 1}, action: {disconnect: "
	        "front-end}}\n"
	        "  - {name: be, match: {code: 2}, action: {disconnect: "
	        "back-end}}\n"
	        "  - {name: both, match: {code: 3}, action: {disconnect: "
	        "both}}\n"
	        "  - {name: plain, match: {code: 4}, action: disconnect}\n"
	        "  - {name: fail1, match: {code: 5}, action: fail}\n"
	        "  - {name: fail22, match: {code: 6}, action: {fail: 22}}\n"
	        "  - {name: big, match: {code: 7}, action: {fail: "
	        "0xffffffffffffffff}}\n");
	static const struct {
		uint32_t code;
		enum vup_rule_action action;
		unsigned disconnect;
		uint64_t fail;
		const char *rule;
	} cases[] = {
	        {1, VUP_RULE_ACT_DISCONNECT, 1, 0, "fe"},
	        {2, VUP_RULE_ACT_DISCONNECT, 2, 0, "be"},
	        {3, VUP_RULE_ACT_DISCONNECT, 3, 0, "both"},
	        {4, VUP_RULE_ACT_DISCONNECT, 3, 0, "plain"},
	        {5, VUP_RULE_ACT_FAIL, 0, 1, "fail1"},
	        {6, VUP_RULE_ACT_FAIL, 0, 22, "fail22"},
	        {7, VUP_RULE_ACT_FAIL, 0, UINT64_MAX, "big"},
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		struct m x = {.chan = MAIN,
		              .from = FE,
		              .req = cases[i].code,
		              .size = 8};
		struct vup_verdict v = decide(r, &ss, &x);
		assert_int_equal(v.action, cases[i].action);
		assert_int_equal(v.disconnect, cases[i].disconnect);
		assert_true(v.fail_value == cases[i].fail);
		assert_string_equal(v.rule, cases[i].rule);
		assert_int_equal(v.delay_ns, 0);
	}
	vup_rules_session_free(ss);
	vup_rules_free(r);
}

static void no_rules_pass(void **state)
{
	(void)state;
	struct vup_rules_session *ss = NULL;
	struct m x = {.chan = MAIN, .from = FE, .req = SET_OWNER};
	struct vup_verdict v = decide(NULL, &ss, &x);
	assert_int_equal(v.action, VUP_RULE_ACT_PASS);
	assert_null(v.rule);
	assert_int_equal(v.nlogged, 0);
	assert_null(v.snapshot);
	struct vup_rules *r = load("rules: []\n");
	v = decide(r, &ss, &x);
	assert_int_equal(v.action, VUP_RULE_ACT_PASS);
	vup_rules_session_free(ss);
	vup_rules_free(r);
}

/* A session's counters belong to one rule set; a reload starts them
 * over (a fresh vup_rules_session replaces the old one). */
static void generation_reset(void **state)
{
	(void)state;
	const char *text = "rules:\n"
	                   "  - name: twice\n"
	                   "    match: {request: SET_OWNER}\n"
	                   "    when: {first: 2}\n"
	                   "    action: drop\n"
	                   "  - name: global-once\n"
	                   "    match: {request: GET_FEATURES}\n"
	                   "    when: {first: 1, scope: global}\n"
	                   "    action: drop\n";
	struct vup_rules *r1 = load(text);
	struct vup_rules_session *ss = vup_rules_session_new(r1);
	assert_non_null(ss);
	assert_int_equal(act(r1, &ss, MAIN, FE, SET_OWNER, REQ, 0),
	                 VUP_RULE_ACT_DROP);
	assert_int_equal(act(r1, &ss, MAIN, FE, SET_OWNER, REQ, 0),
	                 VUP_RULE_ACT_DROP);
	assert_int_equal(act(r1, &ss, MAIN, FE, SET_OWNER, REQ, 0),
	                 VUP_RULE_ACT_PASS);
	assert_int_equal(act(r1, &ss, MAIN, FE, GET_FEATURES, REQ, 0),
	                 VUP_RULE_ACT_DROP);
	assert_int_equal(act(r1, &ss, MAIN, FE, GET_FEATURES, REQ, 0),
	                 VUP_RULE_ACT_PASS);

	struct vup_rules *r2 = load(text); /* a reload */
	assert_int_not_equal(r1->generation, r2->generation);
	assert_int_equal(act(r2, &ss, MAIN, FE, SET_OWNER, REQ, 0),
	                 VUP_RULE_ACT_DROP);
	assert_int_equal(act(r2, &ss, MAIN, FE, SET_OWNER, REQ, 0),
	                 VUP_RULE_ACT_DROP);
	assert_int_equal(act(r2, &ss, MAIN, FE, SET_OWNER, REQ, 0),
	                 VUP_RULE_ACT_PASS);
	assert_int_equal(act(r2, &ss, MAIN, FE, GET_FEATURES, REQ, 0),
	                 VUP_RULE_ACT_DROP);
	vup_rules_free(r1);

	/* A rule set with more rules than the old session knew. */
	struct vup_rules *r3 = load("rules:\n"
	                            "  - {name: a, action: log}\n"
	                            "  - {name: b, action: log}\n"
	                            "  - {name: c, when: {nth: 1}, action: "
	                            "drop}\n");
	assert_int_equal(act(r3, &ss, MAIN, FE, SET_OWNER, REQ, 0),
	                 VUP_RULE_ACT_DROP);
	assert_int_equal(act(r3, &ss, MAIN, FE, SET_OWNER, REQ, 0),
	                 VUP_RULE_ACT_PASS);
	vup_rules_session_free(ss);
	vup_rules_free(r2);
	vup_rules_free(r3);
	vup_rules_session_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(match_request),
	        cmocka_unit_test(match_code_and_channel),
	        cmocka_unit_test(match_from_and_reply),
	        cmocka_unit_test(match_session_and_socket),
	        cmocka_unit_test(match_vring),
	        cmocka_unit_test(match_fields),
	        cmocka_unit_test(match_features),
	        cmocka_unit_test(when_counts),
	        cmocka_unit_test(counters_count_matches),
	        cmocka_unit_test(scope_session_and_global),
	        cmocka_unit_test(probability_is_seeded),
	        cmocka_unit_test(probability_ignores_interleaving),
	        cmocka_unit_test(delay_and_jitter),
	        cmocka_unit_test(rewrite_field),
	        cmocka_unit_test(rewrite_features),
	        cmocka_unit_test(continue_and_log),
	        cmocka_unit_test(index_keeps_file_order),
	        cmocka_unit_test(rewrite_then_match_reads_anew),
	        cmocka_unit_test(log_is_capped),
	        cmocka_unit_test(snapshot_rules),
	        cmocka_unit_test(disconnect_sides_and_fail),
	        cmocka_unit_test(no_rules_pass),
	        cmocka_unit_test(generation_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
