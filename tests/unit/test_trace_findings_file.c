/* Unit tests for the trace writer's findings (src/trace/writer.c,
 * vup_trace_finding): the "vuproxy findings" interface declared before a
 * file's first finding and again in the next file of a rotation; a
 * finding's frame is its message's packet number in the open file
 * (counting every packet, findings included), 0 once rotated away. */
#include <stdio.h>
#include <stdlib.h>

#include "unit.h"
#include "vuproxy/reader.h"
#include "vuproxy/trace.h"
#include "vuproxy/tracemsg.h"

static char dir[256], path[300];

static int fsetup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/vup-findings.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/t.pcapng.gz", dir);
	return 0;
}

static int fteardown(void **state)
{
	(void)state;
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static uint64_t message(struct vup_trace *t, uint32_t num)
{
	struct vup_trace_hdr th = {.session = 1};
	struct vup_hdr h = hdr(VUP_REQ_SET_VRING_NUM, VUP_FLAG_VERSION, 8);
	uint32_t p[2] = {0, num};
	assert_int_equal(
	        vup_trace_message(t, 1000 + num, &th, &h, (const uint8_t *)p),
	        0);
	return vup_trace_seq(t);
}

static void finding(struct vup_trace *t, uint64_t about, const char *msg)
{
	struct vup_finding_rec f = {
	        .severity = 1,
	        .session = 1,
	        .request = VUP_REQ_SET_VRING_NUM,
	        .id = "VU017",
	        .id_len = 5,
	        .message = msg,
	        .message_len = strlen(msg),
	};
	assert_int_equal(vup_trace_finding(t, 5000, &f, about), 0);
}

/* One file: "C" for a control message, "D" for one restated as declared
 * state, "F<frame>" for a finding. */
static void expect_file(unsigned k, const char *want)
{
	char name[320], err[256], got[128] = "";
	assert_int_equal(vup_trace_file_name(path, k, name, sizeof(name)), 0);
	struct vup_reader *r;
	assert_int_equal(vup_reader_open(name, &r, err, sizeof(err)), 0);
	struct vup_record rec;
	while (vup_reader_next(r, &rec, err, sizeof(err)) == VUP_READ_RECORD) {
		size_t n = strlen(got);
		if (rec.linktype == LINKTYPE_USER0) {
			struct vup_trace_hdr th;
			assert_true(vup_trace_hdr_decode(rec.data, rec.caplen,
			                                 &th, err,
			                                 sizeof(err)) > 0);
			snprintf(got + n, sizeof(got) - n, "%s ",
			         th.declared ? "D" : "C");
			continue;
		}
		assert_int_equal(rec.linktype, LINKTYPE_USER3);
		assert_string_equal(rec.ifname, VUP_FINDING_IFACE);
		struct vup_finding_rec f;
		assert_true(vup_finding_decode(rec.data, rec.caplen, &f));
		assert_memory_equal(f.id, "VU017", 5);
		snprintf(got + n, sizeof(got) - n, "F%llu ",
		         (unsigned long long)f.frame);
	}
	vup_reader_close(r);
	assert_string_equal(got, want);
}

static void test_frames_across_rotation(void **state)
{
	(void)state;
	/* Every message starts a new file (the one before holds at least
	 * its header): file 0 holds no packet. */
	struct vup_trace_config cfg = {
	        .path = path, .rotate_bytes = 1, .findings = true};
	struct vup_trace *t;
	char err[256];
	assert_int_equal(vup_trace_open(&cfg, &t, err, sizeof(err)), 0);
	assert_int_equal(vup_trace_add_session(t, 1, "s1", "one"), 0);
	uint64_t a = message(t, 1);
	assert_true(a == 1);
	finding(t, a, "about a");
	uint64_t b = message(t, 2); /* file 2 */
	assert_true(b == 3);
	finding(t, a, "about a, in the file before");
	finding(t, b, "about b");
	finding(t, 0, "about nothing");
	assert_int_equal(vup_trace_close(t), 0);
	expect_file(0, "");
	expect_file(1, "C F1 ");
	/* File 2 restates the set-up a left (vring 0's size) before b,
	 * which is its frame 2. */
	expect_file(2, "D C F0 F2 F0 ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_frames_across_rotation,
	                                        fsetup, fteardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
