/* Unit tests for src/relay/flow.c: validation through the session's
 * negotiated state, negotiation tracking, the per-channel FIFO that
 * attributes replies to requests, and the warnings' rate limit.
 *
 * feed() answers as --strict would (-EPROTO: refused, reason in why);
 * without --strict only what vup_problem_refused(p, false) says is
 * refused, and the tests under "relayed" check what then happens. */
#include <errno.h>
#include <stdio.h>

#include "relay/flow.h"
#include "unit.h"

#define M   VUP_CHAN_MAIN
#define B   VUP_CHAN_BACKEND
#define FE  VUP_FRONTEND
#define BE  VUP_BACKEND
#define NR  (VUP_FLAG_VERSION | VUP_FLAG_NEED_REPLY)
#define REP (VUP_FLAG_VERSION | VUP_FLAG_REPLY)

#define PF_REPLY_ACK (1ull << VUP_PF_REPLY_ACK)
#define PF_LOG_SHMFD (1ull << VUP_PF_LOG_SHMFD)
#define PF_XEN_MMAP  (1ull << VUP_PF_XEN_MMAP)

static struct vup_flow flow;
static struct vup_msg msg;
static char why[256], warn[256];
static struct vup_findings found;

static int setup(void **state)
{
	(void)state;
	vup_flow_init(&flow);
	return 0;
}

/* Feed one message: payload p of size bytes (NULL = zeros), nfds fds. */
static int feed(enum vup_chan chan, enum vup_side from, uint32_t req,
                uint32_t flags, const void *p, uint32_t size, unsigned nfds)
{
	msg.hdr.request = req;
	msg.hdr.flags = flags;
	msg.hdr.size = size;
	memset(msg.payload, 0, sizeof(msg.payload));
	if (p)
		memcpy(msg.payload, p, size);
	msg.nfds = nfds;
	for (unsigned i = 0; i < VUP_MAX_FDS; i++)
		msg.fds[i] = -1;
	memset(&found, 0xa5, sizeof(found));
	vup_flow_inspect(&flow, chan, from, &msg, &found);
	assert_true(found.n <= VUP_FLOW_FINDINGS_MAX);
	why[0] = warn[0] = '\0';
	const struct vup_finding *no = vup_findings_refusal(&found, true);
	if (no) {
		assert_true(strlen(no->why) > 0);
		snprintf(why, sizeof(why), "%s", no->why);
	}
	/* What even --strict relays: the remarks. */
	for (unsigned i = 0; i < found.n; i++)
		if (vup_problem_class(found.f[i].kind) == VUP_PC_REPORT)
			snprintf(warn + strlen(warn),
			         sizeof(warn) - strlen(warn), "%s;",
			         found.f[i].why);
	return no ? -EPROTO : 0;
}

/* Was a problem of this kind found in the last message fed? */
static bool found_kind(enum vup_problem kind)
{
	for (unsigned i = 0; i < found.n; i++)
		if (found.f[i].kind == kind)
			return true;
	return false;
}

/* A u64 payload. */
static int feed64(enum vup_chan chan, enum vup_side from, uint32_t req,
                  uint32_t flags, uint64_t v, unsigned nfds)
{
	return feed(chan, from, req, flags, &v, 8, nfds);
}

/* Front-end request / back-end reply on the main channel. */
static int ask(uint32_t req, uint32_t flags, uint32_t size)
{
	return feed(M, FE, req, flags, NULL, size, 0);
}

static int answer(uint32_t req, uint32_t size)
{
	return feed(M, BE, req, REP, NULL, size, 0);
}

static void negotiate(uint64_t protocol_features)
{
	assert_int_equal(feed64(M, FE, 16, REQ, protocol_features, 0), 0);
	assert_int_equal(vup_flow_neg(&flow)->protocol_features,
	                 protocol_features);
}

/* ---- attribution ---- */

