/* libFuzzer target for the trace reader (src/trace/reader.c) and what
 * `vuproxy dump` prints of its records (src/dump/dump.c, dump_tap.c,
 * dump_eth.c, dump_pcap.c).
 *
 * Input: one options byte, then the file.
 *   bit 0     gzip the file with zlib before it is read (a file that
 *             starts 1f 8b is read as gzip anyway: damaged streams)
 *   bit 1     with bit 0: cut the gzip stream short by 1 + (bits 5-7) * 7
 *             bytes (a trace of a killed proxy)
 *   bits 2-4  the dump options: 0 none, 1 --json, 2 --session 1,
 *             3 --request GET_FEATURES,SET_VRING_NUM, 4 --json --session 2,
 *             5 --ethernet-out /dev/null, 6 --json --request SET_FEATURES,
 *             7 --session 2 --ethernet-out /dev/null
 * A file that inflates to more than 1 MiB is skipped (time).  The file
 * goes to a memfd, read through /proc/self/fd/N.  Each input:
 *   1. vup_dump_main(dump FILE OPTIONS), stdout and stderr on /dev/null;
 *   2. the reader again, statistics on or off (bit 5), and for each record
 *      the printers dump would use, on exact-size heap copies of the
 *      record's bytes and strings (ASan sees an overread there, where it
 *      cannot inside the reader's larger buffer): vup_dump_tap in text
 *      and JSON for tap records, whichever section they are in,
 *      vup_dump_eth_decode for Ethernet frames, the pseudo-header decode
 *      and vup_render_text / vup_render_json for control messages.
 * Checked besides memory safety: a packet has data and fits in the bytes
 * the reader consumed for it (caplen + 32 <= offset advance); statistics
 * have none; strings are NUL-terminated within their bounds; the offset
 * never goes back nor past the uncompressed size (when known); a file
 * that ends cleanly was read to its last byte.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "dump/dump_tap.h"
#include "vuproxy/dump.h"
#include "vuproxy/pcapng.h"
#include "vuproxy/proto.h"
#include "vuproxy/reader.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(saved_stderr, "%s:%d: check failed: %s\n",     \
			        __FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

static FILE *saved_stderr, *devnull;
static int memfd = -1;
static char path[64];
static uint8_t *zbuf;
static size_t zcap;

static void init(void)
{
	if (memfd >= 0)
		return;
	saved_stderr = stderr;
	devnull = fopen("/dev/null", "w");
	memfd = memfd_create("vup-fuzz-trace", MFD_CLOEXEC);
	if (!devnull || memfd < 0 || !freopen("/dev/null", "w", stdout)) {
		perror("fuzz_reader: init");
		abort();
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
}

/* gzip p[0..n) into zbuf; its length, or 0 on failure. */
static size_t gzip(const uint8_t *p, size_t n, int level)
{
	z_stream z = {0};
	if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8,
	                 Z_DEFAULT_STRATEGY) != Z_OK)
		return 0;
	size_t need = deflateBound(&z, n);
	if (need > zcap) {
		free(zbuf);
		zcap = need;
		zbuf = malloc(zcap);
		if (!zbuf) {
			zcap = 0;
			deflateEnd(&z);
			return 0;
		}
	}
	z.next_in = (uint8_t *)p;
	z.avail_in = (uInt)n;
	z.next_out = zbuf;
	z.avail_out = (uInt)zcap;
	int rc = deflate(&z, Z_FINISH);
	size_t out = zcap - z.avail_out;
	deflateEnd(&z);
	return rc == Z_STREAM_END ? out : 0;
}

/* Whether the gzip members at p[0..n) inflate (as far as they do) to more
 * than cap bytes.  A 16 KiB input may hold 16 MiB: hundreds of thousands
 * of records, seconds of work; such inputs are skipped. */
