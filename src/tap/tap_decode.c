/* tap_decode: one consumed buffer -> one trace record.
 *
 * net: the frame after the virtio-net header; TX (odd queues) from what
 * the guest offered, RX (even queues) from what the device wrote.  With
 * VIRTIO_NET_F_MRG_RXBUF a received frame may span several buffers
 * (num_buffers in its header): the record holds the first buffer's part
 * and the continuation buffers make no record of their own.
 *
 * blk: the request header (type, sector) from the readable part, the
 * status from the last written byte, data from the write data or the
 * read data, latency from the poll times that saw it available and used.
 */
#include <string.h>

#include "tap_internal.h"
#include "vuproxy/trace.h"

#define VIRTIO_NET_F_MRG_RXBUF   15
#define VIRTIO_NET_F_HASH_REPORT 57
#define NET_HDR_NUM_BUFFERS      10 /* offset of num_buffers */
#define BLK_HDR_SIZE             16

uint32_t vup__net_hdr_len(uint64_t features)
{
	if (features >> VIRTIO_NET_F_HASH_REPORT & 1)
		return 20;
	if ((features >> VIRTIO_NET_F_MRG_RXBUF & 1) ||
	    (features >> VUP_F_VERSION_1 & 1))
		return 12;
	return 10;
}

const char *vup__unverified_note(const struct vup_ring_buf *b)
{
	return (b->flags & VUP_RING_BUF_UNVERIFIED)
	               ? "unverified: the device had used this buffer "
	                 "before vuproxy re-checked its copy; the guest may "
	                 "have reused the memory (--tap-unverified)"
	               : NULL;
}

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static void emit_net(struct tap_queue *q, const struct vup_ring_buf *b)
{
	struct vup_tap *t = q->tap;
	uint32_t hl = vup__net_hdr_len(t->features);
	bool rx = q->index % 2 == 0;
	if (rx && q->cont) {
		q->cont--;
		return;
	}
	const uint8_t *p = rx ? b->wr : b->rd;
	uint32_t cap = rx ? b->wr_caplen : b->rd_caplen;
	uint32_t len;
	if (!rx)
		len = b->readable_len;
	else if (b->flags & VUP_RING_BUF_LEN_UNKNOWN)
		len = b->writable_len;
	else
		len = min32(b->used_len, b->writable_len);
	if (cap < hl || len < hl)
		return; /* no frame behind the header */
	if (rx && (t->features >> VIRTIO_NET_F_MRG_RXBUF & 1)) {
		uint16_t nb = (uint16_t)(p[NET_HDR_NUM_BUFFERS] |
		                         p[NET_HDR_NUM_BUFFERS + 1] << 8);
		if (nb > 1)
			q->cont = nb - 1u;
	}
	uint32_t caplen = min32(cap - hl, t->cfg.snaplen);
	if (t->trace && q->declared) {
		uint64_t ts = rx ? b->t_used_ns : b->t_avail_ns;
		vup_trace_packet_note(
		        t->trace, q->handle, ts,
		        rx ? PCAPNG_DIR_INBOUND : PCAPNG_DIR_OUTBOUND, p + hl,
		        caplen, len - hl, vup__unverified_note(b));
	}
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
