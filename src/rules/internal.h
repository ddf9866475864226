/* rules, private: the compiled rule set, the YAML tree the loader walks,
 * diagnostics with their source line, and what load.c, match.c and lint.c
 * share. */
#ifndef VUP_RULES_INTERNAL_H
#define VUP_RULES_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/rules.h"

/* A compiled rule set, down to struct vup_rules: opaque outside src/rules
 * (callers hold a pointer); the unit tests and the fuzz target look in. */
#define VUP_RULE_MAX_REQUESTS 32

enum vup_cmp { VUP_CMP_EQ, VUP_CMP_NE, VUP_CMP_LT, VUP_CMP_GT, VUP_CMP_MASK };

/* The field a name stands for in the layout last met (decide.c): a
 * rule meets few layouts, so the lookup by name is made once. */
struct vup_field_cache {
	int layout; /* -1: none yet */
	const struct vup_field *field;
};

struct vup_rule_field_match {
	char *name; /* as written, for messages */
	enum vup_cmp op;
	uint64_t value; /* MASK: (field & mask) == value */
	uint64_t mask;
	struct vup_field_cache cache;
};

struct vup_rule_match {
	unsigned nrequests; /* 0: any request (the list is at the end) */
	int chan;           /* -1 any, else enum vup_chan (channel:) */
	int from;           /* -1 any, else enum vup_side */
	int reply;          /* -1 any, 0 requests only, 1 replies only */
	int64_t session;    /* -1 any */
	char *socket_glob;  /* NULL any; fnmatch on either socket path */
	int64_t vring;      /* -1 any */
	struct vup_field_cache vring_cache;
	struct vup_rule_field_match *fields;
	unsigned nfields;
	uint64_t has_features;          /* virtio bits that must be set */
	uint64_t has_protocol_features; /* protocol bits that must be set */
	/* Last: decide reads it only for codes the index does not cover,
	 * and the fields above stay on one or two cache lines. */
	struct {
		enum vup_chan chan;
		uint32_t code;
	} requests[VUP_RULE_MAX_REQUESTS];
};

struct vup_rule_when {
	uint64_t nth;             /* only the nth match (1-based); 0 off */
	uint64_t first;           /* only the first N matches; 0 off */
	uint64_t every;           /* every Nth match; 0 off */
	uint64_t after;           /* only after N matches; 0 off */
	uint32_t probability_ppm; /* parts per million; 1000000 = always */
	uint64_t seed;
	bool global; /* counters shared by all sessions, else per session */
};

struct vup_rewrite {
	char *field;                           /* NULL for feature-bit edits */
	uint64_t value;                        /* field := value */
	uint64_t set_features, clear_features; /* on the feature word */
	bool protocol; /* features edits: the PROTOCOL_FEATURES word */
};

struct vup_rule {
	char *name;
	unsigned line; /* 1-based line of the rule in the file */
	struct vup_rule_match match;
	struct vup_rule_when when;
	/* PASS DROP DELAY REWRITE FAIL DISCONNECT LOG SNAPSHOT */
	enum vup_rule_action action;
	uint64_t delay_ns, jitter_ns;
	struct vup_rewrite *rewrites;
	unsigned nrewrites;
	bool fail_has_value;
	uint64_t fail_value; /* 1 unless given */
	unsigned disconnect; /* bit 0 front-end, bit 1 back-end */
	bool cont;           /* continue to later rules */
};

/* Request codes below this are indexed per channel. */
#define VUP_RULES_INDEXED 64

/* A rule in the index (decide.c): what it is checked against first, so
 * that the rules a message cannot meet cost one load each from a small
 * array rather than a walk over every (large) rule. */
struct vup_rule_key {
	uint32_t rule;   /* index in rules[] */
	int64_t session; /* -1 any */
};

/* The index's lists: per channel and (reply, sender) the rules naming
 * no request, then per channel, request code and (reply, sender) the
 * rules naming that code. */
#define VUP_RULES_LISTS (2 * 4 + 2 * VUP_RULES_INDEXED * 4)

/* A data rule (data.c): what it matches, when, and what it does. */
enum vup_data_queue { VUP_DQ_ANY, VUP_DQ_RX, VUP_DQ_TX, VUP_DQ_INDEX };
#define VUP_DATA_DEV_NET (1u << VUP_DATA_NET)
#define VUP_DATA_DEV_BLK (1u << VUP_DATA_BLK)

struct vup_data_rule {
	char *name;
	unsigned line;      /* 1-based line of the rule in the file */
	uint64_t name_hash; /* FNV-1a of name: a part of its streams' seed */
	unsigned devices;   /* VUP_DATA_DEV_* bits; both when none given */
	enum vup_data_queue queue;
	uint32_t vring;   /* VUP_DQ_INDEX */
	int64_t session;  /* -1 any */
	bool any_op;      /* else ops: */
	uint64_t ops;     /* bit t: blk request type t (t < 64) */
	bool has_sectors; /* sectors: [first, last] */
	uint64_t sector_first, sector_last;
	bool has_size; /* size: [min, max] */
	uint64_t size_min, size_max;
	struct vup_rule_when when;
	enum vup_data_action action;
	uint64_t delay_ns, jitter_ns;
	uint32_t limit;     /* DELAY on net; 0: ring-bound */
	uint8_t blk_status; /* FAIL */
	bool offset_random; /* CORRUPT, CORRUPT_READ */
	uint32_t offset;    /* else this */
	uint32_t bytes;     /* at least 1 */
};

