/* replay: `vuproxy replay` plays one recorded session against a live peer.
 *
 * --as front-end: vuproxy sends what the recorded back-end received, with
 * fresh fds of the recorded kinds (memfds of the recorded sizes, eventfds,
 * a socketpair for the back-end channel), waits for a reply wherever the
 * recorded back-end gave one and compares it field by field.
 * --as back-end: vuproxy answers a live front-end with what the recorded
 * front-end received, and compares each live request with the recorded one
 * of the same type (matched in recorded order).
 *
 * The pieces are separate so that tests reach them without sockets: the
 * script (a session read from a trace), the comparison of two messages,
 * the pacing scheduler (time passed in through a clock), fresh fds.
 */
#ifndef VUPROXY_REPLAY_H
#define VUPROXY_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/pcapng.h"
#include "vuproxy/proto.h"

/* Exit statuses of `vuproxy replay`. */
#define VUP_REPLAY_SAME  0
#define VUP_REPLAY_DIFF  1
#define VUP_REPLAY_ERROR 2

int vup_replay_main(int argc, char **argv);

/* ---- the script: one session of a trace ---- */

/* Which recorded peer vuproxy plays. */
enum vup_replay_as { VUP_AS_FRONTEND, VUP_AS_BACKEND };

/* Bounds on what a capture may make us hold. */
#define VUP_REPLAY_MAX_MSGS (1u << 20)

struct vup_replay_msg {
	uint64_t frame; /* packet number in the file, from 1 (as tshark) */
	uint64_t ts_ns;
	enum vup_chan chan;
	enum vup_side from;
	uint8_t trace_flags; /* VUP_TRACE_F_* */
	uint8_t action;      /* enum vup_trace_action */
	bool sent;           /* what its sender emitted (not vuproxy's copy) */
	bool delivered;      /* what its receiver got */
	bool declared;       /* declared state: restates the set-up at the
	                        start of a file (sent first, like any other) */
	struct vup_hdr hdr;
	unsigned nfds;
	struct vup_fd_info fds[VUP_MAX_FDS];
	uint8_t *payload; /* hdr.size bytes */
	/* Request <-> reply pairs, per view (index into the script, -1):
	 * [VUP_AS_FRONTEND] pairs what the back-end received with what it
	 * sent, [VUP_AS_BACKEND] what the front-end sent with what it
	 * received. */
	int32_t pair[2];
	bool in_view[2];
};

struct vup_replay_script {
	uint32_t session;
	struct vup_replay_msg *m;
	size_t n;
	uint64_t frames;   /* packets read from the file */
	bool truncated;    /* the file was cut short (loaded with partial) */
	bool continued;    /* the session began in an earlier file */
	size_t declared;   /* messages of declared state (its set-up) */
	char sessions[96]; /* the session ids found, for messages */
};

/* Read session `session` (-1: the first one in the file) of a trace.
 * A file cut short is refused unless `partial`.  Returns 0, or -errno /
 * -EINVAL (not a trace, newer format, no such session...) with a
 * sentence in err. */
int vup_replay_load(const char *path, long session, bool partial,
                    struct vup_replay_script **out, char *err, size_t errlen);
void vup_replay_free(struct vup_replay_script *s);
/* Can the session be played in this role?  0, or -EINVAL with the reason
 * in err (no requests from the front-end, vrings set up without a memory
 * table: a session recorded from its middle; a session begun in an
 * earlier file whose file does not restate its set-up as declared
 * state). */
int vup_replay_check_setup(const struct vup_replay_script *s,
                           enum vup_replay_as as, char *err, size_t errlen);
/* The request name of a message ("GET_FEATURES", "UNKNOWN(77)"). */
const char *vup_replay_msg_name(const struct vup_replay_msg *m, char *buf,
                                size_t len);

/* ---- comparison ---- */

