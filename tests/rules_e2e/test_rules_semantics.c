/* What rules do to a session, checked with our own scripted peers (exact
 * timings, pipelined requests, fds we can watch) against the real vuproxy
 * binary:
 *
 * - a delay holds back every later message of that direction of that
 *   session, in order, and nothing else: the other direction of the same
 *   session and a second session keep their round trips fast;
 * - a dropped message's fds are closed in vuproxy (a pipe sent as the
 *   call fd reports EOF once our own copy is closed; vuproxy's fd count
 *   does not grow), and `first: 1` drops only the first;
 * - a dropped request that expected a reply does not make vuproxy kill
 *   the session when later replies arrive, neither when it was the only
 *   request awaiting a reply nor when an earlier one of the same kind is
 *   still awaiting its ack;
 * - SIGHUP with a valid new file changes the decision for the very next
 *   message; SIGHUP with a broken file keeps the old rules and logs the
 *   error as file:line:col;
 * - every message a rule touched carries the rule's name and action in
 *   the trace (`vuproxy dump --json`), untouched ones none; a rewritten
 *   message is recorded as received and as sent, and the text dump shows
 *   both;
 * - fail answers with vuproxy's own error reply: GET_CONFIG with an empty
 *   reply, an acked request with an ack of 1 or of the rule's value.
 *
 * Needs $VUPROXY and jq (the trace checks); label rules_e2e.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "peer_test.h"

#define V  VUP_FLAG_VERSION
#define R  VUP_FLAG_REPLY
#define NR VUP_FLAG_NEED_REPLY

/* Fast: what a relayed round trip may take on a loaded 2-core machine
 * (testpmd may be busy-polling both cores); well below the 2 s delay a
 * held message waits. */
#define FAST_MS 1000

static void write_file(const char *path, const char *text)
{
	char tmp[256];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static void rules_path(const struct peer_fx *fx, char *out, size_t len)
{
	snprintf(out, len, "%s/rules.yaml", fx->dir);
}

/* Start vuproxy (front-end listen, back-end connect) with -v, -r RULES
 * written from text, -w DIR/trace.pcapng.gz. */
static void start_with_rules(struct peer_fx *fx, const char *text)
{
	static char rp[256], tp[256];
	rules_path(fx, rp, sizeof(rp));
	snprintf(tp, sizeof(tp), "%s/trace.pcapng.gz", fx->dir);
	write_file(rp, text);
	const char *extra[] = {"-v", "-r", rp, "-w", tp, NULL};
	PEER_OK(peer_fx_start(fx, "listen", "connect", extra));
}

static struct vup_msg *msg_new(void)
{
	struct vup_msg *m = calloc(1, sizeof(*m));
	assert_non_null(m);
	return m;
}

/* Receive one message and check it; returns its arrival time (ms). */
static uint64_t expect_msg(struct peer *p, uint32_t request, uint32_t flags,
                           const void *payload, uint32_t size, unsigned nfds,
                           int timeout_ms)
{
	struct vup_msg *m = msg_new();
	PEER_OK(peer_recv(p, m, timeout_ms));
	uint64_t t = peer_now_ms();
	int rc = peer_msg_equal(m, request, flags, payload, size, nfds);
	peer_msg_close(m);
	free(m);
	PEER_OK(rc);
	return t;
}

static unsigned count_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	unsigned n = 0;
	for (int fd = 0; fd < 4096; fd++) {
		char p[96];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%d", path, fd);
		if (lstat(p, &st) == 0)
			n++;
	}
	return n;
}

/* --- a delay holds back its direction, in order, and nothing else --- */

