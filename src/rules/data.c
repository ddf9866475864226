/* rules: the `data:` list, rules for frames (net) and disk requests (blk)
 * that the active data plane decides per request (data_decide.c).  Names,
 * `when` and durations are the control rules' own (load.c, action.c);
 * what is new here is the match (device, queue, op, sectors, size) and
 * the actions, each checked against the device it applies to. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The largest corruption and copy limit a rule may ask for: a frame is at
 * most 64 KiB, and a held copy costs a buffer. */
#define DATA_MAX_BYTES 65536u
#define DATA_MAX_LIMIT 65536u

static const char *const data_action_words[] = {
#define X(id, s) s,
        VUP_DATA_ACTIONS(X)
#undef X
};

const char *vup_data_action_name(enum vup_data_action a)
{
	return (unsigned)a < VUP_DATA_ACT_COUNT ? data_action_words[a]
	                                        : "unknown";
}

/* The device(s) each action applies to. */
static unsigned action_devices(enum vup_data_action a)
{
	switch (a) {
	case VUP_DATA_ACT_DROP:
	case VUP_DATA_ACT_DUPLICATE:
	case VUP_DATA_ACT_CORRUPT: return VUP_DATA_DEV_NET;
	case VUP_DATA_ACT_FAIL:
	case VUP_DATA_ACT_CORRUPT_READ: return VUP_DATA_DEV_BLK;
	default: return VUP_DATA_DEV_NET | VUP_DATA_DEV_BLK;
	}
}

static const char *device_name(unsigned devices)
{
	return devices == VUP_DATA_DEV_NET ? "net" : "blk";
}

/* ---- match: ---- */

/* Note a key that only one device has (checked once the device and
 * action are known). */
static void only(struct vup_dbuild *b, const struct vup_ynode *n,
                 const char *what, enum vup_data_device dev)
{
	if (b->nonly < sizeof(b->only) / sizeof(b->only[0])) {
		b->only[b->nonly].n = n;
		b->only[b->nonly].what = what;
		b->only[b->nonly++].dev = dev;
	}
}

static const char *const match_keys[] = {"device", "queue",   "session",
                                         "op",     "sectors", "size"};
enum { M_DEVICE, M_QUEUE, M_SESSION, M_OP, M_SECTORS, M_SIZE, M_COUNT };

static const struct {
	const char *word;
	uint32_t type;
} ops[] = {
        {"read", VUP_BLK_T_IN},
        {"write", VUP_BLK_T_OUT},
        {"flush", VUP_BLK_T_FLUSH},
        {"get_id", VUP_BLK_T_GET_ID},
        {"discard", VUP_BLK_T_DISCARD},
        {"write_zeroes", VUP_BLK_T_WRITE_ZEROES},
};

static bool parse_op_word(struct vup_rctx *c, const struct vup_ynode *n,
                          struct vup_data_rule *r)
{
	const char *s;
	if (!vup__ystr(c, n, "op", &s))
		return false;
	if (strcmp(s, "any") == 0) {
		r->any_op = true;
		return true;
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(s, ops[i].word) == 0) {
			r->ops |= UINT64_C(1) << ops[i].type;
			return true;
		}
	}
	vup__rerr(c, n,
	          "op: expected read, write, flush, discard, write_zeroes, "
	          "get_id or any, got '%s'",
	          s);
	return false;
}

/* op: WORD or [WORD, ...]. */
static bool parse_op(struct vup_rctx *c, const struct vup_ynode *n,
                     struct vup_data_rule *r)
{
	bool ok = true;
	r->any_op = false;
	if (n->kind != VUP_Y_SEQ)
		return parse_op_word(c, n, r);
	if (n->n == 0) {
		vup__rerr(c, n,
		          "op: expected a request type or a list of them");
		return false;
	}
	for (size_t i = 0; i < n->n; i++)
		ok &= parse_op_word(c, n->kid[i], r);
	return ok;
}

