/* ext_trace_gen: writes a trace holding what later versions add to it, the
 * way the versioning rule says they add it (include/vuproxy/pcapng.h), for
 * versioning.sh.
 *
 *   ext_trace_gen OUT.pcapng.gz
 *
 * Session 1, control interface:
 *   1 GET_FEATURES request, nothing added;
 *   2 its reply with flags 0xd and a mark (extension 1), as vuproxy
 *     writes a message it relayed despite a problem;
 *   3 SET_VRING_NUM {index 1, num 256} in a pseudo-header written by
 *     hand: an extension of a type no reader knows yet (0x7f01, 5 bytes,
 *     padded), then a mark;
 *   4 a record of a kind no reader knows yet: an interface of link type
 *     LINKTYPE_USER3 (150; 149 reads as PKTAP in Wireshark) with 16 bytes.
 * Readers must show 1-3 with their fields and marks, skip the unknown
 * extension by its length, and skip record 4. */
#include <stdio.h>
#include <string.h>

#include "vuproxy/pcapng.h"
#include "vuproxy/proto.h"
#include "vuproxy/trace.h"

#define T0              1700000000000000000ull
#define LINKTYPE_FUTURE 150 /* LINKTYPE_USER3 */
#define EXT_FUTURE      0x7f01

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* Record 3: fixed part, no fds, no rule; extensions; the message. */
static size_t future_record(uint8_t *out)
{
	static const char mark[] = "size: written by a later vuproxy";
	size_t at = VUP_TRACE_FIXED;
	memset(out, 0, 256);
	out[0] = VUP_TRACE_MAGIC0;
	out[1] = VUP_TRACE_MAGIC1;
	out[2] = VUP_TRACE_VERSION;
	out[8] = 1; /* session 1 */
	le16(out + at, EXT_FUTURE);
	le16(out + at + 2, 5);
	memcpy(out + at + 4, "\x01\x02\x03\x04\x05", 5);
	at += 12; /* 4 + 5, padded to 4 */
	le16(out + at, VUP_TRACE_EXT_MARK);
	le16(out + at + 2, (uint16_t)strlen(mark));
	memcpy(out + at + 4, mark, strlen(mark));
	at += (4 + strlen(mark) + 3) / 4 * 4;
	le16(out + 4, (uint16_t)at); /* the message starts here */
	struct vup_hdr h = {VUP_REQ_SET_VRING_NUM, VUP_FLAG_VERSION, 8};
	uint32_t st[2] = {1, 256};
	memcpy(out + at, &h, sizeof(h));
	memcpy(out + at + sizeof(h), st, sizeof(st));
	return at + sizeof(h) + sizeof(st);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: ext_trace_gen OUT.pcapng.gz\n");
		return 2;
	}
	struct vup_trace_config cfg = {.path = argv[1]};
	struct vup_trace *t;
	char err[256];
	if (vup_trace_open(&cfg, &t, err, sizeof(err))) {
		fprintf(stderr, "ext_trace_gen: %s\n", err);
		return 1;
	}
	int rc = vup_trace_add_session(t, 1, "fe.sock<>be.sock", "versioning");
	struct vup_trace_hdr th = {.session = 1};
	struct vup_hdr h = {1, VUP_FLAG_VERSION | VUP_FLAG_NEED_REPLY, 0};
	rc |= vup_trace_message(t, T0, &th, &h, NULL);
	uint64_t features = 1ull << 32;
	h = (struct vup_hdr){1, 0xd, 8};
	th.flags = VUP_TRACE_F_FROM_BACKEND;
	snprintf(th.mark, sizeof(th.mark), "%s",
	         "need-reply-on-reply: NEED_REPLY set on a reply (flags 0xd)");
	rc |= vup_trace_message(t, T0 + 1000, &th, &h,
	                        (const uint8_t *)&features);
	uint32_t ctl, future;
	rc |= vup_trace_add_iface(t, 1, LINKTYPE_USER0, 0, "s1 control (2)",
	                          "written by hand", &ctl);
	rc |= vup_trace_add_iface(t, 1, LINKTYPE_FUTURE, 0, "s1 future",
	                          "a kind of record no reader knows", &future);
	uint8_t rec[512];
	size_t n = future_record(rec);
	rc |= vup_trace_packet(t, ctl, T0 + 2000, PCAPNG_DIR_OUTBOUND, rec,
	                       (uint32_t)n, (uint32_t)n);
	rc |= vup_trace_packet(t, future, T0 + 3000, 0, "0123456789abcdef", 16,
	                       16);
	rc |= vup_trace_close(t);
	if (rc) {
		fprintf(stderr, "ext_trace_gen: writing %s failed\n", argv[1]);
		return 1;
	}
	return 0;
}
