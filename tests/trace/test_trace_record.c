/* Recordings started at run time and flight-recorder snapshots, through
 * the writer's API and read back with the reader: each file stands alone,
 * its sessions' set-up declared first (trace.h, declared.h). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vuproxy/reader.h"
#include "vuproxy/trace.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/vup-trace-rec.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static uint64_t clock_ns = 1700000000000000000ull; /* 2023 */

/* One message of session s: from the front-end unless reply. */
static void msg(struct vup_trace *t, uint32_t s, uint32_t req, bool reply,
                const void *payload, uint32_t size, unsigned memfds)
{
	struct vup_trace_hdr th = {.flags =
	                                   reply ? VUP_TRACE_F_FROM_BACKEND : 0,
	                           .session = s,
	                           .nfds = (uint8_t)memfds};
	for (unsigned i = 0; i < memfds; i++)
		th.fds[i] = (struct vup_fd_info){VUP_FDK_MEMFD, 1u << 20};
	struct vup_hdr h = {req, reply ? 0x5u : 0x1u, size};
	clock_ns += 1000;
	assert_int_equal(vup_trace_message(t, clock_ns, &th, &h, payload), 0);
}

static void vring(struct vup_trace *t, uint32_t s, uint32_t req, uint32_t index,
                  uint32_t num)
{
	uint32_t p[2] = {index, num};
	msg(t, s, req, false, p, 8, 0);
}

/* GET_FEATURES and its reply, SET_FEATURES, a one-region memory table,
 * vring 0's size and kick. */
static void set_up(struct vup_trace *t, uint32_t s)
{
	uint64_t f = 1ull << 32 | 1ull << 30;
	msg(t, s, 1, false, NULL, 0, 0);
	msg(t, s, 1, true, &f, 8, 0);
	msg(t, s, 2, false, &f, 8, 0);
	uint8_t table[40] = {1};
	msg(t, s, 5, false, table, sizeof(table), 1);
	vring(t, s, 8, 0, 256);
	vring(t, s, 12, 0, 0);
}

/* "D:REQ" for declared records, "REQ" for events, "R" suffix for replies,
 * session-prefixed when more than one: "1:D:1 1:D:1R ..." */
static void read_back(const char *path, char *out, size_t cap, char *comment,
                      size_t ccap)
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
		if (rec.linktype != LINKTYPE_USER0)
			continue;
		struct vup_trace_hdr th;
		int hl = vup_trace_hdr_decode(rec.data, rec.caplen, &th, err,
		                              sizeof(err));
		assert_true(hl > 0);
		struct vup_hdr h;
		memcpy(&h, rec.data + hl, sizeof(h));
		size_t n = strlen(out);
		snprintf(out + n, cap - n, "%u:%s%u%s ", th.session,
		         th.declared ? "D:" : "", h.request,
		         (h.flags & 0x4) ? "R" : "");
		/* A declared record keeps when it first crossed, before
		 * the time it is restated at. */
		if (th.declared)
			assert_true(th.declared_ns < rec.ts_ns);
	}
	if (comment) {
		const char *c = vup_reader_section_comment(r);
		snprintf(comment, ccap, "%s", c ? c : "");
	}
	vup_reader_close(r);
	if (st != VUP_READ_END)
		fail_msg("%s: read status %d: %s", path, st, err);
}

static int open_out(const char *name, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	return fd;
}

/* A recorder with no -w keeps the set-up; a recording started later
 * restates it, then records what follows, of its session only. */
static void test_record_mid_session(void **state)
{
	(void)state;
	struct vup_trace_config cfg = {0};
	struct vup_trace *t;
	char err[256];
	assert_int_equal(vup_trace_open(&cfg, &t, err, sizeof(err)), 0);
	assert_false(vup_trace_writes_file(t));
	assert_int_equal(vup_trace_add_session(t, 1, "s1", "one"), 0);
	assert_int_equal(vup_trace_add_session(t, 2, "s2", "two"), 0);
	set_up(t, 1);
	set_up(t, 2);
	vring(t, 1, 8, 0, 128); /* vring 0 resized: the last one counts */
	char path[400];
	int fd = open_out("rec.pcapng", path, sizeof(path));
	struct vup_trace_rec rr = {.fd = fd, .gzip = false, .session = 1};
	int id = vup_trace_record(t, &rr, err, sizeof(err));
	assert_true(id > 0);
	assert_true(vup_trace_recording(t, id));
	vring(t, 1, 11, 0, 0); /* GET_VRING_BASE */
	vring(t, 2, 11, 0, 0);
	uint32_t base[2] = {0, 42};
	msg(t, 1, 11, true, base, 8, 0);
	uint64_t n;
	assert_int_equal(vup_trace_stop(t, id, &n), 0);
	assert_int_equal(n, 2);
	assert_false(vup_trace_recording(t, id));
	vring(t, 1, 10, 0, 0); /* after the stop: not in the file */
	assert_int_equal(vup_trace_close(t), 0);

	char got[1024];
	read_back(path, got, sizeof(got), NULL, 0);
	assert_string_equal(got, "1:D:1 1:D:1R 1:D:2 1:D:5 1:D:12 1:D:8 "
	                         "1:11 1:11R ");
}