/* [first, last], inclusive, first <= last. */
static bool parse_range(struct vup_rctx *c, const struct vup_ynode *n,
                        const char *what, uint64_t max, uint64_t *lo,
                        uint64_t *hi)
{
	if (n->kind != VUP_Y_SEQ || n->n != 2) {
		vup__rerr(c, n, "%s: expected [first, last], got %s", what,
		          n->kind == VUP_Y_SEQ ? "a list of another length"
		                               : vup__ykind_name(n));
		return false;
	}
	if (!vup__yu64(c, n->kid[0], what, max, lo) ||
	    !vup__yu64(c, n->kid[1], what, max, hi))
		return false;
	if (*lo > *hi) {
		vup__rerr(c, n, "%s: [%llu, %llu] is empty (first > last)",
		          what, (unsigned long long)*lo,
		          (unsigned long long)*hi);
		return false;
	}
	return true;
}

static bool parse_device(struct vup_rctx *c, const struct vup_ynode *n,
                         struct vup_data_rule *r)
{
	const char *s;
	if (!vup__ystr(c, n, "device", &s))
		return false;
	if (strcmp(s, "net") == 0 || strcmp(s, "blk") == 0) {
		r->devices = s[0] == 'n' ? VUP_DATA_DEV_NET : VUP_DATA_DEV_BLK;
		return true;
	}
	vup__rerr(c, n, "device: expected net or blk, got '%s'", s);
	return false;
}

static bool parse_queue(struct vup_rctx *c, const struct vup_ynode *n,
                        struct vup_dbuild *b)
{
	struct vup_data_rule *r = b->rule;
	if (n->kind == VUP_Y_SCALAR &&
	    (strcmp(n->s, "rx") == 0 || strcmp(n->s, "tx") == 0)) {
		r->queue = n->s[0] == 'r' ? VUP_DQ_RX : VUP_DQ_TX;
		only(b, n, r->queue == VUP_DQ_RX ? "queue rx" : "queue tx",
		     VUP_DATA_NET);
		return true;
	}
	uint64_t v;
	if (n->kind == VUP_Y_SCALAR && n->len && n->s[0] >= '0' &&
	    n->s[0] <= '9') {
		if (!vup__yu64(c, n, "queue", UINT16_MAX, &v))
			return false;
		r->queue = VUP_DQ_INDEX;
		r->vring = (uint32_t)v;
		return true;
	}
	vup__rerr(c, n, "queue: expected rx, tx or a vring index, got %s%s%s",
	          n->kind == VUP_Y_SCALAR ? "'" : "",
	          n->kind == VUP_Y_SCALAR ? n->s : vup__ykind_name(n),
	          n->kind == VUP_Y_SCALAR ? "'" : "");
	return false;
}

static bool parse_match(struct vup_rctx *c, struct vup_dbuild *b,
                        const struct vup_ynode *n)
{
	struct vup_data_rule *r = b->rule;
	const struct vup_ynode *k[M_COUNT], *v[M_COUNT];
	bool ok = true;
	uint64_t x;
	if (!vup__ymap(c, n, "match", match_keys, M_COUNT, k, v))
		return false;
	if (v[M_DEVICE]) {
		b->device_given = true;
		ok &= parse_device(c, v[M_DEVICE], r);
	}
	if (v[M_QUEUE])
		ok &= parse_queue(c, v[M_QUEUE], b);
	if (v[M_SESSION]) {
		if (vup__yu64(c, v[M_SESSION], "session", UINT32_MAX, &x))
			r->session = (int64_t)x;
		else
			ok = false;
	}
	if (v[M_OP]) {
		only(b, k[M_OP], "op", VUP_DATA_BLK);
		ok &= parse_op(c, v[M_OP], r);
	}
	if (v[M_SECTORS]) {
		only(b, k[M_SECTORS], "sectors", VUP_DATA_BLK);
		r->has_sectors = true;
		ok &= parse_range(c, v[M_SECTORS], "sectors", UINT64_MAX,
		                  &r->sector_first, &r->sector_last);
	}
	if (v[M_SIZE]) {
		only(b, k[M_SIZE], "size", VUP_DATA_NET);
		r->has_size = true;
		ok &= parse_range(c, v[M_SIZE], "size", UINT32_MAX,
		                  &r->size_min, &r->size_max);
	}
	return ok;
}

