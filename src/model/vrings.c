/* vrings: what the front-end's vring requests set up, and when a ring
 * runs.  A ring starts on its kick (SET_VRING_KICK, or VRING_KICK with
 * in-band notifications) and stops when the back-end answers
 * GET_VRING_BASE (or GET_VRING_BASE_SKIP_DRAIN) with where it stopped;
 * enabling is separate (SET_VRING_ENABLE, with PROTOCOL_FEATURES). */
#include <string.h>

#include "internal.h"

static bool set_addr(struct vup_model_vring *r, const struct vup_view *v,
                     uint64_t *moved)
{
	uint64_t a[4], flags;
	if (!vup_view_get(v, VUP_FLD_VRING_ADDR_DESC, &a[0]) ||
	    !vup_view_get(v, VUP_FLD_VRING_ADDR_USED, &a[1]) ||
	    !vup_view_get(v, VUP_FLD_VRING_ADDR_AVAIL, &a[2]) ||
	    !vup_view_get(v, VUP_FLD_VRING_ADDR_LOG, &a[3]) ||
	    !vup_view_get(v, VUP_FLD_VRING_ADDR_FLAGS, &flags))
		return false;
	/* The same rings again: QEMU switching dirty logging on or off
	 * (VHOST_VRING_F_LOG) for a migration. */
	*moved = !(r->have_addr && r->desc == a[0] && r->used == a[1] &&
	           r->avail == a[2]);
	r->desc = a[0];
	r->used = a[1];
	r->avail = a[2];
	r->log = a[3];
	r->addr_flags = (uint32_t)flags;
	r->have_addr = true;
	return true;
}

/* SET_VRING_KICK/CALL/ERR: an fd, unless NOFD (the ring is polled, or
 * has no such notifier). */
static bool set_fd(struct vup_model_vring *r, const struct vup_view *v,
                   uint64_t *nofd)
{
	if (!vup_view_get(v, VUP_FLD_VRING_FD_NOFD, nofd))
		return false;
	bool fd = !*nofd && v->nfds > 0;
	if (v->hdr.request == VUP_REQ_SET_VRING_KICK)
		r->kick_fd = fd;
	else if (v->hdr.request == VUP_REQ_SET_VRING_CALL)
		r->call_fd = fd;
	else
		r->err_fd = fd;
	return true;
}

static enum vup_model_event_kind fd_event(uint32_t code)
{
	if (code == VUP_REQ_SET_VRING_KICK)
		return VUP_EV_VRING_KICK;
	return code == VUP_REQ_SET_VRING_CALL ? VUP_EV_VRING_CALL
	                                      : VUP_EV_VRING_ERR;
}

static void start(struct vup_model_vring *r, uint32_t index,
                  struct vup_model_events *ev)
{
	r->run = VUP_VRING_STARTED;
	vup__model_event(ev, VUP_EV_VRING_STARTED, index, 0);
}

bool vup__model_vring(struct vup_model *m, const struct vup_view *v,
                      struct vup_model_events *ev)
{
	uint32_t code = v->hdr.request, index;
	switch (code) {
	case VUP_REQ_SET_VRING_NUM:
	case VUP_REQ_SET_VRING_ADDR:
	case VUP_REQ_SET_VRING_BASE:
	case VUP_REQ_GET_VRING_BASE:
	case VUP_REQ_GET_VRING_BASE_SKIP_DRAIN:
	case VUP_REQ_SET_VRING_KICK:
	case VUP_REQ_SET_VRING_CALL:
	case VUP_REQ_SET_VRING_ERR:
	case VUP_REQ_SET_VRING_ENABLE:
	case VUP_REQ_VRING_KICK: break;
	default: return false;
	}
	if (!vup_view_vring(v, &index))
		return true;
	/* Past the rings the model keeps (or out of memory): told, not
	 * kept. */
	struct vup_model_vring scratch = {0};
	struct vup_model_vring *r = vup__model_vring_at(m, index);
	if (!r)
		r = &scratch;
	uint64_t x;
	switch (code) {
	case VUP_REQ_SET_VRING_NUM:
		if (!vup_view_get(v, VUP_FLD_VRING_STATE_NUM, &x))
			break;
		r->num = (uint32_t)x;
		r->have_num = true;
		vup__model_event(ev, VUP_EV_VRING_NUM, index, x);
		break;
	case VUP_REQ_SET_VRING_ADDR:
		if (set_addr(r, v, &x))
			vup__model_event(ev, VUP_EV_VRING_ADDR, index, x);
		break;
	case VUP_REQ_SET_VRING_BASE:
		/* The whole u32: a packed ring's wrap counters too. */
		if (!vup_field_read(VUP_FLD_VRING_BASE_NUM, v->payload,
		                    v->hdr.size, &x))
			break;
		r->base = (uint32_t)x;
		r->have_base = true;
		vup__model_event(ev, VUP_EV_VRING_BASE, index, x);
		break;
	case VUP_REQ_GET_VRING_BASE:
	case VUP_REQ_GET_VRING_BASE_SKIP_DRAIN:
		r->run = VUP_VRING_STOPPING;
		vup__model_event(ev, VUP_EV_VRING_STOPPING, index, 0);
		break;
	case VUP_REQ_SET_VRING_KICK:
	case VUP_REQ_SET_VRING_CALL:
	case VUP_REQ_SET_VRING_ERR:
		if (!set_fd(r, v, &x))
			break;
		vup__model_event(ev, fd_event(code), index, x);
		if (code == VUP_REQ_SET_VRING_KICK)
			start(r, index, ev);
		break;
	case VUP_REQ_VRING_KICK: start(r, index, ev); break;
	default: /* SET_VRING_ENABLE */
		if (!vup_view_get(v, VUP_FLD_VRING_ENABLE_ENABLE, &x))
			break;
		r->enabled = x != 0;
		vup__model_event(ev, VUP_EV_VRING_ENABLED, index, x != 0);
		break;
	}
	return true;
}

void vup__model_vring_stopped(struct vup_model *m, const struct vup_view *v,
                              const struct vup_model_owed *paid,
                              struct vup_model_events *ev)
{
	/* The ring the request asked about, not the index the reply
	 * claims. */
	uint64_t base = 0;
	vup_field_read(VUP_FLD_VRING_BASE_NUM, v->payload, v->hdr.size, &base);
	struct vup_model_vring *r = vup__model_vring_at(m, paid->vring);
	if (r) {
		r->run = VUP_VRING_STOPPED;
		r->stopped_at = (uint32_t)base;
	}
	vup__model_event(ev, VUP_EV_VRING_STOPPED, paid->vring, base);
}

const struct vup_model_vring *vup_model_vring(const struct vup_model *m,
                                              uint32_t index)
{
	/* A ring never set up reads as a fresh one. */
	static const struct vup_model_vring fresh;
	if (index >= VUP_MODEL_VRINGS)
		return NULL;
	return m->vrings[index] ? m->vrings[index] : &fresh;
}
