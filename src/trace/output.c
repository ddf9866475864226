/* output: one place a trace goes (internal.h): a rotating file set
 * (-w, -C, -W) or an fd a recording started at run time writes to,
 * compressed (a gzip stream) or plain pcapng (a pipe to Wireshark). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "vuproxy/log.h"
#include "vuproxy/tracemsg.h"

/* A reader that falls this far behind (a pipe to Wireshark) stops the
 * recording: the relay never waits for it. */
#define PENDING_MAX (16u << 20)

uint64_t vup__trace_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void out_name(const struct out *o, char *name, size_t len)
{
	if (o->path)
		vup_trace_file_name(o->path, o->file_no, name, len);
	else
		snprintf(name, len, "recording to fd %d", o->fd);
}

/* Close o's fd; a client's description whose flags vuproxy changed
 * (it could not reopen the pipe) gets them back first. */
static void close_fd(struct out *o)
{
	if (o->restore_fl >= 0)
		fcntl(o->fd, F_SETFL, o->restore_fl);
	close(o->fd);
	o->fd = -1;
	o->restore_fl = -1;
}

static void fail(struct out *o, const char *what, int err)
{
	if (o->broken)
		return;
	o->broken = true;
	/* Cut what a failed write left of the message it was writing: the
	 * file ends after the last whole message, the one the log names. */
	if (o->path && o->fd >= 0 && ftruncate(o->fd, (off_t)o->synced) == 0)
		o->file_size = o->synced;
	char name[4096];
	out_name(o, name, sizeof(name));
	/* A reader that closed its end (Wireshark stopped) ends it. */
	bool gone = !o->path && err == EPIPE;
	vup_log(gone ? VUP_LOG_INFO : VUP_LOG_ERROR,
	        "trace %s: %s: %s; recording stops after %llu messages, "
	        "relaying continues",
	        name, what, gone ? "the reader went away" : strerror(err),
	        (unsigned long long)o->messages);
	if (!o->path && o->fd >= 0) {
		/* Nothing more goes there: what waited, and the fd, go now. */
		vup_buf_free(&o->pending);
		close_fd(o);
	}
}

uint64_t vup__mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int vup__out_take_fd(int fd, bool snapshot, int *own, int *restore_fl,
                     char *err, size_t errlen)
{
	*restore_fl = -1;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "the file passed: %s", strerror(errno));
		return -EBADF;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY) {
		snprintf(err, errlen,
		         "the file passed is not open for writing");
		return -EBADF;
	}
	if (S_ISREG(st.st_mode)) {
		/* Emptied once taken (not before: a refused request leaves
		 * it alone), unless the client appends (>>). */
		if (!(fl & O_APPEND) &&
		    (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)) {
			snprintf(err, errlen, "the file passed: %s",
			         strerror(errno));
			return -EBADF;
		}
		*own = fd;
		return 0;
	}
	if (snapshot || !S_ISFIFO(st.st_mode)) {
		snprintf(err, errlen, "%s",
		         snapshot ? "a snapshot goes to a regular file"
		         : isatty(fd)
		                 ? "the file passed is a terminal: redirect it "
		                   "to a file or pipe it to wireshark -k -i -"
		                 : "a recording goes to a file, a FIFO or a "
		                   "pipe");
		return -EINVAL;
	}
	/* A pipe of its own: O_NONBLOCK on an open file description of
	 * vuproxy's, not on the client's (its stdout).  A vuproxy that
	 * dropped to --user may not reopen another user's pipe: it then
	 * sets O_NONBLOCK on the client's and gives its flags back at the
	 * end (*restore_fl). */
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	*own = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (*own >= 0)
		return 0;
	if ((errno != EACCES && errno != EPERM) ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "the pipe passed: %s", strerror(errno));
		return -EBADF;
	}
	*own = fd;
	*restore_fl = fl;
	return 0;
}

/* What a pipe did not take waits; the rest follows once it has gone. */
static int write_pending(struct out *o)
{
	size_t done = 0;
	while (done < o->pending.len) {
		ssize_t w = write(o->fd, o->pending.data + done,
		                  o->pending.len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w < 0) {
			fail(o, "write", errno);
			return -EIO;
		}
		done += (size_t)w;
	}
	memmove(o->pending.data, o->pending.data + done, o->pending.len - done);
	o->pending.len -= done;
	return 0;
}

static int write_all(struct out *o, const uint8_t *p, size_t n)
{
	if (!o->path) { /* an fd of the client's: maybe a pipe */
		if (o->pending.len + n > PENDING_MAX) {
			fail(o, "the reader is too slow", ENOBUFS);
			return -EIO;
		}
		if (vup_buf_reserve(&o->pending, n))
			return -ENOMEM;
		memcpy(o->pending.data + o->pending.len, p, n);
		o->pending.len += n;
		o->file_size += n;
		return write_pending(o);
	}
	while (n) {
		ssize_t w = write(o->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;
			fail(o, "write", e);
			return -e;
		}
		p += w;
		n -= (size_t)w;
		o->file_size += (uint64_t)w;
	}
	return 0;
}

