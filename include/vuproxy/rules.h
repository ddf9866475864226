/* rules: fault-injection rules from YAML, and the decision for a message.
 *
 * A rules file is a list of rules applied in order; the first that matches
 * decides, unless it says `continue`.  This module loads and validates the
 * file (libyaml, errors as file:line:col with the offending line) and
 * decides per message.  It does no I/O but reading the file, and knows no
 * sockets or loop: time and randomness are derived from its inputs, so the
 * same seed gives the same decisions whatever the timing.
 *
 * File format (documented with examples in README.md; data rules, for
 * frames and disk requests, below vup_rules_decide):
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
 *       # or: drop | fail | log | snapshot | pass | {fail: 1}
 *       #     {disconnect: back-end}
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
 *   evaluation), `snapshot` (like log, and asks the relay for a flight-
 *   recorder snapshot: vup_verdict.snapshot).
 * - A `log` or `snapshot` rule that fires changes nothing and decides
 *   nothing: the message goes on to later rules, the rule's name is added
 *   to the verdict's logged[] (the trace's action byte is then LOG unless
 *   a later rule decides; the trace has no SNAPSHOT action: older readers
 *   would misread a new value).  `when` applies as to any rule, so
 *   `when: {nth: 1}` snapshots once, on the first message the rule
 *   matches (per session; scope: global for once per vuproxy).
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

#include "vuproxy/pcapng.h" /* enum vup_trace_action */
#include "vuproxy/proto.h"

/* What a rule does, and what the rules decide for a message: the
 * relay acts on it.  The trace records its own action byte (enum
 * vup_trace_action, which has notes no rule makes):
 * vup_rules_trace_action maps a verdict to it. */
#define VUP_RULE_ACTIONS(X)                                                    \
	X(PASS, "pass")                                                        \
	X(DROP, "drop")                                                        \
	X(DELAY, "delay")                                                      \
	X(REWRITE, "rewrite")                                                  \
	X(FAIL, "fail")                                                        \
	X(DISCONNECT, "disconnect")                                            \
	X(LOG, "log")                                                          \
	X(SNAPSHOT, "snapshot")
enum vup_rule_action {
#define X(id, s) VUP_RULE_ACT_##id,
	VUP_RULE_ACTIONS(X)
#undef X
	        VUP_RULE_ACT_COUNT
};
/* The action's word in a rules file ("unknown" out of range). */
const char *vup_rules_action_name(enum vup_rule_action a);

/* A loaded rule set, immutable once loaded (its fields are the module's
 * own: src/rules/internal.h). */
struct vup_rules;

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
/* The number of rules in r. */
unsigned vup_rules_count(const struct vup_rules *r);

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
	/* The message decoded (its catalogue row is not looked up again),
	 * or NULL. */
	const struct vup_view *view;
};

#define VUP_VERDICT_MAX_LOGGED 8
struct vup_verdict {
	/* PASS when no rule decided (or a `pass` rule did); REWRITE when a
	 * rewrite rule decided: forward the (rewritten) message. */
	enum vup_rule_action action;
	const char *rule;    /* the deciding rule's name, or NULL */
	uint64_t delay_ns;   /* DELAY, jitter included */
	uint64_t fail_value; /* FAIL: the u64 of the error reply */
	bool fail_has_value; /* FAIL: the rule gave the value */
	unsigned disconnect; /* DISCONNECT: bit 0 front-end, bit 1 back-end */
	bool rewritten;      /* the payload was changed (any rule) */
	/* `log` and `snapshot` rules that fired, in file order */
	const char *logged[VUP_VERDICT_MAX_LOGGED];
	unsigned nlogged; /* at most VUP_VERDICT_MAX_LOGGED, extras dropped */
	/* The first `snapshot` rule that fired (its name), or NULL: the
	 * relay takes a flight-recorder snapshot for this message.  Set
	 * whatever the action (a later rule may drop the message). */
	const char *snapshot;
};

/* The trace's action byte for a message v decided: v's action, but LOG
 * for a pass that `log` or `snapshot` rules saw. */
enum vup_trace_action vup_rules_trace_action(const struct vup_verdict *v);

/* Decide for one message.  *ss may be NULL (allocated here) or belong to
 * an older rule set: then it is replaced by fresh counters for this one (a
 * reload resets counters).  Free it with vup_rules_session_free.  r may be
 * NULL (no rules: PASS).  Names in v point into r. */
void vup_rules_decide(struct vup_rules *r, struct vup_rules_session **ss,
                      const struct vup_rules_msg *m, struct vup_verdict *v);

