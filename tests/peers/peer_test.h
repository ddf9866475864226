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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

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

#define PEER_TEST(f)                                                           \
	cmocka_unit_test_setup_teardown(f, peer_setup, peer_teardown)
/* A table-driven test: fx->arg = arg. */
#define PEER_TEST_ARG(name, f, arg)                                            \
	{                                                                      \
		name, f, peer_setup, peer_teardown, (void *)(arg)              \
	}

#endif
