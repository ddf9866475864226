/* Validation of messages against the catalogue, and the reply rule.
 *
 * What is checked, and why it is safe to refuse: the version bits, the
 * REPLY flag against the direction, the payload size against the bounds of
 * the request (every real peer drops the connection on these too), the fd
 * count the request carries, and the inner sizes a payload declares (memory
 * regions, config bytes).  Unknown request codes are not checked beyond the
 * header: a newer peer must pass through unchanged.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vuproxy/proto.h"

static bool has_pf(const struct vup_negotiated *neg, int bit)
{
	return neg && bit >= 0 && (neg->protocol_features >> bit & 1);
}

static bool is_reply_side(enum vup_chan chan, enum vup_side from)
{
	/* Main channel: the back-end answers; back-end channel: the
	 * front-end answers. */
	return chan == VUP_CHAN_MAIN ? from == VUP_BACKEND
	                             : from == VUP_FRONTEND;
}

__attribute__((format(printf, 3, 4))) static int fail(char *why, size_t len,
                                                      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (why && len)
		vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EPROTO;
}

int vup_proto_check_header(const struct vup_hdr *h, enum vup_chan chan,
                           enum vup_side from, char *why, size_t whylen)
{
	const char *sender = vup_side_name(from);
	if ((h->flags & VUP_FLAG_VERSION_MASK) != VUP_FLAG_VERSION)
		return fail(why, whylen,
		            "bad version %u in flags 0x%x (want 1)",
		            h->flags & VUP_FLAG_VERSION_MASK, h->flags);
	bool reply = h->flags & VUP_FLAG_REPLY;
	if (is_reply_side(chan, from) && !reply)
		return fail(why, whylen,
		            "%s sent a request on the %s channel, where it may "
		            "only reply (flags 0x%x)",
		            sender, vup_chan_name(chan), h->flags);
	if (!is_reply_side(chan, from) && reply)
		return fail(
		        why, whylen,
		        "REPLY flag set on a request from the %s (flags 0x%x)",
		        sender, h->flags);
	if (reply && (h->flags & VUP_FLAG_NEED_REPLY))
		return fail(why, whylen,
		            "NEED_REPLY set on a reply (flags 0x%x)", h->flags);
	if (h->size > VUP_MAX_PAYLOAD)
		return fail(why, whylen,
		            "payload size %u over the %u-byte limit", h->size,
		            VUP_MAX_PAYLOAD);
	const struct vup_msg_type *t = vup_proto_lookup(chan, h->request);
	if (t) {
		unsigned max = reply ? t->rep_max : t->req_max;
		if (h->size > max)
			return fail(
			        why, whylen,
			        "payload size %u over the bound %u for this %s",
			        h->size, max, reply ? "reply" : "request");
	}
	return 0;
}

static uint32_t get_u32(const uint8_t *p, uint32_t size, uint32_t off)
{
	uint32_t v = 0;
	if (off + 4 <= size)
		memcpy(&v, p + off, 4);
	return v;
}

static uint64_t get_u64(const uint8_t *p, uint32_t size, uint32_t off)
{
	uint64_t v = 0;
	if (off + 8 <= size)
		memcpy(&v, p + off, 8);
	return v;
}

/* Inner sizes a payload declares must agree with the message size. */
static int check_layout(enum vup_layout l, const struct vup_hdr *h,
                        const uint8_t *p, const struct vup_negotiated *neg,
                        char *why, size_t whylen)
{
	uint32_t rsz = has_pf(neg, VUP_PF_XEN_MMAP) ? 40 : 32;
	switch (l) {
	case VUP_L_MEM_TABLE: {
		if (h->size == 0) /* empty echo/ack forms */
			return 0;
		uint32_t n = get_u32(p, h->size, 0);
		if (n > 8)
			return fail(why, whylen,
			            "declares %u memory regions, at most 8", n);
		if (h->size != 8 + n * rsz)
			return fail(why, whylen,
			            "size %u does not fit %u regions of %u "
			            "bytes (want %u)",
			            h->size, n, rsz, 8 + n * rsz);
		return 0;
	}
	case VUP_L_MEM_REG:
		if (h->size != 0 && h->size != 8 + rsz)
			return fail(why, whylen,
			            "size %u, want %u for one region", h->size,
			            8 + rsz);
		return 0;
	case VUP_L_CONFIG: {
		if (h->size == 0)
			return 0;
		uint32_t n = get_u32(p, h->size, 4);
		if (n > 256 || h->size != 12 + n)
			return fail(why, whylen,
			            "declares %u config bytes in a %u-byte "
			            "payload (want 12 + size, size <= 256)",
			            n, h->size);
		return 0;
	}
	case VUP_L_SHMEM_CONFIG: {
		uint32_t n = get_u32(p, h->size, 0);
		if (n > 256 || h->size < 8 + 8 * n)
			return fail(why, whylen,
			            "declares %u regions in a %u-byte payload",
			            n, h->size);
		return 0;
	}
	default: return 0;
	}
}

