/* Unit tests for src/proto/check.c: vup_proto_check_header,
 * vup_proto_check (sizes, inner sizes, fd counts, negotiated layouts) and
 * the reply rule vup_proto_reply_expected. */
#include <errno.h>
#include <stdio.h>
#include <strings.h>

#include "unit.h"

/* ---- validation ---- */

/* The kind of the last problem chk_hdr or chk found. */
static enum vup_problem last_problem;

static int chk_hdr(uint32_t req, uint32_t flags, uint32_t size,
                   enum vup_chan chan, enum vup_side from, char *why)
{
	struct vup_hdr h = hdr(req, flags, size);
	why[0] = '\0';
	last_problem = vup_proto_check_header(&h, chan, from, why, 256);
	if (last_problem == VUP_PROBLEM_NONE)
		assert_string_equal(why, "");
	else
		assert_true(strlen(why) > 0);
	return last_problem ? -EPROTO : 0;
}

static void check_header_version(void **state)
{
	(void)state;
	char why[256];
	assert_int_equal(chk_hdr(1, 1, 0, VUP_CHAN_MAIN, VUP_FRONTEND, why), 0);
	const uint32_t bad[] = {0x0, 0x2, 0x3, 0x4, 0x8, 0x6};
	for (size_t i = 0; i < COUNT(bad); i++) {
		assert_int_equal(
		        chk_hdr(1, bad[i], 0, VUP_CHAN_MAIN, VUP_FRONTEND, why),
		        -EPROTO);
		assert_contains(why, "version");
	}
	/* Also on replies and on the back-end channel. */
	assert_int_equal(chk_hdr(1, 0x6, 8, VUP_CHAN_MAIN, VUP_BACKEND, why),
	                 -EPROTO);
	assert_contains(why, "version");
	assert_int_equal(
	        chk_hdr(1, 0x0, 32, VUP_CHAN_BACKEND, VUP_BACKEND, why),
	        -EPROTO);
	assert_contains(why, "version");
}

static void check_header_direction(void **state)
{
	(void)state;
	char why[256];
	/* Main channel: the front-end asks, the back-end answers. */
	assert_int_equal(chk_hdr(1, REPLY, 0, VUP_CHAN_MAIN, VUP_FRONTEND, why),
	                 -EPROTO);
	assert_contains(why, "REPLY flag");
	assert_int_equal(chk_hdr(1, REQ, 8, VUP_CHAN_MAIN, VUP_BACKEND, why),
	                 -EPROTO);
	assert_contains(why, "may only reply");
	assert_contains(why, "back-end");
	assert_int_equal(chk_hdr(1, REPLY, 8, VUP_CHAN_MAIN, VUP_BACKEND, why),
	                 0);
	/* Back-end channel: the other way round. */
	assert_int_equal(
	        chk_hdr(1, REQ, 32, VUP_CHAN_BACKEND, VUP_BACKEND, why), 0);
	assert_int_equal(
	        chk_hdr(1, REPLY, 8, VUP_CHAN_BACKEND, VUP_FRONTEND, why), 0);
	assert_int_equal(
	        chk_hdr(1, REQ, 8, VUP_CHAN_BACKEND, VUP_FRONTEND, why),
	        -EPROTO);
	assert_contains(why, "may only reply");
	assert_int_equal(
	        chk_hdr(1, REPLY, 32, VUP_CHAN_BACKEND, VUP_BACKEND, why),
	        -EPROTO);
	assert_contains(why, "REPLY flag");
	/* NEED_REPLY echoed on a reply is reported by the flow beside the
	 * payload's own problems (test_flow), not here, where the first
	 * problem found would hide the rest. */
	assert_int_equal(chk_hdr(2, REQ | VUP_FLAG_NEED_REPLY, 8, VUP_CHAN_MAIN,
	                         VUP_FRONTEND, why),
	                 0);
	assert_int_equal(chk_hdr(2, REPLY | VUP_FLAG_NEED_REPLY, 8,
	                         VUP_CHAN_MAIN, VUP_BACKEND, why),
	                 0);
	assert_int_equal(chk_hdr(1, REPLY | VUP_FLAG_NEED_REPLY, 20,
	                         VUP_CHAN_MAIN, VUP_BACKEND, why),
	                 -EPROTO);
	assert_int_equal(last_problem, VUP_PROBLEM_SIZE);
	/* Reserved flag bits are not the validator's business. */
	assert_int_equal(
	        chk_hdr(1, REQ | 0x10, 0, VUP_CHAN_MAIN, VUP_FRONTEND, why), 0);
}

