/* The real vuproxy started the way vuproxy@.socket and vuproxy@.service
 * start it, without systemd as PID 1: this test plays the manager.  It
 * binds and listens on the front-end socket, hands it over as descriptor
 * 3 with LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES, and reads $NOTIFY_SOCKET.
 *
 * vuproxy runs as the unit runs it: --name vm1 --config vm1.conf.
 *
 * - a front-end that connected (and sent GET_FEATURES) before vuproxy
 *   existed is served once it starts: what socket activation is for;
 * - READY=1 comes once the inherited socket is polled (the log says so
 *   before it), with a STATUS= naming it; measured;
 * - a session through the inherited socket relays GET_FEATURES both ways
 *   to a scripted back-end (peers/);
 * - SIGTERM: STOPPING=1, exit 0, and the socket file is still there and
 *   still queues connections: a restarted vuproxy serves them;
 * - WATCHDOG_USEC: WATCHDOG=1 pings;
 * - an inherited socket no endpoint names: warned about, vuproxy listens
 *   on its own; one that is not a listening stream socket: vuproxy
 *   refuses to start, saying what it got;
 * - LISTEN_FDS naming a descriptor not passed: exit 1 with EBADF said,
 *   never a descriptor of vuproxy's own taken for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer.h"
#include "peer_test.h"

struct mgr {
	struct peer_fx fx;
	char notify_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int notify; /* our NOTIFY_SOCKET */
	int sock;   /* the socket unit's listener, -1 none */
	const char *watchdog_usec;
	const char *listen_fds; /* LISTEN_FDS, when not what fd3 says */
};

