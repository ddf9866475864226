/* rules: the YAML layer.  libyaml's event API builds a small tree of our
 * own, so that aliases can be refused and duplicate keys reported (the
 * document API accepts both silently).  libyaml does not type scalars:
 * numbers and booleans are parsed here, strictly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "internal.h"

/* ---- the tree ---- */

void vup__yfree(struct vup_ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		vup__yfree(n->kid[i]);
	free(n->kid);
	free(n->s);
	free(n);
}

const char *vup__ykind_name(const struct vup_ynode *n)
{
	if (!n)
		return "nothing";
	switch (n->kind) {
	case VUP_Y_MAP: return "a mapping";
	case VUP_Y_SEQ: return "a list";
	default:
		if (n->len == 0)
			return n->plain ? "nothing" : "an empty string";
		return "a scalar";
	}
}

static int attach(struct vup_ynode *parent, struct vup_ynode *n)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct vup_ynode **k = realloc(parent->kid, cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		parent->kid = k;
		parent->cap = cap;
	}
	parent->kid[parent->n++] = n;
	return 0;
}

static struct vup_ynode *node_new(enum vup_ykind kind, const yaml_mark_t *m)
{
	struct vup_ynode *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->kind = kind;
	n->line = (unsigned)m->line;
	n->col = (unsigned)m->column;
	return n;
}

