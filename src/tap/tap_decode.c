/* tap_decode: one consumed buffer -> one trace record.
 *
 * net: the frame after the virtio-net header; TX (odd queues) from what
 * the guest offered, RX (even queues) from what the device wrote.  With
 * VIRTIO_NET_F_MRG_RXBUF a received frame may span several buffers
 * (num_buffers in its header): it is assembled from the buffers used
 * after it and recorded once they are (or, should one of them not be
 * captured, as far as it got).
 *
 * blk: the request header (type, sector) from the readable part, the
 * status from the last written byte, data from the write data or the
 * read data, latency from the poll times that saw it available and used.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vuproxy/trace.h"

#define NET_HDR_NUM_BUFFERS 10 /* offset of num_buffers */
#define BLK_HDR_SIZE        16

const char *vup__unverified_note(const struct vup_ring_buf *b)
{
	return (!b || (b->flags & VUP_RING_BUF_UNVERIFIED))
	               ? "unverified: the device had used this buffer "
	                 "before vuproxy re-checked its copy; the guest may "
	                 "have reused the memory (--tap-strict drops such "
	                 "copies)"
	               : NULL;
}

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Write the received frame assembled from merged buffers. */
void vup__tap_flush_pending(struct tap_queue *q)
{
	struct vup_tap *t = q->tap;
	if (!q->pend_active)
		return;
	q->pend_active = false;
	q->cont = 0;
	if (t->trace && q->declared)
		vup_trace_packet_note(
		        t->trace, q->handle, q->pend_ts, PCAPNG_DIR_INBOUND,
		        q->pend, q->pend_cap, q->pend_orig,
		        q->pend_unverified ? vup__unverified_note(NULL) : NULL);
	q->frames++;
}

/* Bytes of the frame in a buffer: readable (TX) or written (RX). */
static uint32_t frame_bytes(const struct vup_ring_buf *b, bool rx)
{
	if (!rx)
		return b->readable_len;
	if (b->flags & VUP_RING_BUF_LEN_UNKNOWN)
		return b->writable_len;
	return min32(b->used_len, b->writable_len);
}

/* A continuation buffer of a merged received frame: appended.  On a
 * split ring the buffers of a frame are used one after another; a gap in
 * the used indices means some were not captured (missed or torn).  If
 * the frame ended within the gap, it is written as it got and b is the
 * start of another; if b still belongs to it, the frame is written as it
 * got (its bytes after the hole are unknown) and its remaining buffers
 * are dropped.  False when b starts a frame. */
static bool continue_frame(struct tap_queue *q, const struct vup_ring_buf *b)
{
	struct vup_tap *t = q->tap;
	bool packed = vup__tap_neg(t)->features >> VUP_F_RING_PACKED & 1;
	uint16_t gap = packed ? 0 : (uint16_t)(b->used_idx - q->pend_next_used);
	if (gap >= q->cont) {
		vup__tap_flush_pending(q); /* ended in the gap */
		return false;
	}
	if (gap) {
		vup__tap_flush_pending(q);
		q->skip = q->cont - gap - 1; /* the rest of it, after b */
		q->pend_next_used = (uint16_t)(b->used_idx + 1);
		return true;
	}
	uint32_t len = frame_bytes(b, true);
	uint32_t n =
	        min32(min32(b->wr_caplen, len), t->cfg.snaplen - q->pend_cap);
	memcpy(q->pend + q->pend_cap, b->wr, n);
	q->pend_cap += n;
	q->pend_orig = len > UINT32_MAX - q->pend_orig ? UINT32_MAX
	                                               : q->pend_orig + len;
	q->pend_unverified |= (b->flags & VUP_RING_BUF_UNVERIFIED) != 0;
	q->pend_next_used = (uint16_t)(b->used_idx + 1);
	if (--q->cont == 0)
		vup__tap_flush_pending(q);
	return true;
}

/* Buffers left of a frame cut by a hole: dropped while they follow on. */
static bool skip_rest(struct tap_queue *q, const struct vup_ring_buf *b)
{
	bool packed = vup__tap_neg(q->tap)->features >> VUP_F_RING_PACKED & 1;
	uint16_t gap = packed ? 0 : (uint16_t)(b->used_idx - q->pend_next_used);
	if (gap >= q->skip) {
		q->skip = 0;
		return false;
	}
	q->skip -= gap + 1u;
	q->pend_next_used = (uint16_t)(b->used_idx + 1);
	return true;
}

