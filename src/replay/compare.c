/* compare: a live message against the recorded one, field by field.
 *
 * The fields come from the catalogue's layout tables (the ones dump and
 * the rules use), so every request is compared the way it is rendered.
 * Feature words and the device status are compared bit by bit and named:
 * "-VIRTIO_F_RING_PACKED +VIRTIO_F_IN_ORDER" (- only in the record, + only
 * live).  --ignore takes a field name, REQUEST.FIELD, or a bit name.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vuproxy/replay.h"

/* Names --ignore accepts besides the layout fields. */
static const char *const pseudo_fields[] = {
        "size", "fds", "need_reply", "regions", "data", "sizes", "bytes",
};

static bool layout_field_exists(const char *name)
{
	for (int l = 0; l < VUP_L_COUNT; l++) {
		size_t n;
		const struct vup_field *f = vup_layout_fields(l, &n);
		for (size_t i = 0; i < n; i++)
			if (strcasecmp(f[i].name, name) == 0)
				return true;
	}
	for (size_t i = 0; i < sizeof(pseudo_fields) / sizeof(*pseudo_fields);
	     i++)
		if (strcasecmp(pseudo_fields[i], name) == 0)
			return true;
	return false;
}

static int status_bit(const char *name)
{
	for (unsigned b = 0; b < 8; b++)
		if (vup_status_name(b) &&
		    strcasecmp(vup_status_name(b), name) == 0)
			return (int)b;
	return -1;
}

int vup_replay_ignore_add(struct vup_replay_ignore *ig, const char *spec,
                          char *err, size_t errlen)
{
	bool protocol;
	int bit = vup_feature_bit(spec, &protocol);
	if (bit >= 0) {
		if (protocol)
			ig->pfeatures_mask |= UINT64_C(1) << bit;
		else
			ig->features_mask |= UINT64_C(1) << bit;
		return 0;
	}
	if ((bit = status_bit(spec)) >= 0) {
		ig->status_mask |= UINT64_C(1) << bit;
		return 0;
	}
	if (ig->n == VUP_REPLAY_MAX_IGNORE) {
		snprintf(err, errlen, "more than %d --ignore fields",
		         VUP_REPLAY_MAX_IGNORE);
		return -EINVAL;
	}
	char req[64] = "";
	const char *field = spec;
	const char *dot = strchr(spec, '.');
	if (dot) {
		if ((size_t)(dot - spec) >= sizeof(req)) {
			snprintf(err, errlen, "'%s': no such request", spec);
			return -EINVAL;
		}
		memcpy(req, spec, (size_t)(dot - spec));
		req[dot - spec] = '\0';
		field = dot + 1;
	}
	if (strlen(field) >= sizeof(ig->f[0].field) ||
	    !layout_field_exists(field)) {
		snprintf(err, errlen,
		         "'%s': no field '%s' in any message (a payload field "
		         "as `vuproxy dump` shows it, one of size, fds, "
		         "need_reply, regions, data, or a feature bit name)",
		         spec, field);
		return -EINVAL;
	}
	ig->f[ig->n].chan = -1;
	if (dot) {
		const struct vup_msg_type *t = vup_proto_by_name(req);
		if (!t) {
			snprintf(err, errlen,
			         "'%s': no request '%s' (see `vuproxy "
			         "requests`)",
			         spec, req);
			return -EINVAL;
		}
		ig->f[ig->n].chan = t->chan;
		ig->f[ig->n].code = t->code;
	}
	snprintf(ig->f[ig->n].field, sizeof(ig->f[0].field), "%s", field);
	ig->n++;
	return 0;
}

static bool ignored(const struct vup_replay_ignore *ig, enum vup_chan chan,
                    uint32_t code, const char *field)
{
	for (size_t i = 0; ig && i < ig->n; i++) {
		if (ig->f[i].chan >= 0 &&
		    ((enum vup_chan)ig->f[i].chan != chan ||
		     ig->f[i].code != code))
			continue;
		if (strcasecmp(ig->f[i].field, field) == 0)
			return true;
	}
	return false;
}

struct out {
	char *buf;
	size_t cap, len;
	unsigned n; /* differences */
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o,
                                                      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = o->len < o->cap ? o->cap - o->len : 0;
	int k = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (k > 0)
		o->len += (size_t)k;
}

