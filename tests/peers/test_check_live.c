/* The checker live in vuproxy, between scripted peers: its log lines
 * (one per finding, rate-limited per row), the finding records
 * --trace-findings writes (read back with the trace reader and
 * vup_finding_decode), --no-check, and the reply watchdog
 * (--reply-timeout) with a back-end that never answers GET_VRING_BASE,
 * as a hung back-end (rust-vmm/vhost #217's, there on SET_LOG_BASE)
 * never does. */
#include <string.h>

#include "peer_test.h"
#include "vuproxy/reader.h"
#include "vuproxy/tracemsg.h"

#define V VUP_FLAG_VERSION
#define R VUP_FLAG_REPLY
#define N VUP_FLAG_NEED_REPLY

static char trace[256];

/* vuproxy with -w and the extra args, one session. */
static void start(struct peer_fx *fx, const char *a, const char *b,
                  struct peer **fe, struct peer **be)
{
	snprintf(trace, sizeof(trace), "%s/t.pcapng.gz", fx->dir);
	const char *extra[] = {"-w", trace, a, b, NULL};
	PEER_OK(peer_fx_start(fx, "listen", "connect", extra));
	PEER_OK(peer_fx_session(fx, fe, be));
}

/* The finding records of the trace, and the frame (packet number, as
 * Wireshark counts) of each; *frames: packets in all. */
struct found {
	unsigned n;
	uint64_t at[16]; /* the finding's own frame */
	struct vup_finding_rec f[16];
	char text[16][3][256]; /* id, rule, message */
};

static void read_findings(struct found *out, uint64_t *frames)
{
	struct vup_reader *r;
	char err[256];
	memset(out, 0, sizeof(*out));
	if (vup_reader_open(trace, &r, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	struct vup_record rec;
	uint64_t frame = 0;
	enum vup_read_status st;
	while ((st = vup_reader_next(r, &rec, err, sizeof(err))) ==
	       VUP_READ_RECORD) {
		frame++;
		if (rec.linktype != LINKTYPE_USER3)
			continue;
		assert_string_equal(rec.ifname, VUP_FINDING_IFACE);
		assert_true(out->n < 16);
		struct vup_finding_rec *f = &out->f[out->n];
		assert_true(vup_finding_decode(rec.data, rec.caplen, f));
		char(*t)[256] = out->text[out->n];
		snprintf(t[0], 256, "%.*s", (int)f->id_len, f->id);
		snprintf(t[1], 256, "%.*s", (int)f->rule_len, f->rule);
		snprintf(t[2], 256, "%.*s", (int)f->message_len, f->message);
		out->at[out->n++] = frame;
	}
	assert_int_equal(st, VUP_READ_END);
	vup_reader_close(r);
	*frames = frame;
}

/* The peers leave, vuproxy stops; the trace's findings. */
static uint64_t stop(struct peer_fx *fx, struct peer *fe, struct peer *be,
                     struct found *fd)
{
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
	uint64_t frames;
	read_findings(fd, &frames);
	return frames;
}

/* The relay's own warning about the 0xd replies is one line, with or
 * without the checker, as before it. */
static void one_relay_warning(struct peer_fx *fx)
{
	assert_int_equal(vproc_count(&fx->vp, "warning: s1 back-end>front-end "
	                                      "GET_FEATURES reply: NEED_REPLY"),
	                 1);
}

/* libvhost-user copies NEED_REPLY into its replies (flags 0xd): on the
 * main channel that is VU004, a warning (QEMU would refuse it, rust-vmm takes
 * it).  Three times: one log line, the other two counted; three records in the
 * trace, each naming its reply's frame. */
static void test_findings_logged_and_recorded(void **state)
{
	struct peer_fx *fx = *state;
	struct peer *fe, *be;
	start(fx, "--trace-findings", "--reply-timeout=0", &fe, &be);
	uint32_t code = peer_code("GET_FEATURES");
	uint64_t features = 1ull << 32;
	PEER_OK(peer_relay_check(fe, be, peer_code("SET_OWNER"), V, NULL, 0,
	                         NULL, 0));
	for (int i = 0; i < 3; i++) {
		PEER_OK(peer_relay_check(fe, be, code, V, NULL, 0, NULL, 0));
		PEER_OK(peer_relay_check(be, fe, code, V | R | N, &features, 8,
		                         NULL, 0));
	}
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS,
	                        "s1 check VU004 [warning] back-end>front-end "
	                        "GET_FEATURES (#1) reply: NEED_REPLY set on a "
	                        "reply (flags 0xd)",
	                        NULL));
	struct found fd;
	/* Packets: SET_OWNER, then 3 rounds of request, reply and the
	 * reply's finding. */
	assert_true(stop(fx, fe, be, &fd) == 10);
	assert_int_equal(vproc_count(&fx->vp, "s1 check VU004 [warning]"), 1);
	PEER_LOG(fx, "s1 check VU004: 2 more since the last such line");
	one_relay_warning(fx);
	assert_int_equal(fd.n, 3);
	for (unsigned i = 0; i < 3; i++) {
		const struct vup_finding_rec *f = &fd.f[i];
		assert_string_equal(fd.text[i][0], "VU004");
		assert_string_equal(fd.text[i][1], "");
		assert_string_equal(fd.text[i][2],
		                    "NEED_REPLY set on a reply (flags 0xd)");
		assert_int_equal(f->severity, 1) /* warning */;
		assert_int_equal(f->session, 1);
		assert_int_equal(f->request, code);
		assert_int_equal(f->flags, VUP_TRACE_F_FROM_BACKEND);
		assert_true(f->frame == 3 * i + 3);
		assert_true(fd.at[i] == 3 * i + 4); /* right after it */
	}
}

