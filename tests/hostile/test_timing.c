/* Hostile timing: headers written a byte at a time with pauses, peers
 * that stop mid-message and never go on (slowloris), and a flood of one
 * million messages.  Throughout each case a witness session does round
 * trips, and its worst round trip is printed: one slow or stuck peer must
 * never hold up another session. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostile.h"

#define FE   VUP_FRONTEND
#define BE   VUP_BACKEND
#define MAIN VUP_CHAN_MAIN

/* The witness's round trips: how many, and the slowest. */
struct witness {
	struct hsess s;
	unsigned trips;
	uint64_t worst_ms;
};

static void witness_trip(struct witness *w)
{
	uint64_t t0 = peer_now_ms();
	PEER_OK(peer_get_features(w->s.fe, w->s.be, 0x1000 + w->trips));
	uint64_t ms = peer_now_ms() - t0;
	if (ms > w->worst_ms)
		w->worst_ms = ms;
	w->trips++;
}

/* Round trips for `ms` milliseconds, one every 20 ms. */
static void witness_for(struct witness *w, unsigned ms)
{
	uint64_t end = peer_now_ms() + ms;
	while (peer_now_ms() < end) {
		witness_trip(w);
		peer_sleep_ms(20);
	}
}

static void witness_done(struct peer_fx *fx, struct witness *w,
                         const char *what, uint64_t bound_ms)
{
	witness_trip(w);
	char needle[32];
	snprintf(needle, sizeof(needle), " s%u closed", w->s.id);
	assert_int_equal(vproc_count(&fx->vp, needle), 0);
	print_message("%s: witness s%u did %u round trips, the slowest %llu "
	              "ms\n",
	              what, w->s.id, w->trips, (unsigned long long)w->worst_ms);
	if (w->worst_ms > bound_ms)
		fail_msg("%s: a witness round trip took %llu ms (bound %llu)",
		         what, (unsigned long long)w->worst_ms,
		         (unsigned long long)bound_ms);
}

/* Bytes one write at a time, `step` bytes each, with the witness doing a
 * round trip in every pause; fds ride on the first byte.  The receiver
 * must see nothing until the last byte is in. */
static void trickle(struct witness *w, struct peer *from, struct peer *to,
                    const uint8_t *buf, size_t len, size_t step, const int *fds,
                    unsigned nfds)
{
	for (size_t off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step;
		PEER_OK(peer_send_raw(from->ch.fd, buf + off, n,
		                      off ? NULL : fds, off ? 0 : nfds));
		if (off + n < len) {
			witness_trip(w);
			peer_sleep_ms(10);
			PEER_OK(peer_expect_silence(to, 0));
		}
	}
}

static void start(struct peer_fx *fx, struct witness *w, struct hsess *h,
                  int *fds0)
{
	PEER_OK(hx_start(fx, NULL));
	memset(w, 0, sizeof(*w));
	PEER_OK(hs_open(fx, &w->s));
	*fds0 = hx_nfds(fx);
	PEER_OK(*fds0);
	PEER_OK(hs_open(fx, h));
}

/* h is over: its trace, vuproxy's fds (the witness still open), then
 * vuproxy's exit. */
static void finish(struct peer_fx *fx, struct witness *w, struct hsess *h,
                   int fds0, const char *summary)
{
	PEER_OK(hs_check_trace(fx, h));
	int fds1 = hx_wait_nfds(fx, fds0);
	if (fds1 != fds0)
		fail_msg("vuproxy held %d fds before s%u, %d after it closed",
		         fds0, h->id, fds1);
	hs_free(&w->s);
	hs_free(h);
	PEER_OK(hx_stop(fx, summary));
}

/* SET_VRING_KICK (with its eventfd) and SET_VRING_ADDR, a byte per write;
 * then the back-end's ack to a NEED_REPLY, likewise. */
