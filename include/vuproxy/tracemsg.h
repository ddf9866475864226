/* tracemsg: a control record of a trace read back as a message, and what
 * the session model learns from it.  dump and check read traces through
 * this one reading. */
#ifndef VUPROXY_TRACEMSG_H
#define VUPROXY_TRACEMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/pcapng.h"
#include "vuproxy/proto.h"

struct vup_trace_msg {
	enum vup_chan chan;
	enum vup_side from;
	struct vup_hdr hdr;     /* size: the payload bytes recorded */
	uint32_t declared;      /* the header's size as it crossed the wire */
	const uint8_t *payload; /* hdr.size bytes */
	size_t len;             /* bytes of the message recorded */
};

/* Split the message part of a control record (msg, len bytes after the
 * pseudo-header th).  A message cut short keeps the bytes that are there. */
void vup_trace_msg_split(const struct vup_trace_hdr *th, const uint8_t *msg,
                         size_t len, struct vup_trace_msg *out);

/* What the model learns from the record: false when nothing (a timing
 * note, a refused message, the as-received copy of a rewrite, a reply
 * vuproxy made for a rule); else *v decoded against neg, with the fd
 * kinds the trace recorded, and *delivered whether it reached its
 * receiver (a dropped or failed request did not). */
bool vup_trace_msg_view(const struct vup_trace_hdr *th,
                        const struct vup_trace_msg *m,
                        const struct vup_negotiated *neg, uint64_t time_ns,
                        struct vup_view *v, bool *delivered);

#endif
