/* Malformed input from either side, one fault per test.
 *
 * Two sessions are open (s1 and s2); a peer of s1 misbehaves.  vuproxy
 * must log one error line naming the session, the direction, the request
 * and what was wrong, close s1 (both of its peers see EOF), keep s2
 * working, and still exit 0 on SIGTERM with "2 sessions (1 failed)". */
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer_test.h"

#define FE_DIR "front-end>back-end"
#define BE_DIR "back-end>front-end"

struct ctx {
	struct peer *fe, *be;     /* s1, the faulty session */
	struct peer *fe_b, *be_b; /* s1's back-end channel, if opened */
	bool fe_gone, be_gone;    /* the injector closed its own socket */
	bool bch_only;            /* only the back-end channel must close */
};

struct bad_case {
	const char *name;
	void (*inject)(struct ctx *c);
	const char *dir;     /* direction in the error line */
	const char *request; /* request name the line must carry, or NULL */
	const char *what;    /* a word of the reason */
};

static void hdr_bytes(uint8_t *buf, uint32_t req, uint32_t flags, uint32_t size)
{
	struct vup_hdr h = {req, flags, size};
	memcpy(buf, &h, sizeof(h));
}

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

static int memfd(void)
{
	int fd = memfd_create("vup-bad", MFD_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/* fe asks name (a valid request) and be receives it. */
static void ask(struct ctx *c, const char *name, const void *payload,
                uint32_t size)
{
	PEER_OK(peer_relay_check(c->fe, c->be, peer_code(name),
	                         VUP_FLAG_VERSION, payload, size, NULL, 0));
}

#define V  VUP_FLAG_VERSION
#define R  VUP_FLAG_REPLY
#define NR VUP_FLAG_NEED_REPLY

/* Front-end faults. */

static void fe_bad_version(struct ctx *c)
{
	send_msg(c->fe, "GET_FEATURES", 0x2, NULL, 0, NULL, 0);
}

static void fe_reply_flag(struct ctx *c)
{
	send_msg(c->fe, "GET_FEATURES", V | R, NULL, 0, NULL, 0);
}

static void fe_over_bound(struct ctx *c)
{
	uint8_t p[16] = {0};
	send_msg(c->fe, "SET_VRING_NUM", V, p, sizeof(p), NULL, 0);
}

static void fe_over_4096(struct ctx *c)
{
	static uint8_t buf[12 + 5000];
	hdr_bytes(buf, peer_code("SET_VRING_NUM"), V, 5000);
	send_raw(c->fe, buf, sizeof(buf), NULL, 0);
}

static void fe_under(struct ctx *c)
{
	uint8_t p[4] = {0};
	send_msg(c->fe, "SET_VRING_NUM", V, p, sizeof(p), NULL, 0);
}

static void fe_fd_on_fdless(struct ctx *c)
{
	int fd = memfd();
	send_msg(c->fe, "GET_FEATURES", V, NULL, 0, &fd, 1);
	close(fd);
}

static void fe_kick_without_fd(struct ctx *c)
{
	uint64_t ring = 0; /* NOFD clear: an fd must come */
	send_msg(c->fe, "SET_VRING_KICK", V, &ring, 8, NULL, 0);
}

static void fe_33_fds(struct ctx *c)
{
	int fds[33];
	for (int i = 0; i < 33; i++)
		fds[i] = memfd();
	uint64_t ring = 0;
	send_msg(c->fe, "SET_VRING_CALL", V, &ring, 8, fds, 33);
	for (int i = 0; i < 33; i++)
		close(fds[i]);
}

static void fe_mem_table_9(struct ctx *c)
{
	uint8_t p[8 + 9 * 32] = {0};
	uint32_t n = 9;
	memcpy(p, &n, 4);
	int fds[9];
	for (int i = 0; i < 9; i++)
		fds[i] = memfd();
	send_msg(c->fe, "SET_MEM_TABLE", V, p, sizeof(p), fds, 9);
	for (int i = 0; i < 9; i++)
		close(fds[i]);
}

static void fe_config_mismatch(struct ctx *c)
{
	uint8_t p[12 + 4] = {0};
	uint32_t n = 8; /* declares 8 config bytes, carries 4 */
	memcpy(p + 4, &n, 4);
	send_msg(c->fe, "SET_CONFIG", V, p, sizeof(p), NULL, 0);
}

static void fe_backend_req_fd_not_socket(struct ctx *c)
{
	int fd = memfd();
	send_msg(c->fe, "SET_BACKEND_REQ_FD", V, NULL, 0, &fd, 1);
	close(fd);
}

static void fe_close_mid_payload(struct ctx *c)
{
	uint8_t buf[12 + 10] = {0};
	hdr_bytes(buf, peer_code("SET_VRING_ADDR"), V, 40);
	send_raw(c->fe, buf, sizeof(buf), NULL, 0);
	peer_sleep_ms(20);
	peer_free(c->fe);
	c->fe = NULL;
	c->fe_gone = true;
}

static void fe_close_mid_header(struct ctx *c)
{
	uint8_t buf[5] = {1, 0, 0, 0, 1};
	send_raw(c->fe, buf, sizeof(buf), NULL, 0);
	peer_sleep_ms(20);
	peer_free(c->fe);
	c->fe = NULL;
	c->fe_gone = true;
}

/* Back-end faults on the main channel. */

static void be_request_on_main(struct ctx *c)
{
	send_msg(c->be, "GET_FEATURES", V, NULL, 0, NULL, 0);
}

static void be_unsolicited_reply(struct ctx *c)
{
	uint64_t f = 0;
	send_msg(c->be, "GET_FEATURES", V | R, &f, 8, NULL, 0);
}

static void be_wrong_reply(struct ctx *c)
{
	ask(c, "GET_FEATURES", NULL, 0);
	uint64_t f = 0;
	send_msg(c->be, "GET_PROTOCOL_FEATURES", V | R, &f, 8, NULL, 0);
}

static void be_bad_version(struct ctx *c)
{
	ask(c, "GET_FEATURES", NULL, 0);
	uint64_t f = 0;
	send_msg(c->be, "GET_FEATURES", 0x2 | R, &f, 8, NULL, 0);
}

static void be_need_reply_on_reply(struct ctx *c)
{
	ask(c, "GET_FEATURES", NULL, 0);
	uint64_t f = 0;
	send_msg(c->be, "GET_FEATURES", V | R | NR, &f, 8, NULL, 0);
}

static void be_reply_over_bound(struct ctx *c)
{
	ask(c, "GET_FEATURES", NULL, 0);
	uint8_t p[16] = {0};
	send_msg(c->be, "GET_FEATURES", V | R, p, sizeof(p), NULL, 0);
}

static void be_reply_over_4096(struct ctx *c)
{
	uint8_t cfg[12 + 4] = {0};
	cfg[4] = 4;
	ask(c, "GET_CONFIG", cfg, sizeof(cfg));
	static uint8_t buf[12 + 5000];
	hdr_bytes(buf, peer_code("GET_CONFIG"), V | R, 5000);
	send_raw(c->be, buf, sizeof(buf), NULL, 0);
}

static void be_reply_under(struct ctx *c)
{
	ask(c, "GET_FEATURES", NULL, 0);
	uint8_t p[4] = {0};
	send_msg(c->be, "GET_FEATURES", V | R, p, sizeof(p), NULL, 0);
}

static void be_reply_fd_on_fdless(struct ctx *c)
{
	ask(c, "GET_FEATURES", NULL, 0);
	uint64_t f = 0;
	int fd = memfd();
	send_msg(c->be, "GET_FEATURES", V | R, &f, 8, &fd, 1);
	close(fd);
}

static void be_reply_33_fds(struct ctx *c)
{
	uint8_t inflight[24] = {0};
	ask(c, "GET_INFLIGHT_FD", inflight, sizeof(inflight));
	int fds[33];
	for (int i = 0; i < 33; i++)
		fds[i] = memfd();
	send_msg(c->be, "GET_INFLIGHT_FD", V | R, inflight, sizeof(inflight),
	         fds, 33);
	for (int i = 0; i < 33; i++)
		close(fds[i]);
}

static void be_close_mid_payload(struct ctx *c)
{
	ask(c, "GET_FEATURES", NULL, 0);
	uint8_t buf[12 + 4] = {0};
	hdr_bytes(buf, peer_code("GET_FEATURES"), V | R, 8);
	send_raw(c->be, buf, sizeof(buf), NULL, 0);
	peer_sleep_ms(20);
	peer_free(c->be);
	c->be = NULL;
	c->be_gone = true;
}

/* Faults on the back-end channel. */

static void open_bch(struct ctx *c)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
	                 0);
	PEER_OK(peer_send(c->fe, peer_code("SET_BACKEND_REQ_FD"), V, NULL, 0,
	                  &sv[1], 1));
	close(sv[1]);
	struct vup_msg m;
	PEER_OK(peer_recv(c->be, &m, PEER_TIMEOUT_MS));
	assert_int_equal(m.nfds, 1);
	c->fe_b = peer_new(sv[0], "fe-bch");
	c->be_b = peer_new(m.fds[0], "be-bch");
}