static void header_trickle(void **state)
{
	struct peer_fx *fx = *state;
	struct witness w;
	struct hsess h;
	int fds0;
	start(fx, &w, &h, &fds0);
	struct vup_msg m;

	uint32_t kick = peer_code("SET_VRING_KICK");
	uint8_t msg[12 + 40];
	uint64_t ring = 1;
	hx_hdr(msg, kick, V, 8);
	memcpy(msg + 12, &ring, 8);
	int efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	trickle(&w, h.fe, h.be, msg, 20, 1, &efd, 1);
	PEER_OK(peer_recv(h.be, &m, PEER_TIMEOUT_MS));
	PEER_OK(peer_msg_equal(&m, kick, V, &ring, 8, 1));
	assert_true(peer_same_file(efd, m.fds[0]));
	peer_msg_close(&m);
	close(efd);
	hs_expect(&h, MAIN, FE, kick, false, "pass");

	uint32_t addr = peer_code("SET_VRING_ADDR");
	hx_hdr(msg, addr, V | NR, 40);
	for (int i = 0; i < 40; i++)
		msg[12 + i] = (uint8_t)(i * 13);
	memset(msg + 12, 0, 8); /* index 0, flags 0 */
	trickle(&w, h.fe, h.be, msg, sizeof(msg), 1, NULL, 0);
	PEER_OK(peer_recv(h.be, &m, PEER_TIMEOUT_MS));
	PEER_OK(peer_msg_equal(&m, addr, V | NR, msg + 12, 40, 0));
	hs_expect(&h, MAIN, FE, addr, false, "pass");

	uint8_t ack[20];
	uint64_t zero = 0;
	hx_hdr(ack, addr, V | R, 8);
	memcpy(ack + 12, &zero, 8);
	trickle(&w, h.be, h.fe, ack, sizeof(ack), 1, NULL, 0);
	PEER_OK(peer_recv(h.fe, &m, PEER_TIMEOUT_MS));
	PEER_OK(peer_msg_equal(&m, addr, V | R, &zero, 8, 0));
	hs_expect(&h, MAIN, BE, addr, true, "pass");

	witness_done(fx, &w, "header_trickle", 1000);
	PEER_OK(hs_close_clean(fx, &h));
	finish(fx, &w, &h, fds0, "2 sessions (0 failed)");
}

/* A peer that sends part of a message and then nothing, for `hold_ms`:
 * vuproxy keeps the session (a slow peer is not a broken one), relays
 * nothing of it, and serves the witness; when the peer finally closes,
 * the session ends with "closed mid-message". */
static void slowloris(void **state, bool from_fe)
{
	struct peer_fx *fx = *state;
	struct witness w;
	struct hsess h;
	int fds0;
	start(fx, &w, &h, &fds0);
	struct peer *other;
	if (from_fe) {
		/* 7 bytes of a SET_MEM_TABLE header, its memfd attached. */
		uint8_t hdr[12];
		hx_hdr(hdr, peer_code("SET_MEM_TABLE"), V, 40);
		int fd = hx_memfd(4096);
		PEER_OK(peer_send_raw(h.fe->ch.fd, hdr, 7, &fd, 1));
		close(fd);
		other = h.be;
	} else {
		/* The reply to GET_CONFIG: header and 10 of 16 bytes. */
		uint8_t cfg[12 + 4] = {0};
		cfg[4] = 4;
		PEER_OK(hs_relay(&h, FE, MAIN, peer_code("GET_CONFIG"), V, cfg,
		                 sizeof(cfg), NULL, 0));
		uint8_t rep[12 + 16] = {0};
		hx_hdr(rep, peer_code("GET_CONFIG"), V | R, 16);
		rep[12 + 4] = 4;
		PEER_OK(peer_send_raw(h.be->ch.fd, rep, 22, NULL, 0));
		other = h.fe;
	}
	witness_for(&w, 2000);
	PEER_OK(peer_expect_silence(other, 0));
	char needle[32];
	snprintf(needle, sizeof(needle), " s%u closed", h.id);
	assert_int_equal(vproc_count(&fx->vp, needle), 0);
	/* vuproxy holds the half message and its fd, nothing more. */
	assert_int_equal(hx_nfds(fx), fds0 + 2 + (from_fe ? 1 : 0));

	/* "Forever" ends: the peer goes away mid-message. */
	if (from_fe) {
		peer_free(h.fe);
		h.fe = NULL;
	} else {
		peer_free(h.be);
		h.be = NULL;
	}
	PEER_OK(peer_expect_eof(other, PEER_TIMEOUT_MS));
	PEER_OK(hx_wait_closed(fx, h.id));
	/* The front-end stopped inside the header: no request to name. */
	bool line = from_fe ? hx_error_line(fx, h.id, FE_DIR,
	                                    "closed mid-message after 7 of 12",
	                                    NULL)
	                    : hx_error_line(fx, h.id, BE_DIR, "GET_CONFIG",
	                                    "closed mid-message after 22 of 28",
	                                    NULL);
	if (!line)
		fail_msg("no error line for s%u:\n%s", h.id,
		         vproc_log_tail(&fx->vp));
	witness_done(fx, &w, from_fe ? "slowloris_fe" : "slowloris_be", 1000);
	finish(fx, &w, &h, fds0, "2 sessions (1 failed)");
}

