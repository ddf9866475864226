/* replies: the replies a session's responders owe, per channel, oldest
 * first, and the pairing of each reply with the request it answers.
 *
 * A reply must answer the oldest owed request; optional entries before
 * it (a reply that may or may not come) are skipped.  A reply to a later
 * request answers that one and leaves the older ones owed, in order; a
 * reply that answers nothing owed leaves the queue as it was: the
 * requester judges it, and the replies still owed are still paired. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static struct vup_model_owed *at(struct owed_fifo *f, unsigned i)
{
	return &f->q[(f->head + i) % VUP_MODEL_OWED_MAX];
}

static const struct vup_model_owed *cat(const struct owed_fifo *f, unsigned i)
{
	return &f->q[(f->head + i) % VUP_MODEL_OWED_MAX];
}

static void pop(struct owed_fifo *f)
{
	f->head = (f->head + 1) % VUP_MODEL_OWED_MAX;
	f->count--;
}

/* Take entry i out of the FIFO, keeping the others in order. */
static void remove_at(struct owed_fifo *f, unsigned i)
{
	for (unsigned k = i; k + 1 < f->count; k++)
		*at(f, k) = *at(f, k + 1);
	f->count--;
}

/* Where a reply with this code pairs: *match its entry (-1: none), *owed
 * the first entry that is not optional before it (-1: none). */
static void find(const struct owed_fifo *f, uint32_t code, int *match,
                 int *owed)
{
	*match = *owed = -1;
	for (unsigned i = 0; i < f->count; i++) {
		const struct vup_model_owed *p = cat(f, i);
		if (p->code == code) {
			*match = (int)i;
			return;
		}
		if (*owed < 0 && p->expect != VUP_EXPECT_MAYBE)
			*owed = (int)i;
	}
}

static uint32_t vring_asked(const struct vup_view *v)
{
	uint64_t index = UINT32_MAX;
	if (!vup_view_get(v, VUP_FLD_VRING_STATE_INDEX, &index))
		vup_view_get(v, VUP_FLD_VRING_FD_INDEX, &index);
	return (uint32_t)index;
}

void vup__model_owe(struct vup_model *m, const struct vup_view *v,
                    struct vup_model_events *ev)
{
	enum vup_expect e = vup_proto_expect(v->type, &v->hdr, &m->neg);
	if (e == VUP_EXPECT_NONE)
		return;
	struct owed_fifo *f = &m->owed[v->chan];
	if (f->count == VUP_MODEL_OWED_MAX) {
		/* The requester does not wait for them: the oldest is
		 * forgotten, so that a reply still pairs with the newest. */
		vup__model_event(ev, VUP_EV_REPLY_FORGOTTEN, 0, at(f, 0)->code);
		pop(f);
	}
	struct vup_model_owed *p = at(f, f->count++);
	*p = (struct vup_model_owed){.code = v->hdr.request,
	                             .expect = (uint8_t)e,
	                             .vring = vring_asked(v),
	                             .since_ns = v->time_ns};
	vup__model_event(ev, VUP_EV_REPLY_OWED, p->vring, p->code);
	if (ev && ev->n)
		ev->e[ev->n - 1].since_ns = v->time_ns;
}

bool vup__model_pay(struct vup_model *m, const struct vup_view *v,
                    struct vup_model_owed *paid, struct vup_model_events *ev)
{
	struct owed_fifo *f = &m->owed[v->chan];
	int match, owed;
	find(f, v->hdr.request, &match, &owed);
	if (match < 0)
		return false;
	*paid = *at(f, (unsigned)match);
	if (owed < 0) {
		/* The optional entries before it were not answered. */
		for (int k = 0; k <= match; k++)
			pop(f);
	} else {
		remove_at(f, (unsigned)match);
	}
	vup__model_event(ev, VUP_EV_REPLY_PAID, paid->vring, paid->code);
	if (ev && ev->n)
		ev->e[ev->n - 1].since_ns = paid->since_ns;
	return true;
}

enum vup_problem vup_model_pairing(const struct vup_model *m,
                                   const struct vup_view *v, char *why,
                                   size_t whylen)
{
	const struct owed_fifo *f = &m->owed[v->chan];
	enum vup_chan c = v->chan;
	if (!v->reply) {
		enum vup_expect e = vup_proto_expect(v->type, &v->hdr, &m->neg);
		if (e == VUP_EXPECT_NONE || f->count < VUP_MODEL_OWED_MAX ||
		    cat(f, 0)->expect == VUP_EXPECT_MAYBE)
			return VUP_PROBLEM_NONE;
		snprintf(why, whylen,
		         "%u requests on the %s channel are awaiting replies; "
		         "the oldest (%s) is no longer awaited",
		         VUP_MODEL_OWED_MAX, vup_chan_name(c),
		         vup_proto_name(c, cat(f, 0)->code));
		return VUP_PROBLEM_OWED_REPLIES;
	}
	uint32_t code = v->hdr.request;
	int match, owed;
	find(f, code, &match, &owed);
	if (match >= 0 && owed < 0)
		return VUP_PROBLEM_NONE;
	if (match >= 0) {
		snprintf(why, whylen, "reply to %s while a reply to %s is owed",
		         vup_proto_name(c, code),
		         vup_proto_name(c, cat(f, (unsigned)owed)->code));
		return VUP_PROBLEM_REPLY_ORDER;
	}
	const char *owed_name =
	        owed >= 0 ? vup_proto_name(c, cat(f, (unsigned)owed)->code)
	                  : NULL;
	snprintf(why, whylen,
	         "reply to %s (code %u) that nobody asked for%s%s%s",
	         vup_proto_name(c, code), code,
	         owed_name ? " (a reply to " : "", owed_name ? owed_name : "",
	         owed_name ? " is owed)" : "");
	return VUP_PROBLEM_UNSOLICITED;
}

void vup_model_forget_owed(struct vup_model *m, enum vup_chan chan)
{
	m->owed[chan].head = 0;
	m->owed[chan].count = 0;
}

unsigned vup_model_owed_count(const struct vup_model *m, enum vup_chan chan)
{
	return m->owed[chan].count;
}

const struct vup_model_owed *vup_model_owed_at(const struct vup_model *m,
                                               enum vup_chan chan, unsigned i)
{
	return i < m->owed[chan].count ? cat(&m->owed[chan], i) : NULL;
}
