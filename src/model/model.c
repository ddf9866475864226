/* model: feeding a session's messages, and what is in effect (see
 * include/vuproxy/model.h).  Replies owed are in replies.c, the memory
 * table in memory.c, the vrings in vrings.c. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct vup_model *vup_model_new(void)
{
	return calloc(1, sizeof(struct vup_model));
}

static void free_vrings(struct vup_model *m)
{
	for (unsigned i = 0; i < VUP_MODEL_VRINGS; i++) {
		free(m->vrings[i]);
		m->vrings[i] = NULL;
	}
}

void vup_model_free(struct vup_model *m)
{
	if (!m)
		return;
	free_vrings(m);
	free(m->regions);
	free(m);
}

struct vup_model_vring *vup__model_vring_at(struct vup_model *m, uint32_t index)
{
	if (index >= VUP_MODEL_VRINGS)
		return NULL;
	if (!m->vrings[index])
		m->vrings[index] = calloc(1, sizeof(*m->vrings[index]));
	return m->vrings[index];
}

bool vup__model_regions_room(struct vup_model *m, unsigned n)
{
	if (n <= m->region_cap)
		return true;
	unsigned cap = m->region_cap ? m->region_cap : 8;
	while (cap < n)
		cap *= 2;
	struct vup_model_region *r = realloc(m->regions, cap * sizeof(*r));
	if (!r)
		return false;
	m->regions = r;
	m->region_cap = cap;
	return true;
}

const char *vup_model_event_name(enum vup_model_event_kind k)
{
	static const char *const names[] = {
#define X(id, text) text,
	        VUP_MODEL_EVENTS(X)
#undef X
	};
	return (unsigned)k < VUP_EV_COUNT ? names[k] : "?";
}

void vup__model_event(struct vup_model_events *ev,
                      enum vup_model_event_kind kind, uint32_t index,
                      uint64_t value)
{
	if (!ev || ev->n == VUP_MODEL_EVENTS_MAX)
		return;
	ev->e[ev->n++] = (struct vup_model_event){
	        .kind = kind, .index = index, .value = value};
}

/* SET_FEATURES / SET_PROTOCOL_FEATURES: acked, and what was acked that
 * the back-end's last offer did not have. */
static void ack(struct vup_model *m, const struct vup_view *v, bool protocol,
                struct vup_model_events *ev)
{
	uint64_t bits;
	if (!vup_view_get(v,
	                  protocol ? VUP_FLD_PROTOCOL_FEATURES_FEATURES
	                           : VUP_FLD_FEATURES_FEATURES,
	                  &bits))
		return;
	uint64_t offered = protocol ? m->protocol_offered : m->offered;
	bool have = protocol ? m->have_protocol_offered : m->have_offered;
	if (protocol)
		m->neg.protocol_features = bits;
	else
		m->neg.features = bits;
	vup__model_event(
	        ev, protocol ? VUP_EV_PROTOCOL_ACKED : VUP_EV_FEATURES_ACKED, 0,
	        bits);
	if (have && (bits & ~offered))
		vup__model_event(ev,
		                 protocol ? VUP_EV_PROTOCOL_NOT_OFFERED
		                          : VUP_EV_FEATURES_NOT_OFFERED,
		                 0, bits & ~offered);
}

static void reset(struct vup_model *m, struct vup_model_events *ev)
{
	free_vrings(m);
	m->nregions = 0;
	/* Status 0, as a reset device has; a front-end that sets the
	 * status keeps doing so (DRIVER_OK is awaited again). */
	m->status = 0;
	m->postcopy = false;
	m->echo = 0;
	m->have_log = false;
	vup__model_event(ev, VUP_EV_RESET, 0, 0);
}

