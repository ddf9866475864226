/* peer_test: cmocka glue shared by the peer tests: a fixture per test
 * (temp dir, vuproxy process) and PEER_OK(), which fails the test with
 * the peer library's description of what went wrong. */
#ifndef VUP_TESTS_PEER_TEST_H
#define VUP_TESTS_PEER_TEST_H

// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "peer.h"

#define PEER_OK(expr)                                                          \
	do {                                                                   \
		int peer_rc_ = (expr);                                         \
		if (peer_rc_ < 0)                                              \
			fail_msg("%s (%d): %s", #expr, peer_rc_,               \
			         peer_error());                                \
	} while (0)

/* A log line holding every needle must exist (NULL-terminated list). */
#define PEER_LOG(fx, ...)                                                      \
	do {                                                                   \
		if (!vproc_has_line(&(fx)->vp, __VA_ARGS__, NULL))             \
			fail_msg("%s", peer_error());                          \
	} while (0)

static inline int peer_setup(void **state)
{
	signal(SIGPIPE, SIG_IGN);
	struct peer_fx *fx = calloc(1, sizeof(*fx));
	if (!fx || peer_fx_init(fx) < 0) {
		free(fx);
		return -1;
	}
	fx->arg = *state; /* cmocka's initial_state */
	*state = fx;
	return 0;
}

static inline int peer_teardown(void **state)
{
	struct peer_fx *fx = *state;
	int rc = 0;
	if (fx) {
		/* A sanitizer report in vuproxy's log fails the test even
		 * when the test itself ended early. */
		if (fx->started && (vproc_count(&fx->vp, "Sanitizer") ||
		                    vproc_count(&fx->vp, "runtime error:"))) {
			print_error("vuproxy reported a sanitizer error:\n%s\n",
			            vproc_log_tail(&fx->vp));
			rc = -1;
		}
		peer_fx_fini(fx);
		free(fx);
	}
	return rc;
}

/* Both ends of the relayed back-end channel, as the peers see them. */
struct peer_bch {
	struct peer *fe; /* the front-end's end of its socketpair */
	struct peer *be; /* what the back-end received */
};

/* fe hands the back-end a channel through vuproxy (SET_BACKEND_REQ_FD,
 * interposed); returns both ends, checked. */
static inline struct peer_bch peer_open_bch(struct peer *fe, struct peer *be,
                                            bool need_reply)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
	                 0);
	uint32_t flags = VUP_FLAG_VERSION;
	if (need_reply)
		flags |= VUP_FLAG_NEED_REPLY;
	uint32_t code = peer_code("SET_BACKEND_REQ_FD");
	PEER_OK(peer_send(fe, code, flags, NULL, 0, &sv[1], 1));
	struct vup_msg m;
	PEER_OK(peer_recv(be, &m, PEER_TIMEOUT_MS));
	PEER_OK(peer_msg_equal(&m, code, flags, NULL, 0, 1));
	close(sv[1]); /* as QEMU does once sent */
	struct stat st;
	assert_int_equal(fstat(m.fds[0], &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	/* Interposed: not the front-end's socket, nor its peer. */
	assert_false(peer_same_file(sv[0], m.fds[0]));
	/* The back-end gets a blocking socket, as from a real front-end. */
	assert_int_equal(fcntl(m.fds[0], F_GETFL) & O_NONBLOCK, 0);
	if (need_reply) {
		uint64_t ack = 0;
		PEER_OK(peer_relay_check(be, fe, code,
		                         VUP_FLAG_VERSION | VUP_FLAG_REPLY,
		                         &ack, 8, NULL, 0));
	}
	struct peer_bch b = {peer_new(sv[0], "fe-bch"),
	                     peer_new(m.fds[0], "be-bch")};
	m.nfds = 0;
	return b;
}

static inline void peer_close_bch(struct peer_bch *b)
{
	peer_free(b->fe);
	peer_free(b->be);
	b->fe = b->be = NULL;
}

#define PEER_TEST(f)                                                           \
	cmocka_unit_test_setup_teardown(f, peer_setup, peer_teardown)
/* A table-driven test: fx->arg = arg. */
#define PEER_TEST_ARG(name, f, arg)                                            \
	{                                                                      \
		name, f, peer_setup, peer_teardown, (void *)(arg)              \
	}

#endif
