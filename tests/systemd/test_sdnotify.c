/* Unit tests of src/util/sdnotify.c and the socket checks of
 * src/relay/endpoint.c that socket activation uses:
 *
 * - LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES: unset, another process's, garbage,
 *   counts, names, too many; the errors quote the value;
 * - taking them unsets all three whatever they held, and makes the
 *   descriptors close-on-exec; one that is not open is an error;
 * - sd_notify: a path and an abstract socket receive the datagram; unset is
 *   a no-op; a receiver that does not read never blocks the sender;
 * - WATCHDOG_USEC/WATCHDOG_PID;
 * - an inherited descriptor is accepted only as a listening unix stream
 *   socket, and its path is matched to an endpoint's.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "unit.h"
#include "vuproxy/endpoint.h"
#include "vuproxy/sdnotify.h"

static char dir[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/vup-sd.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	(void)state;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct vup_sd_listen l;
static char err[512];

static int parse(const char *pid, const char *fds, const char *names)
{
	err[0] = '\0';
	return vup_sd_listen_parse(pid, fds, names, 1234, &l, err, sizeof(err));
}

static void listen_not_ours(void **state)
{
	(void)state;
	assert_int_equal(parse(NULL, "2", "a:b"), 0);
	assert_int_equal(parse("1235", "2", "a:b"), 0); /* the parent's */
	assert_int_equal(l.n, 0);
	assert_int_equal(parse("1234", NULL, NULL), 0);
}

static void listen_garbage(void **state)
{
	(void)state;
	const char *pids[] = {"",  "x",     "12x",   "-1",
	                      "0", " 1234", "+1234", "99999999999999999999"};
	for (size_t i = 0; i < COUNT(pids); i++) {
		assert_int_equal(parse(pids[i], "1", NULL), -EINVAL);
		assert_contains(err, "LISTEN_PID='");
	}
	const char *fds[] = {"", "one", "-1", "1 ", "0x2", "2147483647"};
	for (size_t i = 0; i < COUNT(fds); i++) {
		assert_int_equal(parse("1234", fds[i], NULL), -EINVAL);
		assert_contains(err, "LISTEN_FDS='");
		assert_int_equal(l.n, 0);
	}
}

static void listen_counts(void **state)
{
	(void)state;
	assert_int_equal(parse("1234", "0", NULL), 0);
	assert_int_equal(parse("1234", "0", ""), 0);
	assert_int_equal(parse("1234", "3", NULL), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(l.fds[i].fd, 3 + i);
		assert_string_equal(l.fds[i].name, "unknown");
	}
	assert_int_equal(parse("1234", "16", NULL), 16);
	assert_int_equal(l.fds[15].fd, 18);
	assert_int_equal(parse("1234", "17", NULL), -E2BIG);
	assert_contains(err, "LISTEN_FDS=17");
	assert_int_equal(l.n, 0);
}

static void listen_names(void **state)
{
	(void)state;
	assert_int_equal(parse("1234", "2", "vuproxy@vm1.socket:ctl"), 2);
	assert_string_equal(l.fds[0].name, "vuproxy@vm1.socket");
	assert_string_equal(l.fds[1].name, "ctl");
	assert_int_equal(parse("1234", "1", ""), 1); /* one empty name */
	assert_string_equal(l.fds[0].name, "");
	assert_int_equal(parse("1234", "2", "a::b"), -EINVAL);
	assert_contains(err, "names 3 sockets, LISTEN_FDS says 2");
	assert_int_equal(parse("1234", "2", "a"), -EINVAL);
	assert_contains(err, "LISTEN_FDNAMES='a'");
	assert_int_equal(l.n, 0);
	char longname[300];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(parse("1234", "1", longname), -EINVAL);
	assert_contains(err, "longer than 255");
}

static void set_env(const char *pid, const char *fds, const char *names)
{
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", fds, 1);
	setenv("LISTEN_FDNAMES", names, 1);
}

static void assert_env_unset(void)
{
	assert_null(getenv("LISTEN_PID"));
	assert_null(getenv("LISTEN_FDS"));
	assert_null(getenv("LISTEN_FDNAMES"));
}

static void take_unsets_and_cloexec(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* Out of the way of 3 and 4 first (socketpair may have used them). */
	for (int i = 0; i < 2; i++) {
		int hi = fcntl(sv[i], F_DUPFD, 20);
		close(sv[i]);
		sv[i] = hi;
	}
	/* As the manager leaves them: at 3 and 4, inherited across exec. */
	assert_int_equal(dup2(sv[0], 3), 3);
	assert_int_equal(dup2(sv[1], 4), 4);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(fcntl(3, F_GETFD) & FD_CLOEXEC, 0);
	char pid[24];
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	set_env(pid, "2", "a:b");
	assert_int_equal(vup_sd_listen_take(&l, err, sizeof(err)), 2);
	assert_env_unset();
	assert_int_not_equal(fcntl(3, F_GETFD) & FD_CLOEXEC, 0);
	assert_int_not_equal(fcntl(4, F_GETFD) & FD_CLOEXEC, 0);
	assert_string_equal(l.fds[1].name, "b");
	/* Another process's, and garbage: unset all the same. */
	set_env("1", "2", "a:b");
	assert_int_equal(vup_sd_listen_take(&l, err, sizeof(err)), 0);
	assert_env_unset();
	set_env("x", "2", "a:b");
	assert_int_equal(vup_sd_listen_take(&l, err, sizeof(err)), -EINVAL);
	assert_env_unset();
	/* A descriptor the manager did not leave open. */
	close(4);
	set_env(pid, "2", "a:b");
	assert_int_equal(vup_sd_listen_take(&l, err, sizeof(err)), -EBADF);
	assert_contains(err, "descriptor 4 (b)");
	assert_env_unset();
	close(3);
}

