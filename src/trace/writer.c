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

#include "vuproxy/log.h"
#include "vuproxy/proto.h"
#include "vuproxy/trace.h"
#include "vuproxy/tracemsg.h"

/* A live interface: a session's control channel (LINKTYPE_USER0) or one
 * of its tap interfaces.  handle names it for the caller; ifid is its
 * number in the open file, which a new file renumbers. */
struct iface {
	uint32_t session, handle;
	uint16_t linktype;
	uint32_t snaplen;
	uint32_t ifid;
	char *name, *description;
};

/* Tap packets are not flushed one by one: they are compressed once this
 * many bytes of blocks wait, and flushed by vup_trace_flush (once per tap
 * poll) or by the next control message. */
#define TAP_BATCH_BYTES 65536

struct vup_trace {
	struct vup_trace_config cfg;
	char *path;
	int fd;
	unsigned file_no;   /* k of the open file */
	uint64_t file_size; /* compressed bytes in the open file */
	uint64_t synced;    /* of which end at a sync flush: whole messages */
	z_stream z;
	bool z_open;
	bool broken;          /* a write failed: stop, keep what is on disk */
	struct vup_buf block; /* blocks being encoded */
	struct iface *ifaces; /* live sessions */
	size_t nifaces, cap_ifaces;
	uint32_t next_ifid; /* ids count IDBs in the open file */
	uint32_t next_handle;
	uint64_t count, packets;
	/* Packets (EPBs) written, all files; and how many of them were in
	 * the files before the open one: a packet's frame in its file, as
	 * Wireshark numbers it, is seq - file_base. */
	uint64_t seq, file_base;
	bool findings_declared; /* the open file has the findings' IDB */
	uint32_t findings_ifid;
	bool unflushed; /* blocks given to zlib without a sync flush */
	int level;      /* zlib's compression level now: see set_level */
};

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

static void fail(struct vup_trace *t, const char *what, int err)
{
	if (t->broken)
		return;
	t->broken = true;
	/* Cut what a failed write left of the message it was writing: the
	 * file ends after the last whole message, the one the log names. */
	if (t->fd >= 0 && ftruncate(t->fd, (off_t)t->synced) == 0)
		t->file_size = t->synced;
	char name[4096];
	vup_trace_file_name(t->path, t->file_no, name, sizeof(name));
	vup_log(VUP_LOG_ERROR,
	        "trace %s: %s: %s; recording stops after %llu messages, "
	        "relaying continues",
	        name, what, strerror(err), (unsigned long long)t->count);
}

static int write_all(struct vup_trace *t, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(t->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;
			fail(t, "write", e);
			return -e;
		}
		p += w;
		n -= (size_t)w;
		t->file_size += (uint64_t)w;
	}
	return 0;
}

/* Compress the encoded blocks and write them out with the given flush. */
static int emit(struct vup_trace *t, int flush)
{
	uint8_t out[16384];
	t->z.next_in = t->block.data;
	t->z.avail_in = (uInt)t->block.len;
	do {
		t->z.next_out = out;
		t->z.avail_out = sizeof(out);
		int rc = deflate(&t->z, flush);
		if (rc == Z_STREAM_ERROR) {
			fail(t, "deflate", EIO);
			return -EIO;
		}
		size_t have = sizeof(out) - t->z.avail_out;
		if (have && write_all(t, out, have))
			return -EIO;
	} while (t->z.avail_out == 0 || t->z.avail_in);
	t->block.len = 0;
	/* Z_BLOCK ends a deflate block but may leave bits behind. */
	t->unflushed = flush == Z_NO_FLUSH || flush == Z_BLOCK;
	if (!t->unflushed)
		t->synced = t->file_size;
	return 0;
}

/* Control messages are stored (deflate level 0), the tap's frames
 * compressed (level 1).  Each control message is flushed on its own
 * before it is forwarded, and for every such ~100-byte block zlib level 1
 * builds Huffman trees: 1.3 us of the relay's time per message, which
 * made a traced round trip 1.3-1.4 times an untraced one, against 0.2 us
 * stored (bench/rt.sh, bench/trace.sh).  Control messages are few and
 * small; the bulk of a trace, the frames, stays compressed. */
#define LEVEL_MESSAGES 0
#define LEVEL_FRAMES   1

