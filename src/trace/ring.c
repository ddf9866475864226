/* ring: the flight recorder (--ring MB).  The last MB of what the
 * recorder is given stays in memory as entries of a circular buffer; what
 * falls out of it is folded into a base: the interfaces live at the
 * oldest entry and each session's set-up then (declared.h).  A snapshot
 * is that base, declared, and the entries after it: a file that stands
 * alone although its sessions began long before. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vuproxy/log.h"
#include "vuproxy/tracemsg.h"

enum ent_type {
	ENT_WRAP, /* the rest of the buffer is unused: go on at 0 */
	ENT_IFACE = VUP__RING_IFACE,
	ENT_END = VUP__RING_END,
	ENT_MSG = VUP__RING_MSG,
	ENT_PACKET = VUP__RING_PACKET,
	ENT_STATS = VUP__RING_STATS,
	ENT_FINDING = VUP__RING_FINDING,
};

/* Entries are 8-byte aligned: {header, data}. */
struct ent {
	uint32_t len; /* header and data, rounded up to 8 */
	uint8_t type;
	uint8_t pad[3];
	uint32_t a, b; /* by type: see ring_put_* */
	uint32_t c, d;
	uint64_t ts_ns, seq;
};
#define ENT_HDR sizeof(struct ent)

struct vup_trace_ring {
	uint8_t *buf;
	size_t cap;
	size_t head, tail, used; /* bytes from tail to head, wrap included */
	uint64_t entries, evicted;
	/* The base: interfaces live at the oldest entry, set-ups then. */
	struct iface *base;
	size_t nbase, cap_base;
};

static size_t round8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

struct vup_trace_ring *vup__ring_new(size_t bytes)
{
	struct vup_trace_ring *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->cap = round8(bytes);
	/* Pages are touched as the ring fills: memory grows to MB, no more. */
	r->buf = malloc(r->cap);
	if (!r->buf) {
		free(r);
		return NULL;
	}
	return r;
}

static void base_drop(struct vup_trace_ring *r, size_t i)
{
	free(r->base[i].name);
	free(r->base[i].description);
	vup_declared_free(r->base[i].declared);
	r->base[i] = r->base[--r->nbase];
}

void vup__ring_free(struct vup_trace_ring *r)
{
	if (!r)
		return;
	while (r->nbase)
		base_drop(r, r->nbase - 1);
	free(r->base);
	free(r->buf);
	free(r);
}

static struct ent *at(const struct vup_trace_ring *r, size_t off)
{
	return (struct ent *)(void *)(r->buf + off);
}

static const uint8_t *data(const struct ent *e)
{
	return (const uint8_t *)e + ENT_HDR;
}

/* An interface entry's data: linktype (c), snaplen (d), then the name and
 * the description, each NUL-terminated. */
static void base_add(struct vup_trace_ring *r, const struct ent *e)
{
	if (r->nbase == r->cap_base) {
		size_t cap = r->cap_base ? r->cap_base * 2 : 16;
		struct iface *b = realloc(r->base, cap * sizeof(*b));
		if (!b)
			return; /* the snapshot lacks an interface: its
			           packets are not written (no ifid) */
		r->base = b;
		r->cap_base = cap;
	}
	const char *name = (const char *)data(e);
	struct iface *f = &r->base[r->nbase];
	*f = (struct iface){.session = e->b,
	                    .handle = e->a,
	                    .linktype = (uint16_t)e->c,
	                    .snaplen = e->d,
	                    .name = strdup(name),
	                    .description = strdup(name + strlen(name) + 1)};
	if (f->linktype == LINKTYPE_USER0)
		f->declared = vup_declared_new();
	if (!f->name || !f->description ||
	    (f->linktype == LINKTYPE_USER0 && !f->declared)) {
		free(f->name);
		free(f->description);
		vup_declared_free(f->declared);
		return;
	}
	r->nbase++;
}

