/* Unit tests for src/proto/reply.c: vup_reply_build, the replies vuproxy
 * makes itself (rule `fail`: FAILED; replay: OK), one test per reply rule
 * of the catalogue, and a walk of every row that keeps each built reply
 * within the row's reply bounds. */
#include "unit.h"

#define M  VUP_CHAN_MAIN
#define B  VUP_CHAN_BACKEND
#define NR (VUP_FLAG_VERSION | VUP_FLAG_NEED_REPLY)

#define PF(bit)      (1ull << (bit))
#define PF_PAGEFAULT 8

static const uint64_t *const DEFAULT = NULL;

/* The reply built to request code (flags, payload p of size bytes). */
struct built {
	bool made;
	struct vup_hdr h;
	uint8_t p[VUP_MAX_PAYLOAD];
};

static struct built build(enum vup_chan chan, uint32_t code, uint32_t flags,
                          const void *p, uint32_t size, uint64_t pf,
                          enum vup_reply_status st, const uint64_t *value)
{
	static struct built b;
	struct vup_negotiated neg = {.protocol_features = pf};
	struct vup_hdr req = hdr(code, flags, size);
	memset(&b, 0xa5, sizeof(b)); /* nothing may be left unwritten */
	b.made = vup_reply_build(&req, p, chan, &neg, st, value, &b.h, b.p);
	if (b.made) {
		assert_int_equal(b.h.request, code);
		assert_int_equal(b.h.flags, REPLY);
	}
	return b;
}

static uint64_t u64_at(const struct built *b, uint32_t off)
{
	uint64_t v;
	memcpy(&v, b->p + off, 8);
	return v;
}

static uint32_t u32_at(const struct built *b, uint32_t off)
{
	uint32_t v;
	memcpy(&v, b->p + off, 4);
	return v;
}

static void assert_ack(const struct built *b, uint64_t v)
{
	assert_true(b->made);
	assert_int_equal(b->h.size, 8);
	assert_int_equal(u64_at(b, 0), v);
}

static void assert_zero(const struct built *b, uint32_t from)
{
	for (uint32_t i = from; i < b->h.size; i++)
		assert_int_equal(b->p[i], 0);
}

/* ---- one test per reply rule ---- */

/* ACK (SET_VRING_NUM): a u64 only on NEED_REPLY; 0 when OK, 1 when failed,
 * or the given value. */
static void rule_ack(void **state)
{
	(void)state;
	uint32_t vs[2] = {1, 256};
	uint64_t nine = 9;
	struct built b = build(M, 8, REQ, vs, 8, 0, VUP_REPLY_OK, DEFAULT);
	assert_false(b.made);
	b = build(M, 8, REQ, vs, 8, PF(VUP_PF_REPLY_ACK), VUP_REPLY_FAILED,
	          DEFAULT);
	assert_false(b.made);
	b = build(M, 8, NR, vs, 8, PF(VUP_PF_REPLY_ACK), VUP_REPLY_OK, DEFAULT);
	assert_ack(&b, 0);
	b = build(M, 8, NR, vs, 8, PF(VUP_PF_REPLY_ACK), VUP_REPLY_FAILED,
	          DEFAULT);
	assert_ack(&b, 1);
	b = build(M, 8, NR, vs, 8, PF(VUP_PF_REPLY_ACK), VUP_REPLY_FAILED,
	          &nine);
	assert_ack(&b, 9);
	/* NEED_REPLY without REPLY_ACK: a reply may come; answered too. */
	b = build(M, 8, NR, vs, 8, 0, VUP_REPLY_FAILED, DEFAULT);
	assert_ack(&b, 1);
	/* The back-end channel's ACK rows alike. */
	b = build(B, 2, NR, NULL, 0, 0, VUP_REPLY_OK, DEFAULT);
	assert_ack(&b, 0);
	b = build(B, 2, REQ, NULL, 0, 0, VUP_REPLY_FAILED, DEFAULT);
	assert_false(b.made);
}

/* ALWAYS (GET_FEATURES, GET_QUEUE_NUM, LOOKUP): the body, zero with the
 * value in its first u64, whether NEED_REPLY is set or not. */