#define VUP_REPLAY_MAX_IGNORE 64
struct vup_replay_ignore {
	struct {
		uint32_t code; /* request code, when chan_set */
		int chan;      /* -1: any request */
		char field[32];
	} f[VUP_REPLAY_MAX_IGNORE];
	size_t n;
	uint64_t features_mask;  /* virtio feature bits not compared */
	uint64_t pfeatures_mask; /* protocol feature bits not compared */
	uint64_t status_mask;    /* device status bits not compared */
};

/* Add "FIELD", "REQUEST.FIELD" or a feature-bit name.  FIELD is a field
 * of any payload layout (vup_layout_fields), or one of size, fds,
 * need_reply, regions, data, sizes, bytes.  0, or -EINVAL with err. */
int vup_replay_ignore_add(struct vup_replay_ignore *ig, const char *spec,
                          char *err, size_t errlen);

/* A message as compared: header, payload, fd descriptions. */
struct vup_replay_view {
	const struct vup_hdr *hdr;
	const uint8_t *payload;
	const struct vup_fd_info *fds;
	unsigned nfds;
};

/* Compare a live message with the recorded one, field by field (the
 * layout from the catalogue, negotiated state from neg).  Writes the
 * differences, ", "-separated, into out ("-VIRTIO_F_RING_PACKED
 * +VIRTIO_F_IN_ORDER", "num 0 -> 5"); returns how many fields differ. */
unsigned vup_replay_compare(const struct vup_replay_ignore *ig,
                            enum vup_chan chan,
                            const struct vup_negotiated *neg,
                            const struct vup_replay_view *rec,
                            const struct vup_replay_view *live, char *out,
                            size_t cap);

/* ---- expected vring bases ---- */

/* The recorded GET_VRING_BASE answer says where the recorded guest's
 * traffic left a vring; a replay has no such traffic (guest memory is
 * zeros), so a live back-end stops the vring where the replay put it:
 * at the SET_VRING_BASE the replay sent on that vring.  These remember
 * what was sent and derive the answer expected. */
#define VUP_REPLAY_MAX_VRINGS 256
struct vup_replay_bases {
	struct {
		bool set;       /* a SET_VRING_BASE was sent */
		uint32_t num;   /* its num */
		uint64_t frame; /* its frame in the capture */
	} v[VUP_REPLAY_MAX_VRINGS];
};

/* Note a message the replay sent: a SET_VRING_BASE request on the main
 * channel sets its vring's base; anything else is ignored. */
void vup_replay_bases_note(struct vup_replay_bases *b,
                           const struct vup_replay_msg *m);

/* The num expected in the answer to GET_VRING_BASE (or its SKIP_DRAIN
 * form) on vring `index`, whose recorded answer was `recorded`: the num
 * the replay set.  Bits 0-15 (split: the next avail index; packed: the
 * avail index and its wrap counter) as set; bits 16-31 (split: reserved;
 * packed: the used index and its wrap counter) as set where the recorded
 * back-end answered with any, else 0: a back-end that keeps only the
 * avail half (DPDK with packed rings: last_avail_idx | wrap << 15) says
 * so in the record, and answers the same way live.  *frame: the
 * SET_VRING_BASE's frame in the capture.  False when the replay set no
 * base on that vring (the recorded answer stands). */
bool vup_replay_bases_expect(const struct vup_replay_bases *b, uint32_t index,
                             uint32_t recorded, uint32_t *num, uint64_t *frame);

/* ---- pacing ---- */

/* A clock: nanoseconds from an arbitrary origin, never going back. */
struct vup_clock {
	uint64_t (*now_ns)(void *ctx);
	void *ctx;
};
uint64_t vup_clock_monotonic(void *ctx); /* CLOCK_MONOTONIC */

/* Recorded pacing: the message recorded at ts goes at start + (ts - ts0),
 * every deadline counted from the one start time (a late message never
 * delays the ones after it).  Off: every message is due at once. */
struct vup_pace {
	struct vup_clock clock;
	bool on;
	bool started;
	uint64_t start_ns, ts0_ns;
};
void vup_pace_init(struct vup_pace *p, const struct vup_clock *clock, bool on);
/* Anchor: the message recorded at ts0 is due now. */
void vup_pace_start(struct vup_pace *p, uint64_t ts0_ns);
/* When the message recorded at ts is due, in clock time (a time before
 * ts0 counts as ts0).  Starts the schedule at ts if it has not started. */
