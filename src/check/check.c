/* check: the engine.  Run on each message of a session after the model
 * was fed it (the validator and the reply pairing just before, by
 * vup_check_before), it turns what the message did into findings of the
 * rows of VUP_CHECKS.  It keeps only what the model does not: the answers
 * of GET_QUEUE_NUM and GET_MAX_MEM_SLOTS, the size GET_CONFIG asked for,
 * what was told once per session, and the frame of each owed request. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vuproxy/pcapng.h"

struct vup_checker *vup_checker_new(uint32_t session)
{
	struct vup_checker *c = calloc(1, sizeof(*c));
	if (c)
		c->session = session;
	return c;
}

void vup_checker_free(struct vup_checker *c)
{
	free(c);
}

void vup__check_add(struct vup_check_findings *out, const struct vup_checker *c,
                    enum vup_check_id id, const struct vup_view *v,
                    uint64_t frame, const char *fmt, ...)
{
	if (out->n == VUP_CHECK_FINDINGS_MAX) {
		out->lost++;
		return;
	}
	struct vup_check_finding *f = &out->f[out->n++];
	f->row = vup_check_row(id);
	f->session = c->session;
	f->frame = frame;
	f->request = v ? vup_proto_name(v->chan, v->hdr.request) : "";
	f->code = v ? v->hdr.request : 0;
	f->chan = v ? v->chan : VUP_CHAN_MAIN;
	f->rule = NULL; /* a caller that knows the trace names it */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
}

bool vup_check_problem_row(enum vup_problem p, enum vup_chan chan,
                           enum vup_check_id *id)
{
	switch (p) {
	case VUP_PROBLEM_VERSION: *id = VUP_CHECK_VERSION; return true;
	case VUP_PROBLEM_PAYLOAD_LIMIT:
		*id = VUP_CHECK_PAYLOAD_LIMIT;
		return true;
	case VUP_PROBLEM_ROLE: *id = VUP_CHECK_ROLE; return true;
	case VUP_PROBLEM_NEED_REPLY_ON_REPLY:
		*id = chan == VUP_CHAN_BACKEND
		              ? VUP_CHECK_NEED_REPLY_ON_BACKEND_REPLY
		              : VUP_CHECK_NEED_REPLY_ON_REPLY;
		return true;
	case VUP_PROBLEM_SIZE: *id = VUP_CHECK_SIZE; return true;
	case VUP_PROBLEM_LAYOUT: *id = VUP_CHECK_LAYOUT; return true;
	case VUP_PROBLEM_FDS: *id = VUP_CHECK_FDS; return true;
	case VUP_PROBLEM_REPLY_ORDER: *id = VUP_CHECK_REPLY_ORDER; return true;
	case VUP_PROBLEM_UNSOLICITED: *id = VUP_CHECK_UNSOLICITED; return true;
	case VUP_PROBLEM_OWED_REPLIES:
		*id = VUP_CHECK_OWED_REPLIES;
		return true;
	case VUP_PROBLEM_BACKEND_REQ_FD:
		*id = VUP_CHECK_BACKEND_REQ_FD;
		return true;
	default: return false;
	}
}

enum vup_check_refusal vup_check_refusal(enum vup_check_id id)
{
	for (int p = 1; p < VUP_PROBLEM_COUNT; p++)
		for (int chan = VUP_CHAN_MAIN; chan <= VUP_CHAN_BACKEND;
		     chan++) {
			enum vup_check_id row;
			if (!vup_check_problem_row(p, chan, &row) || row != id)
				continue;
			switch (vup_problem_class(p)) {
			case VUP_PC_REFUSE: return VUP_REFUSE_ALWAYS;
			case VUP_PC_STRICT: return VUP_REFUSE_STRICT;
			default: return VUP_REFUSE_NEVER;
			}
		}
	return VUP_REFUSE_NEVER;
}

static void pre(struct vup_checker *c, enum vup_chan chan, enum vup_problem p,
                const char *why)
{
	enum vup_check_id id;
	if (!vup_check_problem_row(p, chan, &id) || c->npre == PRE_MAX)
		return;
	c->pre[c->npre].id = id;
	snprintf(c->pre[c->npre].why, sizeof(c->pre[0].why), "%s", why);
	c->npre++;
}

