/* Hostile peers, one fault per test (formerly tests/peers/test_malformed.c,
 * generalised: trace, fd accounting, relayed cases, external vuproxy).
 *
 * Two sessions are open: w (the witness) and h, whose peer misbehaves.
 *   refuse: vuproxy logs one error line naming h, the direction, the
 *           request (where it got that far) and the problem, closes h
 *           (every peer of h sees EOF) and nothing else;
 *   relay:  the spec lets the message through and the receiver judge:
 *           vuproxy passes it unchanged with the same files, and h goes
 *           on (a round trip) until the front-end hangs up cleanly;
 *   judged: relayed like that and reported (a warning line ending in
 *           "relayed", a mark on the message in the trace) by default;
 *           refused, as above, with --strict (hostile_cases_strict).
 * Either way: w still does a round trip and was never closed; the trace
 * of h holds exactly the messages vuproxy received before the fault (a
 * refused message recorded as "refused" when it was read whole); and
 * vuproxy holds as many fds as before h existed. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostile.h"

#define FE      VUP_FRONTEND
#define BE      VUP_BACKEND
#define MAIN    VUP_CHAN_MAIN
#define BCH     VUP_CHAN_BACKEND
#define BCH_TAG " [backend-channel]"

enum outcome { REFUSE, RELAY, JUDGED };

struct hcase {
	const char *name;
	void (*inject)(struct hsess *h);
	enum outcome out;
	const char *dir;     /* refuse: direction in the error line */
	const char *request; /* refuse: request in the error line, or NULL */
	const char *what;    /* refuse: words of the reason; relay: of the
	                        warning line, or NULL for none */
	const char *tap[2];  /* with --tap: words of a line "sN tap ..." */
};

/* Send; vuproxy may already have closed, so errors are not failures. */
static void send_msg(struct peer *p, const char *name, uint32_t flags,
                     const void *payload, uint32_t size, const int *fds,
                     unsigned nfds)
{
	(void)peer_send(p, peer_code(name), flags, payload, size, fds, nfds);
}

static void send_raw(struct peer *p, const void *buf, size_t len,
                     const int *fds, unsigned nfds)
{
	(void)peer_send_raw(p->ch.fd, buf, len, fds, nfds);
}

/* The faulty message, read whole and recorded as refused. */
static void refused(struct hsess *h, enum vup_chan chan, enum vup_side from,
                    const char *name, bool reply)
{
	hs_expect(h, chan, from, peer_code(name), reply, "refused");
}

/* A message the spec leaves to the receiver: by default vuproxy relays it
 * unchanged with its files, marking it `kind` in the trace; with
 * --strict it refuses it (recorded as refused). */
static void judged(struct hsess *h, enum vup_chan chan, enum vup_side from,
                   const char *name, uint32_t flags, const void *payload,
                   uint32_t size, const int *fds, unsigned nfds,
                   const char *kind)
{
	if (hx_strict()) {
		struct peer *p = chan == MAIN
		                         ? (from == FE ? h->fe : h->be)
		                         : (from == FE ? h->fe_b : h->be_b);
		send_msg(p, name, flags, payload, size, fds, nfds);
		refused(h, chan, from, name, flags & R);
		return;
	}
	PEER_OK(hs_relay(h, from, chan, peer_code(name), flags, payload, size,
	                 fds, nfds));
	struct hrec *r = &h->rec[h->nrec - 1];
	snprintf(r->mark, sizeof(r->mark), "%s", kind);
}

/* fe asks name (a valid request) and be receives it. */
static void ask(struct hsess *h, const char *name, const void *payload,
                uint32_t size)
{
	PEER_OK(hs_relay(h, FE, MAIN, peer_code(name), V, payload, size, NULL,
	                 0));
}

static void relay(struct hsess *h, enum vup_side from, const char *name,
                  uint32_t flags, const void *payload, uint32_t size,
                  const int *fds, unsigned nfds)
{
	PEER_OK(hs_relay(h, from, MAIN, peer_code(name), flags, payload, size,
	                 fds, nfds));
}

static void peer_gone(struct peer **p)
{
	peer_sleep_ms(20);
	peer_free(*p);
	*p = NULL;
}

/* Front-end faults. */

static void fe_bad_version(struct hsess *h)
{
	send_msg(h->fe, "GET_FEATURES", 0x2, NULL, 0, NULL, 0);
	refused(h, MAIN, FE, "GET_FEATURES", false);
}

static void fe_reply_flag(struct hsess *h)
{
	judged(h, MAIN, FE, "GET_FEATURES", V | R, NULL, 0, NULL, 0, "role");
}

