/* libFuzzer target for the rules loader (src/rules): arbitrary bytes as a
 * rules file.  Checked besides memory safety and leaks: a refused file
 * has at least one error, each starting with the file name; an accepted
 * file gives a rule set on which vup_rules_decide runs over every request
 * of the catalogue (request and reply, both channels, with payload bytes
 * taken from the input), in two sessions, with identical verdicts unless
 * a rule counts globally.  Data rules: vup_data_decide over frames and
 * disk requests made from the input, on several vrings and sessions, with
 * sane verdicts (parameters within the frame, a status for fail, a rule
 * named), the same again from fresh states (same seed, same decisions),
 * and -ENOSPC for a state too small.
 *
 * Build: CC=clang cmake -DVUP_FUZZ=ON; run: fuzz_rules [-dict=
 * tests/fuzz/fuzz_rules.dict] tests/fuzz/corpus/rules.
 */
#include <errno.h>
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

static void data_verdict_ok(const struct vup_data_req *q,
                            const struct vup_data_verdict *v)
{
	CHECK(v->action < VUP_DATA_ACT_COUNT);
	CHECK(v->action == VUP_DATA_ACT_PASS || v->rule != NULL);
	CHECK((uint64_t)v->offset + v->bytes <= q->len);
	CHECK(v->delay_ns <= 2 * VUP_RULES_MAX_DELAY);
	if (v->action == VUP_DATA_ACT_FAIL)
		CHECK(q->device == VUP_DATA_BLK &&
		      (v->blk_status == 1 || v->blk_status == 2));
	if (v->action == VUP_DATA_ACT_DROP ||
	    v->action == VUP_DATA_ACT_DUPLICATE ||
	    v->action == VUP_DATA_ACT_CORRUPT)
		CHECK(q->device == VUP_DATA_NET);
	if (v->action == VUP_DATA_ACT_CORRUPT_READ)
		CHECK(q->device == VUP_DATA_BLK);
	for (uint32_t i = 0; i < v->bytes && i < 64; i++)
		CHECK(vup_data_corrupt_xor(v, i) != 0);
}

#define DATA_REQS   48
#define DATA_VRINGS 4

/* Request i, its fields taken from the input. */
static struct vup_data_req data_req(const uint8_t *data, size_t size,
                                    unsigned i)
{
	uint8_t b[16] = {0};
	for (unsigned k = 0; k < sizeof(b) && size; k++)
		b[k] = data[(i * 7 + k * 13) % size];
	struct vup_data_req q = {
	        .session = 1 + b[0] % 2,
	        .vring = b[1] % DATA_VRINGS,
	        .device = b[2] & 1 ? VUP_DATA_BLK : VUP_DATA_NET,
	        .len = (uint32_t)b[3] << 8 | b[4],
	        .type = b[5] % 16,
	};
	uint64_t sector, sectors;
	memcpy(&sector, b + 6, sizeof(sector));
	sectors = b[14] % 9;
	q.sector = b[15] & 1 ? sector : sector % 4096;
	q.sectors = sectors;
	return q;
}

static void exercise_data(const struct vup_rules *r, const uint8_t *data,
                          size_t size)
{
	size_t bytes = vup_data_state_size(r);
	struct vup_data_state *st[2][DATA_VRINGS * 2];
	struct vup_data_verdict first[DATA_REQS];
	for (int run = 0; run < 2; run++) {
		for (unsigned k = 0; k < DATA_VRINGS * 2; k++) {
			st[run][k] = malloc(bytes);
			CHECK(st[run][k]);
			vup_data_state_init(st[run][k], bytes);
		}
		for (unsigned i = 0; i < DATA_REQS; i++) {
			struct vup_data_req q = data_req(data, size, i);
			struct vup_data_verdict v;
			unsigned k = (q.session - 1) * DATA_VRINGS + q.vring;
			CHECK(vup_data_decide(r, st[run][k], &q, &v) == 0);
			data_verdict_ok(&q, &v);
			if (run == 0) {
				first[i] = v;
				continue;
			}
			CHECK(v.action == first[i].action);
			CHECK(v.delay_ns == first[i].delay_ns);
			CHECK(v.offset == first[i].offset &&
			      v.bytes == first[i].bytes);
			CHECK(v.corrupt_key == first[i].corrupt_key);
		}
	}
	for (int run = 0; run < 2; run++)
		for (unsigned k = 0; k < DATA_VRINGS * 2; k++)
			free(st[run][k]);
	if (r->ndata) {
		struct vup_data_state tiny;
		vup_data_state_init(&tiny, sizeof(tiny));
		struct vup_data_req q = data_req(data, size, 0);
		struct vup_data_verdict v;
		CHECK(vup_data_decide(r, &tiny, &q, &v) == -ENOSPC);
		CHECK(v.action == VUP_DATA_ACT_PASS);
	}
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
	for (unsigned i = 0; i < r->ndata; i++)
		CHECK(r->data[i].name && r->data[i].name[0] &&
		      r->data[i].devices >= 1 && r->data[i].devices <= 3);
	exercise(r, data, size);
	exercise_data(r, data, size);
	vup_rules_free(r);
	return 0;
}
