/* trace: the compressed, crash-safe trace file (-w), and recordings
 * started at run time.
 *
 * A pcapng section inside a gzip stream.  Each session's control channel
 * is one interface (LINKTYPE_USER0); each message is one packet: the
 * vuproxy pseudo-header (see pcapng.h) and the raw message.  Every control
 * message is sync-flushed to the file before it is forwarded, so a proxy
 * killed with SIGKILL leaves every forwarded message readable.
 *
 * The recorder keeps each live session's set-up (declared.h), with or
 * without a file: a file that begins in the middle of a session (a
 * rotated file, -C/-W; a recording started at run time) re-declares the
 * session and restates its set-up first, flagged declared, so that each
 * file stands alone for dump, check, replay and Wireshark.
 */
#ifndef VUPROXY_TRACE_H
#define VUPROXY_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/pcapng.h"
#include "vuproxy/proto.h"

struct vup_trace_config {
	const char *path;      /* FILE.pcapng.gz; NULL: no file (yet) */
	uint64_t rotate_bytes; /* -C: start a new file past this; 0 never */
	unsigned rotate_secs;  /* -G: start a new file this often; 0 never */
	unsigned max_files;    /* -W: keep at most this many; 0 no limit */
	/* --trace-findings: the -w file takes the checker's findings too
	 * (recordings and snapshots always do). */
	bool findings;
};

struct vup_trace;

int vup_trace_open(const struct vup_trace_config *cfg, struct vup_trace **out,
                   char *err, size_t errlen);
/* Is there a -w file? */
bool vup_trace_writes_file(const struct vup_trace *t);
/* Does anything take what is recorded (a file, a recording, the ring)?
 * false for NULL. */
bool vup_trace_active(const struct vup_trace *t);

/* A recording started at run time, to an fd (closed by vup_trace_stop):
 * of every session or one, with the tap's interfaces or not, as a gzip
 * stream or plain pcapng (a pipe: what it does not take at once waits,
 * up to 16 MiB, and never holds up the relay).  It begins with the
 * sessions live now, their set-up declared.  Returns its id (> 0) or
 * -errno, err set; on failure the fd stays the caller's. */
struct vup_trace_rec {
	int fd;
	bool gzip;
	uint32_t session; /* 0: every session */
	bool taps;
};
int vup_trace_record(struct vup_trace *t, const struct vup_trace_rec *r,
                     char *err, size_t errlen);
/* Finish and close recording id; *messages: control messages in it.
 * -EIO when it had stopped on a write error (logged then). */
int vup_trace_stop(struct vup_trace *t, int id, uint64_t *messages);
/* Control messages written to recording id so far. */
uint64_t vup_trace_messages(const struct vup_trace *t, int id);
/* Is recording id running (not stopped by an error)? */
bool vup_trace_recording(const struct vup_trace *t, int id);

/* The flight recorder (--ring): the last `bytes` of what is recorded
 * (control messages, findings, tap records) stay in memory, with or
 * without a file.  0 or -ENOMEM. */
int vup_trace_ring(struct vup_trace *t, size_t bytes);
struct vup_trace_ring_stats {
	uint64_t bytes, used; /* its size, and what it holds */
	uint64_t entries;     /* records it holds */
	uint64_t evicted;     /* records that fell out of it */
	uint64_t oldest_ns;   /* the oldest record's time; 0 none */
};
/* false without a ring. */
bool vup_trace_ring_stats(const struct vup_trace *t,
                          struct vup_trace_ring_stats *s);
/* A snapshot of the ring into fd (a gzip stream): a file that stands
 * alone, its sessions' set-up at the oldest record declared first, then
 * every record the ring holds; and from then on a recording like
 * vup_trace_record's, until vup_trace_stop (--snapshot-after).  trigger
 * names why (the section's comment).  Returns its id (> 0) or -errno,
 * err set; on failure fd stays the caller's. */
int vup_trace_snapshot(struct vup_trace *t, int fd, const char *trigger,
                       char *err, size_t errlen);

/* Declare a session's control interface (name names both sockets). */
int vup_trace_add_session(struct vup_trace *t, uint32_t session,
                          const char *name, const char *description);
/* A tap interface of a session (one per net queue, one per blk device):
 * declared now and in every later file until the session ends; *handle
 * names it below. */
int vup_trace_add_iface(struct vup_trace *t, uint32_t session,
                        uint16_t linktype, uint32_t snaplen, const char *name,
                        const char *description, uint32_t *handle);
/* Forget the session's interfaces (a later file does not declare them). */
void vup_trace_end_session(struct vup_trace *t, uint32_t session);
/* One tap packet, flags = epb_flags.  Not flushed: tap packets are
 * written at the next vup_trace_flush or control message. */
int vup_trace_packet(struct vup_trace *t, uint32_t handle, uint64_t ts_ns,
                     uint32_t flags, const void *data, uint32_t caplen,
                     uint32_t origlen);
/* The same with a packet comment (opt_comment; NULL for none). */
int vup_trace_packet_note(struct vup_trace *t, uint32_t handle, uint64_t ts_ns,
                          uint32_t flags, const void *data, uint32_t caplen,
                          uint32_t origlen, const char *comment);
/* An Interface Statistics Block for a tap interface; flushed. */
int vup_trace_stats(struct vup_trace *t, uint32_t handle, uint64_t ts_ns,
                    const struct pcapng_isb *st, const char *comment);
/* Sync-flush what was buffered (tap packets). */
int vup_trace_flush(struct vup_trace *t);
/* Tap packets recorded so far. */
uint64_t vup_trace_packets(const struct vup_trace *t);
/* Record one message (its header and payload); flushed to the files
 * before returning.  The result is the -w file's (0 without one). */
int vup_trace_message(struct vup_trace *t, uint64_t ts_ns,
                      const struct vup_trace_hdr *h,
                      const struct vup_hdr *msg_hdr, const uint8_t *payload);
/* The number of the last packet recorded, among every packet of every
 * file (1-based; 0 none yet).  Keep it to name a record in a finding
 * written later. */
uint64_t vup_trace_seq(const struct vup_trace *t);
/* The frame, as Wireshark numbers it in the open -w file, of the packet
 * numbered seq by vup_trace_seq (one of the last 64): 0 when it is in an
 * earlier file or none (or seq is 0). */
uint64_t vup_trace_frame(const struct vup_trace *t, uint64_t seq);
/* A finding record (tracemsg.h) about the packet numbered about by
 * vup_trace_seq (0: none): its frame is that packet's number in the open
 * file, 0 when it is in an earlier file.  The file's "vuproxy findings"
 * interface (LINKTYPE_USER3) is declared before its first finding.
 * Flushed, as control messages are. */
struct vup_finding_rec;
int vup_trace_finding(struct vup_trace *t, uint64_t ts_ns,
                      const struct vup_finding_rec *f, uint64_t about);
/* Finish the gzip streams and close.  Returns 0 or the -w file's first
 * error. */
int vup_trace_close(struct vup_trace *t);
/* Messages recorded in the -w files so far. */
uint64_t vup_trace_count(const struct vup_trace *t);
/* The name of file number k of a rotation (0 is the -w name itself):
 * vm1.pcapng.gz, vm1.1.pcapng.gz, vm1.2.pcapng.gz, ... */
int vup_trace_file_name(const char *path, unsigned k, char *out, size_t len);

#endif
