/* Resources: vuproxy out of file descriptors (RLIMIT_NOFILE lowered on
 * the running process with prlimit(2): vuproxy raises its soft limit to
 * the hard one at start, and only then), and 1000 session cycles that must
 * leave its open fds and RSS where they were.  The figures are printed. */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "hostile.h"

#define FE   VUP_FRONTEND
#define BE   VUP_BACKEND
#define MAIN VUP_CHAN_MAIN

/* The limit under which exactly `free` fd numbers are unused in pid. */
static rlim_t limit_leaving(pid_t pid, unsigned free)
{
	static bool open_fd[1 << 16];
	memset(open_fd, 0, sizeof(open_fd));
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		long n = e->d_name[0] == '.' ? -1 : strtol(e->d_name, NULL, 10);
		if (n >= 0 && n < (long)(sizeof(open_fd)))
			open_fd[n] = true;
	}
	closedir(d);
	unsigned seen = 0;
	for (rlim_t n = 0; n < sizeof(open_fd); n++)
		if (!open_fd[n] && ++seen == free)
			return n + 1;
	fail_msg("no room for %u fds", free);
	return 0;
}

/* Only the soft limit: raising a hard limit again would need
 * CAP_SYS_RESOURCE, and vuproxy raises its soft limit only at start. */
static void set_nofile(pid_t pid, rlim_t lim, struct rlimit *old)
{
	struct rlimit cur;
	if (prlimit(pid, RLIMIT_NOFILE, NULL, &cur) < 0)
		fail_msg("prlimit(%d): %s", (int)pid, strerror(errno));
	if (old)
		*old = cur;
	struct rlimit rl = {lim, cur.rlim_max};
	if (prlimit(pid, RLIMIT_NOFILE, &rl, NULL) < 0)
		fail_msg("prlimit(%d, RLIMIT_NOFILE, %lu): %s", (int)pid,
		         (unsigned long)lim, strerror(errno));
}

/* Out of fds: a new front-end is refused with a clear line (vuproxy
 * spends its reserve fd to accept and close it, so the peer is not left
 * hanging in the backlog); a session whose back-end cannot be connected
 * fails alone; a message whose fd cannot be received fails its session
 * alone; existing sessions keep relaying; with fds again, new sessions
 * work. */
