/* rules: the decision for one message.  Rules are tried in order; a rule
 * whose match fits counts the message (per session or globally), then its
 * `when` says whether it fires.  Randomness (probability, jitter) is a
 * hash of (seed, rule index, match count, purpose): the same seed gives
 * the same decisions whatever the timing, and no clock is read. */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct vup_rules_session {
	unsigned generation; /* of the rule set the counters belong to */
	unsigned n;
	uint64_t count[]; /* per rule: matches so far in this session */
};

struct vup_rules_session *vup_rules_session_new(const struct vup_rules *r)
{
	unsigned n = r ? r->n : 0;
	struct vup_rules_session *ss =
	        calloc(1, sizeof(*ss) + n * sizeof(ss->count[0]));
	if (!ss)
		return NULL;
	ss->generation = r ? r->generation : 0;
	ss->n = n;
	return ss;
}

void vup_rules_session_free(struct vup_rules_session *ss)
{
	free(ss);
}

/* splitmix64's step and finalizer: a bijective mix of 64 bits (data.c's
 * streams are splitmix64 proper: x, x + gamma, x + 2 gamma, ... mixed). */
uint64_t vup__rules_mix(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

enum { DRAW_PROBABILITY = 1, DRAW_JITTER = 2 };

static uint64_t draw(uint64_t seed, unsigned rule, uint64_t count,
                     unsigned purpose)
{
	return vup__rules_mix(
	        vup__rules_mix(vup__rules_mix(vup__rules_mix(seed) ^ rule) ^
	                       count) ^
	        purpose);
}

static bool compare(const struct vup_rule_field_match *f, uint64_t v)
{
	switch (f->op) {
	case VUP_CMP_EQ: return v == f->value;
	case VUP_CMP_NE: return v != f->value;
	case VUP_CMP_LT: return v < f->value;
	case VUP_CMP_GT: return v > f->value;
	case VUP_CMP_MASK: return (v & f->mask) == f->value;
	}
	return false;
}

/* The message being decided, and the field last read from it: rules
 * about one request tend to read the same field (a feature word). */
struct reading {
	enum vup_layout l;
	const struct vup_rules_msg *m;
	const struct vup_field *last; /* NULL: none (or the payload changed) */
	bool last_ok;
	uint64_t last_v;
};

static bool read_field(struct reading *rd, const char *name,
                       struct vup_field_cache *cache, uint64_t *v)
{
	if (cache->layout != (int)rd->l) {
		cache->field = vup__rules_layout_field(rd->l, name);
		cache->layout = (int)rd->l;
	}
	const struct vup_field *f = cache->field;
	if (!f || !rd->m->payload)
		return false;
	if (f != rd->last) {
		rd->last_ok = vup_field_get(f, rd->m->payload, rd->m->hdr->size,
		                            &rd->last_v);
		rd->last = f;
	}
	*v = rd->last_v;
	return rd->last_ok;
}

static bool glob_fits(const char *glob, const char *path)
{
	return path && fnmatch(glob, path, 0) == 0;
}

static bool has_bits(const struct vup_rule_match *mt, struct reading *rd)
{
	uint64_t want = mt->has_features, word;
	enum vup_layout need = VUP_L_FEATURES;
	if (mt->has_protocol_features) {
		want = mt->has_protocol_features;
		need = VUP_L_PROTOCOL_FEATURES;
	}
	/* Both layouts have one field, "features", of the same name. */
	static struct vup_field_cache cache[2] = {{-1, NULL}, {-1, NULL}};
	return rd->l == need &&
	       read_field(rd, "features", &cache[need == VUP_L_FEATURES],
	                  &word) &&
	       (word & want) == want;
}

/* What the index's keys already tell (decide.c's index): the request,
 * channel, reply, sender and session. */
static bool matches_keyed(const struct vup_rule *r,
                          const struct vup_rules_msg *m)
{
	const struct vup_rule_match *mt = &r->match;
	bool is_reply = m->hdr->flags & VUP_FLAG_REPLY;
	int reply = vup__rules_reply_filter(r);
	if (reply >= 0 && reply != is_reply)
		return false;
	if (mt->chan >= 0 && mt->chan != (int)m->chan)
		return false;
	if (mt->from >= 0 && mt->from != (int)m->from)
		return false;
	if (mt->nrequests) {
		unsigned i = 0;
		while (i < mt->nrequests &&
		       (mt->requests[i].chan != m->chan ||
		        mt->requests[i].code != m->hdr->request))
			i++;
		if (i == mt->nrequests)
			return false;
	}
	return mt->session < 0 || (uint64_t)mt->session == m->session;
}

/* The rest: socket paths and the payload. */
static bool matches_rest(struct vup_rule *r, struct reading *rd)
{
	const struct vup_rules_msg *m = rd->m;
	struct vup_rule_match *mt = &r->match;
	uint64_t v;
	if (mt->socket_glob && !glob_fits(mt->socket_glob, m->frontend_path) &&
	    !glob_fits(mt->socket_glob, m->backend_path))
		return false;
	if (mt->vring >= 0 && (!read_field(rd, "index", &mt->vring_cache, &v) ||
	                       v != (uint64_t)mt->vring))
		return false;
	for (unsigned i = 0; i < mt->nfields; i++)
		if (!read_field(rd, mt->fields[i].name, &mt->fields[i].cache,
		                &v) ||
		    !compare(&mt->fields[i], v))
			return false;
	if ((mt->has_features || mt->has_protocol_features) &&
	    !has_bits(mt, rd))
		return false;
	return true;
}

bool vup__rules_counted(const struct vup_rule_when *w, uint64_t count)
{
	if (w->nth && count != w->nth)
		return false;
	if (w->first && count > w->first)
		return false;
	if (w->every && count % w->every != 0)
		return false;
	if (w->after && count <= w->after)
		return false;
	return true;
}

bool vup__rules_drawn(const struct vup_rule_when *w, uint64_t x)
{
	return x % VUP_RULES_PPM < w->probability_ppm;
}

uint64_t vup__rules_jitter(uint64_t delay, uint64_t jitter, uint64_t x)
{
	if (!jitter)
		return delay;
	uint64_t span = 2 * jitter + 1; /* both at most 24 h */
	uint64_t d = delay + x % span;
	return d > jitter ? d - jitter : 0;
}

static bool fires(const struct vup_rule *r, unsigned idx, uint64_t count)
{
	const struct vup_rule_when *w = &r->when;
	if (!vup__rules_counted(w, count))
		return false;
	if (w->probability_ppm >= VUP_RULES_PPM)
		return true;
	return vup__rules_drawn(w, draw(w->seed, idx, count, DRAW_PROBABILITY));
}

/* delay +- jitter, uniform, not below 0. */
static uint64_t delay_of(const struct vup_rule *r, unsigned idx, uint64_t count)
{
	if (!r->jitter_ns)
		return r->delay_ns;
	return vup__rules_jitter(r->delay_ns, r->jitter_ns,
	                         draw(r->when.seed, idx, count, DRAW_JITTER));
}

/* Apply a rule's rewrites to the message; true if a byte changed. */
static bool rewrite(const struct vup_rule *r, enum vup_layout l,
                    const struct vup_rules_msg *m)
{
	bool changed = false;
	if (!m->payload)
		return false;
	for (unsigned i = 0; i < r->nrewrites; i++) {
		const struct vup_rewrite *w = &r->rewrites[i];
		const struct vup_field *f;
		uint64_t old, now = 0;
		if (w->field) {
			f = vup__rules_layout_field(l, w->field);
			now = w->value;
		} else {
			enum vup_layout need = w->protocol
			                               ? VUP_L_PROTOCOL_FEATURES
			                               : VUP_L_FEATURES;
			f = l == need ? vup__rules_layout_field(l, "features")
			              : NULL;
		}
		if (!f || !vup_field_get(f, m->payload, m->hdr->size, &old))
			continue;
		if (!w->field)
			now = (old | w->set_features) & ~w->clear_features;
		/* Values fit their fields (checked at load time). */
		if (now != old &&
		    vup_field_set(f, m->payload, m->hdr->size, now))
			changed = true;
	}
	return changed;
}

/* The counters of this rule set for the session, fresh when *ss belongs
 * to another one (a reload resets session counters). */
static struct vup_rules_session *session_of(const struct vup_rules *r,
                                            struct vup_rules_session **ss)
{
	if (*ss && ((*ss)->generation != r->generation || (*ss)->n != r->n)) {
		vup_rules_session_free(*ss);
		*ss = NULL;
	}
	if (!*ss)
		*ss = vup_rules_session_new(r);
	return *ss;
}

static unsigned list_any(unsigned c, unsigned rf);
static unsigned list_code(unsigned c, uint32_t k, unsigned rf);

enum vup_trace_action vup_rules_trace_action(const struct vup_verdict *v)
{
	switch (v->action) {
	case VUP_RULE_ACT_PASS:
		return v->nlogged ? VUP_TRACE_ACT_LOG : VUP_TRACE_ACT_PASS;
	case VUP_RULE_ACT_DROP: return VUP_TRACE_ACT_DROP;
	case VUP_RULE_ACT_DELAY: return VUP_TRACE_ACT_DELAY;
	case VUP_RULE_ACT_REWRITE: return VUP_TRACE_ACT_REWRITE;
	case VUP_RULE_ACT_FAIL: return VUP_TRACE_ACT_FAIL;
	case VUP_RULE_ACT_DISCONNECT: return VUP_TRACE_ACT_DISCONNECT;
	case VUP_RULE_ACT_LOG:
	case VUP_RULE_ACT_SNAPSHOT: return VUP_TRACE_ACT_LOG; /* see rules.h */
	case VUP_RULE_ACT_COUNT: break;
	}
	return VUP_TRACE_ACT_PASS; /* not a verdict */
}

void vup_rules_decide(struct vup_rules *r, struct vup_rules_session **ss,
                      const struct vup_rules_msg *m, struct vup_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->action = VUP_RULE_ACT_PASS;
	if (!r || r->n == 0 || !m || !m->hdr)
		return;
	struct vup_rules_session *s = ss ? session_of(r, ss) : NULL;
	const struct vup_msg_type *t =
	        m->view ? m->view->type
	                : vup_proto_lookup(m->chan, m->hdr->request);
	/* Fields are named as the flags say (what `dump` shows). */
	enum vup_layout l = vup_msg_layout(t, m->hdr, m->neg);
	struct reading rd = {.l = l, .m = m};
	uint32_t code = m->hdr->request;
	bool is_reply = m->hdr->flags & VUP_FLAG_REPLY;
	bool indexed = code < VUP_RULES_INDEXED && m->chan < 2 && m->from < 2;
	/* Indexed: the rules naming no request and those naming this one,
	 * two lists in file order, merged; else every rule. */
	const struct vup_rule_key *ka = NULL, *ea = NULL, *kb = NULL,
	                          *eb = NULL;
	if (indexed) {
		unsigned rf = (unsigned)is_reply * 2 + m->from;
		unsigned a = list_any(m->chan, rf),
		         b = list_code(m->chan, code, rf);
		ka = r->candidates + r->start[a];
		ea = r->candidates + r->start[a + 1];
		kb = r->candidates + r->start[b];
		eb = r->candidates + r->start[b + 1];
	}
	unsigned next = 0;
	for (;;) {
		unsigned i;
		if (indexed) {
			const struct vup_rule_key *key;
			if (ka < ea && (kb >= eb || ka->rule < kb->rule))
				key = ka++;
			else if (kb < eb)
				key = kb++;
			else
				break;
			if (key->session >= 0 &&
			    (uint64_t)key->session != m->session)
				continue;
			i = key->rule;
		} else if (next < r->n) {
			i = next++;
		} else {
			break;
		}
		struct vup_rule *rule = &r->rules[i];
		if ((!indexed && !matches_keyed(rule, m)) ||
		    !matches_rest(rule, &rd))
			continue;
		uint64_t scratch = 0; /* no session counters (out of memory) */
		uint64_t *ctr = rule->when.global ? &r->global_count[i]
		                : s               ? &s->count[i]
		                                  : &scratch;
		uint64_t count = ++*ctr;
		if (!fires(rule, i, count))
			continue;
		switch (rule->action) {
		case VUP_RULE_ACT_SNAPSHOT: /* noted like a log, and asks */
			if (!v->snapshot)
				v->snapshot = rule->name;
			/* fall through */
		case VUP_RULE_ACT_LOG:
			if (v->nlogged < VUP_VERDICT_MAX_LOGGED)
				v->logged[v->nlogged++] = rule->name;
			continue;
		case VUP_RULE_ACT_REWRITE:
			if (rewrite(rule, l, m)) {
				v->rewritten = true;
				rd.last = NULL; /* later rules read anew */
			}
			v->action = VUP_RULE_ACT_REWRITE;
			break;
		case VUP_RULE_ACT_DELAY:
			v->action = VUP_RULE_ACT_DELAY;
			v->delay_ns = delay_of(rule, i, count);
			break;
		case VUP_RULE_ACT_FAIL:
			v->action = VUP_RULE_ACT_FAIL;
			v->fail_value = rule->fail_value;
			v->fail_has_value = rule->fail_has_value;
			break;
		case VUP_RULE_ACT_DISCONNECT:
			v->action = VUP_RULE_ACT_DISCONNECT;
			v->disconnect = rule->disconnect;
			break;
		default: v->action = rule->action; break; /* DROP, PASS */
		}
		v->rule = rule->name;
		if (!rule->cont)
			return;
	}
}

/* The index's lists (rules.h): rf is reply * 2 + sender. */
static unsigned list_any(unsigned c, unsigned rf)
{
	return c * 4 + rf;
}

static unsigned list_code(unsigned c, uint32_t k, unsigned rf)
{
	return 2 * 4 + (c * VUP_RULES_INDEXED + k) * 4 + rf;
}

/* Can rule r meet a message of channel c, code k (any code when
 * any_code: the rule names none), reply and sender as rf says? */
static bool in_list(const struct vup_rule *r, unsigned c, bool any_code,
                    uint32_t k, unsigned rf)
{
	const struct vup_rule_match *mt = &r->match;
	int reply = vup__rules_reply_filter(r);
	if ((mt->chan >= 0 && mt->chan != (int)c) ||
	    (reply >= 0 && reply != (int)(rf / 2)) ||
	    (mt->from >= 0 && mt->from != (int)(rf % 2)))
		return false;
	if (any_code)
		return mt->nrequests == 0;
	for (unsigned i = 0; i < mt->nrequests; i++)
		if (mt->requests[i].chan == c && mt->requests[i].code == k)
			return true;
	return false;
}

/* Fill list j with the rules in_list admits, in file order. */
static void fill(struct vup_rules *r, unsigned j, unsigned c, bool any_code,
                 uint32_t k, unsigned rf, unsigned *at)
{
	r->start[j] = *at;
	for (unsigned i = 0; i < r->n; i++)
		if (in_list(&r->rules[i], c, any_code, k, rf))
			r->candidates[(*at)++] = (struct vup_rule_key){
			        .rule = i,
			        .session = r->rules[i].match.session,
			};
}

/* A rule is in at most 4 lists per channel for naming no request, and 4
 * per request it names: linear in the file, whatever its size. */
int vup__rules_index(struct vup_rules *r)
{
	size_t total = 0;
	for (unsigned i = 0; i < r->n; i++)
		total += 4 * (2 + (size_t)r->rules[i].match.nrequests);
	r->candidates = malloc(total * sizeof(*r->candidates) + 1);
	if (!r->candidates)
		return -ENOMEM;
	unsigned at = 0;
	for (unsigned c = 0; c < 2; c++)
		for (unsigned rf = 0; rf < 4; rf++)
			fill(r, list_any(c, rf), c, true, 0, rf, &at);
	for (unsigned c = 0; c < 2; c++)
		for (uint32_t k = 0; k < VUP_RULES_INDEXED; k++)
			for (unsigned rf = 0; rf < 4; rf++)
				fill(r, list_code(c, k, rf), c, false, k, rf,
				     &at);
	r->start[VUP_RULES_LISTS] = at;
	return 0;
}
