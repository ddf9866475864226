/* rules: diagnostics.  Each is "file:line:col: reason" followed by the
 * offending line and a caret under the column (netplan style); they are
 * collected, then rendered in file order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void vup__rdiag_free(struct vup_rdiag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->e[i].text);
	free(d->e);
	free(d->buf);
	memset(d, 0, sizeof(*d));
}

/* A piece of text being built. */
struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sput(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static int by_position(const void *x, const void *y)
{
	const struct vup_rdiag_entry *a = x, *b = y;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

const char *vup__rdiag_text(struct vup_rdiag *d)
{
	struct sbuf b = {0};
	if (d->n > 1)
		qsort(d->e, d->n, sizeof(*d->e), by_position);
	for (size_t i = 0; i < d->n; i++)
		sput(&b, d->e[i].text, strlen(d->e[i].text));
	if (d->count > d->n) {
		char more[64];
		snprintf(more, sizeof(more), "(%u more not shown)\n",
		         d->count - (unsigned)d->n);
		sput(&b, more, strlen(more));
	}
	free(d->buf);
	d->buf = b.oom ? NULL : b.s;
	if (b.oom)
		free(b.s);
	d->len = d->buf ? b.len : 0;
	return d->buf ? d->buf : "";
}

/* The source line (0-based), without its line break. */
static const char *source_line(const struct vup_rctx *c, unsigned line,
                               size_t *n)
{
	const char *p = c->text, *end = c->text + c->len;
	for (unsigned i = 0; i < line && p < end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return NULL;
		p = nl + 1;
	}
	if (p >= end && line > 0)
		return NULL;
	if (line == 0 && end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3; /* a byte order mark is not a column */
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	*n = (size_t)((nl ? nl : end) - p);
	if (*n && p[*n - 1] == '\r')
		(*n)--;
	return p;
}

#define SHOW_MAX 240 /* bytes of a long line shown */

/* Length of the valid UTF-8 character at p, 0 if it is none. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len = p[0] < 0x80   ? 1
	             : p[0] < 0xc2 ? 0
	             : p[0] < 0xe0 ? 2
	             : p[0] < 0xf0 ? 3
	             : p[0] < 0xf5 ? 4
	                           : 0;
	if (len == 0 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* Append the character at p (len from utf8_len) as shown: control
 * characters and bad UTF-8 as '?', tabs kept. */
static size_t show_char(char *out, const unsigned char *p, size_t len)
{
	if (len == 0 ||
	    (len == 1 && p[0] != '\t' && (p[0] < 0x20 || p[0] == 0x7f))) {
		out[0] = '?';
		return 1;
	}
	memcpy(out, p, len);
	return len;
}

/* The line, and a caret under column col (in characters; tabs copied so
 * that it lines up); no caret when col lies beyond what is shown. */
static void quote_line(struct vup_rctx *c, struct sbuf *d, unsigned line,
                       unsigned col)
{
	size_t n;
	const char *p = source_line(c, line, &n);
	if (!p)
		return;
	char show[SHOW_MAX + 8], caret[SHOW_MAX + 8];
	size_t si = 0, ci = 0, i = 0, chars = 0;
	while (i < n && si + 4 < SHOW_MAX) {
		const unsigned char *u = (const unsigned char *)p + i;
		size_t len = utf8_len(u, n - i);
		if (chars++ < col)
			caret[ci++] = u[0] == '\t' ? '\t' : ' ';
		si += show_char(show + si, u, len);
		i += len ? len : 1;
	}
	sput(d, "    ", 4);
	sput(d, show, si);
	sput(d, "\n", 1);
	if (ci == col) {
		caret[ci++] = '^';
		sput(d, "    ", 4);
		sput(d, caret, ci);
		sput(d, "\n", 1);
	}
}

__attribute__((format(printf, 5, 0))) static void
vadd(struct vup_rctx *c, struct vup_rdiag *d, unsigned line, unsigned col,
     const char *fmt, va_list ap)
{
	if (!d)
		return;
	d->count++;
	if (d->n >= VUP_RULES_MAX_DIAGS)
		return;
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 8;
		struct vup_rdiag_entry *e = realloc(d->e, cap * sizeof(*e));
		if (!e)
			return;
		d->e = e;
		d->cap = cap;
	}
	char head[1024];
	int k = snprintf(head, sizeof(head), "%s:%u:%u: ", c->name, line + 1,
	                 col + 1);
	if (k < 0 || (size_t)k >= sizeof(head))
		k = 0;
	vsnprintf(head + k, sizeof(head) - (size_t)k, fmt, ap);
	struct sbuf b = {0};
	sput(&b, head, strlen(head));
	sput(&b, "\n", 1);
	quote_line(c, &b, line, col);
	if (b.oom) {
		free(b.s);
		return;
	}
	d->e[d->n].line = line;
	d->e[d->n].col = col;
	d->e[d->n].seq = (unsigned)d->n;
	d->e[d->n].text = b.s;
	d->n++;
}

void vup__rdiag_add(struct vup_rctx *c, struct vup_rdiag *d, unsigned line,
                    unsigned col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(c, d, line, col, fmt, ap);
	va_end(ap);
}

void vup__rerr(struct vup_rctx *c, const struct vup_ynode *n, const char *fmt,
               ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(c, c->err, n ? n->line : 0, n ? n->col : 0, fmt, ap);
	va_end(ap);
}

void vup__rwarn(struct vup_rctx *c, const struct vup_ynode *n, const char *fmt,
                ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(c, c->warn, n ? n->line : 0, n ? n->col : 0, fmt, ap);
	va_end(ap);
}
