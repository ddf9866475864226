/* flow: validation, negotiated state and reply attribution for a session. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vuproxy/flow.h"

void vup_flow_init(struct vup_flow *f)
{
	memset(f, 0, sizeof(*f));
}

void vup_flow_forget(struct vup_flow *f, enum vup_chan chan)
{
	f->pending[chan].head = 0;
	f->pending[chan].count = 0;
}

void vup_flow_retract(struct vup_flow *f, enum vup_chan chan, uint32_t code)
{
	unsigned n = f->pending[chan].count;
	/* The last request inspected added no entry: an older request of
	 * the same kind still owes its reply. */
	if (!f->last_expects[chan] || !n)
		return;
	f->last_expects[chan] = false;
	unsigned last = (f->pending[chan].head + n - 1) % VUP_FLOW_PENDING_MAX;
	if (f->pending[chan].q[last].code == code)
		f->pending[chan].count--;
}

static struct vup_pending *pending_at(struct vup_flow *f, enum vup_chan c,
                                      unsigned i)
{
	return &f->pending[c]
	                .q[(f->pending[c].head + i) % VUP_FLOW_PENDING_MAX];
}

static void pending_pop(struct vup_flow *f, enum vup_chan c)
{
	f->pending[c].head = (f->pending[c].head + 1) % VUP_FLOW_PENDING_MAX;
	f->pending[c].count--;
}

static int expect_reply(struct vup_flow *f, enum vup_chan c, uint32_t code,
                        enum vup_expect e, char *why, size_t whylen)
{
	if (e == VUP_EXPECT_NONE)
		return 0;
	if (f->pending[c].count == VUP_FLOW_PENDING_MAX) {
		/* Forget the oldest optional reply; a full FIFO of owed
		 * replies means the requester never waits for them. */
		if (pending_at(f, c, 0)->expect != VUP_EXPECT_MAYBE) {
			snprintf(why, whylen,
			         "%u requests on the %s channel are awaiting "
			         "replies",
			         VUP_FLOW_PENDING_MAX, vup_chan_name(c));
			return -EPROTO;
		}
		pending_pop(f, c);
	}
	struct vup_pending *p = pending_at(f, c, f->pending[c].count++);
	p->code = code;
	p->expect = (uint8_t)e;
	return 0;
}

/* A reply must answer the oldest owed request; optional entries before
 * it are skipped (that responder chose not to answer them). */
static int match_reply(struct vup_flow *f, enum vup_chan c, uint32_t code,
                       char *why, size_t whylen)
{
	while (f->pending[c].count) {
		struct vup_pending *p = pending_at(f, c, 0);
		if (p->code == code) {
			pending_pop(f, c);
			return 0;
		}
		if (p->expect != VUP_EXPECT_MAYBE) {
			snprintf(why, whylen,
			         "reply to %s while a reply to %s is owed",
			         vup_proto_name(c, code),
			         vup_proto_name(c, p->code));
			return -EPROTO;
		}
		pending_pop(f, c);
	}
	snprintf(why, whylen, "reply to %s (code %u) that nobody asked for",
	         vup_proto_name(c, code), code);
	return -EPROTO;
}

int vup_flow_inspect(struct vup_flow *f, enum vup_chan chan, enum vup_side from,
                     const struct vup_msg *m, char *why, size_t whylen,
                     char *warn, size_t warnlen)
{
	if (warn && warnlen)
		warn[0] = '\0';
	int rc = vup_proto_check(&m->hdr, m->payload, m->nfds, chan, from,
	                         &f->neg, why, whylen);
	if (rc)
		return rc;
	bool reply = m->hdr.flags & VUP_FLAG_REPLY;
	if (reply) {
		rc = match_reply(f, chan, m->hdr.request, why, whylen);
		if (rc)
			return rc;
	} else {
		enum vup_expect e =
		        vup_proto_reply_expected(&m->hdr, chan, &f->neg);
		rc = expect_reply(f, chan, m->hdr.request, e, why, whylen);
		if (rc)
			return rc;
		/* Only this request's own entry may be retracted later. */
		f->last_expects[chan] = e != VUP_EXPECT_NONE;
		vup_proto_note(&f->neg, chan, &m->hdr, m->payload);
	}
	if (warn && (m->hdr.flags & ~VUP_FLAG_KNOWN) && !f->warned_reserved) {
		f->warned_reserved = true;
		snprintf(warn, warnlen,
		         "reserved flag bits 0x%x set; relayed unchanged "
		         "(the receiver judges)",
		         m->hdr.flags & ~VUP_FLAG_KNOWN);
	} else if (warn && !vup_proto_lookup(chan, m->hdr.request) &&
	           !f->warned_unknown) {
		f->warned_unknown = true;
		snprintf(warn, warnlen,
		         "unknown request code %u on the %s channel; relayed "
		         "unchanged",
		         m->hdr.request, vup_chan_name(chan));
	}
	return 0;
}
