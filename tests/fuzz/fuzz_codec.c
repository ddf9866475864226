/* libFuzzer target for the message codec: src/proto (validation, fields,
 * rendering) and src/relay/flow.c (per-session state, reply FIFO).
 *
 * Input: a sequence of records, each
 *   1 byte   control: bit 0 = channel (0 main, 1 back-end channel),
 *            bit 1 = sender (0 front-end, 1 back-end),
 *            bits 2-7 = number of fds the message claims (mod 33)
 *   12 bytes header: request, flags, size (native endian)
 *   payload: min(size, bytes left) bytes; the header's size is set to what
 *            is present, as the channel only delivers whole messages.
 * A header announcing more than VUP_MAX_PAYLOAD bytes is only given to
 * vup_proto_check_header (the channel refuses it before any payload).
 *
 * Every message goes through vup_flow_inspect (a session refused without
 * --strict starts over, as a new one would; with --strict's refusals the
 * state goes on, as for a relayed message), then vup_render_text and
 * vup_render_json with the session's negotiated state and with everything
 * negotiated, into an exact-size heap buffer and into a small one.
 * Checked besides memory safety: findings are known kinds with a reason,
 * their text is NUL-terminated with the length it returns, the replies
 * owed stay within their FIFO, renderings are NUL-terminated with the
 * length they return, JSON is valid, and writing a field's own value back
 * leaves the payload unchanged.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/flow.h"
#include "vuproxy/proto.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			        __LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

/* ---- a strict JSON syntax check (RFC 8259 grammar) ----
 * Not instrumented for coverage: its branches are not the code under
 * test and would only add noise to libFuzzer's feedback. */
#define NOCOV __attribute__((no_sanitize("coverage")))

struct jp {
	const char *s;
	size_t i, n;
	int depth;
};

static bool jvalue(struct jp *j);

NOCOV static void jws(struct jp *j)
{
	while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\n' ||
	                       j->s[j->i] == '\t' || j->s[j->i] == '\r'))
		j->i++;
}

NOCOV static bool jeat(struct jp *j, char c)
{
	jws(j);
	if (j->i < j->n && j->s[j->i] == c) {
		j->i++;
		return true;
	}
	return false;
}

NOCOV static bool jstring(struct jp *j)
{
	if (!jeat(j, '"'))
		return false;
	while (j->i < j->n) {
		unsigned char c = (unsigned char)j->s[j->i++];
		if (c == '"')
			return true;
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (j->i >= j->n)
				return false;
			c = (unsigned char)j->s[j->i++];
			if (c == 'u') {
				for (int k = 0; k < 4; k++) {
					if (j->i >= j->n)
						return false;
					char x = j->s[j->i++];
					if (!((x >= '0' && x <= '9') ||
					      (x >= 'a' && x <= 'f') ||
					      (x >= 'A' && x <= 'F')))
						return false;
				}
			} else if (c != '"' && c != '\\' && c != '/' &&
			           c != 'b' && c != 'f' && c != 'n' &&
			           c != 'r' && c != 't') {
				return false;
			}
		}
	}
	return false;
}

NOCOV static bool jnumber(struct jp *j)
{
	size_t start;
	if (j->i < j->n && j->s[j->i] == '-')
		j->i++;
	if (j->i < j->n && j->s[j->i] == '0') {
		j->i++;
	} else {
		start = j->i;
		while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
			j->i++;
		if (j->i == start)
			return false;
	}
	/* vuproxy writes integers only. */
	return true;
}

NOCOV static bool jlist(struct jp *j, char close, bool members)
{
	j->i++;
	if (jeat(j, close))
		return true;
	do {
		if (members && (!jstring(j) || !jeat(j, ':')))
			return false;
		if (!jvalue(j))
			return false;
	} while (jeat(j, ','));
	return jeat(j, close);
}

NOCOV static bool jvalue(struct jp *j)
{
	jws(j);
	if (j->i >= j->n || ++j->depth > 32)
		return false;
	bool ok;
	switch (j->s[j->i]) {
	case '{': ok = jlist(j, '}', true); break;
	case '[': ok = jlist(j, ']', false); break;
	case '"': ok = jstring(j); break;
	case 't':
		ok = j->n - j->i >= 4 && !memcmp(j->s + j->i, "true", 4);
		j->i += 4;
		break;
	case 'f':
		ok = j->n - j->i >= 5 && !memcmp(j->s + j->i, "false", 5);
		j->i += 5;
		break;
	default: ok = jnumber(j); break;
	}
	j->depth--;
	return ok;
}

NOCOV static bool json_object_ok(const char *s, size_t n)
{
	struct jp j = {s, 0, n, 0};
	jws(&j);
	if (j.i >= n || s[j.i] != '{' || !jvalue(&j))
		return false;
	jws(&j);
	return j.i == n;
}

/* ---- one message ---- */

typedef size_t (*render_fn)(char *, size_t, const struct vup_hdr *,
                            const uint8_t *, enum vup_chan,
                            const struct vup_negotiated *);

static void render_checked(render_fn fn, bool json, const struct vup_hdr *h,
                           const uint8_t *p, enum vup_chan chan,
                           const struct vup_negotiated *neg, size_t small)
{
	static char buf[1 << 16];
	size_t n = fn(buf, sizeof(buf), h, p, chan, neg);
	CHECK(n < sizeof(buf));
	CHECK(strlen(buf) == n);
	if (json && !json_object_ok(buf, n)) {
		fprintf(stderr, "invalid JSON: %s\n", buf);
		abort();
	}
	/* Truncated: a terminated prefix, same return value. */
	char *cut = malloc(small);
	CHECK(cut);
	CHECK(fn(cut, small, h, p, chan, neg) == n);
	size_t want = n < small ? n : small - 1;
	CHECK(strlen(cut) == want);
	CHECK(memcmp(cut, buf, want) == 0);
	free(cut);
}