/* ---- action: ---- */

static const char *const action_keys[] = {
#define X(id, s) s,
        VUP_DATA_ACTIONS(X)
#undef X
                "jitter",
        "limit"};
enum { A_JITTER = VUP_DATA_ACT_COUNT, A_LIMIT, A_COUNT };

static const char *const corrupt_keys[] = {"offset", "bytes"};

/* {offset: N | random, bytes: K}; both optional: random, 1. */
static bool parse_corrupt(struct vup_rctx *c, const struct vup_ynode *n,
                          const char *what, struct vup_data_rule *r)
{
	const struct vup_ynode *k[2], *v[2];
	uint64_t x;
	r->offset_random = true;
	r->bytes = 1;
	if (!vup__ymap(c, n, what, corrupt_keys, 2, k, v))
		return false;
	bool ok = true;
	if (v[0] && v[0]->kind == VUP_Y_SCALAR &&
	    strcmp(v[0]->s, "random") == 0) {
		r->offset_random = true;
	} else if (v[0]) {
		if (v[0]->kind == VUP_Y_SCALAR && v[0]->len &&
		    (v[0]->s[0] < '0' || v[0]->s[0] > '9')) {
			vup__rerr(c, v[0],
			          "offset: expected a byte offset or random, "
			          "got '%s'",
			          v[0]->s);
			ok = false;
		} else if (vup__yu64(c, v[0], "offset", UINT32_MAX, &x)) {
			r->offset_random = false;
			r->offset = (uint32_t)x;
		} else {
			ok = false;
		}
	}
	if (v[1]) {
		if (!vup__yu64(c, v[1], "bytes", DATA_MAX_BYTES, &x)) {
			ok = false;
		} else if (x == 0) {
			vup__rerr(c, v[1], "bytes: must be at least 1");
			ok = false;
		} else {
			r->bytes = (uint32_t)x;
		}
	}
	return ok;
}

static bool parse_fail(struct vup_rctx *c, const struct vup_ynode *n,
                       struct vup_data_rule *r)
{
	const char *s;
	if (!vup__ystr(c, n, "fail", &s))
		return false;
	if (strcmp(s, "ioerr") == 0 || strcmp(s, "unsupp") == 0) {
		r->blk_status =
		        s[0] == 'i' ? VUP_BLK_S_IOERR : VUP_BLK_S_UNSUPP;
		return true;
	}
	vup__rerr(c, n, "fail: expected ioerr or unsupp, got '%s'", s);
	return false;
}

static void action_list(char *buf, size_t len)
{
	size_t at = 0;
	buf[0] = '\0';
	for (unsigned a = 1; a <= VUP_DATA_ACT_COUNT && at < len; a++) {
		int w = snprintf(buf + at, len - at, "%s%s",
		                 a == 1                    ? ""
		                 : a == VUP_DATA_ACT_COUNT ? " or "
		                                           : ", ",
		                 data_action_words[a % VUP_DATA_ACT_COUNT]);
		if (w < 0)
			break;
		at += (size_t)w;
	}
}

