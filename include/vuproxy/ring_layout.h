/* ring_layout: the virtqueue layouts of the virtio spec (split ring,
 * 2.7; packed ring, 2.8) as offsets, sizes and flags, with little-endian
 * field accessors over bytes.  The one definition that the tap's passive
 * readers (src/tap/ring*.c) and the replay's driver (src/replay/
 * frames_ring.c) share.
 *
 * Offsets count from the start of each area (descriptor, avail ring, used
 * ring).  Fields are read from and written to byte copies of guest memory
 * (memcpy'd or copied by vup_guest_read), never through a pointer cast
 * into guest memory: an address a peer gave us need not be aligned.
 * Rings are read as little-endian (VERSION_1; legacy rings too, see
 * vuproxy/ring.h). */
#ifndef VUPROXY_RING_LAYOUT_H
#define VUPROXY_RING_LAYOUT_H

#include <stdint.h>

#include "vuproxy/le.h"

/* The largest queue size the spec allows (a split ring's is a power of
 * 2). */
#define VUP_VRING_MAX_NUM 32768u

/* ---- descriptors (split and packed): 16 bytes ---- */

#define VUP_DESC_SIZE     16u
#define VUP_DESC_OFF_ADDR 0 /* le64: guest-physical address */
#define VUP_DESC_OFF_LEN  8 /* le32 */
/* split {addr, len, flags le16, next le16} */
#define VUP_SDESC_OFF_FLAGS 12
#define VUP_SDESC_OFF_NEXT  14
/* packed {addr, len, id le16, flags le16} */
#define VUP_PDESC_OFF_ID    12
#define VUP_PDESC_OFF_FLAGS 14

#define VUP_DESC_F_NEXT     1u /* the chain goes on at next (split) */
#define VUP_DESC_F_WRITE    2u /* device-writable */
#define VUP_DESC_F_INDIRECT 4u /* the buffer is a table of descriptors */
#define VUP_PDESC_F_AVAIL   (1u << 7)
#define VUP_PDESC_F_USED    (1u << 15)

/* ---- split ring: avail {flags, idx, ring[num], used_event}, all le16;
 * used {flags, idx, ring[num] of {id le32, len le32}, avail_event} ---- */

#define VUP_AVAIL_OFF_FLAGS 0
#define VUP_AVAIL_OFF_IDX   2
#define VUP_USED_OFF_FLAGS  0
#define VUP_USED_OFF_IDX    2
#define VUP_USED_ELEM_SIZE  8u
#define VUP_USED_ELEM_ID    0 /* le32 in an element */
#define VUP_USED_ELEM_LEN   4 /* le32 in an element */

/* Driver: no interrupt (call) wanted when buffers are used. */
#define VUP_AVAIL_F_NO_INTERRUPT 1u
/* Device: no notification (kick) wanted when buffers are offered. */
#define VUP_USED_F_NO_NOTIFY 1u

static inline uint64_t vup_desc_table_size(uint32_t num)
{
	return (uint64_t)VUP_DESC_SIZE * num;
}

/* Offset of avail ring slot `slot` (already taken modulo the size). */
static inline uint64_t vup_avail_slot_off(uint32_t slot)
{
	return 4 + 2ull * slot;
}

/* The used_event word (EVENT_IDX) after the avail ring of num slots. */
static inline uint64_t vup_avail_used_event_off(uint32_t num)
{
	return vup_avail_slot_off(num);
}

static inline uint64_t vup_avail_size(uint32_t num)
{
	return vup_avail_slot_off(num) + 2;
}

/* Offset of used ring element `slot` (already taken modulo the size). */
static inline uint64_t vup_used_slot_off(uint32_t slot)
{
	return 4 + (uint64_t)VUP_USED_ELEM_SIZE * slot;
}

/* The avail_event word (EVENT_IDX) after the used ring of num slots. */
static inline uint64_t vup_used_avail_event_off(uint32_t num)
{
	return vup_used_slot_off(num);
}

static inline uint64_t vup_used_size(uint32_t num)
{
	return vup_used_slot_off(num) + 2;
}

/* ---- a descriptor's fields in its 16 bytes ---- */

static inline uint64_t vup_desc_addr(const uint8_t *d)
{
	return vup_le64(d + VUP_DESC_OFF_ADDR);
}

static inline uint32_t vup_desc_len(const uint8_t *d)
{
	return vup_le32(d + VUP_DESC_OFF_LEN);
}

static inline uint16_t vup_sdesc_flags(const uint8_t *d)
{
	return vup_le16(d + VUP_SDESC_OFF_FLAGS);
}

static inline uint16_t vup_sdesc_next(const uint8_t *d)
{
	return vup_le16(d + VUP_SDESC_OFF_NEXT);
}

static inline uint16_t vup_pdesc_id(const uint8_t *d)
{
	return vup_le16(d + VUP_PDESC_OFF_ID);
}

static inline uint16_t vup_pdesc_flags(const uint8_t *d)
{
	return vup_le16(d + VUP_PDESC_OFF_FLAGS);
}

/* The 16 bytes of a split descriptor (a driver writes them). */
static inline void vup_sdesc_put(uint8_t *d, uint64_t addr, uint32_t len,
                                 uint16_t flags, uint16_t next)
{
	vup_put_le64(d + VUP_DESC_OFF_ADDR, addr);
	vup_put_le32(d + VUP_DESC_OFF_LEN, len);
	vup_put_le16(d + VUP_SDESC_OFF_FLAGS, flags);
	vup_put_le16(d + VUP_SDESC_OFF_NEXT, next);
}

#endif
