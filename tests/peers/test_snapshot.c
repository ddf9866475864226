/* The flight recorder's triggers (--ring, --snapshot-*), with vuproxy
 * between our scripted peers: a NACK, a failed session, a reply past
 * --reply-timeout, a rule's `snapshot` action and SIGUSR2 each write a
 * snapshot into --snapshot-dir, named with the trigger, holding the
 * message that triggered it; events take one per 10 s at most (a peer
 * that errs on every message gets one, not one per message); the newest
 * N are kept (--snapshot-keep). */
#include <dirent.h>
#include <errno.h>

#include "../unit/unit.h"
#include "peer_test.h"
#include "vuproxy/reader.h"

#define V        VUP_FLAG_VERSION
#define R        (VUP_FLAG_VERSION | VUP_FLAG_REPLY)
#define N        VUP_FLAG_NEED_REPLY
#define FEATURES 0x140000000ull /* VERSION_1 | PROTOCOL_FEATURES */

static char snapdir[256];

static void start(struct peer_fx *fx, const char *const *more)
{
	snprintf(snapdir, sizeof(snapdir), "%s/snaps", fx->dir);
	assert_int_equal(mkdir(snapdir, 0700), 0);
	const char *args[24] = {"--name",         "t",     "--ring", "1",
	                        "--snapshot-dir", snapdir, NULL};
	size_t n = 6;
	for (size_t i = 0; more && more[i] && n < 23; i++)
		args[n++] = more[i];
	args[n] = NULL;
	PEER_OK(peer_fx_start(fx, "listen", "connect", args));
}

/* GET_FEATURES, SET_FEATURES, and REPLY_ACK negotiated. */
static void negotiate(struct peer *fe, struct peer *be)
{
	PEER_OK(peer_get_features(fe, be, FEATURES));
	uint64_t f = FEATURES, pf = 1ull << 3; /* REPLY_ACK */
	PEER_OK(peer_relay_check(fe, be, peer_code("SET_FEATURES"), V, &f, 8,
	                         NULL, 0));
	PEER_OK(peer_relay_check(fe, be, peer_code("GET_PROTOCOL_FEATURES"), V,
	                         NULL, 0, NULL, 0));
	PEER_OK(peer_relay_check(be, fe, peer_code("GET_PROTOCOL_FEATURES"), R,
	                         &pf, 8, NULL, 0));
	PEER_OK(peer_relay_check(fe, be, peer_code("SET_PROTOCOL_FEATURES"), V,
	                         &pf, 8, NULL, 0));
}

/* SET_VRING_NUM with NEED_REPLY, answered with ack (1: a NACK). */
static void vring_num(struct peer *fe, struct peer *be, uint64_t ack)
{
	uint32_t num[2] = {0, 256};
	PEER_OK(peer_relay_check(fe, be, peer_code("SET_VRING_NUM"), V | N, num,
	                         8, NULL, 0));
	PEER_OK(peer_relay_check(be, fe, peer_code("SET_VRING_NUM"), R, &ack, 8,
	                         NULL, 0));
}

/* The snapshots in snapdir whose name ends "-TRIGGER.pcapng.gz". */
static unsigned count(const char *trigger, char *last, size_t len)
{
	char suffix[64];
	snprintf(suffix, sizeof(suffix), "-%s.pcapng.gz", trigger);
	DIR *d = opendir(snapdir);
	assert_non_null(d);
	unsigned n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name), sl = strlen(suffix);
		if (l > sl && strcmp(e->d_name + l - sl, suffix) == 0 &&
		    strncmp(e->d_name, "vuproxy-t-", 10) == 0) {
			n++;
			if (last)
				snprintf(last, len, "%s/%s", snapdir,
				         e->d_name);
		}
	}
	closedir(d);
	return n;
}

static void wait_for(const char *trigger, unsigned n, char *last, size_t len)
{
	uint64_t end = peer_now_ms() + PEER_TIMEOUT_MS;
	while (count(trigger, last, len) < n) {
		if (peer_now_ms() > end)
			fail_msg("no %u snapshot(s) on %s in %s", n, trigger,
			         snapdir);
		peer_sleep_ms(20);
	}
}

/* What a snapshot holds: its section comment, and "REQUEST " per control
 * message ("+" for replies), "F:ID " per finding. */
