/* snapshot: the flight recorder's ring written out as a file that stands
 * alone (trace.h, vup_trace_snapshot). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "vuproxy/tracemsg.h"

/* The ring's backlog is written stored (deflate level 0), not compressed:
 * for 64 MiB of trace zlib took 0.41 s of CPU at level 1, 0.14 s at level
 * 0 (README, "The flight recorder"), on the relay's thread either way.
 * What follows live is compressed as usual. */

struct map {
	struct {
		uint32_t handle, ifid, session;
		bool control;
	} * m;
	size_t n, cap;
};

static int map_add(struct map *m, const struct iface *f, uint32_t ifid)
{
	if (ifid == NO_IFID)
		return 0;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 32;
		void *p = realloc(m->m, cap * sizeof(*m->m));
		if (!p)
			return -ENOMEM;
		m->m = p;
		m->cap = cap;
	}
	m->m[m->n].handle = f->handle;
	m->m[m->n].ifid = ifid;
	m->m[m->n].session = f->session;
	m->m[m->n].control = f->linktype == LINKTYPE_USER0;
	m->n++;
	return 0;
}

static uint32_t map_handle(const struct map *m, uint32_t handle)
{
	for (size_t i = m->n; i-- > 0;)
		if (m->m[i].handle == handle)
			return m->m[i].ifid;
	return NO_IFID;
}

static uint32_t map_control(const struct map *m, uint32_t session)
{
	for (size_t i = m->n; i-- > 0;)
		if (m->m[i].control && m->m[i].session == session)
			return m->m[i].ifid;
	return NO_IFID;
}

struct backlog {
	struct vup_trace *t;
	struct out *o;
	struct map map;
};

static int put_iface(struct backlog *b, const struct vup__ring_ent *e)
{
	const char *name = (const char *)e->data;
	struct iface f = {.session = e->b,
	                  .handle = e->a,
	                  .linktype = (uint16_t)e->c,
	                  .snaplen = e->d,
	                  .name = (char *)name,
	                  .description = (char *)name + strlen(name) + 1};
	int rc = vup__out_declare(b->t, b->o, &f, false, 0);
	return rc ? rc : map_add(&b->map, &f, f.ifid[b->o - b->t->out]);
}

static int put_finding(struct backlog *b, const struct vup__ring_ent *e)
{
	struct out *o = b->o;
	uint64_t about;
	memcpy(&about, e->data, 8);
	struct vup_finding_rec f;
	if (!vup_finding_decode(e->data + 8, e->c, &f))
		return 0;
	f.frame = vup__out_frame(o, about);
	int rc = vup__out_findings_iface(o);
	if (rc)
		return rc;
	size_t at = o->block.len;
	if (vup_finding_encode(&o->block, &f))
		return -ENOMEM;
	size_t len = o->block.len - at;
	uint8_t *rec = malloc(len);
	if (!rec)
		return -ENOMEM;
	memcpy(rec, o->block.data + at, len);
	o->block.len = at;
	rc = pcapng_epb(&o->block, o->findings_ifid, e->ts_ns, rec,
	                (uint32_t)len, (uint32_t)len, 0, NULL);
	free(rec);
	if (!rc)
		vup__out_note_frame(o, e->seq);
	return rc;
}

static int put_entry(void *ctx, const struct vup__ring_ent *e)
{
	struct backlog *b = ctx;
	struct out *o = b->o;
	int rc = 0;
	uint32_t ifid;
	switch (e->type) {
	case VUP__RING_IFACE: rc = put_iface(b, e); break;
	case VUP__RING_MSG:
		ifid = map_control(&b->map, e->a);
		if (ifid == NO_IFID)
			break;
		rc = pcapng_epb(&o->block, ifid, e->ts_ns, e->data, e->c, e->c,
		                (e->data[3] & VUP_TRACE_F_FROM_BACKEND)
		                        ? PCAPNG_DIR_INBOUND
		                        : PCAPNG_DIR_OUTBOUND,
		                NULL);
		if (!rc) {
			vup__out_note_frame(o, e->seq);
			o->messages++;
		}
		break;
	case VUP__RING_PACKET:
		ifid = map_handle(&b->map, e->a);
		if (ifid == NO_IFID)
			break;
		rc = pcapng_epb(
		        &o->block, ifid, e->ts_ns, e->data, e->c, e->d, e->b,
		        e->has_comment ? (const char *)e->data + e->c : NULL);
		if (!rc)
			vup__out_note_frame(o, e->seq);
		break;
	case VUP__RING_STATS: {
		ifid = map_handle(&b->map, e->a);
		struct pcapng_isb st;
		memcpy(&st, e->data, sizeof(st));
		if (ifid != NO_IFID)
			rc = pcapng_isb(&o->block, ifid, e->ts_ns, &st,
			                e->has_comment ? (const char *)e->data +
			                                         sizeof(st)
			                               : NULL);
		break;
	}
	case VUP__RING_FINDING: rc = put_finding(b, e); break;
	default: break;
	}
	if (!rc && o->block.len >= 65536)
		rc = vup__out_emit(o, Z_NO_FLUSH);
	return rc;
}

