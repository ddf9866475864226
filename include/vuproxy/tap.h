/* tap: follows one session's virtqueues from the messages that set them
 * up, reads them passively and records what the guest and the device
 * exchange (see tapfmt.h for the records, ring.h for the readers).
 *
 * The session feeds every message to its model (model.h) once it knows
 * what becomes of it, and shows the tap the model's events for a message
 * that reaches its receiver (after the rules: what the back-end sees is
 * what counts), with its fds still open: memory tables are mirrored
 * read-only, the negotiated features give the ring format and the net
 * header size, and a queue is read once the model has its size and
 * addresses and has seen it start (its kick) and, with
 * VHOST_USER_F_PROTOCOL_FEATURES, enabled; it is read until the back-end
 * answers GET_VRING_BASE (the device may use buffers until it handles
 * that request, or a disable), then a last read.  The tap never reads or
 * writes the kick and call eventfds: the caller polls it on a timer.
 *
 * Migration: SET_VRING_ADDR for a queue being read, with the same rings
 * (QEMU switching VHOST_VRING_F_LOG), leaves the reader alone.  From
 * POSTCOPY_LISTEN to POSTCOPY_END the tap reads no guest memory at all (a
 * page not migrated yet would fault into vuproxy's mapping instead of the
 * back-end's userfaultfd); the queues catch up afterwards.  The
 * front-end's acknowledgement of the back-end's postcopy memory table
 * echo (the same request with a u64 0) is no memory table.
 *
 * With VIRTIO_F_ACCESS_PLATFORM ring and buffer addresses are I/O virtual
 * addresses that only the IOTLB messages translate: the tap says it cannot
 * follow them and stays off for the session.
 */
#ifndef VUPROXY_TAP_H
#define VUPROXY_TAP_H

#include <stdbool.h>
#include <stdint.h>

#include "vuproxy/proto.h"

enum vup_tap_kind { VUP_TAP_OFF, VUP_TAP_NET, VUP_TAP_BLK };

/* Queues the tap follows per session (vring index below this). */
#define VUP_TAP_MAX_QUEUES 256

/* What all the taps of a proxy may use together: the memory of their
 * ring readers (a front-end chooses how many queues and how large) and
 * the guest reads of one timer tick (a hostile ring must not hold up the
 * loop that relays every session). */
struct vup_tap_budget {
	uint64_t mem_limit, mem_used; /* bytes */
};

/* --tap-memory when not given: a few 1024-slot rings at -s 65536. */
#define VUP_TAP_MEMORY_DEFAULT ((uint64_t)256 << 20)

/* Guest reads all taps together make per tick (see vup_tap_poll). */
#define VUP_TAP_TICK_READS 65536u

struct vup_tap_config {
	struct vup_tap_budget *budget; /* shared; NULL: no limit */
	enum vup_tap_kind kind;
	uint32_t snaplen; /* -s: bytes kept per frame / request data */
	/* --tap-strict: record verified copies only.  By default a
	 * readable copy the device used before the tap could re-check it
	 * (a polling back-end uses a buffer within microseconds of its
	 * offer) is kept with a packet comment (see ring.h); strict counts
	 * it torn. */
	bool strict;
};

/* Totals over a session's queues (what the summary prints). */
struct vup_tap_totals {
	uint64_t consumed, captured, missed, torn, malformed;
	uint64_t unverified; /* of captured */
	unsigned queues;
};

struct vup_trace;
struct vup_tap;

/* A tap for session `session`; records go to trace (NULL: count only).
 * NULL when out of memory. */
struct vup_tap *vup_tap_new(const struct vup_tap_config *cfg, uint32_t session,
                            struct vup_trace *trace);

/* A message of the session, as its receiver gets it, fed to the session
 * model m with these events; its fds (v->fds) are still open. */
struct vup_model;
struct vup_model_events;
void vup_tap_message(struct vup_tap *t, const struct vup_model *m,
                     const struct vup_view *v,
                     const struct vup_model_events *ev, uint64_t now_ns);

/* A tap started in the middle of a session (ctl record start --tap): it
 * takes what the model m holds now (features, postcopy, each vring's
 * set-up) and mem, a mapping of the session's memory table (NULL: none;
 * the tap takes its own reference), then follows the messages as any
 * tap.  A started split ring is followed from where the device is, the
 * used index in guest memory (buffers it used before are not seen); a
 * packed ring keeps no index in memory, so a running one is not followed
 * until it is set up again. */
struct vup_memmap;
void vup_tap_adopt(struct vup_tap *t, const struct vup_model *m,
                   struct vup_memmap *mem, uint64_t now_ns);

/* The guest memory the tap mirrors (NULL: no table yet, or the tap does
 * not follow this session), for bounds-checked reads (memmap.h) until
 * the tap's next message. */
struct vup_memmap;
const struct vup_memmap *vup_tap_memmap(const struct vup_tap *t);
/* Whether some queue is being read. */
bool vup_tap_running(const struct vup_tap *t);

/* Read every running queue once, with at most *reads guest reads in all
 * (NULL: each queue its own default); *reads is decreased by what was
 * used, and the queue to start with rotates so that a cut-short tick
 * does not always leave out the same ones.  True while some queue
 * runs. */
bool vup_tap_poll(struct vup_tap *t, uint64_t now_ns, uint32_t *reads);

/* The session ends: a last read, statistics recorded and logged. */
void vup_tap_end(struct vup_tap *t, uint64_t now_ns);
/* Add the session's counts to sum (a proxy's totals). */
void vup_tap_add_totals(const struct vup_tap *t, struct vup_tap_totals *sum);
void vup_tap_free(struct vup_tap *t);

/* --active: a buffer vuproxy holds while neither peer may touch it (a
 * TX chain as it is pulled, an RX chain as it is completed), recorded
 * as the ring readers' buffers are (its queue's interface, num its ring
 * size) and counted consumed and captured.  m: the session's model
 * (negotiated features).  capture_end: the statistics, then
 * vup_tap_end. */
struct vup_ring_buf;
void vup_tap_capture(struct vup_tap *t, const struct vup_model *m,
                     uint32_t index, uint32_t num, const struct vup_ring_buf *b,
                     uint64_t now_ns);
void vup_tap_capture_end(struct vup_tap *t, uint64_t now_ns);

/* Parse "net" / "blk" (--tap). */
int vup_tap_kind_parse(const char *s, enum vup_tap_kind *out);

#endif
