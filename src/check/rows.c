/* rows: the rows a front-end request trips through what it sets, judged
 * after the model was fed it: a queue size the peers refuse, the
 * requests VHOST_USER_F_PROTOCOL_FEATURES gates, features changed under
 * a running ring, and NEED_REPLY on a request whose reply is due anyway.
 * It keeps only the features the previous SET_FEATURES acked (the model
 * holds the new ones once fed). */
#include <stdio.h>

#include "internal.h"
#include "vuproxy/ring_layout.h"

#define BIT(n) (1ull << (n))

/* DPDK refuses past 32768 and a split ring's size that is not a power of
 * 2; rust-vmm refuses 0. */
static void vring_num(struct vup_checker *c, const struct vup_model *m,
                      const struct vup_view *v, uint64_t frame,
                      struct vup_check_findings *out)
{
	uint64_t index = 0, num;
	if (!vup_view_get(v, VUP_FLD_VRING_STATE_NUM, &num))
		return;
	vup_view_get(v, VUP_FLD_VRING_STATE_INDEX, &index);
	bool packed = vup_model_neg(m)->features & BIT(VUP_F_RING_PACKED);
	const char *why = NULL;
	if (num == 0)
		why = "0";
	else if (num > VUP_VRING_MAX_NUM)
		why = "past 32768";
	else if (!packed && (num & (num - 1)))
		why = "not a power of 2 on a split ring";
	if (why)
		vup__check_add(out, c, VUP_CHECK_VRING_NUM, v, frame,
		               "vring %llu size %llu: %s",
		               (unsigned long long)index,
		               (unsigned long long)num, why);
}

/* GET/SET_PROTOCOL_FEATURES after a GET_FEATURES answer without bit 30
 * (once per session); nothing is judged before any answer. */
static void unadvertised(struct vup_checker *c, const struct vup_model *m,
                         const struct vup_view *v, uint64_t frame,
                         struct vup_check_findings *out)
{
	uint64_t offered;
	if (c->unadvertised_told || !vup_model_offered(m, false, &offered) ||
	    (offered & BIT(VUP_F_PROTOCOL_FEATURES)))
		return;
	c->unadvertised_told = true;
	vup__check_add(out, c, VUP_CHECK_PROTOCOL_UNADVERTISED, v, frame,
	               "%s, but GET_FEATURES answered 0x%llx (no bit 30)",
	               vup_proto_name(v->chan, v->hdr.request),
	               (unsigned long long)offered);
}

/* "Negotiated" as QEMU reads it: before SET_FEATURES, QEMU net sends
 * SET_VRING_ENABLE once GET_FEATURES offered bit 30 (vhost_user_set_
 * vring_enable tests the back-end's features); after it, the acked
 * features decide, as rust-vmm's check_feature does.  With neither
 * known (DPDK's virtio-user tears down a reconnected session's rings
 * before it asks anything) nothing is judged: no peer refuses it. */
static void enable_no_protocol(struct vup_checker *c, const struct vup_model *m,
                               const struct vup_view *v, uint64_t frame,
                               struct vup_check_findings *out)
{
	uint64_t bits = 0, index = 0;
	const char *what = "acked";
	if (c->have_acked)
		bits = vup_model_neg(m)->features;
	else if (vup_model_offered(m, false, &bits))
		what = "offered (no SET_FEATURES yet)";
	else
		return;
	if (bits & BIT(VUP_F_PROTOCOL_FEATURES))
		return;
	vup_view_get(v, VUP_FLD_VRING_ENABLE_INDEX, &index);
	vup__check_add(out, c, VUP_CHECK_ENABLE_NO_PROTOCOL, v, frame,
	               "SET_VRING_ENABLE of vring %llu; features %s 0x%llx "
	               "lack bit 30",
	               (unsigned long long)index, what,
	               (unsigned long long)bits);
}

static int running_vring(const struct vup_model *m)
{
	for (uint32_t i = 0; i < VUP_MODEL_VRINGS; i++) {
		const struct vup_model_vring *r = vup_model_vring(m, i);
		if (r && r->run == VUP_VRING_STARTED)
			return (int)i;
	}
	return -1;
}

/* DPDK lets only VHOST_F_LOG_ALL change on a running device. */
static void features_while_running(struct vup_checker *c,
                                   const struct vup_model *m,
                                   const struct vup_view *v, uint64_t frame,
                                   struct vup_check_findings *out)
{
	uint64_t now;
	if (!vup_view_get(v, VUP_FLD_FEATURES_FEATURES, &now))
		return;
	uint64_t changed = (c->acked ^ now) & ~BIT(VUP_F_LOG_ALL);
	int ring = changed && c->have_acked ? running_vring(m) : -1;
	if (ring >= 0)
		vup__check_add(
		        out, c, VUP_CHECK_FEATURES_WHILE_RUNNING, v, frame,
		        "features 0x%llx -> 0x%llx (bits 0x%llx) while "
		        "vring %d runs",
		        (unsigned long long)c->acked, (unsigned long long)now,
		        (unsigned long long)changed, ring);
	c->acked = now;
	c->have_acked = true;
}

/* With REPLY_ACK negotiated (VU032 covers the rest), NEED_REPLY on a
 * request that is answered anyway asks for nothing more. */
static void need_reply_has_reply(struct vup_checker *c,
                                 const struct vup_model *m,
                                 const struct vup_view *v, uint64_t frame,
                                 struct vup_check_findings *out)
{
	const struct vup_negotiated *neg = vup_model_neg(m);
	if (!(v->hdr.flags & VUP_FLAG_NEED_REPLY) || !v->type ||
	    !(neg->protocol_features & BIT(VUP_PF_REPLY_ACK)))
		return;
	struct vup_hdr plain = v->hdr;
	plain.flags &= ~VUP_FLAG_NEED_REPLY;
	if (vup_proto_expect(v->type, &plain, neg) != VUP_EXPECT_YES)
		return;
	vup__check_add(out, c, VUP_CHECK_NEED_REPLY_HAS_REPLY, v, frame,
	               "NEED_REPLY set (flags 0x%x) on %s, which is answered "
	               "anyway: one reply, no ack, will come",
	               v->hdr.flags, v->type->name);
}

void vup__check_rows(struct vup_checker *c, const struct vup_model *m,
                     const struct vup_view *v, uint64_t frame,
                     struct vup_check_findings *out)
{
	need_reply_has_reply(c, m, v, frame, out);
	switch (v->hdr.request) {
	case VUP_REQ_SET_VRING_NUM: vring_num(c, m, v, frame, out); break;
	case VUP_REQ_GET_PROTOCOL_FEATURES:
	case VUP_REQ_SET_PROTOCOL_FEATURES:
		unadvertised(c, m, v, frame, out);
		break;
	case VUP_REQ_SET_VRING_ENABLE:
		enable_no_protocol(c, m, v, frame, out);
		break;
	case VUP_REQ_SET_FEATURES:
		features_while_running(c, m, v, frame, out);
		break;
	default: break;
	}
}
