/* declared_from: rewrites a recorded session as the file a rotation (or
 * a recording started at run time) would write once the session is set
 * up: its set-up restated as declared state, then its teardown as
 * events, for `dpdk_replay.sh declared` (a real back-end takes a file
 * that starts mid-session).
 *
 *   declared_from IN OUT
 *
 * The first session of IN; its control messages before the teardown (the
 * first GET_VRING_BASE, or SET_VRING_ENABLE with enable 0, from the
 * front-end) become declared: time = the file's start (just before the
 * teardown), the declared value = when they crossed; pseudo-header flags,
 * action, fds and bytes as recorded.  OUT is plain pcapng with one
 * interface, marked continued (VUP_IDB_CONTINUED); tap records are left
 * out.  Prints how many messages were declared and how many follow. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vuproxy/pcapng.h"
#include "vuproxy/proto.h"
#include "vuproxy/reader.h"

/* Does this message start the teardown? */
static bool teardown(const struct vup_trace_hdr *th, const uint8_t *m,
                     size_t len)
{
	struct vup_hdr h;
	if (len < VUP_HDR_SIZE ||
	    (th->flags & (VUP_TRACE_F_BACKEND_CHAN | VUP_TRACE_F_FROM_BACKEND)))
		return false;
	memcpy(&h, m, VUP_HDR_SIZE);
	if (h.request == VUP_REQ_GET_VRING_BASE)
		return true;
	uint32_t enable = 1;
	if (h.request == VUP_REQ_SET_VRING_ENABLE && len >= VUP_HDR_SIZE + 8)
		memcpy(&enable, m + VUP_HDR_SIZE + 4, 4);
	return h.request == VUP_REQ_SET_VRING_ENABLE && !enable;
}

struct rec {
	struct vup_trace_hdr th;
	uint64_t ts;
	uint8_t *msg;
	size_t len;
};

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: declared_from IN OUT\n");
		return 2;
	}
	struct vup_reader *r;
	char err[256];
	if (vup_reader_open(argv[1], &r, err, sizeof(err))) {
		fprintf(stderr, "declared_from: %s\n", err);
		return 1;
	}
	static struct rec recs[4096];
	size_t n = 0, split = 0;
	bool have = false, found = false;
	uint32_t session = 0;
	char ifname[256] = "s1";
	struct vup_record rec;
	while (n < 4096 &&
	       vup_reader_next(r, &rec, err, sizeof(err)) == VUP_READ_RECORD) {
		struct rec *c = &recs[n];
		int hl;
		if (rec.linktype != LINKTYPE_USER0 ||
		    (hl = vup_trace_hdr_decode(rec.data, rec.caplen, &c->th,
		                               err, sizeof(err))) < 0)
			continue;
		if (!have) {
			session = c->th.session;
			snprintf(ifname, sizeof(ifname), "%s", rec.ifname);
			have = true;
		}
		if (c->th.session != session)
			continue;
		c->ts = rec.ts_ns;
		c->len = rec.caplen - (size_t)hl;
		if (c->len > VUP_HDR_SIZE + VUP_MAX_PAYLOAD)
			continue; /* not a message this test replays */
		c->msg = malloc(c->len ? c->len : 1);
		if (!c->msg)
			return 1;
		memcpy(c->msg, rec.data + hl, c->len);
		if (!found && teardown(&c->th, c->msg, c->len)) {
			found = true;
			split = n;
		}
		n++;
	}
	vup_reader_close(r);
	if (!found || !split) {
		fprintf(stderr, "declared_from: %s: no set-up then teardown\n",
		        argv[1]);
		return 1;
	}
	struct vup_buf b = {0};
	pcapng_shb(&b, "vuproxy declared_from");
	pcapng_idb_note(&b, LINKTYPE_USER0, 0, ifname, NULL, VUP_IDB_CONTINUED);
	static uint8_t pkt[VUP_TRACE_HDR_MAX + VUP_HDR_SIZE + VUP_MAX_PAYLOAD];
	for (size_t i = 0; i < n; i++) {
		struct rec *c = &recs[i];
		uint64_t ts = c->ts;
		if (i < split) {
			c->th.declared = true;
			c->th.declared_ns = c->ts;
			ts = recs[split].ts - 1000;
		}
		size_t hl = vup_trace_hdr_size(&c->th);
		vup_trace_hdr_encode(&c->th, pkt);
		memcpy(pkt + hl, c->msg, c->len);
		uint32_t len = (uint32_t)(hl + c->len);
		pcapng_epb(&b, 0, ts, pkt, len, len,
		           (c->th.flags & VUP_TRACE_F_FROM_BACKEND)
		                   ? PCAPNG_DIR_INBOUND
		                   : PCAPNG_DIR_OUTBOUND,
		           NULL);
		free(c->msg);
	}
	FILE *f = fopen(argv[2], "wb");
	int rc = f && fwrite(b.data, 1, b.len, f) == b.len ? 0 : 1;
	if (f && fclose(f))
		rc = 1;
	vup_buf_free(&b);
	printf("%zu declared, %zu after\n", split, n - split);
	return rc;
}
