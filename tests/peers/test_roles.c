/* All four socket-role combinations, the pairing of front-ends with
 * back-ends when both sides connect to vuproxy, connect retries, and how
 * long a front-end waits for its back-end (--backend-wait). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "peer_test.h"

#define V VUP_FLAG_VERSION

/* A SET_VRING_NUM carrying a tag, to see where a message went. */
static void send_tag(struct peer *fe, uint32_t tag)
{
	uint32_t p[2] = {0, tag};
	PEER_OK(peer_send(fe, peer_code("SET_VRING_NUM"), V, p, 8, NULL, 0));
}

static void expect_tag(struct peer *be, uint32_t tag)
{
	struct vup_msg m;
	uint32_t p[2] = {0, tag};
	PEER_OK(peer_recv(be, &m, PEER_TIMEOUT_MS));
	PEER_OK(peer_msg_equal(&m, peer_code("SET_VRING_NUM"), V, p, 8, 0));
}

/* Traffic both ways, an fd included. */
static void exercise(struct peer *fe, struct peer *be, uint64_t tag)
{
	PEER_OK(peer_get_features(fe, be, tag));
	int fd = memfd_create("vup-roles", MFD_CLOEXEC);
	assert_true(fd >= 0);
	uint64_t ring = 0;
	PEER_OK(peer_relay_check(fe, be, peer_code("SET_VRING_CALL"), V, &ring,
	                         8, &fd, 1));
	close(fd);
	send_tag(fe, (uint32_t)tag);
	expect_tag(be, (uint32_t)tag);
}

/* One peer hangs up: vuproxy must close the other; both are freed. */
static void hang_up(struct peer *gone, struct peer *other)
{
	peer_free(gone);
	PEER_OK(peer_expect_eof(other, PEER_TIMEOUT_MS));
	peer_free(other);
}

static struct peer *connect_to(const char *path, const char *name)
{
	int fd = peer_connect(path, PEER_TIMEOUT_MS);
	if (fd < 0)
		fail_msg("connect %s: %s", path, peer_error());
	return peer_new(fd, name);
}

static struct peer *accept_from(int lfd, const char *name)
{
	int fd = peer_accept(lfd, PEER_TIMEOUT_MS);
	if (fd < 0)
		fail_msg("accept (%s): %s", name, peer_error());
	return peer_new(fd, name);
}

static void finish(struct peer_fx *fx, unsigned sessions)
{
	PEER_OK(peer_fx_stop(fx));
	char line[64];
	snprintf(line, sizeof(line), "vuproxy: %u sessions (0 failed)",
	         sessions);
	PEER_LOG(fx, line);
}

static void listen_connect(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(peer_fx_start(fx, "listen", "connect", NULL));
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	exercise(fe, be, 1);
	hang_up(fe, be);
	finish(fx, 1);
}

static void connect_listen(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(peer_fx_start(fx, "connect", "listen", NULL));
	struct peer *be = connect_to(fx->be_path, "be");
	struct peer *fe = accept_from(fx->fe_listen, "fe");
	exercise(fe, be, 2);
	hang_up(be, fe);
	finish(fx, 1);
}

static void connect_connect(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(peer_fx_start(fx, "connect", "connect", NULL));
	/* The back-end is connected first, then the front-end. */
	struct peer *be = accept_from(fx->be_listen, "be");
	struct peer *fe = accept_from(fx->fe_listen, "fe");
	exercise(fe, be, 3);
	hang_up(fe, be);
	/* After a session ends, vuproxy connects both sides again. */
	be = accept_from(fx->be_listen, "be2");
	fe = accept_from(fx->fe_listen, "fe2");
	exercise(fe, be, 4);
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS,
	                        "s2 front-end connected to", NULL));
	hang_up(be, fe);
	/* ...and a third one may be under way when we stop. */
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "sessions (0 failed)");
}

/* listen/listen: each front-end takes the oldest waiting back-end, or
 * waits for the next back-end to connect. */