/* Compress the encoded blocks (or not) and write them out. */
int vup__out_emit(struct out *o, int flush)
{
	if (o->broken)
		return -EIO;
	if (!o->gzip) {
		int rc = o->block.len
		                 ? write_all(o, o->block.data, o->block.len)
		                 : write_pending(o);
		o->block.len = 0;
		o->synced = o->file_size;
		return rc;
	}
	uint8_t buf[16384];
	o->z.next_in = o->block.data;
	o->z.avail_in = (uInt)o->block.len;
	do {
		o->z.next_out = buf;
		o->z.avail_out = sizeof(buf);
		int rc = deflate(&o->z, flush);
		if (rc == Z_STREAM_ERROR) {
			fail(o, "deflate", EIO);
			return -EIO;
		}
		size_t have = sizeof(buf) - o->z.avail_out;
		if (have && write_all(o, buf, have))
			return -EIO;
	} while (o->z.avail_out == 0 || o->z.avail_in);
	o->block.len = 0;
	/* Z_BLOCK ends a deflate block but may leave bits behind. */
	o->unflushed = flush == Z_NO_FLUSH || flush == Z_BLOCK;
	if (!o->unflushed)
		o->synced = o->file_size;
	if (flush != Z_NO_FLUSH && o->pending.len)
		return write_pending(o);
	return 0;
}

/* Control messages are stored (deflate level 0), the tap's frames
 * compressed (level 1).  Each control message is flushed on its own
 * before it is forwarded, and for every such ~100-byte block zlib level 1
 * builds Huffman trees: 1.3 us of the relay's time per message, which
 * made a traced round trip 1.3-1.4 times an untraced one, against 0.2 us
 * stored (bench/rt.sh, bench/trace.sh).  Control messages are few and
 * small; the bulk of a trace, the frames, stays compressed. */
int vup__out_level(struct out *o, int level)
{
	if (!o->gzip || o->level == level)
		return 0;
	/* What zlib holds is compressed at the old level first. */
	if ((o->block.len || o->unflushed) && vup__out_emit(o, Z_BLOCK))
		return -EIO;
	uint8_t buf[64];
	o->z.next_out = buf;
	o->z.avail_out = sizeof(buf);
	int rc = deflateParams(&o->z, level, Z_DEFAULT_STRATEGY);
	size_t have = sizeof(buf) - o->z.avail_out;
	if (have && write_all(o, buf, have))
		return -EIO;
	if (rc != Z_OK) {
		fail(o, "deflateParams", EIO);
		return -EIO;
	}
	o->level = level;
	return 0;
}

bool vup__out_wants(const struct out *o, const struct iface *f)
{
	if (o->session && f->session != o->session)
		return false;
	return o->taps || f->linktype == LINKTYPE_USER0;
}

struct restate {
	struct out *o;
	uint32_t ifid;
	uint64_t now_ns;
};

/* One record of the declared state, flagged so, at the file's start. */
static int restate(void *ctx, uint64_t ts_ns, const uint8_t *rec, size_t len)
{
	struct restate *r = ctx;
	struct vup_trace_hdr h;
	char err[128];
	int hl = vup_trace_hdr_decode(rec, len, &h, err, sizeof(err));
	if (hl < 0)
		return 0; /* we wrote it: cannot happen */
	h.declared = true;
	h.declared_ns = ts_ns;
	size_t nl = vup_trace_hdr_size(&h), ml = len - (size_t)hl;
	uint8_t pkt[VUP_TRACE_HDR_MAX + VUP_HDR_SIZE + VUP_MAX_PAYLOAD];
	if (nl + ml > sizeof(pkt))
		return 0;
	vup_trace_hdr_encode(&h, pkt);
	memcpy(pkt + nl, rec + hl, ml);
	uint32_t dir = (h.flags & VUP_TRACE_F_FROM_BACKEND)
	                       ? PCAPNG_DIR_INBOUND
	                       : PCAPNG_DIR_OUTBOUND;
	if (pcapng_epb(&r->o->block, r->ifid, r->now_ns, pkt,
	               (uint32_t)(nl + ml), (uint32_t)(nl + ml), dir, NULL))
		return -ENOMEM;
	r->o->frames++;
	return 0;
}

/* Declare an interface in o's open file; a control interface's session
 * began before the file (continued) restates its set-up first. */