static void replies_in_order(void **state)
{
	(void)state;
	assert_int_equal(ask(1, REQ, 0), 0);  /* GET_FEATURES */
	assert_int_equal(ask(15, REQ, 0), 0); /* GET_PROTOCOL_FEATURES */
	assert_int_equal(ask(17, REQ, 0), 0); /* GET_QUEUE_NUM */
	assert_int_equal(answer(1, 8), 0);
	assert_int_equal(answer(15, 8), 0);
	assert_int_equal(answer(17, 8), 0);
	/* Each request was answered once. */
	assert_int_equal(answer(1, 8), -EPROTO);
	assert_contains(why, "nobody asked for");
	assert_contains(why, "GET_FEATURES");
}

static void reply_nobody_asked_for(void **state)
{
	(void)state;
	assert_int_equal(answer(1, 8), -EPROTO);
	assert_contains(why, "nobody asked for");
	/* A request without NEED_REPLY gets no ack. */
	assert_int_equal(feed64(M, FE, 8, REQ, 0, 0), 0);
	assert_int_equal(answer(8, 8), -EPROTO);
	assert_contains(why, "nobody asked for");
	assert_contains(why, "SET_VRING_NUM");
}

static void reply_out_of_order(void **state)
{
	(void)state;
	assert_int_equal(ask(1, REQ, 0), 0);
	assert_int_equal(ask(15, REQ, 0), 0);
	assert_int_equal(answer(15, 8), -EPROTO);
	assert_contains(why, "reply to GET_PROTOCOL_FEATURES while a reply "
	                     "to GET_FEATURES is owed");
}

/* NEED_REPLY without REPLY_ACK: the back-end may or may not answer. */
static void optional_reply_skipped(void **state)
{
	(void)state;
	assert_int_equal(feed64(M, FE, 8, NR, 0, 0), 0); /* SET_VRING_NUM */
	uint8_t st[8] = {0};
	assert_int_equal(feed(M, FE, 11, REQ, st, 8, 0),
	                 0); /* GET_VRING_BASE */
	assert_int_equal(answer(11, 8), 0);
	/* The skipped optional entry is gone. */
	assert_int_equal(answer(8, 8), -EPROTO);
	assert_contains(why, "nobody asked for");
}

static void optional_reply_given(void **state)
{
	(void)state;
	assert_int_equal(feed64(M, FE, 8, NR, 0, 0), 0);
	assert_int_equal(answer(8, 8), 0);
	assert_int_equal(answer(8, 8), -EPROTO);
}

static void several_optional_then_mandatory(void **state)
{
	(void)state;
	for (int i = 0; i < 5; i++)
		assert_int_equal(feed64(M, FE, 18, NR, 1, 0), 0);
	assert_int_equal(ask(1, REQ, 0), 0);
	assert_int_equal(answer(18, 8), 0); /* one of them answered */
	assert_int_equal(answer(1, 8), 0);  /* the rest skipped */
	assert_int_equal(answer(18, 8), -EPROTO);
}

static void mandatory_with_reply_ack(void **state)
{
	(void)state;
	negotiate(PF_REPLY_ACK);
	/* With REPLY_ACK, NEED_REPLY makes the ack mandatory... */
	assert_int_equal(feed64(M, FE, 8, NR, 0, 0), 0);
	assert_int_equal(ask(1, REQ, 0), 0);
	/* ...so a reply to the later request is out of order. */
	assert_int_equal(answer(1, 8), -EPROTO);
	assert_contains(why, "while a reply to SET_VRING_NUM is owed");
}

static void mandatory_with_reply_ack_in_order(void **state)
{
	(void)state;
	negotiate(PF_REPLY_ACK);
	assert_int_equal(feed64(M, FE, 8, NR, 0, 0), 0);
	assert_int_equal(ask(1, REQ, 0), 0);
	assert_int_equal(answer(8, 8), 0);
	assert_int_equal(answer(1, 8), 0);
}

static void set_log_base_reply(void **state)
{
	(void)state;
	uint8_t log[16] = {0};
	/* Without LOG_SHMFD no reply. */
	assert_int_equal(feed(M, FE, 6, REQ, log, 16, 0), 0);
	assert_int_equal(answer(6, 0), -EPROTO);
	/* With it, a reply (DPDK: empty; libvhost-user: u64) is owed. */
	negotiate(PF_LOG_SHMFD);
	assert_int_equal(feed(M, FE, 6, REQ, log, 16, 1), 0);
	assert_int_equal(ask(1, REQ, 0), 0);
	assert_int_equal(answer(1, 8), -EPROTO);
	assert_contains(why, "SET_LOG_BASE is owed");
}