static void read_snapshot(const char *path, char *comment, size_t clen,
                          char *out, size_t olen)
{
	struct vup_reader *r;
	char err[256];
	if (vup_reader_open(path, &r, err, sizeof(err)))
		fail_msg("%s: %s", path, err);
	out[0] = '\0';
	struct vup_record rec;
	enum vup_read_status st;
	while ((st = vup_reader_next(r, &rec, err, sizeof(err))) ==
	       VUP_READ_RECORD) {
		size_t n = strlen(out);
		if (rec.linktype == LINKTYPE_USER3) {
			/* finding: the check id at byte 28 */
			snprintf(out + n, olen - n, "F:%.5s ",
			         (const char *)rec.data + 28);
			continue;
		}
		if (rec.linktype != LINKTYPE_USER0)
			continue;
		struct vup_trace_hdr th;
		int hl = vup_trace_hdr_decode(rec.data, rec.caplen, &th, err,
		                              sizeof(err));
		assert_true(hl > 0);
		struct vup_hdr h;
		memcpy(&h, rec.data + hl, sizeof(h));
		snprintf(out + n, olen - n, "%s%s%s ", th.declared ? "D:" : "",
		         (h.flags & VUP_FLAG_REPLY) ? "+" : "",
		         vup_proto_name(VUP_CHAN_MAIN, h.request));
	}
	const char *c = vup_reader_section_comment(r);
	snprintf(comment, clen, "%s", c ? c : "");
	vup_reader_close(r);
	if (st != VUP_READ_END)
		fail_msg("%s: status %d (%s): a finished snapshot reads whole",
		         path, st, err);
}

/* A NACK takes a snapshot that holds it; more NACKs within 10 s are
 * counted, not taken; SIGUSR2 always takes one, and --snapshot-keep 2
 * keeps the newest two. */
static void nack_interval_keep(void **state)
{
	struct peer_fx *fx = *state;
	const char *more[] = {"--snapshot-on",
	                      "nack",
	                      "--snapshot-after",
	                      "1",
	                      "--snapshot-keep",
	                      "2",
	                      NULL};
	start(fx, more);
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	negotiate(fe, be);
	vring_num(fe, be, 0); /* an ack: nothing */
	vring_num(fe, be, 1); /* a NACK */
	PEER_OK(vproc_wait_count(&fx->vp, "snapshot ", 1, PEER_TIMEOUT_MS));
	vring_num(fe, be, 1); /* within 10 s: counted */
	vring_num(fe, be, 1);
	PEER_OK(vproc_wait_count(&fx->vp, "snapshot on nack skipped", 1,
	                         PEER_TIMEOUT_MS));
	PEER_OK(vproc_wait_count(&fx->vp, "done", 1, 3000));
	char path[512], comment[256];
	static char got[8192];
	wait_for("nack", 1, path, sizeof(path));
	read_snapshot(path, comment, sizeof(comment), got, sizeof(got));
	assert_contains(comment, "trigger: nack: s1 VU024 SET_VRING_NUM");
	/* The ring still holds the set-up: events, not declared (with the
	 * checker's finding that no SET_OWNER came first); the NACK, its
	 * finding, and what came within --snapshot-after. */
	assert_string_equal(got, "GET_FEATURES F:VU015 +GET_FEATURES "
	                         "SET_FEATURES "
	                         "GET_PROTOCOL_FEATURES +GET_PROTOCOL_FEATURES "
	                         "SET_PROTOCOL_FEATURES SET_VRING_NUM "
	                         "+SET_VRING_NUM SET_VRING_NUM +SET_VRING_NUM "
	                         "F:VU024 SET_VRING_NUM +SET_VRING_NUM "
	                         "F:VU024 SET_VRING_NUM +SET_VRING_NUM "
	                         "F:VU024 ");
	assert_int_equal(count("nack", NULL, 0), 1);
	for (unsigned i = 0; i < 3; i++) {
		kill(fx->vp.pid, SIGUSR2);
		PEER_OK(vproc_wait_count(&fx->vp, "done", 2 + i, 3000));
	}
	/* 4 written, the newest 2 kept: the nack's went first */
	assert_int_equal(count("sigusr2", NULL, 0) + count("nack", NULL, 0), 2);
	assert_int_equal(count("nack", NULL, 0), 0);
	PEER_LOG(fx, "removed (--snapshot-keep 2)");
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
}