int vup__out_declare(struct vup_trace *t, struct out *o, struct iface *f,
                     bool continued, uint64_t now_ns)
{
	(void)t;
	size_t k = (size_t)(o - t->out);
	f->ifid[k] = NO_IFID;
	if (!vup__out_wants(o, f))
		return 0;
	f->ifid[k] = o->next_ifid++;
	int rc = pcapng_idb_note(&o->block, f->linktype, f->snaplen, f->name,
	                         f->description,
	                         continued ? VUP_IDB_CONTINUED : NULL);
	if (rc || !continued || !f->declared)
		return rc;
	if (vup__out_level(o, LEVEL_MESSAGES))
		return -EIO;
	struct restate r = {o, f->ifid[k], now_ns};
	rc = vup_declared_each(f->declared, restate, &r);
	if (!rc && !vup_declared_complete(f->declared))
		vup_log(VUP_LOG_WARN,
		        "trace: session %u's set-up is too large to restate "
		        "whole; this file lacks part of it",
		        f->session);
	return rc;
}

/* Writes to a trace file block, as they always did: O_NONBLOCK was for
 * the open only. */
static int clear_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

static int open_path(struct out *o, char *err, size_t errlen)
{
	char name[4096];
	if (vup_trace_file_name(o->path, o->file_no, name, sizeof(name))) {
		snprintf(err, errlen, "%s: name too long", o->path);
		return -ENAMETOOLONG;
	}
	/* Trace files hold guest data: 0600 whatever the umask.
	 * Never follow a link or truncate a device: -w names a file of ours.
	 * O_NONBLOCK: a FIFO planted there must not hang start-up (open
	 * would wait for a reader); it is refused below as not a regular
	 * file.  A hard link to another file (st_nlink > 1) is refused
	 * before the truncation would destroy that file's content. */
	o->fd = open(name,
	             O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
	             0600);
	struct stat st;
	int e = 0;
	const char *why = NULL;
	if (o->fd < 0)
		e = errno;
	else if (fstat(o->fd, &st) < 0)
		e = errno;
	else if (!S_ISREG(st.st_mode))
		e = EINVAL, why = "not a regular file";
	else if (st.st_nlink > 1)
		e = EMLINK, why = "has other hard links (another name for "
		                  "another file); not truncating it";
	else if (clear_nonblock(o->fd) < 0 || ftruncate(o->fd, 0) < 0 ||
	         fchmod(o->fd, 0600) < 0)
		e = errno;
	if (e) {
		snprintf(err, errlen, "%s: %s", name,
		         why          ? why
		         : e == ELOOP ? "is a symbolic link; not following it"
		         : e == ENXIO ? "not a regular file"
		                      : strerror(e));
		if (o->fd >= 0)
			close(o->fd);
		o->fd = -1;
		return -e;
	}
	return 0;
}

/* Open o's (next) file and declare in it every live interface it takes,
 * each session's set-up restated: a file stands alone. */
int vup__out_open(struct vup_trace *t, struct out *o, uint64_t start_ns,
                  char *err, size_t errlen)
{
	if (o->path) {
		int rc = open_path(o, err, errlen);
		if (rc)
			return rc;
	}
	o->file_size = o->synced = 0;
	o->opened_ns = vup__mono_ns();
	memset(&o->z, 0, sizeof(o->z));
	/* windowBits 15 + 16: a gzip wrapper, which zcat and Wireshark read.
	 * Level 1 for frames: the trace is written on the relay's thread,
	 * and with the tap at a million frames a second compressing is most
	 * of vuproxy's work (level 6 captured 97.4% of them, level 1 99.4%).
	 * Control messages switch to level 0 (vup__out_level). */
	if (o->gzip && deflateInit2(&o->z, LEVEL_FRAMES, Z_DEFLATED, 15 + 16, 8,
	                            Z_DEFAULT_STRATEGY) != Z_OK) {
		snprintf(err, errlen, "deflateInit2 failed");
		return -ENOMEM;
	}
	o->z_open = o->gzip;
	o->level = LEVEL_FRAMES;
	o->next_ifid = 0;
	o->frames = 0;
	o->findings_declared = false;
	memset(o->recent, 0, sizeof(o->recent));
	o->block.len = 0;
	o->unflushed = false;
	if (pcapng_shb_note(&o->block, "vuproxy", o->comment))
		return -ENOMEM;
	for (size_t i = 0; !o->snapshot && i < t->nifaces; i++)
		if (vup__out_declare(t, o, &t->ifaces[i], true, start_ns))
			return -ENOMEM;
	int rc = vup__out_emit(o, Z_SYNC_FLUSH);
	if (rc) {
		char name[4096];
		out_name(o, name, sizeof(name));
		snprintf(err, errlen, "%s: %s", name, strerror(-rc));
	}
	return rc;
}

