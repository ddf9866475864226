/* Text and JSON rendering of a message's payload fields.
 *
 * One walker over the layout's field table feeds an emitter that writes
 * either "name=value" words (the -v log, vuproxy dump) or JSON members
 * (dump --json).  Addresses and bit masks are hex (strings in JSON, since
 * jq and JavaScript lose precision above 2^53); counts are decimal.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vuproxy/proto.h"

struct out {
	char *buf;
	size_t cap;
	size_t len; /* length it would have, even when truncated */
	bool json;
	bool first;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o,
                                                      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = o->len < o->cap ? o->cap - o->len : 0;
	int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

static void key(struct out *o, const char *name)
{
	if (o->json)
		put(o, "%s\"%s\":", o->first ? "" : ",", name);
	else
		put(o, "%s%s=", o->first ? "" : " ", name);
	o->first = false;
}

static void hex(struct out *o, uint64_t v)
{
	put(o, o->json ? "\"0x%" PRIx64 "\"" : "0x%" PRIx64, v);
}

static void bit_names(struct out *o, uint64_t bits,
                      const char *(*name)(unsigned))
{
	bool first = true;
	put(o, o->json ? "[" : "<");
	for (unsigned b = 0; b < 64; b++) {
		if (!(bits >> b & 1))
			continue;
		const char *n = name(b);
		const char *sep = first ? "" : o->json ? "," : "|";
		const char *q = o->json ? "\"" : "";
		if (n)
			put(o, "%s%s%s%s", sep, q, n, q);
		else
			put(o, "%s%sbit%u%s", sep, q, b, q);
		first = false;
	}
	put(o, o->json ? "]" : ">");
}

static void features(struct out *o, const char *name, uint64_t v,
                     const char *(*names)(unsigned))
{
	if (o->json) {
		char bits_key[64];
		snprintf(bits_key, sizeof(bits_key), "%s_bits", name);
		key(o, name);
		hex(o, v);
		key(o, bits_key);
		bit_names(o, v, names);
	} else {
		key(o, name);
		hex(o, v);
		put(o, " ");
		bit_names(o, v, names);
	}
}

static void bytes(struct out *o, const uint8_t *p, size_t n, size_t text_max)
{
	if (o->json)
		put(o, "\"");
	size_t shown = o->json ? n : (n < text_max ? n : text_max);
	for (size_t i = 0; i < shown; i++)
		put(o, "%02x", p[i]);
	if (shown < n)
		put(o, "...");
	if (o->json)
		put(o, "\"");
}

static void emit_field(struct out *o, const struct vup_field *f,
                       const uint8_t *p, uint32_t size)
{
	uint64_t v = 0;
	if (f->fmt == VUP_FMT_UUID) {
		if ((uint32_t)f->off + 16 > size)
			return;
		const uint8_t *u = p + f->off;
		key(o, f->name);
		put(o,
		    "%s%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		    "%02x%02x%02x%02x%02x%02x%s",
		    o->json ? "\"" : "", u[0], u[1], u[2], u[3], u[4], u[5],
		    u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
		    u[15], o->json ? "\"" : "");
		return;
	}
	if (!vup_field_get(f, p, size, &v))
		return;
	switch (f->fmt) {
	case VUP_FMT_DEC:
		key(o, f->name);
		put(o, "%" PRIu64, v);
		break;
	case VUP_FMT_HEX:
		key(o, f->name);
		hex(o, v);
		break;
	case VUP_FMT_FEATURES: features(o, f->name, v, vup_feature_name); break;
	case VUP_FMT_PFEATURES:
		features(o, f->name, v, vup_protocol_feature_name);
		break;
	case VUP_FMT_STATUS: features(o, f->name, v, vup_status_name); break;
	case VUP_FMT_BOOL:
		if (o->json) {
			key(o, f->name);
			put(o, v ? "true" : "false");
		} else if (v) {
			put(o, "%s%s", o->first ? "" : " ", f->name);
			o->first = false;
		}
		break;
	case VUP_FMT_MAC:
		key(o, f->name);
		put(o, "%s%02x:%02x:%02x:%02x:%02x:%02x%s", o->json ? "\"" : "",
		    (unsigned)(v & 0xff), (unsigned)(v >> 8 & 0xff),
		    (unsigned)(v >> 16 & 0xff), (unsigned)(v >> 24 & 0xff),
		    (unsigned)(v >> 32 & 0xff), (unsigned)(v >> 40 & 0xff),
		    o->json ? "\"" : "");
		break;
	default: break;
	}
}

