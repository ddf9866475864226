/* control: a request line to a reply line, without I/O.  Everything a
 * client may get wrong is caught here and answered with what it was. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vuproxy/control.h"

int vup_control_fail(struct vup_control_req *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* Is key in the comma-separated list? */
static bool listed(const char *list, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = list; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (n == kl && memcmp(p, key, n) == 0)
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
}

static int arg_node(struct vup_control_req *r, const char *key, bool required,
                    enum vup_json_type want, const char *what)
{
	int v = vup_json_get(r->doc, r->root, key);
	if (v < 0) {
		if (required)
			return vup_control_fail(r,
			                        "%s: missing argument \"%s\"",
			                        r->cmd->name, key);
		return -2;
	}
	if (r->doc->n[v].type != want)
		return vup_control_fail(
		        r, "%s: argument \"%s\" must be %s, not %s",
		        r->cmd->name, key, what,
		        vup_json_type_name(r->doc->n[v].type));
	return v;
}

int vup_control_arg_int(struct vup_control_req *r, const char *key,
                        bool required, int64_t min, int64_t max, int64_t *out)
{
	int v = arg_node(r, key, required, VUP_JSON_NUMBER, "an integer");
	if (v < 0)
		return v == -2 ? 0 : -1;
	int64_t x;
	if (vup_json_int(r->doc, v, &x) || x < min || x > max)
		return vup_control_fail(
		        r,
		        "%s: argument \"%s\" must be an integer from %lld "
		        "to %lld",
		        r->cmd->name, key, (long long)min, (long long)max);
	*out = x;
	return 1;
}

int vup_control_arg_str(struct vup_control_req *r, const char *key,
                        bool required, char *out, size_t cap)
{
	int v = arg_node(r, key, required, VUP_JSON_STRING, "a string");
	if (v < 0)
		return v == -2 ? 0 : -1;
	int rc = vup_json_string(r->doc, v, out, cap, NULL);
	if (rc == -E2BIG)
		return vup_control_fail(r,
		                        "%s: argument \"%s\" is longer than "
		                        "%zu bytes",
		                        r->cmd->name, key, cap - 1);
	if (rc)
		return vup_control_fail(r,
		                        "%s: argument \"%s\" holds a NUL "
		                        "character",
		                        r->cmd->name, key);
	return 1;
}

int vup_control_arg_enum(struct vup_control_req *r, const char *key,
                         bool required, const char *const *choices, int *out)
{
	char s[64];
	int rc = vup_control_arg_str(r, key, required, s, sizeof(s));
	if (rc <= 0 && !(rc < 0 && strstr(r->err, "longer than")))
		return rc;
	for (int i = 0; rc > 0 && choices[i]; i++)
		if (strcmp(s, choices[i]) == 0) {
			*out = i;
			return 1;
		}
	char list[256] = "";
	for (int i = 0; choices[i]; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
		         "%s\"%s\"", i ? ", " : "", choices[i]);
	return vup_control_fail(r, "%s: argument \"%s\" must be one of %s",
	                        r->cmd->name, key, list);
}

int vup_control_help(struct vup_control_req *r)
{
	vup_jw_arr(r->out);
	for (size_t i = 0; i < r->ncmds; i++) {
		const struct vup_control_cmd *c = &r->table[i];
		vup_jw_obj(r->out);
		vup_jw_kstr(r->out, "cmd", c->name);
		vup_jw_kstr(r->out, "args", c->args ? c->args : "");
		vup_jw_kuint(r->out, "fds", c->max_fds);
		vup_jw_kstr(r->out, "help", c->help);
		vup_jw_end(r->out);
	}
	vup_jw_end(r->out);
	return 0;
}

/* The request's members: "id" a number or string, "cmd" a known
 * command, every other one an argument of it.  0, or -1 with r->err. */
