/* Unit tests for what the tap adds to a trace, on the reading side:
 *
 * - the blk record codec (include/vuproxy/tapfmt.h): byte layout, round
 *   trip, refusal of foreign or newer records, names;
 * - the short decode `vuproxy dump` prints for Ethernet frames (src/
 *   dump_eth.c): IPv4 ICMP, VLAN, IPv6, TCP/UDP ports, fragments, and
 *   every cut of a frame read from an exactly-sized buffer;
 * - the reader's Interface Statistics Blocks: skipped unless asked for
 *   (callers that do not opt in see what they always saw), returned in
 *   file order with every counter, both times, the comment and the
 *   interface when asked for; written by the writer (vup_trace_stats) and
 *   hand-made hostile blocks: options that overrun, counters of the wrong
 *   size, long comments, comments with a NUL, no end-of-options, blocks
 *   too short or naming an unknown interface, a big-endian section.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dump/dump_tap.h"
#include "vuproxy/pcapng.h"
#include "vuproxy/reader.h"
#include "vuproxy/tapfmt.h"
#include "vuproxy/trace.h"

static char tmpdir[256];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/vup-trace-tap.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	(void)state;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- blk record codec ---- */

static uint64_t le_at(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void test_blk_layout(void **state)
{
	(void)state;
	struct vup_blk_rec r = {
	        .flags = VUP_BLK_F_STATUS | VUP_BLK_F_LATENCY,
	        .queue = 0x0102,
	        .id = 0x0304,
	        .type = VUP_BLK_T_WRITE_ZEROES,
	        .data_len = 0x05060708,
	        .sector = 0x1112131415161718ull,
	        .status = 2,
	        .used_len = 0x21222324,
	        .latency_ns = 0x3132333435363738ull,
	};
	uint8_t b[VUP_BLK_REC_SIZE];
	memset(b, 0xee, sizeof(b));
	vup_blk_rec_encode(&r, b);
	assert_int_equal(b[0], 'V');
	assert_int_equal(b[1], 'B');
	assert_int_equal(b[2], VUP_BLK_VERSION);
	assert_int_equal(b[3], 3);
	assert_int_equal(le_at(b + 4, 2), 0x0102);
	assert_int_equal(le_at(b + 6, 2), 0x0304);
	assert_int_equal(le_at(b + 8, 4), VUP_BLK_T_WRITE_ZEROES);
	assert_int_equal(le_at(b + 12, 4), 0x05060708);
	assert_true(le_at(b + 16, 8) == 0x1112131415161718ull);
	assert_int_equal(b[24], 2);
	assert_int_equal(b[25] | b[26] | b[27], 0); /* reserved */
	assert_int_equal(le_at(b + 28, 4), 0x21222324);
	assert_true(le_at(b + 32, 8) == 0x3132333435363738ull);

	struct vup_blk_rec d;
	memset(&d, 0x55, sizeof(d));
	assert_int_equal(vup_blk_rec_decode(b, sizeof(b), &d), 0);
	assert_int_equal(d.flags, r.flags);
	assert_int_equal(d.queue, r.queue);
	assert_int_equal(d.id, r.id);
	assert_int_equal(d.type, r.type);
	assert_int_equal(d.data_len, r.data_len);
	assert_true(d.sector == r.sector);
	assert_int_equal(d.status, r.status);
	assert_int_equal(d.used_len, r.used_len);
	assert_true(d.latency_ns == r.latency_ns);
}

static void test_blk_refused(void **state)
{
	(void)state;
	struct vup_blk_rec r = {.type = VUP_BLK_T_IN, .sector = 7}, d;
	uint8_t b[VUP_BLK_REC_SIZE + 8];
	vup_blk_rec_encode(&r, b);
	memset(b + VUP_BLK_REC_SIZE, 0xaa, 8);
	/* Data after the record is the request's, not the record's. */
	assert_int_equal(vup_blk_rec_decode(b, sizeof(b), &d), 0);
	assert_true(d.sector == 7);
	/* Every length short of the record is refused. */
	for (size_t len = 0; len < VUP_BLK_REC_SIZE; len++)
		assert_int_equal(vup_blk_rec_decode(b, len, &d), -1);
	uint8_t bad[VUP_BLK_REC_SIZE];
	memcpy(bad, b, sizeof(bad));
	bad[0] = 'v';
	assert_int_equal(vup_blk_rec_decode(bad, sizeof(bad), &d), -1);
	memcpy(bad, b, sizeof(bad));
	bad[1] = 'U'; /* a control pseudo-header's magic */
	assert_int_equal(vup_blk_rec_decode(bad, sizeof(bad), &d), -1);
	memcpy(bad, b, sizeof(bad));
	bad[2] = VUP_BLK_VERSION + 1; /* newer: says so, whatever the size */
	assert_int_equal(vup_blk_rec_decode(bad, sizeof(bad), &d), -2);
	assert_int_equal(vup_blk_rec_decode(bad, 3, &d), -2);
	bad[2] = 0;
	assert_int_equal(vup_blk_rec_decode(bad, sizeof(bad), &d), -1);
}

static void test_blk_names(void **state)
{
	(void)state;
	assert_string_equal(vup_blk_type_name(VUP_BLK_T_IN), "IN");
	assert_string_equal(vup_blk_type_name(VUP_BLK_T_OUT), "OUT");
	assert_string_equal(vup_blk_type_name(VUP_BLK_T_FLUSH), "FLUSH");
	assert_string_equal(vup_blk_type_name(VUP_BLK_T_DISCARD), "DISCARD");
	assert_null(vup_blk_type_name(2));
	assert_null(vup_blk_type_name(0xffffffffu));
	assert_string_equal(vup_blk_status_name(0), "OK");
	assert_string_equal(vup_blk_status_name(1), "IOERR");
	assert_string_equal(vup_blk_status_name(2), "UNSUPP");
	assert_null(vup_blk_status_name(3));
	assert_null(vup_blk_status_name(VUP_BLK_STATUS_UNKNOWN));
}

/* ---- Ethernet decode ---- */

static const uint8_t icmp_frame[] = {
        0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x52, 0x54, 0x00, 0x12, 0x34,
        0x56, 0x08, 0x00, 0x45, 0x00, 0x00, 0x1c, 0x1c, 0x46, 0x40, 0x00,
        0x40, 0x01, 0x00, 0x00, 0x0a, 0x00, 0x02, 0x0f, 0x0a, 0x00, 0x02,
        0x02, 0x08, 0x00, 0x00, 0x00, 0x12, 0x34, 0x00, 0x07,
};

/* Decode p[0..n) from a heap copy of exactly n bytes (ASan sees any read
 * past it). */
static void decode(struct vup_eth *e, const uint8_t *p, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1);
	assert_non_null(copy);
	if (n)
		memcpy(copy, p, n);
	vup_dump_eth_decode(e, copy, n);
	free(copy);
	e->dst = e->src = NULL; /* they pointed into the copy */
}

