/* tapfmt: how the tap's records look in a trace.
 *
 * The tap adds interfaces to a session next to its control interface:
 *
 * --tap net: one LINKTYPE_ETHERNET interface per virtqueue, named
 *   "s<session> net q<index> rx" (even queues: the device writes, frames
 *   to the guest, epb_flags inbound) or "s<session> net q<index> tx" (odd
 *   queues: the guest's frames, outbound).  A packet is the Ethernet frame
 *   without the virtio-net header, cut to the snap length; origlen is the
 *   frame's length (with MRG_RXBUF, a received frame spanning several
 *   buffers is assembled from them; should one of them not be captured,
 *   it is recorded as far as it got).
 *
 * --tap blk: one LINKTYPE_USER1 interface per session, named
 *   "s<session> blk", one packet per completed request: the record below,
 *   then the first bytes of the request's data (write data as the guest
 *   offered it, read data as the device wrote it), cut to the snap length.
 *
 * Each tap interface gets an Interface Statistics Block when its queue
 * stops (the back-end answers GET_VRING_BASE, the queue is set up again,
 * the session ends): isb_ifrecv consumed, isb_usrdeliv captured, isb_ifdrop
 * missed, isb_osdrop torn + malformed, and a comment "consumed=N captured=N
 * missed=N torn=N malformed=N" with the exact classes (see ring.h).
 */
#ifndef VUPROXY_TAPFMT_H
#define VUPROXY_TAPFMT_H

#include <stddef.h>
#include <stdint.h>

/* The blk record, version 1, little-endian:
 *   0  u8[2] magic "VB"
 *   2  u8    version (1)
 *   3  u8    flags: bit0 status known, bit1 latency known
 *   4  u16   virtqueue index
 *   6  u16   descriptor id (head) of the request
 *   8  u32   type (VIRTIO_BLK_T_*: 0 IN read, 1 OUT write, 4 FLUSH,
 *            8 GET_ID, 11 DISCARD, 13 WRITE_ZEROES, ...)
 *  12  u32   data length in bytes (without header and status byte)
 *  16  u64   sector (512-byte units)
 *  24  u8    status (0 OK, 1 IOERR, 2 UNSUPP; 0xff when not known)
 *  25  u8[3] reserved, 0
 *  28  u32   used length the device reported
 *  32  u64   latency in ns, from the poll that saw the request available
 *            to the poll that saw it used (poll-interval resolution)
 *  40  data (caplen - 40 bytes)
 */
#define VUP_BLK_MAGIC0         'V'
#define VUP_BLK_MAGIC1         'B'
#define VUP_BLK_VERSION        1
#define VUP_BLK_REC_SIZE       40
#define VUP_BLK_F_STATUS       0x1
#define VUP_BLK_F_LATENCY      0x2
#define VUP_BLK_STATUS_UNKNOWN 0xff

#define VUP_BLK_T_IN           0
#define VUP_BLK_T_OUT          1
#define VUP_BLK_T_FLUSH        4
#define VUP_BLK_T_GET_ID       8
#define VUP_BLK_T_GET_LIFETIME 10
#define VUP_BLK_T_DISCARD      11
#define VUP_BLK_T_WRITE_ZEROES 13
#define VUP_BLK_T_SECURE_ERASE 14

struct vup_blk_rec {
	uint8_t flags;
	uint16_t queue, id;
	uint32_t type, data_len;
	uint64_t sector;
	uint8_t status;
	uint32_t used_len;
	uint64_t latency_ns;
};

void vup_blk_rec_encode(const struct vup_blk_rec *r,
                        uint8_t out[VUP_BLK_REC_SIZE]);
/* 0; -1 if p is not a blk record; -2 if it is a newer version. */
int vup_blk_rec_decode(const uint8_t *p, size_t len, struct vup_blk_rec *r);
/* "IN", "OUT", "FLUSH", ...; NULL for a type vuproxy does not know. */
const char *vup_blk_type_name(uint32_t type);
/* "OK", "IOERR", "UNSUPP"; NULL otherwise. */
const char *vup_blk_status_name(uint8_t status);

#endif
