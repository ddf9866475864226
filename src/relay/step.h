/* step: what the relay does with one message, decided without the loop.
 *
 * Given the session (its flow and model), the rules, the decoded message
 * and the time, vup_step returns the actions that carry the decision out,
 * in order: record it in the trace, refuse it (the session fails), send
 * it on, hold it behind a delay, answer in the receiver's place, discard
 * it, close a side.  It feeds the model what becomes of the message (and
 * returns the model's events for the tap); it does no I/O, so unit tests
 * reach every decision without sockets.  forward.c carries the actions
 * out on libuv.
 */
#ifndef VUPROXY_STEP_H
#define VUPROXY_STEP_H

#include <stdbool.h>
#include <stdint.h>

#include "active.h"
#include "flow.h"
#include "vuproxy/channel.h"
#include "vuproxy/model.h"
#include "vuproxy/pcapng.h"
#include "vuproxy/rules.h"

/* Which bytes an action is about. */
enum vup_step_msg {
	VUP_STEP_MSG_IN,     /* the message as it goes on (rewritten or not) */
	VUP_STEP_MSG_ORIG,   /* the message as it came in */
	VUP_STEP_MSG_ANSWER, /* vuproxy's answer in the receiver's place */
};

enum vup_step_kind {
	/* Trace: msg as `action` (rule, mark; as_sent: the copy sent),
	 * from `from` (an answer comes from the other side). */
	VUP_STEP_RECORD,
	/* The message cannot be relayed: the session fails (refusal). */
	VUP_STEP_REFUSE,
	/* msg goes out now: back = to the sender (an answer), else to the
	 * receiver; interpose: SET_BACKEND_REQ_FD, give the back-end
	 * vuproxy's own channel. */
	VUP_STEP_SEND,
	/* msg waits in its direction's hold queue until release_ns (never
	 * before what is held ahead of it); rule: the delaying rule, whose
	 * copy as sent is recorded when it leaves. */
	VUP_STEP_HOLD,
	/* The message goes nowhere: its fds are closed. */
	VUP_STEP_DISCARD,
	/* A rule cut the session: sides (bit 0 front-end, bit 1 back-end). */
	VUP_STEP_CLOSE,
};

struct vup_step_action {
	enum vup_step_kind kind;
	enum vup_step_msg msg;
	bool back;          /* SEND/HOLD: towards the sender */
	bool interpose;     /* SEND/HOLD */
	bool as_sent;       /* RECORD */
	bool marked;        /* RECORD: with the findings (the copy received) */
	enum vup_side from; /* RECORD */
	enum vup_trace_action action; /* RECORD */
	const char *rule;             /* RECORD, HOLD */
	uint64_t release_ns;          /* HOLD */
	unsigned sides;               /* CLOSE */
};

#define VUP_STEP_ACTIONS_MAX 6

/* What the step needs besides the message. */
struct vup_step_ctx {
	struct vup_flow *flow;   /* the session's checks and model */
	struct vup_rules *rules; /* NULL: no rules */
	struct vup_rules_session **rules_state;
	uint32_t session;
	const char *frontend_path, *backend_path;
	bool strict;
	/* Messages of this channel from each side (enum vup_side) are held
	 * by a delay: a new one waits behind them. */
	bool held[2];
	uint64_t now_ns; /* the hold queues' clock (monotonic) */
	/* --active (active.h): the session's state and what the adapter
	 * prepared for this message; NULL: passthrough. */
	struct vup_active *active;
	struct vup_active_io *active_io;
};

struct vup_step {
	struct vup_findings findings;
	/* When rewritten: the problems of the copy as sent, which its
	 * receiver judges (the checker's; the relay's refusal and mark
	 * stay with the copy received). */
	struct vup_findings sent_findings;
	const struct vup_finding *refusal; /* set: REFUSE is the action */
	struct vup_verdict verdict;
	char mark[256]; /* the findings, for the trace */
	bool delivered; /* the model was told it reaches its receiver */
	struct vup_model_events events;
	/* Rewritten, by a rule or by --active (active: what it did). */
	bool rewritten;
	struct vup_active_out active;
	unsigned n;
	struct vup_step_action a[VUP_STEP_ACTIONS_MAX];
	/* VUP_STEP_MSG_ORIG (when rewritten) and VUP_STEP_MSG_ANSWER */
	struct vup_hdr orig_hdr, answer_hdr;
	uint8_t orig[VUP_MAX_PAYLOAD];
	uint8_t answer[VUP_MAX_PAYLOAD];
	/* The fds' kinds of the copy received (MSG_ORIG) and, when --active
	 * put fds of its own in, of the copy sent. */
	unsigned orig_nfds;
	struct vup_fd_info orig_fdi[VUP_MAX_FDS], sent_fdi[VUP_MAX_FDS];
};

/* Decide for message m (decoded into v, whose payload is m's: a rewrite
 * changes both).  out receives the actions. */
void vup_step(const struct vup_step_ctx *c, struct vup_msg *m,
              struct vup_view *v, struct vup_step *out);

/* Does this message hand the back-end a back-end channel (whatever its
 * flags say: the back-end may take it)? */
bool vup_step_opens_backend_channel(const struct vup_view *v);

#endif