struct vup_rules {
	char *path;
	struct vup_rule *rules;
	unsigned n;
	struct vup_data_rule *data; /* data: */
	unsigned ndata;
	uint64_t *global_count; /* per rule, matches so far (global scope) */
	unsigned generation;    /* unique to every load */
	/* The rules that can meet a message, in file order (decide.c):
	 * list j is candidates[start[j] .. start[j+1]).  A message with a
	 * higher code is tried against every rule.  With it, rules about
	 * other requests, the other direction or replies instead of
	 * requests cost nothing. */
	struct vup_rule_key *candidates;
	unsigned start[VUP_RULES_LISTS + 1];
};

/* Limits that keep hostile files cheap. */
#define VUP_RULES_MAX_FILE  (1u << 20) /* bytes */
#define VUP_RULES_MAX_DEPTH 32         /* nested collections */
#define VUP_RULES_MAX_DIAGS 100        /* errors (or warnings) reported */
#define VUP_RULES_MAX_NAME  255        /* the trace stores a u8 length */
#define VUP_RULES_MAX_DELAY (86400ull * 1000000000ull) /* 24 h in ns */
#define VUP_RULES_PPM       1000000u

/* A node of the document, built from libyaml events (aliases refused,
 * duplicate keys reported).  Marks are 0-based as libyaml gives them. */
enum vup_ykind { VUP_Y_SCALAR, VUP_Y_SEQ, VUP_Y_MAP };
struct vup_ynode {
	enum vup_ykind kind;
	unsigned line, col;
	char *s; /* scalar text, NUL-terminated (no NUL inside) */
	size_t len;
	bool plain;             /* scalar written without quotes */
	struct vup_ynode **kid; /* SEQ: items; MAP: key, value, key, ... */
	size_t n, cap;
};

/* Diagnostics, each "file:line:col: text\n" followed by the source line
 * and a caret; rendered sorted by position. */
struct vup_rdiag_entry {
	unsigned line, col, seq;
	char *text;
};
struct vup_rdiag {
	struct vup_rdiag_entry *e;
	size_t n, cap;
	unsigned count; /* problems found, reported or not */
	char *buf;      /* vup__rdiag_text */
	size_t len;
};

struct vup_rctx {
	const char *name; /* file name in messages */
	const char *text; /* the whole file */
	size_t len;
	struct vup_rdiag *err, *warn;
};

void vup__rdiag_free(struct vup_rdiag *d);
/* All entries in order of position ("" when none); owned by d. */
const char *vup__rdiag_text(struct vup_rdiag *d);
/* line and col 0-based; col counts characters. */
__attribute__((format(printf, 5, 6))) void
vup__rdiag_add(struct vup_rctx *c, struct vup_rdiag *d, unsigned line,
               unsigned col, const char *fmt, ...);
__attribute__((format(printf, 3, 4))) void
vup__rerr(struct vup_rctx *c, const struct vup_ynode *n, const char *fmt, ...);
__attribute__((format(printf, 3, 4))) void
vup__rwarn(struct vup_rctx *c, const struct vup_ynode *n, const char *fmt, ...);

/* Parse text into a tree.  0 with *root (NULL for an empty stream), or
 * -EINVAL after reporting the problem, or -ENOMEM.  Duplicate keys are
 * reported but the tree is returned (the caller checks the error count),
 * so that the schema walk reports its problems too. */
int vup__ytree(struct vup_rctx *c, struct vup_ynode **root);
void vup__yfree(struct vup_ynode *n);
const char *vup__ykind_name(const struct vup_ynode *n);

/* Scalars.  Each reports its own error at n (what names the key) and
 * returns false. */
bool vup__yu64(struct vup_rctx *c, const struct vup_ynode *n, const char *what,
               uint64_t max, uint64_t *out);
bool vup__ybool(struct vup_rctx *c, const struct vup_ynode *n, const char *what,
                bool *out);
bool vup__ystr(struct vup_rctx *c, const struct vup_ynode *n, const char *what,
               const char **out);
/* A mapping whose keys are all in names[]; vals[i] receives the value of
 * names[i] (keys[i] its key node) or NULL.  False when n is no mapping;
 * unknown keys are reported, and the known ones still returned. */
bool vup__ymap(struct vup_rctx *c, const struct vup_ynode *n, const char *what,
               const char *const *names, size_t count,
               const struct vup_ynode **keys, const struct vup_ynode **vals);