/* --no-check: no line, no record; without --trace-findings no record. */
static void test_no_check(void **state)
{
	struct peer_fx *fx = *state;
	struct peer *fe, *be;
	start(fx, "--no-check", "--reply-timeout=0", &fe, &be);
	uint32_t code = peer_code("GET_FEATURES");
	uint64_t features = 1;
	PEER_OK(peer_relay_check(fe, be, code, V, NULL, 0, NULL, 0));
	PEER_OK(peer_relay_check(be, fe, code, V | R | N, &features, 8, NULL,
	                         0));
	PEER_OK(peer_get_features(fe, be, 1));
	struct found fd;
	assert_true(stop(fx, fe, be, &fd) == 4);
	assert_int_equal(vproc_count(&fx->vp, " check "), 0);
	one_relay_warning(fx);
	assert_int_equal(fd.n, 0);
}

/* The back-end takes GET_VRING_BASE and never answers: after
 * --reply-timeout 1, within a tick more (1 s), one line; then a VU044
 * record naming the request's frame. */
static void test_reply_watchdog(void **state)
{
	struct peer_fx *fx = *state;
	struct peer *fe, *be;
	start(fx, "--trace-findings", "--reply-timeout=1", &fe, &be);
	uint32_t code = peer_code("GET_VRING_BASE");
	uint32_t state_[2] = {0, 0};
	uint64_t t0 = peer_now_ms();
	PEER_OK(peer_relay_check(fe, be, code, V, state_, 8, NULL, 0));
	const char *line = "warning: s1 back-end has not answered "
	                   "GET_VRING_BASE (#11) for 1 s, asked in frame 1 "
	                   "(--reply-timeout)";
	PEER_OK(vproc_wait_line(&fx->vp, 1000 + 1000 + 500, line, NULL));
	uint64_t took = peer_now_ms() - t0;
	print_message("reply watchdog: told after %llu ms\n",
	              (unsigned long long)took);
	assert_true(took >= 1000);
	/* Once per owed request. */
	peer_sleep_ms(1500);
	assert_int_equal(vproc_count(&fx->vp, "has not answered"), 1);
	struct found fd;
	stop(fx, fe, be, &fd);
	unsigned k = fd.n;
	for (unsigned i = 0; i < fd.n; i++)
		if (strcmp(fd.text[i][0], "VU044") == 0)
			k = i;
	if (k == fd.n)
		fail_msg("no VU044 record among %u findings", fd.n);
	assert_int_equal(fd.f[k].severity, 1); /* warning */
	assert_int_equal(fd.f[k].request, code);
	assert_int_equal(fd.f[k].flags, 0); /* the front-end's request */
	assert_true(fd.f[k].frame == 1);    /* the session's first message */
	assert_string_equal(fd.text[k][2], "GET_VRING_BASE (#11) on the main "
	                                   "channel not answered for 1 s");
}

/* The back-end takes GET_VRING_BASE and hangs up without answering: the
 * session's end tells the reply that never came (VU022), as `vuproxy
 * check` would on the trace, and records it about the request. */
static void test_owed_at_end(void **state)
{
	struct peer_fx *fx = *state;
	struct peer *fe, *be;
	start(fx, "--trace-findings", "--reply-timeout=0", &fe, &be);
	uint32_t state_[2] = {0, 0};
	PEER_OK(peer_relay_check(fe, be, peer_code("GET_VRING_BASE"), V, state_,
	                         8, NULL, 0));
	peer_free(be);
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS,
	                        "s1 check VU022 [error] GET_VRING_BASE: "
	                        "GET_VRING_BASE (#11) on the main channel "
	                        "never answered",
	                        NULL));
	peer_free(fe);
	PEER_OK(peer_fx_stop(fx));
	assert_int_equal(vproc_count(&fx->vp, " check VU022 "), 1);
	struct found fd;
	uint64_t frames;
	read_findings(&fd, &frames);
	/* VU015 about the request (no SET_OWNER here), then VU022. */
	assert_int_equal(fd.n, 2);
	assert_string_equal(fd.text[0][0], "VU015");
	assert_string_equal(fd.text[1][0], "VU022");
	assert_int_equal(fd.f[1].severity, 2);
	assert_int_equal(fd.f[1].request, peer_code("GET_VRING_BASE"));
	assert_int_equal(fd.f[1].flags, 0); /* the front-end's request */
	assert_true(fd.f[1].frame == 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(
	                test_findings_logged_and_recorded, peer_setup,
	                peer_teardown),
	        cmocka_unit_test_setup_teardown(test_no_check, peer_setup,
	                                        peer_teardown),
	        cmocka_unit_test_setup_teardown(test_owed_at_end, peer_setup,
	                                        peer_teardown),
	        cmocka_unit_test_setup_teardown(test_reply_watchdog, peer_setup,
	                                        peer_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