static void check_header_sizes(void **state)
{
	(void)state;
	char why[256];
	/* Over the request's own bound. */
	assert_int_equal(chk_hdr(2, REQ, 16, VUP_CHAN_MAIN, VUP_FRONTEND, why),
	                 -EPROTO);
	assert_contains(why, "16");
	assert_contains(why, "over the bound 8");
	assert_int_equal(chk_hdr(1, REQ, 8, VUP_CHAN_MAIN, VUP_FRONTEND, why),
	                 -EPROTO);
	assert_contains(why, "over the bound 0");
	/* Replies have their own bound. */
	assert_int_equal(chk_hdr(1, REPLY, 8, VUP_CHAN_MAIN, VUP_BACKEND, why),
	                 0);
	assert_int_equal(chk_hdr(1, REPLY, 16, VUP_CHAN_MAIN, VUP_BACKEND, why),
	                 -EPROTO);
	assert_contains(why, "reply");
	assert_int_equal(chk_hdr(2, REPLY, 9, VUP_CHAN_MAIN, VUP_BACKEND, why),
	                 -EPROTO);
	/* Over the global limit, known or unknown code. */
	assert_int_equal(
	        chk_hdr(26, REQ, 4096, VUP_CHAN_MAIN, VUP_FRONTEND, why), 0);
	assert_int_equal(
	        chk_hdr(26, REQ, 4097, VUP_CHAN_MAIN, VUP_FRONTEND, why),
	        -EPROTO);
	assert_contains(why, "4096");
	assert_int_equal(
	        chk_hdr(99, REQ, 4096, VUP_CHAN_MAIN, VUP_FRONTEND, why), 0);
	assert_int_equal(
	        chk_hdr(99, REQ, 4097, VUP_CHAN_MAIN, VUP_FRONTEND, why),
	        -EPROTO);
	assert_int_equal(
	        chk_hdr(99, REQ, 0xffffffff, VUP_CHAN_MAIN, VUP_FRONTEND, why),
	        -EPROTO);
	assert_int_equal(
	        chk_hdr(11, REQ, 4097, VUP_CHAN_BACKEND, VUP_BACKEND, why),
	        -EPROTO);
	/* The back-end channel's own bounds. */
	assert_int_equal(
	        chk_hdr(1, REQ, 33, VUP_CHAN_BACKEND, VUP_BACKEND, why),
	        -EPROTO);
	assert_contains(why, "over the bound 32");
}

static void check_header_why_optional(void **state)
{
	(void)state;
	struct vup_hdr h = hdr(1, 0, 0);
	assert_int_equal(vup_proto_check_header(&h, VUP_CHAN_MAIN, VUP_FRONTEND,
	                                        NULL, 0),
	                 VUP_PROBLEM_VERSION);
	/* A short buffer gets a truncated, terminated reason. */
	char why[8];
	memset(why, 'x', sizeof(why));
	assert_int_equal(
	        vup_proto_check_header(&h, VUP_CHAN_MAIN, VUP_FRONTEND, why, 5),
	        VUP_PROBLEM_VERSION);
	assert_int_equal(strlen(why), 4);
	assert_int_equal(why[5], 'x');
}

/* Build a payload and run vup_proto_check. */
static int chk(uint32_t req, uint32_t flags, const void *payload, uint32_t size,
               unsigned nfds, enum vup_chan chan, enum vup_side from,
               const struct vup_negotiated *neg, char *why)
{
	struct vup_hdr h = hdr(req, flags, size);
	why[0] = '\0';
	last_problem =
	        vup_proto_check(&h, payload, nfds, chan, from, neg, why, 256);
	if (last_problem == VUP_PROBLEM_NONE)
		assert_string_equal(why, "");
	else
		assert_true(strlen(why) > 0);
	return last_problem ? -EPROTO : 0;
}

static int fe(uint32_t req, const void *p, uint32_t size, unsigned nfds,
              const struct vup_negotiated *neg, char *why)
{
	return chk(req, REQ, p, size, nfds, VUP_CHAN_MAIN, VUP_FRONTEND, neg,
	           why);
}