static void emit_net(struct tap_queue *q, const struct vup_ring_buf *b)
{
	struct vup_tap *t = q->tap;
	uint32_t hl = vup_net_hdr_len(vup__tap_neg(t)->features);
	bool rx = q->index % 2 == 0;
	if (rx && q->pend_active && continue_frame(q, b))
		return;
	if (rx && q->skip && skip_rest(q, b))
		return;
	const uint8_t *p = rx ? b->wr : b->rd;
	uint32_t cap = rx ? b->wr_caplen : b->rd_caplen;
	uint32_t len = frame_bytes(b, rx);
	if (cap < hl || len < hl)
		return; /* no frame behind the header */
	uint32_t caplen = min32(cap - hl, t->cfg.snaplen);
	uint64_t ts = rx ? b->t_used_ns : b->t_avail_ns;
	uint16_t nb = 1;
	if (rx && (vup__tap_neg(t)->features >> VUP_F_NET_MRG_RXBUF & 1))
		nb = (uint16_t)(p[NET_HDR_NUM_BUFFERS] |
		                p[NET_HDR_NUM_BUFFERS + 1] << 8);
	/* A frame spans at most the ring: a larger count (or 0) is not a
	 * header the device wrote (a continuation buffer taken for a frame's
	 * start after a gap, or a hostile device): no frame here. */
	if (nb == 0 || nb > q->num) {
		q->frames_dropped++;
		return;
	}
	if (nb > 1) {
		/* The frame goes on in the next nb - 1 buffers used: keep it
		 * until they are. */
		if (!q->pend && !(q->pend = malloc(t->cfg.snaplen)))
			return;
		memcpy(q->pend, p + hl, caplen);
		q->pend_cap = caplen;
		q->pend_orig = len - hl;
		q->pend_ts = ts;
		q->pend_unverified = (b->flags & VUP_RING_BUF_UNVERIFIED) != 0;
		q->pend_next_used = (uint16_t)(b->used_idx + 1);
		q->pend_active = true;
		q->cont = nb - 1u;
		return;
	}
	if (t->trace && q->declared)
		vup_trace_packet_note(
		        t->trace, q->handle, ts,
		        rx ? PCAPNG_DIR_INBOUND : PCAPNG_DIR_OUTBOUND, p + hl,
		        caplen, len - hl, vup__unverified_note(b));
	q->frames++;
}

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void emit_blk(struct tap_queue *q, const struct vup_ring_buf *b)
{
	struct vup_tap *t = q->tap;
	struct vup_blk_rec r = {
	        .queue = (uint16_t)q->index,
	        .id = b->id,
	        .type = UINT32_MAX,
	        .status = VUP_BLK_STATUS_UNKNOWN,
	        .used_len = b->used_len,
	};
	if (b->rd_caplen >= BLK_HDR_SIZE) {
		r.type = (uint32_t)le(b->rd, 4);
		r.sector = le(b->rd + 8, 8);
	}
	if (b->flags & VUP_RING_BUF_HAS_LAST) {
		r.status = b->wr_last;
		r.flags |= VUP_BLK_F_STATUS;
	}
	if (b->t_avail_ns && b->t_used_ns >= b->t_avail_ns) {
		r.latency_ns = b->t_used_ns - b->t_avail_ns;
		r.flags |= VUP_BLK_F_LATENCY;
	}
	/* Data: what follows the header in the readable part (write data,
	 * discard ranges), else the written part before the status byte. */
	const uint8_t *data;
	uint32_t cap;
	if (b->readable_len > BLK_HDR_SIZE) {
		r.data_len = b->readable_len - BLK_HDR_SIZE;
		data = b->rd + BLK_HDR_SIZE;
		cap = b->rd_caplen > BLK_HDR_SIZE ? b->rd_caplen - BLK_HDR_SIZE
		                                  : 0;
	} else {
		r.data_len = b->writable_len ? b->writable_len - 1 : 0;
		data = b->wr;
		cap = min32(b->wr_caplen, r.data_len);
	}
	cap = min32(cap, t->cfg.snaplen);
	if (!t->trace || !t->blk_declared)
		return;
	static uint8_t rec[VUP_BLK_REC_SIZE + VUP_RING_MAX_SNAPLEN];
	vup_blk_rec_encode(&r, rec);
	memcpy(rec + VUP_BLK_REC_SIZE, data, cap);
	vup_trace_packet_note(t->trace, t->blk_handle, b->t_used_ns,
	                      PCAPNG_DIR_INBOUND, rec, VUP_BLK_REC_SIZE + cap,
	                      r.data_len > UINT32_MAX - VUP_BLK_REC_SIZE
	                              ? UINT32_MAX
	                              : VUP_BLK_REC_SIZE + r.data_len,
	                      vup__unverified_note(b));
	q->frames++;
}

void vup__tap_emit(void *ctx, const struct vup_ring_buf *b)
{
	struct tap_queue *q = ctx;
	if (q->tap->cfg.kind == VUP_TAP_BLK)
		emit_blk(q, b);
	else
		emit_net(q, b);
}
