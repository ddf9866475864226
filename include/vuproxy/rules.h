/* rules: fault-injection rules from YAML, and the decision for a message.
 *
 * A rules file is a list of rules applied in order; the first that matches
 * decides, unless it says `continue`.  This module loads and validates the
 * file (libyaml, errors as file:line:col with the offending line) and
 * decides per message.  It does no I/O but reading the file, and knows no
 * sockets or loop: time and randomness are derived from its inputs, so the
 * same seed gives the same decisions whatever the timing.
 *
 * File format (documented with examples in README.md):
 *
 *   rules:
 *     - name: slow-mem-table
 *       match:
 *         request: SET_MEM_TABLE        # name(s) from the catalogue, or
 *                                       # code: N (with channel: main|backend)
 *         from: front-end               # front-end | back-end
 *         reply: false                  # false: requests, true: replies
 *         session: 1                    # or socket: "/run/vm*.sock" (glob)
 *         vring: 0                      # vring index in the payload
 *         fields: {num: {gt: 256}}      # eq ne lt gt, mask: {mask: M, eq: V}
 *         has: [VIRTIO_F_RING_PACKED]   # feature bits in a feature word
 *       when:
 *         nth: 2 | first: 3 | every: 2 | after: 5
 *         probability: 0.3
 *         seed: 42
 *         scope: session | global       # whose counter, default session
 *       action: {delay: 2s, jitter: 100ms}
 *       # or: drop | fail | log | pass | {fail: 1} | {disconnect: back-end}
 *       #     {rewrite: {set: {num: 128}, set_features: [...],
 *       #                clear_features: [VIRTIO_F_RING_PACKED]}}
 *       continue: false
 *
 * Details:
 * - Every key is optional but name and action; no match: every message.
 *   `channel` alone matches every message of that channel.  A request
 *   name must be in the catalogue (with or without VHOST_USER_, old SLAVE_
 *   names too); `code` may be any number (unknown codes too).
 * - All conditions of a match must hold; `fields: {num: {gt: 1, lt: 9}}`
 *   is two conditions; `fields: {num: 5}` means eq.  A field must exist in
 *   a payload layout the matched requests (or replies) can have; a message
 *   whose payload lacks it does not match.  `vring` reads the payload's
 *   `index` field (vring state, base, enable, addr; bits 0-7 of vring fd
 *   and host notifier payloads).  `has` needs every listed bit set in the
 *   message's FEATURES or PROTOCOL_FEATURES word (one kind per rule).
 * - Counters count the messages that meet the match (before `when`) and
 *   reach the rule: a rule after a deciding rule does not see the message.
 *   All `when` conditions must hold: nth (count == N), first (count <= N),
 *   every (count % N == 0), after (count > N), and a draw: one per
 *   matching message, fires with probability P, a hash of (seed, rule
 *   index, count), the same for the same seed whatever the timing.
 *   Counters are reset by a reload (a new rule set).
 * - Actions: `pass` (forward unchanged; stops evaluation), `drop`,
 *   `{delay: D, jitter: J}` (D +- J uniform, drawn like the probability,
 *   never below 0; durations are an integer and ns, us, ms or s, at most
 *   24h), `{rewrite: ...}` (edits the payload in place; stops evaluation
 *   unless continue), `fail` / `{fail: V}` (V defaults to 1; only meets
 *   requests, as if the match said reply: false), `{disconnect: front-end |
 *   back-end | both}` (plain `disconnect`: both), `log` (never stops
 *   evaluation).
 * - `continue: true`: the rule's decision is kept and later rules are
 *   tried; a later rule that fires replaces the decision (rewrites and
 *   logs accumulate).
 * - Numbers are decimal or 0x hex; booleans only true and false.  Refused:
 *   YAML syntax errors, unknown keys, duplicate keys, aliases, wrong
 *   types, unknown request, field or feature names, duplicate rule names,
 *   more than one document.
 */
#ifndef VUPROXY_RULES_H
#define VUPROXY_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/pcapng.h" /* enum vup_action */
#include "vuproxy/proto.h"

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
	/* PASS DROP DELAY REWRITE FAIL DISCONNECT LOG */
	enum vup_action action;
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

struct vup_rules {
	char *path;
	struct vup_rule *rules;
	unsigned n;
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

/* Load and validate.  On error returns -EINVAL (or -errno) and writes
 * every problem to err as "file:line:col: reason\n    line\n    ^\n" (as
 * many whole lines as fit).  Warnings (a dropped request that expects a
 * reply, ...) go to warn as "file:line:col: reason" with the line too;
 * either may be NULL.  A file that cannot be read gives "file: reason". */
int vup_rules_load(const char *path, struct vup_rules **out, char *err,
                   size_t errlen, char *warn, size_t warnlen);
/* Same, from a buffer (tests, fuzzing); name is used in messages. */
int vup_rules_parse(const char *name, const char *text, size_t len,
                    struct vup_rules **out, char *err, size_t errlen,
                    char *warn, size_t warnlen);
void vup_rules_free(struct vup_rules *r);

/* Per-session counters of a rule set. */
struct vup_rules_session;
struct vup_rules_session *vup_rules_session_new(const struct vup_rules *r);
void vup_rules_session_free(struct vup_rules_session *ss);

struct vup_rules_msg {
	uint32_t session;
	const char *frontend_path, *backend_path; /* either may be NULL */
	enum vup_chan chan;
	enum vup_side from;
	struct vup_hdr *hdr;              /* hdr->size: the bytes at payload */
	uint8_t *payload;                 /* rewritten in place by REWRITE */
	const struct vup_negotiated *neg; /* may be NULL */
};

#define VUP_VERDICT_MAX_LOGGED 8
struct vup_verdict {
	/* PASS when no rule decided (or a `pass` rule did); REWRITE when a
	 * rewrite rule decided: forward the (rewritten) message. */
	enum vup_action action;
	const char *rule;    /* the deciding rule's name, or NULL */
	uint64_t delay_ns;   /* DELAY, jitter included */
	uint64_t fail_value; /* FAIL: the u64 of the error reply */
	bool fail_has_value; /* FAIL: the rule gave the value */
	unsigned disconnect; /* DISCONNECT: bit 0 front-end, bit 1 back-end */
	bool rewritten;      /* the payload was changed (any rule) */
	const char *logged[VUP_VERDICT_MAX_LOGGED]; /* `log` rules passed */
	unsigned nlogged; /* at most VUP_VERDICT_MAX_LOGGED, extras dropped */
};

/* Decide for one message.  *ss may be NULL (allocated here) or belong to
 * an older rule set: then it is replaced by fresh counters for this one (a
 * reload resets counters).  Free it with vup_rules_session_free.  r may be
 * NULL (no rules: PASS).  Names in v point into r. */
void vup_rules_decide(struct vup_rules *r, struct vup_rules_session **ss,
                      const struct vup_rules_msg *m, struct vup_verdict *v);

/* `vuproxy rules check FILE...` (argv[0] "rules", argv[1] "check"):
 * exit status 0 valid (warnings allowed), 1 invalid, 2 usage. */
int vup_rules_check_main(int argc, char **argv);

#endif
