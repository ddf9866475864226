/* Unit tests for the trace writer and reader (src/trace): the promises of
 * DESIGN.md "Trace file" checked at the API, byte by byte.
 *
 * - file names of a rotation (FILE, FILE.1, ... before .pcapng.gz);
 * - every message is on disk, readable, once vup_trace_message returns
 *   (what a SIGKILL leaves: the stream without its gzip trailer);
 * - a file cut at ANY byte reads as a prefix of what was written, reported
 *   as truncated, and keeps every message flushed before the cut;
 * - the pseudo-header and message round-trip (flags, fds, rule, time);
 * - rotation: at most max_files files, each a complete gzip stream, each
 *   declaring exactly the sessions live when it was opened, every packet on
 *   its session's interface, no message lost or repeated;
 * - files are created 0600 whatever the umask;
 * - a rotation whose file cannot be finished (a write fails) stops the
 *   recording: no next file, -W removes nothing, the file ends after its
 *   last whole message.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "vuproxy/pcapng.h"
#include "vuproxy/reader.h"
#include "vuproxy/trace.h"

#define REQ_SET_VRING_NUM 8

/* ---- helpers ---- */

static char tmpdir[256];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/vup-trace-io.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int teardown_dir(void **state)
{
	(void)state;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", tmpdir, name);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	*len = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	uint8_t *b = malloc(cap);
	size_t got;
	while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			cap *= 2;
			b = realloc(b, cap);
		}
	}
	fclose(f);
	*len = n;
	return b;
}

