/* Many concurrent sessions, the session limit, and the listening socket
 * files (mode, stale files, files that are not ours to replace). */
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer_test.h"

#define NSESSIONS 256
#define V         VUP_FLAG_VERSION

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void sessions_256(void **state)
{
	struct peer_fx *fx = *state;
	raise_nofile();
	PEER_OK(peer_fx_start(fx, "listen", "connect", NULL));
	static struct peer *fe[NSESSIONS], *be[NSESSIONS];
	static int pair[NSESSIONS]; /* front-end i talks to be[pair[i]] */
	for (int i = 0; i < NSESSIONS; i++) {
		int fd = peer_connect(fx->fe_path, PEER_TIMEOUT_MS);
		if (fd < 0)
			fail_msg("front-end %d: %s", i, peer_error());
		fe[i] = peer_new(fd, "fe");
	}
	for (int i = 0; i < NSESSIONS; i++) {
		int fd = peer_accept(fx->be_listen, PEER_TIMEOUT_MS);
		if (fd < 0)
			fail_msg("back-end %d: %s", i, peer_error());
		be[i] = peer_new(fd, "be");
		pair[i] = -1;
	}
	/* Which back-end serves which front-end: each says its number. */
	uint32_t num = peer_code("SET_VRING_NUM");
	for (uint32_t i = 0; i < NSESSIONS; i++) {
		uint32_t p[2] = {0, i};
		PEER_OK(peer_send(fe[i], num, V, p, 8, NULL, 0));
	}
	for (int j = 0; j < NSESSIONS; j++) {
		struct vup_msg m;
		PEER_OK(peer_recv(be[j], &m, PEER_TIMEOUT_MS));
		uint32_t p[2];
		memcpy(p, m.payload, 8);
		assert_int_equal(m.hdr.request, num);
		assert_true(p[1] < NSESSIONS);
		assert_int_equal(pair[p[1]], -1);
		pair[p[1]] = j;
	}
	/* A round trip on every session. */
	for (int i = 0; i < NSESSIONS; i++)
		PEER_OK(peer_get_features(fe[i], be[pair[i]],
		                          0x100000000ull + (uint64_t)i));
	for (int i = 0; i < NSESSIONS; i++)
		peer_free(fe[i]);
	for (int i = 0; i < NSESSIONS; i++) {
		PEER_OK(peer_expect_eof(be[pair[i]], PEER_TIMEOUT_MS));
		peer_free(be[pair[i]]);
	}
	PEER_OK(vproc_wait_count(&fx->vp, " closed: front-end hung up",
	                         NSESSIONS, PEER_TIMEOUT_MS));
	PEER_OK(peer_fx_stop(fx));
	char line[160];
	snprintf(line, sizeof(line),
	         "vuproxy: %d sessions (0 failed), %d messages relayed, 0 "
	         "connections refused",
	         NSESSIONS, 3 * NSESSIONS);
	PEER_LOG(fx, line);
}

/* --max-sessions: one more front-end is refused, later ones work. */
static void session_limit(void **state)
{
	struct peer_fx *fx = *state;
	const char *extra[] = {"--max-sessions", "2", NULL};
	PEER_OK(peer_fx_start(fx, "listen", "connect", extra));
	struct peer *fe1, *be1, *fe2, *be2, *fe4, *be4;
	PEER_OK(peer_fx_session(fx, &fe1, &be1));
	PEER_OK(peer_fx_session(fx, &fe2, &be2));
	int fd = peer_connect(fx->fe_path, PEER_TIMEOUT_MS);
	PEER_OK(fd);
	struct peer *fe3 = peer_new(fd, "fe3");
	PEER_OK(peer_expect_eof(fe3, PEER_TIMEOUT_MS));
	peer_free(fe3);
	PEER_LOG(fx, "error: ", "refusing a new session", "--max-sessions");
	PEER_OK(peer_get_features(fe1, be1, 1));
	PEER_OK(peer_get_features(fe2, be2, 2));
	peer_free(fe1);
	PEER_OK(peer_expect_eof(be1, PEER_TIMEOUT_MS));
	peer_free(be1);
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS, "s1 closed", NULL));
	PEER_OK(peer_fx_session(fx, &fe4, &be4));
	PEER_OK(peer_get_features(fe4, be4, 4));
	peer_free(fe2);
	peer_free(be2);
	peer_free(fe4);
	peer_free(be4);
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 3 sessions (0 failed)", "1 connections refused");
}