static void set_log_base_reply_given(void **state)
{
	(void)state;
	uint8_t log[16] = {0};
	negotiate(PF_LOG_SHMFD);
	assert_int_equal(feed(M, FE, 6, REQ, log, 16, 1), 0);
	assert_int_equal(answer(6, 0), 0);
	assert_int_equal(feed(M, FE, 6, REQ, log, 16, 1), 0);
	assert_int_equal(answer(6, 8), 0);
}

/* The two channels keep separate FIFOs; codes mean different things. */
static void channels_are_separate(void **state)
{
	(void)state;
	assert_int_equal(ask(1, REQ, 0), 0);
	uint8_t uuid[16] = {1};
	/* BACKEND_SHARED_OBJECT_LOOKUP: always answered. */
	assert_int_equal(feed(B, BE, 8, REQ, uuid, 16, 0), 0);
	assert_int_equal(feed64(B, FE, 8, REP, 0, 1), 0);
	assert_int_equal(answer(1, 8), 0);
	/* A front-end reply on the back-end channel to a code only asked on
	 * the main channel. */
	assert_int_equal(ask(1, REQ, 0), 0);
	assert_int_equal(feed64(B, FE, 1, REP, 0, 0), -EPROTO);
	assert_contains(why, "BACKEND_IOTLB_MSG");
	assert_contains(why, "nobody asked for");
}

static void backend_channel_ack(void **state)
{
	(void)state;
	negotiate(PF_REPLY_ACK);
	uint8_t io[32] = {0};
	assert_int_equal(feed(B, BE, 1, NR, io, 32, 0), 0);
	assert_int_equal(feed(B, BE, 1, REQ, io, 32, 0), 0);
	assert_int_equal(feed64(B, FE, 1, REP, 0, 0), 0);
	assert_int_equal(feed64(B, FE, 1, REP, 0, 0), -EPROTO);
}

/* ---- negotiation ---- */

static void negotiation_tracked(void **state)
{
	(void)state;
	assert_int_equal(vup_flow_neg(&flow)->features, 0);
	assert_int_equal(vup_flow_neg(&flow)->protocol_features, 0);
	uint64_t f = 1ull << 32 | 1ull << 30 | 1ull << VUP_F_RING_PACKED;
	assert_int_equal(feed64(M, FE, 2, REQ, f, 0), 0);
	assert_int_equal(vup_flow_neg(&flow)->features, f);
	negotiate(PF_REPLY_ACK | PF_XEN_MMAP);
	/* Renegotiation replaces the value. */
	assert_int_equal(feed64(M, FE, 2, REQ, 1ull << 32, 0), 0);
	assert_int_equal(vup_flow_neg(&flow)->features, 1ull << 32);
	assert_int_equal(vup_flow_neg(&flow)->protocol_features,
	                 PF_REPLY_ACK | PF_XEN_MMAP);
}

static void negotiation_changes_validation(void **state)
{
	(void)state;
	uint8_t mt[8 + 40] = {1};
	/* One 40-byte (XEN_MMAP) region before XEN_MMAP: refused. */
	assert_int_equal(feed(M, FE, 5, REQ, mt, 48, 1), -EPROTO);
	assert_contains(why, "does not fit");
	negotiate(PF_XEN_MMAP);
	assert_int_equal(feed(M, FE, 5, REQ, mt, 48, 1), 0);
	assert_int_equal(feed(M, FE, 5, REQ, mt, 40, 1), -EPROTO);
}