static int be_reply(uint32_t req, const void *p, uint32_t size, unsigned nfds,
                    const struct vup_negotiated *neg, char *why)
{
	return chk(req, REPLY, p, size, nfds, VUP_CHAN_MAIN, VUP_BACKEND, neg,
	           why);
}

static void check_min_sizes(void **state)
{
	(void)state;
	char why[256];
	uint8_t p[64] = {0};
	assert_int_equal(fe(2, p, 8, 0, NULL, why), 0);
	assert_int_equal(fe(2, p, 4, 0, NULL, why), -EPROTO);
	assert_contains(why, "under");
	assert_int_equal(fe(2, p, 0, 0, NULL, why), -EPROTO);
	assert_int_equal(fe(9, p, 39, 0, NULL, why), -EPROTO);
	assert_contains(why, "under the 40 bytes");
	assert_int_equal(fe(9, p, 40, 0, NULL, why), 0);
	assert_int_equal(be_reply(1, p, 4, 0, NULL, why), -EPROTO);
	assert_contains(why, "reply");
	assert_int_equal(be_reply(1, p, 0, 0, NULL, why), -EPROTO);
	/* DPDK answers SET_LOG_BASE with an empty body: allowed. */
	assert_int_equal(be_reply(6, p, 0, 0, NULL, why), 0);
	/* A GET_CONFIG reply of size 0 reports an error: allowed. */
	assert_int_equal(be_reply(24, p, 0, 0, NULL, why), 0);
	/* Back-end channel. */
	assert_int_equal(
	        chk(4, REQ, p, 4, 0, VUP_CHAN_BACKEND, VUP_BACKEND, NULL, why),
	        -EPROTO);
	assert_int_equal(
	        chk(4, REQ, p, 8, 0, VUP_CHAN_BACKEND, VUP_BACKEND, NULL, why),
	        0);
}

static void check_vring_fds(void **state)
{
	(void)state;
	char why[256];
	uint8_t p[8];
	for (uint32_t req = 12; req <= 14; req++) {
		put_u64(p, 0, 0); /* ring 0, with an fd */
		assert_int_equal(fe(req, p, 8, 1, NULL, why), 0);
		assert_int_equal(fe(req, p, 8, 0, NULL, why), -EPROTO);
		assert_contains(why, "carries 0 fds, want 1");
		assert_int_equal(fe(req, p, 8, 2, NULL, why), -EPROTO);
		put_u64(p, 0, 0x100); /* NOFD */
		assert_int_equal(fe(req, p, 8, 0, NULL, why), 0);
		assert_int_equal(fe(req, p, 8, 1, NULL, why), -EPROTO);
		assert_contains(why, "want 0");
		put_u64(p, 0, 0x1ff); /* ring 255, NOFD */
		assert_int_equal(fe(req, p, 8, 0, NULL, why), 0);
		put_u64(p, 0, 0xff); /* ring 255, fd */
		assert_int_equal(fe(req, p, 8, 1, NULL, why), 0);
		/* Only bit 8 means NOFD. */
		put_u64(p, 0, 0x200);
		assert_int_equal(fe(req, p, 8, 0, NULL, why), -EPROTO);
	}
	/* The host notifier on the back-end channel follows the same rule. */
	uint8_t hn[24] = {0};
	assert_int_equal(chk(3, REQ, hn, 24, 1, VUP_CHAN_BACKEND, VUP_BACKEND,
	                     NULL, why),
	                 0);
	assert_int_equal(chk(3, REQ, hn, 24, 0, VUP_CHAN_BACKEND, VUP_BACKEND,
	                     NULL, why),
	                 -EPROTO);
	put_u64(hn, 0, 0x100);
	assert_int_equal(chk(3, REQ, hn, 24, 0, VUP_CHAN_BACKEND, VUP_BACKEND,
	                     NULL, why),
	                 0);
}

