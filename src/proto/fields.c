/* Payload fields of every layout, and feature-bit names.
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

/* Virtio feature bits.  Bits 0-23 and 50-63 are device-specific; vhost-user
 * does not say which device it carries, so they are named after virtio-net,
 * the common case, and blk names are accepted when parsing. */
static const char *const virtio_names[64] = {
        [0] = "VIRTIO_NET_F_CSUM",
        [1] = "VIRTIO_NET_F_GUEST_CSUM",
        [2] = "VIRTIO_NET_F_CTRL_GUEST_OFFLOADS",
        [3] = "VIRTIO_NET_F_MTU",
        [5] = "VIRTIO_NET_F_MAC",
        [6] = "VIRTIO_NET_F_GSO",
        [7] = "VIRTIO_NET_F_GUEST_TSO4",
        [8] = "VIRTIO_NET_F_GUEST_TSO6",
        [9] = "VIRTIO_NET_F_GUEST_ECN",
        [10] = "VIRTIO_NET_F_GUEST_UFO",
        [11] = "VIRTIO_NET_F_HOST_TSO4",
        [12] = "VIRTIO_NET_F_HOST_TSO6",
        [13] = "VIRTIO_NET_F_HOST_ECN",
        [14] = "VIRTIO_NET_F_HOST_UFO",
        [15] = "VIRTIO_NET_F_MRG_RXBUF",
        [16] = "VIRTIO_NET_F_STATUS",
        [17] = "VIRTIO_NET_F_CTRL_VQ",
        [18] = "VIRTIO_NET_F_CTRL_RX",
        [19] = "VIRTIO_NET_F_CTRL_VLAN",
        [20] = "VIRTIO_NET_F_CTRL_RX_EXTRA",
        [21] = "VIRTIO_NET_F_GUEST_ANNOUNCE",
        [22] = "VIRTIO_NET_F_MQ",
        [23] = "VIRTIO_NET_F_CTRL_MAC_ADDR",
        [24] = "VIRTIO_F_NOTIFY_ON_EMPTY",
        [26] = "VHOST_F_LOG_ALL",
        [27] = "VIRTIO_F_ANY_LAYOUT",
        [28] = "VIRTIO_F_INDIRECT_DESC",
        [29] = "VIRTIO_F_EVENT_IDX",
        [30] = "VHOST_USER_F_PROTOCOL_FEATURES",
        [32] = "VIRTIO_F_VERSION_1",
        [33] = "VIRTIO_F_ACCESS_PLATFORM",
        [34] = "VIRTIO_F_RING_PACKED",
        [35] = "VIRTIO_F_IN_ORDER",
        [36] = "VIRTIO_F_ORDER_PLATFORM",
        [37] = "VIRTIO_F_SR_IOV",
        [38] = "VIRTIO_F_NOTIFICATION_DATA",
        [39] = "VIRTIO_F_NOTIF_CONFIG_DATA",
        [40] = "VIRTIO_F_RING_RESET",
        [41] = "VIRTIO_F_ADMIN_VQ",
        [43] = "VIRTIO_F_SUSPEND",
        [54] = "VIRTIO_NET_F_GUEST_USO4",
        [55] = "VIRTIO_NET_F_GUEST_USO6",
        [56] = "VIRTIO_NET_F_HOST_USO",
        [57] = "VIRTIO_NET_F_HASH_REPORT",
        [59] = "VIRTIO_NET_F_GUEST_HDRLEN",
        [60] = "VIRTIO_NET_F_RSS",
        [61] = "VIRTIO_NET_F_RSC_EXT",
        [62] = "VIRTIO_NET_F_STANDBY",
        [63] = "VIRTIO_NET_F_SPEED_DUPLEX",
};

