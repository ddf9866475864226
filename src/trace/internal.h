/* Private to src/trace: the recorder (writer.c), its outputs (output.c)
 * and the flight recorder's ring (ring.c). */
#ifndef VUP_TRACE_INTERNAL_H
#define VUP_TRACE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <zlib.h>

#include "vuproxy/declared.h"
#include "vuproxy/trace.h"

/* Outputs at once: -w, a recording started at run time, a snapshot. */
#define OUTS    4
#define NO_IFID UINT32_MAX

/* A live interface: a session's control channel (LINKTYPE_USER0) or one
 * of its tap interfaces.  handle names it for the caller; ifid[k] is its
 * number in output k's open file (NO_IFID: not declared there). */
struct iface {
	uint32_t session, handle;
	uint16_t linktype;
	uint32_t snaplen;
	uint32_t ifid[OUTS];
	char *name, *description;
	struct vup_declared *declared; /* control interfaces only */
};

/* Where a packet numbered seq (vup_trace_seq) landed in an output's open
 * file: the last RECENT, for findings written after their message. */
#define RECENT 64

struct out {
	bool used;
	/* A rotating file set (-w: path) or one fd (path NULL). */
	char *path;
	uint64_t rotate_bytes;
	uint64_t rotate_ns, opened_ns; /* -G, and when the file began
	                                  (CLOCK_MONOTONIC) */
	unsigned max_files, file_no;
	int fd;
	int restore_fl; /* the client's fd flags to give back; -1 none */
	bool gzip;
	uint32_t session; /* 0: every session */
	bool taps;        /* tap interfaces too */
	bool snapshot;    /* starts from the ring, not the live interfaces */
	char *comment;    /* the section's: a snapshot's trigger */
	bool broken;      /* a write failed: stop, keep what is written */
	uint64_t file_size, synced;
	z_stream z;
	bool z_open;
	bool unflushed;
	int level;
	struct vup_buf block;   /* encoded, not yet compressed */
	struct vup_buf pending; /* written but not taken (a pipe) */
	uint32_t next_ifid;
	bool findings_declared;
	uint32_t findings_ifid;
	uint64_t frames;   /* packets in the open file */
	uint64_t messages; /* control messages, every file */
	struct {
		uint64_t seq, frame;
	} recent[RECENT];
};

struct vup_trace_ring;

struct vup_trace {
	struct iface *ifaces;
	size_t nifaces, cap_ifaces;
	uint32_t next_handle;
	struct out out[OUTS]; /* 0: -w */
	struct vup_trace_ring *ring;
	uint64_t count, packets, seq;
	bool findings_in_file; /* --trace-findings */
};

/* output.c */
/* start_ns: the time declared state is restated at. */
int vup__out_open(struct vup_trace *t, struct out *o, uint64_t start_ns,
                  char *err, size_t errlen);
int vup__out_close(struct vup_trace *t, struct out *o);
/* Close and forget o: its slot is free again. */
void vup__out_free(struct vup_trace *t, struct out *o);
bool vup__out_wants(const struct out *o, const struct iface *f);
int vup__out_declare(struct vup_trace *t, struct out *o, struct iface *f,
                     bool continued, uint64_t now_ns);
int vup__out_emit(struct out *o, int flush);
int vup__out_level(struct out *o, int level);
int vup__out_rotate_due(struct vup_trace *t, struct out *o, uint64_t ts_ns);
void vup__out_note_frame(struct out *o, uint64_t seq);
uint64_t vup__out_frame(const struct out *o, uint64_t seq);
int vup__out_findings_iface(struct out *o);

/* Control messages are stored, frames compressed: see output.c. */
#define LEVEL_MESSAGES 0
#define LEVEL_FRAMES   1

uint64_t vup__trace_now_ns(void);
uint64_t vup__mono_ns(void);
/* The client's fd as an output's: a regular file emptied (unless
 * appended to), a FIFO or pipe reopened as vuproxy's own non-blocking
 * description (snapshots: regular files only).  *own is the fd to write
 * to: fd itself, or a new one (then fd stays the caller's to close).
 * 0, or -errno with err set and nothing changed but a truncation. */
int vup__out_take_fd(int fd, bool snapshot, int *own, int *restore_fl,
                     char *err, size_t errlen);

/* ring.c: the flight recorder's entries and base. */
struct vup__ring_ent {
	unsigned type; /* ring.c's enum ent_type */
	uint32_t a, b, c, d;
	uint64_t ts_ns, seq;
	const uint8_t *data;
	size_t data_len;
	bool has_comment;
};
enum {
	VUP__RING_IFACE = 1,
	VUP__RING_END,
	VUP__RING_MSG,
	VUP__RING_PACKET,
	VUP__RING_STATS,
	VUP__RING_FINDING,
};
struct vup_trace_ring *vup__ring_new(size_t bytes);
void vup__ring_free(struct vup_trace_ring *r);
void vup__ring_iface(struct vup_trace_ring *r, const struct iface *f);
void vup__ring_end(struct vup_trace_ring *r, uint32_t session);
void vup__ring_msg(struct vup_trace_ring *r, uint32_t session, uint64_t ts_ns,
                   uint64_t seq, const uint8_t *pkt, size_t len, size_t hl);
void vup__ring_packet(struct vup_trace_ring *r, uint32_t handle, uint64_t ts_ns,
                      uint64_t seq, uint32_t flags, const void *pkt,
                      uint32_t caplen, uint32_t origlen, const char *comment);
void vup__ring_stats(struct vup_trace_ring *r, uint32_t handle, uint64_t ts_ns,
                     const struct pcapng_isb *st, const char *comment);
void vup__ring_finding(struct vup_trace_ring *r, uint64_t ts_ns, uint64_t seq,
                       const uint8_t *rec, size_t len, uint64_t about);
void vup__ring_stats_get(const struct vup_trace_ring *r,
                         struct vup_trace_ring_stats *s);
int vup__ring_each(const struct vup_trace_ring *r,
                   int (*fn)(void *ctx, const struct vup__ring_ent *e),
                   void *ctx);
const struct iface *vup__ring_base(const struct vup_trace_ring *r, size_t *n);

#endif