static void negotiation_only_from_valid_requests(void **state)
{
	(void)state;
	negotiate(PF_REPLY_ACK);
	assert_int_equal(feed64(M, FE, 2, NR, 0x100000000ull, 0), 0);
	/* The ack's value is not a feature set. */
	assert_int_equal(feed64(M, BE, 2, REP, 0x5, 0), 0);
	assert_int_equal(vup_flow_neg(&flow)->features, 0x100000000ull);
	/* A SET_FEATURES too short to hold the word changes nothing. */
	uint32_t half = 0xffffffff;
	assert_int_equal(feed(M, FE, 2, REQ, &half, 4, 0), -EPROTO);
	assert_int_equal(vup_flow_neg(&flow)->features, 0x100000000ull);
	/* One with a stray fd is relayed by default, so the receiver may
	 * take its word: vuproxy reads what follows accordingly. */
	assert_int_equal(feed(M, FE, 2, REQ, NULL, 8, 1), -EPROTO);
	assert_true(found_kind(VUP_PROBLEM_FDS));
	assert_int_equal(vup_flow_neg(&flow)->features, 0);
	/* A front-end's SET_FEATURES flagged as a reply still negotiates:
	 * the back-end may take it. */
	assert_int_equal(feed64(M, FE, 2, REP, 1ull << 32, 0), -EPROTO);
	assert_true(found_kind(VUP_PROBLEM_ROLE));
	assert_int_equal(vup_flow_neg(&flow)->features, 1ull << 32);
	/* Code 16 on the back-end channel is not SET_PROTOCOL_FEATURES. */
	assert_int_equal(feed64(B, BE, 16, REQ, ~0ull, 0), 0);
	assert_int_equal(vup_flow_neg(&flow)->protocol_features, PF_REPLY_ACK);
}

/* ---- validation and remarks ---- */

static void invalid_messages_refused(void **state)
{
	(void)state;
	assert_int_equal(feed(M, FE, 1, 0x0, NULL, 0, 0), -EPROTO);
	assert_contains(why, "version");
	assert_int_equal(feed64(M, FE, 12, REQ, 0, 0), -EPROTO);
	assert_contains(why, "fds");
	assert_int_equal(feed(M, BE, 1, REQ, NULL, 8, 0), -EPROTO);
	assert_contains(why, "may only reply");
	assert_true(found_kind(VUP_PROBLEM_UNSOLICITED));
	assert_int_equal(feed(M, FE, 1, REP, NULL, 0, 0), -EPROTO);
	assert_contains(why, "REPLY flag");
	/* What is relayed by default is accounted for: the sender's role
	 * makes these two requests, each owed a reply... */
	assert_int_equal(feed(M, FE, 1, REQ, NULL, 4, 0), -EPROTO);
	assert_true(found_kind(VUP_PROBLEM_SIZE));
	assert_int_equal(answer(1, 8), 0);
	assert_int_equal(answer(1, 8), 0);
	/* ...and a version vuproxy cannot read is never relayed, so never
	 * owed anything. */
	assert_int_equal(answer(1, 8), -EPROTO);
	assert_contains(why, "nobody asked for");
}

/* What each kind of problem makes vuproxy do, with and without
 * --strict: framing problems are always refused, remarks never. */
static void refusal_policy(void **state)
{
	(void)state;
	assert_true(vup_problem_refused(VUP_PROBLEM_VERSION, false));
	assert_true(vup_problem_refused(VUP_PROBLEM_PAYLOAD_LIMIT, false));
	const enum vup_problem judged[] = {
	        VUP_PROBLEM_ROLE,          VUP_PROBLEM_NEED_REPLY_ON_REPLY,
	        VUP_PROBLEM_SIZE,          VUP_PROBLEM_LAYOUT,
	        VUP_PROBLEM_FDS,           VUP_PROBLEM_REPLY_ORDER,
	        VUP_PROBLEM_UNSOLICITED,   VUP_PROBLEM_OWED_REPLIES,
	        VUP_PROBLEM_BACKEND_REQ_FD};
	for (size_t i = 0; i < COUNT(judged); i++) {
		assert_false(vup_problem_refused(judged[i], false));
		assert_true(vup_problem_refused(judged[i], true));
	}
	for (int strict = 0; strict < 2; strict++) {
		assert_false(vup_problem_refused(VUP_PROBLEM_RESERVED_FLAGS,
		                                 strict));
		assert_false(vup_problem_refused(VUP_PROBLEM_UNKNOWN_REQUEST,
		                                 strict));
		assert_false(vup_problem_refused(VUP_PROBLEM_NONE, strict));
	}
	/* Every kind has a name of its own. */
	for (int a = 1; a < VUP_PROBLEM_COUNT; a++)
		for (int b = a + 1; b < VUP_PROBLEM_COUNT; b++)
			assert_string_not_equal(vup_problem_name(a),
			                        vup_problem_name(b));
}