/* get(f) then set(f, same value) must not change the payload. */
static void fields_round_trip(const struct vup_hdr *h, uint8_t *p,
                              enum vup_chan chan,
                              const struct vup_negotiated *neg)
{
	const struct vup_msg_type *t = vup_proto_lookup(chan, h->request);
	size_t n;
	const struct vup_field *f =
	        vup_layout_fields(vup_msg_layout(t, h, neg), &n);
	uint8_t *before = malloc(h->size ? h->size : 1);
	CHECK(before);
	if (h->size)
		memcpy(before, p, h->size);
	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		bool got = vup_field_get(&f[i], p, h->size, &v);
		if (!got) {
			CHECK(!vup_field_set(&f[i], p, h->size, 0));
			continue;
		}
		if (f[i].bits)
			CHECK(v >> f[i].bits == 0);
		CHECK(vup_field_set(&f[i], p, h->size, v));
		CHECK(h->size == 0 || memcmp(before, p, h->size) == 0);
	}
	free(before);
}

static struct vup_flow flow;
static struct vup_msg msg;

static void one_message(uint8_t ctl, const struct vup_hdr *h,
                        const uint8_t *data)
{
	enum vup_chan chan = ctl & 1 ? VUP_CHAN_BACKEND : VUP_CHAN_MAIN;
	enum vup_side from = ctl & 2 ? VUP_BACKEND : VUP_FRONTEND;
	unsigned nfds = (ctl >> 2) % (VUP_MAX_FDS + 1);

	msg.hdr = *h;
	memcpy(msg.payload, data, h->size);
	msg.nfds = nfds;
	for (unsigned i = 0; i < VUP_MAX_FDS; i++)
		msg.fds[i] = i < nfds ? 1000 + (int)i : -1;
	struct vup_negotiated before = *vup_flow_neg(&flow);
	struct vup_findings fs;
	vup_flow_inspect(&flow, chan, from, &msg, &fs);
	CHECK(fs.n <= VUP_FLOW_FINDINGS_MAX);
	for (unsigned i = 0; i < fs.n; i++) {
		CHECK(fs.f[i].kind > VUP_PROBLEM_NONE &&
		      fs.f[i].kind < VUP_PROBLEM_COUNT);
		CHECK(memchr(fs.f[i].why, '\0', sizeof(fs.f[i].why)) &&
		      fs.f[i].why[0] != '\0');
	}
	for (int c = 0; c < 2; c++)
		CHECK(vup_model_owed_count(flow.model, c) <=
		      VUP_FLOW_PENDING_MAX);
	char text[64];
	size_t tl = vup_findings_text(&fs, text, sizeof(text));
	CHECK(strlen(text) == (tl < sizeof(text) ? tl : sizeof(text) - 1));
	/* The validator's first problem is the flow's first finding. */
	char why2[256] = "";
	enum vup_problem p2 = vup_proto_check(h, msg.payload, nfds, chan, from,
	                                      &before, why2, sizeof(why2));
	CHECK(p2 == VUP_PROBLEM_NONE ||
	      (fs.n && fs.f[0].kind == p2 &&
	       strncmp(fs.f[0].why, why2, sizeof(fs.f[0].why) - 1) == 0));
	bool refused = vup_findings_refusal(&fs, false) != NULL;

	/* Rendering reads only the payload it is given. */
	uint8_t *p = h->size ? malloc(h->size) : NULL;
	if (h->size) {
		CHECK(p);
		memcpy(p, data, h->size);
	}
	const struct vup_negotiated all = {~0ull, ~0ull};
	const struct vup_negotiated *negs[] = {vup_flow_neg(&flow), &all};
	size_t small = 1 + (ctl >> 2);
	for (int k = 0; k < 2; k++) {
		render_checked(vup_render_text, false, h, p, chan, negs[k],
		               small);
		render_checked(vup_render_json, true, h, p, chan, negs[k],
		               small);
		fields_round_trip(h, p, chan, negs[k]);
	}
	(void)vup_proto_reply_expected(h, chan, vup_flow_neg(&flow));
	free(p);
	if (refused)
		vup_flow_init(&flow); /* the session closes; a new one starts */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vup_flow_init(&flow);
	size_t at = 0;
	while (size - at >= 1 + VUP_HDR_SIZE) {
		uint8_t ctl = data[at++];
		struct vup_hdr h;
		memcpy(&h, data + at, VUP_HDR_SIZE);
		at += VUP_HDR_SIZE;
		if (h.size > VUP_MAX_PAYLOAD) {
			enum vup_chan chan =
			        ctl & 1 ? VUP_CHAN_BACKEND : VUP_CHAN_MAIN;
			enum vup_side from =
			        ctl & 2 ? VUP_BACKEND : VUP_FRONTEND;
			char why[64];
			CHECK(vup_proto_check_header(&h, chan, from, why,
			                             sizeof(why)) ==
			              VUP_PROBLEM_PAYLOAD_LIMIT ||
			      (h.flags & VUP_FLAG_VERSION_MASK) !=
			              VUP_FLAG_VERSION);
			continue;
		}
		if (h.size > size - at)
			h.size = (uint32_t)(size - at);
		one_message(ctl, &h, data + at);
		at += h.size;
	}
	return 0;
}