/* What falls out of the ring moves the base on. */
static void fold(struct vup_trace_ring *r, const struct ent *e)
{
	switch (e->type) {
	case ENT_IFACE: base_add(r, e); break;
	case ENT_END:
		for (size_t i = r->nbase; i-- > 0;)
			if (r->base[i].session == e->a)
				base_drop(r, i);
		break;
	case ENT_MSG:
		for (size_t i = 0; i < r->nbase; i++) {
			struct iface *f = &r->base[i];
			if (f->session != e->a || !f->declared)
				continue;
			struct vup_trace_hdr th;
			char err[64];
			size_t len = e->c;
			if (vup_trace_hdr_decode(data(e), len, &th, err,
			                         sizeof(err)) > 0)
				vup_declared_feed(f->declared, e->ts_ns, &th,
				                  data(e), len, e->b);
			break;
		}
		break;
	default: break;
	}
}

static void evict_one(struct vup_trace_ring *r)
{
	struct ent *e = at(r, r->tail);
	size_t len = e->type == ENT_WRAP ? r->cap - r->tail : e->len;
	if (len == 0 || len > r->used)
		len = r->used; /* cannot happen: never loop */
	if (e->type != ENT_WRAP) {
		fold(r, e);
		r->evicted++;
		r->entries--;
	}
	r->tail = (r->tail + len) % r->cap;
	r->used -= len;
}

/* Room for an entry of len bytes at head, evicting the oldest. */
static struct ent *reserve(struct vup_trace_ring *r, size_t len)
{
	if (len > r->cap / 4)
		return NULL;
	for (;;) {
		if (!r->used)
			r->head = r->tail = 0;
		bool full = r->used && r->head == r->tail;
		if (!full && r->head >= r->tail && r->cap - r->head >= len)
			break; /* room at the end */
		if (!full && r->head < r->tail && r->tail - r->head >= len)
			break; /* room before the oldest */
		if (!full && r->head >= r->tail && r->tail > 0) {
			/* Not enough at the end: mark it unused, go on
			 * at 0.  Types are at offset 4 and entries
			 * multiples of 8: a rest of 8 holds the mark. */
			size_t rest = r->cap - r->head;
			memset(r->buf + r->head, 0, rest < ENT_HDR ? rest : 8);
			r->used += rest;
			r->head = 0;
			continue;
		}
		evict_one(r);
	}
	struct ent *e = at(r, r->head);
	r->head = (r->head + len) % r->cap;
	r->used += len;
	r->entries++;
	return e;
}

static struct ent *put(struct vup_trace_ring *r, enum ent_type type,
                       size_t data_len)
{
	size_t len = round8(ENT_HDR + data_len);
	struct ent *e = reserve(r, len);
	if (e) {
		memset(e, 0, ENT_HDR);
		e->len = (uint32_t)len;
		e->type = (uint8_t)type;
	}
	return e;
}

void vup__ring_iface(struct vup_trace_ring *r, const struct iface *f)
{
	size_t nl = strlen(f->name) + 1, dl = strlen(f->description) + 1;
	struct ent *e = put(r, ENT_IFACE, nl + dl);
	if (!e)
		return;
	e->ts_ns = vup__trace_now_ns();
	e->a = f->handle;
	e->b = f->session;
	e->c = f->linktype;
	e->d = f->snaplen;
	memcpy((uint8_t *)e + ENT_HDR, f->name, nl);
	memcpy((uint8_t *)e + ENT_HDR + nl, f->description, dl);
}

void vup__ring_end(struct vup_trace_ring *r, uint32_t session)
{
	struct ent *e = put(r, ENT_END, 0);
	if (e) {
		e->a = session;
		e->ts_ns = vup__trace_now_ns();
	}
}

/* A control record: session (a), pseudo-header length (b), length (c). */
void vup__ring_msg(struct vup_trace_ring *r, uint32_t session, uint64_t ts_ns,
                   uint64_t seq, const uint8_t *pkt, size_t len, size_t hl)
{
	struct ent *e = put(r, ENT_MSG, len);
	if (!e)
		return;
	e->a = session;
	e->b = (uint32_t)hl;
	e->c = (uint32_t)len;
	e->ts_ns = ts_ns;
	e->seq = seq;
	memcpy((uint8_t *)e + ENT_HDR, pkt, len);
}

