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
	char name[256];
};

struct vup_reader {
	FILE *f;
	enum { FMT_UNKNOWN, FMT_GZIP, FMT_PLAIN } fmt;
	z_stream z;
	bool z_open;
	uint8_t in[16384];
	bool corrupt;     /* the compressed data is damaged (not just cut) */
	bool vuproxy_shb; /* a section says shb_userappl "vuproxy" */
	struct vup_buf buf;
	size_t off;        /* parse position in buf */
	uint64_t consumed; /* bytes of the stream before buf[0] */
	bool eof;
	bool gz_error;
	char gz_msg[128];
	bool in_section;
	bool swapped;
	struct iface *ifaces;
	size_t nifaces;
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

/* if_name (option 2) of an IDB, if any. */
static void idb_name(const struct vup_reader *r, const uint8_t *opt, size_t len,
                     char *name, size_t cap)
{
	name[0] = '\0';
	while (len >= 4) {
		uint16_t code = rd16(r, opt), olen = rd16(r, opt + 2);
		size_t padded = (olen + 3u) & ~3u;
		if (code == 0 || 4 + padded > len)
			return;
		if (code == 2) {
			size_t n = olen < cap - 1 ? olen : cap - 1;
			memcpy(name, opt + 4, n);
			name[n] = '\0';
			return;
		}
		opt += 4 + padded;
		len -= 4 + padded;
	}
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
		/* shb_userappl (option 4) names the writer */
		for (size_t o = 16; o + 4 <= b->body_len;) {
			uint16_t code = rd16(r, b->body + o);
			uint16_t olen = rd16(r, b->body + o + 2);
			if (code == 0 || o + 4 + olen > b->body_len)
				break;
			if (code == 4 && olen >= 7 &&
			    memcmp(b->body + o + 4, "vuproxy", 7) == 0)
				r->vuproxy_shb = true;
			o += 4 + ((olen + 3u) & ~3u);
		}
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
		f[r->nifaces].linktype = rd16(r, b->body);
		idb_name(r, b->body + 8, b->body_len - 8, f[r->nifaces].name,
		         sizeof(f[r->nifaces].name));
		r->nifaces++;
		return 2;
	}
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
	rec->linktype = r->ifaces[rec->ifid].linktype;
	rec->ifname = r->ifaces[rec->ifid].name;
	rec->data = b->body + 20;
	rec->epb_flags = 0;
	const uint8_t *opt = rec->data + ((rec->caplen + 3u) & ~3u);
	size_t left = b->body_len - 20 - ((rec->caplen + 3u) & ~3u);
	while (left >= 4) {
		uint16_t code = rd16(r, opt), olen = rd16(r, opt + 2);
		size_t padded = (olen + 3u) & ~3u;
		if (code == 0 || 4 + padded > left)
			break;
		if (code == 2 && olen == 4)
			rec->epb_flags = rd32(r, opt + 4);
		opt += 4 + padded;
		left -= 4 + padded;
	}
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