/* ---- data rules: the `data:` list, decided per frame or request ----
 *
 *   data:
 *     - name: loss
 *       match:
 *         device: net | blk             # none: both, where the action fits
 *         queue: rx | tx | N            # net: rx even vrings, tx odd; N any
 *         session: 1
 *         op: read | write | flush | discard | write_zeroes | get_id | any
 *                                       # blk; or a list of them
 *         sectors: [2048, 2055]         # blk, inclusive, 512-byte sectors
 *         size: [64, 1500]              # net, frame bytes, inclusive
 *       when: {probability: 0.2, seed: 7}  # as for control rules, but
 *                                       # counted per (rule, session, vring)
 *       action: drop                    # net
 *       # net: drop | duplicate | {delay: D, jitter: J, limit: N}
 *       #      | corrupt | {corrupt: {offset: N | random, bytes: K}}
 *       # blk: {fail: ioerr | unsupp} | {delay: D, jitter: J}
 *       #      | corrupt_read | {corrupt_read: {offset: N | random, bytes: K}}
 *       # both: pass | {delay: D, jitter: J}
 *
 * The first data rule that matches and fires decides (no `continue`).  A
 * rule without `device` may only use pass or delay (without limit); other
 * actions, `queue: rx|tx`, `op`, `sectors` and `size` need the device
 * they apply to, and name the other one as an error.
 *
 * Randomness: every (rule, session, vring) has its own splitmix64 stream,
 * started at mix(mix(mix(seed) ^ fnv1a(rule name)) ^ (session << 32 |
 * vring)).  A request that passes the rule's counters takes one draw for
 * the probability (when below 1); a rule that fires takes one more, the
 * key of its parameters (jitter, random offset, the corrupting bytes).
 * The same traffic on a vring with the same seed thus gives the same
 * decisions, whatever the timing and whatever other vrings, sessions or
 * rules (named differently) do. */
#define VUP_DATA_ACTIONS(X)                                                    \
	X(PASS, "pass")                                                        \
	X(DROP, "drop")                                                        \
	X(DELAY, "delay")                                                      \
	X(DUPLICATE, "duplicate")                                              \
	X(CORRUPT, "corrupt")                                                  \
	X(FAIL, "fail")                                                        \
	X(CORRUPT_READ, "corrupt_read")
enum vup_data_action {
#define X(id, s) VUP_DATA_ACT_##id,
	VUP_DATA_ACTIONS(X)
#undef X
	        VUP_DATA_ACT_COUNT
};
/* The action's word in a rules file ("unknown" out of range). */
const char *vup_data_action_name(enum vup_data_action a);

enum vup_data_device { VUP_DATA_NET, VUP_DATA_BLK };

/* The number of data rules in r (vup_rules_count: control rules). */
unsigned vup_rules_data_count(const struct vup_rules *r);

/* virtio-blk request types (virtio 1.2, 5.2.6) and status bytes. */
#define VUP_BLK_T_IN           0u
#define VUP_BLK_T_OUT          1u
#define VUP_BLK_T_FLUSH        4u
#define VUP_BLK_T_GET_ID       8u
#define VUP_BLK_T_DISCARD      11u
#define VUP_BLK_T_WRITE_ZEROES 13u
#define VUP_BLK_S_IOERR        1u
#define VUP_BLK_S_UNSUPP       2u

/* One frame or request, as the data plane sees it. */
struct vup_data_req {
	uint32_t session;
	uint32_t vring;
	enum vup_data_device device;
	/* net: the frame's bytes after the virtio-net header; blk: the
	 * request's data bytes (what corrupt_read may touch). */
	uint32_t len;
	/* blk only */
	uint32_t type;    /* VUP_BLK_T_*, any value */
	uint64_t sector;  /* first 512-byte sector */
	uint64_t sectors; /* count; 0: none (flush, get_id): never meets
	                   * a rule with sectors: */
};

struct vup_data_verdict {
	enum vup_data_action action; /* PASS when no rule fired */
	const char *rule;            /* the deciding rule's name, or NULL */
	uint64_t delay_ns;           /* DELAY: jitter drawn, never below 0 */
	uint32_t limit; /* DELAY on net: frames held in copies; 0 ring-bound */
	uint8_t blk_status; /* FAIL: VUP_BLK_S_IOERR or VUP_BLK_S_UNSUPP */
	/* CORRUPT, CORRUPT_READ: bytes [offset, offset + bytes) of the
	 * frame or read data, clipped to len (bytes 0: nothing to touch);
	 * byte i of them is XORed with vup_data_corrupt_xor(v, i). */
	uint32_t offset, bytes;
	uint64_t corrupt_key;
};

/* A nonzero byte: corrupted bytes always change. */
uint8_t vup_data_corrupt_xor(const struct vup_data_verdict *v, uint32_t i);

/* Counters and random streams of one (session, vring) for every data rule
 * of a set: the data plane keeps one per vring, in memory it owns. */
struct vup_data_counter {
	uint64_t count; /* requests that met the rule's match */
	uint64_t rng;   /* splitmix64 state */
};
struct vup_data_state {
	unsigned generation; /* of the rule set; 0: not started */
	uint32_t session, vring;
	uint32_t cap; /* entries in c[] */
	struct vup_data_counter c[];
};
/* Bytes a state for r needs (for r NULL or without data rules: the
 * header alone). */
size_t vup_data_state_size(const struct vup_rules *r);
/* Make bytes at st (at least vup_data_state_size(NULL)) an empty state
 * with room for as many rules as fit; its counters start at the first
 * decision. */
void vup_data_state_init(struct vup_data_state *st, size_t bytes);

/* Decide for one frame or request: pure but for *st.  *st is started
 * again when it belongs to another rule set (a reload resets counters),
 * session or vring.  0, or -ENOSPC when st is too small for r (verdict
 * PASS; size it with vup_data_state_size).  r may be NULL (PASS).  No
 * allocation; names in v point into r. */
int vup_data_decide(const struct vup_rules *r, struct vup_data_state *st,
                    const struct vup_data_req *q, struct vup_data_verdict *v);

/* `vuproxy rules check FILE...` (argv[0] "rules", argv[1] "check"):
 * exit status 0 valid (warnings allowed), 1 invalid, 2 usage. */
int vup_rules_check_main(int argc, char **argv);

#endif
