/* view: a message decoded once (catalogue row, layout, role) for
 * everything downstream of the socket. */
#include <string.h>

#include "vuproxy/proto.h"

/* Does the payload hold every fixed field of layout l? */
static bool fits(enum vup_layout l, uint32_t size)
{
	size_t n;
	const struct vup_field *f = vup_layout_fields(l, &n);
	for (size_t i = 0; i < n; i++)
		if ((uint32_t)f[i].off + f[i].size > size)
			return false;
	return true;
}

void vup_view_decode(struct vup_view *v, enum vup_chan chan, enum vup_side from,
                     const struct vup_hdr *h, const uint8_t *payload,
                     const int *fds, unsigned nfds,
                     const struct vup_negotiated *neg, uint64_t time_ns)
{
	memset(v, 0, sizeof(*v));
	v->hdr = *h;
	v->payload = payload;
	v->type = vup_proto_lookup(chan, h->request);
	v->chan = chan;
	v->from = from;
	v->reply = vup_proto_is_responder(chan, from);
	/* The layout by the sender's role: a request flagged as a reply is
	 * still read as the request it is. */
	struct vup_hdr as_read = *h;
	as_read.flags = v->reply ? (h->flags | VUP_FLAG_REPLY)
	                         : (h->flags & ~VUP_FLAG_REPLY);
	v->layout = vup_msg_layout(v->type, &as_read, neg);
	v->fits = fits(v->layout, h->size);
	v->nfds = nfds;
	v->fds = fds;
	v->time_ns = time_ns;
}

/* The vring index of a request: bits 0-7 of a vring fd message, else a
 * u32; false if the payload does not hold it. */
bool vup_view_vring(const struct vup_view *v, uint32_t *index)
{
	uint64_t i;
	enum vup_field_id f = VUP_FLD_VRING_STATE_INDEX;
	switch (v->layout) {
	case VUP_L_VRING_FD: f = VUP_FLD_VRING_FD_INDEX; break;
	case VUP_L_VRING_ADDR: f = VUP_FLD_VRING_ADDR_INDEX; break;
	case VUP_L_VRING_BASE: f = VUP_FLD_VRING_BASE_INDEX; break;
	case VUP_L_VRING_BASE_PACKED:
		f = VUP_FLD_VRING_BASE_PACKED_INDEX;
		break;
	case VUP_L_VRING_ENABLE: f = VUP_FLD_VRING_ENABLE_INDEX; break;
	default: break;
	}
	if (!vup_view_get(v, f, &i))
		return false;
	*index = (uint32_t)i;
	return true;
}
