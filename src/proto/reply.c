/* reply: the one builder of the replies vuproxy makes itself, in place
 * of the receiver: the rule `fail` (the request's error form) and replay
 * (a request the record holds no reply for: what a receiver that
 * succeeded sends).  Both read the catalogue's reply rule, so the two can
 * no longer disagree on a reply's form. */
#include <string.h>

#include "vuproxy/proto.h"

static bool has_pf(const struct vup_negotiated *neg, int bit)
{
	return neg && bit >= 0 && (neg->protocol_features >> bit) & 1u;
}

static uint32_t clamp(uint32_t v, uint32_t lo, uint32_t hi)
{
	if (hi > VUP_MAX_PAYLOAD)
		hi = VUP_MAX_PAYLOAD;
	return v < lo ? lo : v > hi ? hi : v;
}

/* Does the answer to req carry the row's body (else a u64 ack)?
 * FEATURE rows carry it when reply_gate is negotiated and NEED_REPLY
 * did not ask for an ack instead. */
static bool has_body(const struct vup_msg_type *t, const struct vup_hdr *req,
                     const struct vup_negotiated *neg)
{
	if (!t)
		return false;
	if (t->reply == VUP_REPLY_ALWAYS)
		return true;
	return t->reply == VUP_REPLY_FEATURE && has_pf(neg, t->reply_gate) &&
	       !(req->flags & VUP_FLAG_NEED_REPLY);
}

/* The size of the body.
 *
 * FEATURE rows: the one such row is SET_LOG_BASE under LOG_SHMFD, whose
 * reply no spec text describes and each peer answers its own way:
 * DPDK (lib/vhost/vhost_user.c, vhost_user_set_log_base) with size 0,
 * libvhost-user (vu_set_log_base_exec) with a u64, rust-vmm back-ends
 * (vhost/src/vhost_user/backend_req_handler.rs, SET_LOG_BASE) with the
 * 16-byte VhostUserLog of the request.  QEMU's front-end
 * (hw/virtio/vhost-user.c, vhost_user_set_log_base) reads a reply of any
 * size and checks only its request code; rust-vmm's front-end
 * (vhost/src/vhost_user/frontend.rs, set_log_base: recv_reply of a
 * VhostUserLog) takes exactly 16 bytes and fails on less.  The row's
 * largest form, 16 bytes, is the one every front-end accepts.
 *
 * Failed: the row's minimum; for GET_CONFIG that is 0, its error form.
 * OK: the minimum too, except where the minimum is an error form:
 * GET_CONFIG's reply is as large as the request (the spec: its size
 * MUST match), a crypto session mirrors the request's size, and a u64
 * that may be missing (POSTCOPY_ADVISE, GET_SHARED_OBJECT) is sent. */
static uint32_t body_size(const struct vup_msg_type *t,
                          const struct vup_hdr *req,
                          enum vup_reply_status status)
{
	if (t->reply == VUP_REPLY_FEATURE)
		return clamp(t->rep_max, t->rep_min, t->rep_max);
	if (status == VUP_REPLY_FAILED)
		return clamp(t->rep_min, 0, t->rep_max);
	switch (t->rep_layout) {
	case VUP_L_CONFIG:
	case VUP_L_OPAQUE: return clamp(req->size, t->rep_min, t->rep_max);
	case VUP_L_U64: return clamp(8, t->rep_min, t->rep_max);
	default: return clamp(t->rep_min, 0, t->rep_max);
	}
}

/* Fill a body of rep->size bytes: zero, the value in its first u64; a
 * vring reply keeps the ring the request named (the value is its num);
 * an OK config reply keeps the request's offset, size and flags. */
static void fill_body(const struct vup_msg_type *t, const struct vup_hdr *req,
                      const uint8_t *req_payload, uint64_t value,
                      struct vup_hdr *rep, uint8_t *payload)
{
	memset(payload, 0, rep->size);
	bool vring = t->rep_layout == VUP_L_VRING_BASE ||
	             t->rep_layout == VUP_L_VRING_STATE;
	if (vring && rep->size >= 8 && req->size >= 4) {
		uint32_t num = (uint32_t)value;
		memcpy(payload, req_payload, 4); /* the ring it asked about */
		memcpy(payload + 4, &num, 4);
	} else if (t->rep_layout == VUP_L_CONFIG) {
		uint32_t n = req->size < rep->size ? req->size : rep->size;
		memcpy(payload, req_payload, n < 12 ? n : 12);
	} else if (rep->size >= 8) {
		memcpy(payload, &value, 8);
	}
}

bool vup_reply_build(const struct vup_hdr *req, const uint8_t *req_payload,
                     enum vup_chan chan, const struct vup_negotiated *neg,
                     enum vup_reply_status status, const uint64_t *value,
                     struct vup_hdr *rep, uint8_t *payload)
{
	const struct vup_msg_type *t = vup_proto_lookup(chan, req->request);
	enum vup_expect e = vup_proto_reply_expected(req, chan, neg);
	bool need = req->flags & VUP_FLAG_NEED_REPLY;
	/* An ack that may or may not come (IOTLB_MSG) is not waited for
	 * unless asked for. */
	if (e == VUP_EXPECT_NONE ||
	    (t && t->reply == VUP_REPLY_ACK_ANY && !need))
		return false;
	rep->request = req->request;
	rep->flags = VUP_FLAG_VERSION | VUP_FLAG_REPLY;
	if (!has_body(t, req, neg)) {
		uint64_t ack = value                        ? *value
		               : status == VUP_REPLY_FAILED ? 1
		                                            : 0;
		rep->size = 8;
		memcpy(payload, &ack, 8);
		return true;
	}
	rep->size = body_size(t, req, status);
	fill_body(t, req, req_payload, value ? *value : 0, rep, payload);
	return true;
}
