/* flow: validation, negotiated state and reply pairing for a session,
 * and the rate limit of its warnings. */
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

struct vup_finding *vup_findings_add(struct vup_findings *fs,
                                     enum vup_problem kind)
{
	if (fs->n == VUP_FLOW_FINDINGS_MAX)
		return NULL;
	struct vup_finding *f = &fs->f[fs->n++];
	f->kind = kind;
	f->why[0] = '\0';
	return f;
}

const struct vup_finding *vup_findings_refusal(const struct vup_findings *fs,
                                               bool strict)
{
	for (unsigned i = 0; i < fs->n; i++)
		if (vup_problem_refused(fs->f[i].kind, strict))
			return &fs->f[i];
	return NULL;
}

size_t vup_findings_text(const struct vup_findings *fs, char *buf, size_t cap)
{
	size_t n = 0;
	if (cap)
		buf[0] = '\0';
	for (unsigned i = 0; i < fs->n; i++) {
		int k = snprintf(n < cap ? buf + n : NULL,
		                 n < cap ? cap - n : 0, "%s%s: %s",
		                 i ? "; " : "", vup_problem_name(fs->f[i].kind),
		                 fs->f[i].why);
		if (k > 0)
			n += (size_t)k;
	}
	return n;
}

#define FINDING(fs, kind, ...)                                                 \
	do {                                                                   \
		struct vup_finding *f_ = vup_findings_add(fs, kind);           \
		if (f_)                                                        \
			snprintf(f_->why, sizeof(f_->why), __VA_ARGS__);       \
	} while (0)

static void expect_reply(struct vup_flow *f, enum vup_chan c, uint32_t code,
                         enum vup_expect e, struct vup_findings *out)
{
	if (e == VUP_EXPECT_NONE)
		return;
	if (f->pending[c].count == VUP_FLOW_PENDING_MAX) {
		/* A full FIFO of owed replies: the requester does not wait
		 * for them.  The oldest is forgotten, so that a reply is
		 * still paired with the newest requests. */
		if (pending_at(f, c, 0)->expect != VUP_EXPECT_MAYBE)
			FINDING(out, VUP_PROBLEM_OWED_REPLIES,
			        "%u requests on the %s channel are awaiting "
			        "replies; the oldest (%s) is no longer awaited",
			        VUP_FLOW_PENDING_MAX, vup_chan_name(c),
			        vup_proto_name(c, pending_at(f, c, 0)->code));
		pending_pop(f, c);
	}
	struct vup_pending *p = pending_at(f, c, f->pending[c].count++);
	p->code = code;
	p->expect = (uint8_t)e;
}

/* A reply must answer the oldest owed request; optional entries before
 * it are skipped (that responder chose not to answer them).  A reply
 * that answers nothing owed, or not the oldest owed, is reported and
 * leaves the queue as it was: the requester judges it, and the replies
 * still owed are still paired. */
static void match_reply(struct vup_flow *f, enum vup_chan c, uint32_t code,
                        struct vup_findings *out)
{
	const struct vup_pending *owed = NULL; /* the first one not optional */
	for (unsigned i = 0; i < f->pending[c].count; i++) {
		const struct vup_pending *p = pending_at(f, c, i);
		if (p->code == code && !owed) {
			for (unsigned k = 0; k <= i; k++)
				pending_pop(f, c);
			return;
		}
		if (p->code == code) {
			FINDING(out, VUP_PROBLEM_REPLY_ORDER,
			        "reply to %s while a reply to %s is owed",
			        vup_proto_name(c, code),
			        vup_proto_name(c, owed->code));
			return;
		}
		if (!owed && p->expect != VUP_EXPECT_MAYBE)
			owed = p;
	}
	FINDING(out, VUP_PROBLEM_UNSOLICITED,
	        "reply to %s (code %u) that nobody asked for%s%s%s",
	        vup_proto_name(c, code), code, owed ? " (a reply to " : "",
	        owed ? vup_proto_name(c, owed->code) : "",
	        owed ? " is owed)" : "");
}

void vup_flow_inspect(struct vup_flow *f, enum vup_chan chan,
                      enum vup_side from, const struct vup_msg *m,
                      struct vup_findings *out)
{
	out->n = 0;
	char why[sizeof(out->f[0].why)];
	enum vup_problem p = vup_proto_check(&m->hdr, m->payload, m->nfds, chan,
	                                     from, &f->neg, why, sizeof(why));
	if (p) {
		FINDING(out, p, "%s", why);
		if (vup_problem_class(p) == VUP_PC_REFUSE)
			return; /* never relayed: nothing to account for */
	}
	if (m->hdr.flags & ~VUP_FLAG_KNOWN)
		FINDING(out, VUP_PROBLEM_RESERVED_FLAGS,
		        "reserved flag bits 0x%x set",
		        m->hdr.flags & ~VUP_FLAG_KNOWN);
	if (!vup_proto_lookup(chan, m->hdr.request))
		FINDING(out, VUP_PROBLEM_UNKNOWN_REQUEST,
		        "unknown request code %u on the %s channel",
		        m->hdr.request, vup_chan_name(chan));
	/* The sender's role says what the message is; its flags are the
	 * receiver's to judge. */
	if (vup_proto_is_responder(chan, from)) {
		match_reply(f, chan, m->hdr.request, out);
		return;
	}
	enum vup_expect e = vup_proto_reply_expected(&m->hdr, chan, &f->neg);
	expect_reply(f, chan, m->hdr.request, e, out);
	/* Only this request's own entry may be retracted later. */
	f->last_expects[chan] = e != VUP_EXPECT_NONE;
	vup_proto_note(&f->neg, chan, &m->hdr, m->payload);
}

bool vup_flow_warn_due(struct vup_flow *f, enum vup_problem kind,
                       uint64_t now_ns, uint32_t *held)
{
	struct vup_warn_limit *w = &f->warn[kind % VUP_PROBLEM_COUNT];
	if (w->logged && now_ns - w->last_ns < VUP_FLOW_WARN_PERIOD_NS) {
		w->held++;
		return false;
	}
	*held = w->held;
	w->held = 0;
	w->logged = true;
	w->last_ns = now_ns;
	return true;
}

uint32_t vup_flow_warn_take_held(struct vup_flow *f, enum vup_problem kind)
{
	struct vup_warn_limit *w = &f->warn[kind % VUP_PROBLEM_COUNT];
	uint32_t n = w->held;
	w->held = 0;
	return n;
}