static void bch_notifier_without_fd(struct ctx *c)
{
	open_bch(c);
	uint8_t p[24] = {0}; /* ring 0, NOFD clear: an fd must come */
	(void)peer_send(c->be_b, peer_code("BACKEND_VRING_HOST_NOTIFIER_MSG"),
	                V, p, sizeof(p), NULL, 0);
}

static void bch_be_reply_flag(struct ctx *c)
{
	open_bch(c);
	(void)peer_send(c->be_b, peer_code("BACKEND_CONFIG_CHANGE_MSG"), V | R,
	                NULL, 0, NULL, 0);
}

static void bch_fe_unsolicited_reply(struct ctx *c)
{
	open_bch(c);
	uint64_t ack = 0;
	(void)peer_send(c->fe_b, peer_code("BACKEND_IOTLB_MSG"), V | R, &ack, 8,
	                NULL, 0);
}

static const struct bad_case cases[] = {
        {"fe_bad_version", fe_bad_version, FE_DIR, "GET_FEATURES",
         "bad version"},
        {"fe_reply_flag", fe_reply_flag, FE_DIR, "GET_FEATURES", "REPLY"},
        {"fe_over_bound", fe_over_bound, FE_DIR, "SET_VRING_NUM", "16"},
        {"fe_over_4096", fe_over_4096, FE_DIR, "SET_VRING_NUM", "5000"},
        {"fe_under", fe_under, FE_DIR, "SET_VRING_NUM", "under"},
        {"fe_fd_on_fdless", fe_fd_on_fdless, FE_DIR, "GET_FEATURES", "1 fds"},
        {"fe_kick_without_fd", fe_kick_without_fd, FE_DIR, "SET_VRING_KICK",
         "0 fds"},
        {"fe_33_fds", fe_33_fds, FE_DIR, "SET_VRING_CALL", "fds"},
        {"fe_mem_table_9", fe_mem_table_9, FE_DIR, "SET_MEM_TABLE",
         "9 memory regions"},
        {"fe_config_mismatch", fe_config_mismatch, FE_DIR, "SET_CONFIG",
         "config bytes"},
        {"fe_backend_req_fd_not_socket", fe_backend_req_fd_not_socket, FE_DIR,
         "SET_BACKEND_REQ_FD", "not a socket"},
        {"fe_close_mid_payload", fe_close_mid_payload, FE_DIR, "SET_VRING_ADDR",
         "mid-message"},
        {"fe_close_mid_header", fe_close_mid_header, FE_DIR, NULL,
         "mid-message"},
        {"be_request_on_main", be_request_on_main, BE_DIR, "GET_FEATURES",
         "request"},
        {"be_unsolicited_reply", be_unsolicited_reply, BE_DIR, "GET_FEATURES",
         "nobody asked"},
        {"be_wrong_reply", be_wrong_reply, BE_DIR, "GET_PROTOCOL_FEATURES",
         "GET_FEATURES is owed"},
        {"be_bad_version", be_bad_version, BE_DIR, "GET_FEATURES",
         "bad version"},
        {"be_need_reply_on_reply", be_need_reply_on_reply, BE_DIR,
         "GET_FEATURES", "NEED_REPLY"},
        {"be_reply_over_bound", be_reply_over_bound, BE_DIR, "GET_FEATURES",
         "16"},
        {"be_reply_over_4096", be_reply_over_4096, BE_DIR, "GET_CONFIG",
         "5000"},
        {"be_reply_under", be_reply_under, BE_DIR, "GET_FEATURES", "under"},
        {"be_reply_fd_on_fdless", be_reply_fd_on_fdless, BE_DIR, "GET_FEATURES",
         "1 fds"},
        {"be_reply_33_fds", be_reply_33_fds, BE_DIR, "GET_INFLIGHT_FD", "fds"},
        {"be_close_mid_payload", be_close_mid_payload, BE_DIR, "GET_FEATURES",
         "mid-message"},
        {"bch_notifier_without_fd", bch_notifier_without_fd,
         BE_DIR " [backend-channel]", "BACKEND_VRING_HOST_NOTIFIER_MSG",
         "0 fds"},
        {"bch_be_reply_flag", bch_be_reply_flag, BE_DIR " [backend-channel]",
         "BACKEND_CONFIG_CHANGE_MSG", "REPLY"},
        {"bch_fe_unsolicited_reply", bch_fe_unsolicited_reply,
         FE_DIR " [backend-channel]", "BACKEND_IOTLB_MSG", "nobody asked"},
};