int vup__out_close(struct vup_trace *t, struct out *o)
{
	(void)t;
	int rc = 0;
	if (!o->gzip && !o->broken)
		rc = vup__out_emit(o, Z_FINISH);
	if (o->z_open) {
		if (!o->broken)
			rc = vup__out_emit(o, Z_FINISH);
		deflateEnd(&o->z);
		o->z_open = false;
	}
	if (o->fd >= 0) {
		if (!o->path && o->pending.len && !o->broken) {
			/* What the reader takes now; the relay never waits
			 * for the rest. */
			write_pending(o);
			if (o->pending.len)
				vup_log(VUP_LOG_WARN,
				        "recording stopped: the last %zu "
				        "bytes, "
				        "which the reader had not taken, are "
				        "dropped",
				        o->pending.len);
		}
		if (o->path && !o->broken && fsync(o->fd) < 0 &&
		    errno != EINVAL) {
			rc = -errno;
			fail(o, "fsync", -rc);
		}
		if (o->fd >= 0)
			close_fd(o);
	}
	return rc;
}

/* The end of a file the sessions outlive: each control interface says
 * so (VUP_ISB_GOES_ON), as the next file's says it continues. */
static int note_goes_on(struct vup_trace *t, struct out *o)
{
	size_t k = (size_t)(o - t->out);
	uint64_t now = vup__trace_now_ns();
	for (size_t i = 0; i < t->nifaces; i++)
		if (t->ifaces[i].linktype == LINKTYPE_USER0 &&
		    t->ifaces[i].ifid[k] != NO_IFID &&
		    pcapng_isb_note(&o->block, t->ifaces[i].ifid[k], now,
		                    VUP_ISB_GOES_ON))
			return -ENOMEM;
	return 0;
}

static int rotate(struct vup_trace *t, struct out *o, uint64_t start_ns)
{
	/* A file that could not be finished stops the recording (fail()
	 * logged it once): no next file, and -W removes nothing, so that
	 * the files on disk are the ones the log names. */
	(void)note_goes_on(t, o); /* without the note check is only stricter */
	if (vup__out_close(t, o) || o->broken)
		return -EIO;
	o->file_no++;
	char err[256] = "";
	int rc = vup__out_open(t, o, start_ns, err, sizeof(err));
	if (rc) {
		if (!o->broken)
			vup_log(VUP_LOG_ERROR, "trace rotation: %s",
			        err[0] ? err : strerror(-rc));
		o->broken = true;
		return rc;
	}
	/* -W: the oldest file goes once the next one is open. */
	if (o->max_files && o->file_no >= o->max_files) {
		char old[4096];
		if (!vup_trace_file_name(o->path, o->file_no - o->max_files,
		                         old, sizeof(old)))
			unlink(old);
	}
	return 0;
}

/* -C: past its size a file is followed by the next before a record of
 * time ts_ns; -G: past its age (at the first record after it, as
 * tcpdump's).  The next file's declared state is restated at that time
 * or before, so that the file's time runs forward. */
int vup__out_rotate_due(struct vup_trace *t, struct out *o, uint64_t ts_ns)
{
	if (!o->path || (!o->rotate_bytes && !o->rotate_ns))
		return 0;
	if ((o->rotate_bytes && o->file_size >= o->rotate_bytes) ||
	    (o->rotate_ns && vup__mono_ns() - o->opened_ns >= o->rotate_ns)) {
		uint64_t now = vup__trace_now_ns();
		return rotate(t, o, ts_ns && ts_ns < now ? ts_ns : now);
	}
	return 0;
}

void vup__out_note_frame(struct out *o, uint64_t seq)
{
	o->frames++;
	o->recent[seq % RECENT].seq = seq;
	o->recent[seq % RECENT].frame = o->frames;
}

uint64_t vup__out_frame(const struct out *o, uint64_t seq)
{
	if (seq && o->recent[seq % RECENT].seq == seq)
		return o->recent[seq % RECENT].frame;
	return 0;
}

/* The findings' interface is the file's, not a session's: declared
 * before the file's first finding, and again in a later file. */
int vup__out_findings_iface(struct out *o)
{
	if (o->findings_declared)
		return 0;
	int rc = pcapng_idb(&o->block, LINKTYPE_USER3, 0, VUP_FINDING_IFACE,
	                    "what vuproxy's checker found, by frame");
	if (rc)
		return rc;
	o->findings_ifid = o->next_ifid++;
	o->findings_declared = true;
	return 0;
}

void vup__out_free(struct vup_trace *t, struct out *o)
{
	vup__out_close(t, o);
	vup_buf_free(&o->block);
	vup_buf_free(&o->pending);
	free(o->path);
	free(o->comment);
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->restore_fl = -1;
}