static void nofile_low(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(hx_start(fx, NULL));
	pid_t pid = fx->vp.pid;
	struct hsess a, b, c, d;
	PEER_OK(hs_open(fx, &a));
	struct rlimit old;
	/* Room for exactly one more session (front-end and back-end). */
	rlim_t lim = limit_leaving(pid, 2);
	set_nofile(pid, lim, &old);
	print_message("nofile_low: RLIMIT_NOFILE %lu -> %lu (vuproxy holds "
	              "%d fds)\n",
	              (unsigned long)old.rlim_cur, (unsigned long)lim,
	              hx_nfds(fx));
	PEER_OK(hs_open(fx, &b));

	/* Full: the next front-end is refused, no back-end is dialled. */
	int fd = peer_connect(fx->fe_path, PEER_TIMEOUT_MS);
	PEER_OK(fd);
	struct peer *refused = peer_new(fd, "fe-refused");
	PEER_OK(peer_expect_eof(refused, PEER_TIMEOUT_MS));
	peer_free(refused);
	PEER_LOG(fx, "error: ", "front-end connection on", fx->fe_path,
	         "refused: out of file descriptors (RLIMIT_NOFILE); existing "
	         "sessions continue");
	assert_int_equal(peer_accept(fx->be_listen, 200), -ETIMEDOUT);
	PEER_OK(hs_alive(&a, 1));
	PEER_OK(hs_alive(&b, 2));

	/* An fd that cannot be received: a's message is refused, a alone
	 * closes; b goes on. */
	uint64_t ring = 0;
	int efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	PEER_OK(peer_send(a.fe, peer_code("SET_VRING_CALL"), V, &ring, 8, &efd,
	                  1));
	close(efd);
	PEER_OK(peer_expect_eof(a.be, PEER_TIMEOUT_MS));
	PEER_OK(peer_expect_eof(a.fe, PEER_TIMEOUT_MS));
	PEER_OK(hx_wait_closed(fx, a.id));
	if (!hx_error_line(fx, a.id, FE_DIR, "SET_VRING_CALL",
	                   "out of file descriptors", NULL))
		fail_msg("no error line for s%u:\n%s", a.id,
		         vproc_log_tail(&fx->vp));
	PEER_OK(hs_alive(&b, 3));

	/* Room for one fd: the front-end is accepted, its back-end cannot
	 * be dialled; that session fails alone. */
	lim = limit_leaving(pid, 1);
	set_nofile(pid, lim, NULL);
	fd = peer_connect(fx->fe_path, PEER_TIMEOUT_MS);
	PEER_OK(fd);
	memset(&c, 0, sizeof(c));
	c.fe = peer_new(fd, "fe-nobe");
	PEER_OK(peer_expect_eof(c.fe, PEER_TIMEOUT_MS));
	c.id = hx_newest_session(fx);
	PEER_OK(hx_wait_closed(fx, c.id));
	if (!hx_error_line(fx, c.id, "back-end connect:", fx->be_path,
	                   "out of file descriptors", NULL))
		fail_msg("no error line for s%u:\n%s", c.id,
		         vproc_log_tail(&fx->vp));
	assert_int_equal(peer_accept(fx->be_listen, 200), -ETIMEDOUT);
	PEER_OK(hs_alive(&b, 4));

	/* The limit back: new sessions work, b never noticed. */
	set_nofile(pid, old.rlim_cur, NULL);
	PEER_OK(hs_open(fx, &d));
	PEER_OK(hs_alive(&d, 5));
	PEER_OK(hs_alive(&b, 6));
	char needle[32];
	snprintf(needle, sizeof(needle), " s%u closed", b.id);
	assert_int_equal(vproc_count(&fx->vp, needle), 0);
	PEER_OK(hs_check_trace(fx, &b));
	hs_free(&a);
	hs_free(&b);
	hs_free(&c);
	hs_free(&d);
	/* a, b, c (no back-end), d; a and c failed; one refused. */
	PEER_OK(hx_stop(fx, NULL));
	PEER_LOG(fx, "vuproxy: 4 sessions (2 failed)", "1 connections refused");
}

#define WARMUP 50
#define CYCLES 1000

/* One session's life: set-up with fds of every kind (a memory table with
 * its memfd, a call eventfd, the back-end channel socket, which vuproxy
 * interposes), then one of four endings. */
static void cycle(struct peer_fx *fx, unsigned i)
{
	struct hsess s;
	PEER_OK(hs_open_anon(fx, &s));
	uint8_t mt[8 + 32] = {0};
	mt[0] = 1;
	uint64_t reg[4] = {0, 1 << 20, 0x7f0000000000ull, 0};
	memcpy(mt + 8, reg, 32);
	int mfd = hx_memfd(1 << 20);
	PEER_OK(hs_relay(&s, FE, MAIN, peer_code("SET_MEM_TABLE"), V, mt,
	                 sizeof(mt), &mfd, 1));
	close(mfd);
	uint64_t ring = 0;
	int efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	PEER_OK(hs_relay(&s, FE, MAIN, peer_code("SET_VRING_CALL"), V, &ring, 8,
	                 &efd, 1));
	close(efd);
	PEER_OK(hs_open_bch(&s));
	struct peer *rest[4] = {NULL};
	switch (i % 4) {
	case 0: /* the front-end hangs up */
		peer_free(s.fe);
		s.fe = NULL;
		break;
	case 1: /* the back-end hangs up */
		peer_free(s.be);
		s.be = NULL;
		break;
	case 2: /* a refused message */
		PEER_OK(peer_send(s.fe, peer_code("GET_FEATURES"), 0x2, NULL, 0,
		                  NULL, 0));
		break;
	default: { /* gone mid-message, an fd on the first byte */
		uint8_t hdr[12];
		hx_hdr(hdr, peer_code("SET_VRING_KICK"), V, 8);
		int k = eventfd(0, EFD_CLOEXEC);
		PEER_OK(peer_send_raw(s.fe->ch.fd, hdr, 12, &k, 1));
		close(k);
		peer_free(s.fe);
		s.fe = NULL;
	}
	}
	rest[0] = s.fe, rest[1] = s.be, rest[2] = s.fe_b, rest[3] = s.be_b;
	for (int k = 0; k < 4; k++)
		if (rest[k])
			PEER_OK(peer_expect_eof(rest[k], PEER_TIMEOUT_MS));
	hs_free(&s);
}

