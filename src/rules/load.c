/* rules: loading a rules file.  The YAML tree (yaml.c) is walked with a
 * fixed schema; every problem is reported with its position and the walk
 * goes on, so that one run shows all of them.  A rule set is only
 * returned when there was none. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static atomic_uint generations;

/* ---- when: ---- */

static const char *const when_keys[] = {"nth",  "first", "every",      "after",
                                        "seed", "scope", "probability"};
enum { W_NTH, W_FIRST, W_EVERY, W_AFTER, W_SEED, W_SCOPE, W_PROB, W_COUNT };

/* "0.3", "1", "0", "1.0", ".25": parts per million, rounded. */
static bool parse_probability(struct vup_rctx *c, const struct vup_ynode *n,
                              uint32_t *ppm)
{
	if (!n || n->kind != VUP_Y_SCALAR || n->len == 0) {
		vup__rerr(c, n,
		          "probability: expected a number from 0 to 1, "
		          "got %s",
		          vup__ykind_name(n));
		return false;
	}
	const char *s = n->s;
	uint64_t whole = 0, frac = 0;
	unsigned digits = 0, fdigits = 0;
	bool round_up = false, excess = false;
	for (; *s >= '0' && *s <= '9'; s++, digits++)
		whole = whole > 10 ? 10 : whole * 10 + (uint64_t)(*s - '0');
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, digits++, fdigits++) {
			if (fdigits < 6)
				frac = frac * 10 + (uint64_t)(*s - '0');
			else if (fdigits == 6)
				round_up = *s >= '5';
			excess |= fdigits >= 6 && *s != '0';
		}
	}
	if (digits == 0 || *s != '\0') {
		vup__rerr(
		        c, n,
		        "probability: expected a number from 0 to 1, got '%s'",
		        n->s);
		return false;
	}
	for (; fdigits < 6; fdigits++)
		frac *= 10;
	uint64_t v = whole * VUP_RULES_PPM + frac + (round_up ? 1 : 0);
	if (whole > 1 || v > VUP_RULES_PPM || (whole == 1 && excess)) {
		vup__rerr(c, n, "probability: %s is not between 0 and 1", n->s);
		return false;
	}
	*ppm = (uint32_t)v;
	return true;
}

bool vup__rules_when(struct vup_rctx *c, const struct vup_ynode *n,
                     struct vup_rule_when *w, bool allow_global)
{
	const struct vup_ynode *k[W_COUNT], *v[W_COUNT];
	uint64_t *counts[] = {&w->nth, &w->first, &w->every, &w->after};
	bool ok = true;
	if (!vup__ymap(c, n, "when", when_keys, W_COUNT, k, v))
		return false;
	for (int i = W_NTH; i <= W_AFTER; i++) {
		if (!v[i])
			continue;
		if (!vup__yu64(c, v[i], when_keys[i], UINT64_MAX, counts[i])) {
			ok = false;
		} else if (*counts[i] == 0 && i != W_AFTER) {
			vup__rerr(c, v[i], "%s: must be at least 1",
			          when_keys[i]);
			ok = false;
		}
	}
	if (v[W_SEED] && !vup__yu64(c, v[W_SEED], "seed", UINT64_MAX, &w->seed))
		ok = false;
	if (v[W_PROB] && !parse_probability(c, v[W_PROB], &w->probability_ppm))
		ok = false;
	if (v[W_SCOPE]) {
		const char *s;
		if (!vup__ystr(c, v[W_SCOPE], "scope", &s)) {
			ok = false;
		} else if (strcmp(s, "session") == 0 ||
		           strcmp(s, "global") == 0) {
			w->global = s[0] == 'g';
		} else {
			vup__rerr(c, v[W_SCOPE],
			          "scope: expected session or global, got '%s'",
			          s);
			ok = false;
		}
		if (w->global && !allow_global) {
			vup__rerr(c, v[W_SCOPE],
			          "scope: data rules count per session and "
			          "vring; global is not supported");
			ok = false;
		}
	}
	return ok;
}

/* ---- a rule ---- */

static const char *const rule_keys[] = {"name", "match", "when", "action",
                                        "continue"};
enum { R_NAME, R_MATCH, R_WHEN, R_ACTION, R_CONTINUE, R_COUNT };

/* The names given so far are hashed: a file of tens of thousands of
 * rules (1 MiB) must not cost a comparison per pair, since a SIGHUP
 * reload runs on the relay's thread. */
uint64_t vup__rules_name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* The line of the rule already holding name s, else 0 after noting it
 * as taken at line. */
static unsigned names_claim(struct vup_rnames *t, const char *s, unsigned line)
{
	size_t i = (size_t)vup__rules_name_hash(s) & t->mask;
	while (t->slot[i].name) {
		if (strcmp(t->slot[i].name, s) == 0)
			return t->slot[i].line;
		i = (i + 1) & t->mask;
	}
	t->slot[i].name = s;
	t->slot[i].line = line;
	return 0;
}