static void fe_over_bound(struct hsess *h)
{
	uint8_t p[16] = {0};
	judged(h, MAIN, FE, "SET_VRING_NUM", V, p, sizeof(p), NULL, 0, "size");
}

/* Over the 4 KiB every peer caps at: refused on the header alone. */
static void fe_over_4096(struct hsess *h)
{
	static uint8_t buf[12 + 5000];
	hx_hdr(buf, peer_code("SET_VRING_NUM"), V, 5000);
	send_raw(h->fe, buf, sizeof(buf), NULL, 0);
}

static void fe_under(struct hsess *h)
{
	uint8_t p[4] = {0};
	judged(h, MAIN, FE, "SET_VRING_NUM", V, p, sizeof(p), NULL, 0, "size");
}

static void fe_fd_on_fdless(struct hsess *h)
{
	int fd = hx_memfd(0);
	judged(h, MAIN, FE, "GET_FEATURES", V, NULL, 0, &fd, 1, "fds");
	close(fd);
}

static void fe_kick_without_fd(struct hsess *h)
{
	uint64_t ring = 0; /* NOFD clear: an fd must come */
	judged(h, MAIN, FE, "SET_VRING_KICK", V, &ring, 8, NULL, 0, "fds");
}

/* Ring 256 in a vring-fd u64 is ring 0 with bit 8 (NOFD): no fd may
 * come, yet one does. */
static void fe_call_ring_256_with_fd(struct hsess *h)
{
	uint64_t ring = 256;
	int efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	judged(h, MAIN, FE, "SET_VRING_CALL", V, &ring, 8, &efd, 1, "fds");
	close(efd);
}

static void fds_on_call(struct hsess *h, unsigned n)
{
	int fds[256];
	int efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	for (unsigned i = 0; i < n; i++) {
		fds[i] = dup(efd);
		assert_true(fds[i] >= 0);
	}
	uint64_t ring = 0;
	send_msg(h->fe, "SET_VRING_CALL", V, &ring, 8, fds, n);
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
	close(efd);
}

static void fe_33_fds(struct hsess *h)
{
	fds_on_call(h, 33);
}

/* SCM_MAX_FD: the most one sendmsg can carry. */
static void fe_253_fds(struct hsess *h)
{
	fds_on_call(h, 253);
}

/* A table of n regions, each with a 4 KiB memfd; `declared` in its
 * count field (n, or more). */
