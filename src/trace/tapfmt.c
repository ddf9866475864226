/* tapfmt: the blk tap record; see include/vuproxy/tapfmt.h. */
#include <string.h>

#include "vuproxy/tapfmt.h"

static void le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void vup_blk_rec_encode(const struct vup_blk_rec *r,
                        uint8_t out[VUP_BLK_REC_SIZE])
{
	memset(out, 0, VUP_BLK_REC_SIZE);
	out[0] = VUP_BLK_MAGIC0;
	out[1] = VUP_BLK_MAGIC1;
	out[2] = VUP_BLK_VERSION;
	out[3] = r->flags;
	le(out + 4, r->queue, 2);
	le(out + 6, r->id, 2);
	le(out + 8, r->type, 4);
	le(out + 12, r->data_len, 4);
	le(out + 16, r->sector, 8);
	out[24] = r->status;
	le(out + 28, r->used_len, 4);
	le(out + 32, r->latency_ns, 8);
}

int vup_blk_rec_decode(const uint8_t *p, size_t len, struct vup_blk_rec *r)
{
	if (len < 3 || p[0] != VUP_BLK_MAGIC0 || p[1] != VUP_BLK_MAGIC1)
		return -1;
	if (p[2] > VUP_BLK_VERSION)
		return -2;
	if (p[2] != VUP_BLK_VERSION || len < VUP_BLK_REC_SIZE)
		return -1;
	r->flags = p[3];
	r->queue = (uint16_t)get(p + 4, 2);
	r->id = (uint16_t)get(p + 6, 2);
	r->type = (uint32_t)get(p + 8, 4);
	r->data_len = (uint32_t)get(p + 12, 4);
	r->sector = get(p + 16, 8);
	r->status = p[24];
	r->used_len = (uint32_t)get(p + 28, 4);
	r->latency_ns = get(p + 32, 8);
	return 0;
}

const char *vup_blk_type_name(uint32_t type)
{
	switch (type) {
	case VUP_BLK_T_IN: return "IN";
	case VUP_BLK_T_OUT: return "OUT";
	case VUP_BLK_T_FLUSH: return "FLUSH";
	case VUP_BLK_T_GET_ID: return "GET_ID";
	case VUP_BLK_T_GET_LIFETIME: return "GET_LIFETIME";
	case VUP_BLK_T_DISCARD: return "DISCARD";
	case VUP_BLK_T_WRITE_ZEROES: return "WRITE_ZEROES";
	case VUP_BLK_T_SECURE_ERASE: return "SECURE_ERASE";
	default: return NULL;
	}
}

const char *vup_blk_status_name(uint8_t status)
{
	switch (status) {
	case 0: return "OK";
	case 1: return "IOERR";
	case 2: return "UNSUPP";
	default: return NULL;
	}
}
