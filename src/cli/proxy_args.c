/* proxy_args: the proxy's options, scanned from the table, as a
 * configuration, with the checks that span several options.  Pure: no
 * output, no files, no environment. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "vuproxy/tap.h"

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen,
                                                      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* One option into a: -1 with err when its value is not one it takes. */
static int apply(struct vup_proxy_args *a, const struct vup_opt_val *v,
                 char *err, size_t errlen)
{
	struct vup_proxy_config *c = &a->cfg;
	unsigned u = (unsigned)v->num;
	char why[192];
	switch (v->id) {
	case VUP_OPT_FRONTEND:
	case VUP_OPT_BACKEND: {
		bool fe = v->id == VUP_OPT_FRONTEND;
		if (vup_endpoint_parse(v->arg, fe ? &c->frontend : &c->backend,
		                       why, sizeof(why)))
			return fail(err, errlen, "--%s %s",
			            fe ? "frontend" : "backend", why);
		break;
	}
	case VUP_OPT_CONFIG:
		return fail(err, errlen, "--config is read before parsing");
	case VUP_OPT_VERBOSE: a->verbosity = a->verbosity < 1 ? 1 : 2; break;
	case VUP_OPT_QUIET: a->verbosity = -1; break;
	case VUP_OPT_SOCKET_MODE: c->socket_mode = u; break;
	case VUP_OPT_MAX_SESSIONS: c->max_sessions = u; break;
	case VUP_OPT_STALL_TIMEOUT: c->stall_timeout_ms = u * 1000; break;
	case VUP_OPT_STRICT: c->strict = true; break;
	case VUP_OPT_NO_CHECK: c->no_check = true; break;
	case VUP_OPT_REPLY_TIMEOUT: c->reply_timeout_s = u; break;
	case VUP_OPT_BACKEND_WAIT: c->backend_wait_ms = (int)u; break;
	case VUP_OPT_RULES: a->rules_path = v->arg; break;
	case VUP_OPT_WRITE: a->tcfg.path = v->arg; break;
	case VUP_OPT_ROTATE_SIZE:
		a->tcfg.rotate_bytes = (uint64_t)u * 1000000u;
		break;
	case VUP_OPT_ROTATE_SECS: a->tcfg.rotate_secs = u; break;
	case VUP_OPT_MAX_FILES: a->tcfg.max_files = u; break;
	case VUP_OPT_TRACE_FINDINGS: c->trace_findings = true; break;
	case VUP_OPT_RING: a->ring_mb = u; break;
	case VUP_OPT_SNAPSHOT_DIR: c->snapshot_dir = v->arg; break;
	case VUP_OPT_SNAPSHOT_ON:
		if (vup_snapshot_triggers_parse(v->arg, &c->snapshot_on, why,
		                                sizeof(why)))
			return fail(err, errlen, "--snapshot-on %s", why);
		break;
	case VUP_OPT_SNAPSHOT_AFTER: c->snapshot_after_s = u; break;
	case VUP_OPT_SNAPSHOT_KEEP: c->snapshot_keep = u; break;
	case VUP_OPT_TAP:
		if (vup_tap_kind_parse(v->arg, &c->tap.kind))
			return fail(err, errlen, "--tap %s: net or blk",
			            v->arg);
		break;
	case VUP_OPT_ACTIVE:
		if (vup_tap_kind_parse(v->arg, &c->active))
			return fail(err, errlen, "--active %s: net or blk",
			            v->arg);
		if (c->active == VUP_TAP_BLK)
			return fail(err, errlen,
			            "--active blk: not yet (net only)");
		break;
	/* -s 0 means as much as a record can hold, as for tcpdump. */
	case VUP_OPT_SNAPLEN: c->tap.snaplen = u ? u : 65535; break;
	case VUP_OPT_TAP_INTERVAL: c->tap_interval_us = u; break;
	case VUP_OPT_TAP_STRICT: c->tap.strict = true; break;
	case VUP_OPT_TAP_UNVERIFIED: break; /* checked below */
	case VUP_OPT_TAP_MEMORY: c->tap_mem_limit = (uint64_t)u << 20; break;
	case VUP_OPT_CONTROL: c->control_path = v->arg; break;
	case VUP_OPT_NO_CONTROL: a->no_control = true; break;
	case VUP_OPT_CONTROL_MODE: c->control_mode = u; break;
	case VUP_OPT_NAME: a->name = v->arg; break;
	case VUP_OPT_NO_KEEP_MEMORY: c->no_keep_memory = true; break;
	case VUP_OPT_USER: a->user = v->arg; break;
	case VUP_OPT_HELP: a->help = true; break;
	case VUP_OPT_VERSION: a->version = true; break;
	case VUP_OPT_COUNT: break;
	}
	return 0;
}

