/* flow: the protocol state of one session, without any I/O.
 *
 * Fed every message in the order it crosses the proxy, it validates it
 * against the catalogue, remembers what was negotiated (payload meaning
 * depends on it), and keeps, per channel, the FIFO of replies the
 * responder owes, so that a reply nobody asked for is caught.
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

struct vup_flow {
	struct vup_negotiated neg;
	struct {
		struct vup_pending q[VUP_FLOW_PENDING_MAX];
		unsigned head, count;
	} pending[2];         /* by enum vup_chan */
	bool last_expects[2]; /* the last request added a pending entry */
	bool warned_reserved;
	bool warned_unknown;
};

void vup_flow_init(struct vup_flow *f);

/* Forget the replies owed on a channel (it was closed or replaced). */
void vup_flow_forget(struct vup_flow *f, enum vup_chan chan);

/* The request just inspected was not forwarded (dropped, failed by a
 * rule): its reply, if one was expected, will not come from the receiver.
 * Must follow vup_flow_inspect of that request. */
void vup_flow_retract(struct vup_flow *f, enum vup_chan chan, uint32_t code);

/* Inspect one message about to be relayed.  0 = relay it; -EPROTO = the
 * session must be closed, reason in why.  *warn (may be NULL) receives a
 * non-fatal remark worth logging once ("" if none). */
int vup_flow_inspect(struct vup_flow *f, enum vup_chan chan, enum vup_side from,
                     const struct vup_msg *m, char *why, size_t whylen,
                     char *warn, size_t warnlen);

#endif