static void test_eth_decode(void **state)
{
	(void)state;
	struct vup_eth e;
	decode(&e, icmp_frame, sizeof(icmp_frame));
	assert_string_equal(e.summary, "52:54:00:12:34:56 > 52:55:0a:00:02:02 "
	                               "IPv4 10.0.2.15 > 10.0.2.2 ICMP echo "
	                               "request id=0x1234 seq=7");
	assert_int_equal(e.ethertype, 0x0800);
	assert_int_equal(e.ip_proto, 1);
	assert_int_equal(e.icmp_type, 8);
	assert_int_equal(e.vlan, -1);
	assert_int_equal(e.sport, -1);
	assert_string_equal(e.ip_src, "10.0.2.15");

	/* Every cut: no read past it, a summary that says where it ends. */
	for (size_t n = 0; n < sizeof(icmp_frame); n++) {
		decode(&e, icmp_frame, n);
		assert_true(strlen(e.summary) > 0);
		if (n < 34 + 2)
			assert_non_null(strstr(e.summary, "truncated"));
		else if (n < 34 + 8)
			assert_null(strstr(e.summary, "seq="));
	}

	/* VLAN, then UDP. */
	uint8_t f[80];
	memcpy(f, icmp_frame, 12);
	f[12] = 0x81, f[13] = 0x00, f[14] = 0x20, f[15] = 0x05; /* vlan 5 */
	memcpy(f + 16, icmp_frame + 12, 22);
	f[16 + 2 + 9] = 17;                                     /* UDP */
	f[38] = 0x00, f[39] = 0x44, f[40] = 0x00, f[41] = 0x43; /* 68 > 67 */
	decode(&e, f, 42);
	assert_int_equal(e.vlan, 5);
	assert_int_equal(e.ethertype, 0x0800);
	assert_int_equal(e.sport, 68);
	assert_int_equal(e.dport, 67);
	assert_non_null(strstr(e.summary, " vlan 5 IPv4 "));
	assert_non_null(strstr(e.summary, " UDP 68 > 67"));

	/* A fragment past the first: no transport header. */
	memcpy(f, icmp_frame, sizeof(icmp_frame));
	f[14 + 6] = 0x00, f[14 + 7] = 0x10;
	decode(&e, f, sizeof(icmp_frame));
	assert_int_equal(e.icmp_type, -1);
	assert_non_null(strstr(e.summary, "proto 1 fragment"));

	/* IPv6 ICMPv6 echo reply. */
	memset(f, 0, sizeof(f));
	f[12] = 0x86, f[13] = 0xdd;
	f[14] = 0x60;
	f[14 + 6] = 58;
	f[14 + 8] = 0xfe, f[14 + 9] = 0x80, f[14 + 23] = 1;   /* fe80::1 */
	f[14 + 24] = 0xfe, f[14 + 25] = 0x80, f[14 + 39] = 2; /* fe80::2 */
	f[54] = 129;
	decode(&e, f, 62);
	assert_string_equal(e.ip_src, "fe80::1");
	assert_int_equal(e.icmp_type, 129);
	assert_non_null(strstr(e.summary, "IPv6 fe80::1 > fe80::2 ICMPv6 echo "
	                                  "reply id=0x0000 seq=0"));

	/* Not IPv4 inside an IPv4 ethertype; an unknown ethertype. */
	memcpy(f, icmp_frame, sizeof(icmp_frame));
	f[14] = 0x65;
	decode(&e, f, sizeof(icmp_frame));
	assert_non_null(strstr(e.summary, "IPv4 [bad header]"));
	f[12] = 0x88, f[13] = 0xcc;
	decode(&e, f, sizeof(icmp_frame));
	assert_non_null(strstr(e.summary, "ethertype 0x88cc"));
}

