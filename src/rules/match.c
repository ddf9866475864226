/* rules: the `match:` section.  Request names, codes, fields and feature
 * names are checked against the catalogue (proto) at load time: a field
 * must exist in a payload layout of the requests the rule matches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const match_keys[] = {
        "request", "code",   "channel", "from",   "reply",
        "session", "socket", "vring",   "fields", "has",
};
enum {
	M_REQUEST,
	M_CODE,
	M_CHANNEL,
	M_FROM,
	M_REPLY,
	M_SESSION,
	M_SOCKET,
	M_VRING,
	M_FIELDS,
	M_HAS,
	M_COUNT
};

int vup__rules_reply_filter(const struct vup_rule *r)
{
	return r->action == VUP_RULE_ACT_FAIL ? 0 : r->match.reply;
}

const struct vup_field *vup__rules_layout_field(enum vup_layout l,
                                                const char *name)
{
	size_t n;
	const struct vup_field *f = vup_layout_fields(l, &n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return &f[i];
	return NULL;
}

/* ---- the layouts a rule can meet ---- */

static void add_layout(struct vup_rbuild *b, enum vup_layout l)
{
	b->layouts[l] = true;
	if (l == VUP_L_VRING_BASE)
		b->layouts[VUP_L_VRING_BASE_PACKED] = true;
}

static void add_type(struct vup_rbuild *b, const struct vup_msg_type *t)
{
	int reply = vup__rules_reply_filter(b->rule);
	if (!t)
		return; /* unknown code: an opaque payload, no fields */
	if (reply != 1)
		add_layout(b, t->req_layout);
	if (reply != 0) {
		add_layout(b, t->rep_layout);
		if (t->reply == VUP_REPLY_POSTCOPY ||
		    t->reply == VUP_REPLY_ACK || t->reply == VUP_REPLY_ACK_ANY)
			add_layout(b, VUP_L_ACK);
	}
}

static void compute_layouts(struct vup_rbuild *b)
{
	const struct vup_rule_match *m = &b->rule->match;
	memset(b->layouts, 0, sizeof(b->layouts));
	if (m->nrequests) {
		for (unsigned i = 0; i < m->nrequests; i++)
			add_type(b, vup_proto_lookup(m->requests[i].chan,
			                             m->requests[i].code));
		return;
	}
	for (int ch = VUP_CHAN_MAIN; ch <= VUP_CHAN_BACKEND; ch++) {
		if (b->chan >= 0 && b->chan != ch)
			continue;
		for (size_t i = 0; i < vup_proto_count(ch); i++)
			add_type(b, vup_proto_at(ch, i));
	}
}

/* "SET_VRING_NUM", "GET_FEATURES or SET_FEATURES", "any request". */
static void describe(const struct vup_rbuild *b, char *buf, size_t cap)
{
	const struct vup_rule_match *m = &b->rule->match;
	size_t len = 0;
	buf[0] = '\0';
	if (!m->nrequests) {
		snprintf(buf, cap, "any %srequest",
		         b->chan == VUP_CHAN_BACKEND ? "back-end channel "
		                                     : "");
		return;
	}
	for (unsigned i = 0; i < m->nrequests && len + 1 < cap; i++) {
		const struct vup_msg_type *t = vup_proto_lookup(
		        m->requests[i].chan, m->requests[i].code);
		int w;
		const char *sep = i == 0                 ? ""
		                  : i + 1 < m->nrequests ? ", "
		                                         : " or ";
		if (t)
			w = snprintf(buf + len, cap - len, "%s%s", sep,
			             t->name);
		else
			w = snprintf(buf + len, cap - len, "%scode %u", sep,
			             m->requests[i].code);
		if (w < 0)
			break;
		len += (size_t)w;
	}
}

/* ---- fields ---- */

static uint64_t field_max(const struct vup_field *f)
{
	if (f->bits)
		return f->bits >= 64 ? UINT64_MAX
		                     : (UINT64_C(1) << f->bits) - 1;
	if (f->size >= 8)
		return UINT64_MAX;
	return (UINT64_C(1) << (8 * f->size)) - 1;
}

