/* Helpers of the relay step's unit tests (test_step*.c): one session
 * (flow and model), rules from YAML, messages stepped as the adapter
 * does, and the actions written out as text so that a test states the
 * exact list.  The fds are plain numbers: the step never touches them. */
#ifndef VUP_TESTS_STEP_FEED_H
#define VUP_TESTS_STEP_FEED_H

#include <stdio.h>
#include <stdlib.h>

#include "relay/step.h"
#include "unit.h"

#define MAIN VUP_CHAN_MAIN
#define BCH  VUP_CHAN_BACKEND
#define FE   VUP_FRONTEND
#define BE   VUP_BACKEND
#define NEED (VUP_FLAG_VERSION | VUP_FLAG_NEED_REPLY)

#define MS  1000000ull
#define NOW (7ull * 1000000000ull) /* the hold queues' clock */

#define F_VERSION_1   (1ull << VUP_F_VERSION_1)
#define F_RING_PACKED (1ull << VUP_F_RING_PACKED)
#define F_PROTOCOL    (1ull << VUP_F_PROTOCOL_FEATURES)
#define PF_REPLY_ACK  (1ull << VUP_PF_REPLY_ACK)
#define PF_BACKEND    (1ull << VUP_PF_BACKEND_REQ)

enum {
	SET_OWNER = 3,
	SET_VRING_ENABLE = 18,
	GET_CONFIG = 24,
	BACKEND_CONFIG_CHANGE_MSG = 2, /* on the back-end channel */
};

static struct vup_flow flow;
static struct vup_rules *rules;
static struct vup_rules_session *rules_state;
static struct vup_step_ctx ctx;
static struct vup_msg msg;
static struct vup_view view;
static struct vup_step st;
/* The kind the next messages' fds have: sockets, or eventfds. */
static bool fd_is_socket;
static struct vup_fd_info fd_kinds[VUP_MAX_FDS];

static inline int setup(void **state)
{
	(void)state;
	if (vup_flow_init(&flow))
		return -1;
	fd_is_socket = false;
	ctx = (struct vup_step_ctx){
	        .flow = &flow,
	        .rules_state = &rules_state,
	        .session = 1,
	        .frontend_path = "/run/vm.sock",
	        .backend_path = "/run/be.sock",
	        .now_ns = NOW,
	};
	return 0;
}

static inline int teardown(void **state)
{
	(void)state;
	vup_flow_free(&flow);
	vup_rules_session_free(rules_state);
	rules_state = NULL;
	vup_rules_free(rules);
	rules = NULL;
	return 0;
}

static inline void use_rules(const char *yaml)
{
	char err[4096];
	if (vup_rules_parse("t.yaml", yaml, strlen(yaml), &rules, err,
	                    sizeof(err), NULL, 0))
		fail_msg("rules refused:\n%s", err);
	ctx.rules = rules;
}

/* Decide for one message: payload p of size bytes, nfds fds (made-up
 * numbers).  The view is decoded as the adapter does.  step_any: the
 * step may change the fds (--active). */
static inline void step_any(enum vup_chan chan, enum vup_side from,
                            uint32_t req, uint32_t flags, const void *p,
                            uint32_t size, unsigned nfds)
{
	msg.hdr = hdr(req, flags, size);
	memset(msg.payload, 0, sizeof(msg.payload));
	if (size)
		memcpy(msg.payload, p, size);
	msg.nfds = nfds;
	for (unsigned i = 0; i < VUP_MAX_FDS; i++)
		msg.fds[i] = i < nfds ? 100 + (int)i : -1;
	vup_view_decode(&view, chan, from, &msg.hdr, msg.payload, msg.fds, nfds,
	                vup_flow_neg(&flow), 42);
	for (unsigned i = 0; i < nfds; i++)
		fd_kinds[i] = (struct vup_fd_info){
		        .kind = fd_is_socket ? VUP_FDK_SOCKET
		                             : VUP_FDK_EVENTFD};
	view.fd_info = nfds ? fd_kinds : NULL;
	memset(&st, 0xa5, sizeof(st)); /* what is reported is written */
	vup_step(&ctx, &msg, &view, &st);
	assert_true(st.n <= VUP_STEP_ACTIONS_MAX);
	assert_true(st.findings.n <= VUP_FLOW_FINDINGS_MAX);
}

static inline void step(enum vup_chan chan, enum vup_side from, uint32_t req,
                        uint32_t flags, const void *p, uint32_t size,
                        unsigned nfds)
{
	step_any(chan, from, req, flags, p, size, nfds);
	/* The step leaves the fds to the adapter. */
	assert_int_equal(msg.nfds, nfds);
}

static inline void step_u64(enum vup_chan chan, enum vup_side from,
                            uint32_t req, uint32_t flags, uint64_t x,
                            unsigned nfds)
{
	uint8_t p[8];
	put_u64(p, 0, x);
	step(chan, from, req, flags, p, 8, nfds);
}

