/* ext_trace_gen: writes a trace holding what later versions add to it, the
 * way the versioning rule says they add it (include/vuproxy/pcapng.h), for
 * versioning.sh; with --findings, a trace of findings for findings.sh.
 *
 *   ext_trace_gen OUT.pcapng.gz
 *   ext_trace_gen --findings OUT.pcapng.gz
 *
 * Session 1, control interface:
 *   1 GET_FEATURES request, nothing added;
 *   2 its reply with flags 0xd and a mark (extension 1), as vuproxy
 *     writes a message it relayed despite a problem;
 *   3 SET_VRING_NUM {index 1, num 256} in a pseudo-header written by
 *     hand: an extension of a type no reader knows yet (0x7f01, 5 bytes,
 *     padded), then a mark;
 *   4 a record of a kind no reader knows yet: an interface of link type
 *     LINKTYPE_USER3 (150; 149 reads as PKTAP in Wireshark) with 16 bytes
 *     (which are not a finding, the record USER3 now holds);
 *   5 a finding (tracemsg.h) on the "vuproxy findings" interface: error
 *     VU004 about frame 2;
 *   6 SET_OWNER, after it.
 * Readers must show 1-3 and 6 with their fields and marks, skip the
 * unknown extension by its length, and skip record 4; record 5 is shown
 * by the readers that know findings and skipped by those that do not.
 *
 * --findings: session 1 sends GET_FEATURES before SET_OWNER (frame 1, a
 * warning), acks a feature the back-end never offered (frame 4, an error)
 * and asks GET_VRING_BASE, never answered (frame 7, an error); each
 * finding is recorded after its message, as the live checker does, the
 * last one with a rule that caused it.  Also: an info finding about a
 * frame not in the file (0), a finding of version 2 and a cut finding,
 * which readers skip.  Frames:
 *   1 GET_FEATURES   2 finding VU015 (warning) about 1   3 reply
 *   4 SET_FEATURES   5 finding VU012 (error) about 4     6 SET_OWNER
 *   7 GET_VRING_BASE 8 finding VU023 (info) about 0     9 version 2
 *  10 cut finding   11 finding VU022 (error) about 7, rule "hang-base" */
#include <stdio.h>
#include <string.h>

#include "vuproxy/pcapng.h"
#include "vuproxy/proto.h"
#include "vuproxy/trace.h"
#include "vuproxy/tracemsg.h"

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

/* A finding record (cut to caplen bytes when caplen is not 0; version
 * overwritten when not 0) on interface iface. */
static int finding(struct vup_trace *t, uint32_t iface, uint64_t ts,
                   const struct vup_finding_rec *f, uint32_t caplen,
                   uint8_t version)
{
	struct vup_buf b = {0};
	int rc = vup_finding_encode(&b, f);
	if (!rc) {
		if (version)
			b.data[2] = version;
		uint32_t len = caplen ? caplen : (uint32_t)b.len;
		rc = vup_trace_packet(t, iface, ts, 0, b.data, len, len);
	}
	vup_buf_free(&b);
	return rc;
}

/* A finding of session 1 about a main-channel message. */
static struct vup_finding_rec about(uint8_t severity, uint64_t frame,
                                    uint32_t request, bool from_backend,
                                    const char *id, const char *rule,
                                    const char *message)
{
	return (struct vup_finding_rec){
	        .severity = severity,
	        .flags = from_backend ? VUP_TRACE_F_FROM_BACKEND : 0,
	        .session = 1,
	        .frame = frame,
	        .request = request,
	        .id = id,
	        .id_len = strlen(id),
	        .rule = rule,
	        .rule_len = rule ? strlen(rule) : 0,
	        .message = message,
	        .message_len = strlen(message),
	};
}