static void mem_table_n(struct hsess *h, unsigned n, unsigned declared,
                        const char *kind)
{
	static uint8_t p[8 + 33 * 32];
	memset(p, 0, sizeof(p));
	memcpy(p, &declared, 4);
	int fds[32];
	for (unsigned i = 0; i < n; i++)
		fds[i] = hx_memfd(4096);
	if (kind)
		judged(h, MAIN, FE, "SET_MEM_TABLE", V, p, 8 + 32 * declared,
		       fds, n, kind);
	else
		relay(h, FE, "SET_MEM_TABLE", V, p, 8 + 32 * n, fds, n);
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

/* Past the spec's baseline of 8, within rust-vmm's 32: relayed as it is,
 * nothing to report. */
static void fe_mem_table_9(struct hsess *h)
{
	mem_table_n(h, 9, 9, NULL);
}

static void fe_mem_table_32(struct hsess *h)
{
	mem_table_n(h, 32, 32, NULL);
}

/* 33 regions declared (and described), 32 fds: the most one message can
 * carry. */
static void fe_mem_table_33(struct hsess *h)
{
	mem_table_n(h, 32, 33, "layout");
}

static void fe_config_mismatch(struct hsess *h)
{
	uint8_t p[12 + 4] = {0};
	uint32_t n = 8; /* declares 8 config bytes, carries 4 */
	memcpy(p + 4, &n, 4);
	judged(h, MAIN, FE, "SET_CONFIG", V, p, sizeof(p), NULL, 0, "layout");
}

/* Not a socket: vuproxy cannot interpose a channel it cannot use, so it
 * passes the fd on as it is (the back-end gets the very memfd) and
 * reports it; with --strict the interposition refuses it, and the
 * message, which passed the catalogue's checks, is recorded as passed. */
static void fe_backend_req_fd_not_socket(struct hsess *h)
{
	int fd = hx_memfd(0);
	if (hx_strict()) {
		send_msg(h->fe, "SET_BACKEND_REQ_FD", V, NULL, 0, &fd, 1);
		hs_expect(h, MAIN, FE, peer_code("SET_BACKEND_REQ_FD"), false,
		          "refused");
	} else {
		judged(h, MAIN, FE, "SET_BACKEND_REQ_FD", V, NULL, 0, &fd, 1,
		       "backend-req-fd");
	}
	close(fd);
}

static void fe_close_mid_payload(struct hsess *h)
{
	uint8_t buf[12 + 10] = {0};
	hx_hdr(buf, peer_code("SET_VRING_ADDR"), V, 40);
	send_raw(h->fe, buf, sizeof(buf), NULL, 0);
	peer_gone(&h->fe);
}

static void fe_close_mid_header(struct hsess *h)
{
	uint8_t buf[5] = {1, 0, 0, 0, 1};
	send_raw(h->fe, buf, sizeof(buf), NULL, 0);
	peer_gone(&h->fe);
}

/* Back-end faults on the main channel. */

static void be_request_on_main(struct hsess *h)
{
	judged(h, MAIN, BE, "GET_FEATURES", V, NULL, 0, NULL, 0, "role");
}

static void be_unsolicited_reply(struct hsess *h)
{
	uint64_t f = 0;
	judged(h, MAIN, BE, "GET_FEATURES", V | R, &f, 8, NULL, 0,
	       "unsolicited-reply");
}

/* The reply owed stays owed: the right one still pairs afterwards. */
static void be_wrong_reply(struct hsess *h)
{
	ask(h, "GET_FEATURES", NULL, 0);
	uint64_t f = 0;
	judged(h, MAIN, BE, "GET_PROTOCOL_FEATURES", V | R, &f, 8, NULL, 0,
	       "unsolicited-reply");
	if (!hx_strict())
		relay(h, BE, "GET_FEATURES", V | R, &f, 8, NULL, 0);
}

static void be_bad_version(struct hsess *h)
{
	ask(h, "GET_FEATURES", NULL, 0);
	uint64_t f = 0;
	send_msg(h->be, "GET_FEATURES", 0x2 | R, &f, 8, NULL, 0);
	refused(h, MAIN, BE, "GET_FEATURES", true);
}

/* libvhost-user (qemu-storage-daemon) echoes the request's flags. */
static void be_need_reply_on_reply(struct hsess *h)
{
	ask(h, "GET_FEATURES", NULL, 0);
	uint64_t f = 0;
	judged(h, MAIN, BE, "GET_FEATURES", V | R | NR, &f, 8, NULL, 0,
	       "need-reply-on-reply");
}

static void be_reply_over_bound(struct hsess *h)
{
	ask(h, "GET_FEATURES", NULL, 0);
	uint8_t p[16] = {0};
	judged(h, MAIN, BE, "GET_FEATURES", V | R, p, sizeof(p), NULL, 0,
	       "size");
}

static void be_reply_over_4096(struct hsess *h)
{
	uint8_t cfg[12 + 4] = {0};
	cfg[4] = 4;
	ask(h, "GET_CONFIG", cfg, sizeof(cfg));
	static uint8_t buf[12 + 5000];
	hx_hdr(buf, peer_code("GET_CONFIG"), V | R, 5000);
	send_raw(h->be, buf, sizeof(buf), NULL, 0);
}

static void be_reply_under(struct hsess *h)
{
	ask(h, "GET_FEATURES", NULL, 0);
	uint8_t p[4] = {0};
	judged(h, MAIN, BE, "GET_FEATURES", V | R, p, sizeof(p), NULL, 0,
	       "size");
}

static void be_reply_fd_on_fdless(struct hsess *h)
{
	ask(h, "GET_FEATURES", NULL, 0);
	uint64_t f = 0;
	int fd = hx_memfd(0);
	judged(h, MAIN, BE, "GET_FEATURES", V | R, &f, 8, &fd, 1, "fds");
	close(fd);
}

static void be_reply_33_fds(struct hsess *h)
{
	uint8_t inflight[24] = {0};
	ask(h, "GET_INFLIGHT_FD", inflight, sizeof(inflight));
	int fds[33];
	for (int i = 0; i < 33; i++)
		fds[i] = hx_memfd(0);
	send_msg(h->be, "GET_INFLIGHT_FD", V | R, inflight, sizeof(inflight),
	         fds, 33);
	for (int i = 0; i < 33; i++)
		close(fds[i]);
}

static void be_close_mid_payload(struct hsess *h)
{
	ask(h, "GET_FEATURES", NULL, 0);
	uint8_t buf[12 + 4] = {0};
	hx_hdr(buf, peer_code("GET_FEATURES"), V | R, 8);
	send_raw(h->be, buf, sizeof(buf), NULL, 0);
	peer_gone(&h->be);
}

static void be_close_mid_header(struct hsess *h)
{
	ask(h, "GET_FEATURES", NULL, 0);
	uint8_t buf[7] = {1, 0, 0, 0, 5, 0, 0};
	send_raw(h->be, buf, sizeof(buf), NULL, 0);
	peer_gone(&h->be);
}

/* Faults on the back-end channel. */

static void bch_notifier_without_fd(struct hsess *h)
{
	PEER_OK(hs_open_bch(h));
	uint8_t p[24] = {0}; /* ring 0, NOFD clear: an fd must come */
	judged(h, BCH, BE, "BACKEND_VRING_HOST_NOTIFIER_MSG", V, p, sizeof(p),
	       NULL, 0, "fds");
}

static void bch_be_reply_flag(struct hsess *h)
{
	PEER_OK(hs_open_bch(h));
	judged(h, BCH, BE, "BACKEND_CONFIG_CHANGE_MSG", V | R, NULL, 0, NULL, 0,
	       "role");
}

static void bch_fe_unsolicited_reply(struct hsess *h)
{
	PEER_OK(hs_open_bch(h));
	uint64_t ack = 0;
	judged(h, BCH, FE, "BACKEND_IOTLB_MSG", V | R, &ack, 8, NULL, 0,
	       "unsolicited-reply");
}

static void bch_be_close_mid_header(struct hsess *h)
{
	PEER_OK(hs_open_bch(h));
	uint8_t buf[6] = {3, 0, 0, 0, 1, 0};
	send_raw(h->be_b, buf, sizeof(buf), NULL, 0);
	peer_gone(&h->be_b);
}

/* Relayed unchanged: the spec leaves the judgement to the receiver. */

static void put32(uint8_t *b, size_t off, uint32_t v)
{
	memcpy(b + off, &v, 4);
}

static void put64(uint8_t *b, size_t off, uint64_t v)
{
	memcpy(b + off, &v, 8);
}

/* Reserved flag bits: relayed as they are, also with --strict, marked,
 * with one warning line (the rate limit holds the second back). */
static void fe_reserved_flags(struct hsess *h)
{
	relay(h, FE, "GET_FEATURES", V | 0x10, NULL, 0, NULL, 0);
	snprintf(h->rec[h->nrec - 1].mark, sizeof(h->rec[0].mark),
	         "reserved-flags");
	uint64_t f = 1ull << 32;
	relay(h, BE, "GET_FEATURES", V | R | 0x20, &f, 8, NULL, 0);
	snprintf(h->rec[h->nrec - 1].mark, sizeof(h->rec[0].mark),
	         "reserved-flags");
}

/* A memory table of n regions: {gpa, size, uva, offset} each. */
static uint32_t mem_table(uint8_t *p, unsigned n, const uint64_t (*reg)[4])
{
	put32(p, 0, n);
	put32(p, 4, 0);
	for (unsigned i = 0; i < n; i++)
		for (unsigned k = 0; k < 4; k++)
			put64(p, 8 + 32 * i + 8 * k, reg[i][k]);
	return 8 + 32 * n;
}

static void set_fds(struct hsess *h, const char *kinds, uint64_t size0)
{
	struct hrec *r = &h->rec[h->nrec - 1];
	snprintf(r->fdkinds, sizeof(r->fdkinds), "%s", kinds);
	r->fdsize[0] = size0;
}

/* Memory and rings.  vuproxy relays these unchanged: the back-end maps
 * the regions and judges the rings.  With --tap (hostile_cases_tap)
 * vuproxy also maps the regions and reads the rings itself, so each case
 * sets a queue up completely (features, table, num, addr, base, kick)
 * over memory that holds a hostile ring: avail and used idx 1, its one
 * descriptor chained to itself and pointing outside guest memory.  The tap must
 * refuse or survive it; the session goes on either way. */

#define UVA   0x7f0000000000ull
#define MIB   (1ull << 20)
#define DESC  UVA
#define AVAIL (UVA + MIB)
#define USED  (UVA + MIB + MIB / 4)

static void vring_addr(uint8_t *p, uint32_t index, uint64_t desc, uint64_t used,
                       uint64_t avail)
{
	put32(p, 0, index);
	put32(p, 4, 0);
	put64(p, 8, desc);
	put64(p, 16, used);
	put64(p, 24, avail);
	put64(p, 32, 0);
}

/* A memfd of `size` bytes whose first 2 MiB (where they exist) hold the
 * hostile ring at the offsets of DESC, AVAIL and USED. */
static int ring_memfd(size_t size)
{
	int fd = hx_memfd(size);
	uint8_t d[16];
	put64(d, 0, 0xffffffff0000ull); /* outside every region */
	put32(d, 8, 0xffffffffu);
	uint16_t fl = 1, next = 0; /* NEXT, to itself */
	memcpy(d + 12, &fl, 2);
	memcpy(d + 14, &next, 2);
	uint8_t avail[6] = {0, 0, 1, 0, 0, 0}; /* idx 1, ring[0] = 0 */
	/* ...and the device has used it: idx 1, ring[0] = {id 0, len 64} */
	uint8_t used[12] = {0, 0, 1, 0, 0, 0, 0, 0, 64, 0, 0, 0};
	if (size >= 16)
		assert_int_equal(pwrite(fd, d, 16, 0), 16);
	if (size >= MIB + 6)
		assert_int_equal(pwrite(fd, avail, 6, (off_t)MIB), 6);
	if (size >= MIB + MIB / 4 + 12)
		assert_int_equal(pwrite(fd, used, 12, (off_t)(MIB + MIB / 4)),
		                 12);
	return fd;
}

/* Features (VERSION_1 only: no enable needed), the table, then queue 0
 * described completely and kicked.  The back-end refuses SET_VRING_NUM
 * (NEED_REPLY, ack 1) and the answer reaches the front-end unchanged. */
static void queue_setup(struct hsess *h, unsigned nreg,
                        const uint64_t (*reg)[4], const int *fds,
                        const char *kinds, uint64_t size0, uint32_t num,
                        uint64_t desc, uint64_t avail, uint64_t used)
{
	uint64_t f = 1ull << 32;
	relay(h, FE, "SET_FEATURES", V, &f, 8, NULL, 0);
	uint8_t buf[8 + 8 * 32];
	uint32_t size = mem_table(buf, nreg, reg);
	relay(h, FE, "SET_MEM_TABLE", V, buf, size, fds, nreg);
	set_fds(h, kinds, size0);
	uint32_t st[2] = {0, num};
	relay(h, FE, "SET_VRING_NUM", V | NR, st, 8, NULL, 0);
	uint64_t nack = 1;
	relay(h, BE, "SET_VRING_NUM", V | R, &nack, 8, NULL, 0);
	uint8_t a[40];
	vring_addr(a, 0, desc, used, avail);
	relay(h, FE, "SET_VRING_ADDR", V, a, sizeof(a), NULL, 0);
	st[1] = 0;
	relay(h, FE, "SET_VRING_BASE", V, st, 8, NULL, 0);
	uint64_t ring = 0;
	int efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	relay(h, FE, "SET_VRING_KICK", V, &ring, 8, &efd, 1);
	set_fds(h, "eventfd", 0);
	close(efd);
	/* A tap reads rings every millisecond: let it try. */
	peer_sleep_ms(30);
}

static void one_region(struct hsess *h, int fd, const char *kind,
                       uint64_t fdsize, uint64_t region, uint32_t num,
                       uint64_t desc)
{
	const uint64_t reg[1][4] = {{0, region, UVA, 0}};
	queue_setup(h, 1, reg, &fd, kind, fdsize, num, desc, AVAIL, USED);
	close(fd);
}

/* A pipe as the region's fd: mmap fails. */
static void fe_region_fd_pipe(struct hsess *h)
{
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	close(p[1]);
	one_region(h, p[0], "pipe", 0, 2 * MIB, 256, DESC);
}

/* A 4 KiB memfd for a 1 GiB region: a mapping reads SIGBUS past 4 KiB,
 * where the avail and used rings are. */
static void fe_region_memfd_short(struct hsess *h)
{
	one_region(h, ring_memfd(4096), "memfd", 4096, 1ull << 30, 256, DESC);
}

/* Two regions over the same guest and user addresses. */
static void fe_regions_overlap(struct hsess *h)
{
	int fds[2] = {ring_memfd(2 * MIB), ring_memfd(2 * MIB)};
	const uint64_t reg[2][4] = {
	        {0, 2 * MIB, UVA, 0},
	        {MIB, 2 * MIB, UVA + MIB / 2, 0},
	};
	queue_setup(h, 2, reg, fds, "memfd,memfd", 2 * MIB, 256, DESC, AVAIL,
	            USED);
	close(fds[0]);
	close(fds[1]);
}

static void vring_addr_only(uint8_t *p, uint32_t index)
{
	vring_addr(p, index, DESC, USED, AVAIL);
}

/* Requests on ring `index`; a back-end decides whether it has one. */
static void vring_index(struct hsess *h, uint32_t index)
{
	uint32_t st[2] = {index, 256};
	relay(h, FE, "SET_VRING_NUM", V, st, 8, NULL, 0);
	st[1] = 0;
	relay(h, FE, "SET_VRING_BASE", V, st, 8, NULL, 0);
	uint8_t a[40];
	vring_addr_only(a, index);
	relay(h, FE, "SET_VRING_ADDR", V, a, sizeof(a), NULL, 0);
	st[1] = 1;
	relay(h, FE, "SET_VRING_ENABLE", V, st, 8, NULL, 0);
	st[1] = 0;
	relay(h, FE, "GET_VRING_BASE", V, st, 8, NULL, 0);
	relay(h, BE, "GET_VRING_BASE", V | R, st, 8, NULL, 0);
}

static void fe_vring_index_255(struct hsess *h)
{
	vring_index(h, 255);
	/* The largest ring a vring-fd u64 can name, with its eventfd. */
	uint64_t ring = 255;
	int efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	relay(h, FE, "SET_VRING_KICK", V, &ring, 8, &efd, 1);
	set_fds(h, "eventfd", 0);
	close(efd);
}

/* A peer that repeats a fault cannot flood the log: one warning line per
 * session and kind, the rest counted and told when the session ends. */
static void fe_reserved_flags_flood(struct hsess *h)
{
	for (int i = 0; i < 500; i++) {
		relay(h, FE, "GET_FEATURES", V | 0x10, NULL, 0, NULL, 0);
		snprintf(h->rec[h->nrec - 1].mark, sizeof(h->rec[0].mark),
		         "reserved-flags");
		uint64_t f = 1ull << 32;
		relay(h, BE, "GET_FEATURES", V | R, &f, 8, NULL, 0);
	}
}

static void fe_vring_index_256(struct hsess *h)
{
	vring_index(h, 256);
}

static void fe_queue_size_0(struct hsess *h)
{
	one_region(h, ring_memfd(2 * MIB), "memfd", 2 * MIB, 2 * MIB, 0, DESC);
}

static void fe_queue_size_not_pow2(struct hsess *h)
{
	one_region(h, ring_memfd(2 * MIB), "memfd", 2 * MIB, 2 * MIB, 100,
	           DESC);
}

/* 65536 does not fit the u16 ring indices (the spec's maximum is 32768);
 * its rings still fit in the region. */
static void fe_queue_size_65536(struct hsess *h)
{
	one_region(h, ring_memfd(2 * MIB), "memfd", 2 * MIB, 2 * MIB, 65536,
	           DESC);
}

/* A well-formed queue over the hostile ring: a tap follows it and meets
 * a descriptor chained to itself that points outside guest memory; it
 * counts the buffer and captures nothing of it (malformed, or torn: the
 * ring says it was used before the tap first saw it). */
static void fe_ring_hostile_chain(struct hsess *h)
{
	one_region(h, ring_memfd(2 * MIB), "memfd", 2 * MIB, 2 * MIB, 256,
	           DESC);
}

/* A ring whose descriptor table, avail and used rings lie in no region
 * (below it, far above it, at the top of the address space). */
static void fe_ring_outside_regions(struct hsess *h)
{
	int fd = ring_memfd(2 * MIB);
	const uint64_t reg[1][4] = {{0, 2 * MIB, UVA, 0}};
	queue_setup(h, 1, reg, &fd, "memfd", 2 * MIB, 256, 0xdead00000000ull,
	            UVA - 0x1000, 0xfffffffffffff000ull);
	close(fd);
}

#define REF(n, d, r, w)                                                        \
	{                                                                      \
#n, n, REFUSE, d, r, w,                                        \
		{                                                              \
			NULL, NULL                                             \
		}                                                              \
	}
#define REL(n, w)                                                              \
	{                                                                      \
#n, n, RELAY, FE_DIR, NULL, w,                                 \
		{                                                              \
			NULL, NULL                                             \
		}                                                              \
	}
#define JUD(n, d, r, w)                                                        \
	{                                                                      \
#n, n, JUDGED, d, r, w,                                        \
		{                                                              \
			NULL, NULL                                             \
		}                                                              \
	}
#define TAP(n, t1, t2)                                                         \
	{                                                                      \
#n, n, RELAY, FE_DIR, NULL, NULL,                              \
		{                                                              \
			t1, t2                                                 \
		}                                                              \
	}

static const struct hcase cases[] = {
        REF(fe_bad_version, FE_DIR, "GET_FEATURES", "bad version"),
        JUD(fe_reply_flag, FE_DIR, "GET_FEATURES", "REPLY"),
        JUD(fe_over_bound, FE_DIR, "SET_VRING_NUM", "16"),
        REF(fe_over_4096, FE_DIR, "SET_VRING_NUM", "5000"),
        JUD(fe_under, FE_DIR, "SET_VRING_NUM", "under"),
        JUD(fe_fd_on_fdless, FE_DIR, "GET_FEATURES", "1 fds"),
        JUD(fe_kick_without_fd, FE_DIR, "SET_VRING_KICK", "0 fds"),
        JUD(fe_call_ring_256_with_fd, FE_DIR, "SET_VRING_CALL",
            "carries 1 fds, want 0"),
        REF(fe_33_fds, FE_DIR, "SET_VRING_CALL", "fds lost"),
        REF(fe_253_fds, FE_DIR, "SET_VRING_CALL", "fds lost"),
        REL(fe_mem_table_9, NULL),
        REL(fe_mem_table_32, NULL),
        JUD(fe_mem_table_33, FE_DIR, "SET_MEM_TABLE", "33 memory regions"),
        JUD(fe_config_mismatch, FE_DIR, "SET_CONFIG", "config bytes"),
        JUD(fe_backend_req_fd_not_socket, FE_DIR, "SET_BACKEND_REQ_FD",
            "not a socket"),
        REF(fe_close_mid_payload, FE_DIR, "SET_VRING_ADDR", "mid-message"),
        REF(fe_close_mid_header, FE_DIR, NULL, "mid-message"),
        JUD(be_request_on_main, BE_DIR, "GET_FEATURES", "request"),
        JUD(be_unsolicited_reply, BE_DIR, "GET_FEATURES", "nobody asked"),
        JUD(be_wrong_reply, BE_DIR, "GET_PROTOCOL_FEATURES",
            "GET_FEATURES is owed"),
        REF(be_bad_version, BE_DIR, "GET_FEATURES", "bad version"),
        JUD(be_need_reply_on_reply, BE_DIR, "GET_FEATURES", "NEED_REPLY"),
        JUD(be_reply_over_bound, BE_DIR, "GET_FEATURES", "16"),
        REF(be_reply_over_4096, BE_DIR, "GET_CONFIG", "5000"),
        JUD(be_reply_under, BE_DIR, "GET_FEATURES", "under"),
        JUD(be_reply_fd_on_fdless, BE_DIR, "GET_FEATURES", "1 fds"),
        REF(be_reply_33_fds, BE_DIR, "GET_INFLIGHT_FD", "fds lost"),
        REF(be_close_mid_payload, BE_DIR, "GET_FEATURES", "mid-message"),
        REF(be_close_mid_header, BE_DIR, NULL, "mid-message"),
        JUD(bch_notifier_without_fd, BE_DIR BCH_TAG,
            "BACKEND_VRING_HOST_NOTIFIER_MSG", "0 fds"),
        JUD(bch_be_reply_flag, BE_DIR BCH_TAG, "BACKEND_CONFIG_CHANGE_MSG",
            "REPLY"),
        JUD(bch_fe_unsolicited_reply, FE_DIR BCH_TAG, "BACKEND_IOTLB_MSG",
            "nobody asked"),
        REF(bch_be_close_mid_header, BE_DIR BCH_TAG, NULL, "mid-message"),
        REL(fe_reserved_flags, "reserved flag bits 0x10"),
        REL(fe_reserved_flags_flood, "reserved flag bits 0x10"),
        TAP(fe_region_fd_pipe, "SET_MEM_TABLE", "pipe"),
        TAP(fe_region_memfd_short, "SET_MEM_TABLE", "4096 bytes"),
        TAP(fe_regions_overlap, "SET_MEM_TABLE", "overlaps"),
        REL(fe_vring_index_255, NULL),
        TAP(fe_vring_index_256, "vring index 256", NULL),
        TAP(fe_queue_size_0, "not following", "queue size"),
        TAP(fe_queue_size_not_pow2, "not following", "power of 2"),
        TAP(fe_queue_size_65536, "not following", "queue size"),
        REL(fe_ring_outside_regions, NULL),
        TAP(fe_ring_hostile_chain, "consumed 1", "captured 0"),
};

static void expect_refused(struct peer_fx *fx, const struct hcase *hc,
                           struct hsess *h)
{
	struct peer *left[] = {h->fe, h->be, h->fe_b, h->be_b};
	for (size_t i = 0; i < 4; i++)
		if (left[i])
			PEER_OK(peer_expect_eof(left[i], PEER_TIMEOUT_MS));
	PEER_OK(hx_wait_closed(fx, h->id));
	bool ok = hc->request ? hx_error_line(fx, h->id, hc->dir, hc->request,
	                                      hc->what, "closing session", NULL)
	                      : hx_error_line(fx, h->id, hc->dir, hc->what,
	                                      "closing session", NULL);
	if (!ok)
		fail_msg("s%u: no error line with \"%s\" \"%s\" \"%s\":\n%s",
		         h->id, hc->dir, hc->request ? hc->request : "",
		         hc->what, vproc_log_tail(&fx->vp));
	char needle[32];
	snprintf(needle, sizeof(needle), "error: s%u ", h->id);
	if (vproc_count(&fx->vp, needle) != 1)
		fail_msg("s%u: %u error lines, want 1:\n%s", h->id,
		         vproc_count(&fx->vp, needle), vproc_log_tail(&fx->vp));
}

/* Warning lines of session id that hold every needle. */
__attribute__((sentinel)) static unsigned warnings(struct peer_fx *fx,
                                                   unsigned id, ...)
{
	char needle[32];
	snprintf(needle, sizeof(needle), "warning: s%u ", id);
	char *log = vproc_log(&fx->vp);
	unsigned n = 0;
	for (const char *l = log; l && *l;) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) : strlen(l);
		char line[1024];
		snprintf(line, sizeof(line), "%.*s", (int)len, l);
		bool all = strstr(line, needle) != NULL;
		va_list ap;
		va_start(ap, id);
		for (const char *w; all && (w = va_arg(ap, const char *));)
			all = strstr(line, w) != NULL;
		va_end(ap);
		n += all;
		l = e ? e + 1 : NULL;
	}
	free(log);
	return n;
}

