/* pcapng blocks and the vuproxy pseudo-header; see include/vuproxy/pcapng.h.
 * Layouts follow the IETF pcapng draft (draft-ietf-opsawg-pcapng). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vuproxy/le.h"
#include "vuproxy/pcapng.h"

#define OPT_ENDOFOPT   0
#define OPT_COMMENT    1
#define SHB_USERAPPL   4
#define IF_NAME        2
#define IF_DESCRIPTION 3
#define IF_TSRESOL     9
#define EPB_FLAGS      2
#define ISB_STARTTIME  2
#define ISB_ENDTIME    3
#define ISB_IFRECV     4
#define ISB_IFDROP     5
#define ISB_OSDROP     7
#define ISB_USRDELIV   8

int vup_buf_reserve(struct vup_buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more)
		cap *= 2;
	uint8_t *d = realloc(b->data, cap);
	if (!d)
		return -ENOMEM;
	b->data = d;
	b->cap = cap;
	return 0;
}

void vup_buf_free(struct vup_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static void put(struct vup_buf *b, const void *p, size_t n)
{
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void put32(struct vup_buf *b, uint32_t v)
{
	put(b, &v, 4);
}

static void put16(struct vup_buf *b, uint16_t v)
{
	put(b, &v, 2);
}

static void zeros(struct vup_buf *b, size_t n)
{
	memset(b->data + b->len, 0, n);
	b->len += n;
}

static size_t opt_size(size_t len)
{
	return 4 + pad4(len);
}

static void opt(struct vup_buf *b, uint16_t code, const void *v, size_t len)
{
	put16(b, code);
	put16(b, (uint16_t)len);
	put(b, v, len);
	zeros(b, pad4(len) - len);
}

static size_t str_opt_size(const char *s)
{
	return s && *s ? opt_size(strnlen(s, 65535)) : 0;
}

static void str_opt(struct vup_buf *b, uint16_t code, const char *s)
{
	if (s && *s)
		opt(b, code, s, strnlen(s, 65535));
}

/* Start a block of body size n (already padded): type and total length. */
static size_t begin(struct vup_buf *b, uint32_t type, size_t body)
{
	uint32_t total = (uint32_t)(12 + body);
	put32(b, type);
	put32(b, total);
	return total;
}

/* Timestamps are two u32 words, high first, in block and option alike. */
static void put_ts(struct vup_buf *b, uint64_t ts_ns)
{
	put32(b, (uint32_t)(ts_ns >> 32));
	put32(b, (uint32_t)ts_ns);
}

static void opt_u64(struct vup_buf *b, uint16_t code, uint64_t v)
{
	opt(b, code, &v, 8);
}

static void opt_ts(struct vup_buf *b, uint16_t code, uint64_t ts_ns)
{
	put16(b, code);
	put16(b, 8);
	put_ts(b, ts_ns);
}

int pcapng_shb(struct vup_buf *b, const char *app)
{
	return pcapng_shb_note(b, app, NULL);
}

int pcapng_shb_note(struct vup_buf *b, const char *app, const char *comment)
{
	size_t body = 16 + str_opt_size(comment) + str_opt_size(app) + 4;
	if (vup_buf_reserve(b, 12 + body))
		return -ENOMEM;
	uint32_t total = (uint32_t)begin(b, PCAPNG_SHB, body);
	put32(b, PCAPNG_BYTE_ORDER_MAGIC);
	put16(b, 1);
	put16(b, 0);
	int64_t section_len = -1; /* streaming: unknown */
	put(b, &section_len, 8);
	str_opt(b, OPT_COMMENT, comment);
	str_opt(b, SHB_USERAPPL, app);
	opt(b, OPT_ENDOFOPT, NULL, 0);
	put32(b, total);
	return 0;
}

int pcapng_idb(struct vup_buf *b, uint16_t linktype, uint32_t snaplen,
               const char *name, const char *description)
{
	return pcapng_idb_note(b, linktype, snaplen, name, description, NULL);
}

