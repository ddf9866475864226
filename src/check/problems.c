/* problems: one message's problems (problems.h), for the relay's flow
 * and the checker alike. */
#include <stdio.h>

#include "vuproxy/check.h"
#include "vuproxy/problems.h"

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
	for (unsigned i = 0; i < fs->n; i++) {
		enum vup_check_id row;
		if (!vup_check_problem_row(fs->f[i].kind, fs->chan, &row))
			continue;
		enum vup_check_refusal r = vup_check_refusal(row);
		if (r == VUP_REFUSE_ALWAYS ||
		    (strict && r == VUP_REFUSE_STRICT))
			return &fs->f[i];
	}
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

void vup_problems_find(const struct vup_model *m, const struct vup_view *v,
                       struct vup_findings *out)
{
	out->n = 0;
	out->chan = v->chan;
	char why[sizeof(out->f[0].why)];
	const struct vup_hdr *h = &v->hdr;
	enum vup_problem p =
	        vup_proto_check_view(v, vup_model_neg(m), why, sizeof(why));
	/* QEMU acks a postcopy echo with the echo's own header
	 * (vhost_user_set_mem_table_postcopy writes back msg_reply): its
	 * REPLY flag is the peers' usage, not a broken role. */
	if (p == VUP_PROBLEM_ROLE && (h->flags & VUP_FLAG_REPLY) &&
	    vup_model_echo_ack(m, v))
		p = VUP_PROBLEM_NONE;
	if (p) {
		FINDING(out, p, "%s", why);
		if (vup_problem_class(p) == VUP_PC_REFUSE)
			return; /* never relayed: nothing to account for */
	}
	/* Beside whatever else is wrong: libvhost-user echoes it on every
	 * reply, which must not hide the checks of the payload. */
	if ((h->flags & VUP_FLAG_REPLY) && (h->flags & VUP_FLAG_NEED_REPLY) &&
	    v->reply)
		FINDING(out, VUP_PROBLEM_NEED_REPLY_ON_REPLY,
		        "NEED_REPLY set on a reply (flags 0x%x)", h->flags);
	if (h->flags & ~VUP_FLAG_KNOWN)
		FINDING(out, VUP_PROBLEM_RESERVED_FLAGS,
		        "reserved flag bits 0x%x set",
		        h->flags & ~VUP_FLAG_KNOWN);
	if (!v->type)
		FINDING(out, VUP_PROBLEM_UNKNOWN_REQUEST,
		        "unknown request code %u on the %s channel", h->request,
		        vup_chan_name(v->chan));
	/* The sender's role says what the message is; its flags are the
	 * receiver's to judge. */
	p = vup_model_pairing(m, v, why, sizeof(why));
	if (p)
		FINDING(out, p, "%s", why);
}