static void delay_holds_its_direction_only(void **state)
{
	struct peer_fx *fx = *state;
	start_with_rules(fx, "rules:\n"
	                     "  - name: slow-num-7\n"
	                     "    match:\n"
	                     "      request: SET_VRING_NUM\n"
	                     "      fields: {num: 7}\n"
	                     "    action: {delay: 2000ms}\n");
	struct peer *fe1, *be1, *fe2, *be2;
	PEER_OK(peer_fx_session(fx, &fe1, &be1));
	PEER_OK(peer_fx_session(fx, &fe2, &be2));
	uint32_t num = peer_code("SET_VRING_NUM"),
	         base = peer_code("SET_VRING_BASE"),
	         call = peer_code("SET_VRING_CALL"),
	         gf = peer_code("GET_FEATURES");

	/* s1: a request whose reply will travel back while the front-end's
	 * direction is held. */
	PEER_OK(peer_send(fe1, gf, V, NULL, 0, NULL, 0));
	expect_msg(be1, gf, V, NULL, 0, 0, PEER_TIMEOUT_MS);

	/* s1: the delayed message, then three more behind it. */
	uint32_t p7[2] = {0, 7}, p8[2] = {1, 8}, pb[2] = {0, 9};
	uint64_t callidx = 1;
	int efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	uint64_t t0 = peer_now_ms();
	PEER_OK(peer_send(fe1, num, V, p7, 8, NULL, 0));
	PEER_OK(peer_send(fe1, num, V, p8, 8, NULL, 0));
	PEER_OK(peer_send(fe1, base, V, pb, 8, NULL, 0));
	PEER_OK(peer_send(fe1, call, V, &callidx, 8, &efd, 1));

	/* The other direction of s1 flows: the back-end's reply comes back
	 * at once. */
	uint64_t feats = 0x140000000ull;
	uint64_t t1 = peer_now_ms();
	PEER_OK(peer_send(be1, gf, V | R, &feats, 8, NULL, 0));
	uint64_t t2 = expect_msg(fe1, gf, V | R, &feats, 8, 0, FAST_MS);
	print_message("s1 back-end>front-end reply while s1's front-end "
	              "direction is held: %llu ms\n",
	              (unsigned long long)(t2 - t1));

	/* Another session's round trips and requests stay fast. */
	for (int i = 0; i < 3; i++) {
		uint64_t a = peer_now_ms();
		PEER_OK(peer_get_features(fe2, be2, 0x100000000ull + i));
		uint32_t p5[2] = {0, 5};
		PEER_OK(peer_relay_check(fe2, be2, num, V, p5, 8, NULL, 0));
		uint64_t b = peer_now_ms();
		print_message("s2 round trip + request while s1 is held: "
		              "%llu ms\n",
		              (unsigned long long)(b - a));
		if (b - a > FAST_MS)
			fail_msg("s2 took %llu ms while s1 was held",
			         (unsigned long long)(b - a));
	}

	/* Nothing of s1's held direction arrives early... */
	uint64_t now = peer_now_ms();
	if (now - t0 < 1800)
		PEER_OK(peer_expect_silence(be1, (int)(1800 - (now - t0))));
	/* ...then all of it, in order, the first no sooner than 1.5 s. */
	uint64_t a7 = expect_msg(be1, num, V, p7, 8, 0, PEER_TIMEOUT_MS);
	if (a7 - t0 < 2000)
		fail_msg("the delayed message arrived after %llu ms, < 2000",
		         (unsigned long long)(a7 - t0));
	uint64_t a8 = expect_msg(be1, num, V, p8, 8, 0, FAST_MS);
	expect_msg(be1, base, V, pb, 8, 0, FAST_MS);
	struct vup_msg *m = msg_new();
	PEER_OK(peer_recv(be1, m, FAST_MS));
	PEER_OK(peer_msg_equal(m, call, V, &callidx, 8, 1));
	assert_true(peer_same_file(efd, m->fds[0]));
	peer_msg_close(m);
	free(m);
	close(efd);
	print_message("held messages arrived %llu ms (num=7) and %llu ms "
	              "(num=8) after they were sent, in order\n",
	              (unsigned long long)(a7 - t0),
	              (unsigned long long)(a8 - t0));
	PEER_OK(peer_expect_silence(be1, 50));
	/* Round trips of s1 work again. */
	PEER_OK(peer_get_features(fe1, be1, 3));
	PEER_LOG(fx, "s1 front-end>back-end SET_VRING_NUM", "num=7",
	         "[delay 2000 ms: rule slow-num-7]");

	peer_free(fe1);
	peer_free(fe2);
	PEER_OK(peer_expect_eof(be1, PEER_TIMEOUT_MS));
	PEER_OK(peer_expect_eof(be2, PEER_TIMEOUT_MS));
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 2 sessions (0 failed)");
}