static int write_backlog(struct vup_trace *t, struct out *o)
{
	struct backlog b = {t, o, {0}};
	size_t k = (size_t)(o - t->out), nbase;
	const struct iface *base = vup__ring_base(t->ring, &nbase);
	/* Restated at the window's start: the file's time runs forward. */
	struct vup_trace_ring_stats rs;
	vup__ring_stats_get(t->ring, &rs);
	uint64_t now = rs.oldest_ns ? rs.oldest_ns : vup__trace_now_ns();
	int rc = vup__out_level(o, LEVEL_MESSAGES);
	for (size_t i = 0; !rc && i < nbase; i++) {
		struct iface f = base[i]; /* its ifid[k] is this file's */
		rc = vup__out_declare(t, o, &f, true, now);
		rc = rc ? rc : map_add(&b.map, &f, f.ifid[k]);
		if (!rc && o->block.len >= 65536)
			rc = vup__out_emit(o, Z_NO_FLUSH);
	}
	if (!rc)
		rc = vup__ring_each(t->ring, put_entry, &b);
	/* The live interfaces go on in this file. */
	for (size_t i = 0; !rc && i < t->nifaces; i++)
		t->ifaces[i].ifid[k] = map_handle(&b.map, t->ifaces[i].handle);
	free(b.map.m);
	return rc ? rc : vup__out_emit(o, Z_SYNC_FLUSH);
}

int vup_trace_snapshot(struct vup_trace *t, int fd, const char *trigger,
                       char *err, size_t errlen)
{
	if (!t->ring) {
		snprintf(err, errlen,
		         "no flight recorder: start vuproxy with --ring MB");
		return -ENOENT;
	}
	size_t k = 1;
	while (k < OUTS && t->out[k].used)
		k++;
	if (k == OUTS) {
		snprintf(err, errlen, "%d recordings already run", OUTS - 1);
		return -EBUSY;
	}
	int own, restore_fl; /* a regular file: written on the relay's thread */
	int rc = vup__out_take_fd(fd, true, &own, &restore_fl, err, errlen);
	if (rc)
		return rc;
	struct out *o = &t->out[k];
	char comment[512];
	struct vup_trace_ring_stats rs;
	vup__ring_stats_get(t->ring, &rs);
	snprintf(comment, sizeof(comment),
	         "vuproxy flight recorder snapshot; trigger: %s; %llu records "
	         "kept, %llu fell out before",
	         trigger, (unsigned long long)rs.entries,
	         (unsigned long long)rs.evicted);
	*o = (struct out){.used = true,
	                  .fd = own,
	                  .restore_fl = -1,
	                  .gzip = true,
	                  .taps = true,
	                  .snapshot = true,
	                  .comment = strdup(comment)};
	rc = o->comment ? vup__out_open(t, o, 0, err, errlen) : -ENOMEM;
	if (!rc)
		rc = write_backlog(t, o);
	if (rc) {
		if (!err[0])
			snprintf(err, errlen, "snapshot: %s", strerror(-rc));
		o->fd = -1; /* the caller's still */
		vup__out_free(t, o);
		for (size_t i = 0; i < t->nifaces; i++)
			t->ifaces[i].ifid[k] = NO_IFID;
		return rc;
	}
	return (int)k;
}