/* Start the next difference. */
static void item(struct out *o)
{
	if (o->n++)
		put(o, ", ");
}

static void bits(struct out *o, uint64_t rec, uint64_t live, uint64_t mask,
                 const char *(*name)(unsigned))
{
	uint64_t gone = rec & ~live & ~mask, added = live & ~rec & ~mask;
	if (!gone && !added)
		return;
	item(o);
	bool first = true;
	for (int pass = 0; pass < 2; pass++) {
		uint64_t set = pass ? added : gone;
		for (unsigned b = 0; b < 64; b++) {
			if (!(set >> b & 1))
				continue;
			const char *nm = name(b);
			put(o, "%s%c", first ? "" : " ", pass ? '+' : '-');
			if (nm)
				put(o, "%s", nm);
			else
				put(o, "bit%u", b);
			first = false;
		}
	}
}

static void field(struct out *o, const struct vup_replay_ignore *ig,
                  const struct vup_field *f, const uint8_t *rp, uint32_t rs,
                  const uint8_t *lp, uint32_t ls, const char *prefix)
{
	uint64_t a, b;
	if (f->fmt == VUP_FMT_UUID) {
		if ((uint32_t)f->off + 16 <= rs &&
		    (uint32_t)f->off + 16 <= ls &&
		    memcmp(rp + f->off, lp + f->off, 16) != 0) {
			item(o);
			put(o, "%s%s differs", prefix, f->name);
		}
		return;
	}
	if (!vup_field_get(f, rp, rs, &a) || !vup_field_get(f, lp, ls, &b))
		return; /* a size difference, reported as such */
	switch (f->fmt) {
	case VUP_FMT_FEATURES:
		bits(o, a, b, ig ? ig->features_mask : 0, vup_feature_name);
		return;
	case VUP_FMT_PFEATURES:
		bits(o, a, b, ig ? ig->pfeatures_mask : 0,
		     vup_protocol_feature_name);
		return;
	case VUP_FMT_STATUS:
		bits(o, a, b, ig ? ig->status_mask : 0, vup_status_name);
		return;
	default: break;
	}
	if (a == b)
		return;
	item(o);
	if (f->fmt == VUP_FMT_HEX || f->fmt == VUP_FMT_MAC)
		put(o, "%s%s 0x%" PRIx64 " -> 0x%" PRIx64, prefix, f->name, a,
		    b);
	else
		put(o, "%s%s %" PRIu64 " -> %" PRIu64, prefix, f->name, a, b);
}

/* SET_MEM_TABLE (and its postcopy reply): region by region. */
static void regions(struct out *o, const struct vup_replay_ignore *ig,
                    enum vup_chan chan, uint32_t code, const uint8_t *rp,
                    uint32_t rs, const uint8_t *lp, uint32_t ls,
                    const struct vup_negotiated *neg)
{
	const struct vup_field *rf = vup_mem_region_fields;
	uint32_t rsz = vup_mem_region_size(neg);
	if (ignored(ig, chan, code, "regions"))
		return;
	for (uint32_t i = 0; i < 8; i++) {
		uint32_t off = 8 + i * rsz;
		if (off + rsz > rs || off + rsz > ls)
			break;
		char prefix[24];
		snprintf(prefix, sizeof(prefix), "region %u ", i);
		for (size_t k = 0; k < VUP_MEM_REGION_FIELDS; k++) {
			/* "size" alone means the message size. */
			if (k != 1 && ignored(ig, chan, code, rf[k].name))
				continue;
			field(o, ig, &rf[k], rp + off, rsz, lp + off, rsz,
			      prefix);
		}
	}
}

/* Bytes past the fixed fields (config data, shmem sizes, opaque). */
static void tail(struct out *o, const char *name, uint32_t start,
                 const uint8_t *rp, uint32_t rs, const uint8_t *lp, uint32_t ls)
{
	uint32_t end = rs < ls ? rs : ls;
	for (uint32_t i = start; i < end; i++) {
		if (rp[i] != lp[i]) {
			item(o);
			put(o, "%s differs from byte %u", name, i - start);
			return;
		}
	}
}