static void slowloris_fe(void **state)
{
	slowloris(state, true);
}

static void slowloris_be(void **state)
{
	slowloris(state, false);
}

/* With --stall-timeout 1, a front-end that stops inside a header is cut
 * off after a second: an error naming session, direction and what it
 * stopped in; the witness is served throughout. */
static void stall_timeout_cut(void **state)
{
	struct peer_fx *fx = *state;
	static const char *const extra[] = {"--stall-timeout", "1", NULL};
	PEER_OK(hx_start(fx, extra));
	struct witness w;
	struct hsess h;
	memset(&w, 0, sizeof(w));
	PEER_OK(hs_open(fx, &w.s));
	int fds0 = hx_nfds(fx);
	PEER_OK(fds0);
	PEER_OK(hs_open(fx, &h));
	uint8_t hdr[12];
	hx_hdr(hdr, peer_code("SET_MEM_TABLE"), V, 40);
	int fd = hx_memfd(4096);
	PEER_OK(peer_send_raw(h.fe->ch.fd, hdr, 7, &fd, 1));
	close(fd);
	uint64_t t0 = peer_now_ms();
	PEER_OK(peer_expect_eof(h.be, 5000));
	uint64_t waited = peer_now_ms() - t0;
	PEER_OK(peer_expect_eof(h.fe, PEER_TIMEOUT_MS));
	PEER_OK(hx_wait_closed(fx, h.id));
	/* Cut off after the timeout, not before. */
	assert_true(waited >= 900);
	if (!hx_error_line(fx, h.id, FE_DIR,
	                   "stopped mid-message after 7 bytes for 1 s", NULL))
		fail_msg("no stall error line for s%u:\n%s", h.id,
		         vproc_log_tail(&fx->vp));
	witness_for(&w, 200);
	witness_done(fx, &w, "stall_timeout_cut", 1000);
	peer_free(h.fe);
	peer_free(h.be);
	h.fe = h.be = NULL;
	finish(fx, &w, &h, fds0, "2 sessions (1 failed)");
}

/* --stall-timeout counts from each message's first byte: a peer whose
 * messages arrive in pieces, each whole within the timeout, is never cut
 * off, even when one write ends a message and begins the next. */
static void stall_timeout_per_message(void **state)
{
	struct peer_fx *fx = *state;
	static const char *const extra[] = {"--stall-timeout", "1", NULL};
	PEER_OK(hx_start(fx, extra));
	struct hsess h;
	PEER_OK(hs_open(fx, &h));
	uint32_t code = peer_code("SET_FEATURES");
	uint8_t two[40];
	uint64_t fa = 1ull << 32, fb = 3ull << 32;
	hx_hdr(two, code, V, 8);
	memcpy(two + 12, &fa, 8);
	hx_hdr(two + 20, code, V, 8);
	memcpy(two + 32, &fb, 8);
	PEER_OK(peer_send_raw(h.fe->ch.fd, two, 7, NULL, 0));
	peer_sleep_ms(700);
	/* The rest of the first, and 7 bytes of the second: its clock. */
	PEER_OK(peer_send_raw(h.fe->ch.fd, two + 7, 20, NULL, 0));
	peer_sleep_ms(700); /* 1.4 s after the first byte of all */
	PEER_OK(peer_send_raw(h.fe->ch.fd, two + 27, 13, NULL, 0));
	struct vup_msg m;
	PEER_OK(peer_recv(h.be, &m, PEER_TIMEOUT_MS));
	PEER_OK(peer_msg_equal(&m, code, V, &fa, 8, 0));
	peer_msg_close(&m);
	PEER_OK(peer_recv(h.be, &m, PEER_TIMEOUT_MS));
	PEER_OK(peer_msg_equal(&m, code, V, &fb, 8, 0));
	peer_msg_close(&m);
	char needle[32];
	snprintf(needle, sizeof(needle), " s%u closed", h.id);
	assert_int_equal(vproc_count(&fx->vp, needle), 0);
	PEER_OK(hs_close_clean(fx, &h));
	hs_free(&h);
	PEER_OK(hx_stop(fx, "1 sessions (0 failed)"));
}

#define NSTUCK 100

/* 100 front-ends stop inside a SET_MEM_TABLE, each with 8 memfds on its
 * first byte: vuproxy holds exactly those fds and a bounded amount of
 * memory, serves the witness, and releases everything when they go. */