/* ---- ISBs written by the writer ---- */

#define T0 1700000000123456789ull

static void write_tap_trace(const char *path)
{
	struct vup_trace_config cfg = {.path = path};
	struct vup_trace *t;
	char err[256];
	if (vup_trace_open(&cfg, &t, err, sizeof(err)))
		fail_msg("vup_trace_open: %s", err);
	uint32_t net, blk;
	assert_int_equal(vup_trace_add_session(t, 4, "s4 a > b", "ctl"), 0);
	assert_int_equal(vup_trace_add_iface(t, 4, LINKTYPE_ETHERNET, 128,
	                                     "s4 net q1 tx", "tx", &net),
	                 0);
	assert_int_equal(vup_trace_add_iface(t, 4, LINKTYPE_USER1, 104,
	                                     "s4 blk", "blk", &blk),
	                 0);
	uint8_t frame[60] = {0};
	assert_int_equal(vup_trace_packet(t, net, T0 + 1, PCAPNG_DIR_OUTBOUND,
	                                  frame, sizeof(frame), 1514),
	                 0);
	struct pcapng_isb s = {.start_ns = T0 - 5,
	                       .ifrecv = 10,
	                       .usrdeliv = 6,
	                       .ifdrop = 2,
	                       .osdrop = 2};
	assert_int_equal(vup_trace_stats(t, net, T0 + 2, &s,
	                                 "consumed=10 captured=6 missed=2 "
	                                 "torn=1 malformed=1"),
	                 0);
	struct pcapng_isb z = {.start_ns = T0};
	assert_int_equal(vup_trace_stats(t, blk, T0 + 3, &z, NULL), 0);
	assert_int_equal(vup_trace_packet(t, net, T0 + 4, PCAPNG_DIR_INBOUND,
	                                  frame, 14, 14),
	                 0);
	assert_int_equal(vup_trace_close(t), 0);
}