static void listen_listen(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(peer_fx_start(fx, "listen", "listen", NULL));
	/* Front-ends first: A then B; back-ends X then Y pair in order. */
	struct peer *a = connect_to(fx->fe_path, "fe-a");
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS,
	                        "s1 front-end accepted", NULL));
	struct peer *b = connect_to(fx->fe_path, "fe-b");
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS,
	                        "s2 front-end accepted", NULL));
	struct peer *x = connect_to(fx->be_path, "be-x");
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS,
	                        "s1 back-end accepted", NULL));
	struct peer *y = connect_to(fx->be_path, "be-y");
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS,
	                        "s2 back-end accepted", NULL));
	send_tag(b, 0xb);
	send_tag(a, 0xa);
	expect_tag(x, 0xa);
	expect_tag(y, 0xb);
	exercise(a, x, 5);
	exercise(b, y, 6);

	/* Back-ends first: P then Q wait; front-ends C then D take them. */
	struct peer *p = connect_to(fx->be_path, "be-p");
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS,
	                        "waiting for a front-end", NULL));
	struct peer *q = connect_to(fx->be_path, "be-q");
	PEER_OK(vproc_wait_count(&fx->vp, "waiting for a front-end", 2,
	                         PEER_TIMEOUT_MS));
	struct peer *c = connect_to(fx->fe_path, "fe-c");
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS,
	                        "s3 front-end accepted", NULL));
	struct peer *d = connect_to(fx->fe_path, "fe-d");
	send_tag(d, 0xd);
	send_tag(c, 0xc);
	expect_tag(p, 0xc);
	expect_tag(q, 0xd);
	exercise(c, p, 7);
	exercise(d, q, 8);

	struct peer *all[] = {a, b, c, d, x, y, p, q};
	for (size_t i = 0; i < 4; i++)
		hang_up(all[i], all[i + 4]);
	finish(fx, 4);
}

/* listen/listen: a back-end that gave up waiting (closed) is not handed
 * to the next front-end; a live one is. */
static void listen_listen_dead_waiting_backend(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(peer_fx_start(fx, "listen", "listen", NULL));
	struct peer *dead = connect_to(fx->be_path, "be-dead");
	PEER_OK(vproc_wait_count(&fx->vp, "waiting for a front-end", 1,
	                         PEER_TIMEOUT_MS));
	peer_free(dead);
	peer_sleep_ms(50);
	struct peer *live = connect_to(fx->be_path, "be-live");
	PEER_OK(vproc_wait_count(&fx->vp, "waiting for a front-end", 2,
	                         PEER_TIMEOUT_MS));
	struct peer *fe = connect_to(fx->fe_path, "fe");
	send_tag(fe, 0xfe);
	struct vup_msg m;
	int rc = peer_recv(live, &m, 1000);
	if (rc != 1)
		fail_msg("the live waiting back-end got nothing (%s); the "
		         "front-end was paired with the one that had closed"
		         "\n--- log ---\n%s",
		         peer_error(), vproc_log_tail(&fx->vp));
	uint32_t p[2] = {0, 0xfe};
	PEER_OK(peer_msg_equal(&m, peer_code("SET_VRING_NUM"), V, p, 8, 0));
	exercise(fe, live, 11);
	hang_up(fe, live);
	finish(fx, 1);
}

/* vuproxy with these roles and extra args, and none of our listeners
 * (peer_fx_start opens one for each side vuproxy connects to): a
 * connect: side finds nobody until the test listens. */
static void start_alone(struct peer_fx *fx, const char *fe_role,
                        const char *be_role, const char *const *extra)
{
	char fe_arg[256], be_arg[256];
	snprintf(fe_arg, sizeof(fe_arg), "%s:%s", fe_role, fx->fe_path);
	snprintf(be_arg, sizeof(be_arg), "%s:%s", be_role, fx->be_path);
	const char *args[16] = {"--frontend", fe_arg, "--backend", be_arg};
	size_t n = 4;
	for (size_t i = 0; extra && extra[i] && n < 15; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	PEER_OK(vproc_start(&fx->vp, fx->log_path, args));
	fx->started = true;
	if (strcmp(fe_role, "listen") == 0)
		PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS,
		                        "listening on", fx->fe_path, NULL));
}

/* A front-end connects and sends GET_FEATURES, as QEMU does first, while
 * no back-end is there: vuproxy must close it (EOF, or a reset when it
 * closed before reading) within [min_ms, max_ms] of the connect, without
 * a reply.  Returns how long it took. */