static void check_fixed_fds(void **state)
{
	(void)state;
	char why[256];
	uint8_t p[64] = {0};
	/* No fds where none belong. */
	assert_int_equal(fe(1, p, 0, 1, NULL, why), -EPROTO);
	assert_contains(why, "request carries 1 fds, want 0");
	assert_int_equal(fe(2, p, 8, 1, NULL, why), -EPROTO);
	/* Exactly one. */
	assert_int_equal(fe(21, p, 0, 1, NULL, why), 0);
	assert_int_equal(fe(21, p, 0, 0, NULL, why), -EPROTO);
	assert_int_equal(fe(21, p, 0, 2, NULL, why), -EPROTO);
	assert_int_equal(fe(7, p, 0, 1, NULL, why), 0);
	assert_int_equal(fe(7, p, 0, 0, NULL, why), -EPROTO);
	/* Zero or one. */
	assert_int_equal(fe(38, p, 40, 0, NULL, why), 0);
	assert_int_equal(fe(38, p, 40, 1, NULL, why), 0);
	assert_int_equal(fe(38, p, 40, 2, NULL, why), -EPROTO);
	assert_contains(why, "want 0 to 1");
	/* Replies: the userfaultfd may come with POSTCOPY_ADVISE. */
	assert_int_equal(be_reply(28, p, 0, 1, NULL, why), 0);
	assert_int_equal(be_reply(28, p, 0, 0, NULL, why), 0);
	assert_int_equal(be_reply(28, p, 0, 2, NULL, why), -EPROTO);
	assert_int_equal(be_reply(1, p, 8, 1, NULL, why), -EPROTO);
	assert_contains(why, "reply");
	/* Back-end channel: SHMEM_MAP carries one fd. */
	assert_int_equal(
	        chk(9, REQ, p, 40, 1, VUP_CHAN_BACKEND, VUP_BACKEND, NULL, why),
	        0);
	assert_int_equal(
	        chk(9, REQ, p, 40, 0, VUP_CHAN_BACKEND, VUP_BACKEND, NULL, why),
	        -EPROTO);
	/* The front-end answers LOOKUP with a dma-buf fd, or none. */
	assert_int_equal(chk(8, REPLY, p, 8, 1, VUP_CHAN_BACKEND, VUP_FRONTEND,
	                     NULL, why),
	                 0);
	assert_int_equal(chk(8, REPLY, p, 8, 0, VUP_CHAN_BACKEND, VUP_FRONTEND,
	                     NULL, why),
	                 0);
}

/* A SET_MEM_TABLE payload with n regions of rsz bytes. */
static uint32_t mem_table(uint8_t *p, uint32_t n, uint32_t rsz)
{
	memset(p, 0, 8 + 9 * 40);
	put_u32(p, 0, n);
	for (uint32_t i = 0; i < n && i < 9; i++) {
		uint8_t *r = p + 8 + i * rsz;
		put_u64(r, 0, 0x100000000ull * i);         /* gpa */
		put_u64(r, 8, 0x40000000);                 /* size */
		put_u64(r, 16, 0x7f0000000000ull + i * 4); /* uaddr */
	}
	return 8 + n * rsz;
}

