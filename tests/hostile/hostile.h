/* hostile: the harness of the hostile-peer suite, on top of tests/peers.
 *
 * A test talks to one vuproxy, which is either
 *   - its own, started per test by the fixture: --frontend listen
 *     --backend connect -w TRACE (the scripted back-end accepts), or
 *   - an external one named by the environment (HOSTILE_FE_SOCK,
 *     HOSTILE_BE_SOCK, HOSTILE_LOG, HOSTILE_TRACE, HOSTILE_PID), started
 *     by dpdk_hostile.sh with --frontend listen --backend listen and
 *     already carrying a DPDK testpmd session: the scripted back-end then
 *     connects to vuproxy's back-end listener and is paired with the
 *     scripted front-end, so no hostile byte ever reaches testpmd.
 *
 * Sessions are discovered, not assumed (the external vuproxy numbers
 * them), and each remembers the records its trace must hold: every
 * message vuproxy received before the fault, in order.
 */
#ifndef VUP_TESTS_HOSTILE_H
#define VUP_TESTS_HOSTILE_H

#include "peer_test.h"

#define FE_DIR "front-end>back-end"
#define BE_DIR "back-end>front-end"
#define V      VUP_FLAG_VERSION
#define R      VUP_FLAG_REPLY
#define NR     VUP_FLAG_NEED_REPLY

/* One message as the trace must show it. */
struct hrec {
	enum vup_chan chan;
	enum vup_side from;
	uint32_t code;
	bool reply;
	char action[16];    /* "pass", "refused", ... */
	char mark[32];      /* the trace's mark starts with this kind ("fds");
	                       "" = the record must carry no mark */
	char fdkinds[64];   /* "memfd,eventfd" or "" when not checked */
	uint64_t fdsize[4]; /* sizes of the first fds, when fdkinds set */
};

#define HS_MAX_REC 1100 /* fe_reserved_flags_flood: 1000 and more */

/* A scripted session through vuproxy. */
struct hsess {
	struct peer *fe, *be;     /* main channel */
	struct peer *fe_b, *be_b; /* back-end channel, if opened */
	unsigned id;              /* vuproxy's session number */
	struct hrec rec[HS_MAX_REC];
	unsigned nrec;
	bool overflow; /* more records than rec[] holds: not checked */
};

/* cmocka fixture: peer_setup plus the external vuproxy, if any. */
int hx_setup(void **state);
int hx_teardown(void **state);
bool hx_external(void);

/* Extra arguments for every vuproxy the tests start (from main's argv). */
void hx_args(const char *const *args, int n);
/* Was --tap among them?  --strict? */
bool hx_tap(void);
bool hx_strict(void);
/* Start vuproxy (own mode; extra args NULL-terminated, may be NULL) or
 * attach to the external one. */
int hx_start(struct peer_fx *fx, const char *const *extra);
/* The same with -w trace (NULL: TMPDIR/trace.pcapng.gz); own mode only. */
int hx_start_w(struct peer_fx *fx, const char *trace, const char *const *extra);
/* Own mode: SIGTERM, exit 0 and a summary line holding `summary`.
 * External mode: nothing (the script stops vuproxy). */
int hx_stop(struct peer_fx *fx, const char *summary);
const char *hx_trace_path(const struct peer_fx *fx);

/* Open a session (front-end and back-end peers paired by vuproxy), do a
 * GET_FEATURES round trip and learn its number from the log. */
int hs_open(struct peer_fx *fx, struct hsess *s);
/* The same without learning its number (s->id stays 0): cheaper. */
int hs_open_anon(struct peer_fx *fx, struct hsess *s);
/* The newest session whose front-end vuproxy accepted, from the log. */
unsigned hx_newest_session(const struct peer_fx *fx);
/* Free the peers of a session. */
void hs_free(struct hsess *s);
/* from sends, the other side receives it unchanged with the same files;
 * the record is expected in the trace with action "pass". */
int hs_relay(struct hsess *s, enum vup_side from, enum vup_chan chan,
             uint32_t code, uint32_t flags, const void *payload, uint32_t size,
             const int *fds, unsigned nfds);
/* Add an expected record; returns it for fd details. */
struct hrec *hs_expect(struct hsess *s, enum vup_chan chan, enum vup_side from,
                       uint32_t code, bool reply, const char *action);
/* Open the back-end channel of s (SET_BACKEND_REQ_FD relayed). */
int hs_open_bch(struct hsess *s);
/* GET_FEATURES round trip on the witness: it still flows. */
int hs_alive(struct hsess *s, uint64_t features);
/* The front-end hangs up; the back-end must see EOF and vuproxy log
 * "sN closed: front-end hung up" with no error line for sN. */
int hs_close_clean(struct peer_fx *fx, struct hsess *s);

/* vuproxy's trace for session s (vuproxy dump --json --session N) must
 * hold exactly s->rec in order.  The trace may be live (dump exit 2). */
int hs_check_trace(const struct peer_fx *fx, const struct hsess *s);
/* Records of session id in the trace (-1 on error); with code set, only
 * those of that request. */
long hx_trace_count(const struct peer_fx *fx, unsigned id, const char *request);

/* vuproxy dump --json [--session id] [--request R] on the trace, all
 * of it: records seen (each(line) per record), exit status in *code,
 * stderr in err. */
long hx_dump(const struct peer_fx *fx, unsigned id, const char *request,
             void (*each)(const char *line, void *arg), void *arg, int *code,
             char *err, size_t errlen);

/* vuproxy's open fds (/proc/PID/fd), or -1. */
int hx_nfds(const struct peer_fx *fx);
/* Wait (up to 2 s) until vuproxy holds want fds again; the last count. */
int hx_wait_nfds(const struct peer_fx *fx, int want);
/* Wait for "sN closed" in the log. */
int hx_wait_closed(const struct peer_fx *fx, unsigned id);
/* Does a log line hold "error: sN " and each needle? */
__attribute__((sentinel)) bool hx_error_line(const struct peer_fx *fx,
                                             unsigned id, ...);

/* Helpers for the cases. */
int hx_memfd(size_t size);
void hx_hdr(uint8_t *buf, uint32_t req, uint32_t flags, uint32_t size);

#endif