/* --- a dropped message's fds are closed --- */

static void drop_closes_fds(void **state)
{
	struct peer_fx *fx = *state;
	start_with_rules(fx, "rules:\n"
	                     "  - name: lose-first-call\n"
	                     "    match: {request: SET_VRING_CALL}\n"
	                     "    when: {first: 1}\n"
	                     "    action: drop\n");
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	PEER_OK(peer_get_features(fe, be, 1));
	unsigned fds0 = count_fds(fx->vp.pid);
	uint32_t call = peer_code("SET_VRING_CALL");

	/* The first call fd is a pipe's write end: once vuproxy closes its
	 * copy (and we ours), the read end sees EOF. */
	int pfd[2];
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	uint64_t idx0 = 0;
	PEER_OK(peer_send(fe, call, V, &idx0, 8, &pfd[1], 1));
	close(pfd[1]);
	struct pollfd p = {.fd = pfd[0], .events = POLLIN};
	int n = poll(&p, 1, PEER_TIMEOUT_MS);
	if (n != 1 || !(p.revents & POLLHUP))
		fail_msg("the dropped message's fd is still open somewhere "
		         "(poll %d, revents 0x%x): vuproxy did not close it",
		         n, p.revents);
	char c;
	assert_int_equal(read(pfd[0], &c, 1), 0);
	close(pfd[0]);
	unsigned fds1 = count_fds(fx->vp.pid);
	if (fds1 != fds0)
		fail_msg("vuproxy had %u fds before the drop, %u after", fds0,
		         fds1);

	/* The second is relayed with its fd; the dropped one never comes. */
	int efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	uint64_t idx1 = 1;
	PEER_OK(peer_relay_check(fe, be, call, V, &idx1, 8, &efd, 1));
	close(efd);
	PEER_OK(peer_expect_silence(be, 100));
	PEER_LOG(fx, "SET_VRING_CALL index=0", "[drop: rule lose-first-call]");

	peer_free(fe);
	PEER_OK(peer_expect_eof(be, PEER_TIMEOUT_MS));
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 1 sessions (0 failed)");
}

/* --- a dropped request that expected a reply --- */

static void dropped_request_then_replies(void **state)
{
	struct peer_fx *fx = *state;
	start_with_rules(fx, "rules:\n"
	                     "  - name: lose-first-get-features\n"
	                     "    match: {request: GET_FEATURES}\n"
	                     "    when: {nth: 1}\n"
	                     "    action: drop\n");
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	uint32_t gf = peer_code("GET_FEATURES"),
	         gpf = peer_code("GET_PROTOCOL_FEATURES");
	/* Dropped: the back-end never sees it, no reply will come. */
	PEER_OK(peer_send(fe, gf, V, NULL, 0, NULL, 0));
	PEER_OK(peer_expect_silence(be, 200));
	/* Later requests and their replies are relayed; the session
	 * lives. */
	uint64_t pf = 0x8;
	PEER_OK(peer_relay_check(fe, be, gpf, V, NULL, 0, NULL, 0));
	PEER_OK(peer_relay_check(be, fe, gpf, V | R, &pf, 8, NULL, 0));
	PEER_OK(peer_get_features(fe, be, 0x140000000ull));
	PEER_OK(peer_get_features(fe, be, 0x140000001ull));
	PEER_LOG(fx, "s1 front-end>back-end GET_FEATURES",
	         "[drop: rule lose-first-get-features]");
	char *log = vproc_log(&fx->vp);
	bool killed = strstr(log, "closing session") != NULL;
	free(log);
	if (killed)
		fail_msg("vuproxy closed the session:\n%s",
		         vproc_log_tail(&fx->vp));
	peer_free(fe);
	PEER_OK(peer_expect_eof(be, PEER_TIMEOUT_MS));
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 1 sessions (0 failed)");
}

