/* json: the writer, and the UTF-8 and escape helpers both sides share. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_utf8.h"
#include "vuproxy/json.h"

int vup__hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t vup__utf8_seq(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	if (!n)
		return 0;
	if (s[0] < 0x80)
		return 1;
	size_t len;
	uint32_t cp, min;
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, cp = s[0] & 0x1f, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, cp = s[0] & 0x0f, min = 0x800;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, cp = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static size_t put_utf8(uint32_t cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static uint32_t hex4(const char *s)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v = v << 4 | (uint32_t)vup__hexval(s[i]);
	return v;
}

/* The code point of the \u escape at s[i] (a pair when it is one); *used
 * receives the bytes it took. */
static uint32_t unicode_escape(const char *s, size_t n, size_t i, size_t *used)
{
	uint32_t cp = hex4(s + i + 2);
	*used = 6;
	if (cp >= 0xd800 && cp <= 0xdbff && i + 12 <= n && s[i + 6] == '\\' &&
	    s[i + 7] == 'u') {
		uint32_t lo = hex4(s + i + 8);
		if (lo >= 0xdc00 && lo <= 0xdfff) {
			*used = 12;
			return 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		}
	}
	return cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp;
}

int vup__json_unescape(const char *s, size_t n, char *out, size_t cap,
                       size_t *len)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		char tmp[4];
		size_t w = 1, used = 1;
		if (s[i] != '\\') {
			tmp[0] = s[i];
		} else if (s[i + 1] == 'u') {
			uint32_t cp = unicode_escape(s, n, i, &used);
			if (!cp)
				return -EILSEQ;
			w = put_utf8(cp, tmp);
		} else {
			static const char from[] = "\"\\/bfnrt",
			                  to[] = "\"\\/\b\f\n\r\t";
			tmp[0] = to[strchr(from, s[i + 1]) - from];
			used = 2;
		}
		if (o + w >= cap)
			return -E2BIG;
		memcpy(out + o, tmp, w);
		o += w;
		i += used;
	}
	out[o] = '\0';
	if (len)
		*len = o;
	return 0;
}

/* The writer. */

void vup_jw_init(struct vup_jw *w)
{
	memset(w, 0, sizeof(*w));
	w->first[0] = true;
}

void vup_jw_free(struct vup_jw *w)
{
	free(w->buf);
	vup_jw_init(w);
}

void vup_jw_reset(struct vup_jw *w)
{
	char *buf = w->buf;
	size_t cap = w->cap;
	vup_jw_init(w);
	w->buf = buf;
	w->cap = cap;
}

static void put(struct vup_jw *w, const char *s, size_t n)
{
	if (w->oom)
		return;
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < w->len + n + 1)
			cap *= 2;
		char *b = realloc(w->buf, cap);
		if (!b) {
			w->oom = true;
			return;
		}
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

/* Before a value or a key: the comma that separates it. */
static void sep(struct vup_jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (!w->first[w->depth])
		put(w, ",", 1);
	w->first[w->depth] = false;
}

static void open_c(struct vup_jw *w, char open, char close)
{
	sep(w);
	put(w, &open, 1);
	if (w->depth >= VUP_JSON_DEPTH_MAX) {
		w->oom = true; /* our own output never nests this deep */
		return;
	}
	w->closer[++w->depth] = close;
	w->first[w->depth] = true;
}

void vup_jw_obj(struct vup_jw *w)
{
	open_c(w, '{', '}');
}

void vup_jw_arr(struct vup_jw *w)
{
	open_c(w, '[', ']');
}

void vup_jw_end(struct vup_jw *w)
{
	if (w->depth <= 0) {
		w->oom = true;
		return;
	}
	put(w, &w->closer[w->depth--], 1);
}

static void put_escaped(struct vup_jw *w, const char *s, size_t n)
{
	put(w, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t k = c >= 0x80 ? vup__utf8_seq(s + i, n - i) : 1;
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(w, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(w, esc, 6);
		} else if (!k) {
			put(w, "\\ufffd",
			    6); /* not UTF-8: never invalid JSON */
			k = 1;
		} else {
			put(w, s + i, k);
		}
		i += k;
	}
	put(w, "\"", 1);
}

void vup_jw_key(struct vup_jw *w, const char *key)
{
	sep(w);
	put_escaped(w, key, strlen(key));
	put(w, ":", 1);
	w->after_key = true;
}

void vup_jw_strn(struct vup_jw *w, const char *s, size_t n)
{
	sep(w);
	put_escaped(w, s, n);
}

void vup_jw_str(struct vup_jw *w, const char *s)
{
	if (!s) {
		vup_jw_null(w);
		return;
	}
	vup_jw_strn(w, s, strlen(s));
}

static void put_num(struct vup_jw *w, const char *b, int n)
{
	sep(w);
	put(w, b, (size_t)n);
}

void vup_jw_int(struct vup_jw *w, int64_t v)
{
	char b[32];
	put_num(w, b, snprintf(b, sizeof(b), "%" PRId64, v));
}

void vup_jw_uint(struct vup_jw *w, uint64_t v)
{
	char b[32];
	put_num(w, b, snprintf(b, sizeof(b), "%" PRIu64, v));
}

void vup_jw_hex(struct vup_jw *w, uint64_t v)
{
	char b[32];
	put_num(w, b, snprintf(b, sizeof(b), "\"0x%" PRIx64 "\"", v));
}

void vup_jw_bool(struct vup_jw *w, bool v)
{
	sep(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void vup_jw_null(struct vup_jw *w)
{
	sep(w);
	put(w, "null", 4);
}

void vup_jw_bytes(struct vup_jw *w, const char *s, size_t n)
{
	put(w, s, n);
}

void vup_jw_raw(struct vup_jw *w, const char *json, size_t n)
{
	sep(w);
	put(w, json, n);
}

void vup_jw_time(struct vup_jw *w, uint64_t wall_ns)
{
	time_t t = (time_t)(wall_ns / 1000000000u);
	struct tm tm;
	gmtime_r(&t, &tm);
	char b[64];
	size_t n = strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(b + n, sizeof(b) - n, ".%09uZ",
	         (unsigned)(wall_ns % 1000000000u));
	vup_jw_str(w, b);
}

void vup_jw_kstr(struct vup_jw *w, const char *key, const char *s)
{
	vup_jw_key(w, key);
	vup_jw_str(w, s);
}
void vup_jw_kuint(struct vup_jw *w, const char *key, uint64_t v)
{
	vup_jw_key(w, key);
	vup_jw_uint(w, v);
}
void vup_jw_khex(struct vup_jw *w, const char *key, uint64_t v)
{
	vup_jw_key(w, key);
	vup_jw_hex(w, v);
}
void vup_jw_kbool(struct vup_jw *w, const char *key, bool v)
{
	vup_jw_key(w, key);
	vup_jw_bool(w, v);
}