int pcapng_idb_note(struct vup_buf *b, uint16_t linktype, uint32_t snaplen,
                    const char *name, const char *description,
                    const char *comment)
{
	uint8_t tsresol = 9; /* nanoseconds */
	size_t body = 8 + str_opt_size(comment) + str_opt_size(name) +
	              str_opt_size(description) + opt_size(1) + 4;
	if (vup_buf_reserve(b, 12 + body))
		return -ENOMEM;
	uint32_t total = (uint32_t)begin(b, PCAPNG_IDB, body);
	put16(b, linktype);
	put16(b, 0);
	put32(b, snaplen);
	str_opt(b, OPT_COMMENT, comment);
	str_opt(b, IF_NAME, name);
	str_opt(b, IF_DESCRIPTION, description);
	opt(b, IF_TSRESOL, &tsresol, 1);
	opt(b, OPT_ENDOFOPT, NULL, 0);
	put32(b, total);
	return 0;
}

int pcapng_epb(struct vup_buf *b, uint32_t ifid, uint64_t ts_ns,
               const void *data, uint32_t caplen, uint32_t origlen,
               uint32_t flags, const char *comment)
{
	size_t body =
	        20 + pad4(caplen) + opt_size(4) + str_opt_size(comment) + 4;
	if (vup_buf_reserve(b, 12 + body))
		return -ENOMEM;
	uint32_t total = (uint32_t)begin(b, PCAPNG_EPB, body);
	put32(b, ifid);
	put_ts(b, ts_ns);
	put32(b, caplen);
	put32(b, origlen);
	put(b, data, caplen);
	zeros(b, pad4(caplen) - caplen);
	opt(b, EPB_FLAGS, &flags, 4);
	str_opt(b, OPT_COMMENT, comment);
	opt(b, OPT_ENDOFOPT, NULL, 0);
	put32(b, total);
	return 0;
}

int pcapng_isb(struct vup_buf *b, uint32_t ifid, uint64_t ts_ns,
               const struct pcapng_isb *s, const char *comment)
{
	size_t body = 12 + 6 * opt_size(8) + str_opt_size(comment) + 4;
	if (vup_buf_reserve(b, 12 + body))
		return -ENOMEM;
	uint32_t total = (uint32_t)begin(b, PCAPNG_ISB, body);
	put32(b, ifid);
	put_ts(b, ts_ns);
	opt_ts(b, ISB_STARTTIME, s->start_ns);
	opt_ts(b, ISB_ENDTIME, ts_ns);
	opt_u64(b, ISB_IFRECV, s->ifrecv);
	opt_u64(b, ISB_IFDROP, s->ifdrop);
	opt_u64(b, ISB_OSDROP, s->osdrop);
	opt_u64(b, ISB_USRDELIV, s->usrdeliv);
	str_opt(b, OPT_COMMENT, comment);
	opt(b, OPT_ENDOFOPT, NULL, 0);
	put32(b, total);
	return 0;
}

int pcapng_isb_note(struct vup_buf *b, uint32_t ifid, uint64_t ts_ns,
                    const char *comment)
{
	size_t body = 12 + opt_size(8) + str_opt_size(comment) + 4;
	if (vup_buf_reserve(b, 12 + body))
		return -ENOMEM;
	uint32_t total = (uint32_t)begin(b, PCAPNG_ISB, body);
	put32(b, ifid);
	put_ts(b, ts_ns);
	opt_ts(b, ISB_ENDTIME, ts_ns);
	str_opt(b, OPT_COMMENT, comment);
	opt(b, OPT_ENDOFOPT, NULL, 0);
	put32(b, total);
	return 0;
}

static uint32_t rd32(const uint8_t *p, bool swapped)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return swapped ? __builtin_bswap32(v) : v;
}