static int findings_trace(struct vup_trace *t)
{
	uint32_t fi;
	int rc = vup_trace_add_session(t, 1, "fe.sock<>be.sock", "findings");
	rc |= vup_trace_add_iface(t, 0, LINKTYPE_USER3, 0, VUP_FINDING_IFACE,
	                          "what vuproxy check found", &fi);
	struct vup_trace_hdr th = {.session = 1};
	struct vup_hdr h = {VUP_REQ_GET_FEATURES, VUP_FLAG_VERSION, 0};
	rc |= vup_trace_message(t, T0, &th, &h, NULL);
	struct vup_finding_rec f =
	        about(1, 1, VUP_REQ_GET_FEATURES, false, "VU015", NULL,
	              "GET_FEATURES before SET_OWNER");
	rc |= finding(t, fi, T0 + 1, &f, 0, 0);
	uint64_t offered = 1ull << 32, acked = offered | 1ull << 15;
	h = (struct vup_hdr){VUP_REQ_GET_FEATURES,
	                     VUP_FLAG_VERSION | VUP_FLAG_REPLY, 8};
	th.flags = VUP_TRACE_F_FROM_BACKEND;
	rc |= vup_trace_message(t, T0 + 1000, &th, &h,
	                        (const uint8_t *)&offered);
	h = (struct vup_hdr){VUP_REQ_SET_FEATURES, VUP_FLAG_VERSION, 8};
	th.flags = 0;
	rc |= vup_trace_message(t, T0 + 2000, &th, &h, (const uint8_t *)&acked);
	f = about(2, 4, VUP_REQ_SET_FEATURES, false, "VU012", NULL,
	          "acked 0x8000, never offered");
	rc |= finding(t, fi, T0 + 2001, &f, 0, 0);
	h = (struct vup_hdr){VUP_REQ_SET_OWNER, VUP_FLAG_VERSION, 0};
	rc |= vup_trace_message(t, T0 + 3000, &th, &h, NULL);
	uint32_t state[2] = {0, 0};
	h = (struct vup_hdr){VUP_REQ_GET_VRING_BASE, VUP_FLAG_VERSION, 8};
	rc |= vup_trace_message(t, T0 + 4000, &th, &h, (const uint8_t *)state);
	f = about(0, 0, VUP_REQ_GET_VRING_BASE, true, "VU023", NULL,
	          "reply owed since the previous file");
	rc |= finding(t, fi, T0 + 4001, &f, 0, 0);
	f = about(2, 7, 0, false, "VU999", NULL, "from a later vuproxy");
	rc |= finding(t, fi, T0 + 4002, &f, 0, 2);
	rc |= finding(t, fi, T0 + 4003, &f, VUP_FINDING_FIXED + 2, 0);
	f = about(2, 7, VUP_REQ_GET_VRING_BASE, false, "VU022", "hang-base",
	          "no reply to GET_VRING_BASE");
	rc |= finding(t, fi, T0 + 5000, &f, 0, 0);
	return rc;
}

static int versioning_trace(struct vup_trace *t);

int main(int argc, char **argv)
{
	bool findings = argc == 3 && strcmp(argv[1], "--findings") == 0;
	if (argc != 2 && !findings) {
		fprintf(stderr, "usage: ext_trace_gen [--findings] "
		                "OUT.pcapng.gz\n");
		return 2;
	}
	struct vup_trace_config cfg = {.path = argv[argc - 1]};
	struct vup_trace *t;
	char err[256];
	if (vup_trace_open(&cfg, &t, err, sizeof(err))) {
		fprintf(stderr, "ext_trace_gen: %s\n", err);
		return 1;
	}
	int rc = findings ? findings_trace(t) : versioning_trace(t);
	rc |= vup_trace_close(t);
	if (rc) {
		fprintf(stderr, "ext_trace_gen: writing %s failed\n",
		        argv[argc - 1]);
		return 1;
	}
	return 0;
}

static int versioning_trace(struct vup_trace *t)
{
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
	uint32_t fi;
	rc |= vup_trace_add_iface(t, 0, LINKTYPE_USER3, 0, VUP_FINDING_IFACE,
	                          "what vuproxy check found", &fi);
	struct vup_finding_rec f =
	        about(2, 2, VUP_REQ_GET_FEATURES, true, "VU004", NULL,
	              "NEED_REPLY set on a reply (flags 0xd)");
	rc |= finding(t, fi, T0 + 4000, &f, 0, 0);
	th = (struct vup_trace_hdr){.session = 1};
	h = (struct vup_hdr){VUP_REQ_SET_OWNER, VUP_FLAG_VERSION, 0};
	rc |= vup_trace_message(t, T0 + 5000, &th, &h, NULL);
	return rc;
}
