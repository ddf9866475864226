/* ring: passive readers of split and packed virtqueues (the tap).
 *
 * A reader is a third party: it only reads guest memory through
 * vup_guest_read, never writes it, owns no fd and no loop.  The caller
 * polls it with the current time; it reports each buffer the device
 * consumed once, when it becomes used.  Device-readable bytes are copied
 * when the buffer becomes available, device-written bytes when it becomes
 * used; after each copy the ring is re-read (seqlock style) and a copy
 * that may have been overwritten is discarded as torn.  A buffer with a
 * device-readable part already used when the reader first sees it
 * available counts torn (the driver may have reused its memory), unless
 * keep_unverified keeps it flagged; one with only a device-writable part
 * does not (its data is copied and checked when used).
 *
 * Counting: every buffer the device consumed is classified exactly once,
 *   captured + missed + torn + malformed == consumed.
 * Split rings: consumed comes from used.idx and is exact.  Packed rings
 * have no used index: consumed counts the used descriptors the reader
 * sees.  When the driver has written over them before a poll, the reader
 * loses its place (desync): it counts the buffers it was waiting for as
 * consumed and missed, restarts at its avail position, and counts what
 * it copies in the next two rings' worth of uses as torn (the device may
 * still be completing buffers offered before the restart).
 *
 * Limits (a third party cannot do better):
 * - a driver that reuses the memory of a used device-writable buffer
 *   before offering it again is not seen (no driver-side used index);
 * - packed: a driver going round the ring twice between two reads of a
 *   slot is invisible to a 1-bit wrap counter; the reader detects it
 *   only when it lands inside a chain;
 * - of a descriptor's buffer only the first and last bytes and the
 *   snapped bytes are checked to be in guest memory;
 * - one poll makes at most VUP_RING_POLL_READS guest reads and stops at
 *   a desync; the rest is read by the next poll;
 * - legacy (non VERSION_1) rings are read as little-endian.
 */
#ifndef VUPROXY_RING_H
#define VUPROXY_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/bits.h" /* VUP_F_RING_PACKED, ... in features */
#include "vuproxy/guestmem.h"
#include "vuproxy/ring_layout.h"

#define VUP_RING_MAX_SIZE VUP_VRING_MAX_NUM
/* Largest indirect table accepted (descriptors). */
#define VUP_RING_MAX_INDIRECT 32768u
/* Guest reads one poll may make: a hostile ring cannot make a poll
 * take long; what is left over is read by the next poll. */
#define VUP_RING_POLL_READS(size) (16u * (size) + 65536u)
/* Largest snap length per part (readable, written). */
#define VUP_RING_MAX_SNAPLEN 65536u
/* Device-writable segments remembered per buffer (enough for snaplen). */
#define VUP_RING_MAX_WSEG 8

struct vup_ring_config {
	uint32_t size;       /* SET_VRING_NUM */
	uint64_t desc;       /* SET_VRING_ADDR, uaddr: descriptor table */
	uint64_t avail;      /* avail ring / packed: driver event area */
	uint64_t used;       /* used ring / packed: device event area */
	uint16_t avail_base; /* SET_VRING_BASE: split next avail idx;
	                        packed idx | wrap << 15 */
	uint16_t used_base;  /* split: used.idx at start (normally equal to
	                        avail_base); packed: idx | wrap << 15 */
	uint64_t features;   /* negotiated virtio features */
	uint32_t snaplen;    /* bytes kept per part; 0 means 256 */
	/* A device that polls (DPDK) uses a buffer within microseconds of
	 * its offer: a poll then finds it already used, its readable copy
	 * unverifiable (the driver may reuse memory it got back).  Keep such
	 * copies, flagged VUP_RING_BUF_UNVERIFIED, instead of counting them
	 * torn. */
	bool keep_unverified;
};

/* vup_ring_buf.flags */
enum {
	VUP_RING_BUF_READABLE = 1 << 0,    /* chain has device-readable part */
	VUP_RING_BUF_WRITABLE = 1 << 1,    /* chain has device-writable part */
	VUP_RING_BUF_INDIRECT = 1 << 2,    /* an indirect table was walked */
	VUP_RING_BUF_LEN_UNKNOWN = 1 << 3, /* IN_ORDER batch: no used len */
	VUP_RING_BUF_LEN_OVER = 1 << 4,    /* used len > writable length */
	VUP_RING_BUF_WSEG_TRUNC = 1 << 5,  /* written part cut: > WSEG segs */
	VUP_RING_BUF_HAS_LAST = 1 << 6,    /* wr_last holds the last written
	                                      byte (virtio-blk status) */
	VUP_RING_BUF_UNVERIFIED = 1 << 7,  /* keep_unverified: the device used
	                                      it before the readable copy was
	                                      re-checked */
};