bool vup__rules_name(struct vup_rctx *c, const struct vup_ynode *n,
                     unsigned line, struct vup_rnames *names, char **out)
{
	const char *s;
	if (!vup__ystr(c, n, "name", &s))
		return false;
	if (n->len > VUP_RULES_MAX_NAME) {
		vup__rerr(c, n, "name: longer than %d bytes",
		          VUP_RULES_MAX_NAME);
		return false;
	}
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			vup__rerr(c, n,
			          "name: control characters are not "
			          "allowed");
			return false;
		}
	}
	unsigned first = names_claim(names, s, line);
	if (first) {
		vup__rerr(c, n, "duplicate rule name '%s' (first at line %u)",
		          s, first);
		return false;
	}
	return (*out = strdup(s)) != NULL;
}

static bool parse_rule(struct vup_rctx *c, struct vup_rbuild *b,
                       struct vup_rnames *names)
{
	const struct vup_ynode *k[R_COUNT], *v[R_COUNT], *rewrite = NULL;
	struct vup_rule *r = b->rule;
	bool ok = true;
	r->line = b->node->line + 1;
	r->when.probability_ppm = VUP_RULES_PPM;
	char what[32];
	snprintf(what, sizeof(what), "rule %u", b->index + 1);
	if (!vup__ymap(c, b->node, what, rule_keys, R_COUNT, k, v))
		return false;
	b->match = v[R_MATCH];
	b->action = v[R_ACTION];
	b->when = v[R_WHEN];
	if (!v[R_NAME]) {
		vup__rerr(c, b->node, "rule %u has no name", b->index + 1);
		ok = false;
	} else if (!vup__rules_name(c, v[R_NAME], r->line, names, &r->name)) {
		ok = false;
	}
	bool act =
	        v[R_ACTION] && vup__rules_action(c, b, v[R_ACTION], &rewrite);
	if (!v[R_ACTION])
		vup__rerr(c, b->node, "rule %s has no action",
		          r->name ? r->name : what);
	if (!act) { /* check the match as if it passed */
		ok = false;
		rewrite = NULL;
		r->action = VUP_RULE_ACT_PASS;
	}
	static const struct vup_ynode every = {.kind = VUP_Y_MAP};
	if (!vup__rules_match(c, b, v[R_MATCH] ? v[R_MATCH] : &every)) {
		ok = false;
		rewrite = NULL; /* its fields depend on the match */
	}
	if (r->action == VUP_RULE_ACT_FAIL && r->match.reply == 1) {
		vup__rerr(c, v[R_ACTION],
		          "fail answers a request in place of "
		          "its receiver; it cannot apply to "
		          "replies (reply: true)");
		ok = false;
	}
	if (rewrite && !vup__rules_rewrite(c, b, rewrite))
		ok = false;
	if (v[R_WHEN] && !vup__rules_when(c, v[R_WHEN], &r->when, true))
		ok = false;
	if (v[R_CONTINUE] &&
	    !vup__ybool(c, v[R_CONTINUE], "continue", &r->cont))
		ok = false;
	return ok;
}

/* ---- the file ---- */

static void rule_clear(struct vup_rule *r)
{
	free(r->name);
	free(r->match.socket_glob);
	for (unsigned i = 0; i < r->match.nfields; i++)
		free(r->match.fields[i].name);
	free(r->match.fields);
	for (unsigned i = 0; i < r->nrewrites; i++)
		free(r->rewrites[i].field);
	free(r->rewrites);
}

void vup_rules_free(struct vup_rules *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->n; i++)
		rule_clear(&r->rules[i]);
	free(r->rules);
	vup__rules_data_free(r);
	free(r->global_count);
	free(r->candidates);
	free(r->path);
	free(r);
}

unsigned vup_rules_count(const struct vup_rules *r)
{
	return r->n;
}

unsigned vup_rules_data_count(const struct vup_rules *r)
{
	return r ? r->ndata : 0;
}

/* The file's keys: rules: and data:.  Not vup__ymap: its message for an
 * unknown key stays what it was before data: existed. */
static bool top_keys(struct vup_rctx *c, const struct vup_ynode *root,
                     const struct vup_ynode **rules,
                     const struct vup_ynode **data)
{
	*rules = *data = NULL;
	if (root->kind != VUP_Y_MAP) {
		vup__rerr(c, root, "the file: expected a mapping, got %s",
		          vup__ykind_name(root));
		return false;
	}
	for (size_t i = 0; i + 1 < root->n; i += 2) {
		const struct vup_ynode *k = root->kid[i];
		if (k->kind != VUP_Y_SCALAR)
			vup__rerr(c, k,
			          "the file: keys must be plain words, "
			          "not %s",
			          vup__ykind_name(k));
		else if (strcmp(k->s, "rules") == 0 && !*rules)
			*rules = root->kid[i + 1];
		else if (strcmp(k->s, "data") == 0 && !*data)
			*data = root->kid[i + 1];
		else if (strcmp(k->s, "rules") && strcmp(k->s, "data"))
			vup__rerr(
			        c, k,
			        "unknown key '%s' in the file (expected rules)"
			        " or data (data-plane rules)",
			        k->s);
	}
	return true;
}