/* A request of the same kind is awaiting its ack (REPLY_ACK, NEED_REPLY)
 * when another one, which expects no reply, is dropped (or failed: no
 * reply is owed, so vuproxy makes none and forwards nothing): the ack that
 * then arrives is still expected and reaches the front-end.  fx->arg: the
 * action, "drop" or "fail". */
static void dropped_request_while_same_kind_awaits_ack(void **state)
{
	struct peer_fx *fx = *state;
	const char *action = fx->arg;
	char rules[512];
	snprintf(rules, sizeof(rules),
	         "rules:\n"
	         "  - name: lose-disable\n"
	         "    match:\n"
	         "      request: SET_VRING_ENABLE\n"
	         "      fields: {enable: 0}\n"
	         "    action: %s\n",
	         action);
	start_with_rules(fx, rules);
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	uint32_t spf = peer_code("SET_PROTOCOL_FEATURES"),
	         en = peer_code("SET_VRING_ENABLE");
	uint64_t reply_ack = 1ull << VUP_PF_REPLY_ACK;
	PEER_OK(peer_relay_check(fe, be, spf, V, &reply_ack, 8, NULL, 0));
	uint32_t on[2] = {0, 1}, off[2] = {1, 0};
	PEER_OK(peer_relay_check(fe, be, en, V | NR, on, 8, NULL, 0));
	/* Pipelined before the ack: dropped. */
	PEER_OK(peer_send(fe, en, V, off, 8, NULL, 0));
	PEER_OK(peer_expect_silence(be, 200));
	char note[64];
	snprintf(note, sizeof(note), "[%s: rule lose-disable]", action);
	PEER_LOG(fx, "SET_VRING_ENABLE index=1 enable=0", note);
	uint64_t ack = 0;
	if (peer_relay_check(be, fe, en, V | R, &ack, 8, NULL, 0) < 0 ||
	    peer_get_features(fe, be, 0x140000000ull) < 0 ||
	    vproc_has_line(&fx->vp, "closing session", NULL))
		fail_msg("the ack of the first SET_VRING_ENABLE did not reach "
		         "the front-end, or vuproxy closed the session (%s); "
		         "vuproxy's log:\n%s",
		         peer_error(), vproc_log_tail(&fx->vp));
	peer_free(fe);
	PEER_OK(peer_expect_eof(be, PEER_TIMEOUT_MS));
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 1 sessions (0 failed)");
}

/* --- the replies `fail` makes --- */

/* GET_CONFIG gets its error form, a reply of size 0; an acked request
 * (NEED_REPLY with REPLY_ACK) an ack of 1 by default, or of the rule's value;
 * the back-end sees none of them. */