/* Memory regions of SET_MEM_TABLE: {gpa, size, uaddr, mmap_offset}. */
static void regions(struct out *o, const uint8_t *p, uint32_t size,
                    const struct vup_negotiated *neg)
{
	const struct vup_field *rf = vup_mem_region_fields;
	uint32_t rsz = vup_mem_region_size(neg);
	uint32_t n = 0;
	if (size >= 4)
		memcpy(&n, p, 4);
	if (o->json) {
		key(o, "regions");
		put(o, "[");
	}
	for (uint32_t i = 0; i < n && 8 + (i + 1) * rsz <= size; i++) {
		const uint8_t *r = p + 8 + i * rsz;
		if (o->json)
			put(o, "%s{", i ? "," : "");
		else
			put(o, " [");
		o->first = true;
		for (size_t k = 0; k < VUP_MEM_REGION_FIELDS; k++)
			emit_field(o, &rf[k], r, rsz);
		o->first = false;
		put(o, o->json ? "}" : "]");
	}
	if (o->json)
		put(o, "]");
}

static void render(struct out *o, const struct vup_hdr *h, const uint8_t *p,
                   enum vup_chan chan, const struct vup_negotiated *neg)
{
	const struct vup_msg_type *t = vup_proto_lookup(chan, h->request);
	enum vup_layout l = vup_msg_layout(t, h, neg);
	size_t n;
	const struct vup_field *f = vup_layout_fields(l, &n);
	for (size_t i = 0; i < n; i++)
		emit_field(o, &f[i], p, h->size);
	switch (l) {
	case VUP_L_MEM_TABLE: regions(o, p, h->size, neg); break;
	case VUP_L_CONFIG:
		if (h->size > 12) {
			key(o, "data");
			bytes(o, p + 12, h->size - 12, 16);
		}
		break;
	case VUP_L_SHMEM_CONFIG: {
		uint32_t cnt = 0;
		if (h->size >= 4)
			memcpy(&cnt, p, 4);
		key(o, "sizes");
		put(o, o->json ? "[" : "");
		for (uint32_t i = 0; i < cnt && 8 + 8 * (i + 1) <= h->size;
		     i++) {
			uint64_t v;
			memcpy(&v, p + 8 + 8 * i, 8);
			put(o, "%s", i ? "," : "");
			hex(o, v);
		}
		put(o, o->json ? "]" : "");
		break;
	}
	case VUP_L_OPAQUE:
		if (h->size) {
			key(o, "bytes");
			bytes(o, p, h->size, 16);
		}
		break;
	default: break;
	}
}

size_t vup_render_text(char *buf, size_t cap, const struct vup_hdr *h,
                       const uint8_t *payload, enum vup_chan chan,
                       const struct vup_negotiated *neg)
{
	struct out o = {buf, cap, 0, false, true};
	if (cap)
		buf[0] = '\0';
	render(&o, h, payload, chan, neg);
	if (cap && o.len >= cap)
		buf[cap - 1] = '\0';
	return o.len;
}

size_t vup_render_json(char *buf, size_t cap, const struct vup_hdr *h,
                       const uint8_t *payload, enum vup_chan chan,
                       const struct vup_negotiated *neg)
{
	struct out o = {buf, cap, 0, true, true};
	if (cap)
		buf[0] = '\0';
	put(&o, "{");
	render(&o, h, payload, chan, neg);
	put(&o, "}");
	if (cap && o.len >= cap)
		buf[cap - 1] = '\0';
	return o.len;
}

size_t vup_render_features(char *buf, size_t cap, uint64_t bits, bool protocol)
{
	struct out o = {buf, cap, 0, false, true};
	if (cap)
		buf[0] = '\0';
	hex(&o, bits);
	put(&o, " ");
	bit_names(&o, bits,
	          protocol ? vup_protocol_feature_name : vup_feature_name);
	if (cap && o.len >= cap)
		buf[cap - 1] = '\0';
	return o.len;
}