int pcapng_next(const uint8_t *buf, size_t len, bool swapped,
                struct pcapng_block *blk, char *err, size_t errlen)
{
	if (len < 12)
		return 0;
	blk->type = rd32(buf, swapped);
	blk->total_len = rd32(buf + 4, swapped);
	if (blk->type == PCAPNG_SHB)
		/* The SHB's own byte order decides how to read its length. */
		blk->total_len = rd32(buf + 4, rd32(buf + 8, false) !=
		                                       PCAPNG_BYTE_ORDER_MAGIC);
	if (blk->total_len < 12 || blk->total_len % 4 ||
	    blk->total_len > 64u * 1024 * 1024) {
		snprintf(err, errlen, "block of type 0x%x has a bad length %u",
		         blk->type, blk->total_len);
		return -1;
	}
	if (len < blk->total_len)
		return 0;
	uint32_t trailer =
	        rd32(buf + blk->total_len - 4,
	             blk->type == PCAPNG_SHB
	                     ? rd32(buf + 8, false) != PCAPNG_BYTE_ORDER_MAGIC
	                     : swapped);
	if (trailer != blk->total_len) {
		snprintf(err, errlen,
		         "block of type 0x%x: trailing length %u differs from "
		         "%u",
		         blk->type, trailer, blk->total_len);
		return -1;
	}
	blk->body = buf + 8;
	blk->body_len = blk->total_len - 12;
	return 1;
}

/* The pseudo-header. */

const char *vup_fd_kind_name(unsigned kind)
{
	static const char *const names[] = {
#define X(id, s) s,
	        VUP_FD_KINDS(X)
#undef X
	};
	return kind < VUP_FDK_COUNT ? names[kind] : "other";
}

const char *vup_trace_action_name(unsigned action)
{
	static const char *const names[] = {
#define X(id, s) s,
	        VUP_TRACE_ACTIONS(X)
#undef X
	};
	return action < VUP_TRACE_ACT_COUNT ? names[action] : "unknown";
}

static size_t rule_len(const struct vup_trace_hdr *h)
{
	return strnlen(h->rule, 255);
}

static size_t mark_len(const struct vup_trace_hdr *h)
{
	return strnlen(h->mark, sizeof(h->mark) - 1);
}

/* Where the extensions start: after the rule name's padding. */
static size_t ext_start(const struct vup_trace_hdr *h)
{
	return pad4(VUP_TRACE_FIXED + (size_t)h->nfds * VUP_TRACE_FD_SIZE +
	            rule_len(h));
}

size_t vup_trace_hdr_size(const struct vup_trace_hdr *h)
{
	size_t ml = mark_len(h);
	return ext_start(h) + (ml ? pad4(VUP_TRACE_EXT_HDR + ml) : 0) +
	       (h->declared ? VUP_TRACE_EXT_HDR + 8 : 0);
}

void vup_trace_hdr_encode(const struct vup_trace_hdr *h, uint8_t *out)
{
	size_t size = vup_trace_hdr_size(h);
	size_t rl = rule_len(h);
	memset(out, 0, size);
	out[0] = VUP_TRACE_MAGIC0;
	out[1] = VUP_TRACE_MAGIC1;
	out[2] = VUP_TRACE_VERSION;
	out[3] = h->flags;
	vup_put_le16(out + 4, (uint16_t)size);
	out[6] = h->action;
	out[7] = h->nfds;
	vup_put_le32(out + 8, h->session);
	out[12] = (uint8_t)rl;
	uint8_t *f = out + VUP_TRACE_FIXED;
	for (unsigned i = 0; i < h->nfds; i++, f += VUP_TRACE_FD_SIZE) {
		f[0] = h->fds[i].kind;
		vup_put_le64(f + 4, h->fds[i].size);
	}
	memcpy(f, h->rule, rl);
	size_t ml = mark_len(h);
	if (ml) {
		uint8_t *e = out + ext_start(h);
		vup_put_le16(e, VUP_TRACE_EXT_MARK);
		vup_put_le16(e + 2, (uint16_t)ml);
		memcpy(e + VUP_TRACE_EXT_HDR, h->mark, ml);
	}
	if (h->declared) {
		uint8_t *e = out + size - VUP_TRACE_EXT_HDR - 8;
		vup_put_le16(e, VUP_TRACE_EXT_DECLARED);
		vup_put_le16(e + 2, 8);
		vup_put_le64(e + VUP_TRACE_EXT_HDR, h->declared_ns);
	}
}