static void fail_reply_forms(void **state)
{
	struct peer_fx *fx = *state;
	start_with_rules(fx, "rules:\n"
	                     "  - name: no-config\n"
	                     "    match: {request: GET_CONFIG}\n"
	                     "    action: fail\n"
	                     "  - name: no-enable\n"
	                     "    match: {request: SET_VRING_ENABLE}\n"
	                     "    action: fail\n"
	                     "  - name: no-num\n"
	                     "    match: {request: SET_VRING_NUM}\n"
	                     "    action: {fail: 9}\n");
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	uint64_t pf = (1ull << VUP_PF_REPLY_ACK) | (1ull << VUP_PF_CONFIG);
	PEER_OK(peer_relay_check(fe, be, peer_code("SET_PROTOCOL_FEATURES"), V,
	                         &pf, 8, NULL, 0));
	uint8_t cfg[VUP_MAX_PAYLOAD];
	unsigned nfds;
	const struct vup_msg_type *t = vup_proto_by_name("GET_CONFIG");
	uint32_t size = peer_plausible(t, false, cfg, sizeof(cfg), &nfds);
	PEER_OK(peer_send(fe, t->code, V, cfg, size, NULL, 0));
	expect_msg(fe, t->code, V | R, NULL, 0, 0, PEER_TIMEOUT_MS);
	uint32_t en = peer_code("SET_VRING_ENABLE"),
	         num = peer_code("SET_VRING_NUM");
	uint32_t pe[2] = {0, 1}, pn[2] = {0, 256};
	uint64_t one = 1, nine = 9;
	PEER_OK(peer_send(fe, en, V | NR, pe, 8, NULL, 0));
	expect_msg(fe, en, V | R, &one, 8, 0, PEER_TIMEOUT_MS);
	PEER_OK(peer_send(fe, num, V | NR, pn, 8, NULL, 0));
	expect_msg(fe, num, V | R, &nine, 8, 0, PEER_TIMEOUT_MS);
	PEER_OK(peer_expect_silence(be, 100));
	PEER_OK(peer_expect_silence(fe, 1));
	PEER_LOG(fx, "back-end>front-end GET_CONFIG reply (0 B, 0 fds)",
	         "[made by vuproxy]");
	PEER_OK(peer_get_features(fe, be, 1));
	peer_free(fe);
	PEER_OK(peer_expect_eof(be, PEER_TIMEOUT_MS));
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 1 sessions (0 failed)");
}

/* --- SIGHUP --- */

static void sighup_reload(void **state)
{
	struct peer_fx *fx = *state;
	start_with_rules(fx, "rules:\n"
	                     "  - name: drop-num\n"
	                     "    match: {request: SET_VRING_NUM}\n"
	                     "    action: drop\n");
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	uint32_t num = peer_code("SET_VRING_NUM");
	uint32_t p1[2] = {0, 1}, p2[2] = {0, 2}, p3[2] = {0, 3};
	PEER_OK(peer_send(fe, num, V, p1, 8, NULL, 0));
	PEER_OK(peer_expect_silence(be, 200));

	/* A valid new file: the very next message is decided by it. */
	char rp[256];
	rules_path(fx, rp, sizeof(rp));
	write_file(rp, "rules:\n"
	               "  - name: see-num\n"
	               "    match: {request: SET_VRING_NUM}\n"
	               "    action: log\n");
	assert_int_equal(kill(fx->vp.pid, SIGHUP), 0);
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS,
	                        "SIGHUP: 1 rules loaded from", rp, NULL));
	PEER_OK(peer_relay_check(fe, be, num, V, p2, 8, NULL, 0));
	PEER_LOG(fx, "SET_VRING_NUM", "num=2", "[log: rule see-num]");

	/* A broken file (unknown key at line 4, column 5): the old rules
	 * stay, the error names file:line:col. */
	write_file(rp, "rules:\n"
	               "  - name: drop-num\n"
	               "    match: {request: SET_VRING_NUM}\n"
	               "    acton: drop\n");
	assert_int_equal(kill(fx->vp.pid, SIGHUP), 0);
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS, "SIGHUP: ", rp,
	                        "is not valid; the previous rules stay", NULL));
	char where[300];
	snprintf(where, sizeof(where), "%s:4:5: ", rp);
	PEER_LOG(fx, where, "acton");
	PEER_OK(peer_relay_check(fe, be, num, V, p3, 8, NULL, 0));
	PEER_LOG(fx, "SET_VRING_NUM", "num=3", "[log: rule see-num]");

	peer_free(fe);
	PEER_OK(peer_expect_eof(be, PEER_TIMEOUT_MS));
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 1 sessions (0 failed)");
}

/* --- the trace marks every touched message --- */