/* ---- relayed: a reply that answers nothing owed ---- */

/* libvhost-user (qemu-storage-daemon) copies the request's flags into
 * its reply: a rust-vmm front-end's NEED_REPLY comes back (flags 0xd). */
static void need_reply_echoed_on_reply(void **state)
{
	(void)state;
	negotiate(PF_REPLY_ACK);
	assert_int_equal(ask(1, NR, 0), 0);
	assert_int_equal(feed(M, BE, 1, REP | VUP_FLAG_NEED_REPLY, NULL, 8, 0),
	                 -EPROTO);
	assert_true(found_kind(VUP_PROBLEM_NEED_REPLY_ON_REPLY));
	assert_int_equal(found.n, 1);
	assert_false(vup_findings_refusal(&found, false));
	/* It answered GET_FEATURES: nothing is owed any more. */
	assert_int_equal(vup_model_owed_count(flow.model, M), 0);
	/* The echo does not hide what else is wrong with a reply. */
	assert_int_equal(ask(1, NR, 0), 0);
	assert_int_equal(feed(M, BE, 1, REP | VUP_FLAG_NEED_REPLY, NULL, 4, 1),
	                 -EPROTO);
	assert_true(found_kind(VUP_PROBLEM_NEED_REPLY_ON_REPLY));
	assert_true(found_kind(VUP_PROBLEM_SIZE));
}

static void unsolicited_reply_leaves_queue(void **state)
{
	(void)state;
	assert_int_equal(ask(1, REQ, 0), 0);
	assert_int_equal(feed64(M, FE, 8, NR, 0, 0), 0); /* optional ack */
	assert_int_equal(ask(15, REQ, 0), 0);
	/* A reply to nothing owed, then one out of order. */
	assert_int_equal(answer(40, 8), -EPROTO);
	assert_true(found_kind(VUP_PROBLEM_UNSOLICITED));
	assert_int_equal(answer(15, 8), -EPROTO);
	assert_true(found_kind(VUP_PROBLEM_REPLY_ORDER));
	assert_contains(why, "GET_FEATURES is owed");
	/* The out-of-order reply answered GET_PROTOCOL_FEATURES; what is
	 * still owed is as it was, and the replies pair again. */
	assert_int_equal(vup_model_owed_count(flow.model, M), 2);
	assert_int_equal(answer(1, 8), 0);
	assert_int_equal(found.n, 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(ask(1, REQ, 0), 0);
		assert_int_equal(answer(1, 8),
		                 0); /* the optional ack skipped */
		assert_int_equal(found.n, 0);
	}
	assert_int_equal(vup_model_owed_count(flow.model, M), 0);
	assert_int_equal(answer(15, 8), -EPROTO);
	assert_true(found_kind(VUP_PROBLEM_UNSOLICITED));
}

/* The spec says IOTLB_MSG is always acknowledged; DPDK acks it only on
 * NEED_REPLY.  Both are fine. */
static void iotlb_ack_without_need_reply(void **state)
{
	(void)state;
	uint8_t io[32] = {0};
	assert_int_equal(feed(M, FE, 22, REQ, io, 32, 0), 0);
	assert_int_equal(answer(22, 8), 0);
	assert_int_equal(feed(M, FE, 22, REQ, io, 32, 0), 0);
	assert_int_equal(ask(1, REQ, 0), 0);
	assert_int_equal(answer(1, 8), 0); /* no ack this time */
}

/* A front-end that never reads its acks: the oldest is forgotten. */
static void owed_replies_overflow_reported(void **state)
{
	(void)state;
	for (int i = 0; i < VUP_FLOW_PENDING_MAX; i++)
		assert_int_equal(ask(1, REQ, 0), 0);
	assert_int_equal(ask(15, REQ, 0), -EPROTO);
	assert_true(found_kind(VUP_PROBLEM_OWED_REPLIES));
	assert_false(vup_findings_refusal(&found, false));
	assert_int_equal(vup_model_owed_count(flow.model, M),
	                 VUP_FLOW_PENDING_MAX);
	for (int i = 1; i < VUP_FLOW_PENDING_MAX; i++)
		assert_int_equal(answer(1, 8), 0);
	assert_int_equal(answer(15, 8), 0);
}