/* The line and column (in characters) of a byte offset. */
static void offset_mark(const struct vup_rctx *c, size_t off, unsigned *line,
                        unsigned *col)
{
	*line = *col = 0;
	for (size_t i = 0; i < off && i < c->len; i++) {
		unsigned char ch = (unsigned char)c->text[i];
		if (ch == '\n') {
			(*line)++;
			*col = 0;
		} else if ((ch & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

static void syntax_error(struct vup_rctx *c, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "syntax error";
	unsigned line, col;
	switch (p->error) {
	case YAML_MEMORY_ERROR:
		vup__rdiag_add(c, c->err, 0, 0, "out of memory");
		return;
	case YAML_READER_ERROR:
		offset_mark(c, p->problem_offset, &line, &col);
		if (p->problem_value != -1)
			vup__rdiag_add(c, c->err, line, col,
			               "%s (byte 0x%x at offset %zu)", problem,
			               (unsigned)p->problem_value,
			               p->problem_offset);
		else
			vup__rdiag_add(c, c->err, line, col, "%s", problem);
		return;
	default:
		line = (unsigned)p->problem_mark.line;
		col = (unsigned)p->problem_mark.column;
		if (p->context)
			vup__rdiag_add(c, c->err, line, col,
			               "%s (%s at %zu:%zu)", problem,
			               p->context, p->context_mark.line + 1,
			               p->context_mark.column + 1);
		else
			vup__rdiag_add(c, c->err, line, col, "%s", problem);
	}
}

static bool same_key(const struct vup_ynode *a, const struct vup_ynode *b)
{
	return a->kind == VUP_Y_SCALAR && b->kind == VUP_Y_SCALAR &&
	       a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

static void check_duplicates(struct vup_rctx *c, const struct vup_ynode *map)
{
	for (size_t i = 2; i < map->n; i += 2) {
		for (size_t j = 0; j < i; j += 2) {
			if (!same_key(map->kid[i], map->kid[j]))
				continue;
			vup__rerr(c, map->kid[i],
			          "duplicate key '%s' (first at %u:%u)",
			          map->kid[i]->s, map->kid[j]->line + 1,
			          map->kid[j]->col + 1);
			break;
		}
	}
}

static int on_event(struct vup_rctx *c, const yaml_event_t *ev,
                    struct vup_ynode **stack, unsigned *depth,
                    struct vup_ynode **root, unsigned *docs)
{
	struct vup_ynode *n = NULL;
	const yaml_mark_t *m = &ev->start_mark;
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1) {
			vup__rdiag_add(c, c->err, (unsigned)m->line,
			               (unsigned)m->column,
			               "only one YAML document is allowed");
			return -EINVAL;
		}
		return 0;
	case YAML_ALIAS_EVENT:
		vup__rdiag_add(c, c->err, (unsigned)m->line,
		               (unsigned)m->column,
		               "aliases (*%s) are not supported: write the "
		               "value out",
		               (const char *)ev->data.alias.anchor);
		return -EINVAL;
	case YAML_SCALAR_EVENT:
		n = node_new(VUP_Y_SCALAR, m);
		if (!n)
			return -ENOMEM;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		n->len = ev->data.scalar.length;
		n->s = malloc(n->len + 1);
		if (!n->s) {
			free(n);
			return -ENOMEM;
		}
		memcpy(n->s, ev->data.scalar.value, n->len);
		n->s[n->len] = '\0';
		if (memchr(n->s, '\0', n->len)) {
			vup__rerr(c, n, "NUL character in a string");
			vup__yfree(n);
			return -EINVAL;
		}
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (*depth >= VUP_RULES_MAX_DEPTH) {
			vup__rdiag_add(c, c->err, (unsigned)m->line,
			               (unsigned)m->column,
			               "nested more than %d levels deep",
			               VUP_RULES_MAX_DEPTH);
			return -EINVAL;
		}
		n = node_new(ev->type == YAML_MAPPING_START_EVENT ? VUP_Y_MAP
		                                                  : VUP_Y_SEQ,
		             m);
		if (!n)
			return -ENOMEM;
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (*depth == 0)
			return 0;
		n = stack[--*depth];
		if (n->kind == VUP_Y_MAP)
			check_duplicates(c, n);
		return 0;
	default: return 0;
	}
	if (*depth == 0) {
		if (*root) { /* cannot happen with one document */
			vup__yfree(n);
			return -EINVAL;
		}
		*root = n;
	} else if (attach(stack[*depth - 1], n) < 0) {
		vup__yfree(n);
		return -ENOMEM;
	}
	if (n->kind != VUP_Y_SCALAR)
		stack[(*depth)++] = n;
	return 0;
}

int vup__ytree(struct vup_rctx *c, struct vup_ynode **root)
{
	yaml_parser_t p;
	struct vup_ynode *stack[VUP_RULES_MAX_DEPTH];
	unsigned depth = 0, docs = 0;
	int rc = 0;
	*root = NULL;
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)c->text,
	                             c->len);
	for (bool done = false; !done && rc == 0;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p, &ev)) {
			syntax_error(c, &p);
			rc = p.error == YAML_MEMORY_ERROR ? -ENOMEM : -EINVAL;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = on_event(c, &ev, stack, &depth, root, &docs);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (rc) {
		vup__yfree(*root);
		*root = NULL;
	}
	return rc;
}

/* ---- scalars ---- */

static bool scalar(struct vup_rctx *c, const struct vup_ynode *n,
                   const char *what, const char *expect)
{
	if (n && n->kind == VUP_Y_SCALAR && n->len > 0)
		return true;
	vup__rerr(c, n, "%s: expected %s, got %s", what, expect,
	          vup__ykind_name(n));
	return false;
}

bool vup__yu64(struct vup_rctx *c, const struct vup_ynode *n, const char *what,
               uint64_t max, uint64_t *out)
{
	if (!scalar(c, n, what, "a number"))
		return false;
	const char *s = n->s;
	int base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	bool digits = base == 16 ? (*s >= '0' && *s <= '9') ||
	                                   (*s >= 'a' && *s <= 'f') ||
	                                   (*s >= 'A' && *s <= 'F')
	                         : *s >= '0' && *s <= '9';
	char *end;
	errno = 0;
	unsigned long long v = digits ? strtoull(s, &end, base) : 0;
	if (!digits || *end != '\0') {
		vup__rerr(c, n, "%s: expected a number, got '%s'", what, n->s);
		return false;
	}
	if (errno == ERANGE || v > max) {
		vup__rerr(c, n, "%s: %s is out of range (at most %llu)", what,
		          n->s, (unsigned long long)max);
		return false;
	}
	*out = v;
	return true;
}

bool vup__ybool(struct vup_rctx *c, const struct vup_ynode *n, const char *what,
                bool *out)
{
	if (!scalar(c, n, what, "true or false"))
		return false;
	if (strcmp(n->s, "true") == 0 || strcmp(n->s, "false") == 0) {
		*out = n->s[0] == 't';
		return true;
	}
	vup__rerr(c, n, "%s: expected true or false, got '%s'", what, n->s);
	return false;
}

bool vup__ystr(struct vup_rctx *c, const struct vup_ynode *n, const char *what,
               const char **out)
{
	if (!scalar(c, n, what, "a string"))
		return false;
	*out = n->s;
	return true;
}

bool vup__ymap(struct vup_rctx *c, const struct vup_ynode *n, const char *what,
               const char *const *names, size_t count,
               const struct vup_ynode **keys, const struct vup_ynode **vals)
{
	for (size_t i = 0; i < count; i++)
		keys[i] = vals[i] = NULL;
	if (!n || n->kind != VUP_Y_MAP) {
		vup__rerr(c, n, "%s: expected a mapping, got %s", what,
		          vup__ykind_name(n));
		return false;
	}
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct vup_ynode *k = n->kid[i];
		if (k->kind != VUP_Y_SCALAR) {
			vup__rerr(c, k, "%s: keys must be plain words, not %s",
			          what, vup__ykind_name(k));
			continue;
		}
		size_t j = 0;
		while (j < count && strcmp(names[j], k->s) != 0)
			j++;
		if (j == count) {
			char list[256] = "";
			size_t len = 0;
			for (size_t m = 0; m < count && len < sizeof(list);
			     m++) {
				int w = snprintf(list + len, sizeof(list) - len,
				                 "%s%s", m ? ", " : "",
				                 names[m]);
				if (w < 0)
					break;
				len += (size_t)w;
			}
			vup__rerr(c, k, "unknown key '%s' in %s (expected %s)",
			          k->s, what, list);
			continue;
		}
		if (!keys[j]) { /* a duplicate was reported by the tree */
			keys[j] = k;
			vals[j] = n->kid[i + 1];
		}
	}
	return true; /* go on with the keys we know */
}
