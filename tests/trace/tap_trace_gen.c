/* tap_trace_gen: writes a small trace with the tap's records through the
 * writer API (vup_trace_*), for tap.sh.
 *
 *   tap_trace_gen OUT.pcapng.gz [tap-only]
 *
 * At T0 = 1700000000 s (+ the offsets below, in µs):
 *   session 1: control interface, GET_FEATURES (0) and its reply (100);
 *     "s1 net q1 tx": ICMP echo request 10.0.2.15 > 10.0.2.2, id 0x1234
 *       seq 1, 98 bytes (1000);
 *     "s1 net q0 rx": the echo reply (1200);
 *     "s1 blk": IN q0 id 0 sector 2048 len 4096 OK 35 µs (2000), OUT q0
 *       id 1 sector 4096 len 512 IOERR 120.5 µs (3000), 64 data bytes each;
 *   session 2: control interface, GET_FEATURES (2400);
 *     "s2 net q1 tx": ARP who-has 10.0.2.2 tell 10.0.2.15 (2500);
 *   statistics (4000): s1 tx consumed=1 captured=1; s1 rx the same; s1 blk
 *     consumed=3 captured=2 missed=1; s2 tx consumed=5 captured=1 missed=2
 *     torn=1 malformed=1.
 * Every record is flushed as it is written, so a cut at any sync-flush
 * point keeps everything before it.  "tap-only" leaves out the control
 * interfaces and messages.  Frames are built byte by byte, with correct
 * IPv4 and ICMP checksums. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vuproxy/pcapng.h"
#include "vuproxy/tapfmt.h"
#include "vuproxy/trace.h"

#define T0             1700000000000000000ull
#define US             1000ull
#define REQ_GET_FEATS  1
#define FLAG_VERSION_1 0x1
#define FLAG_REPLY     0x4

static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t gw_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
static const uint8_t guest_ip[4] = {10, 0, 2, 15};
static const uint8_t gw_ip[4] = {10, 0, 2, 2};

static void die(const char *what, int rc)
{
	fprintf(stderr, "tap_trace_gen: %s: %d\n", what, rc);
	exit(1);
}

static void check(const char *what, int rc)
{
	if (rc)
		die(what, rc);
}

/* The Internet checksum (RFC 1071) of p[0..n). */
static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* An Ethernet frame with an IPv4 ICMP echo (type 8 request, 0 reply) and
 * 56 bytes of data, 98 bytes in all. */
static size_t icmp_echo(uint8_t *f, bool request)
{
	const uint8_t *src_mac = request ? guest_mac : gw_mac;
	const uint8_t *dst_mac = request ? gw_mac : guest_mac;
	const uint8_t *src_ip = request ? guest_ip : gw_ip;
	const uint8_t *dst_ip = request ? gw_ip : guest_ip;
	memset(f, 0, 98);
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	put16(f + 12, 0x0800);
	uint8_t *ip = f + 14;
	ip[0] = 0x45;                             /* IPv4, 20-byte header */
	put16(ip + 2, 20 + 64);                   /* total length */
	put16(ip + 4, request ? 0x1c46 : 0x9a0b); /* identification */
	put16(ip + 6, 0x4000);                    /* don't fragment */
	ip[8] = 64;                               /* TTL */
	ip[9] = 1;                                /* ICMP */
	memcpy(ip + 12, src_ip, 4);
	memcpy(ip + 16, dst_ip, 4);
	put16(ip + 10, csum(ip, 20));
	uint8_t *icmp = ip + 20;
	icmp[0] = request ? 8 : 0;
	put16(icmp + 4, 0x1234); /* identifier */
	put16(icmp + 6, 1);      /* sequence */
	for (int i = 0; i < 56; i++)
		icmp[8 + i] = (uint8_t)(0x10 + i);
	put16(icmp + 2, csum(icmp, 64));
	return 98;
}

/* ARP who-has gw tell guest, padded to 60 bytes. */
static size_t arp_request(uint8_t *f)
{
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0806);
	uint8_t *a = f + 14;
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);
	memcpy(a + 8, guest_mac, 6);
	memcpy(a + 14, guest_ip, 4);
	memcpy(a + 24, gw_ip, 4);
	return 60;
}

static void message(struct vup_trace *t, uint32_t session, uint64_t ts,
                    bool reply)
{
	struct vup_trace_hdr h;
	memset(&h, 0, sizeof(h));
	h.session = session;
	h.flags = reply ? VUP_TRACE_F_FROM_BACKEND : 0;
	struct vup_hdr m = {REQ_GET_FEATS,
	                    FLAG_VERSION_1 | (reply ? FLAG_REPLY : 0),
	                    reply ? 8 : 0};
	uint64_t features = 0x140000000ull;
	check("vup_trace_message",
	      vup_trace_message(t, ts, &h, &m, (const uint8_t *)&features));
}