void vup_check_problems(struct vup_checker *c, const struct vup_view *v,
                        const struct vup_findings *fs)
{
	c->npre = 0;
	for (unsigned i = 0; i < fs->n; i++)
		/* VU011 is judged from the fd's kind (backend_channel), the
		 * relay's word for it is about its own interposing. */
		if (fs->f[i].kind != VUP_PROBLEM_BACKEND_REQ_FD)
			pre(c, v->chan, fs->f[i].kind, fs->f[i].why);
}

void vup_check_before(struct vup_checker *c, const struct vup_model *m,
                      const struct vup_view *v)
{
	struct vup_findings fs;
	vup_problems_find(m, v, &fs);
	vup_check_problems(c, v, &fs);
}

static bool has_event(const struct vup_model_events *ev,
                      enum vup_model_event_kind k, uint64_t *value)
{
	for (unsigned i = 0; ev && i < ev->n; i++)
		if (ev->e[i].kind == k) {
			if (value)
				*value = ev->e[i].value;
			return true;
		}
	return false;
}

static void note_owed(struct vup_checker *c, const struct vup_view *v,
                      const struct vup_model_events *ev, uint64_t frame)
{
	for (unsigned i = 0; ev && i < ev->n; i++) {
		if (ev->e[i].kind != VUP_EV_REPLY_OWED)
			continue;
		c->owed[c->owed_next++ % OWED_FRAMES] =
		        (struct owed_frame){v->chan, (uint32_t)ev->e[i].value,
		                            ev->e[i].since_ns, frame};
	}
}

/* Rows of a front-end request on the main channel that was delivered. */
static void request(struct vup_checker *c, const struct vup_model *m,
                    const struct vup_view *v, uint64_t frame,
                    struct vup_check_findings *out)
{
	uint32_t code = v->hdr.request;
	const struct vup_negotiated *neg = vup_model_neg(m);
	uint64_t x;
	if (code == VUP_REQ_SET_OWNER) {
		c->owner_seen = true;
	} else if (!c->owner_seen && !c->before_owner_told) {
		c->before_owner_told = true;
		vup__check_add(out, c, VUP_CHECK_BEFORE_OWNER, v, frame,
		               "%s sent before SET_OWNER",
		               vup_proto_name(v->chan, code));
	}
	if (code == VUP_REQ_SET_FEATURES) {
		c->features_set = true;
		uint64_t log_size, log_off;
		if ((neg->features & (1ull << VUP_F_LOG_ALL)) &&
		    !vup_model_log(m, &log_size, &log_off))
			vup__check_add(
			        out, c, VUP_CHECK_LOG_ALL_NO_BASE, v, frame,
			        "features 0x%llx ack VHOST_F_LOG_ALL; no "
			        "SET_LOG_BASE was sent",
			        (unsigned long long)neg->features);
	}
	if (code == VUP_REQ_SET_VRING_CALL && !c->features_set &&
	    !c->call_told) {
		c->call_told = true;
		vup__check_add(out, c, VUP_CHECK_CALL_BEFORE_FEATURES, v, frame,
		               "SET_VRING_CALL before any SET_FEATURES");
	}
	if (code == VUP_REQ_GET_CONFIG &&
	    vup_view_get(v, VUP_FLD_CONFIG_SIZE, &x)) {
		c->config_size = (uint32_t)x;
		c->config_asked = true;
	}
	if ((v->hdr.flags & VUP_FLAG_NEED_REPLY) &&
	    !(neg->protocol_features & (1ull << VUP_PF_REPLY_ACK)))
		vup__check_add(out, c, VUP_CHECK_NEED_REPLY_NO_ACK, v, frame,
		               "NEED_REPLY set (flags 0x%x), protocol features "
		               "0x%llx lack REPLY_ACK",
		               v->hdr.flags,
		               (unsigned long long)neg->protocol_features);
}

