/* libFuzzer target for the rules loader (src/rules): arbitrary bytes as a
 * rules file.  Checked besides memory safety and leaks: a refused file
 * has at least one error, each starting with the file name; an accepted
 * file gives a rule set on which vup_rules_decide runs over every request
 * of the catalogue (request and reply, both channels, with payload bytes
 * taken from the input), in two sessions, with identical verdicts unless
 * a rule counts globally.
 *
 * Build: CC=clang cmake -DVUP_FUZZ=ON; run: fuzz_rules [-dict=
 * tests/fuzz/fuzz_rules.dict] tests/fuzz/corpus/rules.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/internal.h" /* the rules of a set */
#include "vuproxy/rules.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			        __LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

#define PAYLOAD 64

static void verdict_ok(const struct vup_verdict *v)
{
	CHECK(v->action < VUP_RULE_ACT_COUNT);
	/* The trace's own notes are never a verdict's. */
	enum vup_trace_action t = vup_rules_trace_action(v);
	CHECK(t < VUP_TRACE_ACT_COUNT && t != VUP_TRACE_ACT_REFUSED &&
	      t != VUP_TRACE_ACT_RELEASED);
	CHECK(v->nlogged <= VUP_VERDICT_MAX_LOGGED);
	/* A snapshot rule that fired is noted like a log. */
	CHECK(!v->snapshot || v->nlogged > 0);
	CHECK(v->action == VUP_RULE_ACT_PASS || v->action == VUP_RULE_ACT_LOG ||
	      v->rule != NULL);
	CHECK(v->action != VUP_RULE_ACT_DISCONNECT ||
	      (v->disconnect >= 1 && v->disconnect <= 3));
}

static void one(struct vup_rules *r, struct vup_rules_session **ss,
                enum vup_chan chan, uint32_t code, bool reply, uint32_t size,
                const uint8_t *seed, const struct vup_negotiated *neg,
                struct vup_verdict *v)
{
	uint8_t payload[PAYLOAD];
	memcpy(payload, seed, PAYLOAD);
	struct vup_hdr h = {code, 1u | (reply ? 4u : 0u), size};
	enum vup_side from =
	        (chan == VUP_CHAN_MAIN) == reply ? VUP_BACKEND : VUP_FRONTEND;
	struct vup_rules_msg m = {
	        .session = 1,
	        .frontend_path = "/run/vm1.sock",
	        .backend_path = "/run/dpdk/vhost0.sock",
	        .chan = chan,
	        .from = from,
	        .hdr = &h,
	        .payload = payload,
	        .neg = neg,
	};
	vup_rules_decide(r, ss, &m, v);
	verdict_ok(v);
}

static void exercise(struct vup_rules *r, const uint8_t *data, size_t size)
{
	uint8_t seed[PAYLOAD] = {0};
	memcpy(seed, data, size < PAYLOAD ? size : PAYLOAD);
	struct vup_negotiated none = {0}, all = {UINT64_MAX, UINT64_MAX};
	struct vup_rules_session *s1 = NULL, *s2 = vup_rules_session_new(r);
	bool global = false; /* global counters: the sessions differ */
	for (unsigned i = 0; i < r->n; i++)
		global |= r->rules[i].when.global;
	for (int ch = VUP_CHAN_MAIN; ch <= VUP_CHAN_BACKEND; ch++) {
		for (size_t i = 0; i <= vup_proto_count(ch); i++) {
			const struct vup_msg_type *t = vup_proto_at(ch, i);
			uint32_t code = t ? t->code : 1000; /* and an unknown */
			for (int rep = 0; rep < 2; rep++) {
				uint32_t len =
				        t ? (rep ? t->rep_max : t->req_max) : 8;
				if (len > PAYLOAD)
					len = PAYLOAD;
				struct vup_verdict a, b;
				const struct vup_negotiated *neg =
				        (i & 1) ? &all : &none;
				one(r, &s1, ch, code, rep, len, seed, neg, &a);
				one(r, &s2, ch, code, rep, len, seed, neg, &b);
				/* Same counts, same seed: same verdict. */
				if (global)
					continue;
				CHECK(a.action == b.action);
				CHECK(a.delay_ns == b.delay_ns);
				CHECK(a.rewritten == b.rewritten);
				CHECK(a.nlogged == b.nlogged);
			}
		}
	}
	vup_rules_session_free(s1);
	vup_rules_session_free(s2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[4096], warn[2048];
	struct vup_rules *r = (struct vup_rules *)1;
	int rc = vup_rules_parse("f.yaml", (const char *)data, size, &r, err,
	                         sizeof(err), warn, sizeof(warn));
	CHECK(strlen(err) < sizeof(err) && strlen(warn) < sizeof(warn));
	if (rc) {
		CHECK(r == NULL);
		CHECK(strncmp(err, "f.yaml:", 7) == 0);
		return 0;
	}
	CHECK(r != NULL && err[0] == '\0');
	CHECK(warn[0] == '\0' || strncmp(warn, "f.yaml:", 7) == 0);
	for (unsigned i = 0; i < r->n; i++)
		CHECK(r->rules[i].name && r->rules[i].name[0]);
	exercise(r, data, size);
	vup_rules_free(r);
	return 0;
}
