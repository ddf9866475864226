/* Private to replay: the state of one run and the I/O helpers both
 * directions share. */
#ifndef VUPROXY_REPLAY_INTERNAL_H
#define VUPROXY_REPLAY_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "frames.h" /* the data plane of --frames */
#include "vuproxy/channel.h"
#include "vuproxy/endpoint.h"
#include "vuproxy/model.h"
#include "vuproxy/replay.h"

struct vup_replay_opts {
	const char *path;
	enum vup_replay_as as;
	struct vup_endpoint peer; /* --backend or --frontend */
	long session;             /* -1: the first */
	bool partial;
	bool pace;
	unsigned reply_timeout_ms;
	struct vup_replay_ignore ignore;
	bool frames;          /* --frames: replay the captured TX frames */
	uint64_t frames_max;  /* --frames=N: the first N (0: all) */
	bool frames_pad;      /* --frames-pad: pad cut frames with zeros */
	uint64_t frames_rate; /* --frames-rate PPS: frame i at start + i/PPS
	                         (0: as fast as the back-end takes them) */
	uint64_t frames_loop; /* --frames-loop N: offer N frames per TX vring,
	                         its captured ones over and over (0: each
	                         once) */
};

struct vup_replay_run {
	const struct vup_replay_script *s;
	const struct vup_replay_opts *opt;
	struct vup_channel main; /* fd -1 until connected */
	struct vup_channel bch;  /* the back-end channel, fd -1 if none */
	struct vup_pace pace;
	struct vup_model *model;  /* the live session, as it goes */
	struct vup_replay_dp *dp; /* --frames, else NULL */
	/* Called by vup_replay__send_recorded once the model learned a
	 * message about to be sent (ev: what it made of it), while its fresh
	 * fds (v->fds) are still ours; NULL: none.  0 or -errno with err
	 * (the message is not sent). */
	int (*on_send)(struct vup_replay_run *r, const struct vup_view *v,
	               const struct vup_model_events *ev, char *err,
	               size_t errlen);
	struct vup_replay_bases bases;     /* the SET_VRING_BASEs sent */
	const struct vup_replay_msg *last; /* the last request sent */
	bool *used;          /* recorded messages matched already */
	size_t first_unused; /* used[] is true below this */
	uint64_t sent, received, compared, diffs;
	char peer_name[16]; /* "back-end" / "front-end" */
};

/* Set by SIGINT/SIGTERM: stop waiting, report what was seen. */
extern volatile sig_atomic_t vup_replay__stop;

enum rp_event {
	RP_MSG,     /* a whole message in r->main.in or r->bch.in */
	RP_TIMEOUT, /* the deadline passed */
	RP_EOF,     /* the peer closed the main channel */
	RP_ERROR,   /* the main channel failed (r->main.why) */
	RP_SIGNAL,  /* SIGINT/SIGTERM */
};

/* Wait for a message on the main channel (if want_main) or the back-end
 * channel (if want_bch and open) until deadline (CLOCK_MONOTONIC ns,
 * UINT64_MAX: no limit); queued output is written meanwhile.  On RP_MSG
 * *chan says where; the caller takes the fds and consumes it.  EOF on the
 * back-end channel only closes it. */
enum rp_event vup_replay__wait(struct vup_replay_run *r, uint64_t deadline,
                               bool want_main, bool want_bch,
                               enum vup_chan *chan);
/* Send a message and wait until it is written (fds are taken).  0, or
 * -errno with the reason in ch->why. */
int vup_replay__send(struct vup_replay_run *r, struct vup_channel *ch,
                     const struct vup_hdr *h, const uint8_t *payload, int *fds,
                     unsigned nfds);
/* Send recorded message m with fresh fds of its kinds; a socket's other
 * end becomes the back-end channel when m is SET_BACKEND_REQ_FD.  0 or
 * -errno (err set). */
int vup_replay__send_recorded(struct vup_replay_run *r, struct vup_channel *ch,
                              const struct vup_replay_msg *m, char *err,
                              size_t errlen);
/* Compare a received message (in ch->in; its fds are described, not
 * closed) with recorded message m; prints the differences.  Returns how
 * many. */
unsigned vup_replay__check(struct vup_replay_run *r, struct vup_channel *ch,
                           const struct vup_replay_msg *m);
/* The same, the differences followed by " (NOTE)" when note is not
 * NULL: where m is not what is expected, why. */
unsigned vup_replay__check_note(struct vup_replay_run *r,
                                struct vup_channel *ch,
                                const struct vup_replay_msg *m,
                                const char *note);
/* Print one difference line: "#FRAME NAME[ reply][ (back-end channel)]:
 * TEXT" (m may be NULL: then what names the message). */
void vup_replay__diff(struct vup_replay_run *r, const struct vup_replay_msg *m,
                      const char *what, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Does the receiver of this request answer it?  (NEED_REPLY, or a
 * reply must come by the catalogue's rule, with what neg says.) */
bool vup_replay__wants_reply(const struct vup_hdr *h, enum vup_chan chan,
                             const struct vup_negotiated *neg);
/* Answer a request nobody recorded an answer for as a receiver that
 * succeeded would (vup_reply_build, VUP_REPLY_OK): an ack of 0 or the
 * body of its reply layout.  Sends nothing when no reply is expected. */
int vup_replay__default_reply(struct vup_replay_run *r, struct vup_channel *ch,
                              const struct vup_hdr *req,
                              const uint8_t *req_payload);
uint64_t vup_replay__now(void);
/* The first unmatched recorded message of view `as` on chan from `from`
 * with this request code that is a request (or a reply), or -1. */
long vup_replay__find(struct vup_replay_run *r, enum vup_replay_as as,
                      enum vup_chan chan, enum vup_side from, bool reply,
                      uint32_t code);

/* The first unmatched recorded request of view `as` on chan from
 * `from`, whatever its code, or -1. */
long vup_replay__find_any(struct vup_replay_run *r, enum vup_replay_as as,
                          enum vup_chan chan, enum vup_side from);
/* Close the fds of the message in ch->in and forget it. */
void vup_replay__drop_in(struct vup_replay_run *r, struct vup_channel *ch);
/* Connect to, or listen for and accept, the live peer (opt->peer) into
 * r->main.  0 or -errno with err set. */
int vup_replay__open_peer(struct vup_replay_run *r, char *err, size_t errlen);

int vup_replay__frontend(struct vup_replay_run *r, char *err, size_t errlen);
int vup_replay__backend(struct vup_replay_run *r, char *err, size_t errlen);

#endif