/* A front-end request on the main channel, delivered. */
static void request(struct vup_model *m, const struct vup_view *v,
                    struct vup_model_events *ev)
{
	uint64_t x;
	if (vup__model_vring(m, v, ev))
		return;
	switch (v->hdr.request) {
	case VUP_REQ_SET_FEATURES: ack(m, v, false, ev); break;
	case VUP_REQ_SET_PROTOCOL_FEATURES: ack(m, v, true, ev); break;
	case VUP_REQ_SET_STATUS:
		if (!vup_view_get(v, VUP_FLD_STATUS_STATUS, &x))
			break;
		m->status = (uint8_t)x;
		m->have_status = true;
		vup__model_event(ev, VUP_EV_STATUS, 0, x);
		break;
	case VUP_REQ_SET_MEM_TABLE:
	case VUP_REQ_ADD_MEM_REG:
	case VUP_REQ_REM_MEM_REG: vup__model_memory(m, v, ev); break;
	case VUP_REQ_SET_LOG_BASE:
		if (!vup_view_get(v, VUP_FLD_LOG_MMAP_SIZE, &m->log_size))
			break;
		m->log_offset = 0;
		vup_view_get(v, VUP_FLD_LOG_MMAP_OFFSET, &m->log_offset);
		m->have_log = true;
		vup__model_event(ev, VUP_EV_LOG_BASE, 0, m->log_size);
		break;
	case VUP_REQ_RESET_OWNER:
	case VUP_REQ_RESET_DEVICE: reset(m, ev); break;
	case VUP_REQ_POSTCOPY_LISTEN:
		m->postcopy = true;
		vup__model_event(ev, VUP_EV_POSTCOPY_LISTEN, 0, 0);
		break;
	case VUP_REQ_POSTCOPY_END:
		m->postcopy = false;
		vup__model_event(ev, VUP_EV_POSTCOPY_END, 0, 0);
		break;
	case VUP_REQ_SET_BACKEND_REQ_FD:
		vup__model_event(ev, VUP_EV_BACKEND_CHANNEL, 0, v->nfds);
		break;
	default: break;
	}
}

/* The back-end's answer on the main channel. */
static void answer(struct vup_model *m, const struct vup_view *v,
                   const struct vup_model_owed *paid,
                   struct vup_model_events *ev)
{
	uint64_t x;
	switch (v->hdr.request) {
	case VUP_REQ_GET_FEATURES:
		if (!vup_view_get(v, VUP_FLD_FEATURES_FEATURES, &x))
			break;
		m->offered = x;
		m->have_offered = true;
		vup__model_event(ev, VUP_EV_FEATURES_OFFERED, 0, x);
		break;
	case VUP_REQ_GET_PROTOCOL_FEATURES:
		if (!vup_view_get(v, VUP_FLD_PROTOCOL_FEATURES_FEATURES, &x))
			break;
		m->protocol_offered = x;
		m->have_protocol_offered = true;
		vup__model_event(ev, VUP_EV_PROTOCOL_OFFERED, 0, x);
		break;
	case VUP_REQ_GET_VRING_BASE:
	case VUP_REQ_GET_VRING_BASE_SKIP_DRAIN:
		/* A reply with no request behind it (a lying back-end)
		 * stops nothing. */
		if (paid)
			vup__model_vring_stopped(m, v, paid, ev);
		break;
	default: vup__model_memory_reply(m, v, ev); break;
	}
}

void vup_model_feed(struct vup_model *m, const struct vup_view *v,
                    bool delivered, struct vup_model_events *ev)
{
	if (ev)
		ev->n = 0;
	if (v->reply) {
		struct vup_model_owed paid;
		bool ok = vup__model_pay(m, v, &paid, ev);
		if (v->chan == VUP_CHAN_MAIN)
			answer(m, v, ok ? &paid : NULL, ev);
		return;
	}
	if (!delivered)
		return;
	vup__model_owe(m, v, ev);
	if (v->chan == VUP_CHAN_MAIN)
		request(m, v, ev);
}

const struct vup_negotiated *vup_model_neg(const struct vup_model *m)
{
	return &m->neg;
}

bool vup_model_offered(const struct vup_model *m, bool protocol, uint64_t *bits)
{
	*bits = protocol ? m->protocol_offered : m->offered;
	return protocol ? m->have_protocol_offered : m->have_offered;
}

bool vup_model_status(const struct vup_model *m, uint8_t *status)
{
	*status = m->status;
	return m->have_status;
}

bool vup_model_postcopy(const struct vup_model *m)
{
	return m->postcopy;
}

bool vup_model_log(const struct vup_model *m, uint64_t *size, uint64_t *offset)
{
	*size = m->log_size;
	*offset = m->log_offset;
	return m->have_log;
}
