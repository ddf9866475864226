/* Validation of messages against the catalogue, and the reply rule.
 *
 * Only the version bits and the 4 KiB payload limit make a message
 * impossible to relay (VUP_PC_REFUSE).  Everything else checked here (the
 * REPLY flag against the sender's role, the payload size
 * against the request's bounds, the inner sizes a payload declares, the
 * fd count) is the receiver's to judge: the caller relays it and reports
 * the problem, and refuses it only with --strict (see VUP_PROBLEMS).
 * Unknown request codes are not checked beyond the header: a newer peer
 * must pass through unchanged.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vuproxy/proto.h"

static const struct {
	const char *name;
	enum vup_problem_class cls;
} problems[VUP_PROBLEM_COUNT] = {[VUP_PROBLEM_NONE] = {"none", VUP_PC_REPORT},
#define X(id, str, c) [VUP_PROBLEM_##id] = {str, VUP_PC_##c},
                                 VUP_PROBLEMS(X)
#undef X
};

const char *vup_problem_name(enum vup_problem p)
{
	return (unsigned)p < VUP_PROBLEM_COUNT ? problems[p].name : "?";
}

enum vup_problem_class vup_problem_class(enum vup_problem p)
{
	return (unsigned)p < VUP_PROBLEM_COUNT ? problems[p].cls
	                                       : VUP_PC_REFUSE;
}

bool vup_problem_refused(enum vup_problem p, bool strict)
{
	if (p == VUP_PROBLEM_NONE)
		return false;
	enum vup_problem_class c = vup_problem_class(p);
	return c == VUP_PC_REFUSE || (strict && c == VUP_PC_STRICT);
}

static bool has_pf(const struct vup_negotiated *neg, int bit)
{
	return neg && bit >= 0 && (neg->protocol_features >> bit & 1);
}

bool vup_proto_is_responder(enum vup_chan chan, enum vup_side from)
{
	/* Main channel: the back-end answers; back-end channel: the
	 * front-end answers. */
	return chan == VUP_CHAN_MAIN ? from == VUP_BACKEND
	                             : from == VUP_FRONTEND;
}

__attribute__((format(printf, 4, 5))) static enum vup_problem
problem(enum vup_problem p, char *why, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (why && len)
		vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return p;
}

/* The header's checks, with the request's catalogue row (NULL unknown). */
static enum vup_problem check_header(const struct vup_hdr *h,
                                     const struct vup_msg_type *t,
                                     enum vup_chan chan, enum vup_side from,
                                     char *why, size_t whylen)
{
	if (why && whylen)
		why[0] = '\0';
	const char *sender = vup_side_name(from);
	if ((h->flags & VUP_FLAG_VERSION_MASK) != VUP_FLAG_VERSION)
		return problem(VUP_PROBLEM_VERSION, why, whylen,
		               "bad version %u in flags 0x%x (want 1)",
		               h->flags & VUP_FLAG_VERSION_MASK, h->flags);
	if (h->size > VUP_MAX_PAYLOAD)
		return problem(VUP_PROBLEM_PAYLOAD_LIMIT, why, whylen,
		               "payload size %u over the %u-byte limit",
		               h->size, VUP_MAX_PAYLOAD);
	bool reply = h->flags & VUP_FLAG_REPLY;
	bool responder = vup_proto_is_responder(chan, from);
	if (responder && !reply)
		return problem(VUP_PROBLEM_ROLE, why, whylen,
		               "%s sent a request on the %s channel, where it "
		               "may only reply (flags 0x%x)",
		               sender, vup_chan_name(chan), h->flags);
	if (!responder && reply)
		return problem(VUP_PROBLEM_ROLE, why, whylen,
		               "REPLY flag set on a request from the %s "
		               "(flags 0x%x)",
		               sender, h->flags);
	if (t) {
		unsigned max = responder ? t->rep_max : t->req_max;
		if (h->size > max)
			return problem(VUP_PROBLEM_SIZE, why, whylen,
			               "payload size %u over the bound %u for "
			               "this %s",
			               h->size, max,
			               responder ? "reply" : "request");
	}
	return VUP_PROBLEM_NONE;
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
static enum vup_problem check_layout(enum vup_layout l, const struct vup_hdr *h,
                                     const uint8_t *p,
                                     const struct vup_negotiated *neg,
                                     char *why, size_t whylen)
{
	uint32_t rsz = vup_mem_region_size(neg);
	enum vup_problem bad = VUP_PROBLEM_LAYOUT;
	switch (l) {
	case VUP_L_MEM_TABLE: {
		if (h->size == 0) /* empty echo/ack forms */
			return VUP_PROBLEM_NONE;
		uint32_t n = get_u32(p, h->size, 0);
		if (n > VUP_MEM_TABLE_MAX_REGIONS)
			return problem(bad, why, whylen,
			               "declares %u memory regions, at most %u",
			               n, VUP_MEM_TABLE_MAX_REGIONS);
		if (h->size != 8 + n * rsz)
			return problem(bad, why, whylen,
			               "size %u does not fit %u regions of %u "
			               "bytes (want %u)",
			               h->size, n, rsz, 8 + n * rsz);
		return VUP_PROBLEM_NONE;
	}
	case VUP_L_MEM_REG:
		if (h->size != 0 && h->size != 8 + rsz)
			return problem(bad, why, whylen,
			               "size %u, want %u for one region",
			               h->size, 8 + rsz);
		return VUP_PROBLEM_NONE;
	case VUP_L_CONFIG: {
		if (h->size == 0)
			return VUP_PROBLEM_NONE;
		uint32_t off = get_u32(p, h->size, 0);
		uint32_t n = get_u32(p, h->size, 4);
		if (h->size != 12 + (uint64_t)n)
			return problem(bad, why, whylen,
			               "declares %u config bytes in a %u-byte "
			               "payload (want 12 + size)",
			               n, h->size);
		if ((uint64_t)off + n > VUP_CONFIG_SPACE_MAX)
			return problem(bad, why, whylen,
			               "config offset %u + size %u past the "
			               "%u-byte config space",
			               off, n, VUP_CONFIG_SPACE_MAX);
		return VUP_PROBLEM_NONE;
	}
	case VUP_L_SHMEM_CONFIG: {
		uint32_t n = get_u32(p, h->size, 0);
		if (n > 256 || h->size < 8 + 8 * n)
			return problem(
			        bad, why, whylen,
			        "declares %u regions in a %u-byte payload", n,
			        h->size);
		return VUP_PROBLEM_NONE;
	}
	default: return VUP_PROBLEM_NONE;
	}
}

static enum vup_problem check_fds(enum vup_fd_rule rule,
                                  const struct vup_hdr *h, const uint8_t *p,
                                  unsigned nfds, bool reply, char *why,
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
	default: return VUP_PROBLEM_NONE;
	}
	if (nfds >= want_min && nfds <= want_max)
		return VUP_PROBLEM_NONE;
	if (want_min == want_max)
		return problem(VUP_PROBLEM_FDS, why, whylen,
		               "%s carries %u fds, want %u",
		               reply ? "reply" : "request", nfds, want_min);
	return problem(VUP_PROBLEM_FDS, why, whylen,
	               "%s carries %u fds, want %u to %u",
	               reply ? "reply" : "request", nfds, want_min, want_max);
}