static void expect_relayed(struct peer_fx *fx, const struct hcase *hc,
                           struct hsess *h)
{
	PEER_OK(hs_alive(h, 0x55));
	PEER_OK(hs_close_clean(fx, h));
	char needle[32];
	if (hc->what) {
		/* One line for the fault, however often it came, ending in
		 * "relayed". */
		snprintf(needle, sizeof(needle), "warning: s%u ", h->id);
		PEER_LOG(fx, needle, hc->dir, hc->what, "; relayed");
		unsigned n = warnings(fx, h->id, hc->dir, hc->what, NULL);
		if (n != 1)
			fail_msg("s%u: %u warning lines with \"%s\", want "
			         "1:\n%s",
			         h->id, n, hc->what, vproc_log_tail(&fx->vp));
		if (hc->request)
			PEER_LOG(fx, needle, hc->dir, hc->request, hc->what,
			         "; relayed");
	}
	if (hc->inject == fe_reserved_flags_flood &&
	    warnings(fx, h->id, "499 more reserved-flags", NULL) != 1)
		fail_msg(
		        "s%u: no line counting the 499 warnings held back:\n%s",
		        h->id, vproc_log_tail(&fx->vp));
	/* vuproxy's own reader of guest memory says what it refused. */
	snprintf(needle, sizeof(needle), " s%u tap", h->id);
	if (hx_tap() && hc->tap[0])
		PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS, needle,
		                        hc->tap[0], hc->tap[1], NULL));
}