/* Run a shell command, return its stdout (malloc'd). */
static char *run(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t cap = 65536, len = 0, n;
	char *buf = malloc(cap);
	assert_non_null(buf);
	while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (len + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
	}
	buf[len] = '\0';
	int st = pclose(p);
	if (st != 0)
		fail_msg("'%s' failed (status 0x%x), output:\n%s", cmd, st,
		         buf);
	return buf;
}

/* What `vuproxy dump TRACE ARGS` prints of the fixture's trace, through
 * `jq -r FILTER` when a filter is given. */
static char *trace_query(const struct peer_fx *fx, const char *args,
                         const char *filter)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "'%s' dump '%s/trace.pcapng.gz' %s%s%s%s",
	         getenv("VUPROXY"), fx->dir, args, filter ? " | jq -r '" : "",
	         filter ? filter : "", filter ? "'" : "");
	return run(cmd);
}

/* One line per record: request reply from action rule as_sent. */
#define RECORD_LINE                                                            \
	"\"\\(.request) \\(.reply) \\(.from) \\(.action) \\(.rule) "           \
	"\\(.as_sent)\""

static void trace_marks_touched_messages(void **state)
{
	struct peer_fx *fx = *state;
	start_with_rules(fx,
	                 "rules:\n"
	                 "  - name: mark-proto\n"
	                 "    match: {request: GET_PROTOCOL_FEATURES, reply: "
	                 "false}\n"
	                 "    action: log\n"
	                 "  - name: hide-packed\n"
	                 "    match: {request: GET_FEATURES, reply: true}\n"
	                 "    action: {rewrite: {clear_features: "
	                 "[VIRTIO_F_RING_PACKED]}}\n"
	                 "  - name: slow-num\n"
	                 "    match: {request: SET_VRING_NUM}\n"
	                 "    action: {delay: 100ms}\n"
	                 "  - name: lose-base\n"
	                 "    match: {request: SET_VRING_BASE}\n"
	                 "    action: drop\n"
	                 "  - name: refuse-enable\n"
	                 "    match: {request: SET_VRING_ENABLE}\n"
	                 "    action: {fail: 7}\n"
	                 "  - name: cut-at-owner\n"
	                 "    match: {request: SET_OWNER}\n"
	                 "    action: {disconnect: both}\n");
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	uint32_t gpf = peer_code("GET_PROTOCOL_FEATURES"),
	         spf = peer_code("SET_PROTOCOL_FEATURES"),
	         gf = peer_code("GET_FEATURES"), sf = peer_code("SET_FEATURES"),
	         num = peer_code("SET_VRING_NUM"),
	         base = peer_code("SET_VRING_BASE"),
	         en = peer_code("SET_VRING_ENABLE"),
	         owner = peer_code("SET_OWNER");

	uint64_t pf = 1ull << VUP_PF_REPLY_ACK;
	PEER_OK(peer_relay_check(fe, be, gpf, V, NULL, 0, NULL, 0));
	PEER_OK(peer_relay_check(be, fe, gpf, V | R, &pf, 8, NULL, 0));
	PEER_OK(peer_relay_check(fe, be, spf, V, &pf, 8, NULL, 0));
	/* The reply offers RING_PACKED (bit 34); the front-end gets it
	 * without, and acks what it got. */
	uint64_t offered = (1ull << 34) | (1ull << 32) | (1ull << 30) | 1;
	uint64_t seen = offered & ~(1ull << 34);
	PEER_OK(peer_relay_check(fe, be, gf, V, NULL, 0, NULL, 0));
	PEER_OK(peer_send(be, gf, V | R, &offered, 8, NULL, 0));
	expect_msg(fe, gf, V | R, &seen, 8, 0, PEER_TIMEOUT_MS);
	PEER_OK(peer_relay_check(fe, be, sf, V, &seen, 8, NULL, 0));
	/* Delayed, then relayed. */
	uint32_t pn[2] = {0, 256};
	uint64_t t0 = peer_now_ms();
	PEER_OK(peer_send(fe, num, V, pn, 8, NULL, 0));
	uint64_t t1 = expect_msg(be, num, V, pn, 8, 0, PEER_TIMEOUT_MS);
	assert_true(t1 - t0 >= 100);
	/* Dropped. */
	uint32_t pb[2] = {0, 0};
	PEER_OK(peer_send(fe, base, V, pb, 8, NULL, 0));
	/* Failed: vuproxy's own ack (u64 7), the back-end sees nothing. */
	uint32_t pe[2] = {0, 1};
	uint64_t err = 7;
	PEER_OK(peer_send(fe, en, V | NR, pe, 8, NULL, 0));
	expect_msg(fe, en, V | R, &err, 8, 0, PEER_TIMEOUT_MS);
	PEER_OK(peer_expect_silence(be, 100));
	/* Disconnected: both peers see their connection end. */
	PEER_OK(peer_send(fe, owner, V, NULL, 0, NULL, 0));
	PEER_OK(peer_expect_eof(be, PEER_TIMEOUT_MS));
	PEER_OK(peer_expect_eof(fe, PEER_TIMEOUT_MS));
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS,
	                        "rule cut-at-owner disconnected both peers",
	                        NULL));
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));

	/* Every record: request reply from action rule as_sent. */
	char *got = trace_query(fx, "--json", RECORD_LINE);
	const char *want =
	        "GET_PROTOCOL_FEATURES false front-end log mark-proto false\n"
	        "GET_PROTOCOL_FEATURES true back-end pass null false\n"
	        "SET_PROTOCOL_FEATURES false front-end pass null false\n"
	        "GET_FEATURES false front-end pass null false\n"
	        "GET_FEATURES true back-end rewrite hide-packed false\n"
	        "GET_FEATURES true back-end rewrite hide-packed true\n"
	        "SET_FEATURES false front-end pass null false\n"
	        "SET_VRING_NUM false front-end delay slow-num false\n"
	        "SET_VRING_NUM false front-end released slow-num true\n"
	        "SET_VRING_BASE false front-end drop lose-base false\n"
	        "SET_VRING_ENABLE false front-end fail refuse-enable false\n"
	        "SET_VRING_ENABLE true back-end fail refuse-enable true\n"
	        "SET_OWNER false front-end disconnect cut-at-owner false\n";
	if (strcmp(got, want) != 0)
		fail_msg("the trace's records (request reply from action rule "
		         "as_sent):\n%s\nexpected:\n%s",
		         got, want);
	free(got);
	/* The rewritten reply: as received with bit 34, as sent without. */
	got = trace_query(fx, "--json --request GET_FEATURES",
	                  "select(.reply) | .payload.features");
	assert_string_equal(got, "0x540000001\n0x140000001\n");
	free(got);
	/* The delayed request: recorded when it came and again when it
	 * left, at least the rule's 100 ms later. */
	got = trace_query(
	        fx, "--json --request SET_VRING_NUM",
	        "[., input] | (.[1].ts_ns - .[0].ts_ns) >= 100000000");
	assert_string_equal(got, "true\n");
	free(got);
	/* The text dump shows both, the second marked "(as sent)". */
	got = trace_query(fx, "--request GET_FEATURES", NULL);
	const char *a = strstr(got, "GET_FEATURES reply features=0x540000001");
	const char *b = strstr(got, "GET_FEATURES reply features=0x140000001");
	if (!a || !b || b < a || !strstr(a, "rewrite rule=hide-packed\n") ||
	    !strstr(b, "rewrite rule=hide-packed (as sent)\n"))
		fail_msg("the text dump does not show the reply as received "
		         "and as sent:\n%s",
		         got);
	free(got);
}