static void slowloris_100(void **state)
{
	struct peer_fx *fx = *state;
	struct witness w;
	struct hsess *h = calloc(NSTUCK, sizeof(*h));
	assert_non_null(h);
	PEER_OK(hx_start(fx, NULL));
	memset(&w, 0, sizeof(w));
	PEER_OK(hs_open(fx, &w.s));
	int fds0 = hx_nfds(fx);
	unsigned long rss0 = vproc_rss_kib(&fx->vp);
	uint8_t msg[12 + 8 + 8 * 32] = {0};
	hx_hdr(msg, peer_code("SET_MEM_TABLE"), V, 8 + 8 * 32);
	msg[12] = 8;
	int fds[8];
	for (int i = 0; i < 8; i++)
		fds[i] = hx_memfd(4096);
	for (int i = 0; i < NSTUCK; i++) {
		PEER_OK(hs_open(fx, &h[i]));
		PEER_OK(peer_send_raw(h[i].fe->ch.fd, msg, 12 + 100, fds, 8));
	}
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	witness_for(&w, 500);
	int fds1 = hx_nfds(fx);
	unsigned long rss1 = vproc_rss_kib(&fx->vp);
	print_message("slowloris_100: vuproxy fds %d -> %d, RSS %lu -> %lu "
	              "KiB with %d stuck sessions\n",
	              fds0, fds1, rss0, rss1, NSTUCK);
	assert_int_equal(fds1, fds0 + NSTUCK * (2 + 8));
	/* Two message buffers per session (about 9 KiB) and the fds:
	 * bounded, nothing grows while they wait. */
	assert_true(rss1 < rss0 + NSTUCK * 64);
	for (int i = 0; i < NSTUCK; i++) {
		peer_free(h[i].fe);
		h[i].fe = NULL;
		PEER_OK(peer_expect_eof(h[i].be, PEER_TIMEOUT_MS));
	}
	for (int i = 0; i < NSTUCK; i++)
		PEER_OK(hx_wait_closed(fx, h[i].id));
	witness_done(fx, &w, "slowloris_100", 1000);
	int fds2 = hx_wait_nfds(fx, fds0);
	if (fds2 != fds0)
		fail_msg("vuproxy held %d fds before, %d after", fds0, fds2);
	PEER_OK(hs_check_trace(fx, &h[NSTUCK - 1]));
	for (int i = 0; i < NSTUCK; i++)
		hs_free(&h[i]);
	free(h);
	hs_free(&w.s);
	PEER_OK(hx_stop(fx, NULL));
	if (!hx_external())
		PEER_LOG(fx, "vuproxy: 101 sessions (100 failed)");
}

/* The flood: one million SET_VRING_NUM (20 bytes each, num = 0..N-1) as
 * fast as the front-end can write; the back-end reads them all, in order. */
#define FLOOD_N   1000000u
#define MSG_BYTES 20
#define CHUNK     3200 /* messages per generated chunk */

struct gen {
	uint8_t buf[CHUNK * MSG_BYTES];
	uint32_t first; /* number of buf's first message */
	size_t len, off;
};

static void gen_next(struct gen *g, uint32_t first)
{
	uint32_t n = FLOOD_N - first < CHUNK ? FLOOD_N - first : CHUNK;
	struct vup_hdr hd = {peer_code("SET_VRING_NUM"), V, 8};
	for (uint32_t i = 0; i < n; i++) {
		uint32_t p[2] = {0, first + i};
		memcpy(g->buf + (size_t)i * MSG_BYTES, &hd, 12);
		memcpy(g->buf + (size_t)i * MSG_BYTES + 12, p, 8);
	}
	g->first = first;
	g->len = (size_t)n * MSG_BYTES;
	g->off = 0;
}

/* Write what the socket takes now; false once all is sent. */
static bool flood_write(struct gen *g, int fd)
{
	for (;;) {
		if (g->off == g->len) {
			uint32_t next =
			        g->first + (uint32_t)(g->len / MSG_BYTES);
			if (next >= FLOOD_N)
				return false;
			gen_next(g, next);
		}
		ssize_t n = send(fd, g->buf + g->off, g->len - g->off,
		                 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n < 0)
			fail_msg("front-end send: %s", strerror(errno));
		g->off += (size_t)n;
	}
}