static void rule_always(void **state)
{
	(void)state;
	uint64_t v = 0x140000000ull;
	const uint32_t flags[] = {REQ, NR};
	for (size_t i = 0; i < COUNT(flags); i++) {
		struct built b = build(M, 1, flags[i], NULL, 0, 0, VUP_REPLY_OK,
		                       DEFAULT);
		assert_ack(&b, 0); /* a u64 body of 0 */
		b = build(M, 1, flags[i], NULL, 0, 0, VUP_REPLY_FAILED,
		          DEFAULT);
		assert_ack(&b, 0);
		b = build(M, 1, flags[i], NULL, 0, 0, VUP_REPLY_FAILED, &v);
		assert_ack(&b, v);
	}
	/* GET_INFLIGHT_FD: its 24-byte body. */
	uint8_t inflight[24] = {0};
	struct built b =
	        build(M, 31, REQ, inflight, 24, 0, VUP_REPLY_OK, DEFAULT);
	assert_true(b.made);
	assert_int_equal(b.h.size, 24);
	assert_zero(&b, 0);
	/* A u64 the failing receiver leaves out (POSTCOPY_ADVISE: size 0)
	 * is there when OK. */
	b = build(M, 28, REQ, NULL, 0, 0, VUP_REPLY_FAILED, DEFAULT);
	assert_true(b.made);
	assert_int_equal(b.h.size, 0);
	b = build(M, 28, REQ, NULL, 0, 0, VUP_REPLY_OK, DEFAULT);
	assert_ack(&b, 0);
	/* Back-end channel: SHARED_OBJECT_LOOKUP. */
	uint8_t uuid[16] = {1};
	b = build(B, 8, REQ, uuid, 16, 0, VUP_REPLY_OK, DEFAULT);
	assert_ack(&b, 0);
}

/* FEATURE (SET_LOG_BASE) with LOG_SHMFD: the body always follows; it is
 * the 16-byte form (see reply.c: the one QEMU's and rust-vmm's
 * front-ends both accept), for OK and FAILED alike.  With NEED_REPLY the
 * answer is the ack. */
static void rule_feature_gated(void **state)
{
	(void)state;
	uint64_t log[2] = {0x2000, 0};
	uint64_t pf = PF(VUP_PF_LOG_SHMFD);
	uint64_t five = 5;
	struct built b = build(M, 6, REQ, log, 16, pf, VUP_REPLY_OK, DEFAULT);
	assert_true(b.made);
	assert_int_equal(b.h.size, 16);
	assert_zero(&b, 0);
	b = build(M, 6, REQ, log, 16, pf, VUP_REPLY_FAILED, DEFAULT);
	assert_true(b.made);
	assert_int_equal(b.h.size, 16);
	assert_zero(&b, 0);
	b = build(M, 6, REQ, log, 16, pf, VUP_REPLY_FAILED, &five);
	assert_int_equal(b.h.size, 16);
	assert_int_equal(u64_at(&b, 0), 5);
	assert_zero(&b, 8);
	/* crosvm's 8-byte request: the same reply. */
	b = build(M, 6, REQ, log, 8, pf, VUP_REPLY_OK, DEFAULT);
	assert_int_equal(b.h.size, 16);
	/* NEED_REPLY asks for the ack. */
	b = build(M, 6, NR, log, 16, pf | PF(VUP_PF_REPLY_ACK),
	          VUP_REPLY_FAILED, DEFAULT);
	assert_ack(&b, 1);
	b = build(M, 6, NR, log, 16, pf | PF(VUP_PF_REPLY_ACK), VUP_REPLY_OK,
	          DEFAULT);
	assert_ack(&b, 0);
}

/* FEATURE without its gate: an ACK row. */
static void rule_feature_not_gated(void **state)
{
	(void)state;
	uint64_t base = 0;
	struct built b = build(M, 6, REQ, &base, 8, 0, VUP_REPLY_OK, DEFAULT);
	assert_false(b.made);
	b = build(M, 6, REQ, &base, 8, 0, VUP_REPLY_FAILED, DEFAULT);
	assert_false(b.made);
	b = build(M, 6, NR, &base, 8, PF(VUP_PF_REPLY_ACK), VUP_REPLY_FAILED,
	          DEFAULT);
	assert_ack(&b, 1);
	b = build(M, 6, NR, &base, 8, PF(VUP_PF_REPLY_ACK), VUP_REPLY_OK,
	          DEFAULT);
	assert_ack(&b, 0);
}

/* POSTCOPY (SET_MEM_TABLE, ADD_MEM_REG): an ack on NEED_REPLY; without
 * it, nothing before PAGEFAULT, and an ack once an echo may come. */
static void rule_postcopy(void **state)
{
	(void)state;
	uint8_t mt[8 + 32] = {1};
	uint8_t reg[40] = {0};
	struct built b = build(M, 5, REQ, mt, 40, 0, VUP_REPLY_FAILED, DEFAULT);
	assert_false(b.made);
	b = build(M, 5, NR, mt, 40, PF(VUP_PF_REPLY_ACK), VUP_REPLY_FAILED,
	          DEFAULT);
	assert_ack(&b, 1);
	b = build(M, 5, NR, mt, 40, PF(VUP_PF_REPLY_ACK), VUP_REPLY_OK,
	          DEFAULT);
	assert_ack(&b, 0);
	b = build(M, 5, REQ, mt, 40, PF(PF_PAGEFAULT), VUP_REPLY_FAILED,
	          DEFAULT);
	assert_ack(&b, 1);
	b = build(M, 37, REQ, reg, 40, 0, VUP_REPLY_OK, DEFAULT);
	assert_false(b.made);
	b = build(M, 37, NR, reg, 40, PF(VUP_PF_REPLY_ACK), VUP_REPLY_OK,
	          DEFAULT);
	assert_ack(&b, 0);
}

