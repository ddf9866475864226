/* Private to the data plane of `replay --frames`: frames.c reads the
 * captured frames, frames_dp.c follows the replayed session (memory,
 * kick eventfds, when a vring runs) and frames_ring.c drives a split
 * ring as the guest's driver would.
 *
 * The data plane knows nothing of the replay's channels or of its run:
 * the run hands it the session model, a clock and two hooks (report a
 * difference, serve the channels while waiting), and shows it what the
 * model made of each message it sends.  Calls go one way, from the run
 * (frontend.c, cmd.c) into here; nothing here calls io.c. */
#ifndef VUPROXY_REPLAY_FRAMES_H
#define VUPROXY_REPLAY_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/model.h"
#include "vuproxy/replay.h"

/* TX vrings a data plane follows (the queue index of a tap interface
 * "s<session> net q<odd> tx" is below this). */
#define VUP_REPLAY_DP_QUEUES 256

/* What the run hands the data plane. */
struct vup_replay_dp_env {
	const struct vup_model *model; /* the replayed session, as it goes */
	struct vup_clock clock;        /* deadlines below are in its time */
	unsigned reply_timeout_ms;     /* frames in flight unused this long: a
	                                  difference */
	uint64_t rate;                 /* --frames-rate PPS, 0: none */
	bool report_rate;              /* print the rate each vring achieved */
	void *ctx;                     /* the hooks' */
	/* One difference, to be reported as "frames: TEXT". */
	void (*on_diff)(void *ctx, const char *text);
	/* Serve the channels until deadline (a past one: without sleeping);
	 * 0 or -errno with err. */
	int (*on_idle)(void *ctx, uint64_t deadline, char *err, size_t errlen);
};

struct vup_replay_dp;

/* The data plane for these frames (taken: freed with the dp); loop: the
 * frames each TX vring offers (its captured ones over and over), 0: each
 * once. */
struct vup_replay_dp *vup_replay__dp_new(struct vup_replay_frames *fr,
                                         uint64_t loop);
void vup_replay__dp_free(struct vup_replay_dp *dp);
/* Before the session starts (env is copied). */
void vup_replay__dp_attach(struct vup_replay_dp *dp,
                           const struct vup_replay_dp_env *env);
/* Follow what the model made of message v, about to be sent with these
 * fresh fds (v->fds): map the memory regions, keep the kick eventfds.
 * 0 or -errno with err. */
int vup_replay__dp_events(struct vup_replay_dp *dp, const struct vup_view *v,
                          const struct vup_model_events *ev, char *err,
                          size_t errlen);
/* Is it time to replay frames before request m (NULL: the end of the
 * session)?  True when m stops a vring or the device, and a vring that
 * runs now has frames left to replay. */
bool vup_replay__dp_due(const struct vup_replay_dp *dp,
                        const struct vup_replay_msg *m);
/* Replay the frames of every running vring that has some left, wait for
 * the back-end to use them (no progress for reply_timeout_ms: a
 * difference).  0, or -errno from on_idle. */
int vup_replay__dp_inject(struct vup_replay_dp *dp, char *err, size_t errlen);
/* The GET_VRING_BASE num expected for vring `index` when frames were
 * replayed on it (the recorded one is not: traffic moved the index). */
bool vup_replay__dp_vring_base(const struct vup_replay_dp *dp, uint32_t index,
                               uint32_t *num);
/* Prints the "replay: frames: ..." line; when the session was played to
 * its end (complete), frames never replayed (their vring never ran)
 * become differences first.  NULL: nothing. */
void vup_replay__dp_finish(struct vup_replay_dp *dp, bool complete);

/* ---- between frames_dp.c and frames_ring.c ---- */

/* Reports a difference through env->on_diff. */
void vup_replay__dp_diff(const struct vup_replay_dp_env *env, const char *fmt,
                         ...) __attribute__((format(printf, 2, 3)));

/* A TX vring's frames, and what driving it did.  Its set-up (size,
 * addresses, base, started, enabled) is the session model's. */
struct vup_replay_vring {
	bool done;
	int kick;                    /* our dup of the kick eventfd, or -1 */
	struct vup_replay_frame **f; /* its frames, in file order */
	size_t nf;
	uint64_t total;              /* frames to offer (--frames-loop) */
	uint64_t offered, completed; /* frames made available / used */
	uint64_t kicks;              /* kick eventfd writes */
	uint64_t t_first, t_last;    /* first and last offer (clock ns) */
	uint64_t max_late;           /* --frames-rate: worst lateness (ns) */
	uint16_t avail_idx;          /* what we published last */
};

/* A split ring in guest memory the replay owns (the replayed front-end's
 * memfds, mapped read-write), and the buffers the driver puts there. */
struct vup_replay_ring {
	unsigned index;               /* the vring's, for messages */
	uint8_t *desc, *avail, *used; /* host addresses of its parts */
	uint32_t num;
	uint16_t base;
	uint64_t features; /* negotiated */
	/* The buffers: set by vup_replay__ring_plan but area and gpa, given
	 * by the caller (nbuf * slot bytes, 64-byte aligned slots). */
	uint32_t hl;     /* virtio-net header length */
	uint32_t per;    /* descriptors per frame: 1, or 2 (header apart) */
	uint32_t chains; /* descriptor chains the ring holds */
	uint64_t nbuf, slot;
	uint8_t *area;
	uint64_t gpa;
};

/* Can the driver publish indices in these avail and used rings (host
 * addresses)?  The spec aligns them; a peer's addresses may not be. */
bool vup_replay__ring_aligned(const uint8_t *avail, const uint8_t *used);
/* Sets the avail and used indices to base, as a driver leaves them
 * before the device may start; nothing if the rings are not aligned. */
void vup_replay__ring_prime(uint8_t *avail, uint8_t *used, uint16_t base);
/* Lays out the buffers of v's frames in ring g (num and features set). */
void vup_replay__ring_plan(const struct vup_replay_vring *v,
                           struct vup_replay_ring *g);
/* Offers v's frames on ring g until the back-end used them all, or a
 * difference ends it.  0, or -errno from env->on_idle (err set). */
int vup_replay__ring_drive(const struct vup_replay_dp_env *env,
                           struct vup_replay_vring *v,
                           const struct vup_replay_ring *g, char *err,
                           size_t errlen);

#endif
