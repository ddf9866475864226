/* msg: a trace's control record read back as a message (tracemsg.h). */
#include <string.h>

#include "vuproxy/tracemsg.h"

bool vup_trace_action_faults(uint8_t action)
{
	switch (action) {
	case VUP_TRACE_ACT_DROP:
	case VUP_TRACE_ACT_DELAY:
	case VUP_TRACE_ACT_REWRITE:
	case VUP_TRACE_ACT_FAIL:
	case VUP_TRACE_ACT_DISCONNECT: return true;
	default: return false;
	}
}

void vup_trace_msg_split(const struct vup_trace_hdr *th, const uint8_t *msg,
                         size_t len, struct vup_trace_msg *out)
{
	memset(out, 0, sizeof(*out));
	out->chan = (th->flags & VUP_TRACE_F_BACKEND_CHAN) ? VUP_CHAN_BACKEND
	                                                   : VUP_CHAN_MAIN;
	out->from = (th->flags & VUP_TRACE_F_FROM_BACKEND) ? VUP_BACKEND
	                                                   : VUP_FRONTEND;
	memcpy(&out->hdr, msg, len < VUP_HDR_SIZE ? len : VUP_HDR_SIZE);
	out->declared = out->hdr.size;
	/* Only the bytes that are there. */
	if (len < VUP_HDR_SIZE)
		out->hdr.size = 0;
	else if (out->hdr.size > len - VUP_HDR_SIZE)
		out->hdr.size = (uint32_t)(len - VUP_HDR_SIZE);
	out->payload = msg + (len < VUP_HDR_SIZE ? len : VUP_HDR_SIZE);
	out->len = len;
}

bool vup_trace_msg_view(const struct vup_trace_hdr *th,
                        const struct vup_trace_msg *m,
                        const struct vup_negotiated *neg, uint64_t time_ns,
                        struct vup_view *v, bool *delivered)
{
	bool as_sent = th->flags & VUP_TRACE_F_AS_SENT;
	switch (th->action) {
	case VUP_TRACE_ACT_RELEASED:
	case VUP_TRACE_ACT_REFUSED: return false;
	case VUP_TRACE_ACT_REWRITE:
		if (!as_sent)
			return false;
		break;
	case VUP_TRACE_ACT_FAIL:
		if (as_sent)
			return false;
		break;
	default: break;
	}
	*delivered = th->action != VUP_TRACE_ACT_DROP &&
	             th->action != VUP_TRACE_ACT_FAIL &&
	             th->action != VUP_TRACE_ACT_DISCONNECT;
	vup_view_decode(v, m->chan, m->from, &m->hdr, m->payload, NULL,
	                th->nfds, neg, time_ns);
	v->fd_info = th->fds; /* the kinds the trace recorded */
	return true;
}