static void check_mem_table(void **state)
{
	(void)state;
	char why[256];
	uint8_t p[8 + 9 * 40 + 8];
	struct vup_negotiated xen = {0, 1ull << VUP_PF_XEN_MMAP};
	uint32_t size;

	size = mem_table(p, 1, 32);
	assert_int_equal(size, 40);
	assert_int_equal(fe(5, p, size, 1, NULL, why), 0);
	assert_int_equal(fe(5, p, size, 0, NULL, why), -EPROTO);
	assert_contains(why, "carries 0 fds, want 1");
	assert_int_equal(fe(5, p, size, 2, NULL, why), -EPROTO);

	size = mem_table(p, 8, 32);
	assert_int_equal(fe(5, p, size, 8, NULL, why), 0);
	assert_int_equal(fe(5, p, size, 7, NULL, why), -EPROTO);
	assert_contains(why, "want 8");

	/* Zero regions: 8 bytes, no fds (also the postcopy "ack"). */
	size = mem_table(p, 0, 32);
	assert_int_equal(fe(5, p, size, 0, NULL, why), 0);
	assert_int_equal(fe(5, p, size, 1, NULL, why), -EPROTO);

	/* 9 regions: past the spec's baseline, within rust-vmm's 32. */
	size = mem_table(p, 9, 32);
	assert_int_equal(size, 296);
	assert_int_equal(fe(5, p, size, 9, NULL, why), 0);
	/* More than 32, even when the size fits them. */
	static uint8_t big[8 + 33 * 32];
	memset(big, 0, sizeof(big));
	put_u32(big, 0, 32);
	assert_int_equal(fe(5, big, 8 + 32 * 32, 32, NULL, why), 0);
	put_u32(big, 0, 33);
	assert_int_equal(fe(5, big, sizeof(big), 32, NULL, why), -EPROTO);
	assert_contains(why, "at most 32");
	assert_int_equal(last_problem, VUP_PROBLEM_LAYOUT);
	put_u32(p, 0, 0xffffffff);
	assert_int_equal(fe(5, p, 40, 1, NULL, why), -EPROTO);
	assert_contains(why, "at most 32");

	/* Declared count and size disagree. */
	mem_table(p, 2, 32);
	assert_int_equal(fe(5, p, 40, 2, NULL, why), -EPROTO);
	assert_contains(why, "does not fit");
	assert_int_equal(fe(5, p, 72, 2, NULL, why), 0);
	assert_int_equal(fe(5, p, 73, 2, NULL, why), -EPROTO);

	/* XEN_MMAP: 40-byte regions. */
	size = mem_table(p, 1, 40);
	assert_int_equal(size, 48);
	assert_int_equal(fe(5, p, size, 1, &xen, why), 0);
	assert_int_equal(fe(5, p, size, 1, NULL, why), -EPROTO);
	assert_contains(why, "does not fit");
	size = mem_table(p, 1, 32);
	assert_int_equal(fe(5, p, size, 1, &xen, why), -EPROTO);
	assert_contains(why, "40");
	size = mem_table(p, 8, 40);
	assert_int_equal(size, 8 + 8 * 40);
	assert_int_equal(fe(5, p, size, 8, &xen, why), 0);

	/* The postcopy echo (a reply with the table) is checked too. */
	size = mem_table(p, 2, 32);
	assert_int_equal(be_reply(5, p, size, 0, NULL, why), 0);
	assert_int_equal(be_reply(5, p, size - 8, 0, NULL, why), -EPROTO);
	/* and its 8-byte ack form is an ack. */
	put_u64(p, 0, 0);
	assert_int_equal(be_reply(5, p, 8, 0, NULL, why), 0);
	assert_int_equal(be_reply(5, p, 0, 0, NULL, why), 0);
}

static void check_mem_reg(void **state)
{
	(void)state;
	char why[256];
	uint8_t p[48] = {0};
	struct vup_negotiated xen = {0, 1ull << VUP_PF_XEN_MMAP};
	assert_int_equal(fe(37, p, 40, 1, NULL, why), 0);
	assert_int_equal(fe(37, p, 40, 0, NULL, why), -EPROTO);
	assert_int_equal(fe(37, p, 48, 1, NULL, why), -EPROTO);
	assert_contains(why, "one region");
	assert_int_equal(fe(37, p, 48, 1, &xen, why), 0);
	assert_int_equal(fe(37, p, 40, 1, &xen, why), -EPROTO);
	assert_int_equal(fe(38, p, 48, 0, &xen, why), 0);
	assert_int_equal(fe(38, p, 44, 0, &xen, why), -EPROTO);
	/* QEMU's postcopy ack of the back-end's echo: 8 bytes, no fd. */
	assert_int_equal(fe(37, p, 8, 0, NULL, why), 0);
	assert_int_equal(fe(37, p, 8, 1, NULL, why), -EPROTO);
	assert_contains(why, "carries 1 fds, want 0");
	assert_int_equal(fe(37, p, 16, 0, NULL, why), -EPROTO);
	/* REM_MEM_REG has no such form. */
	assert_int_equal(fe(38, p, 8, 0, NULL, why), -EPROTO);
}

static void check_config(void **state)
{
	(void)state;
	char why[256];
	uint8_t p[12 + 260] = {0};
	put_u32(p, 0, 0);  /* offset */
	put_u32(p, 4, 16); /* size */
	assert_int_equal(fe(24, p, 28, 0, NULL, why), 0);
	assert_int_equal(fe(25, p, 28, 0, NULL, why), 0);
	assert_int_equal(fe(24, p, 27, 0, NULL, why), -EPROTO);
	assert_contains(why, "16 config bytes in a 27-byte payload");
	assert_int_equal(fe(24, p, 29, 0, NULL, why), -EPROTO);
	assert_int_equal(be_reply(24, p, 28, 0, NULL, why), 0);
	assert_int_equal(be_reply(24, p, 20, 0, NULL, why), -EPROTO);
	put_u32(p, 4, 256);
	assert_int_equal(fe(24, p, 12 + 256, 0, NULL, why), 0);
	put_u32(p, 4, 0);
	assert_int_equal(fe(24, p, 12, 0, NULL, why), 0);
	put_u32(p, 4, 0xfffffff4); /* 12 + size wraps to 0 */
	assert_int_equal(fe(24, p, 12, 0, NULL, why), -EPROTO);
	assert_int_equal(be_reply(24, p, 12, 0, NULL, why), -EPROTO);
}