/* {u32 index, u32 num}: vring state and enable. */
static inline void step_state(uint32_t req, uint32_t flags, uint32_t index,
                              uint32_t num)
{
	uint8_t p[8];
	put_u32(p, 0, index);
	put_u32(p, 4, num);
	step(MAIN, FE, req, flags, p, 8, 0);
}

/* ---- the actions, as text ---- */

static const char *const kinds[] = {"RECORD", "REFUSE",  "SEND",
                                    "HOLD",   "DISCARD", "CLOSE"};
static const char *const msgs[] = {"in", "orig", "answer"};

/* "KIND(msg[ side action][ rule=R][ flags][ +release][ sides=N]), ..."
 * with every field an action has set, whatever its kind. */
static inline const char *actions(void)
{
	static char s[1024];
	size_t at = 0;
	s[0] = '\0';
	for (unsigned i = 0; i < st.n && at < sizeof(s); i++) {
		const struct vup_step_action *a = &st.a[i];
		assert_true(a->kind < COUNT(kinds) && a->msg < COUNT(msgs));
		char rel[40] = "";
		if (a->kind == VUP_STEP_HOLD)
			snprintf(rel, sizeof(rel), " +%lld",
			         (long long)(a->release_ns - NOW));
		else
			assert_int_equal(a->release_ns, 0);
		char rec[40] = "";
		if (a->kind == VUP_STEP_RECORD)
			snprintf(rec, sizeof(rec), " %s %s",
			         a->from == FE ? "fe" : "be",
			         vup_trace_action_name(a->action));
		at += (size_t)snprintf(
		        s + at, sizeof(s) - at, "%s%s(%s%s%s%s%s%s%s%s%s",
		        i ? ", " : "", kinds[a->kind], msgs[a->msg], rec,
		        a->rule ? " rule=" : "", a->rule ? a->rule : "",
		        a->back ? " back" : "",
		        a->interpose ? " interpose" : "",
		        a->as_sent ? " as_sent" : "",
		        a->marked ? " marked" : "", rel);
		if (a->sides && at < sizeof(s))
			at += (size_t)snprintf(s + at, sizeof(s) - at,
			                       " sides=%u", a->sides);
		if (at < sizeof(s))
			at += (size_t)snprintf(s + at, sizeof(s) - at, ")");
	}
	return s;
}

#define expect_actions(want) assert_string_equal(actions(), want)

static inline bool found(enum vup_problem kind)
{
	for (unsigned i = 0; i < st.findings.n; i++)
		if (st.findings.f[i].kind == kind)
			return true;
	return false;
}

/* The event of kind k the step returned, with its index and value. */
#define expect_event(k, i, v)                                                  \
	do {                                                                   \
		const struct vup_model_event *e_ = event(k);                   \
		if (!e_)                                                       \
			fail_msg("no \"%s\" event", vup_model_event_name(k));  \
		assert_int_equal(e_->index, (i));                              \
		assert_int_equal(e_->value, (v));                              \
	} while (0)

static inline const struct vup_model_event *event(enum vup_model_event_kind k)
{
	for (unsigned i = 0; i < st.events.n; i++)
		if (st.events.e[i].kind == k)
			return &st.events.e[i];
	return NULL;
}

static inline uint64_t answer_u64(void)
{
	uint64_t x;
	assert_int_equal(st.answer_hdr.size, 8);
	memcpy(&x, st.answer, 8);
	return x;
}

/* Negotiate REPLY_ACK (and BACKEND_REQ) as a front-end does: offered,
 * then acked, each message stepped without rules. */
static inline void negotiate_reply_ack(void)
{
	struct vup_rules *keep = ctx.rules;
	ctx.rules = NULL;
	step(MAIN, FE, VUP_REQ_GET_FEATURES, REQ, NULL, 0, 0);
	step_u64(MAIN, BE, VUP_REQ_GET_FEATURES, REPLY,
	         F_VERSION_1 | F_PROTOCOL, 0);
	step_u64(MAIN, FE, VUP_REQ_SET_FEATURES, REQ, F_VERSION_1 | F_PROTOCOL,
	         0);
	step(MAIN, FE, VUP_REQ_GET_PROTOCOL_FEATURES, REQ, NULL, 0, 0);
	step_u64(MAIN, BE, VUP_REQ_GET_PROTOCOL_FEATURES, REPLY,
	         PF_REPLY_ACK | PF_BACKEND, 0);
	step_u64(MAIN, FE, VUP_REQ_SET_PROTOCOL_FEATURES, REQ,
	         PF_REPLY_ACK | PF_BACKEND, 0);
	expect_actions("RECORD(in fe pass marked), SEND(in)");
	assert_string_equal(st.mark, "");
	assert_int_equal(vup_flow_neg(&flow)->protocol_features,
	                 PF_REPLY_ACK | PF_BACKEND);
	ctx.rules = keep;
}

#define FAIL_ENABLE_YAML                                                       \
	"rules:\n"                                                             \
	"  - name: no-enable\n"                                                \
	"    match: {request: SET_VRING_ENABLE}\n"                             \
	"    action: fail\n"

#endif