/* One consumed buffer, valid during the emit callback only. */
struct vup_ring_buf {
	uint16_t id;        /* split: head index; packed: buffer id */
	uint16_t avail_idx; /* split: avail index; packed: pos | wrap << 15 */
	uint16_t used_idx;  /* split: used index; packed: pos | wrap << 15 */
	uint16_t ndesc;     /* descriptors in the chain (ring slots) */
	uint32_t flags;     /* VUP_RING_BUF_* */
	uint32_t readable_len; /* total device-readable bytes */
	uint32_t writable_len; /* total device-writable bytes */
	uint32_t used_len;     /* from the used entry (0 if unknown) */
	const uint8_t *rd;     /* first rd_caplen readable bytes */
	uint32_t rd_caplen;
	const uint8_t *wr; /* first wr_caplen written bytes */
	uint32_t wr_caplen;
	uint8_t wr_last; /* last byte of the writable part, as used */
	uint64_t t_avail_ns, t_used_ns; /* poll times it was seen */
};

typedef void (*vup_ring_emit_fn)(void *ctx, const struct vup_ring_buf *b);

struct vup_ring_stats {
	uint64_t consumed, captured, missed, torn, malformed;
	uint64_t bad_index;  /* polls that saw an impossible ring index */
	uint64_t unreadable; /* polls whose ring indices could not be read */
	uint64_t desync;     /* packed: used position lost and restarted */
	uint64_t dropped;    /* captures overwritten before their use */
	uint64_t unverified; /* of captured: flagged VUP_RING_BUF_UNVERIFIED */
	const char *last_malformed; /* reason of the last malformed buffer */
};

struct vup_ring_rec;

struct vup_ring {
	struct vup_ring_config cfg;
	bool packed, indirect, in_order, stopped;
	bool avail_lost;    /* packed: avail position lost, looking for one */
	uint32_t suspect;   /* packed: descriptors to use before trusting
	                       captures again after a desync */
	uint32_t budget;    /* guest reads left in this poll */
	uint32_t max_reads; /* the caller's cap for the next poll (0: none
	                       below VUP_RING_POLL_READS) */
	uint32_t budget_start; /* budget at the start of the last poll */
	uint64_t stuck_use;    /* packed: the unmatched used descriptor already
	                          counted (id << 16 | position) + 1, or 0 */
	bool halt;             /* this poll stops: budget spent or desync */
	uint32_t snaplen;
	/* split: next avail/used index; packed: position and wrap */
	uint16_t avail_cur, used_cur;
	uint16_t avail_seen; /* split: avail index the last round read */
	bool avail_wrap, used_wrap;
	struct vup_ring_rec *rec; /* cfg.size records + 1 scratch */
	uint8_t *snap;            /* as many slots of 2 * snaplen bytes */
	uint16_t *fifo;           /* packed IN_ORDER: ids in avail order */
	uint16_t *offered; /* split: avail index of each head's last offer */
	uint32_t *stale;   /* split: 1 << 16 | avail idx below which a head's
	                      avail entries are already used */
	uint16_t *first;   /* split: scratch, first unread offer of a head */
	uint32_t fifo_head, fifo_len;
	uint32_t *stamp;  /* per id: generation of a capture */
	uint32_t *stamp2; /* per id: generation of a re-offer */
	uint32_t *work;   /* used entries awaiting their re-check */
	uint32_t gen;
	uint32_t losses; /* split: times uses went by unseen (used ring
	                    lapped, used entry unreadable): records made
	                    before may wait for a use already gone */
	struct vup_ring_stats st;
};

/* Checks cfg and allocates the reader.  0; -EINVAL with *reason set for
 * a refused configuration; -ENOMEM. */
int vup_ring_init(struct vup_ring *q, const struct vup_ring_config *cfg,
                  const char **reason);
void vup_ring_free(struct vup_ring *q);

/* Reads the ring once and reports buffers that became used.  0, -EFAULT
 * if the ring indices could not be read (counted in stats), -ESHUTDOWN
 * after vup_ring_stop. */
int vup_ring_poll(struct vup_ring *q, const struct vup_guest_mem *mem,
                  uint64_t now_ns, vup_ring_emit_fn emit, void *ctx);

/* Guest reads the last poll made. */
uint32_t vup_ring_reads(const struct vup_ring *q);

/* Bytes a reader of this size and snap length allocates. */
uint64_t vup_ring_mem(uint32_t size, uint32_t snaplen);

/* GET_VRING_BASE or disable: no more reads. */
void vup_ring_stop(struct vup_ring *q);

const struct vup_ring_stats *vup_ring_stats(const struct vup_ring *q);

#endif