static uint64_t expect_refused(struct peer_fx *fx, unsigned min_ms,
                               unsigned max_ms)
{
	struct peer *fe = connect_to(fx->fe_path, "fe");
	uint64_t t0 = peer_now_ms();
	/* May fail already (EPIPE): vuproxy may have closed it first. */
	(void)peer_send(fe, peer_code("GET_FEATURES"), V, NULL, 0, NULL, 0);
	if (peer_expect_eof(fe, (int)max_ms + 500) < 0)
		fail_msg("the front-end was not closed: %s\n--- log ---\n%s",
		         peer_error(), vproc_log_tail(&fx->vp));
	uint64_t ms = peer_now_ms() - t0;
	peer_free(fe);
	print_message("front-end closed %llu ms after connecting\n",
	              (unsigned long long)ms);
	if (ms < min_ms || ms > max_ms)
		fail_msg("the front-end was closed after %llu ms, expected "
		         "%u to %u ms\n--- log ---\n%s",
		         (unsigned long long)ms, min_ms, max_ms,
		         vproc_log_tail(&fx->vp));
	return ms;
}

/* listen/connect, no back-end (default --backend-wait 0): every
 * front-end is closed at once, as the back-end's refusal would have
 * closed it without vuproxy, with one error line naming the session and
 * why; no retry.  First no socket file (ENOENT), then a file nobody
 * listens on (ECONNREFUSED); then the back-end is back and the next
 * front-end is served. */
static void backend_absent_closes_frontend(void **state)
{
	struct peer_fx *fx = *state;
	start_alone(fx, "listen", "connect", NULL);
	expect_refused(fx, 0, 1000);
	int dead = peer_listen(fx->be_path, 1);
	PEER_OK(dead);
	close(dead); /* the socket file stays, nobody listens */
	expect_refused(fx, 0, 1000);
	PEER_LOG(fx, "error: s1 back-end connect:", fx->be_path,
	         ": No such file or directory (1 attempt in ",
	         " ms, --backend-wait 0); closing session");
	PEER_LOG(fx, "error: s2 back-end connect:", fx->be_path,
	         ": Connection refused (1 attempt in ",
	         " ms, --backend-wait 0); closing session");
	assert_int_equal(vproc_count(&fx->vp, "error: "), 2);
	assert_int_equal(vproc_count(&fx->vp, "retrying"), 0);
	unlink(fx->be_path);
	fx->be_listen = peer_listen(fx->be_path, 16);
	PEER_OK(fx->be_listen);
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	exercise(fe, be, 12);
	hang_up(fe, be);
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 3 sessions (2 failed)");
}

/* listen/connect with --backend-wait 400 and no back-end: vuproxy
 * retries with backoff, the last attempt when the wait is over, then
 * closes the front-end. */
static void backend_wait_expires(void **state)
{
	struct peer_fx *fx = *state;
	const char *extra[] = {"--backend-wait", "400", NULL};
	start_alone(fx, "listen", "connect", extra);
	expect_refused(fx, 350, 1500);
	PEER_LOG(fx, "s1 back-end connect:", fx->be_path, "retrying in 50 ms");
	PEER_LOG(fx, "error: s1 back-end connect:", fx->be_path,
	         " attempts in ", " ms, --backend-wait 400); closing session");
	assert_int_equal(vproc_count(&fx->vp, "error: "), 1);
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 1 sessions (1 failed)");
}

/* --backend connect with --backend-wait: a front-end connects and talks
 * while nobody listens; the back-end appears 300 ms later, within the
 * wait, and gets everything in order. */