static void vring_rows(struct vup_checker *c, const struct vup_model *m,
                       const struct vup_view *v, uint64_t frame,
                       struct vup_check_findings *out)
{
	uint32_t index;
	if (!vup_view_vring(v, &index))
		return;
	if (index >= VUP_MODEL_VRINGS) {
		vup__check_add(out, c, VUP_CHECK_VRING_MAX, v, frame,
		               "vring index %llu, at most %u",
		               (unsigned long long)index, VUP_MODEL_VRINGS - 1);
		return;
	}
	if (c->have_qnum && index > 2 * c->qnum)
		vup__check_add(out, c, VUP_CHECK_VRING_PAST_QUEUES, v, frame,
		               "vring index %llu; GET_QUEUE_NUM said %llu",
		               (unsigned long long)index,
		               (unsigned long long)c->qnum);
	if (v->hdr.request != VUP_REQ_SET_VRING_KICK)
		return;
	const struct vup_model_region *r;
	const struct vup_model_vring *ring =
	        vup_model_vring(m, (uint32_t)index);
	if (!vup_model_regions(m, &r))
		vup__check_add(out, c, VUP_CHECK_KICK_BEFORE_TABLE, v, frame,
		               "kick of vring %llu before any memory table",
		               (unsigned long long)index);
	else if (ring && !ring->have_addr)
		vup__check_add(out, c, VUP_CHECK_KICK_BEFORE_ADDR, v, frame,
		               "kick of vring %llu before its SET_VRING_ADDR",
		               (unsigned long long)index);
}

/* SET_LOG_BASE or GET_SHARED_OBJECT answered with no payload (what DPDK
 * and rust-vmm back-ends send): tolerated, told. */
static void empty_reply(struct vup_checker *c, const struct vup_view *v,
                        uint64_t frame, struct vup_check_findings *out)
{
	bool log = v->hdr.request == VUP_REQ_SET_LOG_BASE;
	vup__check_add(out, c,
	               log ? VUP_CHECK_LOG_REPLY_EMPTY
	                   : VUP_CHECK_SHARED_OBJECT_EMPTY,
	               v, frame, "%s answered with size 0 and %u fd%s%s",
	               vup_proto_name(v->chan, v->hdr.request), v->nfds,
	               v->nfds == 1 ? "" : "s",
	               log ? ", not the 16-byte log description" : "");
}

/* Rows of a reply the model paired (or not). */
static void reply(struct vup_checker *c, const struct vup_view *v,
                  const struct vup_model_events *ev, uint64_t frame,
                  struct vup_check_findings *out)
{
	uint64_t x;
	bool paid = has_event(ev, VUP_EV_REPLY_PAID, NULL);
	if (v->layout == VUP_L_ACK && vup_view_get(v, VUP_FLD_ACK_ACK, &x) &&
	    x != 0)
		vup__check_add(out, c, VUP_CHECK_NACK, v, frame,
		               "%s answered with ack %llu",
		               vup_proto_name(v->chan, v->hdr.request),
		               (unsigned long long)x);
	if (v->chan != VUP_CHAN_MAIN || !paid)
		return;
	switch (v->hdr.request) {
	case VUP_REQ_GET_QUEUE_NUM:
		if (vup_view_get(v, VUP_FLD_U64_VALUE, &c->qnum))
			c->have_qnum = true;
		break;
	case VUP_REQ_GET_MAX_MEM_SLOTS:
		if (vup_view_get(v, VUP_FLD_U64_VALUE, &c->slots))
			c->have_slots = true;
		break;
	case VUP_REQ_SET_LOG_BASE:
	case VUP_REQ_GET_SHARED_OBJECT:
		if (v->hdr.size == 0)
			empty_reply(c, v, frame, out);
		break;
	case VUP_REQ_GET_CONFIG:
		if (!c->config_asked)
			break;
		c->config_asked = false;
		if (v->hdr.size == 0)
			vup__check_add(out, c, VUP_CHECK_CONFIG_ERROR, v, frame,
			               "GET_CONFIG of %u bytes answered with "
			               "size 0",
			               c->config_size);
		else if (v->hdr.size != 12u + c->config_size ||
		         !vup_view_get(v, VUP_FLD_CONFIG_SIZE, &x) ||
		         x != c->config_size)
			vup__check_add(
			        out, c, VUP_CHECK_CONFIG_SIZE, v, frame,
			        "GET_CONFIG asked %u bytes, the reply is "
			        "%u bytes",
			        c->config_size, v->hdr.size);
		break;
	default: break;
	}
}