static void write_rules(struct peer_fx *fx, char *path, size_t len)
{
	snprintf(path, len, "%s/snap.yaml", fx->dir);
	FILE *f = fopen(path, "w");
	fputs("rules:\n  - name: owner\n    match: {request: SET_OWNER}\n"
	      "    action: snapshot\n",
	      f);
	fclose(f);
}

/* A rule's snapshot action takes one holding its message. */
static void rule_action(void **state)
{
	struct peer_fx *fx = *state;
	char rules[300];
	write_rules(fx, rules, sizeof(rules));
	const char *more[] = {"-r", rules, NULL};
	start(fx, more);
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	PEER_OK(peer_relay_check(fe, be, peer_code("SET_OWNER"), V, NULL, 0,
	                         NULL, 0));
	char path[512], comment[256];
	static char got[8192];
	wait_for("rule", 1, path, sizeof(path));
	read_snapshot(path, comment, sizeof(comment), got, sizeof(got));
	assert_contains(comment, "trigger: rule: s1 rule owner on SET_OWNER");
	assert_string_equal(got, "SET_OWNER ");
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
}

/* A reply past --reply-timeout takes one holding the request. */
static void reply_timeout(void **state)
{
	struct peer_fx *fx = *state;
	const char *more[] = {"--snapshot-on", "timeout", "--reply-timeout",
	                      "1", NULL};
	start(fx, more);
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	PEER_OK(peer_relay_check(fe, be, peer_code("GET_FEATURES"), V, NULL, 0,
	                         NULL, 0));
	char path[512], comment[256];
	static char got[8192];
	wait_for("timeout", 1, path, sizeof(path));
	read_snapshot(path, comment, sizeof(comment), got, sizeof(got));
	assert_contains(comment, "trigger: timeout: s1");
	assert_contains(got, "GET_FEATURES");
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
}

/* A session that fails (a header of version 2 cannot be relayed) takes
 * one holding the message refused. */
static void session_failure(void **state)
{
	struct peer_fx *fx = *state;
	const char *more[] = {"--snapshot-on", "failure", NULL};
	start(fx, more);
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	struct vup_hdr bad = {peer_code("SET_OWNER"), 0x2, 0};
	PEER_OK(peer_send_raw(fe->ch.fd, &bad, sizeof(bad), NULL, 0));
	char path[512], comment[256];
	static char got[8192];
	wait_for("failure", 1, path, sizeof(path));
	read_snapshot(path, comment, sizeof(comment), got, sizeof(got));
	assert_contains(comment, "trigger: failure: s1");
	assert_contains(got, "SET_OWNER");
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
}

/* The command line: the snapshot options need --ring; --snapshot-on a
 * directory and known words. */
static void command_line(void **state)
{
	struct peer_fx *fx = *state;
	static const char *const bad[][5] = {
	        {"--snapshot-dir", "/tmp", NULL},
	        {"--ring", "1", "--snapshot-on", "nack", NULL},
	        {"--ring", "1", "--snapshot-on", "sometimes", NULL},
	        {"--ring", "0", NULL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *args[12] = {"--frontend", "listen:/nonexistent/x",
		                        "--backend", "connect:/x"};
		size_t n = 4;
		for (size_t k = 0; bad[i][k]; k++)
			args[n++] = bad[i][k];
		args[n] = NULL;
		struct vproc v;
		char log[300];
		snprintf(log, sizeof(log), "%s/cli%zu.log", fx->dir, i);
		PEER_OK(vproc_start(&v, log, args));
		PEER_OK(vproc_wait(&v, PEER_TIMEOUT_MS));
		if (WEXITSTATUS(v.status) != 2)
			fail_msg("case %zu: exit %d: %s", i,
			         WEXITSTATUS(v.status), vproc_log_tail(&v));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(nack_interval_keep, peer_setup,
	                                        peer_teardown),
	        cmocka_unit_test_setup_teardown(rule_action, peer_setup,
	                                        peer_teardown),
	        cmocka_unit_test_setup_teardown(reply_timeout, peer_setup,
	                                        peer_teardown),
	        cmocka_unit_test_setup_teardown(session_failure, peer_setup,
	                                        peer_teardown),
	        cmocka_unit_test_setup_teardown(command_line, peer_setup,
	                                        peer_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