static void backend_connect_retry(void **state)
{
	struct peer_fx *fx = *state;
	const char *extra[] = {"--backend-wait", "5000", NULL};
	start_alone(fx, "listen", "connect", extra);
	struct peer *fe = connect_to(fx->fe_path, "fe");
	/* Sent before any back-end exists: held, then delivered. */
	PEER_OK(peer_send(fe, peer_code("GET_FEATURES"), V, NULL, 0, NULL, 0));
	send_tag(fe, 0x77);
	peer_sleep_ms(300);
	fx->be_listen = peer_listen(fx->be_path, 16);
	PEER_OK(fx->be_listen);
	struct peer *be = accept_from(fx->be_listen, "be");
	struct vup_msg m;
	PEER_OK(peer_recv(be, &m, PEER_TIMEOUT_MS));
	PEER_OK(peer_msg_equal(&m, peer_code("GET_FEATURES"), V, NULL, 0, 0));
	expect_tag(be, 0x77);
	uint64_t f = 0x140000000ull;
	PEER_OK(peer_relay_check(be, fe, peer_code("GET_FEATURES"),
	                         V | VUP_FLAG_REPLY, &f, 8, NULL, 0));
	exercise(fe, be, 9);
	PEER_LOG(fx, "s1 back-end connect:", fx->be_path, "retrying in");
	/* Backoff: the waits grow. */
	PEER_LOG(fx, "retrying in 50 ms");
	PEER_LOG(fx, "retrying in 100 ms");
	hang_up(fe, be);
	finish(fx, 1);
}

/* A back-end that is there but busy: its listen backlog is full (a
 * client it has not accepted yet), so vuproxy's connect gets EAGAIN.
 * QEMU's own blocking connect would wait, so even with --backend-wait 0
 * the front-end waits a little (up to 1 s) instead of being closed; the
 * back-end accepts 300 ms later and gets everything in order. */
static void backend_busy_is_waited_for(void **state)
{
	struct peer_fx *fx = *state;
	start_alone(fx, "listen", "connect", NULL);
	fx->be_listen = peer_listen(fx->be_path, 0);
	PEER_OK(fx->be_listen);
	/* Fill the backlog: connects until one would block. */
	int early[4], nearly = 0;
	for (; nearly < 4; nearly++) {
		early[nearly] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		size_t len = strlen(fx->be_path);
		assert_true(len < sizeof(a.sun_path));
		memcpy(a.sun_path, fx->be_path, len + 1);
		if (connect(early[nearly], (struct sockaddr *)&a, sizeof(a)) <
		    0) {
			assert_int_equal(errno, EAGAIN);
			close(early[nearly]);
			break;
		}
	}
	assert_true(nearly >= 1 && nearly < 4);
	struct peer *fe = connect_to(fx->fe_path, "fe");
	PEER_OK(peer_send(fe, peer_code("GET_FEATURES"), V, NULL, 0, NULL, 0));
	send_tag(fe, 0x55);
	PEER_OK(vproc_wait_line(
	        &fx->vp, PEER_TIMEOUT_MS, "s1 back-end connect:",
	        "Resource temporarily unavailable; retrying", NULL));
	peer_sleep_ms(300);
	/* The back-end takes its early clients, then vuproxy's. */
	for (int i = 0; i < nearly; i++) {
		int c = peer_accept(fx->be_listen, PEER_TIMEOUT_MS);
		PEER_OK(c);
		close(c);
		close(early[i]);
	}
	struct peer *be = accept_from(fx->be_listen, "be");
	struct vup_msg m;
	PEER_OK(peer_recv(be, &m, PEER_TIMEOUT_MS));
	PEER_OK(peer_msg_equal(&m, peer_code("GET_FEATURES"), V, NULL, 0, 0));
	expect_tag(be, 0x55);
	exercise(fe, be, 7);
	assert_int_equal(vproc_count(&fx->vp, "error: "), 0);
	hang_up(fe, be);
	finish(fx, 1);
}

/* listen/listen, default --backend-wait: a front-end that talks before
 * any back-end connects; one connects 500 ms later and gets every
 * message, in order. */
static void listen_backend_within_wait(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(peer_fx_start(fx, "listen", "listen", NULL));
	struct peer *fe = connect_to(fx->fe_path, "fe");
	PEER_OK(peer_send(fe, peer_code("GET_FEATURES"), V, NULL, 0, NULL, 0));
	send_tag(fe, 0x55);
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS,
	                        "s1 front-end accepted", NULL));
	peer_sleep_ms(500);
	struct peer *be = connect_to(fx->be_path, "be");
	struct vup_msg m;
	PEER_OK(peer_recv(be, &m, PEER_TIMEOUT_MS));
	PEER_OK(peer_msg_equal(&m, peer_code("GET_FEATURES"), V, NULL, 0, 0));
	expect_tag(be, 0x55);
	uint64_t f = 0x140000000ull;
	PEER_OK(peer_relay_check(be, fe, peer_code("GET_FEATURES"),
	                         V | VUP_FLAG_REPLY, &f, 8, NULL, 0));
	exercise(fe, be, 13);
	hang_up(fe, be);
	finish(fx, 1);
}

