/* finding: the bytes of a finding record (tracemsg.h), written by the
 * live checker and read by dump, check and the tests. */
#include <errno.h>
#include <string.h>

#include "vuproxy/le.h"
#include "vuproxy/tracemsg.h"

static size_t clip(const char *s, size_t len, size_t max)
{
	return s ? (len < max ? len : max) : 0;
}

int vup_finding_encode(struct vup_buf *b, const struct vup_finding_rec *f)
{
	size_t id = clip(f->id, f->id_len, 255);
	size_t rule = clip(f->rule, f->rule_len, 255);
	size_t msg = clip(f->message, f->message_len, 65535);
	size_t len = VUP_FINDING_FIXED + id + rule + msg;
	size_t padded = (len + 3) & ~(size_t)3;
	if (vup_buf_reserve(b, padded))
		return -ENOMEM;
	uint8_t *p = b->data + b->len;
	memset(p, 0, padded);
	p[0] = VUP_FINDING_MAGIC0;
	p[1] = VUP_FINDING_MAGIC1;
	p[2] = VUP_FINDING_VERSION;
	p[3] = f->severity;
	vup_put_le32(p + 4, f->session);
	vup_put_le64(p + 8, f->frame);
	vup_put_le32(p + 16, f->request);
	p[20] = f->flags;
	p[21] = (uint8_t)id;
	p[22] = (uint8_t)rule;
	vup_put_le16(p + 24, (uint16_t)msg);
	uint8_t *q = p + VUP_FINDING_FIXED;
	if (id)
		memcpy(q, f->id, id);
	if (rule)
		memcpy(q + id, f->rule, rule);
	if (msg)
		memcpy(q + id + rule, f->message, msg);
	b->len += padded;
	return 0;
}

bool vup_finding_decode(const uint8_t *p, size_t len,
                        struct vup_finding_rec *out)
{
	if (len < VUP_FINDING_FIXED || p[0] != VUP_FINDING_MAGIC0 ||
	    p[1] != VUP_FINDING_MAGIC1 || p[2] != VUP_FINDING_VERSION)
		return false;
	size_t id = p[21], rule = p[22], msg = vup_le16(p + 24);
	if (VUP_FINDING_FIXED + id + rule + msg > len)
		return false;
	const char *text = (const char *)p + VUP_FINDING_FIXED;
	*out = (struct vup_finding_rec){
	        .severity = p[3],
	        .session = vup_le32(p + 4),
	        .frame = vup_le64(p + 8),
	        .request = vup_le32(p + 16),
	        .flags = p[20],
	        .id = text,
	        .id_len = id,
	        .rule = text + id,
	        .rule_len = rule,
	        .message = text + id + rule,
	        .message_len = msg,
	};
	return true;
}

const char *vup_finding_severity_name(unsigned severity)
{
	static const char *const names[] = {"info", "warning", "error"};
	return severity < sizeof(names) / sizeof(names[0]) ? names[severity]
	                                                   : NULL;
}
