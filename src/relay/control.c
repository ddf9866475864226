/* control: the relay's commands on the control socket (control.h), one
 * table.  Handlers read the session model and the proxy's counters; the
 * only things they change are the log level and the rules. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vuproxy/control.h"
#include "vuproxy/log.h"

struct vup_session *vup__session_find(struct vup_proxy *p, unsigned id)
{
	for (struct vup_session *s = p->sessions; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

const char *vup__session_state(const struct vup_session *s)
{
	if (s->closing)
		return "closed";
	if (s->ending)
		return "ending";
	if (!vup_session_has(s, VUP_FRONTEND) ||
	    !vup_session_has(s, VUP_BACKEND))
		return "connecting";
	return "up";
}

static void endpoint_str(struct vup_jw *w, const char *key,
                         const struct vup_endpoint *ep)
{
	char b[160];
	snprintf(b, sizeof(b), "%s:%s",
	         ep->role == VUP_ROLE_LISTEN ? "listen" : "connect", ep->path);
	vup_jw_kstr(w, key, b);
}

static void owed(struct vup_jw *w, const struct vup_model *m, uint64_t now)
{
	vup_jw_key(w, "owed");
	vup_jw_arr(w);
	for (int ch = VUP_CHAN_MAIN; ch <= VUP_CHAN_BACKEND; ch++) {
		unsigned n = vup_model_owed_count(m, (enum vup_chan)ch);
		for (unsigned i = 0; i < n; i++) {
			const struct vup_model_owed *o =
			        vup_model_owed_at(m, (enum vup_chan)ch, i);
			const struct vup_msg_type *t =
			        vup_proto_lookup((enum vup_chan)ch, o->code);
			vup_jw_obj(w);
			vup_jw_kstr(w, "request", t ? t->name : "unknown");
			vup_jw_kstr(w, "channel",
			            ch == VUP_CHAN_MAIN ? "main" : "backend");
			vup_jw_kuint(w, "age_ms",
			             now > o->since_ns
			                     ? (now - o->since_ns) / 1000000
			                     : 0);
			vup_jw_end(w);
		}
	}
	vup_jw_end(w);
}

static void hex_or_null(struct vup_jw *w, const char *key, uint64_t v)
{
	vup_jw_key(w, key);
	if (v)
		vup_jw_hex(w, v);
	else
		vup_jw_null(w);
}

static int cmd_sessions(struct vup_control_req *r)
{
	struct vup_proxy *p = r->ctx;
	struct vup_session *last = p->sessions;
	while (last && last->next)
		last = last->next;
	uint64_t now = uv_hrtime();
	vup_jw_arr(r->out);
	for (struct vup_session *s = last; s; s = s->prev) { /* oldest first */
		const struct vup_negotiated *neg = vup_flow_neg(&s->flow);
		vup_jw_obj(r->out);
		vup_jw_kuint(r->out, "session", s->id);
		endpoint_str(r->out, "frontend", &p->cfg.frontend);
		endpoint_str(r->out, "backend", &p->cfg.backend);
		vup_jw_kstr(r->out, "state", vup__session_state(s));
		vup_jw_kuint(r->out, "messages", s->msgs);
		hex_or_null(r->out, "features", neg->features);
		hex_or_null(r->out, "protocol_features",
		            neg->protocol_features);
		owed(r->out, s->flow.model, now);
		vup_jw_end(r->out);
	}
	vup_jw_end(r->out);
	return 0;
}

static int session_arg(struct vup_control_req *r, bool required,
                       struct vup_session **out)
{
	int64_t id;
	int rc =
	        vup_control_arg_int(r, "session", required, 0, UINT32_MAX, &id);
	if (rc <= 0)
		return rc;
	*out = vup__session_find(r->ctx, (unsigned)id);
	if (!*out)
		return vup_control_fail(r,
		                        "%s: no session %lld (see "
		                        "\"sessions\")",
		                        r->cmd->name, (long long)id);
	return 1;
}

static int cmd_show(struct vup_control_req *r)
{
	struct vup_session *s;
	if (session_arg(r, true, &s) < 0)
		return -1;
	vup__show_session(s, r->out);
	return 0;
}

static void tap_totals(struct vup_jw *w, const struct vup_tap_totals *t)
{
	vup_jw_key(w, "tap");
	vup_jw_obj(w);
	vup_jw_kuint(w, "queues", t->queues);
	vup_jw_kuint(w, "consumed_total", t->consumed);
	vup_jw_kuint(w, "captured_total", t->captured);
	vup_jw_kuint(w, "unverified_total", t->unverified);
	vup_jw_kuint(w, "missed_total", t->missed);
	vup_jw_kuint(w, "torn_total", t->torn);
	vup_jw_kuint(w, "malformed_total", t->malformed);
	vup_jw_end(w);
}

