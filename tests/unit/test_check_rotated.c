/* Unit tests of `vuproxy check` on rotated files (-C/-W): a file that
 * starts in the middle of a session, written here by the trace writer
 * with a rotation after every message.  Its interfaces say "continued"
 * (VUP_IDB_CONTINUED) and it restates the session's set-up first
 * (declared state), so check judges it against that set-up: a reply to
 * a request of the previous file pairs with the request restated, a
 * request answered in the next file is no error, a broken header is, and
 * so are ring addresses when the set-up has no memory table.  A file of
 * an older vuproxy, without declared state, is test_check_declared's. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check_run.h"
#include "unit.h"
#include "vuproxy/check.h"
#include "vuproxy/dump.h"
#include "vuproxy/reader.h"
#include "vuproxy/trace.h"

static char dir[] = "/tmp/vup-check-rot-XXXXXX";
static char base[600], out_path[600];
#define NFILES 5

static void msg(struct vup_trace *t, uint64_t ts, bool from_be, uint32_t code,
                uint32_t flags, const void *p, uint32_t size)
{
	struct vup_trace_hdr th;
	memset(&th, 0, sizeof(th));
	th.session = 1;
	th.action = VUP_TRACE_ACT_PASS;
	th.flags = from_be ? VUP_TRACE_F_FROM_BACKEND : 0;
	struct vup_hdr h = hdr(code, flags, size);
	assert_int_equal(vup_trace_message(t, ts, &th, &h, p), 0);
}

/* The writer rotates before a message once the file is past 1 byte, so
 * file 0 holds the set-up (the section and the session's interface) and
 * each later file one message: 1 GET_VRING_BASE asked, 2 its reply, 3 a
 * header of version 2, 4 SET_VRING_ADDR (no memory table in that file).
 * A file that is not continued is tested by test_check_cmd, unchanged. */
static int write_files(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(base, sizeof(base), "%s/t.pcapng.gz", dir);
	snprintf(out_path, sizeof(out_path), "%s/out", dir);
	struct vup_trace_config cfg = {.path = base, .rotate_bytes = 1};
	struct vup_trace *t;
	char err[256];
	if (vup_trace_open(&cfg, &t, err, sizeof(err)))
		return -1;
	vup_trace_add_session(t, 1, "s1 a>b", "session 1");
	uint8_t state8[8] = {0}, addr[40] = {0};
	msg(t, 1, false, VUP_REQ_GET_VRING_BASE, REQ, state8, 8);
	msg(t, 2, true, VUP_REQ_GET_VRING_BASE, REPLY, state8, 8);
	msg(t, 3, false, VUP_REQ_SET_VRING_NUM, 0x2, state8, 8);
	msg(t, 4, false, VUP_REQ_SET_VRING_ADDR, REQ, addr, sizeof(addr));
	return vup_trace_close(t) ? -1 : 0;
}

static void file_name(unsigned k, char *out, size_t len)
{
	assert_int_equal(vup_trace_file_name(base, k, out, len), 0);
}

static int cleanup(void **state)
{
	(void)state;
	char name[700];
	for (unsigned k = 0; k <= NFILES; k++) {
		file_name(k, name, sizeof(name));
		unlink(name);
	}
	unlink(out_path);
	rmdir(dir);
	return 0;
}

/* `vuproxy check` on file k, stdout into out_path. */
static int run(unsigned k)
{
	char name[700];
	file_name(k, name, sizeof(name));
	return check_run(out_path, name, NULL, NULL, NULL);
}

#define slurp check_slurp

/* The reader tells a re-declared interface from a new one. */
static void test_reader_sees_continued(void **state)
{
	(void)state;
	for (unsigned k = 0; k < NFILES; k++) {
		char name[700], err[256];
		file_name(k, name, sizeof(name));
		struct vup_reader *rd;
		assert_int_equal(vup_reader_open(name, &rd, err, sizeof(err)),
		                 0);
		struct vup_record rec;
		enum vup_read_status st =
		        vup_reader_next(rd, &rec, err, sizeof(err));
		assert_int_equal(st, k ? VUP_READ_RECORD : VUP_READ_END);
		if (k)
			assert_true(rec.continued);
		vup_reader_close(rd);
	}
}

/* File 0 holds no packet, only the session's interface and the note
 * that it goes on: a trace dump reads (it is no tap statistic). */
static void test_dump_reads_notes(void **state)
{
	(void)state;
	char name[700];
	file_name(0, name, sizeof(name));
	char *argv[] = {"dump", name};
	fflush(stdout);
	assert_int_equal(vup_dump_main(2, argv), 0);
}

/* A request whose reply is in the next file: the file's end says the
 * session goes on (VUP_ISB_GOES_ON), so it is owed, not missing. */
static void test_request_owed(void **state)
{
	(void)state;
	assert_int_equal(run(1), 0);
	const char *out = slurp(out_path);
	assert_contains(out, "frame 1 s1 VU023 info GET_VRING_BASE: "
	                     "GET_VRING_BASE (#11) on the main channel never "
	                     "answered before the file ended");
	assert_lacks(out, "VU022");
}

/* A reply to the previous file's request: the request is restated
 * (declared, still unanswered), the reply pairs with it: no VU009. */
static void test_reply_to_earlier_file(void **state)
{
	(void)state;
	assert_int_equal(run(2), 0);
	const char *out = slurp(out_path);
	assert_lacks(out, "VU009");
	assert_contains(out, "judged against the set-up it declared (1 "
	                     "records)");
	assert_contains(out, "0 errors, 0 warnings");
}

/* A broken header is judged; its frame counts the declared packets
 * (GET_VRING_BASE and its reply). */
static void test_framing_judged(void **state)
{
	(void)state;
	assert_int_equal(run(3), 1);
	assert_contains(slurp(out_path), "frame 3 s1 VU001 error "
	                                 "SET_VRING_NUM");
}

/* Ring addresses where the declared set-up has no memory table: the file
 * stands alone, so the order is judged. */
static void test_order_judged(void **state)
{
	(void)state;
	run(4);
	const char *out = slurp(out_path);
	assert_contains(out, "VU019");
	assert_lacks(out, "began in an earlier file");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_reader_sees_continued),
	        cmocka_unit_test(test_dump_reads_notes),
	        cmocka_unit_test(test_request_owed),
	        cmocka_unit_test(test_reply_to_earlier_file),
	        cmocka_unit_test(test_framing_judged),
	        cmocka_unit_test(test_order_judged),
	};
	return cmocka_run_group_tests(tests, write_files, cleanup);
}