static int check_fds(enum vup_fd_rule rule, const struct vup_hdr *h,
                     const uint8_t *p, unsigned nfds, bool reply, char *why,
                     size_t whylen)
{
	unsigned want_min, want_max;
	switch (rule) {
	case VUP_FD_NONE: want_min = want_max = 0; break;
	case VUP_FD_ONE: want_min = want_max = 1; break;
	case VUP_FD_OPTIONAL: want_min = 0, want_max = 1; break;
	case VUP_FD_VRING:
		want_min = want_max = (get_u64(p, h->size, 0) & 0x100) ? 0 : 1;
		break;
	case VUP_FD_PER_REGION:
		want_min = want_max = get_u32(p, h->size, 0);
		if (h->size < 8)
			want_min = want_max = 0;
		break;
	default: return 0;
	}
	if (nfds >= want_min && nfds <= want_max)
		return 0;
	if (want_min == want_max)
		return fail(why, whylen, "%s carries %u fds, want %u",
		            reply ? "reply" : "request", nfds, want_min);
	return fail(why, whylen, "%s carries %u fds, want %u to %u",
	            reply ? "reply" : "request", nfds, want_min, want_max);
}

int vup_proto_check(const struct vup_hdr *h, const uint8_t *payload,
                    unsigned nfds, enum vup_chan chan, enum vup_side from,
                    const struct vup_negotiated *neg, char *why, size_t whylen)
{
	int rc = vup_proto_check_header(h, chan, from, why, whylen);
	if (rc)
		return rc;
	const struct vup_msg_type *t = vup_proto_lookup(chan, h->request);
	if (!t)
		return 0;
	bool reply = h->flags & VUP_FLAG_REPLY;
	unsigned min = reply ? t->rep_min : t->req_min;
	if (h->size < min)
		return fail(why, whylen,
		            "payload size %u under the %u bytes this %s needs",
		            h->size, min, reply ? "reply" : "request");
	rc = check_layout(vup_msg_layout(t, h, neg), h, payload, neg, why,
	                  whylen);
	if (rc)
		return rc;
	return check_fds(reply ? t->rep_fds : t->req_fds, h, payload, nfds,
	                 reply, why, whylen);
}

enum vup_expect vup_proto_reply_expected(const struct vup_hdr *h,
                                         enum vup_chan chan,
                                         const struct vup_negotiated *neg)
{
	const struct vup_msg_type *t = vup_proto_lookup(chan, h->request);
	bool need = h->flags & VUP_FLAG_NEED_REPLY;
	/* NEED_REPLY is honoured only with REPLY_ACK, but some back-ends
	 * answer it regardless: without REPLY_ACK a reply may come. */
	enum vup_expect on_need = has_pf(neg, VUP_PF_REPLY_ACK)
	                                  ? VUP_EXPECT_YES
	                                  : VUP_EXPECT_MAYBE;
	if (!t)
		return VUP_EXPECT_MAYBE;
	switch (t->reply) {
	case VUP_REPLY_ALWAYS: return VUP_EXPECT_YES;
	case VUP_REPLY_FEATURE:
		if (has_pf(neg, t->reply_gate))
			return VUP_EXPECT_YES;
		return need ? on_need : VUP_EXPECT_NONE;
	case VUP_REPLY_POSTCOPY:
		if (need)
			return on_need;
		return has_pf(neg, 8) ? VUP_EXPECT_MAYBE : VUP_EXPECT_NONE;
	case VUP_REPLY_ACK:
	default: return need ? on_need : VUP_EXPECT_NONE;
	}
}

bool vup_proto_has_error_form(const struct vup_msg_type *t)
{
	if (t->reply != VUP_REPLY_ALWAYS)
		return true;
	if (t->rep_layout == VUP_L_CONFIG || t->rep_layout == VUP_L_ACK)
		return true;
	if (t->rep_layout != VUP_L_U64)
		return false;
	return strcmp(t->name, "GET_QUEUE_NUM") != 0 &&
	       strcmp(t->name, "GET_MAX_MEM_SLOTS") != 0;
}