static void check_shmem_config(void **state)
{
	(void)state;
	char why[256];
	static uint8_t p[8 + 256 * 8];
	memset(p, 0, sizeof(p));
	put_u32(p, 0, 2);
	assert_int_equal(be_reply(44, p, sizeof(p), 0, NULL, why), 0);
	assert_int_equal(be_reply(44, p, 24, 0, NULL, why), 0);
	assert_int_equal(be_reply(44, p, 23, 0, NULL, why), -EPROTO);
	put_u32(p, 0, 257);
	assert_int_equal(be_reply(44, p, sizeof(p), 0, NULL, why), -EPROTO);
	assert_contains(why, "257");
}

static void check_unknown_passes(void **state)
{
	(void)state;
	char why[256];
	static uint8_t p[VUP_MAX_PAYLOAD];
	/* Anything within the global limit, with any fds. */
	assert_int_equal(fe(46, p, 0, 0, NULL, why), 0);
	assert_int_equal(fe(99, p, 4096, 5, NULL, why), 0);
	assert_int_equal(fe(0, p, 3, 32, NULL, why), 0);
	assert_int_equal(be_reply(99, p, 17, 1, NULL, why), 0);
	assert_int_equal(chk(11, REQ, p, 100, 3, VUP_CHAN_BACKEND, VUP_BACKEND,
	                     NULL, why),
	                 0);
	/* but the header rules still apply. */
	assert_int_equal(fe(99, p, 4097, 0, NULL, why), -EPROTO);
	assert_int_equal(
	        chk(99, 0, p, 0, 0, VUP_CHAN_MAIN, VUP_FRONTEND, NULL, why),
	        -EPROTO);
	assert_int_equal(
	        chk(99, REPLY, p, 0, 0, VUP_CHAN_MAIN, VUP_FRONTEND, NULL, why),
	        -EPROTO);
}

/* Every row of the catalogue accepts a well-formed minimal request. */
static void check_every_row_accepts_minimal(void **state)
{
	(void)state;
	char why[256];
	static uint8_t p[VUP_MAX_PAYLOAD];
	for (int ch = VUP_CHAN_MAIN; ch <= VUP_CHAN_BACKEND; ch++) {
		enum vup_side asker =
		        ch == VUP_CHAN_MAIN ? VUP_FRONTEND : VUP_BACKEND;
		for (size_t i = 0; i < vup_proto_count(ch); i++) {
			const struct vup_msg_type *t = vup_proto_at(ch, i);
			memset(p, 0, sizeof(p));
			uint32_t size = t->req_min;
			if (t->req_layout == VUP_L_MEM_REG)
				size = 40;
			unsigned nfds =
			        t->req_fds == VUP_FD_ONE ||
			                        t->req_fds == VUP_FD_VRING
			                ? 1
			                : 0;
			int rc = chk(t->code, REQ, p, size, nfds, ch, asker,
			             NULL, why);
			if (rc)
				fail_msg("%s: %s", t->name, why);
		}
	}
}

/* ---- the reply rule ---- */

static enum vup_expect expect(uint32_t req, uint32_t flags, enum vup_chan chan,
                              uint64_t pf)
{
	struct vup_hdr h = hdr(req, flags, 8);
	struct vup_negotiated neg = {0, pf};
	return vup_proto_reply_expected(&h, chan, &neg);
}

#define NR  (REQ | VUP_FLAG_NEED_REPLY)
#define RA  (1ull << VUP_PF_REPLY_ACK)
#define LOG (1ull << VUP_PF_LOG_SHMFD)
#define PF  (1ull << 8) /* PAGEFAULT */