static int build(struct vup_rctx *c, const struct vup_ynode *root,
                 struct vup_rules *out)
{
	const struct vup_ynode *list, *data;
	if (!root) {
		vup__rdiag_add(
		        c, c->err, 0, 0,
		        "empty file: expected a mapping with 'rules:' or "
		        "'data:'");
		return -EINVAL;
	}
	if (!top_keys(c, root, &list, &data))
		return -EINVAL;
	if (!list && !data) { /* other keys were reported as unknown */
		if (root->n == 0)
			vup__rerr(c, root,
			          "no 'rules:' in the file, nor 'data:'");
		return -EINVAL;
	}
	if (list && list->kind != VUP_Y_SEQ) {
		vup__rerr(c, list, "rules: expected a list of rules, got %s",
		          vup__ykind_name(list));
		return -EINVAL;
	}
	unsigned n = list ? (unsigned)list->n : 0;
	size_t nd = data && data->kind == VUP_Y_SEQ ? data->n : 0;
	out->rules = calloc(n ? n : 1, sizeof(*out->rules));
	out->global_count = calloc(n ? n : 1, sizeof(*out->global_count));
	struct vup_rbuild *b = calloc(n ? n : 1, sizeof(*b));
	struct vup_rnames names = {.mask = 15};
	while (names.mask < 2 * ((size_t)n + nd))
		names.mask = names.mask * 2 + 1;
	names.slot = calloc(names.mask + 1, sizeof(*names.slot));
	if (!out->rules || !out->global_count || !b || !names.slot) {
		free(b);
		free(names.slot);
		return -ENOMEM;
	}
	out->n = n;
	for (unsigned i = 0; i < n; i++) {
		b[i].rule = &out->rules[i];
		b[i].index = i;
		b[i].node = list->kid[i];
		parse_rule(c, &b[i], &names);
	}
	int rc = data ? vup__rules_data(c, data, out, &names) : 0;
	free(names.slot);
	if (c->err->count == 0)
		vup__rules_lint(c, b, n);
	free(b);
	if (rc)
		return rc;
	return c->err->count ? -EINVAL : 0;
}

int vup__rules_parse(const char *name, const char *text, size_t len,
                     struct vup_rules **out, struct vup_rdiag *err,
                     struct vup_rdiag *warn)
{
	struct vup_rctx c = {name ? name : "<rules>", text, len, err, warn};
	struct vup_ynode *root = NULL;
	*out = NULL;
	struct vup_rules *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	int rc = vup__ytree(&c, &root);
	if (rc == 0)
		rc = build(&c, root, r);
	if (rc == 0 && err->count)
		rc = -EINVAL;
	if (rc == 0 && !(r->path = strdup(c.name)))
		rc = -ENOMEM;
	if (rc == 0)
		rc = vup__rules_index(r);
	if (rc == -ENOMEM && err->count == 0)
		vup__rdiag_add(&c, err, 0, 0, "out of memory");
	vup__yfree(root);
	if (rc) {
		vup_rules_free(r);
		return rc;
	}
	r->generation = atomic_fetch_add(&generations, 1) + 1;
	*out = r;
	return 0;
}

int vup__rules_read(const char *path, char **text, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = 0;
	char *buf = NULL;
	size_t got = 0;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto out;
	}
	if (st.st_size > VUP_RULES_MAX_FILE) {
		rc = -EFBIG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rc = -errno;
			goto out;
		}
		if (k == 0)
			break;
		got += (size_t)k;
	}
	buf[got] = '\0';
out:
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	*text = buf;
	*len = got;
	return 0;
}

/* Copy whole lines of d into buf. */
static void export(struct vup_rdiag *d, char *buf, size_t cap)
{
	if (!buf || !cap)
		return;
	const char *text = vup__rdiag_text(d);
	size_t n = strlen(text);
	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && text[n - 1] != '\n')
			n--;
	}
	memcpy(buf, text, n);
	buf[n] = '\0';
}

int vup_rules_parse(const char *name, const char *text, size_t len,
                    struct vup_rules **out, char *err, size_t errlen,
                    char *warn, size_t warnlen)
{
	struct vup_rdiag e = {0}, w = {0};
	int rc = vup__rules_parse(name, text, len, out, &e, &w);
	export(&e, err, errlen);
	export(&w, warn, warnlen);
	vup__rdiag_free(&e);
	vup__rdiag_free(&w);
	return rc;
}

int vup_rules_load(const char *path, struct vup_rules **out, char *err,
                   size_t errlen, char *warn, size_t warnlen)
{
	char *text = NULL;
	size_t len = 0;
	*out = NULL;
	if (warn && warnlen)
		warn[0] = '\0';
	int rc = vup__rules_read(path, &text, &len);
	if (rc) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s\n", path,
			         rc == -EFBIG ? "larger than 1 MiB"
			                      : strerror(-rc));
		return rc;
	}
	rc = vup_rules_parse(path, text, len, out, err, errlen, warn, warnlen);
	free(text);
	return rc;
}
