/* active_capture: --active with -w.  Every TX chain as vuproxy pulls it
 * and every RX chain as it completes it to the guest goes to the trace
 * through the tap's record path (vup_tap_capture): the same interfaces,
 * records and statistics as the passive tap, so readers need nothing
 * new.  At those moments neither peer may touch the buffer, so every
 * frame is captured whole, once. */
#include "active_internal.h"
#include "vuproxy/ring.h"
#include "vuproxy/tap.h"

/* Capture (-w): the first bytes of a chain's device-readable (TX) or
 * written (RX) segments, copied from guest memory while neither peer
 * may touch them. */
static uint32_t gather(struct avring *r, const struct vup_svq_chain *c,
                       bool write, uint32_t limit, uint8_t *dst)
{
	uint32_t got = 0;
	for (uint32_t i = 0; i < c->nseg && got < limit; i++) {
		if (c->seg[i].write != write)
			continue;
		uint32_t n = c->seg[i].len < limit - got ? c->seg[i].len
		                                         : limit - got;
		if (!vup_guest_read(&r->as->gmem, VUP_AS_GPA, c->seg[i].addr,
		                    dst + got, n))
			break;
		got += n;
	}
	return got;
}

static void capture(struct avring *r, const struct vup_svq_chain *c, bool rx,
                    uint32_t len)
{
	static uint8_t buf[VUP_RING_MAX_SNAPLEN + 64];
	struct vup_session *s = r->as->s;
	uint32_t limit = s->proxy->cfg.tap.snaplen + 64; /* + net header */
	if (limit > sizeof(buf))
		limit = sizeof(buf);
	struct vup_ring_buf b = {
	        .id = c->head,
	        .avail_idx = c->avail_idx,
	        .ndesc = (uint16_t)c->nseg,
	        .readable_len = c->rd_len,
	        .writable_len = c->wr_len,
	        .used_len = len,
	};
	uint64_t now = vup__wall_ns();
	if (rx) {
		b.wr = buf;
		b.wr_caplen =
		        gather(r, c, true, len < limit ? len : limit, buf);
		b.used_idx = r->rx_used++;
		b.t_used_ns = now;
	} else {
		b.rd = buf;
		b.rd_caplen = gather(r, c, false, limit, buf);
		b.t_avail_ns = now;
	}
	vup_tap_capture(r->as->tap, s->flow.model, r->idx, r->q.cfg.num, &b,
	                now);
}

enum vup_svq_verdict vup__active_on_avail(void *ctx,
                                          const struct vup_svq_chain *c)
{
	struct avring *r = ctx;
	if (r->idx % 2 == 1) /* TX: the frame as the guest offers it */
		capture(r, c, false, 0);
	return VUP_SVQ_FORWARD;
}

void vup__active_on_used(void *ctx, const struct vup_svq_chain *c, uint32_t len)
{
	struct avring *r = ctx;
	if (r->idx % 2 == 0 && !c->segs_lost) /* RX: as the back-end wrote */
		capture(r, c, true, len);
}