/* listen/listen, --backend-wait 300: no back-end in time, the front-end
 * is closed; the back-end that comes later waits for the next front-end
 * (it is not paired with the closed session). */
static void listen_backend_too_late(void **state)
{
	struct peer_fx *fx = *state;
	const char *extra[] = {"--backend-wait", "300", NULL};
	PEER_OK(peer_fx_start(fx, "listen", "listen", extra));
	expect_refused(fx, 250, 1500);
	PEER_LOG(fx, "error: s1 no back-end connected on", fx->be_path,
	         "within 300 ms (--backend-wait); closing session");
	struct peer *be = connect_to(fx->be_path, "be");
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS,
	                        "waiting for a front-end", NULL));
	struct peer *fe = connect_to(fx->fe_path, "fe2");
	exercise(fe, be, 14);
	PEER_LOG(fx, "s2 back-end accepted");
	hang_up(fe, be);
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 2 sessions (1 failed)");
}

/* --backend listen: the default wait is 2 s. */
static void listen_default_wait(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(peer_fx_start(fx, "listen", "listen", NULL));
	expect_refused(fx, 1900, 3500);
	PEER_LOG(fx, "error: s1 no back-end connected on", fx->be_path,
	         "within 2000 ms (--backend-wait)");
	PEER_OK(peer_fx_stop(fx));
}

/* connect/connect: the back-end is connected first and, while it is
 * absent, retried for ever (no front-end waits: vuproxy does not connect
 * to it yet); --backend-wait does not apply. */
static void connect_connect_backend_absent(void **state)
{
	struct peer_fx *fx = *state;
	fx->fe_listen = peer_listen(fx->fe_path, 16);
	PEER_OK(fx->fe_listen);
	start_alone(fx, "connect", "connect", NULL);
	int fd = peer_accept(fx->fe_listen, 1500);
	if (fd >= 0)
		fail_msg("vuproxy connected to the front-end with no back-end");
	PEER_OK(vproc_wait_count(&fx->vp, "retrying in", 4, PEER_TIMEOUT_MS));
	assert_int_equal(vproc_count(&fx->vp, "error: "), 0);
	fx->be_listen = peer_listen(fx->be_path, 16);
	PEER_OK(fx->be_listen);
	struct peer *be = accept_from(fx->be_listen, "be");
	struct peer *fe = accept_from(fx->fe_listen, "fe");
	exercise(fe, be, 15);
	hang_up(fe, be);
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "sessions (0 failed)");
}

/* The same for --frontend connect: a back-end connects, the front-end
 * listener appears 300 ms later. */
static void frontend_connect_retry(void **state)
{
	struct peer_fx *fx = *state;
	start_alone(fx, "connect", "listen", NULL);
	struct peer *be = connect_to(fx->be_path, "be");
	peer_sleep_ms(300);
	fx->fe_listen = peer_listen(fx->fe_path, 16);
	PEER_OK(fx->fe_listen);
	struct peer *fe = accept_from(fx->fe_listen, "fe");
	exercise(fe, be, 10);
	PEER_LOG(fx, "s1 front-end connect:", fx->fe_path, "retrying in");
	hang_up(fe, be);
	finish(fx, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        PEER_TEST(listen_connect),
	        PEER_TEST(connect_listen),
	        PEER_TEST(connect_connect),
	        PEER_TEST(listen_listen),
	        PEER_TEST(listen_listen_dead_waiting_backend),
	        PEER_TEST(backend_absent_closes_frontend),
	        PEER_TEST(backend_wait_expires),
	        PEER_TEST(backend_connect_retry),
	        PEER_TEST(backend_busy_is_waited_for),
	        PEER_TEST(listen_backend_within_wait),
	        PEER_TEST(listen_backend_too_late),
	        PEER_TEST(listen_default_wait),
	        PEER_TEST(connect_connect_backend_absent),
	        PEER_TEST(frontend_connect_retry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