enum vup_problem vup_proto_check_header(const struct vup_hdr *h,
                                        enum vup_chan chan, enum vup_side from,
                                        char *why, size_t whylen)
{
	return check_header(h, vup_proto_lookup(chan, h->request), chan, from,
	                    why, whylen);
}

/* The whole message, with its catalogue row (NULL unknown). */
static enum vup_problem check(const struct vup_hdr *h,
                              const struct vup_msg_type *t,
                              const uint8_t *payload, unsigned nfds,
                              enum vup_chan chan, enum vup_side from,
                              const struct vup_negotiated *neg, char *why,
                              size_t whylen)
{
	enum vup_problem p = check_header(h, t, chan, from, why, whylen);
	if (p)
		return p;
	if (!t)
		return VUP_PROBLEM_NONE;
	bool reply = vup_proto_is_responder(chan, from);
	unsigned min = reply ? t->rep_min : t->req_min;
	if (h->size < min)
		return problem(VUP_PROBLEM_SIZE, why, whylen,
		               "payload size %u under the %u bytes this %s "
		               "needs",
		               h->size, min, reply ? "reply" : "request");
	enum vup_layout l = vup_msg_layout(t, h, neg);
	p = check_layout(l, h, payload, neg, why, whylen);
	if (p)
		return p;
	/* An ack in place of a request (postcopy) carries no fd. */
	enum vup_fd_rule fds = reply            ? t->rep_fds
	                       : l == VUP_L_ACK ? VUP_FD_NONE
	                                        : t->req_fds;
	return check_fds(fds, h, payload, nfds, reply, why, whylen);
}

enum vup_problem vup_proto_check(const struct vup_hdr *h,
                                 const uint8_t *payload, unsigned nfds,
                                 enum vup_chan chan, enum vup_side from,
                                 const struct vup_negotiated *neg, char *why,
                                 size_t whylen)
{
	return check(h, vup_proto_lookup(chan, h->request), payload, nfds, chan,
	             from, neg, why, whylen);
}

enum vup_problem vup_proto_check_view(const struct vup_view *v,
                                      const struct vup_negotiated *neg,
                                      char *why, size_t whylen)
{
	return check(&v->hdr, v->type, v->payload, v->nfds, v->chan, v->from,
	             neg, why, whylen);
}

enum vup_expect vup_proto_reply_expected(const struct vup_hdr *h,
                                         enum vup_chan chan,
                                         const struct vup_negotiated *neg)
{
	return vup_proto_expect(vup_proto_lookup(chan, h->request), h, neg);
}

enum vup_expect vup_proto_expect(const struct vup_msg_type *t,
                                 const struct vup_hdr *h,
                                 const struct vup_negotiated *neg)
{
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
	case VUP_REPLY_ACK_ANY: return need ? on_need : VUP_EXPECT_MAYBE;
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