static bool inflates_beyond(const uint8_t *p, size_t n, size_t cap)
{
	static uint8_t out[65536];
	z_stream z = {0};
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return true;
	z.next_in = (uint8_t *)p;
	z.avail_in = (uInt)n;
	size_t total = 0;
	for (;;) {
		z.next_out = out;
		z.avail_out = sizeof(out);
		int rc = inflate(&z, Z_NO_FLUSH);
		total += sizeof(out) - z.avail_out;
		if (total > cap)
			break;
		if (rc == Z_STREAM_END && z.avail_in)
			inflateReset(&z); /* another member */
		else if (rc != Z_OK)
			break;
	}
	inflateEnd(&z);
	return total > cap;
}

static void write_file(const uint8_t *p, size_t n)
{
	if (ftruncate(memfd, 0) || (n && pwrite(memfd, p, n, 0) != (ssize_t)n))
		abort();
}

static void run_dump(unsigned opts)
{
	static const char *const argsets[8][5] = {
	        {NULL},
	        {"--json", NULL},
	        {"--session", "1", NULL},
	        {"--request", "GET_FEATURES,SET_VRING_NUM", NULL},
	        {"--json", "--session", "2", NULL},
	        {"--ethernet-out", "/dev/null", NULL},
	        {"--json", "--request", "SET_FEATURES", NULL},
	        {"--session", "2", "--ethernet-out", "/dev/null", NULL},
	};
	char *argv[8];
	int argc = 0;
	argv[argc++] = (char *)"dump";
	argv[argc++] = path;
	for (const char *const *a = argsets[opts & 7]; *a; a++)
		argv[argc++] = (char *)*a;
	argv[argc] = NULL;
	stderr = devnull;
	int rc = vup_dump_main(argc, argv);
	stderr = saved_stderr;
	fflush(stdout);
	CHECK(rc == 0 || rc == 2);
}

/* An exact-size copy (never NULL: one byte for n == 0). */
static uint8_t *dup_bytes(const void *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);
	if (!c)
		abort();
	if (n)
		memcpy(c, p, n);
	return c;
}

static void show_control(const struct vup_record *rec,
                         struct vup_negotiated *neg)
{
	struct vup_trace_hdr th;
	char err[256];
	int hl = vup_trace_hdr_decode(rec->data, rec->caplen, &th, err,
	                              sizeof(err));
	if (hl < 0)
		return;
	CHECK((size_t)hl <= rec->caplen);
	CHECK(th.nfds <= VUP_TRACE_MAX_FDS);
	CHECK(memchr(th.rule, '\0', sizeof(th.rule)));
	size_t len = rec->caplen - (size_t)hl;
	struct vup_hdr h = {0};
	memcpy(&h, rec->data + hl, len < VUP_HDR_SIZE ? len : VUP_HDR_SIZE);
	size_t plen = len < VUP_HDR_SIZE ? 0 : len - VUP_HDR_SIZE;
	if (h.size > plen)
		h.size = (uint32_t)plen;
	uint8_t *payload = dup_bytes(rec->data + hl + (len - plen), h.size);
	enum vup_chan chan = (th.flags & VUP_TRACE_F_BACKEND_CHAN)
	                             ? VUP_CHAN_BACKEND
	                             : VUP_CHAN_MAIN;
	char out[4096];
	size_t n = vup_render_text(out, sizeof(out), &h, payload, chan, neg);
	CHECK(strlen(out) == (n < sizeof(out) ? n : sizeof(out) - 1));
	n = vup_render_json(out, sizeof(out), &h, payload, chan, neg);
	CHECK(strlen(out) == (n < sizeof(out) ? n : sizeof(out) - 1));
	vup_proto_note(neg, chan,
	               (th.flags & VUP_TRACE_F_FROM_BACKEND) ? VUP_BACKEND
	                                                     : VUP_FRONTEND,
	               &h, payload);
	free(payload);
}

