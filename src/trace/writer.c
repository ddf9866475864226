/* trace writer: pcapng blocks through zlib's gzip wrapper to a file.
 * See include/vuproxy/trace.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"
#include "vuproxy/log.h"
#include "vuproxy/proto.h"
#include "vuproxy/trace.h"
#include "vuproxy/tracemsg.h"

int vup_trace_file_name(const char *path, unsigned k, char *out, size_t len)
{
	static const char *const exts[] = {".pcapng.gz", ".pcapng", ".gz"};
	if (k == 0)
		return snprintf(out, len, "%s", path) >= (int)len
		               ? -ENAMETOOLONG
		               : 0;
	size_t pl = strlen(path);
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		size_t el = strlen(exts[i]);
		if (pl > el && strcmp(path + pl - el, exts[i]) == 0) {
			int n = snprintf(out, len, "%.*s.%u%s", (int)(pl - el),
			                 path, k, exts[i]);
			return n >= (int)len ? -ENAMETOOLONG : 0;
		}
	}
	return snprintf(out, len, "%s.%u", path, k) >= (int)len ? -ENAMETOOLONG
	                                                        : 0;
}

/* Tap packets are not flushed one by one: they are compressed once this
 * many bytes of blocks wait, and flushed by vup_trace_flush (once per tap
 * poll) or by the next control message. */
#define TAP_BATCH_BYTES 65536

/* A finding's message is a line of a log: more is clipped. */
#define FINDING_TEXT_MAX 1024

#define EACH_OUT(t, o)                                                         \
	for (struct out *o = (t)->out; o < (t)->out + OUTS; o++)               \
		if (o->used && !o->broken)

int vup_trace_open(const struct vup_trace_config *cfg, struct vup_trace **out,
                   char *err, size_t errlen)
{
	struct vup_trace *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t k = 0; k < OUTS; k++)
		t->out[k].fd = t->out[k].restore_fl = -1;
	t->findings_in_file = cfg->findings;
	if (cfg->path) {
		struct out *o = &t->out[0];
		*o = (struct out){.used = true,
		                  .path = strdup(cfg->path),
		                  .rotate_bytes = cfg->rotate_bytes,
		                  .rotate_ns = (uint64_t)cfg->rotate_secs *
		                               1000000000u,
		                  .max_files = cfg->max_files,
		                  .fd = -1,
		                  .restore_fl = -1,
		                  .gzip = true,
		                  .taps = true};
		int rc = o->path ? vup__out_open(t, o, vup__trace_now_ns(), err,
		                                 errlen)
		                 : -ENOMEM;
		if (rc) {
			vup__out_free(t, o);
			free(t);
			return rc;
		}
	}
	*out = t;
	return 0;
}

bool vup_trace_writes_file(const struct vup_trace *t)
{
	return t && t->out[0].used;
}

bool vup_trace_active(const struct vup_trace *t)
{
	if (!t)
		return false;
	for (size_t k = 0; k < OUTS; k++)
		if (t->out[k].used)
			return true;
	return t->ring != NULL;
}

int vup_trace_record(struct vup_trace *t, const struct vup_trace_rec *r,
                     char *err, size_t errlen)
{
	size_t k = 1;
	while (k < OUTS && t->out[k].used)
		k++;
	if (k == OUTS) {
		snprintf(err, errlen, "%d recordings already run", OUTS - 1);
		return -EBUSY;
	}
	int own, restore_fl;
	int rc = vup__out_take_fd(r->fd, false, &own, &restore_fl, err, errlen);
	if (rc)
		return rc;
	struct out *o = &t->out[k];
	*o = (struct out){.used = true,
	                  .fd = own,
	                  .restore_fl = restore_fl,
	                  .gzip = r->gzip,
	                  .session = r->session,
	                  .taps = r->taps};
	rc = vup__out_open(t, o, vup__trace_now_ns(), err, errlen);
	if (rc) {
		if (own == r->fd) {
			if (restore_fl >= 0)
				fcntl(own, F_SETFL, restore_fl);
			o->fd = -1; /* the caller's still */
		}
		vup__out_free(t, o);
		return rc;
	}
	if (own != r->fd)
		close(r->fd); /* taken: vuproxy writes to its own */
	return (int)k;
}

int vup_trace_stop(struct vup_trace *t, int id, uint64_t *messages)
{
	if (id <= 0 || id >= OUTS || !t->out[id].used)
		return -ENOENT;
	struct out *o = &t->out[id];
	if (messages)
		*messages = o->messages;
	bool broken = o->broken;
	int rc = vup__out_close(t, o);
	vup__out_free(t, o);
	return broken ? -EIO : rc;
}