static void test_isb_written(void **state)
{
	(void)state;
	char path[512], err[256];
	snprintf(path, sizeof(path), "%s/isb.pcapng.gz", tmpdir);
	write_tap_trace(path);

	/* Not asked for: the two packets, as before ISBs existed. */
	struct vup_reader *r;
	assert_int_equal(vup_reader_open(path, &r, err, sizeof(err)), 0);
	struct vup_record rec;
	assert_int_equal(vup_reader_next(r, &rec, err, sizeof(err)),
	                 VUP_READ_RECORD);
	assert_int_equal(rec.kind, VUP_REC_PACKET);
	assert_true(rec.ts_ns == T0 + 1);
	assert_int_equal(vup_reader_next(r, &rec, err, sizeof(err)),
	                 VUP_READ_RECORD);
	assert_int_equal(rec.kind, VUP_REC_PACKET);
	assert_true(rec.ts_ns == T0 + 4);
	assert_int_equal(vup_reader_next(r, &rec, err, sizeof(err)),
	                 VUP_READ_END);
	vup_reader_close(r);

	/* Asked for: packet, stats, stats, packet. */
	assert_int_equal(vup_reader_open(path, &r, err, sizeof(err)), 0);
	vup_reader_want_stats(r, true);
	assert_int_equal(vup_reader_next(r, &rec, err, sizeof(err)),
	                 VUP_READ_RECORD);
	assert_int_equal(rec.kind, VUP_REC_PACKET);
	assert_int_equal(rec.linktype, LINKTYPE_ETHERNET);
	assert_string_equal(rec.ifname, "s4 net q1 tx");
	assert_int_equal(rec.snaplen, 128);
	assert_int_equal(rec.caplen, 60);
	assert_int_equal(rec.origlen, 1514);
	assert_int_equal(rec.epb_flags, PCAPNG_DIR_OUTBOUND);
	assert_null(rec.comment);

	assert_int_equal(vup_reader_next(r, &rec, err, sizeof(err)),
	                 VUP_READ_RECORD);
	assert_int_equal(rec.kind, VUP_REC_STATS);
	assert_int_equal(rec.ifid, 1);
	assert_int_equal(rec.linktype, LINKTYPE_ETHERNET);
	assert_string_equal(rec.ifname, "s4 net q1 tx");
	assert_true(rec.ts_ns == T0 + 2);
	assert_null(rec.data);
	assert_int_equal(rec.caplen, 0);
	assert_int_equal(rec.epb_flags, 0);
	assert_int_equal(rec.isb.has,
	                 VUP_ISB_HAS_START | VUP_ISB_HAS_END |
	                         VUP_ISB_HAS_IFRECV | VUP_ISB_HAS_IFDROP |
	                         VUP_ISB_HAS_OSDROP | VUP_ISB_HAS_USRDELIV);
	assert_true(rec.isb.start_ns == T0 - 5);
	assert_true(rec.isb.end_ns == T0 + 2);
	assert_int_equal(rec.isb.ifrecv, 10);
	assert_int_equal(rec.isb.usrdeliv, 6);
	assert_int_equal(rec.isb.ifdrop, 2);
	assert_int_equal(rec.isb.osdrop, 2);
	assert_int_equal(rec.isb.filteraccept, 0);
	assert_non_null(rec.comment);
	assert_string_equal(rec.comment, "consumed=10 captured=6 missed=2 "
	                                 "torn=1 malformed=1");

	assert_int_equal(vup_reader_next(r, &rec, err, sizeof(err)),
	                 VUP_READ_RECORD);
	assert_int_equal(rec.kind, VUP_REC_STATS);
	assert_int_equal(rec.linktype, LINKTYPE_USER1);
	assert_string_equal(rec.ifname, "s4 blk");
	assert_int_equal(rec.snaplen, 104);
	assert_int_equal(rec.isb.ifrecv, 0);
	assert_null(rec.comment);

	assert_int_equal(vup_reader_next(r, &rec, err, sizeof(err)),
	                 VUP_READ_RECORD);
	assert_int_equal(rec.kind, VUP_REC_PACKET);
	assert_int_equal(rec.epb_flags, PCAPNG_DIR_INBOUND);
	assert_null(rec.comment);
	assert_int_equal(vup_reader_next(r, &rec, err, sizeof(err)),
	                 VUP_READ_END);
	vup_reader_close(r);
}