static int check_request(struct vup_control_req *r,
                         const struct vup_control_cmd *table, size_t n,
                         unsigned received)
{
	const struct vup_json_doc *d = r->doc;
	if (d->n[0].type != VUP_JSON_OBJECT)
		return vup_control_fail(r, "a request is a JSON object, not %s",
		                        vup_json_type_name(d->n[0].type));
	int c = vup_json_get(d, 0, "cmd");
	char name[64];
	if (c < 0)
		return vup_control_fail(r, "missing \"cmd\"");
	if (d->n[c].type != VUP_JSON_STRING)
		return vup_control_fail(r, "\"cmd\" must be a string, not %s",
		                        vup_json_type_name(d->n[c].type));
	if (vup_json_string(d, c, name, sizeof(name), NULL))
		return vup_control_fail(r, "unknown command (name too long)");
	for (size_t i = 0; i < n && !r->cmd; i++)
		if (strcmp(table[i].name, name) == 0)
			r->cmd = &table[i];
	if (!r->cmd)
		return vup_control_fail(
		        r, "unknown command \"%s\" (try \"help\")", name);
	for (int k = d->n[0].child; k >= 0; k = d->n[d->n[k].next].next) {
		char key[64];
		if (vup_json_string(d, k, key, sizeof(key), NULL))
			return vup_control_fail(r,
			                        "%s: unknown argument (name "
			                        "too long)",
			                        name);
		if (strcmp(key, "id") && strcmp(key, "cmd") &&
		    !listed(r->cmd->args, key))
			return vup_control_fail(
			        r, "%s: unknown argument \"%s\"%s%s", name, key,
			        r->cmd->args && *r->cmd->args
			                ? "; it takes "
			                : "; it takes none",
			        r->cmd->args ? r->cmd->args : "");
	}
	if (received > r->cmd->max_fds)
		return vup_control_fail(
		        r, "%s takes %s file descriptor (%u received; closed)",
		        name, r->cmd->max_fds ? "at most one" : "no", received);
	return 0;
}

/* The id as received, if it is a number or a string. */
static void put_id(struct vup_jw *w, const struct vup_json_doc *d, bool parsed)
{
	vup_jw_obj(w);
	int id = parsed ? vup_json_get(d, 0, "id") : -1;
	if (id >= 0 && (d->n[id].type == VUP_JSON_NUMBER ||
	                d->n[id].type == VUP_JSON_STRING)) {
		vup_jw_key(w, "id");
		vup_jw_raw(w, d->text + d->n[id].start, d->n[id].len);
	}
}

bool vup_control_dispatch(const struct vup_control_cmd *table, size_t n,
                          void *ctx, const char *line, size_t len, int *fds,
                          unsigned nfds, struct vup_jw *out)
{
	struct vup_jw rw, *reply = &rw;
	vup_jw_init(&rw);
	struct vup_json_doc doc;
	static struct vup_control_req r; /* 1 KiB of err: not on the stack */
	struct vup_jw result;
	memset(&r, 0, sizeof(r));
	vup_jw_init(&result);
	r.doc = &doc;
	r.ctx = ctx;
	r.table = table;
	r.ncmds = n;
	r.out = &result;
	r.nfds = nfds < VUP_CONTROL_FDS_MAX ? nfds : VUP_CONTROL_FDS_MAX;
	for (unsigned i = 0; i < nfds; i++)
		if (i < r.nfds)
			r.fds[i] = fds[i];
		else
			close(fds[i]);
	bool parsed =
	        vup_json_parse(&doc, line, len, r.err, sizeof(r.err)) == 0;
	int rc = -1;
	if (parsed)
		rc = check_request(&r, table, n, nfds);
	if (rc == 0)
		rc = r.cmd->run(&r);
	if (rc == 0 && result.oom)
		rc = vup_control_fail(&r, "out of memory");
	for (unsigned i = 0; i < r.nfds; i++)
		if (r.fds[i] >= 0)
			close(r.fds[i]);
	put_id(reply, &doc, parsed);
	vup_jw_kbool(reply, "ok", rc == 0);
	if (rc == 0) {
		vup_jw_key(reply, "result");
		if (result.len)
			vup_jw_raw(reply, result.buf, result.len);
		else
			vup_jw_raw(reply, "{}", 2);
	} else {
		vup_jw_kstr(reply, "error", r.err);
	}
	vup_jw_end(reply);
	if (rw.len)
		vup_jw_bytes(out, rw.buf, rw.len);
	if (rw.oom)
		out->oom = true;
	vup_jw_free(&rw);
	vup_jw_free(&result);
	vup_json_doc_free(&doc);
	return rc == 0 && r.subscribe;
}
