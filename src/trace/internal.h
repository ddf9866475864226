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
	unsigned max_files, file_no;
	int fd;
	bool gzip;
	uint32_t session; /* 0: every session */
	bool taps;        /* tap interfaces too */
	bool goes_on; /* -w: notes a session that goes on in the next file */
	bool broken;  /* a write failed: stop, keep what is written */
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
};

/* output.c */
int vup__out_open(struct vup_trace *t, struct out *o, char *err, size_t errlen);
int vup__out_close(struct vup_trace *t, struct out *o);
bool vup__out_wants(const struct out *o, const struct iface *f);
int vup__out_declare(struct vup_trace *t, struct out *o, struct iface *f,
                     bool continued, uint64_t now_ns);
int vup__out_emit(struct out *o, int flush);
int vup__out_level(struct out *o, int level);
int vup__out_rotate_due(struct vup_trace *t, struct out *o);
void vup__out_note_frame(struct out *o, uint64_t seq);
uint64_t vup__out_frame(const struct out *o, uint64_t seq);
int vup__out_findings_iface(struct out *o);

/* Control messages are stored, frames compressed: see output.c. */
#define LEVEL_MESSAGES 0
#define LEVEL_FRAMES   1

uint64_t vup__trace_now_ns(void);

#endif