static int set_level(struct vup_trace *t, int level)
{
	if (t->level == level)
		return 0;
	/* What zlib holds is compressed at the old level first. */
	if ((t->block.len || t->unflushed) && emit(t, Z_BLOCK))
		return -EIO;
	uint8_t out[64];
	t->z.next_out = out;
	t->z.avail_out = sizeof(out);
	int rc = deflateParams(&t->z, level, Z_DEFAULT_STRATEGY);
	size_t have = sizeof(out) - t->z.avail_out;
	if (have && write_all(t, out, have))
		return -EIO;
	if (rc != Z_OK) {
		fail(t, "deflateParams", EIO);
		return -EIO;
	}
	t->level = level;
	return 0;
}

/* continued: the session began in an earlier file (rotation). */
static int declare(struct vup_trace *t, size_t i, bool continued)
{
	struct iface *f = &t->ifaces[i];
	f->ifid = t->next_ifid++;
	return pcapng_idb_note(&t->block, f->linktype, f->snaplen, f->name,
	                       f->description,
	                       continued ? VUP_IDB_CONTINUED : NULL);
}

/* Writes to the trace block, as they always did: O_NONBLOCK was for the
 * open only. */
static int clear_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

static int open_file(struct vup_trace *t, char *err, size_t errlen)
{
	char name[4096];
	if (vup_trace_file_name(t->path, t->file_no, name, sizeof(name))) {
		snprintf(err, errlen, "%s: name too long", t->path);
		return -ENAMETOOLONG;
	}
	/* Trace files hold guest data: 0600 whatever the umask. */
	/* Never follow a link or truncate a device: -w names a file of ours.
	 * O_NONBLOCK: a FIFO planted there must not hang start-up (open
	 * would wait for a reader); it is refused below as not a regular
	 * file.  A hard link to another file (st_nlink > 1) is refused
	 * before the truncation would destroy that file's content. */
	t->fd = open(name,
	             O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
	             0600);
	struct stat st;
	int e = 0;
	const char *why = NULL;
	if (t->fd < 0)
		e = errno;
	else if (fstat(t->fd, &st) < 0)
		e = errno;
	else if (!S_ISREG(st.st_mode))
		e = EINVAL, why = "not a regular file";
	else if (st.st_nlink > 1)
		e = EMLINK, why = "has other hard links (another name for "
		                  "another file); not truncating it";
	else if (clear_nonblock(t->fd) < 0 || ftruncate(t->fd, 0) < 0 ||
	         fchmod(t->fd, 0600) < 0)
		e = errno;
	if (e) {
		snprintf(err, errlen, "%s: %s", name,
		         why          ? why
		         : e == ELOOP ? "is a symbolic link; not following it"
		         : e == ENXIO ? "not a regular file"
		                      : strerror(e));
		if (t->fd >= 0)
			close(t->fd);
		t->fd = -1;
		return -e;
	}
	t->file_size = t->synced = 0;
	memset(&t->z, 0, sizeof(t->z));
	/* windowBits 15 + 16: a gzip wrapper, which zcat and Wireshark read.
	 * Level 1 for frames: the trace is written on the relay's thread,
	 * and with the tap at a million frames a second compressing is most
	 * of vuproxy's work (level 6 captured 97.4% of them, level 1 99.4%).
	 * Control messages switch to level 0 (set_level). */
	if (deflateInit2(&t->z, LEVEL_FRAMES, Z_DEFLATED, 15 + 16, 8,
	                 Z_DEFAULT_STRATEGY) != Z_OK) {
		snprintf(err, errlen, "deflateInit2 failed");
		close(t->fd);
		t->fd = -1;
		return -ENOMEM;
	}
	t->z_open = true;
	t->level = LEVEL_FRAMES;
	t->next_ifid = 0;
	t->file_base = t->seq;
	t->findings_declared = false;
	/* The file starts with its SHB: nothing left of the previous one. */
	t->block.len = 0;
	t->unflushed = false;
	if (pcapng_shb(&t->block, "vuproxy"))
		return -ENOMEM;
	/* A new file stands alone: it re-declares every live session. */
	for (size_t i = 0; i < t->nifaces; i++)
		if (declare(t, i, true))
			return -ENOMEM;
	int rc = emit(t, Z_SYNC_FLUSH);
	if (rc)
		snprintf(err, errlen, "%s: %s", name, strerror(-rc));
	return rc;
}

static int close_file(struct vup_trace *t)
{
	int rc = 0;
	if (t->z_open) {
		if (!t->broken)
			rc = emit(t, Z_FINISH);
		deflateEnd(&t->z);
		t->z_open = false;
	}
	if (t->fd >= 0) {
		if (!t->broken && fsync(t->fd) < 0 && errno != EINVAL) {
			rc = -errno;
			fail(t, "fsync", -rc);
		}
		close(t->fd);
		t->fd = -1;
	}
	return rc;
}