static int cmd_stats(struct vup_control_req *r)
{
	struct vup_proxy *p = r->ctx;
	const struct vup_proxy_stats *st = &p->stats;
	struct vup_jw *w = r->out;
	vup_jw_obj(w);
	vup_jw_kuint(w, "sessions_total", st->sessions);
	vup_jw_kuint(w, "sessions_failed_total", st->sessions_failed);
	vup_jw_kuint(w, "sessions_live", p->live);
	vup_jw_kuint(w, "messages_total", st->messages);
	vup_jw_kuint(w, "refused_total", st->refused);
	if (p->cfg.tap.kind != VUP_TAP_OFF) {
		/* Closed sessions are in the proxy's totals; add the live. */
		struct vup_tap_totals t = st->tap;
		for (struct vup_session *s = p->sessions; s; s = s->next)
			if (s->tap)
				vup_tap_add_totals(s->tap, &t);
		tap_totals(w, &t);
	}
	/* The flight recorder (base units: bytes, seconds). */
	struct vup_trace_ring_stats rs;
	if (vup_trace_ring_stats(p->cfg.trace, &rs)) {
		vup_jw_key(w, "ring");
		vup_jw_obj(w);
		vup_jw_kuint(w, "size_bytes", rs.bytes);
		vup_jw_kuint(w, "used_bytes", rs.used);
		vup_jw_kuint(w, "records", rs.entries);
		vup_jw_kuint(w, "evicted_total", rs.evicted);
		uint64_t now = vup__wall_ns();
		vup_jw_kuint(w, "window_seconds",
		             rs.oldest_ns && rs.oldest_ns < now
		                     ? (now - rs.oldest_ns) / 1000000000u
		                     : 0);
		vup_jw_end(w);
	}
	vup_jw_kuint(w, "recording",
	             p->record_id > 0 && vup_trace_recording(p->cfg.trace,
	                                                     p->record_id)
	                     ? 1
	                     : 0);
	vup_jw_end(w);
	return 0;
}

static const char *const level_names[] = {"error", "warn",  "info",
                                          "msg",   "debug", NULL};

static int cmd_log_level(struct vup_control_req *r)
{
	int lvl;
	int rc = vup_control_arg_enum(r, "level", false, level_names, &lvl);
	if (rc < 0)
		return -1;
	if (rc > 0 && (enum vup_log_level)lvl != vup_log_level) {
		vup_log(VUP_LOG_INFO, "control: log level %s (was %s)",
		        level_names[lvl], level_names[vup_log_level]);
		vup_log_level = (enum vup_log_level)lvl;
	}
	vup_jw_obj(r->out);
	vup_jw_kstr(r->out, "level", level_names[vup_log_level]);
	vup_jw_end(r->out);
	return 0;
}

static int cmd_subscribe(struct vup_control_req *r)
{
	r->subscribe = true;
	vup_jw_obj(r->out);
	vup_jw_key(r->out, "events");
	vup_jw_arr(r->out);
	vup_jw_str(r->out, "session-up");
	vup_jw_str(r->out, "session-down");
	vup_jw_str(r->out, "rule");
	vup_jw_str(r->out, "finding");
	vup_jw_end(r->out);
	vup_jw_end(r->out);
	return 0;
}

/* Rules for every session (the set -r loaded, which SIGHUP reloads), or
 * for one session: its own set replaces the common one for it until
 * `rules clear` with its session, or its end. */
static int cmd_rules_load(struct vup_control_req *r)
{
	char name[256];
	struct vup_session *s = NULL;
	if (session_arg(r, false, &s) < 0 ||
	    vup_control_arg_str(r, "name", true, name, sizeof(name)) < 0)
		return -1;
	size_t cap = VUP_CONTROL_LINE_MAX + 1;
	char *text = malloc(cap);
	if (!text)
		return vup_control_fail(r, "out of memory");
	if (vup_control_arg_str(r, "text", true, text, cap) < 0) {
		free(text);
		return -1;
	}
	static char err[16384], warn[16384];
	err[0] = warn[0] = '\0';
	struct vup_rules *rules;
	int rc = vup_rules_parse(name, text, strlen(text), &rules, err,
	                         sizeof(err), warn, sizeof(warn));
	free(text);
	if (rc) {
		size_t n = strlen(err);
		while (n && err[n - 1] == '\n')
			err[--n] = '\0';
		return vup_control_fail(r, "%s", err);
	}
	char whose[32] = "every session";
	if (s) {
		vup_rules_free(s->own_rules);
		s->own_rules = rules;
		snprintf(whose, sizeof(whose), "session %u", s->id);
	} else {
		vup_rules_free(vup_proxy_set_rules(r->ctx, rules));
	}
	vup_log(VUP_LOG_INFO,
	        "control: %u rules loaded from %s for %s (their counters "
	        "start again)",
	        vup_rules_count(rules), name, whose);
	if (vup_rules_data_count(rules))
		vup_log(VUP_LOG_WARN,
		        "control: %u data rules from %s have no effect without "
		        "--active",
		        vup_rules_data_count(rules), name);
	vup_jw_obj(r->out);
	vup_jw_kuint(r->out, "rules", vup_rules_count(rules));
	if (warn[0])
		vup_jw_kstr(r->out, "warnings", warn);
	vup_jw_end(r->out);
	return 0;
}

