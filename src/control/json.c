/* json: the reader (RFC 8259, iterative, bounded).  The writer is in
 * json_write.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_utf8.h"
#include "vuproxy/json.h"

enum state { VALUE, VALUE_OR_END, KEY_OR_END, KEY, COLON, COMMA_OR_END, DONE };

struct jp {
	struct vup_json_doc *d;
	const char *s;
	size_t len, pos;
	char *err;
	size_t errlen;
	int stack[VUP_JSON_DEPTH_MAX];
	int last[VUP_JSON_DEPTH_MAX]; /* last child of each open container */
	int depth;
};

static int fail(struct jp *p, const char *what)
{
	if (p->pos >= p->len)
		snprintf(p->err, p->errlen,
		         "bad JSON at byte %zu: unexpected end of input (%s)",
		         p->pos, what);
	else
		snprintf(p->err, p->errlen, "bad JSON at byte %zu: %s", p->pos,
		         what);
	return -EINVAL;
}

static int add_node(struct jp *p, enum vup_json_type type)
{
	struct vup_json_doc *d = p->d;
	if (d->count >= VUP_JSON_NODES_MAX) {
		snprintf(p->err, p->errlen,
		         "bad JSON at byte %zu: more than %u values", p->pos,
		         VUP_JSON_NODES_MAX);
		return -E2BIG;
	}
	if (d->count == d->cap) {
		unsigned cap = d->cap ? d->cap * 2 : 16;
		struct vup_json_node *n = realloc(d->n, cap * sizeof(*n));
		if (!n) {
			snprintf(p->err, p->errlen, "out of memory");
			return -ENOMEM;
		}
		d->n = n;
		d->cap = cap;
	}
	int i = (int)d->count++;
	d->n[i] = (struct vup_json_node){.type = (uint8_t)type,
	                                 .start = (uint32_t)p->pos,
	                                 .child = -1,
	                                 .next = -1};
	if (p->depth > 0) {
		int top = p->depth - 1, parent = p->stack[top];
		if (p->last[top] < 0)
			d->n[parent].child = i;
		else
			d->n[p->last[top]].next = i;
		p->last[top] = i;
	}
	return i;
}

static int scan_string(struct jp *p)
{
	size_t i = p->pos + 1;
	while (i < p->len) {
		unsigned char c = (unsigned char)p->s[i];
		if (c == '"')
			return (int)(i + 1 - p->pos);
		if (c < 0x20) {
			p->pos = i;
			return fail(p, "control character in a string");
		}
		if (c == '\\') {
			if (i + 1 >= p->len)
				break;
			char e = p->s[i + 1];
			if (e == 'u') {
				for (int k = 2; k < 6; k++)
					if (i + k >= p->len ||
					    vup__hexval(p->s[i + k]) < 0) {
						p->pos = i;
						return fail(p,
						            "bad \\u escape");
					}
				i += 6;
				continue;
			}
			if (!strchr("\"\\/bfnrt", e) || !e) {
				p->pos = i;
				return fail(p, "bad escape in a string");
			}
			i += 2;
			continue;
		}
		size_t n = vup__utf8_seq(p->s + i, p->len - i);
		if (!n) {
			p->pos = i;
			return fail(p, "invalid UTF-8 in a string");
		}
		i += n;
	}
	p->pos = p->len;
	return fail(p, "unterminated string");
}

static size_t digits(const char *s, size_t i, size_t len)
{
	size_t k = i;
	while (k < len && s[k] >= '0' && s[k] <= '9')
		k++;
	return k - i;
}

