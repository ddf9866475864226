/* What a recording started at run time, or a snapshot, does with the
 * client's fd: a refused one is left alone and takes no slot; a reader
 * that does not read never blocks the relay (stopping included); a
 * snapshot goes to a regular file only; the client's own open file
 * description (its stdout) keeps its flags. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vuproxy/trace.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/vup-trace-review.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static uint64_t clock_ns = 1700000000000000000ull;

static void msg(struct vup_trace *t, uint32_t s, uint32_t req,
                const void *payload, uint32_t size)
{
	struct vup_trace_hdr th = {.session = s};
	struct vup_hdr h = {req, 0x1u, size};
	clock_ns += 1000;
	vup_trace_message(t, clock_ns, &th, &h, payload);
}

/* ftruncate refused (an fd not open for writing, an append-only file):
 * the request fails and the fd goes back to the client, which closes it
 * (dispatch.c).  The slot must not stay in use with that fd number. */
static void test_refused_file_leaves_no_slot(void **state)
{
	(void)state;
	struct vup_trace_config cfg = {0};
	struct vup_trace *t;
	char err[256] = "", path[400];
	assert_int_equal(vup_trace_open(&cfg, &t, err, sizeof(err)), 0);
	assert_false(vup_trace_active(t));
	snprintf(path, sizeof(path), "%s/ro", dir);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	int ro = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(ro >= 0);
	struct vup_trace_rec rr = {.fd = ro, .gzip = false};
	assert_true(vup_trace_record(t, &rr, err, sizeof(err)) < 0);
	close(ro); /* the client's: dispatch closes it */
	/* The number comes back for the next fd vuproxy opens (a session's
	 * socket in real life). */
	char vpath[400];
	snprintf(vpath, sizeof(vpath), "%s/victim", dir);
	int victim = open(vpath, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_int_equal(victim, ro);
	assert_int_equal(vup_trace_add_session(t, 1, "s1", "one"), 0);
	uint8_t p[8] = {0};
	msg(t, 1, 8, p, 8);
	struct stat st;
	assert_int_equal(fstat(victim, &st), 0);
	if (st.st_size != 0)
		fail_msg("a refused recording wrote %lld bytes into an fd it "
		         "does not own",
		         (long long)st.st_size);
	assert_false(vup_trace_active(t));
	close(victim);
	vup_trace_close(t);
}

/* Run fn in a child; it must finish within secs (a blocked relay does
 * not). */
static void within(unsigned secs, void (*fn)(void))
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(secs);
		fn();
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		fail_msg("blocked for %u s: the relay would hang", secs);
	assert_true(WIFEXITED(status));
}

static int pfd[2];

/* record stop with a reader that has not caught up (Wireshark busy, a
 * pager): README says a slow reader never holds up the relay. */
static void stop_with_pending(void)
{
	struct vup_trace_config cfg = {0};
	struct vup_trace *t;
	char err[256];
	if (vup_trace_open(&cfg, &t, err, sizeof(err)))
		_exit(3);
	vup_trace_add_session(t, 1, "s1", "one");
	struct vup_trace_rec rr = {.fd = pfd[1], .gzip = false};
	int id = vup_trace_record(t, &rr, err, sizeof(err));
	if (id <= 0)
		_exit(4);
	static uint8_t big[4000];
	for (int i = 0; i < 40; i++) /* 160 KB: pipe full, ~100 KB waits */
		msg(t, 1, 25, big, sizeof(big));
	if (!vup_trace_recording(t, id))
		_exit(5);
	vup_trace_stop(t, id, NULL); /* blocks in write_pending */
	vup_trace_close(t);
}

static void test_stop_never_blocks(void **state)
{
	(void)state;
	assert_int_equal(pipe(pfd), 0);
	within(3, stop_with_pending);
	close(pfd[0]);
	close(pfd[1]);
}

/* ctl snapshot FILE where FILE is a FIFO (or /dev/stdout, a pipe): the
 * snapshot's fd is not made non-blocking, so the backlog's write waits
 * for the reader on the relay's thread. */
static void snapshot_to_pipe(void)
{
	struct vup_trace_config cfg = {0};
	struct vup_trace *t;
	char err[256];
	if (vup_trace_open(&cfg, &t, err, sizeof(err)) ||
	    vup_trace_ring(t, 1u << 20))
		_exit(3);
	vup_trace_add_session(t, 1, "s1", "one");
	static uint8_t big[4000];
	for (int i = 0; i < 600; i++)
		msg(t, 1, 25, big, sizeof(big));
	int id = vup_trace_snapshot(t, pfd[1], "ctl", err, sizeof(err));
	if (id > 0)
		vup_trace_stop(t, id, NULL);
	vup_trace_close(t);
}

static void test_snapshot_to_pipe_never_blocks(void **state)
{
	(void)state;
	assert_int_equal(pipe(pfd), 0);
	within(3, snapshot_to_pipe);
	close(pfd[0]);
	close(pfd[1]);
}

/* `ctl record start -` passes the client's own stdout; vuproxy sets
 * O_NONBLOCK on that shared open file description and leaves it set:
 * the client's (or the shell's terminal's) later writes get EAGAIN. */
static void test_client_fd_flags_untouched(void **state)
{
	(void)state;
	struct vup_trace_config cfg = {0};
	struct vup_trace *t;
	char err[256];
	assert_int_equal(vup_trace_open(&cfg, &t, err, sizeof(err)), 0);
	int p[2];
	assert_int_equal(pipe(p), 0);
	int passed = dup(p[1]); /* as SCM_RIGHTS would give vuproxy */
	struct vup_trace_rec rr = {.fd = passed, .gzip = false};
	int id = vup_trace_record(t, &rr, err, sizeof(err));
	assert_true(id > 0);
	assert_int_equal(vup_trace_stop(t, id, NULL), 0);
	int fl = fcntl(p[1], F_GETFL);
	if (fl & O_NONBLOCK)
		fail_msg("the client's fd was left O_NONBLOCK");
	close(p[0]);
	close(p[1]);
	vup_trace_close(t);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_refused_file_leaves_no_slot),
	        cmocka_unit_test(test_stop_never_blocks),
	        cmocka_unit_test(test_snapshot_to_pipe_never_blocks),
	        cmocka_unit_test(test_client_fd_flags_untouched),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