static void describe_fds(struct out *o, const struct vup_replay_view *v)
{
	put(o, "[");
	for (unsigned i = 0; i < v->nfds; i++) {
		put(o, "%s%s", i ? ", " : "", vup_fd_kind_name(v->fds[i].kind));
		if (v->fds[i].size)
			put(o, " %" PRIu64, v->fds[i].size);
	}
	put(o, "]");
}

static bool sized_kind(unsigned kind)
{
	return kind == VUP_FDK_MEMFD || kind == VUP_FDK_SHM ||
	       kind == VUP_FDK_FILE;
}

static void fds(struct out *o, const struct vup_replay_view *rec,
                const struct vup_replay_view *live)
{
	bool same = rec->nfds == live->nfds;
	for (unsigned i = 0; same && i < rec->nfds; i++)
		same = rec->fds[i].kind == live->fds[i].kind &&
		       (!sized_kind(rec->fds[i].kind) ||
		        rec->fds[i].size == live->fds[i].size);
	if (same)
		return;
	item(o);
	put(o, "fds ");
	describe_fds(o, rec);
	put(o, " -> ");
	describe_fds(o, live);
}

unsigned vup_replay_compare(const struct vup_replay_ignore *ig,
                            enum vup_chan chan,
                            const struct vup_negotiated *neg,
                            const struct vup_replay_view *rec,
                            const struct vup_replay_view *live, char *out,
                            size_t cap)
{
	struct out o = {.buf = out, .cap = cap};
	if (cap)
		out[0] = '\0';
	const struct vup_hdr *rh = rec->hdr, *lh = live->hdr;
	uint32_t code = rh->request;
	if (lh->request != code) {
		item(&o);
		put(&o, "request %s -> %s", vup_proto_name(chan, code),
		    vup_proto_name(chan, lh->request));
		return o.n;
	}
	uint32_t rneed = rh->flags & VUP_FLAG_NEED_REPLY;
	uint32_t lneed = lh->flags & VUP_FLAG_NEED_REPLY;
	if (rneed != lneed && !ignored(ig, chan, code, "need_reply")) {
		item(&o);
		put(&o, "need_reply %d -> %d", !!rneed, !!lneed);
	}
	if (rh->size != lh->size && !ignored(ig, chan, code, "size")) {
		item(&o);
		put(&o, "size %u -> %u", rh->size, lh->size);
	}
	const struct vup_msg_type *t = vup_proto_lookup(chan, code);
	enum vup_layout l = vup_msg_layout(t, rh, neg);
	enum vup_layout ll = vup_msg_layout(t, lh, neg);
	const uint8_t *rp = rec->payload, *lp = live->payload;
	if (l != ll) {
		/* An ack where a body was recorded, or the reverse: the size
		 * difference says it. */
		if (rh->size == lh->size)
			tail(&o, "bytes", 0, rp, rh->size, lp, lh->size);
	} else {
		size_t n;
		const struct vup_field *f = vup_layout_fields(l, &n);
		for (size_t i = 0; i < n; i++)
			if (!ignored(ig, chan, code, f[i].name))
				field(&o, ig, &f[i], rp, rh->size, lp, lh->size,
				      "");
		switch (l) {
		case VUP_L_MEM_TABLE:
			regions(&o, ig, chan, code, rp, rh->size, lp, lh->size,
			        neg);
			break;
		case VUP_L_CONFIG:
			if (!ignored(ig, chan, code, "data"))
				tail(&o, "data", 12, rp, rh->size, lp,
				     lh->size);
			break;
		case VUP_L_SHMEM_CONFIG:
			if (!ignored(ig, chan, code, "sizes"))
				tail(&o, "sizes", 8, rp, rh->size, lp,
				     lh->size);
			break;
		case VUP_L_OPAQUE:
			if (!ignored(ig, chan, code, "bytes"))
				tail(&o, "bytes", 0, rp, rh->size, lp,
				     lh->size);
			break;
		default: break;
		}
	}
	if (!ignored(ig, chan, code, "fds"))
		fds(&o, rec, live);
	if (cap && o.len >= cap)
		out[cap - 1] = '\0';
	return o.n;
}