static int dgram_at(const char *path, bool abstract)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	memcpy(sa.sun_path + abstract, path, len);
	socklen_t salen =
	        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, salen) < 0)
		fail_msg("bind %s: %s", path, strerror(errno));
	return fd;
}

static void recv_is(int fd, const char *want)
{
	char buf[256];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void notify_path_and_abstract(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(vup_sd_notify("READY=1"), 0);
	char path[128];
	snprintf(path, sizeof(path), "%s/notify", dir);
	int fd = dgram_at(path, false);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(vup_sd_notify("READY=1\nSTATUS=x"), 0);
	recv_is(fd, "READY=1\nSTATUS=x");
	close(fd);
	/* Nobody there any more: an error returned, not a wait. */
	assert_int_equal(vup_sd_notify("STOPPING=1"), -ECONNREFUSED);
	char name[64], env[80];
	snprintf(name, sizeof(name), "vup-sd-test-%ld", (long)getpid());
	fd = dgram_at(name, true);
	snprintf(env, sizeof(env), "@%s", name);
	setenv("NOTIFY_SOCKET", env, 1);
	assert_int_equal(vup_sd_notify("STOPPING=1"), 0);
	recv_is(fd, "STOPPING=1");
	close(fd);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(vup_sd_notify("READY=1"), -EAFNOSUPPORT);
	unsetenv("NOTIFY_SOCKET");
}

/* A manager that does not read: the queue fills and sd_notify returns
 * -EAGAIN at once instead of stopping the loop. */
static void notify_never_blocks(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof(path), "%s/full", dir);
	int fd = dgram_at(path, false);
	setenv("NOTIFY_SOCKET", path, 1);
	int rc = 0;
	for (int i = 0; i < 100000 && rc == 0; i++)
		rc = vup_sd_notify("WATCHDOG=1");
	assert_int_equal(rc, -EAGAIN);
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

static void watchdog(void **state)
{
	(void)state;
	uint64_t us = 1;
	assert_int_equal(vup_sd_watchdog_parse(NULL, NULL, 7, &us), 0);
	assert_int_equal(us, 0);
	assert_int_equal(vup_sd_watchdog_parse("30000000", NULL, 7, &us), 0);
	assert_int_equal(us, 30000000);
	assert_int_equal(vup_sd_watchdog_parse("30000000", "7", 7, &us), 0);
	assert_int_equal(us, 30000000);
	assert_int_equal(vup_sd_watchdog_parse("30000000", "8", 7, &us), 0);
	assert_int_equal(us, 0);
	assert_int_equal(vup_sd_watchdog_parse("0", NULL, 7, &us), -EINVAL);
	assert_int_equal(vup_sd_watchdog_parse("3s", NULL, 7, &us), -EINVAL);
	assert_int_equal(vup_sd_watchdog_parse("1", "x", 7, &us), -EINVAL);
}

static int unix_sock(int type, const char *path, bool listening)
{
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (listening && listen(fd, 8) < 0))
		fail_msg("%s: %s", path, strerror(errno));
	return fd;
}

static void inherited_kinds(void **state)
{
	(void)state;
	char path[128], got[128];
	snprintf(path, sizeof(path), "%s/fe.sock", dir);
	int fd = unix_sock(SOCK_STREAM, path, true);
	fcntl(fd, F_SETFD, 0);
	assert_int_equal(
	        vup_endpoint_inherited(fd, got, sizeof(got), err, sizeof(err)),
	        0);
	assert_string_equal(got, path);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	unlink(path);

	fd = unix_sock(SOCK_DGRAM, path, false);
	assert_int_equal(
	        vup_endpoint_inherited(fd, got, sizeof(got), err, sizeof(err)),
	        -EINVAL);
	assert_contains(err, "not a stream socket");
	close(fd);
	unlink(path);

	fd = unix_sock(SOCK_STREAM, path, false);
	assert_int_equal(
	        vup_endpoint_inherited(fd, got, sizeof(got), err, sizeof(err)),
	        -EINVAL);
	assert_contains(err, "not listening");
	close(fd);
	unlink(path);

	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(vup_endpoint_inherited(p[0], got, sizeof(got), err,
	                                        sizeof(err)),
	                 -ENOTSOCK);
	assert_contains(err, "not a socket");
	close(p[0]);
	close(p[1]);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(
	        vup_endpoint_inherited(fd, got, sizeof(got), err, sizeof(err)),
	        -EINVAL);
	assert_contains(err, "not a unix socket");
	close(fd);
}

static void same_path(void **state)
{
	(void)state;
	char path[128], rel[160], cwd[4096];
	snprintf(path, sizeof(path), "%s/fe.sock", dir);
	int fd = unix_sock(SOCK_STREAM, path, true);
	assert_true(vup_endpoint_same_path(path, path));
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	snprintf(rel, sizeof(rel), "./fe.sock");
	assert_true(vup_endpoint_same_path(rel, path));
	assert_false(vup_endpoint_same_path("./other.sock", path));
	assert_false(vup_endpoint_same_path("", path));
	assert_false(vup_endpoint_same_path("@x", "@x"));
	assert_int_equal(chdir(cwd), 0);
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(listen_not_ours),
	        cmocka_unit_test(listen_garbage),
	        cmocka_unit_test(listen_counts),
	        cmocka_unit_test(listen_names),
	        cmocka_unit_test(take_unsets_and_cloexec),
	        cmocka_unit_test(notify_path_and_abstract),
	        cmocka_unit_test(notify_never_blocks),
	        cmocka_unit_test(watchdog),
	        cmocka_unit_test(inherited_kinds),
	        cmocka_unit_test(same_path),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