bool vup__rules_field(struct vup_rctx *c, const struct vup_rbuild *b,
                      const struct vup_ynode *n, uint64_t *max)
{
	const char *seen[64]; /* other field names, for the message */
	size_t nseen = 0;
	bool found = false, number = false;
	*max = 0;
	for (int l = 0; l < VUP_L_COUNT; l++) {
		if (!b->layouts[l])
			continue;
		size_t nf;
		const struct vup_field *f = vup_layout_fields(l, &nf);
		for (size_t i = 0; i < nf; i++) {
			if (strcmp(f[i].name, n->s) == 0) {
				found = true;
				if (f[i].size == 16)
					continue;
				number = true;
				if (field_max(&f[i]) > *max)
					*max = field_max(&f[i]);
				continue;
			}
			size_t j = 0;
			while (j < nseen && strcmp(seen[j], f[i].name) != 0)
				j++;
			if (j == nseen &&
			    nseen < sizeof(seen) / sizeof(seen[0]))
				seen[nseen++] = f[i].name;
		}
	}
	if (found && number)
		return true;
	char what[200], names[256] = "";
	size_t len = 0;
	for (size_t j = 0; j < nseen && len + 1 < sizeof(names); j++) {
		int w = snprintf(names + len, sizeof(names) - len, "%s%s",
		                 j ? ", " : "", seen[j]);
		if (w < 0)
			break;
		len += (size_t)w;
	}
	describe(b, what, sizeof(what));
	if (found)
		vup__rerr(c, n, "field '%s' is not a number", n->s);
	else if (nseen)
		vup__rerr(c, n,
		          "no field '%s' in the payload of %s (fields: %s)",
		          n->s, what, names);
	else
		vup__rerr(c, n,
		          "no field '%s': the payload of %s has no fields",
		          n->s, what);
	return false;
}

static bool add_field(struct vup_rule_match *m, const char *name,
                      enum vup_cmp op, uint64_t value, uint64_t mask)
{
	struct vup_rule_field_match *f =
	        realloc(m->fields, (m->nfields + 1) * sizeof(*f));
	if (!f)
		return false;
	m->fields = f;
	f += m->nfields;
	f->name = strdup(name);
	if (!f->name)
		return false;
	f->op = op;
	f->value = value;
	f->mask = mask;
	f->cache.layout = -1;
	m->nfields++;
	return true;
}

static const char *const cmp_keys[] = {"eq", "ne", "lt", "gt", "mask"};

/* fields: {NAME: VALUE | {eq|ne|lt|gt: V, ...} | {mask: M, eq: V}} */
static bool parse_fields(struct vup_rctx *c, struct vup_rbuild *b,
                         const struct vup_ynode *n)
{
	struct vup_rule_match *m = &b->rule->match;
	if (!n || n->kind != VUP_Y_MAP || n->n == 0) {
		vup__rerr(c, n,
		          "fields: expected a mapping of field names, "
		          "got %s",
		          vup__ykind_name(n));
		return false;
	}
	bool ok = true;
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct vup_ynode *k = n->kid[i], *v = n->kid[i + 1];
		uint64_t max, x;
		if (k->kind != VUP_Y_SCALAR) {
			vup__rerr(c, k, "fields: expected a field name, got %s",
			          vup__ykind_name(k));
			ok = false;
			continue;
		}
		if (!vup__rules_field(c, b, k, &max)) {
			ok = false;
			continue;
		}
		if (v->kind == VUP_Y_SCALAR) { /* shorthand for eq */
			if (!vup__yu64(c, v, k->s, UINT64_MAX, &x) ||
			    !add_field(m, k->s, VUP_CMP_EQ, x, 0))
				ok = false;
			continue;
		}
		const struct vup_ynode *ks[5], *vs[5];
		char what[300];
		snprintf(what, sizeof(what), "the condition on %s", k->s);
		if (!vup__ymap(c, v, what, cmp_keys, 5, ks, vs)) {
			ok = false;
			continue;
		}
		uint64_t val[5] = {0};
		bool any = false;
		for (int j = 0; j < 5; j++) {
			if (!vs[j])
				continue;
			any = true;
			if (!vup__yu64(c, vs[j], cmp_keys[j], UINT64_MAX,
			               &val[j]))
				ok = false;
		}
		if (!any && v->n > 0) { /* unknown keys, reported */
			ok = false;
			continue;
		}
		if (!any) {
			vup__rerr(c, v,
			          "%s: expected eq, ne, lt, gt or "
			          "{mask: M, eq: V}",
			          k->s);
			ok = false;
			continue;
		}
		if (vs[4] && (!vs[0] || vs[1] || vs[2] || vs[3])) {
			vup__rerr(c, ks[4],
			          "%s: mask goes with eq only "
			          "({mask: M, eq: V})",
			          k->s);
			ok = false;
			continue;
		}
		if (!ok)
			continue;
		if (vs[4]) {
			if (!add_field(m, k->s, VUP_CMP_MASK, val[0], val[4]))
				ok = false;
			continue;
		}
		for (int j = 0; j < 4; j++)
			if (vs[j] &&
			    !add_field(m, k->s, (enum vup_cmp)j, val[j], 0))
				ok = false;
	}
	return ok;
}

