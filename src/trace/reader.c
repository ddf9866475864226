/* reader: inflates a gzip stream (or reads a plain file) into a buffer,
 * then pcapng blocks out of it.  A truncated gzip stream or a block cut in
 * the middle is reported as TRUNCATED after every whole block was
 * returned, as tshark does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "vuproxy/reader.h"

#define MAX_IFACES 65536

struct iface {
	uint16_t linktype;
	uint32_t snaplen;
	bool continued; /* opt_comment VUP_IDB_CONTINUED */
	char name[256];
};

/* pcapng option codes read here. */
#define OPT_COMMENT      1
#define IF_NAME          2
#define EPB_FLAGS        2
#define SHB_USERAPPL     4
#define ISB_STARTTIME    2
#define ISB_ENDTIME      3
#define ISB_IFRECV       4
#define ISB_IFDROP       5
#define ISB_FILTERACCEPT 6
#define ISB_OSDROP       7
#define ISB_USRDELIV     8

struct vup_reader {
	FILE *f;
	enum { FMT_UNKNOWN, FMT_GZIP, FMT_PLAIN } fmt;
	z_stream z;
	bool z_open;
	uint8_t in[16384];
	bool corrupt;     /* the compressed data is damaged (not just cut) */
	bool vuproxy_shb; /* a section says shb_userappl "vuproxy" */
	char section_comment[256]; /* the last section's opt_comment */
	struct vup_buf buf;
	size_t off;        /* parse position in buf */
	uint64_t consumed; /* bytes of the stream before buf[0] */
	bool eof;
	bool gz_error;
	char gz_msg[128];
	bool in_section;
	bool swapped;
	bool want_stats;
	struct iface *ifaces;
	size_t nifaces;
	char comment[VUP_ISB_COMMENT_MAX];
};