/* Read the extensions in p[at..hlen): those this reader knows fill h,
 * the others are skipped by their length.  An area that does not parse
 * is ignored from there on: it is extra information, never the message. */
static void decode_extensions(const uint8_t *p, size_t at, size_t hlen,
                              struct vup_trace_hdr *h)
{
	while (at + VUP_TRACE_EXT_HDR <= hlen) {
		unsigned type = (unsigned)vup_le16(p + at);
		size_t len = (size_t)vup_le16(p + at + 2);
		const uint8_t *v = p + at + VUP_TRACE_EXT_HDR;
		if (len > hlen - at - VUP_TRACE_EXT_HDR)
			return;
		if (type == VUP_TRACE_EXT_MARK) {
			size_t n = len < sizeof(h->mark) - 1
			                   ? len
			                   : sizeof(h->mark) - 1;
			memcpy(h->mark, v, n);
			h->mark[n] = '\0';
		} else if (type == VUP_TRACE_EXT_DECLARED && len >= 8) {
			h->declared = true;
			h->declared_ns = vup_le64(v);
		}
		at += pad4(VUP_TRACE_EXT_HDR + len);
	}
}

int vup_trace_hdr_decode(const uint8_t *p, size_t len, struct vup_trace_hdr *h,
                         char *err, size_t errlen)
{
	if (len < VUP_TRACE_FIXED || p[0] != VUP_TRACE_MAGIC0 ||
	    p[1] != VUP_TRACE_MAGIC1) {
		snprintf(err, errlen, "no vuproxy pseudo-header");
		return -1;
	}
	if (p[2] != VUP_TRACE_VERSION) {
		snprintf(err, errlen,
		         "pseudo-header version %u; this vuproxy reads version "
		         "%u",
		         p[2], VUP_TRACE_VERSION);
		return -2;
	}
	memset(h, 0, sizeof(*h));
	size_t hlen = (size_t)vup_le16(p + 4);
	h->flags = p[3];
	h->action = p[6];
	h->nfds = p[7];
	h->session = vup_le32(p + 8);
	size_t rl = p[12];
	size_t need =
	        VUP_TRACE_FIXED + (size_t)h->nfds * VUP_TRACE_FD_SIZE + rl;
	if (hlen < need || hlen > len) {
		snprintf(err, errlen,
		         "pseudo-header length %zu does not fit %u fds and a "
		         "%zu-byte rule name in %zu bytes",
		         hlen, h->nfds, rl, len);
		return -1;
	}
	const uint8_t *f = p + VUP_TRACE_FIXED;
	for (unsigned i = 0; i < h->nfds; i++, f += VUP_TRACE_FD_SIZE) {
		h->fds[i].kind = f[0];
		h->fds[i].size = vup_le64(f + 4);
	}
	memcpy(h->rule, f, rl);
	h->rule[rl] = '\0';
	decode_extensions(p, pad4(need), hlen, h);
	return (int)hlen;
}

void vup_fd_describe(int fd, struct vup_fd_info *out)
{
	struct stat st;
	out->kind = VUP_FDK_OTHER;
	out->size = 0;
	if (fstat(fd, &st) < 0)
		return;
	if (S_ISSOCK(st.st_mode)) {
		out->kind = VUP_FDK_SOCKET;
		return;
	}
	if (S_ISFIFO(st.st_mode)) {
		out->kind = VUP_FDK_PIPE;
		return;
	}
	char path[64], target[PATH_MAX];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = '\0';
	if (strcmp(target, "anon_inode:[eventfd]") == 0) {
		out->kind = VUP_FDK_EVENTFD;
		return;
	}
	if (S_ISREG(st.st_mode)) {
		out->size = (uint64_t)st.st_size;
		if (strncmp(target, "/memfd:", 7) == 0)
			out->kind = VUP_FDK_MEMFD;
		else if (strncmp(target, "/dev/shm/", 9) == 0)
			out->kind = VUP_FDK_SHM;
		else
			out->kind = VUP_FDK_FILE;
	}
}