/* Without a session: no rules for any session that has none of its own;
 * with one: that session goes back to the common rules. */
static int cmd_rules_clear(struct vup_control_req *r)
{
	struct vup_session *s = NULL;
	if (session_arg(r, false, &s) < 0)
		return -1;
	struct vup_rules *old =
	        s ? s->own_rules : vup_proxy_set_rules(r->ctx, NULL);
	if (s)
		s->own_rules = NULL;
	if (old)
		vup_log(VUP_LOG_INFO,
		        "control: rules cleared%s (%u were loaded)",
		        s ? " for one session" : "", vup_rules_count(old));
	vup_rules_free(old);
	return 0;
}

/* A recorder's error, named after the command. */
static int recorder_failed(struct vup_control_req *r, const char *err)
{
	return vup_control_fail(r, "%s: %s", r->cmd->name, err);
}

static int cmd_record_start(struct vup_control_req *r)
{
	static const char *const taps[] = {"net", "blk", NULL};
	static const char *const formats[] = {"pcapng", "gzip", NULL};
	struct vup_session *s = NULL;
	int tap = -1, format = 0;
	if (session_arg(r, false, &s) < 0 ||
	    vup_control_arg_enum(r, "tap", false, taps, &tap) < 0 ||
	    vup_control_arg_enum(r, "format", true, formats, &format) < 0)
		return -1;
	if (r->nfds != 1)
		return vup_control_fail(r, "record-start needs the file to "
		                           "write to, passed as one fd "
		                           "(SCM_RIGHTS) with the request");
	char err[512];
	if (vup__record_start(r->ctx, r->fds[0], s ? (int)s->id : -1,
	                      tap >= 0 ? taps[tap] : NULL, format == 1, err,
	                      sizeof(err)) < 0)
		return recorder_failed(r, err);
	r->fds[0] = -1; /* taken */
	vup_jw_obj(r->out);
	vup_jw_kbool(r->out, "recording", true);
	vup_jw_end(r->out);
	return 0;
}

static int cmd_record_stop(struct vup_control_req *r)
{
	uint64_t n = 0;
	char err[512];
	if (vup__record_stop(r->ctx, &n, err, sizeof(err)) < 0)
		return recorder_failed(r, err);
	vup_jw_obj(r->out);
	vup_jw_kuint(r->out, "messages", n);
	vup_jw_end(r->out);
	return 0;
}

static int cmd_snapshot(struct vup_control_req *r)
{
	char path[4096] = "";
	uint64_t n = 0;
	int fd = r->nfds ? r->fds[0] : -1;
	char err[512];
	if (vup__snapshot(r->ctx, fd, path, sizeof(path), &n, err,
	                  sizeof(err)) < 0)
		return recorder_failed(r, err);
	if (fd >= 0)
		r->fds[0] = -1; /* taken */
	vup_jw_obj(r->out);
	if (fd < 0)
		vup_jw_kstr(r->out, "file", path);
	vup_jw_kstr(r->out, "trigger", "ctl");
	vup_jw_kuint(r->out, "messages", n);
	vup_jw_end(r->out);
	return 0;
}

static const struct vup_control_cmd cmds[] = {
        {"help", "", 0, vup_control_help, "the commands and their arguments"},
        {"sessions", "", 0, cmd_sessions,
         "the live sessions: peers, state, messages, acked features, "
         "replies owed"},
        {"show", "session", 0, cmd_show,
         "one session's model: features by name, memory table, vrings "
         "(live indices when the tap maps guest memory)"},
        {"stats", "", 0, cmd_stats, "the proxy's counters"},
        {"log-level", "level", 0, cmd_log_level,
         "get, or set with level, the log level "
         "(error|warn|info|msg|debug)"},
        {"subscribe", "", 0, cmd_subscribe,
         "stream events on this connection: session-up, session-down, "
         "rule, finding"},
        {"rules-load", "name,text,session", 0, cmd_rules_load,
         "replace the rules, of every session or one, with text (YAML; "
         "errors name FILE:line:col)"},
        {"rules-clear", "session", 0, cmd_rules_clear,
         "remove the rules (with session: its own, back to the common "
         "ones)"},
        {"record-start", "session,tap,format", 1, cmd_record_start,
         "record to the fd passed with the request (format pcapng|gzip)"},
        {"record-stop", "", 0, cmd_record_stop, "stop recording"},
        {"snapshot", "", 1, cmd_snapshot,
         "write the flight recorder to the fd passed, or --snapshot-dir"},
};
const struct vup_control_cmd *const vup__control_cmds = cmds;
const size_t vup__control_ncmds = sizeof(cmds) / sizeof(cmds[0]);