/* ---- hand-made ISBs ---- */

/* A pcapng file being built, in little- or big-endian. */
struct pb {
	uint8_t b[8192];
	size_t n;
	bool big;
	size_t block; /* start of the open block */
};

static void u8s(struct pb *p, const void *v, size_t n)
{
	assert_true(p->n + n <= sizeof(p->b));
	if (n) /* v may be NULL then */
		memcpy(p->b + p->n, v, n);
	p->n += n;
}

static void un(struct pb *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++) {
		int shift = p->big ? 8 * (n - 1 - i) : 8 * i;
		uint8_t c = (uint8_t)(v >> shift);
		u8s(p, &c, 1);
	}
}

static void pad(struct pb *p)
{
	while (p->n % 4)
		un(p, 0, 1);
}

static void begin(struct pb *p, uint32_t type)
{
	p->block = p->n;
	un(p, type, 4);
	un(p, 0, 4); /* length, set by end() */
}

static void end(struct pb *p)
{
	pad(p);
	uint32_t total = (uint32_t)(p->n - p->block + 4);
	size_t save = p->n;
	p->n = p->block + 4;
	un(p, total, 4);
	p->n = save;
	un(p, total, 4);
}

static void opt(struct pb *p, uint16_t code, const void *v, uint16_t len)
{
	un(p, code, 2);
	un(p, len, 2);
	u8s(p, v, len);
	pad(p);
}

static void opt_u64(struct pb *p, uint16_t code, uint64_t v)
{
	un(p, code, 2);
	un(p, 8, 2);
	un(p, v, 8);
}

static void opt_ts(struct pb *p, uint16_t code, uint64_t ts)
{
	un(p, code, 2);
	un(p, 8, 2);
	un(p, ts >> 32, 4);
	un(p, ts & 0xffffffffu, 4);
}

static void shb_idb(struct pb *p, bool big)
{
	memset(p, 0, sizeof(*p));
	p->big = big;
	begin(p, PCAPNG_SHB);
	un(p, PCAPNG_BYTE_ORDER_MAGIC, 4);
	un(p, 1, 2);
	un(p, 0, 2);
	un(p, UINT64_MAX, 8);
	opt(p, 4, "vuproxy", 7);
	opt(p, 0, NULL, 0);
	end(p);
	begin(p, PCAPNG_IDB);
	un(p, LINKTYPE_ETHERNET, 2);
	un(p, 0, 2);
	un(p, 256, 4);
	opt(p, 2, "s9 net q3 tx", 12);
	opt(p, 0, NULL, 0);
	end(p);
}

static void isb_head(struct pb *p, uint32_t ifid, uint64_t ts)
{
	begin(p, PCAPNG_ISB);
	un(p, ifid, 4);
	un(p, ts >> 32, 4);
	un(p, ts & 0xffffffffu, 4);
}

/* Write p to a plain file and read it (with stats if want): the statuses
 * of the first two calls; the first record in *rec (its interface name
 * and comment copied, data not). */
