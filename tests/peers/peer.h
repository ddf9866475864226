/* peers: a minimal scripted vhost-user front-end and back-end for tests.
 *
 * Built on proto and channel, they produce what real peers (DPDK, QEMU)
 * never send: every request code, malformed headers, exact timings, byte-
 * by-byte writes.  A peer is one connection; the test plays both sides in
 * one thread and decides every byte.  vproc_* start the real vuproxy
 * binary (path in $VUPROXY) with its stderr in a log file the tests read.
 *
 * Every function returns 0 (or a count/fd) on success and a negative
 * value on failure, with a description in peer_error() for the test's
 * failure message.
 */
#ifndef VUP_TESTS_PEER_H
#define VUP_TESTS_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vuproxy/channel.h"
#include "vuproxy/proto.h"

#define PEER_TIMEOUT_MS 5000

/* The last failure of a peer_* or vproc_* call, for fail_msg(). */
const char *peer_error(void);
/* Record a failure (printf-style) and return rc. */
__attribute__((format(printf, 2, 3))) int peer_fail(int rc, const char *fmt,
                                                    ...);

/* Unique temporary directory (mkdtemp) for sockets and logs, and its
 * removal with everything in it (one level deep). */
int peer_tmpdir(char *out, size_t len);
void peer_rmtree(const char *dir);
/* Monotonic milliseconds, and sleeping for some. */
uint64_t peer_now_ms(void);
void peer_sleep_ms(unsigned ms);

/* Sockets.  All returned fds are blocking and close-on-exec. */
int peer_listen(const char *path, int backlog);
/* Wait up to timeout_ms for a connection.  fd or -ETIMEDOUT. */
int peer_accept(int listen_fd, int timeout_ms);
/* Connect, retrying while nobody listens yet (ENOENT, ECONNREFUSED). */
int peer_connect(const char *path, int timeout_ms);
/* One attempt, no retry: fd or -errno. */
int peer_connect_once(const char *path);

/* One connection and its inbound framing. */
struct peer {
	struct vup_channel ch;
	const char *name;         /* "fe", "be", ... for messages */
	struct peer *prev, *next; /* every live peer, for peer_free_all */
};

struct peer *peer_new(int fd, const char *name);
void peer_free(struct peer *p); /* closes the socket and held fds */
/* Free every peer still live (after a failed test). */
void peer_free_all(void);

/* Send one message: header and payload in one sendmsg with the fds on the
 * first byte; blocks until all is written.  The fds stay the caller's. */
int peer_send(struct peer *p, uint32_t request, uint32_t flags,
              const void *payload, uint32_t size, const int *fds,
              unsigned nfds);
/* Raw bytes with optional fds, all written (blocking); for malformed
 * input and split writes. */
int peer_send_raw(int fd, const void *buf, size_t len, const int *fds,
                  unsigned nfds);
/* Bytes one sendmsg at a time, `chunk` bytes each, pausing pause_ms in
 * between; fds go with the first chunk. */
int peer_send_split(int fd, const void *buf, size_t len, size_t chunk,
                    unsigned pause_ms, const int *fds, unsigned nfds);

/* Receive one message within timeout_ms into *m (which owns the fds
 * then; close them with peer_msg_close).  Returns 1 for a message,
 * VUP_CH_EOF on a clean EOF, -ETIMEDOUT, or another negative error. */
int peer_recv(struct peer *p, struct vup_msg *m, int timeout_ms);
void peer_msg_close(struct vup_msg *m);
/* Wait for EOF; 0 = EOF seen, <0 = timeout, a message or an error. */
int peer_expect_eof(struct peer *p, int timeout_ms);
/* Nothing arrives within ms: 0, else -1. */
int peer_expect_silence(struct peer *p, int ms);

/* Does m carry exactly this header, payload and as many fds? */
int peer_msg_equal(const struct vup_msg *m, uint32_t request, uint32_t flags,
                   const void *payload, uint32_t size, unsigned nfds);
/* Same file (st_dev, st_ino, file type)?  */
bool peer_same_file(int a, int b);

/* Relay a request from `from` to `to` and check it arrives identical with
 * the same files.  The fds stay the caller's. */
int peer_relay_check(struct peer *from, struct peer *to, uint32_t request,
                     uint32_t flags, const void *payload, uint32_t size,
                     const int *fds, unsigned nfds);