static int scan_number(struct jp *p)
{
	const char *s = p->s;
	size_t i = p->pos, len = p->len;
	if (i < len && s[i] == '-')
		i++;
	size_t n = digits(s, i, len);
	if (!n || (n > 1 && s[i] == '0')) {
		p->pos = i;
		return fail(p, n ? "leading zero in a number" : "bad number");
	}
	i += n;
	if (i < len && s[i] == '.') {
		if (!(n = digits(s, ++i, len))) {
			p->pos = i;
			return fail(p, "bad fraction in a number");
		}
		i += n;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		if (++i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (!(n = digits(s, i, len))) {
			p->pos = i;
			return fail(p, "bad exponent in a number");
		}
		i += n;
	}
	return (int)(i - p->pos);
}

/* A value starts at p->pos: a scalar is consumed; a container is
 * opened.  Returns the next state, or a negative error. */
static int value(struct jp *p)
{
	static const struct {
		const char *word;
		enum vup_json_type type;
	} lits[] = {{"null", VUP_JSON_NULL},
	            {"true", VUP_JSON_TRUE},
	            {"false", VUP_JSON_FALSE}};
	if (p->pos >= p->len)
		return fail(p, "a value expected");
	char c = p->s[p->pos];
	int len = 0, i;
	enum vup_json_type type;
	if (c == '{' || c == '[') {
		if (p->depth >= VUP_JSON_DEPTH_MAX)
			return fail(p, "nested deeper than 32 levels");
		type = c == '{' ? VUP_JSON_OBJECT : VUP_JSON_ARRAY;
		if ((i = add_node(p, type)) < 0)
			return i;
		p->stack[p->depth] = i;
		p->last[p->depth++] = -1;
		p->pos++;
		return c == '{' ? KEY_OR_END : VALUE_OR_END;
	}
	if (c == '"') {
		type = VUP_JSON_STRING;
		len = scan_string(p);
	} else if (c == '-' || (c >= '0' && c <= '9')) {
		type = VUP_JSON_NUMBER;
		len = scan_number(p);
	} else {
		type = VUP_JSON_NULL;
		for (size_t k = 0; k < 3 && !len; k++) {
			size_t wl = strlen(lits[k].word);
			if (p->len - p->pos >= wl &&
			    memcmp(p->s + p->pos, lits[k].word, wl) == 0) {
				type = lits[k].type;
				len = (int)wl;
			}
		}
		if (!len) {
			char what[48];
			unsigned char uc = (unsigned char)c;
			if (uc >= 0x20 && uc < 0x7f)
				snprintf(what, sizeof(what), "unexpected '%c'",
				         c);
			else
				snprintf(what, sizeof(what),
				         "unexpected byte 0x%02x", uc);
			return fail(p, what);
		}
	}
	if (len < 0)
		return len;
	if ((i = add_node(p, type)) < 0)
		return i;
	p->d->n[i].len = (uint32_t)len;
	p->pos += (size_t)len;
	return p->depth ? COMMA_OR_END : DONE;
}

static int close_container(struct jp *p)
{
	int i = p->stack[--p->depth];
	p->d->n[i].len = (uint32_t)(p->pos + 1 - p->d->n[i].start);
	p->pos++;
	return p->depth ? COMMA_OR_END : DONE;
}

static bool top_is(const struct jp *p, enum vup_json_type t)
{
	return p->d->n[p->stack[p->depth - 1]].type == t;
}

static int step(struct jp *p, int state)
{
	char c = p->pos < p->len ? p->s[p->pos] : '\0';
	switch (state) {
	case VALUE_OR_END:
		if (c == ']')
			return close_container(p);
		/* fall through */
	case VALUE: {
		bool in_array = p->depth && top_is(p, VUP_JSON_ARRAY);
		int next = value(p);
		if (next >= 0 && in_array)
			p->d->n[p->stack[p->depth - 1 -
			                 (next == KEY_OR_END ||
			                  next == VALUE_OR_END)]]
			        .count++;
		return next;
	}
	case KEY_OR_END:
		if (c == '}')
			return close_container(p);
		/* fall through */
	case KEY: {
		if (c != '"')
			return fail(p, "a member name (a string) expected");
		p->d->n[p->stack[p->depth - 1]].count++;
		int rc = value(p);
		return rc < 0 ? rc : COLON;
	}
	case COLON:
		if (c != ':')
			return fail(p, "':' expected after a member name");
		p->pos++;
		return VALUE;
	case COMMA_OR_END:
		if (c == ',') {
			p->pos++;
			return top_is(p, VUP_JSON_OBJECT) ? KEY : VALUE;
		}
		if (c == (top_is(p, VUP_JSON_OBJECT) ? '}' : ']'))
			return close_container(p);
		return fail(p, top_is(p, VUP_JSON_OBJECT)
		                       ? "',' or '}' expected"
		                       : "',' or ']' expected");
	}
	return fail(p, "trailing bytes after the value");
}

int vup_json_parse(struct vup_json_doc *d, const char *text, size_t len,
                   char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->text = text;
	d->len = len;
	if (len > UINT32_MAX / 2) {
		snprintf(err, errlen, "JSON text too long");
		return -E2BIG;
	}
	struct jp p = {
	        .d = d, .s = text, .len = len, .err = err, .errlen = errlen};
	int state = VALUE;
	for (;;) {
		while (p.pos < len && strchr(" \t\r\n", text[p.pos]) &&
		       text[p.pos])
			p.pos++;
		if (state == DONE && p.pos == len)
			return 0;
		state = step(&p, state);
		if (state < 0) {
			vup_json_doc_free(d);
			d->text = text;
			d->len = len;
			return state;
		}
	}
}

void vup_json_doc_free(struct vup_json_doc *d)
{
	free(d->n);
	d->n = NULL;
	d->count = d->cap = 0;
}

const char *vup_json_type_name(enum vup_json_type t)
{
	static const char *const names[] = {
	        "null", "false", "true", "number", "string", "array", "object"};
	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

int vup_json_get(const struct vup_json_doc *d, int obj, const char *key)
{
	if (obj < 0 || (unsigned)obj >= d->count ||
	    d->n[obj].type != VUP_JSON_OBJECT)
		return -1;
	char buf[256];
	for (int k = d->n[obj].child; k >= 0;) {
		int v = d->n[k].next;
		if (vup_json_string(d, k, buf, sizeof(buf), NULL) == 0 &&
		    strcmp(buf, key) == 0)
			return v;
		k = d->n[v].next;
	}
	return -1;
}

int vup_json_string(const struct vup_json_doc *d, int i, char *out, size_t cap,
                    size_t *len)
{
	if (i < 0 || (unsigned)i >= d->count ||
	    d->n[i].type != VUP_JSON_STRING || !cap)
		return -EINVAL;
	const char *s = d->text + d->n[i].start + 1;
	size_t n = d->n[i].len - 2;
	int rc = vup__json_unescape(s, n, out, cap, len);
	return rc;
}

int vup_json_int(const struct vup_json_doc *d, int i, int64_t *out)
{
	if (i < 0 || (unsigned)i >= d->count || d->n[i].type != VUP_JSON_NUMBER)
		return -EINVAL;
	const char *s = d->text + d->n[i].start;
	size_t n = d->n[i].len;
	char buf[32];
	if (memchr(s, '.', n) || memchr(s, 'e', n) || memchr(s, 'E', n))
		return -EINVAL;
	if (n >= sizeof(buf))
		return -ERANGE;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	long long v = strtoll(buf, NULL, 10);
	if (errno)
		return -ERANGE;
	*out = v;
	return 0;
}