static bool scalar_action(struct vup_rctx *c, struct vup_dbuild *b,
                          const struct vup_ynode *n)
{
	struct vup_data_rule *r = b->rule;
	b->action_key = n;
	for (unsigned a = 0; a < VUP_DATA_ACT_COUNT; a++) {
		if (strcmp(n->s, data_action_words[a]) != 0)
			continue;
		r->action = (enum vup_data_action)a;
		if (a == VUP_DATA_ACT_DELAY || a == VUP_DATA_ACT_FAIL) {
			vup__rerr(c, n, "action: %s needs a value, like {%s}",
			          n->s,
			          a == VUP_DATA_ACT_DELAY ? "delay: 50ms"
			                                  : "fail: ioerr");
			return false;
		}
		if (a == VUP_DATA_ACT_CORRUPT ||
		    a == VUP_DATA_ACT_CORRUPT_READ) {
			r->offset_random = true; /* one byte, anywhere */
			r->bytes = 1;
		}
		return true;
	}
	char list[160];
	action_list(list, sizeof(list));
	vup__rerr(c, n, "unknown data action '%s' (expected %s)", n->s, list);
	return false;
}

static bool parse_action(struct vup_rctx *c, struct vup_dbuild *b,
                         const struct vup_ynode *n)
{
	struct vup_data_rule *r = b->rule;
	if (n->kind == VUP_Y_SCALAR && n->len)
		return scalar_action(c, b, n);
	const struct vup_ynode *k[A_COUNT], *v[A_COUNT];
	if (!vup__ymap(c, n, "action", action_keys, A_COUNT, k, v))
		return false;
	int chosen =
	        vup__rules_one_action(c, k, action_keys, VUP_DATA_ACT_COUNT);
	if (chosen == -2)
		return false;
	if (chosen < 0) {
		char list[160];
		action_list(list, sizeof(list));
		vup__rerr(c, n, "action: expected %s", list);
		return false;
	}
	b->action_key = k[chosen];
	r->action = (enum vup_data_action)chosen;
	if ((k[A_JITTER] || k[A_LIMIT]) && chosen != VUP_DATA_ACT_DELAY) {
		vup__rerr(c, k[A_JITTER] ? k[A_JITTER] : k[A_LIMIT],
		          "%s goes with delay",
		          k[A_JITTER] ? "jitter" : "limit");
		return false;
	}
	switch (r->action) {
	case VUP_DATA_ACT_DELAY: {
		uint64_t x = 0;
		bool ok = vup__rules_duration(c, v[chosen], "delay",
		                              &r->delay_ns);
		if (v[A_JITTER])
			ok &= vup__rules_duration(c, v[A_JITTER], "jitter",
			                          &r->jitter_ns);
		if (v[A_LIMIT]) {
			b->limit = k[A_LIMIT];
			if (!vup__yu64(c, v[A_LIMIT], "limit", DATA_MAX_LIMIT,
			               &x)) {
				ok = false;
			} else if (x == 0) {
				vup__rerr(c, v[A_LIMIT],
				          "limit: must be at least 1");
				ok = false;
			}
			r->limit = (uint32_t)x;
		}
		return ok;
	}
	case VUP_DATA_ACT_FAIL: return parse_fail(c, v[chosen], r);
	case VUP_DATA_ACT_CORRUPT:
	case VUP_DATA_ACT_CORRUPT_READ:
		return parse_corrupt(c, v[chosen], action_keys[chosen], r);
	default:
		vup__rerr(c, k[chosen], "%s takes no value: write action: %s",
		          action_keys[chosen], action_keys[chosen]);
		return false;
	}
}

/* ---- a rule: the device its match and action agree on ---- */