/* ---- the warnings' rate limit ---- */

static void warn_rate_limited(void **state)
{
	(void)state;
	const uint64_t s = 1000000000ull;
	uint32_t held = 99;
	assert_true(vup_flow_warn_due(&flow, VUP_PROBLEM_SIZE, 5 * s, &held));
	assert_int_equal(held, 0);
	/* Within the period: counted, not logged; other kinds are not. */
	for (int i = 0; i < 57; i++)
		assert_false(vup_flow_warn_due(&flow, VUP_PROBLEM_SIZE,
		                               5 * s + (uint64_t)i * s / 10,
		                               &held));
	assert_true(vup_flow_warn_due(&flow, VUP_PROBLEM_FDS, 6 * s, &held));
	assert_int_equal(held, 0);
	/* After it: logged, with the count held back. */
	assert_true(vup_flow_warn_due(&flow, VUP_PROBLEM_SIZE, 15 * s, &held));
	assert_int_equal(held, 57);
	assert_false(vup_flow_warn_due(&flow, VUP_PROBLEM_SIZE, 16 * s, &held));
	assert_false(vup_flow_warn_due(&flow, VUP_PROBLEM_SIZE, 17 * s, &held));
	/* The periodic tick tells what was held back once the last line is
	 * a period old, and a new period starts. */
	assert_int_equal(
	        vup_flow_warn_take_held(&flow, VUP_PROBLEM_SIZE, 24 * s), 0);
	assert_int_equal(
	        vup_flow_warn_take_held(&flow, VUP_PROBLEM_SIZE, 25 * s), 2);
	assert_false(vup_flow_warn_due(&flow, VUP_PROBLEM_SIZE, 26 * s, &held));
	assert_int_equal(
	        vup_flow_warn_take_held(&flow, VUP_PROBLEM_SIZE, 30 * s), 0);
	/* The session ends: what was held back is told, whatever its age. */
	assert_int_equal(
	        vup_flow_warn_take_held(&flow, VUP_PROBLEM_SIZE, UINT64_MAX),
	        1);
	assert_int_equal(
	        vup_flow_warn_take_held(&flow, VUP_PROBLEM_SIZE, UINT64_MAX),
	        0);
	assert_int_equal(
	        vup_flow_warn_take_held(&flow, VUP_PROBLEM_FDS, UINT64_MAX), 0);
}

static void findings_text(void **state)
{
	(void)state;
	/* GET_FEATURES from the back-end, flagged as a request, with an fd
	 * and reserved bits: every problem is named. */
	assert_int_equal(feed(M, BE, 1, REQ | 0x40, NULL, 8, 1), -EPROTO);
	assert_true(found.n >= 3);
	char text[512];
	size_t n = vup_findings_text(&found, text, sizeof(text));
	assert_int_equal(n, strlen(text));
	assert_contains(text, "role: ");
	assert_contains(text, "reserved-flags: reserved flag bits 0x40");
	assert_contains(text, "unsolicited-reply: ");
	/* snprintf-style when the buffer is short. */
	char small[8];
	assert_int_equal(vup_findings_text(&found, small, sizeof(small)), n);
	assert_int_equal(strlen(small), 7);
}

static void remarks(void **state)
{
	(void)state;
	assert_int_equal(ask(1, REQ, 0), 0);
	assert_string_equal(warn, "");
	assert_int_equal(found.n, 0);
	/* Reserved flag bits: relayed, remarked every time (the log line
	 * is the rate limit's business). */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ask(1, REQ | 0x100, 0), 0);
		assert_contains(warn, "reserved");
		assert_contains(warn, "0x100");
	}
	/* Unknown codes: relayed, remarked. */
	assert_int_equal(ask(99, REQ, 3), 0);
	assert_contains(warn, "unknown request code 99");
	assert_contains(warn, "main");
	assert_int_equal(ask(98, REQ, 3), 0);
	assert_contains(warn, "unknown request code 98");
	/* and answered like any other. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(answer(1, 8), 0);
	assert_int_equal(answer(98, 0), 0);
	assert_contains(warn, "unknown request code 98");
}

/* ---- the FIFO ---- */