/* ACK_ANY (IOTLB_MSG): the ack may come without NEED_REPLY, but is made
 * only when asked for. */
static void rule_ack_any(void **state)
{
	(void)state;
	uint8_t iotlb[32] = {0};
	struct built b = build(M, 22, REQ, iotlb, 32, PF(VUP_PF_REPLY_ACK),
	                       VUP_REPLY_FAILED, DEFAULT);
	assert_false(b.made);
	b = build(M, 22, REQ, iotlb, 32, 0, VUP_REPLY_OK, DEFAULT);
	assert_false(b.made);
	b = build(M, 22, NR, iotlb, 32, PF(VUP_PF_REPLY_ACK), VUP_REPLY_FAILED,
	          DEFAULT);
	assert_ack(&b, 1);
	b = build(M, 22, NR, iotlb, 32, 0, VUP_REPLY_OK, DEFAULT);
	assert_ack(&b, 0);
}

/* GET_CONFIG: failed, the error form (size 0), even with a value; OK,
 * as large as the request, its offset, size and flags kept. */
static void get_config_forms(void **state)
{
	(void)state;
	uint8_t cfg[12 + 60];
	memset(cfg, 0x77, sizeof(cfg));
	put_u32(cfg, 0, 0);  /* offset */
	put_u32(cfg, 4, 60); /* size */
	put_u32(cfg, 8, 1);  /* flags */
	uint64_t three = 3;
	const uint32_t flags[] = {REQ, NR};
	for (size_t i = 0; i < COUNT(flags); i++) {
		struct built b =
		        build(M, 24, flags[i], cfg, sizeof(cfg),
		              PF(VUP_PF_CONFIG), VUP_REPLY_FAILED, DEFAULT);
		assert_true(b.made);
		assert_int_equal(b.h.size, 0);
		b = build(M, 24, flags[i], cfg, sizeof(cfg), PF(VUP_PF_CONFIG),
		          VUP_REPLY_FAILED, &three);
		assert_int_equal(b.h.size, 0);
		b = build(M, 24, flags[i], cfg, sizeof(cfg), PF(VUP_PF_CONFIG),
		          VUP_REPLY_OK, DEFAULT);
		assert_true(b.made);
		assert_int_equal(b.h.size, sizeof(cfg));
		assert_int_equal(u32_at(&b, 0), 0);
		assert_int_equal(u32_at(&b, 4), 60);
		assert_int_equal(u32_at(&b, 8), 1);
		assert_zero(&b, 12);
	}
}

/* GET_VRING_BASE (and _SKIP_DRAIN): the reply names the request's ring;
 * the value is its num. */
static void vring_keeps_index(void **state)
{
	(void)state;
	uint32_t vs[2] = {3, 0};
	uint64_t seven = 7;
	const uint32_t codes[] = {11, 45};
	for (size_t i = 0; i < COUNT(codes); i++) {
		struct built b = build(M, codes[i], REQ, vs, 8, 0, VUP_REPLY_OK,
		                       DEFAULT);
		assert_true(b.made);
		assert_int_equal(b.h.size, 8);
		assert_int_equal(u32_at(&b, 0), 3);
		assert_int_equal(u32_at(&b, 4), 0);
		b = build(M, codes[i], NR, vs, 8, 0, VUP_REPLY_FAILED, &seven);
		assert_int_equal(b.h.size, 8);
		assert_int_equal(u32_at(&b, 0), 3);
		assert_int_equal(u32_at(&b, 4), 7);
	}
}

/* A request that expects no reply: nothing is built, whatever the
 * status. */
static void no_reply(void **state)
{
	(void)state;
	const uint32_t codes[] = {2, 3, 12, 18, 39};
	uint8_t p[40] = {0};
	for (size_t i = 0; i < COUNT(codes); i++) {
		const struct vup_msg_type *t = vup_proto_lookup(M, codes[i]);
		struct built b =
		        build(M, codes[i], REQ, p, t->req_min,
		              ~PF(VUP_PF_LOG_SHMFD) & ~PF(PF_PAGEFAULT),
		              VUP_REPLY_FAILED, DEFAULT);
		assert_false(b.made);
		b = build(M, codes[i], REQ, p, t->req_min, 0, VUP_REPLY_OK,
		          DEFAULT);
		assert_false(b.made);
	}
}