static char comment_copy[VUP_ISB_COMMENT_MAX + 16], ifname_copy[256];
static enum vup_read_status read_pb(const struct pb *p, bool want,
                                    struct vup_record *rec,
                                    enum vup_read_status *second, char *err,
                                    size_t errlen)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/hand.pcapng", tmpdir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p->b, 1, p->n, f), p->n);
	assert_int_equal(fclose(f), 0);
	struct vup_reader *r;
	assert_int_equal(vup_reader_open(path, &r, err, errlen), 0);
	vup_reader_want_stats(r, want);
	enum vup_read_status st = vup_reader_next(r, rec, err, errlen);
	comment_copy[0] = '\0';
	if (st == VUP_READ_RECORD) { /* the reader's memory goes below */
		snprintf(ifname_copy, sizeof(ifname_copy), "%s", rec->ifname);
		rec->ifname = ifname_copy;
	}
	if (st == VUP_READ_RECORD && rec->comment) {
		assert_true(strlen(rec->comment) < VUP_ISB_COMMENT_MAX);
		strcpy(comment_copy, rec->comment);
		rec->comment = comment_copy;
	}
	struct vup_record other;
	char err2[256];
	*second = vup_reader_next(r, &other, err2, sizeof(err2));
	vup_reader_close(r);
	return st;
}

static void test_isb_byte_order(void **state)
{
	(void)state;
	for (int big = 0; big < 2; big++) {
		struct pb p;
		shb_idb(&p, big);
		isb_head(&p, 0, 0x0102030405060708ull);
		opt_ts(&p, 2, 0x1112131415161718ull);
		opt_ts(&p, 3, 0x2122232425262728ull);
		opt_u64(&p, 4, 0x3132333435363738ull);
		opt_u64(&p, 5, 5);
		opt_u64(&p, 6, 6);
		opt_u64(&p, 7, 7);
		opt_u64(&p, 8, 8);
		opt(&p, 1, "consumed=1", 10);
		opt(&p, 0, NULL, 0);
		end(&p);
		struct vup_record rec;
		enum vup_read_status second;
		char err[256];
		assert_int_equal(
		        read_pb(&p, true, &rec, &second, err, sizeof(err)),
		        VUP_READ_RECORD);
		assert_int_equal(second, VUP_READ_END);
		assert_int_equal(rec.kind, VUP_REC_STATS);
		assert_string_equal(rec.ifname, "s9 net q3 tx");
		assert_int_equal(rec.snaplen, 256);
		assert_true(rec.ts_ns == 0x0102030405060708ull);
		assert_int_equal(rec.isb.has, 0x7f);
		assert_true(rec.isb.start_ns == 0x1112131415161718ull);
		assert_true(rec.isb.end_ns == 0x2122232425262728ull);
		assert_true(rec.isb.ifrecv == 0x3132333435363738ull);
		assert_int_equal(rec.isb.ifdrop, 5);
		assert_int_equal(rec.isb.filteraccept, 6);
		assert_int_equal(rec.isb.osdrop, 7);
		assert_int_equal(rec.isb.usrdeliv, 8);
		assert_string_equal(rec.comment, "consumed=1");
	}
}