static int setup(void **state)
{
	struct mgr *m = calloc(1, sizeof(*m));
	if (!m)
		return -1;
	m->notify = m->sock = -1;
	if (peer_fx_init(&m->fx))
		return -1;
	snprintf(m->notify_path, sizeof(m->notify_path), "%s/notify",
	         m->fx.dir);
	m->notify = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", m->notify_path);
	if (m->notify < 0 ||
	    bind(m->notify, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	struct mgr *m = *state;
	peer_fx_fini(&m->fx);
	if (m->notify >= 0)
		close(m->notify);
	if (m->sock >= 0)
		close(m->sock);
	free(m);
	return 0;
}

/* What systemd does between fork and exec for a Type=notify service
 * with a socket unit: the socket at fd 3, the variables naming the
 * child itself. */
static int start(struct mgr *m, int fd3, const char *const *args)
{
	struct vproc *v = &m->fx.vp;
	const char *bin = getenv("VUPROXY");
	if (!bin)
		return peer_fail(-EINVAL, "VUPROXY is not set");
	memset(v, 0, sizeof(*v));
	snprintf(v->log, sizeof(v->log), "%s", m->fx.log_path);
	const char *argv[32] = {bin};
	size_t n = 1;
	for (size_t i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	pid_t pid = fork();
	if (pid < 0)
		return peer_fail(-errno, "fork: %s", strerror(errno));
	if (pid == 0) {
		int log = open(v->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (log < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
			_exit(126);
		/* dup2 clears close-on-exec: fd 3 crosses the exec. */
		if (fd3 >= 0 && dup2(fd3, 3) < 0)
			_exit(126);
		if (fd3 < 0)
			close(3);
		char pidbuf[24];
		snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)getpid());
		setenv("LISTEN_PID", pidbuf, 1);
		setenv("LISTEN_FDS",
		       m->listen_fds ? m->listen_fds
		       : fd3 >= 0    ? "1"
		                     : "0",
		       1);
		setenv("LISTEN_FDNAMES", "vuproxy@vm1.socket", 1);
		setenv("NOTIFY_SOCKET", m->notify_path, 1);
		if (m->watchdog_usec)
			setenv("WATCHDOG_USEC", m->watchdog_usec, 1);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	v->pid = pid;
	m->fx.started = true;
	return 0;
}

/* The next datagram that is not a watchdog ping, within timeout_ms. */
static int next_notice(struct mgr *m, char *buf, size_t cap, int timeout_ms,
                       unsigned *pings)
{
	uint64_t end = peer_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		uint64_t now = peer_now_ms();
		struct pollfd pfd = {.fd = m->notify, .events = POLLIN};
		if (now >= end || poll(&pfd, 1, (int)(end - now)) <= 0)
			return peer_fail(-ETIMEDOUT,
			                 "no notice within %d ms; log:\n%s",
			                 timeout_ms, vproc_log_tail(&m->fx.vp));
		ssize_t len = recv(m->notify, buf, cap - 1, 0);
		if (len < 0)
			return peer_fail(-errno, "recv: %s", strerror(errno));
		buf[len] = '\0';
		if (strcmp(buf, "WATCHDOG=1") == 0) {
			if (pings)
				++*pings;
			continue;
		}
		return 0;
	}
}

/* What vuproxy@vm1.service runs: --name vm1 --config vm1.conf, the conf
 * naming the front-end socket the socket unit made. */
static void unit_args(struct mgr *m, char *conf, size_t cap, const char **args)
{
	snprintf(conf, cap, "%s/vm1.conf", m->fx.dir);
	FILE *f = fopen(conf, "w");
	if (!f)
		fail_msg("%s: %s", conf, strerror(errno));
	fprintf(f,
	        "# as in dist/vuproxy.conf.example\n"
	        "frontend listen:%s\n"
	        "backend connect:%s\n"
	        "control %s/ctl\n",
	        m->fx.fe_path, m->fx.be_path, m->fx.dir);
	fclose(f);
	const char *a[] = {"--name", "vm1", "--config", conf, NULL};
	memcpy(args, a, sizeof(a));
}

/* A front-end connected before vuproxy ran; vuproxy starts on the
 * inherited socket, says READY=1 and serves it. */
static void served_after_ready(struct mgr *m, const char *const *args,
                               const char *what)
{
	int fd = peer_connect_once(m->fx.fe_path);
	if (fd < 0)
		fail_msg("%s: connect before vuproxy: %s", what, strerror(-fd));
	struct peer *early = peer_new(fd, "early-fe");
	uint32_t gf = peer_code("GET_FEATURES");
	assert_int_equal(
	        peer_send(early, gf, VUP_FLAG_VERSION, NULL, 0, NULL, 0), 0);
	uint64_t t0 = peer_now_ms();
	if (start(m, m->sock, args))
		fail_msg("%s", peer_error());
	char msg[1024];
	unsigned pings = 0;
	if (next_notice(m, msg, sizeof(msg), PEER_TIMEOUT_MS, &pings))
		fail_msg("%s: %s", what, peer_error());
	uint64_t ready_ms = peer_now_ms() - t0;
	print_message("%s: READY=1 %llu ms after exec\n", what,
	              (unsigned long long)ready_ms);
	char want[1024];
	snprintf(want, sizeof(want),
	         "READY=1\nSTATUS=front-end listen:%s (from systemd), "
	         "back-end connect:%s, control %s/ctl",
	         m->fx.fe_path, m->fx.be_path, m->fx.dir);
	assert_string_equal(msg, want);
	/* Listening (polling the inherited socket) came first. */
	if (!vproc_has_line(&m->fx.vp, "front-end: listening on", m->fx.fe_path,
	                    "(socket from systemd, descriptor 3)", NULL))
		fail_msg("READY=1 before the listening line:\n%s",
		         vproc_log_tail(&m->fx.vp));
	assert_false(vproc_has_line(&m->fx.vp, "(mode ", m->fx.fe_path, NULL));

	/* The early front-end's request reaches the back-end; the reply
	 * comes back. */
	int bfd = peer_accept(m->fx.be_listen, PEER_TIMEOUT_MS);
	if (bfd < 0)
		fail_msg("%s: no back-end connection for the early front-end: "
		         "%s",
		         what, vproc_log_tail(&m->fx.vp));
	struct peer *be = peer_new(bfd, "be");
	struct vup_msg in;
	assert_int_equal(peer_recv(be, &in, PEER_TIMEOUT_MS), 1);
	assert_int_equal(peer_msg_equal(&in, gf, VUP_FLAG_VERSION, NULL, 0, 0),
	                 0);
	peer_msg_close(&in);
	uint64_t features = 0x140000000ull;
	if (peer_relay_check(be, early, gf, VUP_FLAG_VERSION | VUP_FLAG_REPLY,
	                     &features, 8, NULL, 0))
		fail_msg("%s", peer_error());

	/* And one that connects now. */
	struct peer *fe2, *be2;
	if (peer_fx_session(&m->fx, &fe2, &be2) ||
	    peer_get_features(fe2, be2, features))
		fail_msg("%s", peer_error());
	peer_free(early);
	peer_free(be);
	peer_free(fe2);
	peer_free(be2);
}

static void stop_and_check_socket(struct mgr *m)
{
	kill(m->fx.vp.pid, SIGTERM);
	char msg[256];
	if (next_notice(m, msg, sizeof(msg), PEER_TIMEOUT_MS, NULL))
		fail_msg("%s", peer_error());
	assert_string_equal(msg, "STOPPING=1");
	assert_int_equal(vproc_wait(&m->fx.vp, PEER_TIMEOUT_MS), 0);
	if (!WIFEXITED(m->fx.vp.status) || WEXITSTATUS(m->fx.vp.status))
		fail_msg("vuproxy did not exit 0:\n%s",
		         vproc_log_tail(&m->fx.vp));
	m->fx.started = false;
	/* systemd's socket: neither unlinked nor closed by vuproxy. */
	struct stat st;
	assert_int_equal(lstat(m->fx.fe_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0640);
}

static void activated(void **state)
{
	struct mgr *m = *state;
	/* Mode 0640 set by "SocketMode=": vuproxy must leave it alone
	 * (its own default would be 0600). */
	m->sock = peer_listen(m->fx.fe_path, 64);
	assert_true(m->sock >= 0);
	assert_int_equal(chmod(m->fx.fe_path, 0640), 0);
	m->fx.be_listen = peer_listen(m->fx.be_path, 64);
	assert_true(m->fx.be_listen >= 0);
	m->watchdog_usec = "200000";
	char conf[256];
	const char *args[8];
	unit_args(m, conf, sizeof(conf), args);

	served_after_ready(m, args, "first start");
	/* The watchdog pings twice per period: within 0.5 s, some. */
	char msg[256];
	unsigned pings = 0;
	assert_int_equal(next_notice(m, msg, sizeof(msg), 500, &pings),
	                 -ETIMEDOUT);
	assert_true(pings >= 2);
	assert_true(vproc_has_line(&m->fx.vp, "systemd watchdog", NULL));
	stop_and_check_socket(m);

	/* A restart (Restart=on-failure, systemctl restart): the socket
	 * never went away; the front-end that connected while vuproxy was
	 * down is served by the next one. */
	m->watchdog_usec = NULL;
	unlink(m->fx.log_path);
	served_after_ready(m, args, "restart");
	stop_and_check_socket(m);
}

/* A socket bound elsewhere: told and closed; vuproxy makes its own. */
static void unmatched(void **state)
{
	struct mgr *m = *state;
	char other[256];
	snprintf(other, sizeof(other), "%s/other.sock", m->fx.dir);
	m->sock = peer_listen(other, 8);
	m->fx.be_listen = peer_listen(m->fx.be_path, 8);
	char conf[256];
	const char *args[8];
	unit_args(m, conf, sizeof(conf), args);
	assert_int_equal(start(m, m->sock, args), 0);
	char msg[1024];
	if (next_notice(m, msg, sizeof(msg), PEER_TIMEOUT_MS, NULL))
		fail_msg("%s", peer_error());
	assert_non_null(strstr(msg, "READY=1\nSTATUS=front-end listen:"));
	assert_null(strstr(msg, "from systemd"));
	assert_true(vproc_has_line(&m->fx.vp, "warning: socket activation:",
	                           "descriptor 3 (vuproxy@vm1.socket)", other,
	                           "no listen: endpoint names", NULL));
	assert_true(vproc_has_line(&m->fx.vp, "listening on", m->fx.fe_path,
	                           "(mode 0600)", NULL));
	struct peer *fe2, *be2;
	if (peer_fx_session(&m->fx, &fe2, &be2) ||
	    peer_get_features(fe2, be2, 1))
		fail_msg("%s", peer_error());
	assert_int_equal(peer_fx_stop(&m->fx), 0);
	/* Its own socket it removes, as always. */
	assert_int_equal(access(m->fx.fe_path, F_OK), -1);
	assert_int_equal(access(other, F_OK), 0);
}

/* ListenDatagram= by mistake, or a socket that does not listen: a clear
 * refusal to start, and no READY=1. */
static void wrong_kind(void **state)
{
	struct mgr *m = *state;
	m->fx.be_listen = peer_listen(m->fx.be_path, 8);
	char conf[256];
	const char *args[8];
	unit_args(m, conf, sizeof(conf), args);
	struct {
		int type;
		const char *says;
	} kinds[] = {
	        {SOCK_DGRAM, "descriptor 3: not a stream socket"},
	        {SOCK_SEQPACKET, "descriptor 3: not a stream socket"},
	        {SOCK_STREAM, "descriptor 3: a unix stream socket that is not "
	                      "listening"},
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		int fd = socket(AF_UNIX, kinds[i].type | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		unlink(m->fx.log_path);
		assert_int_equal(start(m, fd, args), 0);
		close(fd);
		assert_int_equal(vproc_wait(&m->fx.vp, PEER_TIMEOUT_MS), 0);
		m->fx.started = false;
		assert_true(WIFEXITED(m->fx.vp.status));
		assert_int_equal(WEXITSTATUS(m->fx.vp.status), 1);
		if (!vproc_has_line(&m->fx.vp, "error: socket activation:",
		                    kinds[i].says, NULL))
			fail_msg("%s", vproc_log_tail(&m->fx.vp));
		struct pollfd pfd = {.fd = m->notify, .events = POLLIN};
		assert_int_equal(poll(&pfd, 1, 0), 0); /* no READY=1 */
	}
}

/* LISTEN_FDS names a descriptor that was not passed (a wrapper closed
 * it): vuproxy says so and exits 1.  It once took what it had opened
 * there itself (the loop's epoll descriptor) and closed it: SIGABRT. */
static void fd_not_passed(void **state)
{
	struct mgr *m = *state;
	m->fx.be_listen = peer_listen(m->fx.be_path, 8);
	char conf[256];
	const char *args[8];
	unit_args(m, conf, sizeof(conf), args);
	m->listen_fds = "1";
	assert_int_equal(start(m, -1, args), 0);
	assert_int_equal(vproc_wait(&m->fx.vp, PEER_TIMEOUT_MS), 0);
	m->fx.started = false;
	if (!WIFEXITED(m->fx.vp.status) || WEXITSTATUS(m->fx.vp.status) != 1)
		fail_msg("status %#x, want exit 1:\n%s", m->fx.vp.status,
		         vproc_log_tail(&m->fx.vp));
	if (!vproc_has_line(&m->fx.vp, "error: socket activation:",
	                    "descriptor 3", "Bad file descriptor", NULL))
		fail_msg("%s", vproc_log_tail(&m->fx.vp));
	struct pollfd pfd = {.fd = m->notify, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 0), 0); /* no READY=1 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(activated, setup, teardown),
	        cmocka_unit_test_setup_teardown(unmatched, setup, teardown),
	        cmocka_unit_test_setup_teardown(wrong_kind, setup, teardown),
	        cmocka_unit_test_setup_teardown(fd_not_passed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