/* SIGINT stops like SIGTERM: live sessions closed, counts printed, exit
 * 0, the socket file removed. */
static void sigint_with_live_session(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(peer_fx_start(fx, "listen", "connect", NULL));
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	PEER_OK(peer_get_features(fe, be, 1));
	assert_int_equal(kill(fx->vp.pid, SIGINT), 0);
	PEER_OK(peer_expect_eof(fe, PEER_TIMEOUT_MS));
	PEER_OK(peer_expect_eof(be, PEER_TIMEOUT_MS));
	PEER_OK(vproc_wait(&fx->vp, PEER_TIMEOUT_MS));
	assert_true(WIFEXITED(fx->vp.status));
	assert_int_equal(WEXITSTATUS(fx->vp.status), 0);
	PEER_LOG(fx, "vuproxy: 1 sessions (0 failed), 2 messages relayed, 0 "
	             "connections refused");
	assert_int_equal(access(fx->fe_path, F_OK), -1);
	peer_free(fe);
	peer_free(be);
}

static unsigned mode_of(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		fail_msg("stat %s: %m", path);
	assert_true(S_ISSOCK(st.st_mode));
	return st.st_mode & 07777;
}

static void socket_mode_default(void **state)
{
	struct peer_fx *fx = *state;
	umask(0); /* vuproxy must not depend on the caller's umask */
	PEER_OK(peer_fx_start(fx, "listen", "listen", NULL));
	umask(022);
	assert_int_equal(mode_of(fx->fe_path), 0600);
	assert_int_equal(mode_of(fx->be_path), 0600);
	PEER_OK(peer_fx_stop(fx));
	/* A clean stop removes the socket files. */
	assert_int_equal(access(fx->fe_path, F_OK), -1);
	assert_int_equal(access(fx->be_path, F_OK), -1);
}

static void socket_mode_option(void **state)
{
	struct peer_fx *fx = *state;
	const char *extra[] = {"--socket-mode", "0660", NULL};
	PEER_OK(peer_fx_start(fx, "listen", "listen", extra));
	assert_int_equal(mode_of(fx->fe_path), 0660);
	assert_int_equal(mode_of(fx->be_path), 0660);
	PEER_OK(peer_fx_stop(fx));
}

/* --socket-mode comes out exact whatever vuproxy's umask: the mode is made
 * by the umask vuproxy sets around bind, with no chmod by path after it
 * (tests/unit/test_endpoint.c: a link swapped in is not followed). */
struct umask_case {
	mode_t umask;
	const char *mode;
	unsigned want;
};

static void socket_mode_under_umask(void **state)
{
	struct peer_fx *fx = *state;
	const struct umask_case *c = fx->arg;
	const char *extra[] = {"--socket-mode", c->mode, NULL};
	mode_t old = umask(c->umask); /* inherited by vuproxy */
	int rc = peer_fx_start(fx, "listen", "listen", extra);
	umask(old);
	PEER_OK(rc);
	if (mode_of(fx->fe_path) != c->want || mode_of(fx->be_path) != c->want)
		fail_msg("umask %03o, --socket-mode %s: sockets %04o and %04o",
		         (unsigned)c->umask, c->mode, mode_of(fx->fe_path),
		         mode_of(fx->be_path));
	PEER_OK(peer_fx_stop(fx));
}

static const struct umask_case umask_cases[] = {
        {000, "0600", 0600}, {000, "0660", 0660}, {000, "0666", 0666},
        {077, "0600", 0600}, {077, "0660", 0660}, {077, "0666", 0666},
};

/* A socket file nobody listens on (a crashed proxy's) is replaced. */
static void stale_socket_replaced(void **state)
{
	struct peer_fx *fx = *state;
	int fd = peer_listen(fx->fe_path, 1);
	PEER_OK(fd);
	close(fd); /* the file stays, nobody listens */
	PEER_OK(peer_fx_start(fx, "listen", "connect", NULL));
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	PEER_OK(peer_get_features(fe, be, 1));
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
}