static void blk(struct vup_trace *t, uint32_t handle, uint64_t ts,
                const struct vup_blk_rec *b)
{
	uint8_t pkt[VUP_BLK_REC_SIZE + 64];
	vup_blk_rec_encode(b, pkt);
	for (int i = 0; i < 64; i++)
		pkt[VUP_BLK_REC_SIZE + i] = (uint8_t)(b->sector + (unsigned)i);
	check("vup_trace_packet (blk)",
	      vup_trace_packet(t, handle, ts, 0, pkt, sizeof(pkt),
	                       VUP_BLK_REC_SIZE + b->data_len));
	check("vup_trace_flush", vup_trace_flush(t));
}

static void frame(struct vup_trace *t, uint32_t handle, uint64_t ts,
                  uint32_t dir, const uint8_t *f, size_t len)
{
	check("vup_trace_packet (net)",
	      vup_trace_packet(t, handle, ts, dir, f, (uint32_t)len,
	                       (uint32_t)len));
	check("vup_trace_flush", vup_trace_flush(t));
}

static void stats(struct vup_trace *t, uint32_t handle, uint64_t consumed,
                  uint64_t captured, uint64_t missed, uint64_t torn,
                  uint64_t malformed)
{
	struct pcapng_isb isb = {
	        .start_ns = T0,
	        .ifrecv = consumed,
	        .usrdeliv = captured,
	        .ifdrop = missed,
	        .osdrop = torn + malformed,
	};
	char comment[200];
	snprintf(comment, sizeof(comment),
	         "consumed=%" PRIu64 " captured=%" PRIu64 " missed=%" PRIu64
	         " torn=%" PRIu64 " malformed=%" PRIu64,
	         consumed, captured, missed, torn, malformed);
	check("vup_trace_stats",
	      vup_trace_stats(t, handle, T0 + 4000 * US, &isb, comment));
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3 ||
	    (argc == 3 && strcmp(argv[2], "tap-only") != 0)) {
		fprintf(stderr, "usage: tap_trace_gen OUT.pcapng.gz "
		                "[tap-only]\n");
		return 2;
	}
	bool control = argc == 2;
	struct vup_trace_config cfg = {.path = argv[1]};
	struct vup_trace *t;
	char err[256];
	if (vup_trace_open(&cfg, &t, err, sizeof(err))) {
		fprintf(stderr, "tap_trace_gen: %s\n", err);
		return 1;
	}
	uint32_t tx1, rx1, blk1, tx2;
	if (control)
		check("vup_trace_add_session",
		      vup_trace_add_session(t, 1, "s1 fe.sock > be.sock",
		                            "session 1"));
	check("add tx",
	      vup_trace_add_iface(t, 1, LINKTYPE_ETHERNET, 256, "s1 net q1 tx",
	                          "frames from "
	                          "the guest",
	                          &tx1));
	check("add rx",
	      vup_trace_add_iface(t, 1, LINKTYPE_ETHERNET, 256, "s1 net q0 rx",
	                          "frames to the "
	                          "guest",
	                          &rx1));
	check("add blk",
	      vup_trace_add_iface(t, 1, LINKTYPE_USER1, VUP_BLK_REC_SIZE + 64,
	                          "s1 blk", "blk requests", &blk1));
	if (control) {
		message(t, 1, T0, false);
		message(t, 1, T0 + 100 * US, true);
	}
	uint8_t f[128];
	size_t n = icmp_echo(f, true);
	frame(t, tx1, T0 + 1000 * US, PCAPNG_DIR_OUTBOUND, f, n);
	n = icmp_echo(f, false);
	frame(t, rx1, T0 + 1200 * US, PCAPNG_DIR_INBOUND, f, n);
	struct vup_blk_rec rd = {
	        .flags = VUP_BLK_F_STATUS | VUP_BLK_F_LATENCY,
	        .queue = 0,
	        .id = 0,
	        .type = VUP_BLK_T_IN,
	        .data_len = 4096,
	        .sector = 2048,
	        .status = 0,
	        .used_len = 4097,
	        .latency_ns = 35000,
	};
	blk(t, blk1, T0 + 2000 * US, &rd);
	if (control) {
		check("vup_trace_add_session 2",
		      vup_trace_add_session(t, 2, "s2 fe2.sock > be2.sock",
		                            "session 2"));
		message(t, 2, T0 + 2400 * US, false);
	}
	check("add tx 2",
	      vup_trace_add_iface(t, 2, LINKTYPE_ETHERNET, 128, "s2 net q1 tx",
	                          "frames from "
	                          "the guest",
	                          &tx2));
	n = arp_request(f);
	frame(t, tx2, T0 + 2500 * US, PCAPNG_DIR_OUTBOUND, f, n);
	struct vup_blk_rec wr = {
	        .flags = VUP_BLK_F_STATUS | VUP_BLK_F_LATENCY,
	        .queue = 0,
	        .id = 1,
	        .type = VUP_BLK_T_OUT,
	        .data_len = 512,
	        .sector = 4096,
	        .status = 1,
	        .used_len = 1,
	        .latency_ns = 120500,
	};
	blk(t, blk1, T0 + 3000 * US, &wr);
	stats(t, tx1, 1, 1, 0, 0, 0);
	stats(t, rx1, 1, 1, 0, 0, 0);
	stats(t, blk1, 3, 2, 1, 0, 0);
	stats(t, tx2, 5, 1, 2, 1, 1);
	check("vup_trace_close", vup_trace_close(t));
	return 0;
}