static void spit(const char *path, const uint8_t *b, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* One message as the test wrote it. */
struct sent {
	uint64_t ts;
	struct vup_trace_hdr h;
	struct vup_hdr hdr;
	uint8_t payload[8];
};

static void make_msg(struct sent *s, uint32_t session, uint32_t counter)
{
	memset(s, 0, sizeof(*s));
	s->ts = 1795555397230071919ull + (uint64_t)counter * 1000003u;
	s->h.session = session;
	s->h.flags = (uint8_t)(counter % 3 == 1   ? VUP_TRACE_F_FROM_BACKEND
	                       : counter % 3 == 2 ? VUP_TRACE_F_BACKEND_CHAN |
	                                                    VUP_TRACE_F_AS_SENT
	                                          : 0);
	s->h.action = (uint8_t)(counter % VUP_TRACE_ACT_COUNT);
	s->h.nfds = (uint8_t)(counter % 4);
	for (unsigned i = 0; i < s->h.nfds; i++) {
		s->h.fds[i].kind = (uint8_t)((counter + i) % VUP_FDK_COUNT);
		s->h.fds[i].size = (uint64_t)counter << 20 | i;
	}
	if (counter % 5 == 0)
		snprintf(s->h.rule, sizeof(s->h.rule), "rule-%u", counter);
	s->hdr.request = REQ_SET_VRING_NUM;
	s->hdr.flags = 0x1;
	s->hdr.size = 8;
	uint32_t st[2] = {session, counter};
	memcpy(s->payload, st, 8);
}

static int write_msg(struct vup_trace *t, const struct sent *s)
{
	return vup_trace_message(t, s->ts, &s->h, &s->hdr, s->payload);
}

/* The counter a record carries (the num of its SET_VRING_NUM), checking
 * the record against what was sent when `want` is given. */
static uint32_t check_record(const struct vup_record *rec,
                             const struct sent *want)
{
	struct vup_trace_hdr th;
	char err[160];
	assert_int_equal(rec->linktype, LINKTYPE_USER0);
	int hl = vup_trace_hdr_decode(rec->data, rec->caplen, &th, err,
	                              sizeof(err));
	if (hl < 0)
		fail_msg("pseudo-header: %s", err);
	assert_int_equal(rec->caplen, (uint32_t)hl + 12 + 8);
	assert_int_equal(rec->origlen, rec->caplen);
	struct vup_hdr mh;
	memcpy(&mh, rec->data + hl, 12);
	assert_int_equal(mh.request, REQ_SET_VRING_NUM);
	assert_int_equal(mh.size, 8);
	uint32_t st[2];
	memcpy(st, rec->data + hl + 12, 8);
	assert_int_equal(st[0], th.session);
	/* The packet is on its session's interface: "s<id> ...". */
	char want_if[32];
	snprintf(want_if, sizeof(want_if), "s%u ", th.session);
	if (strncmp(rec->ifname, want_if, strlen(want_if)) != 0)
		fail_msg("record of session %u (counter %u) on interface "
		         "\"%s\"",
		         th.session, st[1], rec->ifname);
	if (want) {
		assert_int_equal(th.session, want->h.session);
		assert_int_equal(st[1], ((const uint32_t *)want->payload)[1]);
		assert_int_equal(th.flags, want->h.flags);
		assert_int_equal(th.action, want->h.action);
		assert_int_equal(th.nfds, want->h.nfds);
		for (unsigned i = 0; i < th.nfds; i++) {
			assert_int_equal(th.fds[i].kind, want->h.fds[i].kind);
			assert_int_equal(th.fds[i].size, want->h.fds[i].size);
		}
		assert_string_equal(th.rule, want->h.rule);
		assert_memory_equal(&mh, &want->hdr, 12);
		assert_true(rec->ts_ns == want->ts);
		assert_int_equal(rec->epb_flags,
		                 (want->h.flags & VUP_TRACE_F_FROM_BACKEND)
		                         ? PCAPNG_DIR_INBOUND
		                         : PCAPNG_DIR_OUTBOUND);
	}
	return st[1];
}

/* Tap frames between the messages (test_every_message_on_disk): frame
 * k is k % 1500 + 14 bytes, byte i being (k * 31 + i * i) & 0xff, so that
 * some compress and some do not. */
static uint32_t frames_read;
/* Records restated as declared state (rotation): session and counter. */
#define MAX_DECLARED 8
static struct {
	uint32_t session, counter;
} declared_read[MAX_DECLARED];
static size_t ndeclared_read;

static uint32_t frame_make(uint32_t k, uint8_t *out)
{
	uint32_t len = k * 97 % 1500 + 14;
	for (uint32_t i = 0; i < len; i++)
		out[i] = (uint8_t)((k * 31 + i * i * (k & 1)) & 0xff);
	return len;
}

static void check_frame(const struct vup_record *rec, uint32_t k)
{
	uint8_t want[1514];
	uint32_t len = frame_make(k, want);
	if (rec->caplen != len || memcmp(rec->data, want, len) != 0)
		fail_msg("frame %u: %u bytes read, %u written, or other "
		         "bytes",
		         k, rec->caplen, len);
}

/* Read a whole file: the counters of its records (up to max), the final
 * status and its message; frames are checked and counted in
 * frames_read. */
static enum vup_read_status read_all(const char *path, uint32_t *counters,
                                     size_t max, size_t *n,
                                     const struct sent *sent, char *err,
                                     size_t errlen)
{
	struct vup_reader *r;
	if (vup_reader_open(path, &r, err, errlen))
		fail_msg("open %s: %s", path, err);
	*n = 0;
	enum vup_read_status st;
	struct vup_record rec;
	err[0] = '\0';
	frames_read = 0;
	ndeclared_read = 0;
	while ((st = vup_reader_next(r, &rec, err, errlen)) ==
	       VUP_READ_RECORD) {
		if (rec.linktype == LINKTYPE_ETHERNET) {
			if (sent) /* frame_make's frames */
				check_frame(&rec, frames_read);
			frames_read++;
			continue;
		}
		struct vup_trace_hdr th;
		char e2[160];
		if (vup_trace_hdr_decode(rec.data, rec.caplen, &th, e2,
		                         sizeof(e2)) > 0 &&
		    th.declared) {
			assert_true(ndeclared_read < MAX_DECLARED);
			declared_read[ndeclared_read].session = th.session;
			declared_read[ndeclared_read++].counter =
			        check_record(&rec, NULL);
			continue;
		}
		assert_true(*n < max);
		counters[*n] = check_record(&rec, sent ? &sent[*n] : NULL);
		(*n)++;
	}
	vup_reader_close(r);
	return st;
}

static const char *status_name(enum vup_read_status st)
{
	switch (st) {
	case VUP_READ_RECORD: return "RECORD";
	case VUP_READ_END: return "END";
	case VUP_READ_TRUNCATED: return "TRUNCATED";
	case VUP_READ_CORRUPT: return "CORRUPT";
	}
	return "?";
}

/* ---- file names ---- */

static void test_file_names(void **state)
{
	(void)state;
	char out[64];
	static const struct {
		const char *path;
		unsigned k;
		const char *want;
	} cases[] = {
	        {"vm1.pcapng.gz", 0, "vm1.pcapng.gz"},
	        {"vm1.pcapng.gz", 1, "vm1.1.pcapng.gz"},
	        {"vm1.pcapng.gz", 2, "vm1.2.pcapng.gz"},
	        {"vm1.pcapng.gz", 17, "vm1.17.pcapng.gz"},
	        {"/d.x/run.pcapng.gz", 3, "/d.x/run.3.pcapng.gz"},
	        {"plain.pcapng", 2, "plain.2.pcapng"},
	        {"z.gz", 2, "z.2.gz"},
	        {"trace", 2, "trace.2"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(vup_trace_file_name(cases[i].path, cases[i].k,
		                                     out, sizeof(out)),
		                 0);
		assert_string_equal(out, cases[i].want);
	}
	char tiny[8];
	assert_int_equal(
	        vup_trace_file_name("vm1.pcapng.gz", 1, tiny, sizeof(tiny)),
	        -ENAMETOOLONG);
}

/* ---- crash safety: every message readable once written ---- */

#define NCRASH 80

static struct sent crash_sent[NCRASH];
static off_t crash_size[NCRASH]; /* file size once message k returned */

static void test_every_message_on_disk(void **state)
{
	(void)state;
	char path[512], err[256];
	path_in(path, sizeof(path), "crash.pcapng.gz");
	/* A stale file with a loose mode: replaced, and 0600. */
	uint8_t junk[100] = {0};
	spit(path, junk, sizeof(junk));
	assert_int_equal(chmod(path, 0666), 0);
	mode_t old = umask(0);
	struct vup_trace_config cfg = {.path = path};
	struct vup_trace *t;
	int rc = vup_trace_open(&cfg, &t, err, sizeof(err));
	umask(old);
	if (rc)
		fail_msg("vup_trace_open: %s", err);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(vup_trace_add_session(t, 7, "s7 a>b", "session 7"), 0);
	/* Tap frames between some messages: messages and frames go out at
	 * different compression levels (writer.c, set_level), and a
	 * message flushes the frames before it. */
	uint32_t net, frames = 0;
	assert_int_equal(vup_trace_add_iface(t, 7, LINKTYPE_ETHERNET, 1514,
	                                     "s7 net q1 tx", "tx", &net),
	                 0);
	static uint32_t counters[NCRASH];
	for (uint32_t k = 0; k < NCRASH; k++) {
		for (uint32_t f = 0; f < k % 4; f++, frames++) {
			uint8_t fr[1514];
			uint32_t len = frame_make(frames, fr);
			assert_int_equal(vup_trace_packet(t, net, 1000 + frames,
			                                  PCAPNG_DIR_OUTBOUND,
			                                  fr, len, len),
			                 0);
		}
		make_msg(&crash_sent[k], 7, k);
		assert_int_equal(write_msg(t, &crash_sent[k]), 0);
		/* What a SIGKILL now would leave on disk. */
		assert_int_equal(stat(path, &st), 0);
		crash_size[k] = st.st_size;
		size_t n;
		enum vup_read_status rs =
		        read_all(path, counters, NCRASH, &n, crash_sent, err,
		                 sizeof(err));
		if (n != k + 1 || frames_read != frames)
			fail_msg("after message %u returned, the file on disk "
			         "reads %zu messages and %u of %u frames (%s: "
			         "%s)",
			         k, n, frames_read, frames, status_name(rs),
			         err);
		if (rs != VUP_READ_TRUNCATED)
			fail_msg("an open trace (no gzip trailer) after "
			         "message %u reads as %s, not TRUNCATED: %s",
			         k, status_name(rs), err);
	}
	assert_int_equal(vup_trace_count(t), NCRASH);
	/* A message of a session never declared is refused, not counted. */
	struct sent stray;
	make_msg(&stray, 99, 0);
	assert_int_not_equal(write_msg(t, &stray), 0);
	assert_int_equal(vup_trace_count(t), NCRASH);
	assert_int_equal(vup_trace_close(t), 0);

	size_t n;
	enum vup_read_status rs = read_all(path, counters, NCRASH, &n,
	                                   crash_sent, err, sizeof(err));
	if (rs != VUP_READ_END || n != NCRASH)
		fail_msg("closed trace: %zu of %d messages, %s: %s", n, NCRASH,
		         status_name(rs), err);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

/* ---- a cut at any byte: a prefix, reported as truncated ---- */

static void test_cut_anywhere(void **state)
{
	(void)state;
	char path[512], cut[512], err[256];
	path_in(path, sizeof(path), "crash.pcapng.gz"); /* from above */
	path_in(cut, sizeof(cut), "cut.pcapng.gz");
	size_t len = 0;
	uint8_t *all = slurp(path, &len);
	assert_non_null(all);
	assert_true(len > (size_t)crash_size[NCRASH - 1]);
	static uint32_t counters[NCRASH];
	size_t prev = NCRASH;
	/* Longest cut first: truncate(2) makes each shorter one.  From 2
	 * bytes on (a 1-byte file cannot be told from a non-gzip one); the
	 * whole file is checked by the test above. */
	spit(cut, all, len);
	for (size_t l = len - 1; l >= 2; l--) {
		assert_int_equal(truncate(cut, (off_t)l), 0);
		size_t n;
		enum vup_read_status rs =
		        read_all(cut, counters, NCRASH, &n, crash_sent, err,
		                 sizeof(err));
		if (rs != VUP_READ_TRUNCATED)
			fail_msg("cut at byte %zu of %zu: %s (%s), want "
			         "TRUNCATED",
			         l, len, status_name(rs), err);
		if (!strstr(err, "cut short"))
			fail_msg("cut at byte %zu: message \"%s\" does not say "
			         "the file is cut short",
			         l, err);
		size_t flushed = 0;
		while (flushed < NCRASH && (size_t)crash_size[flushed] <= l)
			flushed++;
		if (n < flushed)
			fail_msg("cut at byte %zu: %zu messages read, but %zu "
			         "were on disk by then",
			         l, n, flushed);
		assert_true(n <= prev);
		prev = n;
	}
	assert_int_equal(prev, 0);
	free(all);
}

/* ---- rotation ---- */

/* The IDB names of a (complete or not) file, before its first packet,
 * and the number of IDBs in all. */
static size_t leading_idbs(const char *path, char names[][64], size_t max,
                           size_t *total)
{
	gzFile gz = gzopen(path, "rb");
	assert_non_null(gz);
	size_t cap = 1 << 16, len = 0;
	uint8_t *b = malloc(cap);
	int got;
	while ((got = gzread(gz, b + len, (unsigned)(cap - len))) > 0) {
		len += (size_t)got;
		if (len == cap)
			b = realloc(b, cap *= 2);
		assert_non_null(b);
	}
	gzclose(gz);
	size_t off = 0, n = 0;
	bool before_epb = true;
	*total = 0;
	struct pcapng_block blk;
	char err[160];
	int rc;
	while ((rc = pcapng_next(b + off, len - off, false, &blk, err,
	                         sizeof(err))) == 1) {
		/* Declared state belongs to the file's start. */
		struct vup_trace_hdr th;
		if (blk.type == PCAPNG_EPB &&
		    !(blk.body_len > 20 &&
		      vup_trace_hdr_decode(blk.body + 20, blk.body_len - 20,
		                           &th, err, sizeof(err)) > 0 &&
		      th.declared))
			before_epb = false;
		if (blk.type == PCAPNG_IDB) {
			(*total)++;
			/* options after linktype, reserved, snaplen */
			const uint8_t *o = blk.body + 8;
			size_t left = blk.body_len - 8;
			while (before_epb && left >= 4) {
				uint16_t code, olen;
				memcpy(&code, o, 2);
				memcpy(&olen, o + 2, 2);
				if (code == 0)
					break;
				if (code == 2 && n < max) {
					snprintf(names[n++], 64, "%.*s",
					         (int)olen,
					         (const char *)o + 4);
					break;
				}
				size_t adv = 4 + ((olen + 3u) & ~3u);
				if (adv > left)
					break;
				o += adv;
				left -= adv;
			}
		}
		off += blk.total_len;
	}
	if (rc < 0)
		fail_msg("%s: %s", path, err);
	free(b);
	return n;
}

#define NROT 900
/* The session of each message written (test_rotation). */
static uint32_t sent_session[900];
#define ROT_BYTES 2048
#define ROT_FILES 3
#define MAX_IDBS  64

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Is make_msg's message `counter` part of its session's set-up?  A
 * SET_VRING_NUM the front-end sent on the main channel that reached the
 * back-end (passed, delayed or logged): the others are replies, back-end
 * channel messages, timing notes, dropped, failed or refused. */
static bool sets_up(uint32_t counter)
{
	uint32_t a = counter % VUP_TRACE_ACT_COUNT;
	return counter % 3 == 0 &&
	       (a == VUP_TRACE_ACT_PASS || a == VUP_TRACE_ACT_DELAY ||
	        a == VUP_TRACE_ACT_LOG);
}

/* A rotated file restates, for each session live at its start, the last
 * message before it that set the session's vring up (each session's
 * messages use vring index = session: one key). */
static void expect_declared(const char *name, uint32_t first, unsigned live)
{
	size_t want = 0;
	for (uint32_t s = 1; s < 5; s++) {
		if (!(live >> s & 1))
			continue;
		/* Round robin: the session's messages are the counters
		 * written while it was live; find its last that sets up. */
		int64_t last = -1;
		for (int64_t c = (int64_t)first - 1; c >= 0 && last < 0; c--)
			if (sent_session[c] == s && sets_up((uint32_t)c))
				last = c;
		if (last < 0)
			continue;
		bool found = false;
		for (size_t i = 0; i < ndeclared_read; i++)
			found |= declared_read[i].session == s &&
			         declared_read[i].counter == (uint32_t)last;
		if (!found)
			fail_msg(
			        "%s: session %u's set-up (message %lld) is not "
			        "restated before message %u",
			        name, s, (long long)last, first);
		want++;
	}
	if (ndeclared_read != want)
		fail_msg("%s restates %zu records, %zu sessions had a set-up",
		         name, ndeclared_read, want);
}

static void test_rotation(void **state)
{
	(void)state;
	char path[512], err[256];
	path_in(path, sizeof(path), "rot.pcapng.gz");
	struct vup_trace_config cfg = {.path = path,
	                               .rotate_bytes = ROT_BYTES,
	                               .max_files = ROT_FILES};
	struct vup_trace *t;
	if (vup_trace_open(&cfg, &t, err, sizeof(err)))
		fail_msg("vup_trace_open: %s", err);
	/* Sessions come and go: live[s] while 1. */
	bool live[5] = {0};
	/* For each counter, the live set when it was written (bit mask). */
	static unsigned live_at[NROT];
	char nm[32];
	for (uint32_t k = 0; k < NROT; k++) {
		/* s1 from the start to 1/2, s2 from 1/6 on, s3 from 1/3 to
		 * 2/3, s4 from 5/6 on. */
		static const struct {
			uint32_t s, from, to;
		} plan[] = {{1, 0, NROT / 2},
		            {2, NROT / 6, NROT},
		            {3, NROT / 3, 2 * NROT / 3},
		            {4, 5 * NROT / 6, NROT}};
		for (size_t i = 0; i < 4; i++) {
			if (k == plan[i].from) {
				snprintf(nm, sizeof(nm), "s%u x>y", plan[i].s);
				assert_int_equal(vup_trace_add_session(
				                         t, plan[i].s, nm, "d"),
				                 0);
				live[plan[i].s] = true;
			}
			if (k == plan[i].to && plan[i].to != NROT) {
				vup_trace_end_session(t, plan[i].s);
				live[plan[i].s] = false;
			}
		}
		unsigned mask = 0, nlive = 0;
		for (unsigned s = 1; s < 5; s++)
			if (live[s]) {
				mask |= 1u << s;
				nlive++;
			}
		/* Round robin over the live sessions. */
		unsigned pick = k % nlive, s = 1;
		for (;; s++)
			if (live[s] && pick-- == 0)
				break;
		struct sent m;
		make_msg(&m, s, k);
		sent_session[k] = s;
		live_at[k] = mask;
		assert_int_equal(write_msg(t, &m), 0);
	}
	assert_int_equal(vup_trace_count(t), NROT);
	assert_int_equal(vup_trace_close(t), 0);

	/* Which files exist: exactly the last ROT_FILES. */
	char name[600];
	unsigned last = 0;
	for (unsigned k = 0; k < 200; k++) {
		assert_int_equal(
		        vup_trace_file_name(path, k, name, sizeof(name)), 0);
		if (exists(name))
			last = k;
	}
	if (last < ROT_FILES + 1)
		fail_msg("only %u rotations for %d messages of %d-byte "
		         "files: the test needs more",
		         last, NROT, ROT_BYTES);
	for (unsigned k = 0; k <= last; k++) {
		vup_trace_file_name(path, k, name, sizeof(name));
		bool want = k + ROT_FILES > last;
		if (exists(name) != want)
			fail_msg("%s %s; with -W %d and last file %u it "
			         "should %s",
			         name, exists(name) ? "exists" : "is missing",
			         ROT_FILES, last, want ? "exist" : "be gone");
	}

	static uint32_t counters[NROT];
	uint32_t expect_next = 0;
	bool first = true;
	for (unsigned k = last + 1 - ROT_FILES; k <= last; k++) {
		vup_trace_file_name(path, k, name, sizeof(name));
		struct stat st;
		assert_int_equal(stat(name, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		/* A file is closed once it passes the size, not long after
		 * (one message). */
		if (k != last &&
		    (st.st_size < ROT_BYTES || st.st_size > ROT_BYTES + 512))
			fail_msg("%s: %lld bytes, rotation at %d", name,
			         (long long)st.st_size, ROT_BYTES);
		size_t n;
		enum vup_read_status rs = read_all(name, counters, NROT, &n,
		                                   NULL, err, sizeof(err));
		if (rs != VUP_READ_END)
			fail_msg("%s: %s (%s); a closed rotation file must be "
			         "complete",
			         name, status_name(rs), err);
		assert_true(n > 0);
		if (first) {
			assert_true(counters[0] > 0); /* older files are gone */
			expect_next = counters[0];
			first = false;
		}
		for (size_t i = 0; i < n; i++) {
			if (counters[i] != expect_next)
				fail_msg("%s: record %zu is message %u, "
				         "expected "
				         "%u (lost or repeated across files)",
				         name, i, counters[i], expect_next);
			expect_next++;
		}
		/* The IDBs before the first packet: exactly the sessions
		 * live when the file was started. */
		char names[MAX_IDBS][64], want[MAX_IDBS][64];
		size_t total;
		size_t ni = leading_idbs(name, names, MAX_IDBS, &total);
		size_t nw = 0;
		for (unsigned s = 1; s < 5; s++)
			if (live_at[counters[0]] >> s & 1)
				snprintf(want[nw++], 64, "s%u x>y", s);
		qsort(names, ni, 64, name_cmp);
		if (ni != nw)
			fail_msg("%s declares %zu sessions before its first "
			         "packet, %zu were live",
			         name, ni, nw);
		for (size_t i = 0; i < nw; i++)
			assert_string_equal(names[i], want[i]);
		expect_declared(name, counters[0], live_at[counters[0]]);
	}
	assert_int_equal(expect_next, NROT);
}

/* ---- rotation when the file being closed cannot be finished ---- */

/* The file size limit makes every write past the current end fail with
 * EFBIG (SIGXFSZ ignored): the Z_FINISH of the rotation fails.  Recording
 * stops there: no next file is opened, -W removes nothing (the oldest file
 * stays), the failed file ends after its last whole message and reads
 * back in order, and nothing more is recorded. */
#define WF_BYTES 1024

static void test_rotation_close_fails(void **state)
{
	(void)state;
	char path[512], f0[600], f1[600], f2[600], err[256];
	path_in(path, sizeof(path), "wfail.pcapng.gz");
	vup_trace_file_name(path, 0, f0, sizeof(f0));
	vup_trace_file_name(path, 1, f1, sizeof(f1));
	vup_trace_file_name(path, 2, f2, sizeof(f2));
	struct vup_trace_config cfg = {
	        .path = path, .rotate_bytes = WF_BYTES, .max_files = 2};
	struct vup_trace *t;
	if (vup_trace_open(&cfg, &t, err, sizeof(err)))
		fail_msg("vup_trace_open: %s", err);
	assert_int_equal(vup_trace_add_session(t, 1, "s1 x>y", "d"), 0);
	/* Fill file 0, rotate to file 1, fill it up to the size at which
	 * the next message rotates again. */
	static struct sent sent[NROT];
	uint32_t k = 0;
	struct stat st;
	for (;; k++) {
		assert_true(k < NROT);
		make_msg(&sent[k], 1, k);
		assert_int_equal(write_msg(t, &sent[k]), 0);
		if (stat(f1, &st) == 0 && st.st_size >= WF_BYTES)
			break;
	}
	k++;
	uint64_t count = vup_trace_count(t);
	assert_int_equal(count, k);
	off_t size1 = st.st_size;

	struct rlimit old, lim;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)size1;
	void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	struct sent next;
	make_msg(&next, 1, k);
	int rc = write_msg(t, &next);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	assert_int_not_equal(rc, 0);

	/* Stopped: no file 2, file 0 kept, nothing more recorded. */
	if (exists(f2))
		fail_msg("%s was opened although %s could not be finished", f2,
		         f1);
	if (!exists(f0))
		fail_msg("-W removed %s although the rotation failed", f0);
	assert_int_not_equal(write_msg(t, &next), 0);
	assert_int_equal(vup_trace_count(t), count);
	assert_int_equal(vup_trace_close(t), 0);
	assert_false(exists(f2));

	/* File 1: its messages in order, without its gzip trailer. */
	assert_int_equal(stat(f1, &st), 0);
	assert_int_equal(st.st_size, size1);
	static uint32_t counters[NROT];
	size_t n0, n1;
	enum vup_read_status rs =
	        read_all(f0, counters, NROT, &n0, sent, err, sizeof(err));
	if (rs != VUP_READ_END)
		fail_msg("%s: %s (%s)", f0, status_name(rs), err);
	rs = read_all(f1, counters, NROT, &n1, sent + n0, err, sizeof(err));
	if (rs != VUP_READ_TRUNCATED)
		fail_msg("%s: %s (%s), want TRUNCATED", f1, status_name(rs),
		         err);
	assert_int_equal(n0 + n1, count);
}

/* A trace with no session and no message is a valid, empty trace. */
/* Control messages are stored, frames compressed (writer.c, set_level):
 * frames waiting when a message comes are compressed before the switch,
 * and a message between every frame does not leave the frames stored. */
static void test_frames_stay_compressed(void **state)
{
	(void)state;
	char path[512], err[256];
	path_in(path, sizeof(path), "mixed.pcapng.gz");
	struct vup_trace_config cfg = {.path = path};
	struct vup_trace *t;
	if (vup_trace_open(&cfg, &t, err, sizeof(err)))
		fail_msg("vup_trace_open: %s", err);
	assert_int_equal(vup_trace_add_session(t, 3, "s3 a>b", "session 3"), 0);
	uint32_t net;
	assert_int_equal(vup_trace_add_iface(t, 3, LINKTYPE_ETHERNET, 1514,
	                                     "s3 net q1 tx", "tx", &net),
	                 0);
	static uint8_t zeros[1000];
	enum { N = 200 };
	for (uint32_t k = 0; k < N; k++) {
		assert_int_equal(vup_trace_packet(t, net, 2000 + k,
		                                  PCAPNG_DIR_OUTBOUND, zeros,
		                                  sizeof(zeros), sizeof(zeros)),
		                 0);
		struct sent m;
		make_msg(&m, 3, k);
		assert_int_equal(write_msg(t, &m), 0);
	}
	assert_int_equal(vup_trace_close(t), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	/* Stored, the frames alone would take 200 KB. */
	if (st.st_size > N * (off_t)sizeof(zeros) / 4)
		fail_msg("%d frames of 1000 zero bytes, each followed by a "
		         "message, take %lld bytes: the frames were not "
		         "compressed",
		         N, (long long)st.st_size);
	static uint32_t counters[N];
	size_t n;
	enum vup_read_status rs =
	        read_all(path, counters, N, &n, NULL, err, sizeof(err));
	if (rs != VUP_READ_END || n != N)
		fail_msg("%s, %zu messages (%s)", status_name(rs), n, err);
}

static void test_empty_trace(void **state)
{
	(void)state;
	char path[512], err[256];
	path_in(path, sizeof(path), "empty.pcapng.gz");
	struct vup_trace_config cfg = {.path = path};
	struct vup_trace *t;
	if (vup_trace_open(&cfg, &t, err, sizeof(err)))
		fail_msg("vup_trace_open: %s", err);
	assert_int_equal(vup_trace_close(t), 0);
	uint32_t c[1];
	size_t n;
	enum vup_read_status rs =
	        read_all(path, c, 1, &n, NULL, err, sizeof(err));
	if (rs != VUP_READ_END || n != 0)
		fail_msg("empty trace: %s, %zu records (%s)", status_name(rs),
		         n, err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_file_names),
	        cmocka_unit_test(test_every_message_on_disk),
	        cmocka_unit_test(test_cut_anywhere),
	        cmocka_unit_test(test_rotation),
	        cmocka_unit_test(test_rotation_close_fails),
	        cmocka_unit_test(test_frames_stay_compressed),
	        cmocka_unit_test(test_empty_trace),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
