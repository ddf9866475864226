/* flow: the protocol state of one session, without any I/O.
 *
 * Fed every message in the order it crosses the proxy, it validates it
 * against the catalogue, remembers what was negotiated (payload meaning
 * depends on it), and keeps, per channel, the FIFO of replies the
 * responder owes, so that a reply nobody asked for is noticed.  It finds
 * problems; the relay decides what to do about them.
 */
#ifndef VUPROXY_FLOW_H
#define VUPROXY_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/channel.h"
#include "vuproxy/proto.h"

#define VUP_FLOW_PENDING_MAX 64

struct vup_pending {
	uint32_t code;
	uint8_t expect; /* enum vup_expect */
};

/* What is wrong with one message: up to VUP_FLOW_FINDINGS_MAX problems,
 * each with a human reason. */
#define VUP_FLOW_FINDINGS_MAX 4
struct vup_finding {
	enum vup_problem kind;
	char why[192];
};
struct vup_findings {
	unsigned n;
	struct vup_finding f[VUP_FLOW_FINDINGS_MAX];
};
/* Add a finding (ignored when full); returns it, or NULL. */
struct vup_finding *vup_findings_add(struct vup_findings *fs,
                                     enum vup_problem kind);
/* The first finding vuproxy must refuse the message for, or NULL. */
const struct vup_finding *vup_findings_refusal(const struct vup_findings *fs,
                                               bool strict);
/* "kind: why; kind: why" (snprintf style), for the trace's mark. */
size_t vup_findings_text(const struct vup_findings *fs, char *buf, size_t cap);

/* Warnings are rate-limited per session and kind: the first is logged,
 * later ones within VUP_FLOW_WARN_PERIOD_NS are counted and the count is
 * told with the next line logged after the period, or when the session
 * ends. */
#define VUP_FLOW_WARN_PERIOD_NS (10ull * 1000000000ull)
struct vup_warn_limit {
	uint64_t last_ns; /* when the last line of this kind was logged */
	uint32_t held;    /* occurrences since then, not logged */
	bool logged;
};

struct vup_flow {
	struct vup_negotiated neg;
	struct {
		struct vup_pending q[VUP_FLOW_PENDING_MAX];
		unsigned head, count;
	} pending[2];         /* by enum vup_chan */
	bool last_expects[2]; /* the last request added a pending entry */
	struct vup_warn_limit warn[VUP_PROBLEM_COUNT];
};

void vup_flow_init(struct vup_flow *f);

/* Forget the replies owed on a channel (it was closed or replaced). */
void vup_flow_forget(struct vup_flow *f, enum vup_chan chan);

/* The request just inspected was not forwarded (dropped, failed by a
 * rule): its reply, if one was expected, will not come from the receiver.
 * Must follow vup_flow_inspect of that request. */
void vup_flow_retract(struct vup_flow *f, enum vup_chan chan, uint32_t code);

/* Inspect one message about to be relayed: check it against the
 * catalogue, pair a reply with the request it answers, remember what a
 * request negotiates.  *out receives every problem found (n = 0: none).
 * Whether to relay is the caller's (vup_findings_refusal): whatever is
 * relayed has been accounted for, and a reply that answers nothing owed,
 * or not the oldest, leaves the replies owed as they were. */
void vup_flow_inspect(struct vup_flow *f, enum vup_chan chan,
                      enum vup_side from, const struct vup_msg *m,
                      struct vup_findings *out);

/* Log a warning of this kind now?  True for the first one and for the
 * first after the period; *held then receives how many were counted and
 * not logged since the last line.  False: counted. */
bool vup_flow_warn_due(struct vup_flow *f, enum vup_problem kind,
                       uint64_t now_ns, uint32_t *held);
/* Occurrences of a kind counted and not logged yet (the session ends);
 * resets the count. */
uint32_t vup_flow_warn_take_held(struct vup_flow *f, enum vup_problem kind);

#endif