/* virtio-blk names for the device-specific bits, accepted in rules. */
static const char *const blk_names[24] = {
        [1] = "VIRTIO_BLK_F_SIZE_MAX",      [2] = "VIRTIO_BLK_F_SEG_MAX",
        [4] = "VIRTIO_BLK_F_GEOMETRY",      [5] = "VIRTIO_BLK_F_RO",
        [6] = "VIRTIO_BLK_F_BLK_SIZE",      [9] = "VIRTIO_BLK_F_FLUSH",
        [10] = "VIRTIO_BLK_F_TOPOLOGY",     [11] = "VIRTIO_BLK_F_CONFIG_WCE",
        [12] = "VIRTIO_BLK_F_MQ",           [13] = "VIRTIO_BLK_F_DISCARD",
        [14] = "VIRTIO_BLK_F_WRITE_ZEROES", [15] = "VIRTIO_BLK_F_LIFETIME",
        [16] = "VIRTIO_BLK_F_SECURE_ERASE", [17] = "VIRTIO_BLK_F_ZONED",
};

static const char *const protocol_names[64] = {
        [0] = "MQ",
        [1] = "LOG_SHMFD",
        [2] = "RARP",
        [3] = "REPLY_ACK",
        [4] = "NET_MTU",
        [5] = "BACKEND_REQ",
        [6] = "CROSS_ENDIAN",
        [7] = "CRYPTO_SESSION",
        [8] = "PAGEFAULT",
        [9] = "CONFIG",
        [10] = "BACKEND_SEND_FD",
        [11] = "HOST_NOTIFIER",
        [12] = "INFLIGHT_SHMFD",
        [13] = "RESET_DEVICE",
        [14] = "INBAND_NOTIFICATIONS",
        [15] = "CONFIGURE_MEM_SLOTS",
        [16] = "STATUS",
        [17] = "XEN_MMAP",
        [18] = "SHARED_OBJECT",
        [19] = "DEVICE_STATE",
        [20] = "GET_VRING_BASE_INFLIGHT",
        [21] = "GPA_ADDRESSES",
        [22] = "SHMEM",
        [23] = "GET_VRING_BASE_SKIP_DRAIN",
};

const char *vup_feature_name(unsigned bit)
{
	return bit < 64 ? virtio_names[bit] : NULL;
}

const char *vup_protocol_feature_name(unsigned bit)
{
	return bit < 64 ? protocol_names[bit] : NULL;
}

const char *vup_status_name(unsigned bit)
{
	static const char *const names[8] = {
	        "ACKNOWLEDGE", "DRIVER", "DRIVER_OK",          "FEATURES_OK",
	        NULL,          NULL,     "DEVICE_NEEDS_RESET", "FAILED"};
	return bit < 8 ? names[bit] : NULL;
}

static int find_name(const char *const *names, int n, const char *name,
                     const char *prefix)
{
	size_t pl = strlen(prefix);
	for (int i = 0; i < n; i++) {
		const char *s = names[i];
		if (!s)
			continue;
		if (strcasecmp(s, name) == 0)
			return i;
		/* Accept the protocol names with their spec prefix too. */
		if (pl && strncasecmp(name, prefix, pl) == 0 &&
		    strcasecmp(s, name + pl) == 0)
			return i;
	}
	return -1;
}

int vup_feature_bit(const char *name, bool *protocol)
{
	static const char pprefix[] = "VHOST_USER_PROTOCOL_F_";
	int bit = find_name(virtio_names, 64, name, "");
	if (bit < 0)
		bit = find_name(blk_names, 24, name, "");
	if (bit >= 0) {
		*protocol = false;
		return bit;
	}
	if (strncasecmp(name, pprefix, sizeof(pprefix) - 1) == 0)
		name += sizeof(pprefix) - 1;
	bit = find_name(protocol_names, 64, name, "");
	/* the names before the "slave" rename */
	if (bit < 0 && strcasecmp(name, "SLAVE_REQ") == 0)
		bit = 5;
	if (bit < 0 && strcasecmp(name, "SLAVE_SEND_FD") == 0)
		bit = 10;
	if (bit >= 0)
		*protocol = true;
	return bit;
}

uint32_t vup_mem_region_size(const struct vup_negotiated *neg)
{
	return neg && (neg->protocol_features >> VUP_PF_XEN_MMAP & 1) ? 40 : 32;
}