static void run_case(void **state)
{
	struct peer_fx *fx = *state;
	const struct hcase *hc = fx->arg;
	PEER_OK(hx_start(fx, NULL));
	struct hsess w, h;
	PEER_OK(hs_open(fx, &w));
	int fds0 = hx_nfds(fx);
	PEER_OK(fds0);
	PEER_OK(hs_open(fx, &h));

	hc->inject(&h);

	bool refuse = hc->out == REFUSE || (hc->out == JUDGED && hx_strict());
	if (refuse)
		expect_refused(fx, hc, &h);
	else
		expect_relayed(fx, hc, &h);

	/* The witness carries on, never closed. */
	PEER_OK(hs_alive(&w, 0x77));
	char needle[32];
	snprintf(needle, sizeof(needle), " s%u closed", w.id);
	assert_int_equal(vproc_count(&fx->vp, needle), 0);
	/* The trace holds what came before the fault. */
	PEER_OK(hs_check_trace(fx, &h));
	/* Nothing of h stays behind in vuproxy. */
	int fds1 = hx_wait_nfds(fx, fds0);
	if (fds1 != fds0)
		fail_msg("vuproxy held %d fds before s%u, %d after it closed",
		         fds0, h.id, fds1);
	hs_free(&w);
	hs_free(&h);
	PEER_OK(hx_stop(fx, refuse ? "2 sessions (1 failed)"
	                           : "2 sessions (0 failed)"));
}

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* Arguments are passed on to vuproxy (hostile_cases_tap: --tap net). */
int main(int argc, char **argv)
{
	hx_args((const char *const *)argv + 1, argc - 1);
	struct CMUnitTest tests[NCASES];
	for (size_t i = 0; i < NCASES; i++) {
		struct CMUnitTest t = {cases[i].name, run_case, hx_setup,
		                       hx_teardown, (void *)&cases[i]};
		tests[i] = t;
	}
	return _cmocka_run_group_tests("hostile", tests, NCASES, NULL, NULL);
}