int vup_reader_open(const char *path, struct vup_reader **out, char *err,
                    size_t errlen)
{
	struct vup_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->f = fopen(path, "rbe");
	if (!r->f) {
		int e = errno ? errno : ENOMEM;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		free(r);
		return -e;
	}
	/* Never a NULL buffer, even before the first read. */
	if (vup_buf_reserve(&r->buf, 65536)) {
		snprintf(err, errlen, "%s: out of memory", path);
		fclose(r->f);
		free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

void vup_reader_close(struct vup_reader *r)
{
	if (!r)
		return;
	if (r->z_open)
		inflateEnd(&r->z);
	fclose(r->f);
	vup_buf_free(&r->buf);
	free(r->ifaces);
	free(r);
}

void vup_reader_want_stats(struct vup_reader *r, bool on)
{
	r->want_stats = on;
}

const char *vup_reader_section_comment(const struct vup_reader *r)
{
	return r->section_comment[0] ? r->section_comment : NULL;
}

bool vup_reader_vuproxy(const struct vup_reader *r)
{
	return r->vuproxy_shb;
}

uint64_t vup_reader_offset(const struct vup_reader *r)
{
	return r->consumed + r->off;
}

static void gz_error(struct vup_reader *r, bool corrupt, const char *msg)
{
	r->eof = true;
	r->gz_error = true;
	r->corrupt = corrupt;
	snprintf(r->gz_msg, sizeof(r->gz_msg), "%s", msg);
}

/* Inflate more of a gzip stream into buf.  Output produced before a data
 * error is kept (gzread would drop it), and concatenated gzip members are
 * read one after the other, as gzip does. */
static bool inflate_more(struct vup_reader *r)
{
	for (;;) {
		if (r->z.avail_in == 0) {
			size_t n = fread(r->in, 1, sizeof(r->in), r->f);
			if (n == 0) {
				gz_error(r, false, "unexpected end of file");
				return false;
			}
			r->z.next_in = r->in;
			r->z.avail_in = (uInt)n;
		}
		r->z.next_out = r->buf.data + r->buf.len;
		r->z.avail_out = 65536;
		int rc = inflate(&r->z, Z_NO_FLUSH);
		size_t got = 65536 - r->z.avail_out;
		r->buf.len += got;
		if (rc == Z_STREAM_END) {
			/* Another member may follow. */
			int c = r->z.avail_in ? 0 : getc(r->f);
			if (c == EOF) {
				r->eof = true;
				return got > 0;
			}
			if (!r->z.avail_in)
				ungetc(c, r->f);
			inflateReset(&r->z);
		} else if (rc != Z_OK && rc != Z_BUF_ERROR) {
			gz_error(r, true,
			         r->z.msg ? r->z.msg : "inflate error");
			return got > 0;
		}
		if (got)
			return true;
	}
}

/* Read more of the stream; false at its end (or on a gzip error). */
static bool fill(struct vup_reader *r)
{
	if (r->eof)
		return false;
	if (r->off) { /* drop what was parsed */
		memmove(r->buf.data, r->buf.data + r->off, r->buf.len - r->off);
		r->buf.len -= r->off;
		r->consumed += r->off;
		r->off = 0;
	}
	if (vup_buf_reserve(&r->buf, 65536))
		return false;
	if (r->fmt == FMT_UNKNOWN) {
		/* gzip or plain pcapng, told by the magic, not the name */
		int c1 = getc(r->f), c2 = c1 == EOF ? EOF : getc(r->f);
		if (c2 != EOF)
			ungetc(c2, r->f);
		if (c1 != EOF)
			ungetc(c1, r->f);
		r->fmt = c1 == 0x1f && c2 == 0x8b ? FMT_GZIP : FMT_PLAIN;
		if (r->fmt == FMT_GZIP) {
			if (inflateInit2(&r->z, 15 + 16) != Z_OK) {
				gz_error(r, true, "inflateInit2 failed");
				return false;
			}
			r->z_open = true;
		}
	}
	if (r->fmt == FMT_GZIP)
		return inflate_more(r);
	size_t n = fread(r->buf.data + r->buf.len, 1, 65536, r->f);
	r->buf.len += n;
	if (n == 0)
		r->eof = true;
	return n > 0;
}

static uint32_t rd32(const struct vup_reader *r, const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return r->swapped ? __builtin_bswap32(v) : v;
}

static uint16_t rd16(const struct vup_reader *r, const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return r->swapped ? __builtin_bswap16(v) : v;
}

static uint64_t rd64(const struct vup_reader *r, const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return r->swapped ? __builtin_bswap64(v) : v;
}

/* A pcapng timestamp: two u32 words, high first, each in section order. */
static uint64_t rd_ts(const struct vup_reader *r, const uint8_t *p)
{
	return (uint64_t)rd32(r, p) << 32 | rd32(r, p + 4);
}

/* Walk the options in opt[0..len): calls fn for each whole option until
 * opt_endofopt, the end, or an option that overruns the list (the rest is
 * ignored: options are untrusted and only ever informative here). */
static void
walk_options(const struct vup_reader *r, const uint8_t *opt, size_t len,
             void (*fn)(const struct vup_reader *r, uint16_t code,
                        const uint8_t *val, uint16_t vlen, void *arg),
             void *arg)
{
	while (len >= 4) {
		uint16_t code = rd16(r, opt), olen = rd16(r, opt + 2);
		size_t padded = (olen + 3u) & ~(size_t)3;
		if (code == 0 || padded > len - 4)
			return;
		fn(r, code, opt + 4, olen, arg);
		opt += 4 + padded;
		len -= 4 + padded;
	}
}

struct isb_ctx {
	struct vup_isb_stats *st;
	char *comment; /* room for cap bytes */
	size_t cap;
	bool have_comment;
};

static void isb_option(const struct vup_reader *r, uint16_t code,
                       const uint8_t *val, uint16_t vlen, void *arg)
{
	struct isb_ctx *c = arg;
	struct vup_isb_stats *st = c->st;
	uint64_t *to;
	uint32_t bit;
	switch (code) {
	case OPT_COMMENT:
		if (c->have_comment)
			return; /* the first one */
		size_t n = vlen < c->cap - 1 ? vlen : c->cap - 1;
		memcpy(c->comment, val, n);
		c->comment[n] = '\0';
		c->have_comment = true;
		return;
	case ISB_STARTTIME: to = &st->start_ns, bit = VUP_ISB_HAS_START; break;
	case ISB_ENDTIME: to = &st->end_ns, bit = VUP_ISB_HAS_END; break;
	case ISB_IFRECV: to = &st->ifrecv, bit = VUP_ISB_HAS_IFRECV; break;
	case ISB_IFDROP: to = &st->ifdrop, bit = VUP_ISB_HAS_IFDROP; break;
	case ISB_FILTERACCEPT:
		to = &st->filteraccept, bit = VUP_ISB_HAS_FILTERACCEPT;
		break;
	case ISB_OSDROP: to = &st->osdrop, bit = VUP_ISB_HAS_OSDROP; break;
	case ISB_USRDELIV:
		to = &st->usrdeliv, bit = VUP_ISB_HAS_USRDELIV;
		break;
	default: return;
	}
	if (vlen != 8)
		return; /* a malformed value is not a value */
	*to = code == ISB_STARTTIME || code == ISB_ENDTIME ? rd_ts(r, val)
	                                                   : rd64(r, val);
	st->has |= bit;
}

static void idb_option(const struct vup_reader *r, uint16_t code,
                       const uint8_t *val, uint16_t vlen, void *arg)
{
	(void)r;
	struct iface *f = arg;
	if (code == OPT_COMMENT && vlen == strlen(VUP_IDB_CONTINUED) &&
	    !memcmp(val, VUP_IDB_CONTINUED, vlen))
		f->continued = true;
	if (code != IF_NAME || f->name[0])
		return;
	size_t n = vlen < sizeof(f->name) - 1 ? vlen : sizeof(f->name) - 1;
	memcpy(f->name, val, n);
	f->name[n] = '\0';
}

static void epb_option(const struct vup_reader *r, uint16_t code,
                       const uint8_t *val, uint16_t vlen, void *arg)
{
	if (code == EPB_FLAGS && vlen == 4)
		*(uint32_t *)arg = rd32(r, val);
}

static void shb_option(const struct vup_reader *r, uint16_t code,
                       const uint8_t *val, uint16_t vlen, void *arg)
{
	struct vup_reader *w = arg; /* r, writable */
	(void)r;
	if (code == SHB_USERAPPL && vlen >= 7 && memcmp(val, "vuproxy", 7) == 0)
		w->vuproxy_shb = true;
	if (code == OPT_COMMENT) {
		size_t n = vlen < sizeof(w->section_comment) - 1
		                   ? vlen
		                   : sizeof(w->section_comment) - 1;
		memcpy(w->section_comment, val, n);
		w->section_comment[n] = '\0';
	}
}

static void set_iface(const struct vup_reader *r, struct vup_record *rec)
{
	rec->linktype = r->ifaces[rec->ifid].linktype;
	rec->ifname = r->ifaces[rec->ifid].name;
	rec->snaplen = r->ifaces[rec->ifid].snaplen;
	rec->continued = r->ifaces[rec->ifid].continued;
}

/* An Interface Statistics Block: u32 interface id, u64 timestamp, then
 * options. */
static enum vup_read_status stats_block(struct vup_reader *r,
                                        const struct pcapng_block *b,
                                        struct vup_record *rec, char *err,
                                        size_t errlen)
{
	if (b->body_len < 12) {
		snprintf(err, errlen, "interface statistics block too short");
		return VUP_READ_CORRUPT;
	}
	rec->ifid = rd32(r, b->body);
	if (rec->ifid >= r->nifaces) {
		snprintf(err, errlen,
		         "interface statistics name interface %u of %zu",
		         rec->ifid, r->nifaces);
		return VUP_READ_CORRUPT;
	}
	rec->kind = VUP_REC_STATS;
	set_iface(r, rec);
	rec->ts_ns = rd_ts(r, b->body + 4);
	rec->epb_flags = 0;
	rec->data = NULL;
	rec->caplen = rec->origlen = 0;
	rec->isb = (struct vup_isb_stats){0};
	struct isb_ctx c = {&rec->isb, r->comment, sizeof(r->comment), false};
	walk_options(r, b->body + 12, b->body_len - 12, isb_option, &c);
	rec->comment = c.have_comment ? r->comment : NULL;
	return VUP_READ_RECORD;
}

static enum vup_read_status block(struct vup_reader *r,
                                  const struct pcapng_block *b,
                                  struct vup_record *rec, char *err,
                                  size_t errlen)
{
	if (b->type == PCAPNG_SHB) {
		uint32_t magic;
		memcpy(&magic, b->body, 4);
		r->swapped = magic != PCAPNG_BYTE_ORDER_MAGIC;
		r->in_section = true;
		r->nifaces = 0; /* interface ids restart in each section */
		/* shb_userappl names the writer */
		if (b->body_len > 16)
			walk_options(r, b->body + 16, b->body_len - 16,
			             shb_option, r);
		return 2;
	}
	if (!r->in_section) {
		snprintf(err, errlen, "not a pcapng file (no section header)");
		return VUP_READ_CORRUPT;
	}
	if (b->type == PCAPNG_IDB) {
		if (b->body_len < 8 || r->nifaces == MAX_IFACES) {
			snprintf(err, errlen,
			         "bad interface description block");
			return VUP_READ_CORRUPT;
		}
		struct iface *f =
		        realloc(r->ifaces, (r->nifaces + 1) * sizeof(*f));
		if (!f) {
			snprintf(err, errlen, "out of memory");
			return VUP_READ_CORRUPT;
		}
		r->ifaces = f;
		struct iface *nf = &f[r->nifaces];
		nf->linktype = rd16(r, b->body);
		nf->snaplen = rd32(r, b->body + 4);
		nf->name[0] = '\0';
		nf->continued = false;
		walk_options(r, b->body + 8, b->body_len - 8, idb_option, nf);
		r->nifaces++;
		return 2;
	}
	if (b->type == PCAPNG_ISB && r->want_stats)
		return stats_block(r, b, rec, err, errlen);
	if (b->type != PCAPNG_EPB)
		return 2; /* skip what we do not use */
	if (b->body_len < 20) {
		snprintf(err, errlen, "enhanced packet block too short");
		return VUP_READ_CORRUPT;
	}
	rec->ifid = rd32(r, b->body);
	rec->ts_ns =
	        (uint64_t)rd32(r, b->body + 4) << 32 | rd32(r, b->body + 8);
	rec->caplen = rd32(r, b->body + 12);
	rec->origlen = rd32(r, b->body + 16);
	if (rec->ifid >= r->nifaces || rec->caplen > b->body_len - 20) {
		snprintf(err, errlen,
		         "packet names interface %u of %zu, or its length %u "
		         "overruns its block",
		         rec->ifid, r->nifaces, rec->caplen);
		return VUP_READ_CORRUPT;
	}
	rec->kind = VUP_REC_PACKET;
	set_iface(r, rec);
	rec->data = b->body + 20;
	rec->epb_flags = 0;
	rec->isb = (struct vup_isb_stats){0};
	rec->comment = NULL;
	size_t padded = ((size_t)rec->caplen + 3u) & ~(size_t)3;
	if (padded < b->body_len - 20)
		walk_options(r, rec->data + padded, b->body_len - 20 - padded,
		             epb_option, &rec->epb_flags);
	return VUP_READ_RECORD;
}

enum vup_read_status vup_reader_next(struct vup_reader *r,
                                     struct vup_record *rec, char *err,
                                     size_t errlen)
{
	for (;;) {
		struct pcapng_block b;
		char berr[160];
		if (!r->in_section && r->buf.len - r->off >= 4) {
			uint32_t type;
			memcpy(&type, r->buf.data + r->off, 4);
			if (type != PCAPNG_SHB) {
				snprintf(err, errlen,
				         "not a pcapng file (it starts with "
				         "0x%08x, not a section header)",
				         type);
				return VUP_READ_CORRUPT;
			}
		}
		int rc = pcapng_next(r->buf.data + r->off, r->buf.len - r->off,
		                     r->swapped, &b, berr, sizeof(berr));
		if (rc < 0) {
			snprintf(err, errlen, "at byte %llu: %s",
			         (unsigned long long)vup_reader_offset(r),
			         berr);
			return VUP_READ_CORRUPT;
		}
		if (rc == 0) {
			if (fill(r))
				continue;
			size_t left = r->buf.len - r->off;
			if (!left && !r->gz_error &&
			    vup_reader_offset(r) == 0) {
				snprintf(err, errlen, "empty file");
				return VUP_READ_CORRUPT;
			}
			if (r->corrupt) {
				snprintf(err, errlen,
				         "damaged compressed data after byte "
				         "%llu "
				         "of the uncompressed stream: %s",
				         (unsigned long long)(vup_reader_offset(
				                                      r) +
				                              left),
				         r->gz_msg);
				return VUP_READ_CORRUPT;
			}
			if (!left && !r->gz_error)
				return VUP_READ_END;
			if (!r->in_section && vup_reader_offset(r) == 0 &&
			    !r->gz_error) {
				snprintf(err, errlen,
				         "not a pcapng file (%zu bytes)", left);
				return VUP_READ_CORRUPT;
			}
			snprintf(err, errlen,
			         "the file is cut short at byte %llu of the "
			         "uncompressed stream%s%s%s",
			         (unsigned long long)(vup_reader_offset(r) +
			                              left),
			         left ? " in the middle of a block" : "",
			         r->gz_error ? ": " : "",
			         r->gz_error ? r->gz_msg : "");
			return VUP_READ_TRUNCATED;
		}
		if (!r->in_section && b.type != PCAPNG_SHB) {
			snprintf(err, errlen, "not a pcapng file");
			return VUP_READ_CORRUPT;
		}
		r->off += b.total_len;
		enum vup_read_status st = block(r, &b, rec, err, errlen);
		if ((int)st != 2)
			return st;
	}
}