static void cycles_1000(void **state)
{
	struct peer_fx *fx = *state;
	/* Under AddressSanitizer, freed memory waits in a quarantine of up
	 * to 256 MiB and RSS would grow without a leak: no quarantine (a
	 * leak is then LeakSanitizer's to report at vuproxy's exit). */
	char asan[512];
	const char *prev = getenv("ASAN_OPTIONS");
	snprintf(asan, sizeof(asan), "%s%squarantine_size_mb=0",
	         prev ? prev : "", prev && *prev ? ":" : "");
	setenv("ASAN_OPTIONS", asan, 1);
	int rc = hx_start(fx, NULL);
	if (prev)
		setenv("ASAN_OPTIONS", prev, 1);
	else
		unsetenv("ASAN_OPTIONS");
	PEER_OK(rc);
	for (unsigned i = 0; i < WARMUP; i++)
		cycle(fx, i);
	PEER_OK(vproc_wait_count(&fx->vp, " closed: ", WARMUP,
	                         PEER_TIMEOUT_MS));
	int fds0 = hx_nfds(fx);
	unsigned long rss0 = vproc_rss_kib(&fx->vp);
	uint64_t t0 = peer_now_ms();
	for (unsigned i = 0; i < CYCLES; i++)
		cycle(fx, i);
	PEER_OK(vproc_wait_count(&fx->vp, " closed: ", WARMUP + CYCLES,
	                         PEER_TIMEOUT_MS));
	uint64_t ms = peer_now_ms() - t0;
	int fds1 = hx_wait_nfds(fx, fds0);
	unsigned long rss1 = vproc_rss_kib(&fx->vp);
	print_message("cycles_1000: %u sessions set up and torn down in %llu "
	              "ms; vuproxy open fds %d -> %d, VmRSS %lu -> %lu KiB\n",
	              CYCLES, (unsigned long long)ms, fds0, fds1, rss0, rss1);
	assert_int_equal(fds1, fds0);
	/* A session's buffers alone are ~9 KiB: leaking one per cycle would
	 * add ~9 MiB.  Allow the allocator some pages. */
	if (rss1 > rss0 + 512)
		fail_msg("VmRSS grew by %lu KiB over %u cycles", rss1 - rss0,
		         CYCLES);
	/* Every session is accounted for, one in four refused. */
	unsigned failed = 0;
	for (unsigned i = 0; i < WARMUP; i++)
		failed += i % 4 >= 2;
	for (unsigned i = 0; i < CYCLES; i++)
		failed += i % 4 >= 2;
	char line[128];
	snprintf(line, sizeof(line), "vuproxy: %u sessions (%u failed)",
	         WARMUP + CYCLES, failed);
	PEER_OK(hx_stop(fx, NULL));
	PEER_LOG(fx, line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(nofile_low, hx_setup,
	                                        hx_teardown),
	        cmocka_unit_test_setup_teardown(cycles_1000, hx_setup,
	                                        hx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