/* The ring keeps its last bytes; a snapshot declares the set-up as it
 * stood at the oldest record kept, although the set-up itself fell out
 * long ago, and goes on recording until stopped. */
static void test_snapshot(void **state)
{
	(void)state;
	struct vup_trace_config cfg = {0};
	struct vup_trace *t;
	char err[256];
	assert_int_equal(vup_trace_open(&cfg, &t, err, sizeof(err)), 0);
	assert_int_equal(vup_trace_ring(t, 64 * 1024), 0);
	assert_int_equal(vup_trace_add_session(t, 1, "s1", "one"), 0);
	set_up(t, 1);
	/* A session that ends within the flood: gone from the snapshot. */
	assert_int_equal(vup_trace_add_session(t, 2, "s2", "two"), 0);
	set_up(t, 2);
	vup_trace_end_session(t, 2);
	/* 20000 SET_VRING_ENABLE of vring 1: ~1.5 MB through a 64 KiB
	 * ring.  The last enable before the window is declared. */
	for (uint32_t i = 0; i < 20000; i++)
		vring(t, 1, 18, 1, i & 1);
	struct vup_trace_ring_stats rs;
	assert_true(vup_trace_ring_stats(t, &rs));
	assert_true(rs.evicted > 10000);
	assert_true(rs.used <= 64 * 1024);
	char path[400];
	int fd = open_out("snap.pcapng.gz", path, sizeof(path));
	int id = vup_trace_snapshot(t, fd, "sigusr2", err, sizeof(err));
	if (id <= 0)
		fail_msg("snapshot: %s", err);
	vring(t, 1, 11, 1, 0); /* after the trigger: --snapshot-after */
	uint64_t n;
	assert_int_equal(vup_trace_stop(t, id, &n), 0);
	assert_int_equal(vup_trace_close(t), 0);

	static char got[1 << 16];
	char comment[256];
	read_back(path, got, sizeof(got), comment, sizeof(comment));
	if (strstr(comment, "trigger: sigusr2") == NULL)
		fail_msg("section comment \"%s\" names no trigger", comment);
	/* Declared: s1's set-up and the last enable before the window;
	 * then enables only, then the GET_VRING_BASE after the trigger. */
	const char *want = "1:D:1 1:D:1R 1:D:2 1:D:5 1:D:8 1:D:12 1:D:18 ";
	if (strncmp(got, want, strlen(want)) != 0)
		fail_msg("snapshot begins \"%.200s\", want \"%s\"", got, want);
	const char *rest = got + strlen(want);
	size_t enables = 0;
	while (strncmp(rest, "1:18 ", 5) == 0) {
		enables++;
		rest += 5;
	}
	assert_string_equal(rest, "1:11 ");
	assert_true(enables > 500);
	assert_int_equal(n, enables + 1);
	assert_null(strstr(got, "2:"));
}

/* A snapshot without a ring says how to get one; a pipe nobody reads
 * stops its recording, never the recorder. */
static void test_failures(void **state)
{
	(void)state;
	struct vup_trace_config cfg = {0};
	struct vup_trace *t;
	char err[256] = "";
	assert_int_equal(vup_trace_open(&cfg, &t, err, sizeof(err)), 0);
	assert_true(vup_trace_snapshot(t, 1, "ctl", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "--ring"));
	assert_int_equal(vup_trace_add_session(t, 1, "s1", "one"), 0);
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct vup_trace_rec rr = {.fd = p[1], .gzip = false};
	int id = vup_trace_record(t, &rr, err, sizeof(err));
	assert_true(id > 0);
	uint8_t big[4000] = {0};
	for (int i = 0; i < 8000; i++)
		msg(t, 1, 25, false, big, sizeof(big), 0); /* SET_CONFIG */
	assert_false(vup_trace_recording(t, id));
	assert_int_equal(vup_trace_stop(t, id, NULL), -EIO);
	close(p[0]);
	assert_int_equal(vup_trace_close(t), 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_record_mid_session),
	        cmocka_unit_test(test_snapshot),
	        cmocka_unit_test(test_failures),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