/* What the loader keeps about a rule while it validates the file. */
struct vup_rbuild {
	struct vup_rule *rule;
	unsigned index;
	const struct vup_ynode *node, *match, *action, *when;
	int chan;                  /* match channel: -1 any */
	bool layouts[VUP_L_COUNT]; /* payload layouts the rule can meet */
};

/* match: fills b->rule->match, b->chan and b->layouts; false on error. */
bool vup__rules_match(struct vup_rctx *c, struct vup_rbuild *b,
                      const struct vup_ynode *match);
/* action: the kind and simple values.  A rewrite's body waits for the
 * match (its fields are checked against the matched requests): *rewrite
 * receives it, for vup__rules_rewrite. */
bool vup__rules_action(struct vup_rctx *c, struct vup_rbuild *b,
                       const struct vup_ynode *n,
                       const struct vup_ynode **rewrite);
bool vup__rules_rewrite(struct vup_rctx *c, struct vup_rbuild *b,
                        const struct vup_ynode *n);
/* A field of the layouts in b->layouts, for fields: and rewrite set:;
 * reports an error at n when there is none.  *max receives the largest
 * value the widest such field holds. */
bool vup__rules_field(struct vup_rctx *c, const struct vup_rbuild *b,
                      const struct vup_ynode *n, uint64_t *max);
/* A feature name list (a scalar or a list of scalars) into bit masks. */
bool vup__rules_features(struct vup_rctx *c, const struct vup_rbuild *b,
                         const struct vup_ynode *n, const char *what,
                         uint64_t *virtio, uint64_t *protocol);
/* The rule's effective reply filter: fail rules only meet requests. */
int vup__rules_reply_filter(const struct vup_rule *r);

/* when: into w.  allow_global: scope: global is allowed (control rules;
 * data rules count per session and vring). */
bool vup__rules_when(struct vup_rctx *c, const struct vup_ynode *n,
                     struct vup_rule_when *w, bool allow_global);
/* The one action key set among k[0 .. count) (words: their names): its
 * index, -1 for none, or -2 after reporting a second one. */
int vup__rules_one_action(struct vup_rctx *c, const struct vup_ynode **k,
                          const char *const *words, int count);
/* "200ms": an integer and ns, us, ms or s, at most 24 h. */
bool vup__rules_duration(struct vup_rctx *c, const struct vup_ynode *n,
                         const char *what, uint64_t *ns);

/* Rule names, unique across rules: and data: (both name decisions in the
 * trace).  Open addressing; a NULL name is a free slot. */
struct vup_rnames {
	struct {
		const char *name;
		unsigned line;
	} * slot;
	size_t mask;
};
uint64_t vup__rules_name_hash(const char *s);
/* Check name n (a string, not too long, no control characters, not
 * taken) and return a copy in *out, or report and return false. */
bool vup__rules_name(struct vup_rctx *c, const struct vup_ynode *n,
                     unsigned line, struct vup_rnames *names, char **out);

/* data: (data.c).  list is the sequence node; rules go to out->data. */
int vup__rules_data(struct vup_rctx *c, const struct vup_ynode *list,
                    struct vup_rules *out, struct vup_rnames *names);
void vup__rules_data_free(struct vup_rules *r);
/* What the loader keeps about a data rule while it checks the file
 * (data.c), for the warnings (data_lint.c). */
struct vup_dbuild {
	struct vup_data_rule *rule;
	const struct vup_ynode *node, *action, *action_key, *when;
	struct { /* keys that need one device: queue rx|tx, op, ... */
		const struct vup_ynode *n;
		const char *what;
		enum vup_data_device dev;
	} only[4];
	unsigned nonly;
	const struct vup_ynode *limit; /* limit: (net only) */
	bool device_given;
};
void vup__rules_data_lint(struct vup_rctx *c, const struct vup_dbuild *b,
                          unsigned n);

/* The shared pieces of a decision (decide.c): the `when` counters, the
 * probability test of a draw x, delay +- jitter from a draw x, and the
 * splitmix64 mix. */
bool vup__rules_counted(const struct vup_rule_when *w, uint64_t count);
bool vup__rules_drawn(const struct vup_rule_when *w, uint64_t x);
uint64_t vup__rules_jitter(uint64_t delay, uint64_t jitter, uint64_t x);
uint64_t vup__rules_mix(uint64_t x);

/* Warnings about a valid rule set. */
void vup__rules_lint(struct vup_rctx *c, const struct vup_rbuild *b,
                     unsigned n);

/* The loader behind vup_rules_parse, with unbounded diagnostics. */
int vup__rules_parse(const char *name, const char *text, size_t len,
                     struct vup_rules **out, struct vup_rdiag *err,
                     struct vup_rdiag *warn);
/* Read a whole file (at most VUP_RULES_MAX_FILE bytes), NUL-terminated. */
int vup__rules_read(const char *path, char **text, size_t *len);

/* Build r->candidates (decide.c); -ENOMEM. */
int vup__rules_index(struct vup_rules *r);
/* The field named name in layout l, or NULL. */
const struct vup_field *vup__rules_layout_field(enum vup_layout l,
                                                const char *name);

#endif