uint64_t vup_pace_deadline(struct vup_pace *p, uint64_t ts_ns);
/* Nanoseconds until that deadline; 0 when it is due (or pacing is off). */
uint64_t vup_pace_wait_ns(struct vup_pace *p, uint64_t ts_ns);

/* A steady rate (`--frames-rate PPS`): item i (from 0) is due at
 * start + i * 1e9 / pps ns, every deadline from the one start time (the
 * pace above with ts = i / pps), never a sum of waits: a late item makes
 * the ones after it due at once, the schedule catches up and the average
 * rate stays pps.  pps 0: no rate, every item is due at once. */
#define VUP_RATE_MAX_PPS UINT64_C(1000000000)
/* Below this wait a caller busy-waits (a poll(2) or ppoll(2) sleep wakes
 * up tens of microseconds late); at or above it, it sleeps. */
#define VUP_RATE_SPIN_NS UINT64_C(50000)
struct vup_rate {
	struct vup_pace pace;
	uint64_t pps;
};
void vup_rate_init(struct vup_rate *r, const struct vup_clock *clock,
                   uint64_t pps);
/* Anchor: item 0 is due now (else at the first deadline asked for). */
void vup_rate_start(struct vup_rate *r);
/* i * 1e9 / pps, rounded down, saturating (0 when pps is 0). */
uint64_t vup_rate_offset_ns(uint64_t i, uint64_t pps);
/* When item i is due, in clock time. */
uint64_t vup_rate_deadline(struct vup_rate *r, uint64_t i);
/* Nanoseconds until item i is due; 0 when it is (or pps is 0: the clock
 * is not read). */
uint64_t vup_rate_wait_ns(struct vup_rate *r, uint64_t i);

/* ---- fresh fds ---- */

/* A new fd of the kind recorded for fd i of message m: a memfd of the
 * recorded size (or the size the payload needs), an eventfd, one end of a
 * socketpair or a pipe (*keep gets the other end, else -1), /dev/null for
 * "other".  Returns the fd, or -errno with err set. */
int vup_replay_make_fd(const struct vup_replay_msg *m, unsigned i, int *keep,
                       char *err, size_t errlen);

/* ---- data-plane replay (--frames) ---- */

/* Bounds on the frames a capture may make us hold. */
#define VUP_REPLAY_MAX_FRAME_LEN   (256u * 1024)
#define VUP_REPLAY_MAX_FRAME_BYTES (UINT64_C(1) << 30)

/* One TX frame the tap captured ("s<session> net q<odd> tx"): the
 * Ethernet frame without its virtio-net header. */
struct vup_replay_frame {
	uint64_t frame;  /* packet number in the file, from 1 */
	uint16_t queue;  /* virtqueue index (odd: a TX queue) */
	uint32_t caplen; /* bytes the file holds */
	uint32_t len;    /* bytes replayed: caplen, or origlen when padded */
	uint8_t *data;   /* len bytes (zeros past caplen) */
};

struct vup_replay_frames {
	struct vup_replay_frame *f;
	size_t n;
	size_t cut;  /* frames with caplen < origlen (padded) */
	size_t left; /* frames of the session past the --frames=N cap */
	uint32_t max_len;
	uint64_t bytes;
};

/* Read the TX frames of session `session` (at most `max`, 0: all) in
 * file order.  A frame cut to the snap length is refused (-EINVAL, with
 * how many and how to record full frames) unless `pad`: then it is
 * padded with zeros to its original length and counted in `cut`.  No TX
 * frame at all is an error too (-ENOENT).  A file cut short ends the
 * frames quietly when `partial`.  0 or -errno with err. */
int vup_replay_load_frames(const char *path, uint32_t session, uint64_t max,
                           bool pad, bool partial,
                           struct vup_replay_frames *out, char *err,
                           size_t errlen);
void vup_replay_frames_free(struct vup_replay_frames *fr);

#endif