static void show_tap(const struct vup_record *rec, unsigned i)
{
	struct vup_record c = *rec;
	char *ifname = (char *)dup_bytes(rec->ifname, strlen(rec->ifname) + 1);
	char *comment = rec->comment
	                        ? (char *)dup_bytes(rec->comment,
	                                            strlen(rec->comment) + 1)
	                        : NULL;
	uint8_t *data = rec->data ? dup_bytes(rec->data, rec->caplen) : NULL;
	c.ifname = ifname;
	c.comment = comment;
	c.data = data;
	vup_dump_tap(&c, false, rec->ts_ns);
	vup_dump_tap(&c, true, (uint64_t)i * 1000);
	if (c.kind == VUP_REC_PACKET && c.linktype == LINKTYPE_ETHERNET) {
		struct vup_eth e;
		vup_dump_eth_decode(&e, data, c.caplen);
		CHECK(strlen(e.summary) == (e.slen < sizeof(e.summary)
		                                    ? e.slen
		                                    : sizeof(e.summary) - 1));
		CHECK(memchr(e.ip_src, '\0', sizeof(e.ip_src)));
		CHECK(memchr(e.ip_dst, '\0', sizeof(e.ip_dst)));
	}
	uint32_t session;
	const char *rest;
	if (vup_dump_iface_session(ifname, &session, &rest))
		CHECK(rest > ifname && rest <= ifname + strlen(ifname));
	free(ifname);
	free(comment);
	free(data);
}

/* Read the file again, every record to the printers; plain_len is the
 * uncompressed size, or SIZE_MAX if not known. */
static void run_reader(bool stats, size_t plain_len)
{
	struct vup_reader *r;
	char err[512];
	if (vup_reader_open(path, &r, err, sizeof(err)))
		abort(); /* the memfd is there */
	vup_reader_want_stats(r, stats);
	struct vup_negotiated neg = {0};
	uint64_t before = vup_reader_offset(r);
	CHECK(before == 0);
	for (unsigned i = 0;; i++) {
		struct vup_record rec;
		enum vup_read_status st =
		        vup_reader_next(r, &rec, err, sizeof(err));
		uint64_t after = vup_reader_offset(r);
		CHECK(after >= before);
		CHECK(plain_len == SIZE_MAX || after <= plain_len);
		if (st != VUP_READ_RECORD) {
			CHECK(st == VUP_READ_END || st == VUP_READ_TRUNCATED ||
			      st == VUP_READ_CORRUPT);
			CHECK(memchr(err, '\0', sizeof(err)));
			if (st == VUP_READ_END)
				CHECK(plain_len == SIZE_MAX ||
				      after == plain_len);
			break;
		}
		CHECK(rec.ifname && strlen(rec.ifname) < 256);
		if (rec.kind == VUP_REC_PACKET) {
			CHECK(rec.data);
			CHECK((uint64_t)rec.caplen + 32 <= after - before);
			CHECK(!rec.comment);
		} else {
			CHECK(stats && rec.kind == VUP_REC_STATS);
			CHECK(!rec.data && !rec.caplen && !rec.origlen);
			CHECK(!rec.comment ||
			      strlen(rec.comment) < VUP_ISB_COMMENT_MAX);
		}
		before = after;
		if (rec.kind == VUP_REC_PACKET &&
		    rec.linktype == LINKTYPE_USER0)
			show_control(&rec, &neg);
		else if (vup_dump_is_tap(&rec))
			show_tap(&rec, i);
	}
	(void)vup_reader_vuproxy(r);
	vup_reader_close(r);
	fflush(stdout);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init();
	if (size < 1)
		return 0;
	unsigned opts = data[0];
	const uint8_t *file = data + 1;
	size_t n = size - 1, plain_len = n;
	if (opts & 1) {
		size_t zn = gzip(file, n, 1 + (int)(opts >> 5));
		if (!zn)
			return 0;
		if (opts & 2) {
			size_t cut = 1 + (opts >> 5) * 7u;
			zn = cut < zn ? zn - cut : 0;
			plain_len = SIZE_MAX;
		}
		write_file(zbuf, zn);
	} else {
		if (n >= 2 && file[0] == 0x1f && file[1] == 0x8b) {
			if (inflates_beyond(file, n, 1u << 20))
				return 0;
			plain_len = SIZE_MAX;
		}
		write_file(file, n);
	}
	run_dump(opts >> 2);
	run_reader(opts & 0x20, plain_len);
	return 0;
}