/* ---- features ---- */

bool vup__rules_features(struct vup_rctx *c, const struct vup_rbuild *b,
                         const struct vup_ynode *n, const char *what,
                         uint64_t *virtio, uint64_t *protocol)
{
	*virtio = *protocol = 0;
	const struct vup_ynode *const *items =
	        (const struct vup_ynode *const *)&n;
	size_t count = 1;
	if (n && n->kind == VUP_Y_SEQ) {
		items = (const struct vup_ynode *const *)n->kid;
		count = n->n;
	}
	if (count == 0) {
		vup__rerr(c, n,
		          "%s: expected feature names, got an empty "
		          "list",
		          what);
		return false;
	}
	bool ok = true;
	for (size_t i = 0; i < count; i++) {
		const char *name;
		bool proto;
		if (!vup__ystr(c, items[i], what, &name)) {
			ok = false;
			continue;
		}
		int bit = vup_feature_bit(name, &proto);
		if (bit < 0) {
			vup__rerr(c, items[i], "%s: unknown feature '%s'", what,
			          name);
			ok = false;
			continue;
		}
		enum vup_layout need =
		        proto ? VUP_L_PROTOCOL_FEATURES : VUP_L_FEATURES;
		if (!b->layouts[need]) {
			char d[200];
			describe(b, d, sizeof(d));
			vup__rerr(
			        c, items[i],
			        "%s: %s is a %s feature, and no %s word is in "
			        "the payload of %s",
			        what, name, proto ? "protocol" : "virtio",
			        proto ? "protocol feature" : "feature", d);
			ok = false;
			continue;
		}
		*(proto ? protocol : virtio) |= UINT64_C(1) << bit;
	}
	return ok;
}

/* ---- requests ---- */

static bool looks_numeric(const char *s)
{
	return s[0] >= '0' && s[0] <= '9';
}

static void add_request(struct vup_rule_match *m, enum vup_chan chan,
                        uint32_t code)
{
	m->requests[m->nrequests].chan = chan;
	m->requests[m->nrequests].code = code;
	m->nrequests++;
}

static bool parse_requests(struct vup_rctx *c, struct vup_rbuild *b,
                           const struct vup_ynode *req,
                           const struct vup_ynode *code)
{
	struct vup_rule_match *m = &b->rule->match;
	const struct vup_ynode *n = req ? req : code;
	const struct vup_ynode *const *items =
	        (const struct vup_ynode *const *)&n;
	size_t count = 1;
	const char *what = req ? "request" : "code";
	if (n->kind == VUP_Y_SEQ) {
		items = (const struct vup_ynode *const *)n->kid;
		count = n->n;
		if (count == 0) {
			vup__rerr(c, n, "%s: empty list", what);
			return false;
		}
		if (count > VUP_RULE_MAX_REQUESTS) {
			vup__rerr(c, n, "%s: at most %d in one rule", what,
			          VUP_RULE_MAX_REQUESTS);
			return false;
		}
	}
	bool ok = true;
	for (size_t i = 0; i < count; i++) {
		const struct vup_ynode *it = items[i];
		if (code) {
			uint64_t v;
			if (vup__yu64(c, it, what, UINT32_MAX, &v))
				add_request(m,
				            b->chan < 0
				                    ? VUP_CHAN_MAIN
				                    : (enum vup_chan)b->chan,
				            (uint32_t)v);
			else
				ok = false;
			continue;
		}
		const char *name;
		if (!vup__ystr(c, it, what, &name)) {
			ok = false;
			continue;
		}
		const struct vup_msg_type *t = vup_proto_by_name(name);
		if (!t) {
			vup__rerr(c, it, "unknown request '%s'%s", name,
			          looks_numeric(name) ? " (use code: N for a "
			                                "number)"
			                              : "");
			ok = false;
			continue;
		}
		if (b->chan >= 0 && (int)t->chan != b->chan) {
			vup__rerr(c, it, "%s travels on the %s channel, not %s",
			          t->name, vup_chan_name(t->chan),
			          vup_chan_name((enum vup_chan)b->chan));
			ok = false;
			continue;
		}
		add_request(m, t->chan, t->code);
	}
	return ok;
}