static void run_case(void **state)
{
	struct peer_fx *fx = *state;
	const struct bad_case *bc = fx->arg;
	PEER_OK(peer_fx_start(fx, "listen", "connect", NULL));
	struct ctx c = {0};
	struct peer *fe2, *be2;
	PEER_OK(peer_fx_session(fx, &c.fe, &c.be)); /* s1 */
	PEER_OK(peer_get_features(c.fe, c.be, 1));
	PEER_OK(peer_fx_session(fx, &fe2, &be2)); /* s2 */
	PEER_OK(peer_get_features(fe2, be2, 2));

	bc->inject(&c);

	/* s1 is closed: each peer still connected sees EOF. */
	if (!c.fe_gone)
		PEER_OK(peer_expect_eof(c.fe, PEER_TIMEOUT_MS));
	if (!c.be_gone)
		PEER_OK(peer_expect_eof(c.be, PEER_TIMEOUT_MS));
	if (c.fe_b)
		PEER_OK(peer_expect_eof(c.fe_b, PEER_TIMEOUT_MS));
	if (c.be_b)
		PEER_OK(peer_expect_eof(c.be_b, PEER_TIMEOUT_MS));
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS, "s1 closed", NULL));
	/* The error line; judged last, so that a bad line does not hide
	 * how the rest went. */
	bool line_ok;
	char why[4096] = "";
	if (bc->request)
		line_ok = vproc_has_line(&fx->vp, "error: ", "s1 ", bc->dir,
		                         bc->request, bc->what, NULL);
	else
		line_ok = vproc_has_line(&fx->vp, "error: ", "s1 ", bc->dir,
		                         bc->what, NULL);
	if (!line_ok)
		snprintf(why, sizeof(why), "%s", peer_error());

	/* s2 carries on. */
	PEER_OK(peer_get_features(fe2, be2, 3));
	assert_false(vproc_has_line(&fx->vp, "s2 closed", NULL));
	peer_free(fe2);
	peer_free(be2);
	peer_free(c.fe);
	peer_free(c.be);
	peer_free(c.fe_b);
	peer_free(c.be_b);
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 2 sessions (1 failed)");
	if (!line_ok)
		fail_msg("the session was closed and s2 went on, but the error "
		         "line is incomplete: %s",
		         why);
}

#define NCASES (sizeof(cases) / sizeof(cases[0]))

int main(void)
{
	struct CMUnitTest tests[NCASES];
	for (size_t i = 0; i < NCASES; i++) {
		struct CMUnitTest t =
		        PEER_TEST_ARG(cases[i].name, run_case, &cases[i]);
		tests[i] = t;
	}
	return _cmocka_run_group_tests("malformed", tests, NCASES, NULL, NULL);
}