static void backend_channel(struct vup_checker *c, const struct vup_view *v,
                            uint64_t frame, struct vup_check_findings *out)
{
	if (v->hdr.request != VUP_REQ_SET_BACKEND_REQ_FD || v->reply ||
	    v->chan != VUP_CHAN_MAIN || !v->fd_info || v->nfds != 1 ||
	    v->fd_info[0].kind == VUP_FDK_SOCKET)
		return;
	vup__check_add(out, c, VUP_CHECK_BACKEND_REQ_FD, v, frame,
	               "SET_BACKEND_REQ_FD carries a %s, not a socket",
	               vup_fd_kind_name(v->fd_info[0].kind));
}

void vup_check_message(struct vup_checker *c, const struct vup_model *m,
                       const struct vup_view *v, bool delivered,
                       const struct vup_model_events *ev, uint64_t frame,
                       struct vup_check_findings *out)
{
	out->n = 0;
	out->lost = 0;
	for (unsigned i = 0; i < c->npre; i++)
		vup__check_add(out, c, c->pre[i].id, v, frame, "%s",
		               c->pre[i].why);
	c->npre = 0;
	note_owed(c, v, ev, frame);
	uint64_t bits;
	if (has_event(ev, VUP_EV_FEATURES_NOT_OFFERED, &bits))
		vup__check_add(out, c, VUP_CHECK_FEATURES_NOT_OFFERED, v, frame,
		               "acked 0x%llx, never offered",
		               (unsigned long long)bits);
	if (has_event(ev, VUP_EV_PROTOCOL_NOT_OFFERED, &bits))
		vup__check_add(out, c, VUP_CHECK_PROTOCOL_NOT_OFFERED, v, frame,
		               "acked protocol features 0x%llx, never offered",
		               (unsigned long long)bits);
	if (v->reply) {
		reply(c, v, ev, frame, out);
		return;
	}
	if (!delivered)
		return;
	/* The gate is judged against what was negotiated before: feeding
	 * SET_PROTOCOL_FEATURES itself is not gated. */
	const struct vup_negotiated *neg = vup_model_neg(m);
	if (v->type && v->type->gate >= 0 &&
	    !(neg->protocol_features & (1ull << v->type->gate)))
		vup__check_add(out, c, VUP_CHECK_GATE, v, frame,
		               "%s needs protocol feature bit %d; negotiated "
		               "0x%llx",
		               v->type->name, v->type->gate,
		               (unsigned long long)neg->protocol_features);
	backend_channel(c, v, frame, out);
	if (v->chan != VUP_CHAN_MAIN || v->from != VUP_FRONTEND)
		return;
	request(c, m, v, frame, out);
	vup__check_rows(c, m, v, frame, out);
	vring_rows(c, m, v, frame, out);
	vup__check_memory(c, m, v, ev, frame, out);
}

uint64_t vup_check_owed_frame(const struct vup_checker *c, enum vup_chan chan,
                              const struct vup_model_owed *o)
{
	for (unsigned k = 1; k <= OWED_FRAMES && k <= c->owed_next; k++) {
		const struct owed_frame *f =
		        &c->owed[(c->owed_next - k) % OWED_FRAMES];
		if (f->chan == chan && f->code == o->code &&
		    f->since_ns == o->since_ns)
			return f->frame;
	}
	return 0;
}

void vup_check_end(struct vup_checker *c, const struct vup_model *m,
                   bool cut_off, struct vup_check_findings *out)
{
	out->n = 0;
	out->lost = 0;
	for (int chan = VUP_CHAN_MAIN; chan <= VUP_CHAN_BACKEND; chan++) {
		unsigned n = vup_model_owed_count(m, (enum vup_chan)chan);
		for (unsigned i = 0; i < n; i++) {
			const struct vup_model_owed *o =
			        vup_model_owed_at(m, (enum vup_chan)chan, i);
			if (o->expect != VUP_EXPECT_YES)
				continue;
			struct vup_view v = {.hdr.request = o->code,
			                     .chan = (enum vup_chan)chan};
			vup__check_add(
			        out, c,
			        cut_off ? VUP_CHECK_REPLY_CUT_OFF
			                : VUP_CHECK_REPLY_MISSING,
			        &v,
			        vup_check_owed_frame(c, (enum vup_chan)chan, o),
			        "%s (#%u) on the %s channel never "
			        "answered%s",
			        vup_proto_name((enum vup_chan)chan, o->code),
			        o->code, vup_chan_name((enum vup_chan)chan),
			        cut_off ? " before the file ended" : "");
		}
	}
}
