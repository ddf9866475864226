/* The control socket of a live vuproxy between our scripted peers (a
 * front-end that negotiates as QEMU does: GET_FEATURES, SET_FEATURES,
 * then each vring's num, addresses and base), asked with the real
 * `vuproxy ctl` client: sessions shows the acked features, show the
 * vrings, stats --prometheus parses; subscribers see sessions come and
 * go; garbage, floods and clients that vanish do not disturb a session
 * relaying meanwhile. */
#include <errno.h>
#include <poll.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "../unit/prom_check.h"
#include "../unit/unit.h"
#include "peer_test.h"
#include "vuproxy/json.h"
#include "vuproxy/reader.h"

#define V        VUP_FLAG_VERSION
#define FEATURES 0x140000000ull /* VERSION_1 | PROTOCOL_FEATURES */

static char ctl_path[256];

#define ctl(out, cap, ...) vproc_ctl(ctl_path, out, cap, __VA_ARGS__)

static int raw_connect(void)
{
	return peer_connect(ctl_path, PEER_TIMEOUT_MS);
}

/* One line from fd within timeout_ms, without its newline. */
static int read_line(int fd, char *out, size_t cap, int timeout_ms)
{
	size_t n = 0;
	while (n + 1 < cap) {
		struct pollfd pf = {fd, POLLIN, 0};
		if (poll(&pf, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		if (read(fd, out + n, 1) != 1)
			return -EPIPE;
		if (out[n] == '\n')
			break;
		n++;
	}
	out[n] = '\0';
	return (int)n;
}

static void set_up_vrings(struct peer *fe, struct peer *be)
{
	PEER_OK(peer_get_features(fe, be, FEATURES));
	uint64_t f = FEATURES;
	PEER_OK(peer_relay_check(fe, be, peer_code("SET_FEATURES"), V, &f, 8,
	                         NULL, 0));
	for (uint32_t i = 0; i < 2; i++) {
		uint32_t num[2] = {i, 256};
		PEER_OK(peer_relay_check(fe, be, peer_code("SET_VRING_NUM"), V,
		                         num, 8, NULL, 0));
		uint8_t addr[40] = {0};
		uint64_t desc = 0x10000 + i * 0x4000, used = desc + 0x2000,
		         avail = desc + 0x1000;
		memcpy(addr, &i, 4);
		memcpy(addr + 8, &desc, 8);
		memcpy(addr + 16, &used, 8);
		memcpy(addr + 24, &avail, 8);
		PEER_OK(peer_relay_check(fe, be, peer_code("SET_VRING_ADDR"), V,
		                         addr, 40, NULL, 0));
		uint32_t base[2] = {i, 7};
		PEER_OK(peer_relay_check(fe, be, peer_code("SET_VRING_BASE"), V,
		                         base, 8, NULL, 0));
	}
}

/* Start vuproxy with --control; nth: how many vuproxy runs this test
 * has logged (the log file is shared). */
static void start_nth(struct peer_fx *fx, unsigned nth)
{
	snprintf(ctl_path, sizeof(ctl_path), "%s/vuproxy.ctl", fx->dir);
	const char *extra[] = {"--control", ctl_path, NULL};
	PEER_OK(peer_fx_start(fx, "listen", "connect", extra));
	PEER_OK(vproc_wait_count(&fx->vp, "control: listening on", nth,
	                         PEER_TIMEOUT_MS));
	struct stat st;
	assert_int_equal(stat(ctl_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void start(struct peer_fx *fx)
{
	start_nth(fx, 1);
}

/* `ctl record start -` with its stdout a pipe, as `| wireshark -k -i -`
 * runs it: the client exits once vuproxy took the pipe; vuproxy writes
 * plain pcapng into it until record stop, then closes it.  Returns the
 * read end. */
static int record_to_pipe(void)
{
	int rp[2];
	assert_int_equal(pipe(rp), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(rp[1], 1);
		close(rp[0]);
		close(rp[1]);
		execl(getenv("VUPROXY"), "vuproxy", "ctl", ctl_path, "record",
		      "start", "-", (char *)NULL);
		_exit(127);
	}
	close(rp[1]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return rp[0];
}

/* What came through the pipe, as "D:REQ" (declared) and "REQ" (event)
 * for session 1's control records. */
static void read_pipe(int fd, const char *path, char *got, size_t cap)
{
	FILE *f = fopen(path, "wb");
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, f);
	fclose(f);
	close(fd);
	struct vup_reader *r;
	char err[256];
	if (vup_reader_open(path, &r, err, sizeof(err)))
		fail_msg("%s: %s", path, err);
	got[0] = '\0';
	struct vup_record rec;
	while (vup_reader_next(r, &rec, err, sizeof(err)) == VUP_READ_RECORD) {
		struct vup_trace_hdr th;
		int hl = vup_trace_hdr_decode(rec.data, rec.caplen, &th, err,
		                              sizeof(err));
		if (rec.linktype != LINKTYPE_USER0 || hl < 0)
			continue;
		struct vup_hdr h;
		memcpy(&h, rec.data + hl, sizeof(h));
		size_t k = strlen(got);
		snprintf(got + k, cap - k, "%s%s ", th.declared ? "D:" : "",
		         vup_proto_name(VUP_CHAN_MAIN, h.request));
	}
	vup_reader_close(r);
}

static void sessions_show_stats(void **state)
{
	struct peer_fx *fx = *state;
	start(fx);
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	set_up_vrings(fe, be);
	static char out[65536];
	char err[1024];
	assert_int_equal(ctl(out, sizeof(out), "sessions", "--json", NULL), 0);
	struct vup_json_doc d;
	if (vup_json_parse(&d, out, strlen(out), err, sizeof(err)))
		fail_msg("%s: %s", err, out);
	int res = vup_json_get(&d, 0, "result");
	assert_int_equal(d.n[res].count, 1);
	int s = d.n[res].child;
	char buf[64];
	vup_json_string(&d, vup_json_get(&d, s, "features"), buf, 64, NULL);
	assert_string_equal(buf, "0x140000000");
	vup_json_string(&d, vup_json_get(&d, s, "state"), buf, 64, NULL);
	assert_string_equal(buf, "up");
	int64_t msgs;
	assert_int_equal(
	        vup_json_int(&d, vup_json_get(&d, s, "messages"), &msgs), 0);
	assert_int_equal(msgs, 9); /* 2 + 1 + 2 * 3 */
	vup_json_doc_free(&d);
	/* the human table */
	assert_int_equal(ctl(out, sizeof(out), "sessions", NULL), 0);
	assert_contains(out, "SESSION  STATE  MESSAGES  FEATURES");
	assert_contains(out, "1        up     9         0x140000000");
	/* show: features by name, the vrings */
	assert_int_equal(ctl(out, sizeof(out), "show", "1", "--json", NULL), 0);
	assert_contains(out, "\"acked\":[\"VHOST_USER_F_PROTOCOL_FEATURES\","
	                     "\"VIRTIO_F_VERSION_1\"]");
	assert_contains(out, "{\"index\":1,\"num\":256,\"desc\":\"0x14000\","
	                     "\"avail\":\"0x15000\",\"used\":\"0x16000\","
	                     "\"base\":7,");
	/* No --tap: the kept region fds would be mapped, but no memory
	 * table came. */
	assert_contains(out, "\"live_missing\":\"guest memory not mapped: no "
	                     "memory table yet\"");
	assert_int_equal(ctl(out, sizeof(out), "show", "1", NULL), 0);
	assert_contains(out, "features  acked   0x140000000        "
	                     "VHOST_USER_F_PROTOCOL_FEATURES");
	assert_contains(out, "INDEX  NUM  STATE");
	assert_int_equal(ctl(out, sizeof(out), "show", "9", NULL), 1);
	assert_contains(out, "no session 9");
	/* stats in the Prometheus format */
	assert_int_equal(ctl(out, sizeof(out), "stats", "--prometheus", NULL),
	                 0);
	int n = prom_check(out, err, sizeof(err));
	if (n < 5)
		fail_msg("%s\n%s", err, out);
	assert_contains(out, "\nvuproxy_messages_total 9\n");
	assert_contains(out, "\nvuproxy_sessions_live 1\n");
	/* rules of session 1 alone: its SET_VRING_ENABLE is dropped until
	 * they are cleared, and the common (empty) rules apply again */
	char rules[300];
	snprintf(rules, sizeof(rules), "%s/drop.yaml", fx->dir);
	FILE *f = fopen(rules, "w");
	fputs("rules:\n  - name: no-enable\n"
	      "    match: {request: SET_VRING_ENABLE}\n    action: drop\n",
	      f);
	fclose(f);
	assert_int_equal(ctl(out, sizeof(out), "rules", "load", rules,
	                     "--session", "1", NULL),
	                 0);
	uint32_t en[2] = {0, 1};
	PEER_OK(peer_send(fe, peer_code("SET_VRING_ENABLE"), V, en, 8, NULL,
	                  0));
	PEER_OK(peer_expect_silence(be, 300));
	assert_int_equal(
	        ctl(out, sizeof(out), "rules", "clear", "--session", "1", NULL),
	        0);
	PEER_OK(peer_relay_check(fe, be, peer_code("SET_VRING_ENABLE"), V, en,
	                         8, NULL, 0));
	/* record start - into a pipe: the set-up declared, then what came */
	int rfd = record_to_pipe();
	PEER_OK(peer_relay_check(fe, be, peer_code("SET_VRING_ENABLE"), V, en,
	                         8, NULL, 0));
	assert_int_equal(ctl(out, sizeof(out), "record", "stop", NULL), 0);
	char piped[300];
	snprintf(piped, sizeof(piped), "%s/piped.pcapng", fx->dir);
	static char got[4096];
	read_pipe(rfd, piped, got, sizeof(got));
	assert_string_equal(got, "D:GET_FEATURES D:GET_FEATURES D:SET_FEATURES "
	                         "D:SET_VRING_NUM D:SET_VRING_ADDR "
	                         "D:SET_VRING_BASE D:SET_VRING_NUM "
	                         "D:SET_VRING_ADDR D:SET_VRING_BASE "
	                         "D:SET_VRING_ENABLE SET_VRING_ENABLE ");
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
	/* a clean exit removes the socket file */
	assert_int_equal(access(ctl_path, F_OK), -1);
}

static void flood_and_garbage(int *socks, int n)
{
	static char junk[256 * 1024];
	memset(junk, '{', sizeof(junk));
	for (int i = 0; i < n; i++) {
		if (socks[i] >= 0)
			close(socks[i]);
		socks[i] = raw_connect();
		switch (i % 3) {
		case 0: /* garbage lines, replies never read */
			(void)!write(socks[i], "\x01\xff{]\n[[[[\n", 10);
			break;
		case 1: /* a flood: no newline for over a MiB */
			for (int k = 0; k < 5; k++)
				(void)!send(socks[i], junk, sizeof(junk),
				            MSG_DONTWAIT);
			break;
		default: /* half a request, then gone */
			(void)!write(socks[i], "{\"cmd\":\"sess", 12);
			close(socks[i]);
			socks[i] = -1;
		}
	}
}

static void bad_clients_do_not_disturb(void **state)
{
	struct peer_fx *fx = *state;
	start(fx);
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	int socks[12];
	for (int i = 0; i < 12; i++)
		socks[i] = -1;
	uint64_t worst = 0;
	for (int round = 0; round < 200; round++) {
		if (round % 20 == 0)
			flood_and_garbage(socks, 12);
		uint64_t t0 = peer_now_ms();
		PEER_OK(peer_get_features(fe, be, FEATURES + (uint64_t)round));
		uint64_t dt = peer_now_ms() - t0;
		worst = dt > worst ? dt : worst;
	}
	/* a round trip on a local socket takes well under a millisecond */
	if (worst > 500)
		fail_msg("a round trip took %llu ms",
		         (unsigned long long)worst);
	static char out[8192];
	assert_int_equal(ctl(out, sizeof(out), "sessions", NULL), 0);
	assert_contains(out, "1        up     400 ");
	for (int i = 0; i < 12; i++)
		if (socks[i] >= 0)
			close(socks[i]);
	/* garbage is answered, naming the problem */
	int s = raw_connect();
	(void)!write(s, "{\"cmd\":\"show\",\"session\":\"x\"}\n", 30);
	char line[512];
	assert_true(read_line(s, line, sizeof(line), PEER_TIMEOUT_MS) > 0);
	assert_string_equal(line, "{\"ok\":false,\"error\":\"show: argument "
	                          "\\\"session\\\" must be an integer, not "
	                          "string\"}");
	close(s);
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 1 sessions (0 failed), 400 messages relayed");
}

static void subscribe_sees_sessions(void **state)
{
	struct peer_fx *fx = *state;
	start(fx);
	int s = raw_connect();
	const char req[] = "{\"id\":1,\"cmd\":\"subscribe\"}\n";
	assert_int_equal(write(s, req, sizeof(req) - 1), sizeof(req) - 1);
	char line[1024];
	assert_true(read_line(s, line, sizeof(line), PEER_TIMEOUT_MS) > 0);
	assert_contains(line, "{\"id\":1,\"ok\":true,");
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	assert_true(read_line(s, line, sizeof(line), PEER_TIMEOUT_MS) > 0);
	assert_contains(line, "{\"event\":\"session-up\",\"time\":\"20");
	assert_contains(line, "Z\",\"session\":1,\"frontend\":");
	PEER_OK(peer_get_features(fe, be, FEATURES));
	/* the checker's finding (QEMU sends SET_OWNER first) */
	assert_true(read_line(s, line, sizeof(line), PEER_TIMEOUT_MS) > 0);
	assert_contains(line, "\"event\":\"finding\"");
	assert_contains(line, "\"session\":1,\"id\":\"VU015\",\"severity\":"
	                      "\"warning\",\"request\":\"GET_FEATURES\"");
	peer_free(fe);
	PEER_OK(peer_expect_eof(be, PEER_TIMEOUT_MS));
	peer_free(be);
	assert_true(read_line(s, line, sizeof(line), PEER_TIMEOUT_MS) > 0);
	assert_contains(line, "\"event\":\"session-down\"");
	assert_contains(line, "\"reason\":\"front-end hung up\","
	                      "\"failed\":false,\"messages\":2}");
	close(s);
	PEER_OK(peer_fx_stop(fx));
}

static void rules_record_and_live_socket(void **state)
{
	struct peer_fx *fx = *state;
	start(fx);
	static char out[8192];
	char path[300];
	snprintf(path, sizeof(path), "%s/bad.yaml", fx->dir);
	FILE *f = fopen(path, "w");
	fputs("rules:\n  - name: x\n    match: {request: NOPE}\n"
	      "    action: drop\n",
	      f);
	fclose(f);
	assert_int_equal(ctl(out, sizeof(out), "rules", "load", path, NULL), 1);
	assert_contains(out, "bad.yaml:3:");
	assert_int_equal(ctl(out, sizeof(out), "rules", "load", path,
	                     "--session", "1", NULL),
	                 1);
	assert_contains(out, "no session 1");
	/* recording: the client opens the file (0600) and passes its fd;
	 * vuproxy writes a pcapng section to it until record stop */
	snprintf(path, sizeof(path), "%s/rec.pcapng", fx->dir);
	assert_int_equal(ctl(out, sizeof(out), "record", "start", path, NULL),
	                 0);
	assert_int_equal(ctl(out, sizeof(out), "record", "start", path, NULL),
	                 1);
	assert_contains(out, "a recording runs already");
	assert_int_equal(ctl(out, sizeof(out), "record", "stop", NULL), 0);
	assert_int_equal(ctl(out, sizeof(out), "record", "stop", NULL), 1);
	assert_contains(out, "no recording runs");
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	FILE *rec = fopen(path, "rb");
	uint32_t magic = 0;
	assert_int_equal(fread(&magic, 4, 1, rec), 1);
	fclose(rec);
	assert_int_equal(magic, 0x0A0D0D0A); /* a pcapng section */
	/* no flight recorder: a snapshot says how to get one */
	assert_int_equal(ctl(out, sizeof(out), "snapshot", NULL), 1);
	assert_contains(out, "--ring");
	/* another vuproxy does not take over a live control socket */
	char fe2[300], log2[300];
	snprintf(fe2, sizeof(fe2), "listen:%s/fe2.sock", fx->dir);
	snprintf(log2, sizeof(log2), "%s/second.log", fx->dir);
	struct vproc v2;
	const char *args[] = {"--frontend", fe2,      "--backend", "connect:/x",
	                      "--control",  ctl_path, NULL};
	PEER_OK(vproc_start(&v2, log2, args));
	PEER_OK(vproc_wait(&v2, PEER_TIMEOUT_MS));
	assert_int_equal(WEXITSTATUS(v2.status), 1);
	if (!vproc_has_line(&v2, "another process is listening on it", NULL))
		fail_msg("%s", vproc_log_tail(&v2));
	assert_int_equal(ctl(out, sizeof(out), "log-level", NULL), 0);
	assert_contains(out, "level");
	PEER_OK(peer_fx_stop(fx));
	/* a stale socket file is replaced */
	int stale = peer_listen(ctl_path, 1);
	close(stale);
	start_nth(fx, 2);
	PEER_OK(peer_fx_stop(fx));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(sessions_show_stats, peer_setup,
	                                        peer_teardown),
	        cmocka_unit_test_setup_teardown(bad_clients_do_not_disturb,
	                                        peer_setup, peer_teardown),
	        cmocka_unit_test_setup_teardown(subscribe_sees_sessions,
	                                        peer_setup, peer_teardown),
	        cmocka_unit_test_setup_teardown(rules_record_and_live_socket,
	                                        peer_setup, peer_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