/* An unknown code may be answered: the ack form, on either channel. */
static void unknown_code(void **state)
{
	(void)state;
	uint8_t p[16] = {0};
	const uint32_t flags[] = {REQ, NR};
	for (size_t i = 0; i < COUNT(flags); i++) {
		struct built b = build(M, 99, flags[i], p, 16, 0,
		                       VUP_REPLY_FAILED, DEFAULT);
		assert_ack(&b, 1);
		b = build(M, 0, flags[i], p, 0, 0, VUP_REPLY_OK, DEFAULT);
		assert_ack(&b, 0);
		b = build(B, 77, flags[i], p, 16, 0, VUP_REPLY_FAILED, DEFAULT);
		assert_ack(&b, 1);
	}
}

/* ---- every row ---- */

/* Every row of both channels, with and without NEED_REPLY, with nothing
 * and with every protocol feature negotiated, both statuses: a reply is
 * built exactly when one is expected, and it is the row's body within
 * rep_min..rep_max or the u64 ack, and passes the validator as the
 * responder's message.  A new row cannot get a wrong reply unnoticed. */
static void every_row(void **state)
{
	(void)state;
	const uint32_t flags[] = {REQ, NR};
	const uint64_t pfs[] = {0, ~0ull};
	const enum vup_reply_status sts[] = {VUP_REPLY_OK, VUP_REPLY_FAILED};
	unsigned bodies = 0, acks = 0;
	for (int ch = M; ch <= B; ch++) {
		enum vup_side responder = ch == M ? VUP_BACKEND : VUP_FRONTEND;
		for (size_t i = 0; i < vup_proto_count(ch); i++) {
			const struct vup_msg_type *t = vup_proto_at(ch, i);
			uint8_t req[VUP_MAX_PAYLOAD] = {0};
			uint32_t size = t->req_min;
			if (t->req_layout == VUP_L_CONFIG) {
				size = 12 + 16;
				put_u32(req, 4, 16);
			}
			for (size_t f = 0; f < COUNT(flags); f++)
				for (size_t n = 0; n < COUNT(pfs); n++)
					for (size_t s = 0; s < COUNT(sts);
					     s++) {
						struct vup_negotiated neg = {
						        .protocol_features =
						                pfs[n]};
						struct vup_hdr rq =
						        hdr(t->code, flags[f],
						            size);
						struct built b = build(
						        ch, t->code, flags[f],
						        req, size, pfs[n],
						        sts[s], DEFAULT);
						enum vup_expect e =
						        vup_proto_reply_expected(
						                &rq, ch, &neg);
						bool need = flags[f] &
						            VUP_FLAG_NEED_REPLY;
						bool want =
						        e != VUP_EXPECT_NONE &&
						        !(t->reply ==
						                  VUP_REPLY_ACK_ANY &&
						          !need);
						if (b.made != want)
							fail_msg(
							        "%s flags %#x "
							        "pf %#llx: "
							        "built %d, "
							        "expected %d",
							        t->name,
							        flags[f],
							        (unsigned long long)
							                pfs[n],
							        b.made, want);
						if (!b.made)
							continue;
						bool body =
						        t->reply ==
						                VUP_REPLY_ALWAYS ||
						        (t->reply ==
						                 VUP_REPLY_FEATURE &&
						         (pfs[n] >>
						                  t->reply_gate &
						          1) &&
						         !need);
						if (body &&
						    (b.h.size < t->rep_min ||
						     b.h.size > t->rep_max))
							fail_msg(
							        "%s: reply of "
							        "%u bytes, not "
							        "in %u..%u",
							        t->name,
							        b.h.size,
							        t->rep_min,
							        t->rep_max);
						if (!body && b.h.size != 8)
							fail_msg("%s: ack of "
							         "%u bytes",
							         t->name,
							         b.h.size);
						char why[256];
						enum vup_problem p =
						        vup_proto_check(
						                &b.h, b.p, 0,
						                ch, responder,
						                &neg, why,
						                sizeof(why));
						if (p != VUP_PROBLEM_NONE)
							fail_msg("%s: %s",
							         t->name, why);
						if (body)
							bodies++;
						else
							acks++;
					}
		}
	}
	assert_true(bodies > 0);
	assert_true(acks > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(rule_ack),
	        cmocka_unit_test(rule_always),
	        cmocka_unit_test(rule_feature_gated),
	        cmocka_unit_test(rule_feature_not_gated),
	        cmocka_unit_test(rule_postcopy),
	        cmocka_unit_test(rule_ack_any),
	        cmocka_unit_test(get_config_forms),
	        cmocka_unit_test(vring_keeps_index),
	        cmocka_unit_test(no_reply),
	        cmocka_unit_test(unknown_code),
	        cmocka_unit_test(every_row),
	};
	return cmocka_run_group_tests_name("proto_reply", tests, NULL, NULL);
}