/* The end of a file the sessions outlive: each control interface says
 * so (VUP_ISB_GOES_ON), as the next file's says it continues. */
static int note_goes_on(struct vup_trace *t)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now =
	        (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	for (size_t i = 0; i < t->nifaces; i++)
		if (t->ifaces[i].linktype == LINKTYPE_USER0 &&
		    pcapng_isb_note(&t->block, t->ifaces[i].ifid, now,
		                    VUP_ISB_GOES_ON))
			return -ENOMEM;
	return 0;
}

static int rotate(struct vup_trace *t)
{
	/* A file that could not be finished stops the recording (fail()
	 * logged it once): no next file, and -W removes nothing, so that
	 * the files on disk are the ones the log names. */
	(void)note_goes_on(t); /* without the note check is only stricter */
	if (close_file(t) || t->broken)
		return -EIO;
	t->file_no++;
	char err[256] = "";
	int rc = open_file(t, err, sizeof(err));
	if (rc) {
		if (!t->broken)
			vup_log(VUP_LOG_ERROR, "trace rotation: %s",
			        err[0] ? err : strerror(-rc));
		t->broken = true;
		return rc;
	}
	/* -W: the oldest file goes once the next one is open. */
	if (t->cfg.max_files && t->file_no >= t->cfg.max_files) {
		char old[4096];
		if (!vup_trace_file_name(t->path, t->file_no - t->cfg.max_files,
		                         old, sizeof(old)))
			unlink(old);
	}
	return 0;
}

int vup_trace_open(const struct vup_trace_config *cfg, struct vup_trace **out,
                   char *err, size_t errlen)
{
	struct vup_trace *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cfg = *cfg;
	t->path = strdup(cfg->path);
	t->fd = -1;
	if (!t->path) {
		free(t);
		return -ENOMEM;
	}
	int rc = open_file(t, err, errlen);
	if (rc) {
		close_file(t);
		vup_buf_free(&t->block);
		free(t->path);
		free(t);
		return rc;
	}
	*out = t;
	return 0;
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
	f->session = session;
	f->handle = t->next_handle++;
	f->linktype = linktype;
	f->snaplen = snaplen;
	f->name = strdup(name);
	f->description = strdup(description ? description : "");
	if (!f->name || !f->description) {
		free(f->name);
		free(f->description);
		return -ENOMEM;
	}
	t->nifaces++;
	if (handle)
		*handle = f->handle;
	if (t->broken)
		return 0;
	int rc = declare(t, t->nifaces - 1, false);
	return rc ? rc : emit(t, Z_SYNC_FLUSH);
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
	for (size_t i = t->nifaces; i-- > 0;) {
		if (t->ifaces[i].session != session)
			continue;
		free(t->ifaces[i].name);
		free(t->ifaces[i].description);
		t->ifaces[i] = t->ifaces[--t->nifaces];
	}
}

int vup_trace_message(struct vup_trace *t, uint64_t ts_ns,
                      const struct vup_trace_hdr *h,
                      const struct vup_hdr *msg_hdr, const uint8_t *payload)
{
	if (t->broken)
		return -EIO;
	ssize_t i = find_control(t, h->session);
	if (i < 0)
		return -ENOENT;
	if (t->cfg.rotate_bytes && t->file_size >= t->cfg.rotate_bytes &&
	    rotate(t))
		return -EIO;
	i = find_control(t, h->session);
	if (set_level(t, LEVEL_MESSAGES))
		return -EIO;
	uint8_t pkt[VUP_TRACE_HDR_MAX + VUP_HDR_SIZE + VUP_MAX_PAYLOAD];
	size_t hl = vup_trace_hdr_size(h);
	size_t plen = msg_hdr->size;
	if (plen > VUP_MAX_PAYLOAD)
		plen = VUP_MAX_PAYLOAD; /* the channel refuses more anyway */
	vup_trace_hdr_encode(h, pkt);
	memcpy(pkt + hl, msg_hdr, VUP_HDR_SIZE);
	if (plen) /* payload may be NULL for an empty one */
		memcpy(pkt + hl + VUP_HDR_SIZE, payload, plen);
	size_t len = VUP_HDR_SIZE + plen;
	uint32_t dir = (h->flags & VUP_TRACE_F_FROM_BACKEND)
	                       ? PCAPNG_DIR_INBOUND
	                       : PCAPNG_DIR_OUTBOUND;
	int rc = pcapng_epb(&t->block, t->ifaces[i].ifid, ts_ns, pkt,
	                    (uint32_t)(hl + len), (uint32_t)(hl + len), dir,
	                    NULL);
	if (rc)
		return rc;
	t->seq++;
	rc = emit(t, Z_SYNC_FLUSH);
	if (rc == 0)
		t->count++;
	return rc;
}