static bool check_device(struct vup_rctx *c, struct vup_dbuild *b)
{
	struct vup_data_rule *r = b->rule;
	unsigned fits = action_devices(r->action);
	bool ok = true;
	if ((r->devices & fits) != r->devices) {
		if (b->device_given)
			vup__rerr(c, b->action_key,
			          "%s applies to %s only; this rule matches "
			          "device: %s",
			          vup_data_action_name(r->action),
			          device_name(fits), device_name(r->devices));
		else
			vup__rerr(c, b->action_key,
			          "%s applies to %s only: add device: %s to "
			          "the match",
			          vup_data_action_name(r->action),
			          device_name(fits), device_name(fits));
		ok = false;
	}
	if (b->limit && r->devices != VUP_DATA_DEV_NET) {
		vup__rerr(c, b->limit,
		          "limit: net only (frames held in copies)%s",
		          b->device_given ? "" : ": add device: net");
		ok = false;
	}
	for (unsigned i = 0; i < b->nonly; i++) {
		const char *dev =
		        b->only[i].dev == VUP_DATA_NET ? "net" : "blk";
		if (r->devices == (1u << b->only[i].dev))
			continue;
		if (b->device_given)
			vup__rerr(c, b->only[i].n,
			          "%s: %s only; this rule matches device: %s",
			          b->only[i].what, dev,
			          device_name(r->devices));
		else
			vup__rerr(c, b->only[i].n,
			          "%s: %s only: add device: %s",
			          b->only[i].what, dev, dev);
		ok = false;
	}
	return ok;
}

static const char *const rule_keys[] = {"name", "match", "when", "action"};
enum { R_NAME, R_MATCH, R_WHEN, R_ACTION, R_COUNT };

static bool parse_rule(struct vup_rctx *c, struct vup_dbuild *b, unsigned index,
                       struct vup_rnames *names)
{
	const struct vup_ynode *k[R_COUNT], *v[R_COUNT];
	struct vup_data_rule *r = b->rule;
	bool ok = true;
	r->line = b->node->line + 1;
	r->when.probability_ppm = VUP_RULES_PPM;
	r->devices = VUP_DATA_DEV_NET | VUP_DATA_DEV_BLK;
	r->session = -1;
	r->any_op = true;
	char what[40];
	snprintf(what, sizeof(what), "data rule %u", index + 1);
	if (!vup__ymap(c, b->node, what, rule_keys, R_COUNT, k, v))
		return false;
	b->when = v[R_WHEN];
	if (!v[R_NAME]) {
		vup__rerr(c, b->node, "data rule %u has no name", index + 1);
		ok = false;
	} else if (!vup__rules_name(c, v[R_NAME], r->line, names, &r->name)) {
		ok = false;
	} else {
		r->name_hash = vup__rules_name_hash(r->name);
	}
	if (v[R_MATCH] && !parse_match(c, b, v[R_MATCH]))
		ok = false;
	if (!v[R_ACTION]) {
		vup__rerr(c, b->node, "data rule %s has no action",
		          r->name ? r->name : what);
		ok = false;
	} else if (!parse_action(c, b, v[R_ACTION])) {
		ok = false;
	} else if (!check_device(c, b)) {
		ok = false;
	}
	b->action = v[R_ACTION];
	if (v[R_WHEN] && !vup__rules_when(c, v[R_WHEN], &r->when, false))
		ok = false;
	return ok;
}

void vup__rules_data_free(struct vup_rules *r)
{
	for (unsigned i = 0; i < r->ndata; i++)
		free(r->data[i].name);
	free(r->data);
	r->data = NULL;
	r->ndata = 0;
}

int vup__rules_data(struct vup_rctx *c, const struct vup_ynode *list,
                    struct vup_rules *out, struct vup_rnames *names)
{
	if (list->kind != VUP_Y_SEQ) {
		vup__rerr(c, list,
		          "data: expected a list of data rules, got %s",
		          vup__ykind_name(list));
		return -EINVAL;
	}
	unsigned n = (unsigned)list->n;
	out->data = calloc(n ? n : 1, sizeof(*out->data));
	struct vup_dbuild *b = calloc(n ? n : 1, sizeof(*b));
	if (!out->data || !b) {
		free(b);
		return -ENOMEM;
	}
	out->ndata = n;
	unsigned before = c->err->count;
	for (unsigned i = 0; i < n; i++) {
		b[i].rule = &out->data[i];
		b[i].node = list->kid[i];
		parse_rule(c, &b[i], i, names);
	}
	if (c->err->count == before)
		vup__rules_data_lint(c, b, n);
	free(b);
	return 0;
}