static bool parse_side(struct vup_rctx *c, const struct vup_ynode *n, int *out)
{
	const char *s;
	if (!vup__ystr(c, n, "from", &s))
		return false;
	if (strcmp(s, "front-end") == 0 || strcmp(s, "back-end") == 0) {
		*out = s[0] == 'f' ? VUP_FRONTEND : VUP_BACKEND;
		return true;
	}
	vup__rerr(c, n, "from: expected front-end or back-end, got '%s'", s);
	return false;
}

bool vup__rules_match(struct vup_rctx *c, struct vup_rbuild *b,
                      const struct vup_ynode *match)
{
	struct vup_rule_match *m = &b->rule->match;
	const struct vup_ynode *k[M_COUNT], *v[M_COUNT];
	bool ok = true;
	uint64_t x;
	m->from = m->reply = -1;
	m->session = m->vring = -1;
	m->vring_cache.layout = -1;
	m->chan = -1;
	b->chan = -1;
	if (!vup__ymap(c, match, "match", match_keys, M_COUNT, k, v))
		return false;
	if (v[M_CHANNEL]) {
		const char *s;
		if (!vup__ystr(c, v[M_CHANNEL], "channel", &s)) {
			ok = false;
		} else if (strcmp(s, "main") == 0 ||
		           strcmp(s, "backend") == 0) {
			b->chan = m->chan =
			        s[0] == 'm' ? VUP_CHAN_MAIN : VUP_CHAN_BACKEND;
		} else {
			vup__rerr(c, v[M_CHANNEL],
			          "channel: expected main or backend, got '%s'",
			          s);
			ok = false;
		}
	}
	if (v[M_REQUEST] && v[M_CODE]) {
		vup__rerr(c, k[M_CODE], "use either request or code, not both");
		ok = false;
	} else if (v[M_REQUEST] || v[M_CODE]) {
		ok &= parse_requests(c, b, v[M_REQUEST], v[M_CODE]);
	}
	if (v[M_FROM])
		ok &= parse_side(c, v[M_FROM], &m->from);
	if (v[M_REPLY]) {
		bool r;
		if (vup__ybool(c, v[M_REPLY], "reply", &r))
			m->reply = r;
		else
			ok = false;
	}
	if (v[M_SESSION]) {
		if (vup__yu64(c, v[M_SESSION], "session", UINT32_MAX, &x))
			m->session = (int64_t)x;
		else
			ok = false;
	}
	if (v[M_SOCKET]) {
		const char *s;
		if (!vup__ystr(c, v[M_SOCKET], "socket", &s))
			ok = false;
		else if (!(m->socket_glob = strdup(s)))
			ok = false;
	}
	if (!ok)
		return false; /* fields need the requests */
	compute_layouts(b);
	if (v[M_VRING]) {
		bool any = false;
		for (int l = 0; l < VUP_L_COUNT; l++)
			any |= b->layouts[l] &&
			       vup__rules_layout_field(l, "index") != NULL;
		if (!vup__yu64(c, v[M_VRING], "vring", UINT32_MAX, &x)) {
			ok = false;
		} else if (!any) {
			char d[200];
			describe(b, d, sizeof(d));
			vup__rerr(c, k[M_VRING],
			          "vring: the payload of %s has no vring index",
			          d);
			ok = false;
		} else {
			m->vring = (int64_t)x;
		}
	}
	if (v[M_FIELDS])
		ok &= parse_fields(c, b, v[M_FIELDS]);
	if (v[M_HAS]) {
		if (!vup__rules_features(c, b, v[M_HAS], "has",
		                         &m->has_features,
		                         &m->has_protocol_features)) {
			ok = false;
		} else if (m->has_features && m->has_protocol_features) {
			vup__rerr(
			        c, v[M_HAS],
			        "has: mixes virtio and protocol features, but "
			        "a message carries only one feature word");
			ok = false;
		}
	}
	return ok;
}