/* Rules meet the back-end channel through the same path: a back-end
 * request failed by vuproxy (its own ack, the front-end sees nothing),
 * one dropped, one passed; the trace names the rules. */
static void backend_channel_rules(void **state)
{
	struct peer_fx *fx = *state;
	start_with_rules(fx, "rules:\n"
	                     "  - name: refuse-config-change\n"
	                     "    match: {request: BACKEND_CONFIG_CHANGE_MSG}\n"
	                     "    action: {fail: 3}\n"
	                     "  - name: lose-vring-call\n"
	                     "    match: {request: BACKEND_VRING_CALL}\n"
	                     "    action: drop\n");
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	/* REPLY_ACK, BACKEND_REQ, CONFIG and INBAND_NOTIFICATIONS (14):
	 * the requests below are all in place. */
	uint64_t pf = 1ull << VUP_PF_REPLY_ACK | 1ull << VUP_PF_BACKEND_REQ |
	              1ull << VUP_PF_CONFIG | 1ull << 14;
	PEER_OK(peer_relay_check(fe, be, peer_code("SET_PROTOCOL_FEATURES"), V,
	                         &pf, 8, NULL, 0));
	struct peer_bch b = peer_open_bch(fe, be, false);
	const uint32_t config = peer_code("BACKEND_CONFIG_CHANGE_MSG"),
	               call = peer_code("BACKEND_VRING_CALL"),
	               iotlb = peer_code("BACKEND_IOTLB_MSG");
	uint64_t err = 3;
	PEER_OK(peer_send(b.be, config, V | NR, NULL, 0, NULL, 0));
	expect_msg(b.be, config, V | R, &err, 8, 0, PEER_TIMEOUT_MS);
	uint32_t state_[2] = {0, 7};
	PEER_OK(peer_send(b.be, call, V, state_, 8, NULL, 0));
	PEER_OK(peer_expect_silence(b.fe, 200));
	uint8_t iotlb_msg[32] = {0x11, 0x22};
	PEER_OK(peer_relay_check(b.be, b.fe, iotlb, V, iotlb_msg, 32, NULL, 0));
	peer_close_bch(&b);
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));

	char *got = trace_query(
	        fx, "--json", "select(.channel == \"backend\") | " RECORD_LINE);
	const char *want =
	        "BACKEND_CONFIG_CHANGE_MSG false back-end fail "
	        "refuse-config-change false\n"
	        "BACKEND_CONFIG_CHANGE_MSG true front-end fail "
	        "refuse-config-change true\n"
	        "BACKEND_VRING_CALL false back-end drop lose-vring-call false\n"
	        "BACKEND_IOTLB_MSG false back-end pass null false\n";
	if (strcmp(got, want) != 0)
		fail_msg("the back-end channel's records:\n%s\nexpected:\n%s",
		         got, want);
	free(got);
}