/* A tap packet: handle (a), flags (b), caplen (c), origlen (d); data,
 * then the comment NUL-terminated. */
void vup__ring_packet(struct vup_trace_ring *r, uint32_t handle, uint64_t ts_ns,
                      uint64_t seq, uint32_t flags, const void *pkt,
                      uint32_t caplen, uint32_t origlen, const char *comment)
{
	size_t cl = comment ? strlen(comment) + 1 : 0;
	struct ent *e = put(r, ENT_PACKET, caplen + cl);
	if (!e)
		return;
	*e = (struct ent){.len = e->len,
	                  .type = ENT_PACKET,
	                  .a = handle,
	                  .b = flags,
	                  .c = caplen,
	                  .d = origlen,
	                  .ts_ns = ts_ns,
	                  .seq = seq};
	memcpy((uint8_t *)e + ENT_HDR, pkt, caplen);
	if (cl)
		memcpy((uint8_t *)e + ENT_HDR + caplen, comment, cl);
	e->pad[0] = cl != 0;
}

/* Interface statistics: handle (a); the counters, then the comment. */
void vup__ring_stats(struct vup_trace_ring *r, uint32_t handle, uint64_t ts_ns,
                     const struct pcapng_isb *st, const char *comment)
{
	size_t cl = comment ? strlen(comment) + 1 : 0;
	struct ent *e = put(r, ENT_STATS, sizeof(*st) + cl);
	if (!e)
		return;
	e->a = handle;
	e->ts_ns = ts_ns;
	e->pad[0] = cl != 0;
	memcpy((uint8_t *)e + ENT_HDR, st, sizeof(*st));
	if (cl)
		memcpy((uint8_t *)e + ENT_HDR + sizeof(*st), comment, cl);
}

/* A finding: its record (vup_finding_encode) of c bytes; about in the
 * data's first 8 bytes. */
void vup__ring_finding(struct vup_trace_ring *r, uint64_t ts_ns, uint64_t seq,
                       const uint8_t *rec, size_t len, uint64_t about)
{
	struct ent *e = put(r, ENT_FINDING, 8 + len);
	if (!e)
		return;
	e->c = (uint32_t)len;
	e->ts_ns = ts_ns;
	e->seq = seq;
	memcpy((uint8_t *)e + ENT_HDR, &about, 8);
	memcpy((uint8_t *)e + ENT_HDR + 8, rec, len);
}

void vup__ring_stats_get(const struct vup_trace_ring *r,
                         struct vup_trace_ring_stats *s)
{
	*s = (struct vup_trace_ring_stats){.bytes = r->cap,
	                                   .used = r->used,
	                                   .entries = r->entries,
	                                   .evicted = r->evicted};
	if (r->entries) {
		size_t off = r->tail;
		if (at(r, off)->type == ENT_WRAP)
			off = 0;
		s->oldest_ns = at(r, off)->ts_ns;
	}
}

/* Walk the entries oldest first. */
int vup__ring_each(const struct vup_trace_ring *r,
                   int (*fn)(void *ctx, const struct vup__ring_ent *e),
                   void *ctx)
{
	size_t off = r->tail, left = r->used;
	while (left) {
		const struct ent *e = at(r, off);
		size_t len = e->type == ENT_WRAP || r->cap - off < ENT_HDR
		                     ? r->cap - off
		                     : e->len;
		if (r->cap - off >= ENT_HDR && e->type != ENT_WRAP) {
			struct vup__ring_ent v = {
			        .type = e->type,
			        .a = e->a,
			        .b = e->b,
			        .c = e->c,
			        .d = e->d,
			        .ts_ns = e->ts_ns,
			        .seq = e->seq,
			        .data = data(e),
			        .data_len = e->len - ENT_HDR,
			        .has_comment = e->pad[0],
			};
			int rc = fn(ctx, &v);
			if (rc)
				return rc;
		}
		off = (off + len) % r->cap;
		left -= len;
	}
	return 0;
}

const struct iface *vup__ring_base(const struct vup_trace_ring *r, size_t *n)
{
	*n = r->nbase;
	return r->base;
}