/* A path that is not a socket is refused, and left alone. */
static void regular_file_refused(void **state)
{
	struct peer_fx *fx = *state;
	int fd = open(fx->fe_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	char fe_arg[256], be_arg[256];
	snprintf(fe_arg, sizeof(fe_arg), "listen:%s", fx->fe_path);
	snprintf(be_arg, sizeof(be_arg), "connect:%s", fx->be_path);
	const char *args[] = {"--frontend", fe_arg, "--backend", be_arg, NULL};
	PEER_OK(vproc_start(&fx->vp, fx->log_path, args));
	fx->started = true;
	PEER_OK(vproc_wait(&fx->vp, PEER_TIMEOUT_MS));
	assert_true(WIFEXITED(fx->vp.status));
	assert_int_not_equal(WEXITSTATUS(fx->vp.status), 0);
	PEER_LOG(fx, "error: ", fx->fe_path, "not a socket");
	struct stat st;
	assert_int_equal(lstat(fx->fe_path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 4);
}

/* A socket somebody listens on is never taken over, even when its
 * backlog is full (a non-blocking connect then fails with EAGAIN). */
static void live_socket_kept(void **state, bool backlog_full)
{
	struct peer_fx *fx = *state;
	int lfd = peer_listen(fx->fe_path, 0);
	PEER_OK(lfd);
	int pending = -1;
	if (backlog_full) /* one connection fills a backlog of 0 */
		pending = peer_connect_once(fx->fe_path);
	struct stat before, after;
	assert_int_equal(lstat(fx->fe_path, &before), 0);
	char fe_arg[256], be_arg[256];
	snprintf(fe_arg, sizeof(fe_arg), "listen:%s", fx->fe_path);
	snprintf(be_arg, sizeof(be_arg), "connect:%s", fx->be_path);
	const char *args[] = {"--frontend", fe_arg, "--backend", be_arg, NULL};
	PEER_OK(vproc_start(&fx->vp, fx->log_path, args));
	fx->started = true;
	int rc = vproc_wait(&fx->vp, 2000);
	bool same = lstat(fx->fe_path, &after) == 0 &&
	            after.st_ino == before.st_ino;
	if (pending >= 0)
		close(pending);
	close(lfd);
	if (rc < 0)
		fail_msg("vuproxy took over the live socket %s and runs (file "
		         "%s)",
		         fx->fe_path, same ? "unchanged" : "replaced");
	assert_true(same);
	assert_true(WIFEXITED(fx->vp.status));
	assert_int_not_equal(WEXITSTATUS(fx->vp.status), 0);
	PEER_LOG(fx, "error: ", fx->fe_path, "listening");
}

static void live_socket_not_replaced(void **state)
{
	live_socket_kept(state, false);
}

static void live_socket_full_backlog_not_replaced(void **state)
{
	live_socket_kept(state, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        PEER_TEST(sessions_256),
	        PEER_TEST(session_limit),
	        PEER_TEST(sigint_with_live_session),
	        PEER_TEST(socket_mode_default),
	        PEER_TEST(socket_mode_option),
	        PEER_TEST_ARG("socket_mode umask 000 0600",
	                      socket_mode_under_umask, &umask_cases[0]),
	        PEER_TEST_ARG("socket_mode umask 000 0660",
	                      socket_mode_under_umask, &umask_cases[1]),
	        PEER_TEST_ARG("socket_mode umask 000 0666",
	                      socket_mode_under_umask, &umask_cases[2]),
	        PEER_TEST_ARG("socket_mode umask 077 0600",
	                      socket_mode_under_umask, &umask_cases[3]),
	        PEER_TEST_ARG("socket_mode umask 077 0660",
	                      socket_mode_under_umask, &umask_cases[4]),
	        PEER_TEST_ARG("socket_mode umask 077 0666",
	                      socket_mode_under_umask, &umask_cases[5]),
	        PEER_TEST(stale_socket_replaced),
	        PEER_TEST(regular_file_refused),
	        PEER_TEST(live_socket_not_replaced),
	        PEER_TEST(live_socket_full_backlog_not_replaced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
