/* All four socket-role combinations, the pairing of front-ends with
 * back-ends when both sides connect to vuproxy, and connect retries. */
#include <string.h>
#include <sys/mman.h>
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
	peer_free(fe);
	PEER_OK(peer_expect_eof(be, PEER_TIMEOUT_MS));
	peer_free(be);
	finish(fx, 1);
}

static void connect_listen(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(peer_fx_start(fx, "connect", "listen", NULL));
	struct peer *be = connect_to(fx->be_path, "be");
	struct peer *fe = accept_from(fx->fe_listen, "fe");
	exercise(fe, be, 2);
	peer_free(be);
	PEER_OK(peer_expect_eof(fe, PEER_TIMEOUT_MS));
	peer_free(fe);
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
	peer_free(fe);
	PEER_OK(peer_expect_eof(be, PEER_TIMEOUT_MS));
	peer_free(be);
	/* After a session ends, vuproxy connects both sides again. */
	be = accept_from(fx->be_listen, "be2");
	fe = accept_from(fx->fe_listen, "fe2");
	exercise(fe, be, 4);
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS,
	                        "s2 front-end connected to", NULL));
	peer_free(be);
	PEER_OK(peer_expect_eof(fe, PEER_TIMEOUT_MS));
	peer_free(fe);
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
	for (size_t i = 0; i < 4; i++) {
		peer_free(all[i]);
		PEER_OK(peer_expect_eof(all[i + 4], PEER_TIMEOUT_MS));
		peer_free(all[i + 4]);
	}
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
	peer_free(fe);
	PEER_OK(peer_expect_eof(live, PEER_TIMEOUT_MS));
	peer_free(live);
	finish(fx, 1);
}

/* Start vuproxy with --backend connect to a path nobody listens on; a
 * front-end connects and talks; the back-end appears 300 ms later. */
static void backend_connect_retry(void **state)
{
	struct peer_fx *fx = *state;
	char fe_arg[256], be_arg[256];
	snprintf(fe_arg, sizeof(fe_arg), "listen:%s", fx->fe_path);
	snprintf(be_arg, sizeof(be_arg), "connect:%s", fx->be_path);
	const char *args[] = {"--frontend", fe_arg, "--backend", be_arg, NULL};
	PEER_OK(vproc_start(&fx->vp, fx->log_path, args));
	fx->started = true;
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
	peer_free(fe);
	PEER_OK(peer_expect_eof(be, PEER_TIMEOUT_MS));
	peer_free(be);
	finish(fx, 1);
}

/* The same for --frontend connect: a back-end connects, the front-end
 * listener appears 300 ms later. */
static void frontend_connect_retry(void **state)
{
	struct peer_fx *fx = *state;
	char fe_arg[256], be_arg[256];
	snprintf(fe_arg, sizeof(fe_arg), "connect:%s", fx->fe_path);
	snprintf(be_arg, sizeof(be_arg), "listen:%s", fx->be_path);
	const char *args[] = {"--frontend", fe_arg, "--backend", be_arg, NULL};
	PEER_OK(vproc_start(&fx->vp, fx->log_path, args));
	fx->started = true;
	struct peer *be = connect_to(fx->be_path, "be");
	peer_sleep_ms(300);
	fx->fe_listen = peer_listen(fx->fe_path, 16);
	PEER_OK(fx->fe_listen);
	struct peer *fe = accept_from(fx->fe_listen, "fe");
	exercise(fe, be, 10);
	PEER_LOG(fx, "s1 front-end connect:", fx->fe_path, "retrying in");
	peer_free(fe);
	PEER_OK(peer_expect_eof(be, PEER_TIMEOUT_MS));
	peer_free(be);
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
	        PEER_TEST(backend_connect_retry),
	        PEER_TEST(frontend_connect_retry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