int vup_trace_packet(struct vup_trace *t, uint32_t handle, uint64_t ts_ns,
                     uint32_t flags, const void *data, uint32_t caplen,
                     uint32_t origlen)
{
	return vup_trace_packet_note(t, handle, ts_ns, flags, data, caplen,
	                             origlen, NULL);
}

int vup_trace_packet_note(struct vup_trace *t, uint32_t handle, uint64_t ts_ns,
                          uint32_t flags, const void *data, uint32_t caplen,
                          uint32_t origlen, const char *comment)
{
	if (t->broken)
		return -EIO;
	if (t->cfg.rotate_bytes && t->file_size >= t->cfg.rotate_bytes &&
	    rotate(t))
		return -EIO;
	ssize_t i = find_handle(t, handle);
	if (i < 0)
		return -ENOENT;
	if (set_level(t, LEVEL_FRAMES))
		return -EIO;
	int rc = pcapng_epb(&t->block, t->ifaces[i].ifid, ts_ns, data, caplen,
	                    origlen, flags, comment);
	if (rc)
		return rc;
	t->packets++;
	t->seq++;
	return t->block.len >= TAP_BATCH_BYTES ? emit(t, Z_NO_FLUSH) : 0;
}

int vup_trace_stats(struct vup_trace *t, uint32_t handle, uint64_t ts_ns,
                    const struct pcapng_isb *st, const char *comment)
{
	if (t->broken)
		return -EIO;
	ssize_t i = find_handle(t, handle);
	if (i < 0)
		return -ENOENT;
	int rc = pcapng_isb(&t->block, t->ifaces[i].ifid, ts_ns, st, comment);
	return rc ? rc : emit(t, Z_SYNC_FLUSH);
}

int vup_trace_flush(struct vup_trace *t)
{
	if (t->broken)
		return -EIO;
	if (!t->block.len && !t->unflushed)
		return 0;
	return emit(t, Z_SYNC_FLUSH);
}

uint64_t vup_trace_seq(const struct vup_trace *t)
{
	return t->seq;
}

uint64_t vup_trace_frame(const struct vup_trace *t, uint64_t seq)
{
	return seq > t->file_base ? seq - t->file_base : 0;
}

/* A finding's message is a line of a log: more is clipped. */
#define FINDING_TEXT_MAX 1024

/* The findings' interface is the file's, not a session's: declared
 * before the file's first finding, and again in a later file. */
static int declare_findings(struct vup_trace *t)
{
	if (t->findings_declared)
		return 0;
	int rc = pcapng_idb(&t->block, LINKTYPE_USER3, 0, VUP_FINDING_IFACE,
	                    "what vuproxy's checker found, by frame");
	if (rc)
		return rc;
	t->findings_ifid = t->next_ifid++;
	t->findings_declared = true;
	return 0;
}

int vup_trace_finding(struct vup_trace *t, uint64_t ts_ns,
                      const struct vup_finding_rec *f, uint64_t about)
{
	if (t->broken)
		return -EIO;
	if (set_level(t, LEVEL_MESSAGES))
		return -EIO;
	int rc = declare_findings(t);
	if (rc)
		return rc;
	struct vup_finding_rec r = *f;
	r.frame = vup_trace_frame(t, about);
	if (r.message_len > FINDING_TEXT_MAX)
		r.message_len = FINDING_TEXT_MAX;
	/* Encoded past the blocks waiting in the buffer, then copied out
	 * as the EPB's data. */
	size_t at = t->block.len;
	if (vup_finding_encode(&t->block, &r))
		return -ENOMEM;
	size_t len = t->block.len - at;
	uint8_t rec[VUP_FINDING_FIXED + 255 + 255 + FINDING_TEXT_MAX + 4];
	memcpy(rec, t->block.data + at, len);
	t->block.len = at;
	rc = pcapng_epb(&t->block, t->findings_ifid, ts_ns, rec, (uint32_t)len,
	                (uint32_t)len, 0, NULL);
	if (rc)
		return rc;
	t->seq++;
	return emit(t, Z_SYNC_FLUSH);
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
	int rc = close_file(t);
	for (size_t i = 0; i < t->nifaces; i++) {
		free(t->ifaces[i].name);
		free(t->ifaces[i].description);
	}
	free(t->ifaces);
	vup_buf_free(&t->block);
	free(t->path);
	free(t);
	return rc;
}