static void fifo_full_of_optional_forgets_oldest(void **state)
{
	(void)state;
	/* Unknown codes: a reply may come. */
	for (uint32_t i = 0; i <= VUP_FLOW_PENDING_MAX; i++)
		assert_int_equal(ask(100 + i, REQ, 0), 0);
	/* 100 was forgotten to make room; 101 is now the oldest. */
	assert_int_equal(answer(101, 0), 0);
	assert_int_equal(answer(100 + VUP_FLOW_PENDING_MAX, 0), 0);
}

static void fifo_full_of_optional_oldest_gone(void **state)
{
	(void)state;
	for (uint32_t i = 0; i <= VUP_FLOW_PENDING_MAX; i++)
		assert_int_equal(ask(100 + i, REQ, 0), 0);
	assert_int_equal(answer(100, 0), -EPROTO);
	assert_contains(why, "nobody asked for");
}

static void fifo_full_of_mandatory(void **state)
{
	(void)state;
	for (int i = 0; i < VUP_FLOW_PENDING_MAX; i++)
		assert_int_equal(ask(1, REQ, 0), 0);
	assert_int_equal(ask(1, REQ, 0), -EPROTO);
	assert_contains(why, "awaiting replies");
	assert_contains(why, "the oldest (GET_FEATURES) is no longer awaited");
	/* The other channel is not affected. */
	uint8_t uuid[16] = {0};
	assert_int_equal(feed(B, BE, 8, REQ, uuid, 16, 0), 0);
}

static void fifo_full_then_drained(void **state)
{
	(void)state;
	for (int i = 0; i < VUP_FLOW_PENDING_MAX; i++)
		assert_int_equal(ask(i % 2 ? 1 : 15, REQ, 0), 0);
	for (int i = 0; i < VUP_FLOW_PENDING_MAX; i++)
		assert_int_equal(answer(i % 2 ? 1 : 15, 8), 0);
	assert_int_equal(answer(1, 8), -EPROTO);
	/* Room again. */
	assert_int_equal(ask(1, REQ, 0), 0);
	assert_int_equal(answer(1, 8), 0);
}

/* The ring index wraps many times over a long session. */
static void fifo_wraps(void **state)
{
	(void)state;
	for (int i = 0; i < 5 * VUP_FLOW_PENDING_MAX + 3; i++) {
		assert_int_equal(feed64(M, FE, 8, NR, 0, 0), 0);
		assert_int_equal(ask(1, REQ, 0), 0);
		assert_int_equal(ask(46 + i % 5, REQ, 0), 0); /* unknown */
		if (i % 3 == 0)
			assert_int_equal(answer(8, 8), 0);
		assert_int_equal(answer(1, 8), 0);
	}
	assert_int_equal(answer(1, 8), -EPROTO);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup(fn, setup)
	const struct CMUnitTest tests[] = {
	        T(replies_in_order),
	        T(reply_nobody_asked_for),
	        T(reply_out_of_order),
	        T(optional_reply_skipped),
	        T(optional_reply_given),
	        T(several_optional_then_mandatory),
	        T(mandatory_with_reply_ack),
	        T(mandatory_with_reply_ack_in_order),
	        T(set_log_base_reply),
	        T(set_log_base_reply_given),
	        T(channels_are_separate),
	        T(backend_channel_ack),
	        T(negotiation_tracked),
	        T(negotiation_changes_validation),
	        T(negotiation_only_from_valid_requests),
	        T(invalid_messages_refused),
	        T(remarks),
	        T(refusal_policy),
	        T(need_reply_echoed_on_reply),
	        T(unsolicited_reply_leaves_queue),
	        T(iotlb_ack_without_need_reply),
	        T(owed_replies_overflow_reported),
	        T(warn_rate_limited),
	        T(findings_text),
	        T(fifo_full_of_optional_forgets_oldest),
	        T(fifo_full_of_optional_oldest_gone),
	        T(fifo_full_of_mandatory),
	        T(fifo_full_then_drained),
	        T(fifo_wraps),
	};
#undef T
	return cmocka_run_group_tests_name("flow", tests, NULL, NULL);
}