static void test_isb_hostile_options(void **state)
{
	(void)state;
	struct vup_record rec;
	enum vup_read_status second;
	char err[256];
	struct pb p;

	/* A counter of the wrong size is no counter; the options after it
	 * still count; no end-of-options is fine. */
	shb_idb(&p, false);
	isb_head(&p, 0, 1);
	opt(&p, 4, "\x01\x02\x03\x04", 4);
	opt_u64(&p, 8, 42);
	end(&p);
	assert_int_equal(read_pb(&p, true, &rec, &second, err, sizeof(err)),
	                 VUP_READ_RECORD);
	assert_int_equal(rec.isb.has, VUP_ISB_HAS_USRDELIV);
	assert_int_equal(rec.isb.usrdeliv, 42);
	assert_int_equal(rec.isb.ifrecv, 0);
	assert_null(rec.comment);
	assert_int_equal(second, VUP_READ_END);

	/* An option that claims more than the block holds ends the list:
	 * what came before it is kept, nothing is read past the block. */
	shb_idb(&p, false);
	isb_head(&p, 0, 1);
	opt_u64(&p, 4, 9);
	un(&p, 5, 2);
	un(&p, 0xfff0, 2); /* ifdrop, 65520 bytes */
	un(&p, 77, 8);
	end(&p);
	assert_int_equal(read_pb(&p, true, &rec, &second, err, sizeof(err)),
	                 VUP_READ_RECORD);
	assert_int_equal(rec.isb.has, VUP_ISB_HAS_IFRECV);
	assert_int_equal(rec.isb.ifrecv, 9);
	assert_int_equal(second, VUP_READ_END);

	/* An empty comment is an empty string. */
	shb_idb(&p, false);
	isb_head(&p, 0, 1);
	opt_u64(&p, 7, 3);
	un(&p, 1, 2);
	un(&p, 0, 2); /* opt_comment, length 0 */
	end(&p);
	assert_int_equal(read_pb(&p, true, &rec, &second, err, sizeof(err)),
	                 VUP_READ_RECORD);
	assert_int_equal(rec.isb.osdrop, 3);
	assert_non_null(rec.comment);
	assert_string_equal(rec.comment, "");

	/* A long comment is cut; the first of two comments is the one; a
	 * NUL inside ends it. */
	static char longc[3000];
	memset(longc, 'x', sizeof(longc));
	shb_idb(&p, false);
	isb_head(&p, 0, 1);
	opt(&p, 1, longc, sizeof(longc));
	opt(&p, 1, "second", 6);
	end(&p);
	assert_int_equal(read_pb(&p, true, &rec, &second, err, sizeof(err)),
	                 VUP_READ_RECORD);
	assert_int_equal(strlen(rec.comment), VUP_ISB_COMMENT_MAX - 1);
	assert_int_equal(strspn(rec.comment, "x"), VUP_ISB_COMMENT_MAX - 1);

	shb_idb(&p, false);
	isb_head(&p, 0, 1);
	opt(&p, 1, "torn=1\0hidden", 13);
	end(&p);
	assert_int_equal(read_pb(&p, true, &rec, &second, err, sizeof(err)),
	                 VUP_READ_RECORD);
	assert_string_equal(rec.comment, "torn=1");
}

static void test_isb_bad_blocks(void **state)
{
	(void)state;
	struct vup_record rec;
	enum vup_read_status second;
	char err[256];
	struct pb p;

	/* Too short for its interface id and time. */
	shb_idb(&p, false);
	begin(&p, PCAPNG_ISB);
	un(&p, 0, 4);
	un(&p, 0, 4);
	end(&p);
	assert_int_equal(read_pb(&p, true, &rec, &second, err, sizeof(err)),
	                 VUP_READ_CORRUPT);
	assert_non_null(strstr(err, "statistics"));
	/* Skipped, as before, by a caller that did not ask. */
	assert_int_equal(read_pb(&p, false, &rec, &second, err, sizeof(err)),
	                 VUP_READ_END);

	/* An interface that was never described. */
	shb_idb(&p, false);
	isb_head(&p, 1, 1);
	end(&p);
	assert_int_equal(read_pb(&p, true, &rec, &second, err, sizeof(err)),
	                 VUP_READ_CORRUPT);
	assert_non_null(strstr(err, "interface 1"));
	assert_int_equal(read_pb(&p, false, &rec, &second, err, sizeof(err)),
	                 VUP_READ_END);

	/* Cut in the middle: truncated, like any block. */
	shb_idb(&p, false);
	isb_head(&p, 0, 1);
	opt_u64(&p, 4, 1);
	end(&p);
	p.n -= 6;
	assert_int_equal(read_pb(&p, true, &rec, &second, err, sizeof(err)),
	                 VUP_READ_TRUNCATED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_blk_layout),
	        cmocka_unit_test(test_blk_refused),
	        cmocka_unit_test(test_blk_names),
	        cmocka_unit_test(test_eth_decode),
	        cmocka_unit_test(test_isb_written),
	        cmocka_unit_test(test_isb_byte_order),
	        cmocka_unit_test(test_isb_hostile_options),
	        cmocka_unit_test(test_isb_bad_blocks),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