/* A delay of 0 sends the message at once, and the trace still notes it
 * leaving, as for any delay. */
static void zero_delay_is_noted(void **state)
{
	struct peer_fx *fx = *state;
	start_with_rules(fx,
	                 "rules:\n"
	                 "  - name: d0\n"
	                 "    match: {request: GET_FEATURES, reply: false}\n"
	                 "    action: {delay: 0ms}\n");
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	PEER_OK(peer_get_features(fe, be, 0x140000000ull));
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
	char *got = trace_query(fx, "--json", RECORD_LINE);
	assert_string_equal(got,
	                    "GET_FEATURES false front-end delay d0 false\n"
	                    "GET_FEATURES false front-end released d0 true\n"
	                    "GET_FEATURES true back-end pass null false\n");
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        PEER_TEST(delay_holds_its_direction_only),
	        PEER_TEST(backend_channel_rules),
	        PEER_TEST(zero_delay_is_noted),
	        PEER_TEST(drop_closes_fds),
	        PEER_TEST(dropped_request_then_replies),
	        PEER_TEST_ARG("dropped_request_while_same_kind_awaits_ack",
	                      dropped_request_while_same_kind_awaits_ack,
	                      "drop"),
	        PEER_TEST_ARG("failed_request_while_same_kind_awaits_ack",
	                      dropped_request_while_same_kind_awaits_ack,
	                      "fail"),
	        PEER_TEST(fail_reply_forms),
	        PEER_TEST(sighup_reload),
	        PEER_TEST(trace_marks_touched_messages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
