/* guard: reads of guest memory that survive the front-end truncating a
 * region's file under vuproxy's mapping.  See guard.h. */
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "guard.h"

/* The front-end keeps its own fd of every region and may truncate the
 * file after vuproxy mapped it: reading the pages it cut off raises
 * SIGBUS, which would kill the proxy and every session with it.  Reads of
 * guest memory go through this guard: SIGBUS during one makes the read
 * fail (the ring reader counts it), any other SIGBUS keeps its default
 * action.  SA_NODEFER and sigsetjmp without the mask: no system call per
 * read, and SIGBUS is not left blocked after the jump. */
static _Thread_local sigjmp_buf *volatile guard_jmp;

/* The handler that was there before ours: SIGBUS outside a guarded read
 * goes to it (a test framework's, a sanitizer's, or the default). */
static struct sigaction prev;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	sigjmp_buf *j = guard_jmp;
	if (j) {
		guard_jmp = NULL;
		siglongjmp(*j, 1);
	}
	if (prev.sa_flags & SA_SIGINFO) {
		prev.sa_sigaction(sig, si, uc);
		return;
	}
	if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
		prev.sa_handler(sig);
		return;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Installed before each mapping, unless already in place: whoever set a
 * SIGBUS handler since (cmocka does per test) is chained to. */
void vup__guard_install(void)
{
	struct sigaction cur;
	if (sigaction(SIGBUS, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
	    cur.sa_sigaction == on_sigbus)
		return;
	struct sigaction sa = {0};
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &prev);
}

bool vup__guarded_copy(void *dst, const void *src, size_t n)
{
	sigjmp_buf jb;
	if (sigsetjmp(jb, 0))
		return false; /* the file was cut under the mapping */
	guard_jmp = &jb;
	memcpy(dst, src, n);
	guard_jmp = NULL;
	return true;
}
