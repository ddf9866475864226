/* Payload fields of every layout (feature-bit names: bits.c).
 *
 * vhost-user numbers are native-endian and payload structs are packed, so
 * fields are read with memcpy at their byte offset.  Bit-fields (vring
 * index + NOFD, packed ring base with wrap counters) are described with
 * shift/bits so that rendering, rules and the dissector share one
 * definition.
 */
#include <string.h>
#include <strings.h>

#include "vuproxy/proto.h"

const struct vup_field vup_fields[VUP_FLD_COUNT] = {
#define FIELD(l, id, nm, o, sz, sh, bt, fm)                                    \
	[VUP_FLD_##l##_##id] = {.name = nm,                                    \
	                        .off = o,                                      \
	                        .size = sz,                                    \
	                        .shift = sh,                                   \
	                        .bits = bt,                                    \
	                        .fmt = VUP_FMT_##fm},
#define LIST(l, ...) VUP_FIELDS_##l(FIELD)
        VUP_LAYOUTS(LIST) LIST(REGION)
#undef LIST
#undef FIELD
};

/* Which layout each field belongs to. */
static const enum vup_layout field_layout[VUP_FLD_COUNT] = {
#define FIELD(l, id, ...) [VUP_FLD_##l##_##id] = VUP_L_##l,
#define LIST(l, ...)      VUP_FIELDS_##l(FIELD)
        VUP_LAYOUTS(LIST)
#undef LIST
#undef FIELD
};

/* A layout's fields are the ids from its first to the next layout's. */
static const uint16_t layout_first[VUP_L_COUNT + 1] = {
#define FIRST(l, ...) [VUP_L_##l] = VUP_FLD__FIRST_##l,
        VUP_LAYOUTS(FIRST)
#undef FIRST
                [VUP_L_COUNT] = VUP_FLD__FIRST_REGION,
};

const struct vup_field *vup_layout_fields(enum vup_layout l, size_t *n)
{
	if ((unsigned)l >= VUP_L_COUNT) {
		*n = 0;
		return NULL;
	}
	*n = (size_t)(layout_first[l + 1] - layout_first[l]);
	return &vup_fields[layout_first[l]];
}

bool vup_field_read(enum vup_field_id id, const uint8_t *p, uint32_t size,
                    uint64_t *out)
{
	if ((unsigned)id >= VUP_FLD_COUNT)
		return false;
	return vup_field_get(&vup_fields[id], p, size, out);
}

bool vup_view_get(const struct vup_view *v, enum vup_field_id id, uint64_t *out)
{
	/* A field of another layout is not in this payload. */
	if ((unsigned)id >= VUP_FLD__FIRST_REGION ||
	    field_layout[id] != v->layout)
		return false;
	return vup_field_get(&vup_fields[id], v->payload, v->hdr.size, out);
}

static bool integer_field(const struct vup_field *f)
{
	return f->size == 1 || f->size == 2 || f->size == 4 || f->size == 8 ||
	       f->size == 6;
}

bool vup_field_get(const struct vup_field *f, const uint8_t *p, uint32_t size,
                   uint64_t *out)
{
	if (!integer_field(f) || (uint32_t)f->off + f->size > size)
		return false;
	uint64_t v = 0;
	if (f->size == 6) { /* MAC: bytes in wire order, first byte lowest */
		for (int i = 5; i >= 0; i--)
			v = (v << 8) | p[f->off + i];
	} else {
		uint8_t u8;
		uint16_t u16;
		uint32_t u32;
		switch (f->size) {
		case 1:
			memcpy(&u8, p + f->off, 1);
			v = u8;
			break;
		case 2:
			memcpy(&u16, p + f->off, 2);
			v = u16;
			break;
		case 4:
			memcpy(&u32, p + f->off, 4);
			v = u32;
			break;
		default: memcpy(&v, p + f->off, 8); break;
		}
	}
	if (f->bits)
		v = (v >> f->shift) & ((UINT64_C(1) << f->bits) - 1);
	*out = v;
	return true;
}

bool vup_field_set(const struct vup_field *f, uint8_t *p, uint32_t size,
                   uint64_t value)
{
	uint64_t whole;
	struct vup_field w = *f;
	w.bits = 0;
	w.shift = 0;
	if (!vup_field_get(&w, p, size, &whole))
		return false;
	if (f->bits) {
		uint64_t mask = ((UINT64_C(1) << f->bits) - 1) << f->shift;
		whole = (whole & ~mask) | ((value << f->shift) & mask);
	} else {
		whole = value;
	}
	if (f->size == 6) {
		for (int i = 0; i < 6; i++)
			p[f->off + i] = (uint8_t)(whole >> (8 * i));
		return true;
	}
	uint8_t u8 = (uint8_t)whole;
	uint16_t u16 = (uint16_t)whole;
	uint32_t u32 = (uint32_t)whole;
	switch (f->size) {
	case 1: memcpy(p + f->off, &u8, 1); break;
	case 2: memcpy(p + f->off, &u16, 2); break;
	case 4: memcpy(p + f->off, &u32, 4); break;
	default: memcpy(p + f->off, &whole, 8); break;
	}
	return true;
}

enum vup_layout vup_msg_layout(const struct vup_msg_type *t,
                               const struct vup_hdr *h,
                               const struct vup_negotiated *neg)
{
	if (!t)
		return VUP_L_OPAQUE;
	bool is_reply = h->flags & VUP_FLAG_REPLY;
	if (is_reply && t->reply == VUP_REPLY_POSTCOPY && h->size <= 8)
		return VUP_L_ACK;
	/* In postcopy QEMU acknowledges the back-end's echo of a region
	 * with the request's header and a u64 0, no fd (SET_MEM_TABLE's
	 * form of it reads as an empty table). */
	if (!is_reply && t->req_layout == VUP_L_MEM_REG &&
	    t->reply == VUP_REPLY_POSTCOPY && h->size == 8)
		return VUP_L_ACK;
	enum vup_layout l = is_reply ? t->rep_layout : t->req_layout;
	if (l == VUP_L_VRING_BASE && neg &&
	    (neg->features >> VUP_F_RING_PACKED & 1))
		l = VUP_L_VRING_BASE_PACKED;
	return l;
}

void vup_proto_note(struct vup_negotiated *neg, enum vup_chan chan,
                    enum vup_side from, const struct vup_hdr *h,
                    const uint8_t *payload)
{
	uint64_t v;
	if (chan != VUP_CHAN_MAIN || from != VUP_FRONTEND || h->size < 8)
		return;
	memcpy(&v, payload, 8);
	if (h->request == VUP_REQ_SET_FEATURES)
		neg->features = v;
	else if (h->request == VUP_REQ_SET_PROTOCOL_FEATURES)
		neg->protocol_features = v;
}

uint32_t vup_mem_region_size(const struct vup_negotiated *neg)
{
	return neg && (neg->protocol_features >> VUP_PF_XEN_MMAP & 1) ? 40 : 32;
}