static void reply_rule(void **state)
{
	(void)state;
	const enum vup_chan M = VUP_CHAN_MAIN, B = VUP_CHAN_BACKEND;
	/* ALWAYS: regardless of flags and features. */
	const uint32_t always[] = {1, 11, 15, 17, 24, 28, 30, 31, 40, 45};
	for (size_t i = 0; i < COUNT(always); i++) {
		assert_int_equal(expect(always[i], REQ, M, 0), VUP_EXPECT_YES);
		assert_int_equal(expect(always[i], NR, M, 0), VUP_EXPECT_YES);
		assert_int_equal(expect(always[i], NR, M, RA), VUP_EXPECT_YES);
	}
	/* ACK: only with NEED_REPLY; certain only with REPLY_ACK. */
	const uint32_t ack[] = {2, 3, 8, 9, 12, 16, 18, 34, 39};
	for (size_t i = 0; i < COUNT(ack); i++) {
		assert_int_equal(expect(ack[i], REQ, M, 0), VUP_EXPECT_NONE);
		assert_int_equal(expect(ack[i], REQ, M, RA), VUP_EXPECT_NONE);
		assert_int_equal(expect(ack[i], NR, M, 0), VUP_EXPECT_MAYBE);
		assert_int_equal(expect(ack[i], NR, M, RA), VUP_EXPECT_YES);
	}
	/* SET_LOG_BASE: a reply always follows with LOG_SHMFD. */
	assert_int_equal(expect(6, REQ, M, 0), VUP_EXPECT_NONE);
	assert_int_equal(expect(6, REQ, M, LOG), VUP_EXPECT_YES);
	assert_int_equal(expect(6, NR, M, LOG), VUP_EXPECT_YES);
	assert_int_equal(expect(6, NR, M, 0), VUP_EXPECT_MAYBE);
	assert_int_equal(expect(6, NR, M, RA), VUP_EXPECT_YES);
	/* Postcopy-capable requests may be echoed. */
	assert_int_equal(expect(5, REQ, M, 0), VUP_EXPECT_NONE);
	assert_int_equal(expect(5, REQ, M, PF), VUP_EXPECT_MAYBE);
	assert_int_equal(expect(5, NR, M, RA), VUP_EXPECT_YES);
	assert_int_equal(expect(37, NR, M, 0), VUP_EXPECT_MAYBE);
	/* Unknown requests: perhaps. */
	assert_int_equal(expect(99, REQ, M, 0), VUP_EXPECT_MAYBE);
	assert_int_equal(expect(0, REQ, M, RA), VUP_EXPECT_MAYBE);
	assert_int_equal(expect(11, REQ, B, 0), VUP_EXPECT_MAYBE);
	/* Back-end channel: LOOKUP always, the rest on NEED_REPLY. */
	assert_int_equal(expect(8, REQ, B, 0), VUP_EXPECT_YES);
	assert_int_equal(expect(1, REQ, B, 0), VUP_EXPECT_NONE);
	assert_int_equal(expect(1, NR, B, 0), VUP_EXPECT_MAYBE);
	assert_int_equal(expect(1, NR, B, RA), VUP_EXPECT_YES);
	assert_int_equal(expect(2, NR, B, RA), VUP_EXPECT_YES);
	/* No negotiated state at all. */
	struct vup_hdr h = hdr(2, NR, 8);
	assert_int_equal(vup_proto_reply_expected(&h, M, NULL),
	                 VUP_EXPECT_MAYBE);
	h = hdr(1, REQ, 0);
	assert_int_equal(vup_proto_reply_expected(&h, M, NULL), VUP_EXPECT_YES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(check_header_version),
	        cmocka_unit_test(check_header_direction),
	        cmocka_unit_test(check_header_sizes),
	        cmocka_unit_test(check_header_why_optional),
	        cmocka_unit_test(check_min_sizes),
	        cmocka_unit_test(check_vring_fds),
	        cmocka_unit_test(check_fixed_fds),
	        cmocka_unit_test(check_mem_table),
	        cmocka_unit_test(check_mem_reg),
	        cmocka_unit_test(check_config),
	        cmocka_unit_test(check_shmem_config),
	        cmocka_unit_test(check_unknown_passes),
	        cmocka_unit_test(check_every_row_accepts_minimal),
	        cmocka_unit_test(reply_rule),
	};
	return cmocka_run_group_tests_name("proto_check", tests, NULL, NULL);
}
