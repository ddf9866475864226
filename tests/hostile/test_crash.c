/* Crashes around vuproxy: a peer process SIGKILLed mid-session (mid-
 * message, or while vuproxy holds a queue for it), and the trace's disk
 * filling up.  vuproxy closes the other side of that session only, keeps
 * serving new sessions, and says once that recording stopped and where.
 * The disk is a 64 KiB tmpfs mounted in a private mount namespace of this
 * test (so it vanishes with the test, whatever happens); that needs root
 * (CAP_SYS_ADMIN), and without it the test fails, it does not skip. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostile.h"

#define FE   VUP_FRONTEND
#define BE   VUP_BACKEND
#define MAIN VUP_CHAN_MAIN

/* A child process that owns fd from now on: it runs act(fd), then waits
 * to be killed.  The caller's copy of fd is closed. */
static pid_t hand_over(int fd, void (*act)(int fd))
{
	pid_t parent = getpid();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		act(fd);
		alarm(60);
		for (;;)
			pause();
	}
	close(fd);
	return pid;
}

static void kill_child(pid_t pid)
{
	kill(pid, SIGKILL);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* The front-end process's last act: GET_FEATURES, then the first 7 bytes
 * of a SET_MEM_TABLE header with its memfd. */
static void fe_act(int fd)
{
	uint8_t msg[12];
	hx_hdr(msg, peer_code("GET_FEATURES"), V, 0);
	if (peer_send_raw(fd, msg, 12, NULL, 0) < 0)
		_exit(2);
	hx_hdr(msg, peer_code("SET_MEM_TABLE"), V, 40);
	int m = hx_memfd(4096);
	if (peer_send_raw(fd, msg, 7, &m, 1) < 0)
		_exit(2);
}

/* The back-end process reads nothing and answers nothing. */
static void be_act(int fd)
{
	(void)fd;
}

static void fe_sigkill(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(hx_start(fx, NULL));
	struct hsess w, h;
	PEER_OK(hs_open(fx, &w));
	int fds0 = hx_nfds(fx);
	memset(&h, 0, sizeof(h));
	int fd = peer_connect(fx->fe_path, PEER_TIMEOUT_MS);
	PEER_OK(fd);
	int bfd = peer_accept(fx->be_listen, PEER_TIMEOUT_MS);
	PEER_OK(bfd);
	h.be = peer_new(bfd, "be");
	h.id = hx_newest_session(fx);
	pid_t pid = hand_over(fd, fe_act);
	struct vup_msg m;
	PEER_OK(peer_recv(h.be, &m, PEER_TIMEOUT_MS));
	PEER_OK(peer_msg_equal(&m, peer_code("GET_FEATURES"), V, NULL, 0, 0));
	hs_expect(&h, MAIN, FE, peer_code("GET_FEATURES"), false, "pass");
	/* vuproxy holds the half header and its memfd when the process
	 * dies. */
	uint64_t end = peer_now_ms() + PEER_TIMEOUT_MS;
	while (hx_nfds(fx) != fds0 + 3 && peer_now_ms() < end)
		peer_sleep_ms(5);
	assert_int_equal(hx_nfds(fx), fds0 + 3);
	kill_child(pid);
	PEER_OK(peer_expect_eof(h.be, PEER_TIMEOUT_MS));
	PEER_OK(hx_wait_closed(fx, h.id));
	if (!hx_error_line(fx, h.id, FE_DIR, "closed mid-message", NULL))
		fail_msg("no error line for s%u:\n%s", h.id,
		         vproc_log_tail(&fx->vp));
	PEER_OK(hs_alive(&w, 1));
	PEER_OK(hs_check_trace(fx, &h));
	int fds1 = hx_wait_nfds(fx, fds0);
	if (fds1 != fds0)
		fail_msg("vuproxy held %d fds before, %d after", fds0, fds1);
	/* And serves the next one. */
	struct hsess n;
	PEER_OK(hs_open(fx, &n));
	PEER_OK(hs_alive(&n, 2));
	hs_free(&n);
	hs_free(&w);
	hs_free(&h);
	PEER_OK(hx_stop(fx, "3 sessions (1 failed)"));
}

/* The back-end process dies while vuproxy has a queue of messages for it
 * (it never read): vuproxy drops the queue, closes the front-end, and
 * holds no more fds or memory than before. */
static void be_sigkill(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(hx_start(fx, NULL));
	struct hsess w, h;
	PEER_OK(hs_open(fx, &w));
	int fds0 = hx_nfds(fx);
	unsigned long rss0 = vproc_rss_kib(&fx->vp);
	memset(&h, 0, sizeof(h));
	int fd = peer_connect(fx->fe_path, PEER_TIMEOUT_MS);
	PEER_OK(fd);
	h.fe = peer_new(fd, "fe");
	int bfd = peer_accept(fx->be_listen, PEER_TIMEOUT_MS);
	PEER_OK(bfd);
	h.id = hx_newest_session(fx);
	pid_t pid = hand_over(bfd, be_act);
	/* Write until the front-end's writes have blocked for 200 ms. */
	uint8_t msg[20];
	uint32_t num = peer_code("SET_VRING_NUM");
	hx_hdr(msg, num, V, 8);
	unsigned sent = 0;
	uint64_t blocked = 0;
	for (;;) {
		uint32_t p[2] = {0, sent};
		memcpy(msg + 12, p, 8);
		ssize_t n = send(h.fe->ch.fd, msg, sizeof(msg),
		                 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == (ssize_t)sizeof(msg)) {
			hs_expect(&h, MAIN, FE, num, false, "pass");
			sent++;
			blocked = 0;
			continue;
		}
		assert_true(n < 0 && errno == EAGAIN);
		if (!blocked)
			blocked = peer_now_ms();
		else if (peer_now_ms() - blocked > 200)
			break;
		peer_sleep_ms(5);
	}
	unsigned long rss1 = vproc_rss_kib(&fx->vp);
	kill_child(pid);
	/* The front-end sees its connection end (what it wrote that vuproxy
	 * had not read yet is lost with it). */
	PEER_OK(peer_expect_eof(h.fe, PEER_TIMEOUT_MS));
	PEER_OK(hx_wait_closed(fx, h.id));
	char needle[64];
	snprintf(needle, sizeof(needle), " s%u closed: back-end ", h.id);
	PEER_LOG(fx, needle);
	PEER_OK(hs_alive(&w, 1));
	int fds1 = hx_wait_nfds(fx, fds0);
	unsigned long rss2 = vproc_rss_kib(&fx->vp);
	print_message("be_sigkill: %u messages written before the front-end "
	              "blocked; vuproxy fds %d -> %d, RSS %lu -> %lu (queue "
	              "full) -> %lu KiB\n",
	              sent, fds0, fds1, rss0, rss1, rss2);
	if (fds1 != fds0)
		fail_msg("vuproxy held %d fds before, %d after", fds0, fds1);
	/* The trace has every message vuproxy read: the first ones of
	 * those written, in order (not all were read before the kill). */
	long n = hx_trace_count(fx, h.id, "SET_VRING_NUM");
	assert_true(n > 256 && n <= (long)sent);
	struct hsess k;
	PEER_OK(hs_open(fx, &k));
	PEER_OK(hs_alive(&k, 2));
	hs_free(&k);
	hs_free(&w);
	hs_free(&h);
	PEER_OK(hx_stop(fx, "3 sessions ("));
}

/* The disk. */

#define DISK_KIB  64
#define DISK_MSGS 20000

static int disk_teardown(void **state)
{
	struct peer_fx *fx = *state;
	if (fx) {
		char disk[256];
		snprintf(disk, sizeof(disk), "%s/disk", fx->dir);
		/* vuproxy first: it holds the file open. */
		if (fx->started)
			vproc_kill(&fx->vp);
		char trace[300];
		snprintf(trace, sizeof(trace), "%s/t.pcapng.gz", disk);
		unlink(trace);
		umount2(disk, MNT_DETACH);
		rmdir(disk);
	}
	return hx_teardown(state);
}

static void disk_full(void **state)
{
	struct peer_fx *fx = *state;
	if (hx_external())
		fail_msg("disk_full needs its own vuproxy");
	char disk[256], trace[300];
	snprintf(disk, sizeof(disk), "%s/disk", fx->dir);
	snprintf(trace, sizeof(trace), "%s/t.pcapng.gz", disk);
	assert_int_equal(mkdir(disk, 0700), 0);
	/* A private mount namespace: the tmpfs is ours and this process's
	 * children's only, and goes away with them. */
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail_msg("a private mount namespace: %s (run as root)",
		         strerror(errno));
	char opts[32];
	snprintf(opts, sizeof(opts), "size=%dk,mode=0700", DISK_KIB);
	if (mount("tmpfs", disk, "tmpfs", 0, opts) < 0)
		fail_msg("mount -t tmpfs -o %s %s: %s (run as root)", opts,
		         disk, strerror(errno));
	PEER_OK(hx_start_w(fx, trace, NULL));
	struct hsess h, k;
	PEER_OK(hs_open(fx, &h));

	/* Numbered messages until well past the disk's end; every one
	 * reaches the back-end, in order. */
	uint32_t num = peer_code("SET_VRING_NUM");
	uint32_t got = 0;
	for (uint32_t i = 0; i < DISK_MSGS; i++) {
		uint32_t p[2] = {i & 0xff, i * 2654435761u};
		PEER_OK(peer_send(h.fe, num, V, p, 8, NULL, 0));
		struct vup_msg m;
		while (got <= i || (i == DISK_MSGS - 1 && got < DISK_MSGS)) {
			int rc = peer_recv(h.be, &m,
			                   i % 64 == 63 || i == DISK_MSGS - 1
			                           ? PEER_TIMEOUT_MS
			                           : 0);
			if (rc == -ETIMEDOUT)
				break;
			PEER_OK(rc);
			uint32_t q[2] = {got & 0xff, got * 2654435761u};
			PEER_OK(peer_msg_equal(&m, num, V, q, 8, 0));
			got++;
		}
	}
	assert_int_equal(got, DISK_MSGS);
	PEER_OK(hs_alive(&h, 1));

	/* Said once, with the count of what it recorded. */
	assert_int_equal(vproc_count(&fx->vp, "No space left on device"), 1);
	char *log = vproc_log(&fx->vp);
	const char *at = strstr(log, "recording stops after ");
	unsigned long recorded = 0;
	if (!at ||
	    sscanf(at, "recording stops after %lu messages", &recorded) != 1)
		fail_msg("no 'recording stops after N messages':\n%s",
		         vproc_log_tail(&fx->vp));
	bool line_ok = strstr(log, "error: trace ") &&
	               strstr(log, "relaying continues");
	free(log);
	assert_true(line_ok);
	print_message("disk_full: a %d KiB disk held %lu of %d messages; "
	              "vuproxy relayed all of them\n",
	              DISK_KIB, recorded, DISK_MSGS + 4);
	assert_true(recorded > 100 && recorded < DISK_MSGS);

	/* New sessions still work, and nothing more is said. */
	PEER_OK(hs_open(fx, &k));
	PEER_OK(hs_alive(&k, 2));
	PEER_OK(hs_close_clean(fx, &k));
	assert_int_equal(vproc_count(&fx->vp, "No space left on device"), 1);
	hs_free(&h);
	hs_free(&k);
	PEER_OK(hx_stop(fx, "2 sessions (0 failed)"));

	/* The trace says where it stopped: dump reads exactly the messages
	 * the log line counted, then says the file is cut short there. */
	int code;
	char err[1024];
	long n = hx_dump(fx, 0, NULL, NULL, NULL, &code, err, sizeof(err));
	print_message("disk_full: vuproxy dump: exit %d, %ld records; %s", code,
	              n, err);
	/* What the failed write left of the next message was cut off. */
	if (n != (long)recorded)
		fail_msg("dump recovered %ld records, the log says %lu were "
		         "recorded",
		         n, recorded);
	char said[64];
	snprintf(said, sizeof(said), " %ld records read", n);
	if (code != 2 || !strstr(err, "cut short") || !strstr(err, said))
		fail_msg("dump should exit 2 saying the file is cut short "
		         "after%s; exit %d: %s",
		         said, code, err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(fe_sigkill, hx_setup,
	                                        hx_teardown),
	        cmocka_unit_test_setup_teardown(be_sigkill, hx_setup,
	                                        hx_teardown),
	        cmocka_unit_test_setup_teardown(disk_full, hx_setup,
	                                        disk_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