/* Every message the back-end has now, each the next in order. */
static void flood_read(struct peer *be, uint32_t *next)
{
	uint32_t code = peer_code("SET_VRING_NUM");
	for (;;) {
		int rc = vup_channel_read(&be->ch);
		if (rc == VUP_CH_AGAIN)
			return;
		if (rc != VUP_CH_MSG)
			fail_msg("back-end read after %u messages: %d %s",
			         *next, rc, be->ch.why);
		const struct vup_msg *m = &be->ch.in;
		uint32_t p[2];
		memcpy(p, m->payload, 8);
		if (m->hdr.request != code || m->hdr.flags != V ||
		    m->hdr.size != 8 || m->nfds || p[0] != 0 || p[1] != *next)
			fail_msg("message %u arrived as {request %u flags 0x%x "
			         "size %u num %u}",
			         *next, m->hdr.request, m->hdr.flags,
			         m->hdr.size, p[1]);
		vup_channel_consume(&be->ch);
		(*next)++;
	}
}

static void flood_1m(void **state)
{
	struct peer_fx *fx = *state;
	struct witness w;
	struct hsess h;
	int fds0;
	start(fx, &w, &h, &fds0);
	unsigned long rss0 = vproc_rss_kib(&fx->vp);
	static struct gen g;
	gen_next(&g, 0);
	uint32_t got = 0;
	bool sending = true;
	uint64_t t0 = peer_now_ms(), last = t0, next_trip = t0 + 20;
	uint32_t last_got = 0;
	while (got < FLOOD_N) {
		struct pollfd pfd[2] = {
		        {.fd = h.be->ch.fd, .events = POLLIN},
		        {.fd = h.fe->ch.fd, .events = sending ? POLLOUT : 0},
		};
		poll(pfd, 2, 50);
		if (sending)
			sending = flood_write(&g, h.fe->ch.fd);
		flood_read(h.be, &got);
		uint64_t now = peer_now_ms();
		if (got != last_got) {
			last_got = got;
			last = now;
		} else if (now - last > PEER_TIMEOUT_MS) {
			fail_msg("flood stuck: %u of %u messages arrived", got,
			         FLOOD_N);
		}
		if (now >= next_trip) {
			witness_trip(&w);
			next_trip = peer_now_ms() + 20;
		}
	}
	uint64_t ms = peer_now_ms() - t0;
	unsigned long rss1 = vproc_rss_kib(&fx->vp);
	print_message("flood_1m: %u messages relayed in %llu ms (%.0f/s); "
	              "vuproxy RSS %lu -> %lu KiB\n",
	              FLOOD_N, (unsigned long long)ms,
	              FLOOD_N * 1000.0 / (double)(ms ? ms : 1), rss0, rss1);
	witness_done(fx, &w, "flood_1m", 1000);
	PEER_OK(hs_alive(&h, 0x99));
	PEER_OK(hs_close_clean(fx, &h));
	/* The trace: every one of them, for this session. */
	uint64_t t1 = peer_now_ms();
	long n = hx_trace_count(fx, h.id, "SET_VRING_NUM");
	PEER_OK((int)(n < 0 ? -1 : 0));
	print_message("flood_1m: the trace holds %ld SET_VRING_NUM of s%u "
	              "(dump took %llu ms)\n",
	              n, h.id, (unsigned long long)(peer_now_ms() - t1));
	assert_int_equal(n, FLOOD_N);
	int fds1 = hx_wait_nfds(fx, fds0);
	if (fds1 != fds0)
		fail_msg("vuproxy held %d fds before, %d after", fds0, fds1);
	hs_free(&w.s);
	hs_free(&h);
	PEER_OK(hx_stop(fx, "2 sessions (0 failed)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(header_trickle, hx_setup,
	                                        hx_teardown),
	        cmocka_unit_test_setup_teardown(slowloris_fe, hx_setup,
	                                        hx_teardown),
	        cmocka_unit_test_setup_teardown(slowloris_be, hx_setup,
	                                        hx_teardown),
	        cmocka_unit_test_setup_teardown(stall_timeout_cut, hx_setup,
	                                        hx_teardown),
	        cmocka_unit_test_setup_teardown(stall_timeout_per_message,
	                                        hx_setup, hx_teardown),
	        cmocka_unit_test_setup_teardown(slowloris_100, hx_setup,
	                                        hx_teardown),
	        cmocka_unit_test_setup_teardown(flood_1m, hx_setup,
	                                        hx_teardown),
	};
	/* The stall_timeout_* cases start their own vuproxy with
	 * --stall-timeout 1; against an external one (dpdk_hostile.sh) they
	 * cannot, and run only in the hostile_timing test. */
	if (getenv("HOSTILE_PID"))
		cmocka_set_skip_filter("stall_timeout_*");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