/* A GET_FEATURES round trip on the main channel: fe asks, be answers
 * `features`, both messages checked byte for byte. */
int peer_get_features(struct peer *fe, struct peer *be, uint64_t features);

/* The code of a request by catalogue name (aborts if there is none: the
 * tests name requests, they do not keep a second list of codes). */
uint32_t peer_code(const char *name);

/* A plausible payload for a request or reply of catalogue row t, of the
 * layout's usual size, with its structural fields consistent (region
 * counts, config size, NOFD clear).  Returns the size; *nfds receives
 * how many fds it should carry. */
uint32_t peer_plausible(const struct vup_msg_type *t, bool reply, uint8_t *buf,
                        size_t cap, unsigned *nfds);

/* The vuproxy binary under test. */
struct vproc {
	pid_t pid;
	int status; /* wait status once exited */
	bool exited;
	char log[256];
};

/* Start $VUPROXY with args (NULL-terminated), stderr and stdout to
 * log_path.  Dies with its parent. */
int vproc_start(struct vproc *v, const char *log_path, const char *const *args);
/* Wait for the process to exit by itself.  0 with v->status set, or
 * -ETIMEDOUT. */
int vproc_wait(struct vproc *v, int timeout_ms);
/* SIGTERM and wait.  Returns the exit code (0..255), or -1 if it was
 * killed by a signal or did not stop in time (then it is SIGKILLed). */
int vproc_stop(struct vproc *v, int timeout_ms);
/* SIGKILL if still running (teardown after a failed test). */
void vproc_kill(struct vproc *v);
/* The whole log so far (malloc'd, NUL-terminated; "" if none). */
char *vproc_log(const struct vproc *v);
/* Wait until a line of the log contains every one of the NULL-terminated
 * needles.  0 or -ETIMEDOUT (peer_error quotes the log). */
__attribute__((sentinel)) int vproc_wait_line(const struct vproc *v,
                                              int timeout_ms, ...);
/* The same, without waiting: does such a line exist now? */
__attribute__((sentinel)) bool vproc_has_line(const struct vproc *v, ...);
/* The last ~3 KB of the log, for failure messages (a static buffer). */
const char *vproc_log_tail(const struct vproc *v);
/* Run `$VUPROXY ctl SOCK ARGS...` (NULL-terminated): its stdout, then
 * its stderr, in out; its exit status (-1 if it did not exit). */
__attribute__((sentinel)) int vproc_ctl(const char *sock, char *out, size_t cap,
                                        ...);
/* The number of times needle occurs in the log. */
unsigned vproc_count(const struct vproc *v, const char *needle);
/* Wait until needle occurs at least n times.  0 or -ETIMEDOUT. */
int vproc_wait_count(const struct vproc *v, const char *needle, unsigned n,
                     int timeout_ms);
/* VmRSS of the process in KiB, or 0. */
unsigned long vproc_rss_kib(const struct vproc *v);

/* A test's world: a temporary directory, socket paths, our listeners
 * (for vuproxy's connect roles) and the vuproxy process. */
struct peer_fx {
	char dir[128];
	char fe_path[192], be_path[192], log_path[192];
	int fe_listen, be_listen; /* ours, -1 if none */
	struct vproc vp;
	bool started;
	const void *arg; /* the test's initial_state, for table-driven tests */
};

int peer_fx_init(struct peer_fx *fx);
/* Start vuproxy with --frontend FE_ROLE:fe_path --backend BE_ROLE:be_path
 * (roles "listen"/"connect" as vuproxy sees them) and the NULL-terminated
 * extra args.  Opens our listener first for each side vuproxy connects
 * to, and waits until vuproxy listens on each side it accepts on. */
int peer_fx_start(struct peer_fx *fx, const char *fe_role, const char *be_role,
                  const char *const *extra);
/* With vuproxy as --frontend listen --backend connect: connect a
 * front-end, accept the back-end connection vuproxy makes for it. */
int peer_fx_session(struct peer_fx *fx, struct peer **fe, struct peer **be);
/* SIGTERM vuproxy; 0 if it exited with status 0 and printed its counts
 * line, else -1. */
int peer_fx_stop(struct peer_fx *fx);
/* Kill vuproxy if still running, close our listeners, remove the dir. */
void peer_fx_fini(struct peer_fx *fx);

#endif