static bool given(const struct vup_opt_val *v, size_t n, enum vup_opt_id id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].id == id)
			return true;
	return false;
}

/* What options need of each other. */
static int check_together(const struct vup_proxy_args *a,
                          const struct vup_opt_val *v, size_t n, char *err,
                          size_t errlen)
{
	const struct vup_proxy_config *c = &a->cfg;
	const struct vup_trace_config *t = &a->tcfg;
	if (!c->frontend.path[0] || !c->backend.path[0])
		return fail(err, errlen,
		            "both --frontend and --backend are needed");
	if (strcmp(c->frontend.path, c->backend.path) == 0)
		return fail(err, errlen,
		            "--frontend and --backend name the same socket %s",
		            c->frontend.path);
	if ((t->rotate_bytes || t->rotate_secs || t->max_files) && !t->path)
		return fail(err, errlen, "-C, -G and -W need -w FILE");
	if (t->max_files && !t->rotate_bytes && !t->rotate_secs)
		return fail(err, errlen, "-W needs -C SIZE or -G SECS");
	if ((c->snapshot_dir || c->snapshot_on || c->snapshot_after_s ||
	     c->snapshot_keep) &&
	    !a->ring_mb)
		return fail(err, errlen,
		            "--snapshot-dir, --snapshot-on, --snapshot-after "
		            "and --snapshot-keep need --ring MB");
	if (c->snapshot_on && !c->snapshot_dir)
		return fail(err, errlen,
		            "--snapshot-on needs --snapshot-dir "
		            "DIR to write into");
	if ((c->snapshot_on & (1u << VUP_SNAP_NACK | 1u << VUP_SNAP_ERROR)) &&
	    c->no_check)
		return fail(err, errlen,
		            "--snapshot-on nack and error need "
		            "the checker (no --no-check)");
	if (c->trace_findings && (!t->path || c->no_check))
		return fail(err, errlen,
		            "--trace-findings needs -w FILE and "
		            "the checker (no --no-check)");
	if (c->active != VUP_TAP_OFF && c->tap.kind != VUP_TAP_OFF)
		return fail(err, errlen,
		            "--tap and --active: --active records every frame "
		            "itself (with -w)");
	/* -s and --tap-memory also serve a tap started by ctl record. */
	if ((given(v, n, VUP_OPT_TAP_INTERVAL) ||
	     given(v, n, VUP_OPT_TAP_UNVERIFIED) || c->tap.strict) &&
	    c->tap.kind == VUP_TAP_OFF)
		return fail(err, errlen,
		            "--tap-interval, --tap-strict and "
		            "--tap-unverified need --tap");
	return 0;
}

int vup_proxy_args_parse(int argc, char *const *argv, struct vup_proxy_args *a,
                         char *err, size_t errlen)
{
	*a = (struct vup_proxy_args){
	        .cfg = {.socket_mode = 0600,
	                .max_sessions = 1024,
	                .stall_timeout_ms = 30000,
	                .reply_timeout_s = 5,
	                .backend_wait_ms = -1,
	                .control_mode = 0600,
	                .tap = {.snaplen = 256},
	                .tap_interval_us = 1000},
	};
	a->bad_arg = -1;
	/* An argument is at most one option per character ("-vvq"). */
	size_t max = 1, n;
	for (int i = 1; i < argc; i++)
		max += strlen(argv[i]) + 1;
	struct vup_opt_val *vals = calloc(max, sizeof(*vals));
	if (!vals)
		return fail(err, errlen, "out of memory");
	int rc = vup_opts_scan(vup_proxy_opts, VUP_OPT_COUNT, argc, argv, 1,
	                       vals, max, &n, &a->bad_arg, err, errlen);
	for (size_t i = 0; !rc && i < n; i++)
		if ((rc = apply(a, &vals[i], err, errlen)))
			a->bad_arg = vals[i].argi;
	if (!rc && !a->help && !a->version) {
		a->tcfg.findings = a->cfg.trace_findings;
		rc = check_together(a, vals, n, err, errlen);
	}
	free(vals);
	return rc;
}