uint64_t vup_trace_messages(const struct vup_trace *t, int id)
{
	return id >= 0 && id < OUTS && t->out[id].used ? t->out[id].messages
	                                               : 0;
}

bool vup_trace_recording(const struct vup_trace *t, int id)
{
	return id > 0 && id < OUTS && t->out[id].used && !t->out[id].broken;
}

static ssize_t find_control(struct vup_trace *t, uint32_t session)
{
	for (size_t i = 0; i < t->nifaces; i++)
		if (t->ifaces[i].session == session &&
		    t->ifaces[i].linktype == LINKTYPE_USER0)
			return (ssize_t)i;
	return -1;
}

static ssize_t find_handle(struct vup_trace *t, uint32_t handle)
{
	for (size_t i = 0; i < t->nifaces; i++)
		if (t->ifaces[i].handle == handle)
			return (ssize_t)i;
	return -1;
}

static int add_iface(struct vup_trace *t, uint32_t session, uint16_t linktype,
                     uint32_t snaplen, const char *name,
                     const char *description, uint32_t *handle)
{
	if (t->nifaces == t->cap_ifaces) {
		size_t cap = t->cap_ifaces ? t->cap_ifaces * 2 : 16;
		struct iface *f = realloc(t->ifaces, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		t->ifaces = f;
		t->cap_ifaces = cap;
	}
	struct iface *f = &t->ifaces[t->nifaces];
	*f = (struct iface){.session = session,
	                    .handle = t->next_handle++,
	                    .linktype = linktype,
	                    .snaplen = snaplen,
	                    .name = strdup(name),
	                    .description =
	                            strdup(description ? description : "")};
	for (size_t k = 0; k < OUTS; k++)
		f->ifid[k] = NO_IFID;
	if (linktype == LINKTYPE_USER0)
		f->declared = vup_declared_new();
	if (!f->name || !f->description ||
	    (linktype == LINKTYPE_USER0 && !f->declared)) {
		free(f->name);
		free(f->description);
		vup_declared_free(f->declared);
		return -ENOMEM;
	}
	t->nifaces++;
	if (handle)
		*handle = f->handle;
	if (t->ring)
		vup__ring_iface(t->ring, f);
	int rc = 0;
	EACH_OUT(t, o)
	{
		int r = vup__out_declare(t, o, f, false, 0);
		r = r ? r : vup__out_emit(o, Z_SYNC_FLUSH);
		if (o == t->out)
			rc = r;
	}
	return rc;
}

int vup_trace_add_session(struct vup_trace *t, uint32_t session,
                          const char *name, const char *description)
{
	return add_iface(t, session, LINKTYPE_USER0, 0, name, description,
	                 NULL);
}

int vup_trace_add_iface(struct vup_trace *t, uint32_t session,
                        uint16_t linktype, uint32_t snaplen, const char *name,
                        const char *description, uint32_t *handle)
{
	return add_iface(t, session, linktype, snaplen, name, description,
	                 handle);
}

void vup_trace_end_session(struct vup_trace *t, uint32_t session)
{
	if (t->ring)
		vup__ring_end(t->ring, session);
	for (size_t i = t->nifaces; i-- > 0;) {
		struct iface *f = &t->ifaces[i];
		if (f->session != session)
			continue;
		free(f->name);
		free(f->description);
		vup_declared_free(f->declared);
		*f = t->ifaces[--t->nifaces];
	}
}

/* One record to every output that takes its interface; out[0]'s result
 * (-w) is the caller's. */
static int record_out(struct vup_trace *t, struct out *o, size_t i,
                      uint64_t ts_ns, const uint8_t *pkt, uint32_t len,
                      uint32_t dir)
{
	if (vup__out_rotate_due(t, o, ts_ns))
		return -EIO;
	/* Rotation moved nothing: the interface keeps its index. */
	uint32_t ifid = t->ifaces[i].ifid[o - t->out];
	if (ifid == NO_IFID)
		return 0;
	if (vup__out_level(o, LEVEL_MESSAGES))
		return -EIO;
	int rc = pcapng_epb(&o->block, ifid, ts_ns, pkt, len, len, dir, NULL);
	if (rc)
		return rc;
	vup__out_note_frame(o, t->seq);
	rc = vup__out_emit(o, Z_SYNC_FLUSH);
	if (rc == 0)
		o->messages++;
	return rc;
}

int vup_trace_message(struct vup_trace *t, uint64_t ts_ns,
                      const struct vup_trace_hdr *h,
                      const struct vup_hdr *msg_hdr, const uint8_t *payload)
{
	ssize_t i = find_control(t, h->session);
	if (i < 0)
		return -ENOENT;
	uint8_t pkt[VUP_TRACE_HDR_MAX + VUP_HDR_SIZE + VUP_MAX_PAYLOAD];
	size_t hl = vup_trace_hdr_size(h);
	size_t plen = msg_hdr->size;
	if (plen > VUP_MAX_PAYLOAD)
		plen = VUP_MAX_PAYLOAD; /* the channel refuses more anyway */
	vup_trace_hdr_encode(h, pkt);
	memcpy(pkt + hl, msg_hdr, VUP_HDR_SIZE);
	if (plen) /* payload may be NULL for an empty one */
		memcpy(pkt + hl + VUP_HDR_SIZE, payload, plen);
	uint32_t len = (uint32_t)(hl + VUP_HDR_SIZE + plen);
	uint32_t dir = (h->flags & VUP_TRACE_F_FROM_BACKEND)
	                       ? PCAPNG_DIR_INBOUND
	                       : PCAPNG_DIR_OUTBOUND;
	t->seq++;
	int rc = t->out[0].used ? -EIO : 0;
	EACH_OUT(t, o)
	{
		int r = record_out(t, o, (size_t)i, ts_ns, pkt, len, dir);
		if (o == t->out)
			rc = r;
	}
	if (rc == 0)
		t->count++;
	if (t->ring)
		vup__ring_msg(t->ring, h->session, ts_ns, t->seq, pkt, len, hl);
	/* After the files: a file this message opens restates what was in
	 * effect before it, and the message follows as an event. */
	vup_declared_feed(t->ifaces[i].declared, ts_ns, h, pkt, len, hl);
	return rc;
}

int vup_trace_packet(struct vup_trace *t, uint32_t handle, uint64_t ts_ns,
                     uint32_t flags, const void *data, uint32_t caplen,
                     uint32_t origlen)
{
	return vup_trace_packet_note(t, handle, ts_ns, flags, data, caplen,
	                             origlen, NULL);
}

static int packet_out(struct vup_trace *t, struct out *o, uint32_t handle,
                      uint64_t ts_ns, uint32_t flags, const void *data,
                      uint32_t caplen, uint32_t origlen, const char *comment)
{
	if (vup__out_rotate_due(t, o, ts_ns))
		return -EIO;
	ssize_t i = find_handle(t, handle);
	if (i < 0)
		return -ENOENT;
	uint32_t ifid = t->ifaces[i].ifid[o - t->out];
	if (ifid == NO_IFID)
		return 0;
	if (vup__out_level(o, LEVEL_FRAMES))
		return -EIO;
	int rc = pcapng_epb(&o->block, ifid, ts_ns, data, caplen, origlen,
	                    flags, comment);
	if (rc)
		return rc;
	vup__out_note_frame(o, t->seq);
	return o->block.len >= TAP_BATCH_BYTES ? vup__out_emit(o, Z_NO_FLUSH)
	                                       : 0;
}

int vup_trace_packet_note(struct vup_trace *t, uint32_t handle, uint64_t ts_ns,
                          uint32_t flags, const void *data, uint32_t caplen,
                          uint32_t origlen, const char *comment)
{
	if (find_handle(t, handle) < 0)
		return -ENOENT;
	t->seq++;
	int rc = t->out[0].used ? -EIO : 0;
	EACH_OUT(t, o)
	{
		int r = packet_out(t, o, handle, ts_ns, flags, data, caplen,
		                   origlen, comment);
		if (o == t->out)
			rc = r;
	}
	if (rc == 0 && t->out[0].used)
		t->packets++;
	if (t->ring)
		vup__ring_packet(t->ring, handle, ts_ns, t->seq, flags, data,
		                 caplen, origlen, comment);
	return rc;
}

int vup_trace_stats(struct vup_trace *t, uint32_t handle, uint64_t ts_ns,
                    const struct pcapng_isb *st, const char *comment)
{
	ssize_t i = find_handle(t, handle);
	if (i < 0)
		return -ENOENT;
	int rc = t->out[0].used ? -EIO : 0;
	EACH_OUT(t, o)
	{
		uint32_t ifid = t->ifaces[i].ifid[o - t->out];
		int r = 0;
		if (ifid != NO_IFID) {
			r = pcapng_isb(&o->block, ifid, ts_ns, st, comment);
			r = r ? r : vup__out_emit(o, Z_SYNC_FLUSH);
		}
		if (o == t->out)
			rc = r;
	}
	if (t->ring)
		vup__ring_stats(t->ring, t->ifaces[i].handle, ts_ns, st,
		                comment);
	return rc;
}

int vup_trace_flush(struct vup_trace *t)
{
	int rc = t->out[0].used ? -EIO : 0;
	EACH_OUT(t, o)
	{
		int r = 0;
		if (o->block.len || o->unflushed || o->pending.len)
			r = vup__out_emit(o, Z_SYNC_FLUSH);
		if (o == t->out)
			rc = r;
	}
	return rc;
}

uint64_t vup_trace_seq(const struct vup_trace *t)
{
	return t->seq;
}

uint64_t vup_trace_frame(const struct vup_trace *t, uint64_t seq)
{
	return vup__out_frame(&t->out[0], seq);
}

static int finding_out(struct vup_trace *t, struct out *o,
                       const struct vup_finding_rec *f, uint64_t ts_ns,
                       uint64_t about)
{
	if (o->session && f->session != o->session)
		return 0;
	if (vup__out_level(o, LEVEL_MESSAGES))
		return -EIO;
	int rc = vup__out_findings_iface(o);
	if (rc)
		return rc;
	struct vup_finding_rec r = *f;
	r.frame = vup__out_frame(o, about);
	if (r.message_len > FINDING_TEXT_MAX)
		r.message_len = FINDING_TEXT_MAX;
	/* Encoded past the blocks waiting in the buffer, then copied out
	 * as the EPB's data. */
	size_t at = o->block.len;
	if (vup_finding_encode(&o->block, &r))
		return -ENOMEM;
	size_t len = o->block.len - at;
	uint8_t rec[VUP_FINDING_FIXED + 255 + 255 + FINDING_TEXT_MAX + 4];
	memcpy(rec, o->block.data + at, len);
	o->block.len = at;
	rc = pcapng_epb(&o->block, o->findings_ifid, ts_ns, rec, (uint32_t)len,
	                (uint32_t)len, 0, NULL);
	if (rc)
		return rc;
	vup__out_note_frame(o, t->seq);
	return vup__out_emit(o, Z_SYNC_FLUSH);
}

/* The ring keeps a finding as its record; a snapshot numbers its frame. */
static void ring_finding(struct vup_trace *t, uint64_t ts_ns,
                         const struct vup_finding_rec *f, uint64_t about)
{
	struct vup_finding_rec r = *f;
	if (r.message_len > FINDING_TEXT_MAX)
		r.message_len = FINDING_TEXT_MAX;
	struct vup_buf b = {0};
	if (vup_finding_encode(&b, &r) == 0)
		vup__ring_finding(t->ring, ts_ns, t->seq, b.data, b.len, about);
	vup_buf_free(&b);
}

int vup_trace_finding(struct vup_trace *t, uint64_t ts_ns,
                      const struct vup_finding_rec *f, uint64_t about)
{
	t->seq++;
	if (t->ring)
		ring_finding(t, ts_ns, f, about);
	int rc = t->out[0].used && t->findings_in_file ? -EIO : 0;
	EACH_OUT(t, o)
	{
		if (o == t->out && !t->findings_in_file)
			continue;
		int r = finding_out(t, o, f, ts_ns, about);
		if (o == t->out)
			rc = r;
	}
	return rc;
}

uint64_t vup_trace_count(const struct vup_trace *t)
{
	return t->count;
}

uint64_t vup_trace_packets(const struct vup_trace *t)
{
	return t->packets;
}

int vup_trace_close(struct vup_trace *t)
{
	if (!t)
		return 0;
	int rc = 0;
	for (size_t k = 0; k < OUTS; k++) {
		if (!t->out[k].used)
			continue;
		int r = vup__out_close(t, &t->out[k]);
		if (k == 0)
			rc = r;
		vup__out_free(t, &t->out[k]);
	}
	for (size_t i = 0; i < t->nifaces; i++) {
		free(t->ifaces[i].name);
		free(t->ifaces[i].description);
		vup_declared_free(t->ifaces[i].declared);
	}
	free(t->ifaces);
	vup__ring_free(t->ring);
	free(t);
	return rc;
}

int vup_trace_ring(struct vup_trace *t, size_t bytes)
{
	if (t->ring)
		return -EEXIST;
	if (!(t->ring = vup__ring_new(bytes)))
		return -ENOMEM;
	/* Sessions already live are in the ring from now on (without the
	 * set-up they had: the ring starts with vuproxy). */
	for (size_t i = 0; i < t->nifaces; i++)
		vup__ring_iface(t->ring, &t->ifaces[i]);
	return 0;
}

bool vup_trace_ring_stats(const struct vup_trace *t,
                          struct vup_trace_ring_stats *s)
{
	if (!t->ring)
		return false;
	vup__ring_stats_get(t->ring, s);
	return true;
}
