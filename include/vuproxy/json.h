/* json: a small JSON reader and writer for the control socket (one
 * request, reply or event per line) and its client.
 *
 * The reader turns one text into a flat array of nodes (no recursion:
 * an explicit stack, VUP_JSON_DEPTH_MAX deep at most) and refuses what
 * RFC 8259 refuses, naming the byte where it went wrong.  It is fed
 * whatever a client sends: every bound is checked, nothing is trusted.
 * Strings stay escaped in the text and are decoded on demand.
 *
 * The writer appends to a growing buffer and puts the commas itself; an
 * allocation failure is sticky and reported once at the end.
 */
#ifndef VUPROXY_JSON_H
#define VUPROXY_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VUP_JSON_DEPTH_MAX 32
#define VUP_JSON_NODES_MAX 65536u

enum vup_json_type {
	VUP_JSON_NULL,
	VUP_JSON_FALSE,
	VUP_JSON_TRUE,
	VUP_JSON_NUMBER,
	VUP_JSON_STRING,
	VUP_JSON_ARRAY,
	VUP_JSON_OBJECT,
};

/* One value.  In an object, members are a key node (a string) followed
 * by its value; next links the siblings (key to value to next key). */
struct vup_json_node {
	uint8_t type;   /* enum vup_json_type */
	uint32_t start; /* byte offset of the value (a string's quote) */
	uint32_t len;   /* bytes, quotes included */
	int32_t child;  /* first element / key; -1 none */
	int32_t next;   /* next sibling; -1 none */
	uint32_t count; /* elements, or members of an object */
};

struct vup_json_doc {
	const char *text;
	size_t len;
	struct vup_json_node *n;
	unsigned count, cap;
};

/* Parse text[0..len) (exactly one value, whitespace around it).  0, or
 * -EINVAL with "bad JSON at byte N: ..." in err (-ENOMEM, -E2BIG past
 * VUP_JSON_NODES_MAX values).  The root is node 0; d refers to text. */
int vup_json_parse(struct vup_json_doc *d, const char *text, size_t len,
                   char *err, size_t errlen);
void vup_json_doc_free(struct vup_json_doc *d);
const char *vup_json_type_name(enum vup_json_type t);

/* The value of member key of object node obj (the first if repeated),
 * or -1 (obj not an object, or no such member). */
int vup_json_get(const struct vup_json_doc *d, int obj, const char *key);
/* Decode string node i into out (NUL-terminated, cap bytes with the
 * NUL); *len (may be NULL) receives its length.  -EINVAL not a string,
 * -E2BIG does not fit, -EILSEQ it holds a NUL (\u0000). */
int vup_json_string(const struct vup_json_doc *d, int i, char *out, size_t cap,
                    size_t *len);
/* An integer number node that fits: 0, or -EINVAL (not an integer),
 * -ERANGE. */
int vup_json_int(const struct vup_json_doc *d, int i, int64_t *out);

/* The writer.  oom: out of memory (or misuse); the text is then
 * incomplete. */
struct vup_jw {
	char *buf;
	size_t len, cap;
	bool oom;
	int depth;
	bool first[VUP_JSON_DEPTH_MAX + 1];  /* nothing written at this level */
	char closer[VUP_JSON_DEPTH_MAX + 1]; /* '}' or ']' by level */
	bool after_key;
};

void vup_jw_init(struct vup_jw *w);
void vup_jw_free(struct vup_jw *w);
void vup_jw_reset(struct vup_jw *w);
void vup_jw_obj(struct vup_jw *w); /* { */
void vup_jw_arr(struct vup_jw *w); /* [ */
void vup_jw_end(struct vup_jw *w); /* } or ] */
void vup_jw_key(struct vup_jw *w, const char *key);
void vup_jw_str(struct vup_jw *w, const char *s);
void vup_jw_strn(struct vup_jw *w, const char *s, size_t n);
void vup_jw_int(struct vup_jw *w, int64_t v);
void vup_jw_uint(struct vup_jw *w, uint64_t v);
void vup_jw_hex(struct vup_jw *w, uint64_t v); /* "0x..." */
void vup_jw_bool(struct vup_jw *w, bool v);
void vup_jw_null(struct vup_jw *w);
/* Bytes appended as they are, outside the JSON structure (a buffer of
 * lines). */
void vup_jw_bytes(struct vup_jw *w, const char *s, size_t n);
/* An already valid JSON value, copied as is. */
void vup_jw_raw(struct vup_jw *w, const char *json, size_t n);
/* A time as RFC 3339 UTC with nanoseconds, as a string. */
void vup_jw_time(struct vup_jw *w, uint64_t wall_ns);
/* key: value shorthands. */
void vup_jw_kstr(struct vup_jw *w, const char *key, const char *s);
void vup_jw_kuint(struct vup_jw *w, const char *key, uint64_t v);
void vup_jw_khex(struct vup_jw *w, const char *key, uint64_t v);
void vup_jw_kbool(struct vup_jw *w, const char *key, bool v);

#endif
