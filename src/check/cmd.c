/* cmd: `vuproxy check FILE` reads a trace, feeds each session's messages
 * to a session model and a checker, and prints the findings: one line
 * each with its frame (the pcapng packet number, as Wireshark numbers
 * them), then a summary; --json one object per finding; --junit FILE a
 * JUnit report, one testcase per check row per session.  Exit status 0
 * without error findings, 1 with one, 2 when the file cannot be read.
 *
 * A fault a vuproxy rule injected is the rule's: a finding on a message
 * that a rule rewrote, failed, delayed, dropped or cut names the rule (the
 * record carries its name).  Each receiver's view is judged: of a
 * rewrite, the copy as sent; of a failed request, the request as the
 * back-end's view (never delivered) and the reply vuproxy made as the
 * front-end's.
 *
 * A file that starts in the middle of a session restates its set-up
 * first (declared state, VUP_TRACE_EXT_DECLARED): the model and the
 * checker learn it, but it is no event, so it is not judged, and a reply
 * it never gets in this file is not this file's finding. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../dump/dump_tap.h" /* vup_dump_json_str */
#include "vuproxy/check.h"
#include "vuproxy/pcapng.h"
#include "vuproxy/reader.h"
#include "vuproxy/tracemsg.h"

struct session {
	uint32_t id;
	struct vup_model *model;
	struct vup_checker *checker;
	uint64_t messages;
	bool continued;    /* began in an earlier file (VUP_IDB_CONTINUED) */
	bool goes_on;      /* goes on in the next file (VUP_ISB_GOES_ON) */
	uint64_t declared; /* records of declared state: its set-up */
	uint64_t declared_frame; /* the frame of its last declared record */
	uint64_t unjudged;       /* findings of a continued session not shown */
	uint32_t count[VUP_CHECK_COUNT];
	char first[VUP_CHECK_COUNT][240]; /* first error message per row */
};

/* A frame whose message a rule injected a fault into. */
struct rule_frame {
	uint64_t frame;
	size_t rule; /* index in run.rules */
};

struct run {
	bool json;
	long only; /* --session, -1 all */
	struct session *s;
	size_t ns;
	uint64_t frames, control, messages;
	uint64_t by_sev[VUP_SEV_COUNT];
	struct rule_frame *rf; /* in frame order */
	size_t nrf, caprf;
	char **rules; /* the names, once each: few rules, many frames */
	size_t nrules;
};

/* Remember that the current frame carries a fault of rule th->rule. */
static int note_rule(struct run *r, const struct vup_trace_hdr *th)
{
	if (!th->rule[0] || !vup_trace_action_faults(th->action))
		return 0;
	size_t k = 0;
	while (k < r->nrules && strcmp(r->rules[k], th->rule))
		k++;
	if (k == r->nrules) {
		char **n = realloc(r->rules, (k + 1) * sizeof(*n));
		if (!n)
			return -1;
		r->rules = n;
		if (!(n[k] = strdup(th->rule)))
			return -1;
		r->nrules++;
	}
	if (r->nrf == r->caprf) { /* a rule may fault every frame */
		size_t cap = r->caprf ? 2 * r->caprf : 64;
		struct rule_frame *rf = realloc(r->rf, cap * sizeof(*rf));
		if (!rf)
			return -1;
		r->rf = rf;
		r->caprf = cap;
	}
	r->rf[r->nrf++] = (struct rule_frame){r->frames, k};
	return 0;
}

/* The rule whose fault frame carries, or NULL. */
static const char *rule_of(const struct run *r, uint64_t frame)
{
	size_t lo = 0, hi = r->nrf;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->rf[mid].frame < frame)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->nrf && r->rf[lo].frame == frame
	               ? r->rules[r->rf[lo].rule]
	               : NULL;
}

static struct session *session_of(struct run *r, uint32_t id)
{
	for (size_t i = 0; i < r->ns; i++)
		if (r->s[i].id == id)
			return &r->s[i];
	struct session *s = realloc(r->s, (r->ns + 1) * sizeof(*s));
	if (!s)
		return NULL;
	r->s = s;
	s = &r->s[r->ns];
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->model = vup_model_new();
	s->checker = vup_checker_new(id);
	if (!s->model || !s->checker) {
		vup_model_free(s->model);
		vup_checker_free(s->checker);
		return NULL;
	}
	r->ns++;
	return s;
}

static void print_finding(const struct run *r,
                          const struct vup_check_finding *f)
{
	const struct vup_check_row *row = f->row;
	const char *sev = vup_check_severity_name(row->severity);
	if (!r->json) {
		printf("frame %" PRIu64 " s%u %s %s %s: %s (%s)%s%s\n",
		       f->frame, f->session, row->code, sev,
		       f->request[0] ? f->request : "-", f->message, row->title,
		       f->rule ? "; injected by rule " : "",
		       f->rule ? f->rule : "");
		return;
	}
	char spec[1024];
	snprintf(spec, sizeof(spec), "%s: %s", row->section, row->quote);
	printf("{\"id\":\"%s\",\"severity\":\"%s\",\"session\":%u,"
	       "\"frame\":%" PRIu64 ",\"request\":",
	       row->code, sev, f->session, f->frame);
	vup_dump_json_str(f->request);
	printf(",\"message\":");
	vup_dump_json_str(f->message);
	printf(",\"spec\":");
	vup_dump_json_str(spec);
	printf(",\"rule\":");
	if (f->rule)
		vup_dump_json_str(f->rule);
	else
		printf("null");
	printf("}\n");
}

static void report(struct run *r, struct session *s,
                   struct vup_check_findings *fs)
{
	if (r->only >= 0 && s->id != (uint32_t)r->only)
		return;
	for (unsigned i = 0; i < fs->n; i++) {
		struct vup_check_finding *f = &fs->f[i];
		enum vup_check_id id = f->row->id;
		f->rule = rule_of(r, f->frame);
		if (!s->count[id]++)
			snprintf(s->first[id], sizeof(s->first[id]),
			         "frame %" PRIu64 ": %s: %s%s%s", f->frame,
			         f->request, f->message,
			         f->rule ? "; injected by rule " : "",
			         f->rule ? f->rule : "");
		r->by_sev[f->row->severity]++;
		print_finding(r, f);
	}
	if (fs->lost)
		fprintf(stderr,
		        "vuproxy check: session %u: %u findings of one "
		        "message not shown\n",
		        s->id, fs->lost);
}

/* A made reply answers the request its rule failed, which the model
 * (the back-end's view) never saw delivered: the model's pairing of it
 * is moot. */
static void drop_pairing(struct vup_check_findings *fs)
{
	unsigned k = 0;
	for (unsigned i = 0; i < fs->n; i++)
		if (fs->f[i].row->id != VUP_CHECK_UNSOLICITED &&
		    fs->f[i].row->id != VUP_CHECK_REPLY_ORDER)
			fs->f[k++] = fs->f[i];
	fs->n = k;
}

/* A session that began in an earlier file (a rotated file) is judged
 * only by the checks of a message on its own (VUP_CK_FRAMING): every
 * other row judges a message against the set-up, which is not in this
 * file, and would be a false alarm (a reply to a request of the earlier
 * file is not unsolicited).  The rest are counted and told. */
static void keep_framing(struct session *s, struct vup_check_findings *fs)
{
	unsigned kept = 0;
	for (unsigned i = 0; i < fs->n; i++) {
		if (fs->f[i].row->kind == VUP_CK_FRAMING)
			fs->f[kept++] = fs->f[i];
		else
			s->unjudged++;
	}
	fs->n = kept;
}

/* A declared request restated without its reply was still unanswered
 * when the file began: its reply may come as an event of this file and
 * pairs with it, but a reply it never gets here is not this file's
 * finding (the request is not its event).  Declared records come first,
 * so a finding about one names a frame up to the last of them. */
static void drop_declared(const struct session *s,
                          struct vup_check_findings *fs)
{
	unsigned kept = 0;
	for (unsigned i = 0; i < fs->n; i++)
		if (!s->declared || fs->f[i].frame == 0 ||
		    fs->f[i].frame > s->declared_frame)
			fs->f[kept++] = fs->f[i];
	fs->n = kept;
}

/* A record of declared state: learnt as its receiver got it, so that the
 * events after it are judged against the set-up; its findings are not
 * this file's (they were the original message's). */
static void declared(struct session *s, const struct vup_record *rec,
                     const struct vup_trace_hdr *th,
                     const struct vup_trace_msg *tm, uint64_t frame)
{
	struct vup_view v;
	bool delivered;
	struct vup_model_events ev = {0};
	s->declared++;
	s->declared_frame = frame;
	if (!vup_trace_msg_view(th, tm, vup_model_neg(s->model), rec->ts_ns, &v,
	                        &delivered))
		return;
	struct vup_check_findings fs;
	vup_check_before(s->checker, s->model, &v);
	vup_model_feed(s->model, &v, delivered, &ev);
	vup_check_message(s->checker, s->model, &v, delivered, &ev, frame, &fs);
}

/* One control record: the model learns it, the checker judges it. */
static int control(struct run *r, const struct vup_record *rec,
                   const struct vup_trace_hdr *th, const uint8_t *msg,
                   size_t len)
{
	struct session *s = session_of(r, th->session);
	if (!s)
		return -1;
	if (rec->continued && !s->messages && !s->declared)
		s->continued = true;
	struct vup_trace_msg tm;
	vup_trace_msg_split(th, msg, len, &tm);
	if (th->declared) {
		declared(s, rec, th, &tm, r->frames);
		return 0;
	}
	struct vup_view v;
	bool delivered;
	struct vup_model_events ev = {0};
	bool learnt = vup_trace_msg_view(th, &tm, vup_model_neg(s->model),
	                                 rec->ts_ns, &v, &delivered);
	/* A request a rule failed never reached the back-end (the model,
	 * fed undelivered, keeps the back-end's view), but its sender sent
	 * it and reads vuproxy's answer: the checker judges it as sent, and
	 * the reply vuproxy made as the one that pays it. */
	bool failed = th->action == VUP_TRACE_ACT_FAIL;
	bool made = failed && (th->flags & VUP_TRACE_F_AS_SENT);
	if (!learnt) {
		/* A message vuproxy refused changed nothing, but its sender
		 * sent it: judged as it came; so is a made reply. */
		if (th->action != VUP_TRACE_ACT_REFUSED && !made)
			return 0;
		vup_view_decode(&v, tm.chan, tm.from, &tm.hdr, tm.payload, NULL,
		                th->nfds, vup_model_neg(s->model), rec->ts_ns);
		v.fd_info = th->fds;
		delivered = false;
	}
	struct vup_check_findings fs;
	vup_check_before(s->checker, s->model, &v);
	if (learnt)
		vup_model_feed(s->model, &v, delivered, &ev);
	if (made)
		ev = (struct vup_model_events){
		        .n = 1,
		        .e[0] = {.kind = VUP_EV_REPLY_PAID,
		                 .value = v.hdr.request}};
	vup_check_message(s->checker, s->model, &v, delivered || failed, &ev,
	                  r->frames, &fs);
	if (made)
		drop_pairing(&fs);
	if (s->continued && !s->declared)
		keep_framing(s, &fs);
	s->messages++;
	if (r->only < 0 || s->id == (uint32_t)r->only)
		r->messages++;
	report(r, s, &fs);
	return 0;
}

static void xml_str(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s >= 0x20)
				fputc(*s, f);
		}
	}
}

/* One testcase per row per session; an error finding fails it. */
static int write_junit(const struct run *r, const char *path, const char *trace)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		return -1;
	}
	size_t tests = 0, failures = 0;
	for (size_t i = 0; i < r->ns; i++) {
		if (r->only >= 0 && r->s[i].id != (uint32_t)r->only)
			continue;
		for (int k = 0; k < VUP_CHECK_COUNT; k++) {
			tests++;
			failures += r->s[i].count[k] &&
			            vup_check_row(k)->severity == VUP_SEV_ERROR;
		}
	}
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f, "<testsuites><testsuite name=\"vuproxy check ");
	xml_str(f, trace);
	fprintf(f, "\" tests=\"%zu\" failures=\"%zu\">\n", tests, failures);
	for (size_t i = 0; i < r->ns; i++) {
		const struct session *s = &r->s[i];
		if (r->only >= 0 && s->id != (uint32_t)r->only)
			continue;
		for (int k = 0; k < VUP_CHECK_COUNT; k++) {
			const struct vup_check_row *row = vup_check_row(k);
			fprintf(f,
			        " <testcase classname=\"session %u\" "
			        "name=\"%s ",
			        s->id, row->code);
			xml_str(f, row->title);
			fprintf(f, "\">");
			if (s->count[k] && row->severity == VUP_SEV_ERROR) {
				fprintf(f, "<failure message=\"");
				xml_str(f, s->first[k]);
				fprintf(f, "\">%u findings; %s: ", s->count[k],
				        row->section);
				xml_str(f, row->quote);
				fprintf(f, "</failure>");
			} else if (s->count[k]) {
				fprintf(f, "<system-out>%u %s findings; ",
				        s->count[k],
				        vup_check_severity_name(row->severity));
				xml_str(f, s->first[k]);
				fprintf(f, "</system-out>");
			}
			fprintf(f, "</testcase>\n");
		}
	}
	fprintf(f, "</testsuite></testsuites>\n");
	return fclose(f) ? -1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: vuproxy check FILE [--json] [--junit OUT.xml] "
	        "[--session N]\n"
	        "       vuproxy check --list   (the checks, as a markdown "
	        "table)\n"
	        "Check a trace written by vuproxy -w against the vhost-user "
	        "spec: one line per\nfinding with its frame number (as "
	        "Wireshark numbers packets), then a summary.\n--json: one "
	        "object per finding (id, severity, session, frame, request,\n"
	        "message, spec, rule: the vuproxy rule that injected the "
	        "fault, "
	        "or null).\n--junit OUT.xml: one testcase per check "
	        "per session, error\nfindings as failures.  A file cut short "
	        "is checked up to where it ends;\na session begun before its "
	        "file is judged against the set-up the file declares\n"
	        "first (declared state, not judged itself); in a rotated "
	        "file (-C) of an older\nvuproxy, without it, only by the "
	        "checks of a message on its own.  A reply\nowed where the "
	        "session goes on in the next file is info.\nExit status 0 "
	        "without "
	        "error findings, 1 with one, 2 if FILE cannot be read.\n");
}

static int parse(int argc, char **argv, struct run *r, const char **junit)
{
	static const struct option opts[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"junit", required_argument, NULL, 'u'},
	        {"session", required_argument, NULL, 's'},
	        {"help", no_argument, NULL, 'h'},
	        {"list", no_argument, NULL, 'l'},
	        {0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'j': r->json = true; break;
		case 'u': *junit = optarg; break;
		case 's':
			r->only = strtol(optarg, &end, 10);
			if (*end || r->only < 0) {
				fprintf(stderr,
				        "vuproxy check: --session %s: not a "
				        "session number\n",
				        optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		case 'l': return vup_check_table_markdown(stdout) ? 2 : 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/* A rotation's note at the end of a file: the session goes on in the
 * next file, so what it owes is not missing.  (A session with no
 * message in this file owes nothing here.) */
static void goes_on(struct run *r, const struct vup_record *rec)
{
	uint32_t id;
	const char *rest;
	if (rec->linktype != LINKTYPE_USER0 || !rec->comment ||
	    strcmp(rec->comment, VUP_ISB_GOES_ON) ||
	    !vup_dump_iface_session(rec->ifname, &id, &rest))
		return;
	for (size_t i = 0; i < r->ns; i++)
		if (r->s[i].id == id)
			r->s[i].goes_on = true;
}

/* Read every record; 0, 2 (unreadable), with *cut_off for a short tail. */
static int read_all(struct run *r, struct vup_reader *rd, const char *path,
                    bool *cut_off)
{
	char err[512];
	for (;;) {
		struct vup_record rec;
		enum vup_read_status st =
		        vup_reader_next(rd, &rec, err, sizeof(err));
		if (st == VUP_READ_END)
			return 0;
		if (st == VUP_READ_TRUNCATED || st == VUP_READ_CORRUPT) {
			fprintf(stderr,
			        "vuproxy check: %s: %s%s; checked the %" PRIu64
			        " frames before it\n",
			        path, st == VUP_READ_CORRUPT ? "corrupt: " : "",
			        err, r->frames);
			*cut_off = true;
			return 0;
		}
		if (rec.kind == VUP_REC_STATS) {
			goes_on(r, &rec);
			continue;
		}
		r->frames++; /* every packet is a frame */
		if (rec.linktype != LINKTYPE_USER0)
			continue;
		struct vup_trace_hdr th;
		int hl = vup_trace_hdr_decode(rec.data, rec.caplen, &th, err,
		                              sizeof(err));
		if (hl < 0) {
			fprintf(stderr,
			        "vuproxy check: %s: frame %" PRIu64 ": %s%s\n",
			        path, r->frames, err,
			        hl == -2 ? " (written by a newer vuproxy)"
			                 : "; not a vuproxy trace");
			return 2;
		}
		r->control++;
		if (note_rule(r, &th) || control(r, &rec, &th, rec.data + hl,
		                                 rec.caplen - (size_t)hl)) {
			fprintf(stderr, "vuproxy check: out of memory\n");
			return 2;
		}
	}
}

int vup_check_main(int argc, char **argv)
{
	struct run r = {.only = -1};
	const char *junit = NULL;
	int status = parse(argc, argv, &r, &junit);
	if (status >= 0)
		return status;
	const char *path = argv[optind];
	char err[512];
	struct vup_reader *rd;
	if (vup_reader_open(path, &rd, err, sizeof(err))) {
		fprintf(stderr, "vuproxy check: %s\n", err);
		return 2;
	}
	bool cut_off = false;
	vup_reader_want_stats(rd, true); /* for VUP_ISB_GOES_ON */
	status = read_all(&r, rd, path, &cut_off);
	bool ours = vup_reader_vuproxy(rd);
	vup_reader_close(rd);
	/* A section vuproxy wrote may hold no control record yet (a file
	 * cut off early): nothing to check, but a trace. */
	if (status == 0 && r.control == 0 && !ours) {
		fprintf(stderr,
		        "vuproxy check: %s: no vuproxy control records in "
		        "%" PRIu64 " frames; not a vuproxy trace\n",
		        path, r.frames);
		status = 2;
	}
	for (size_t i = 0; status == 0 && i < r.ns; i++) {
		struct vup_check_findings fs;
		vup_check_end(r.s[i].checker, r.s[i].model,
		              cut_off || r.s[i].goes_on, &fs);
		drop_declared(&r.s[i], &fs);
		report(&r, &r.s[i], &fs);
	}
	for (size_t i = 0; status == 0 && i < r.ns; i++)
		if (r.s[i].declared &&
		    (r.only < 0 || r.s[i].id == (uint32_t)r.only))
			fprintf(r.json ? stderr : stdout,
			        "session %u began before this file: judged "
			        "against the set-up it declared (%" PRIu64
			        " records)\n",
			        r.s[i].id, r.s[i].declared);
	for (size_t i = 0; status == 0 && i < r.ns; i++)
		if (r.s[i].continued && !r.s[i].declared &&
		    (r.only < 0 || r.s[i].id == (uint32_t)r.only))
			fprintf(r.json ? stderr : stdout,
			        "session %u began in an earlier file (a "
			        "rotated "
			        "file): its set-up is not in this one, so only "
			        "the checks of a message on its own apply; "
			        "%" PRIu64
			        " findings that depend on the set-up were not "
			        "judged\n",
			        r.s[i].id, r.s[i].unjudged);
	if (status == 0) {
		size_t sessions = 0;
		for (size_t i = 0; i < r.ns; i++)
			sessions += r.only < 0 || r.s[i].id == (uint32_t)r.only;
		fprintf(r.json ? stderr : stdout,
		        "%s: %" PRIu64 " errors, %" PRIu64 " warnings, "
		        "%" PRIu64 " infos in %zu sessions, %" PRIu64
		        " messages%s\n",
		        path, r.by_sev[VUP_SEV_ERROR],
		        r.by_sev[VUP_SEV_WARNING], r.by_sev[VUP_SEV_INFO],
		        sessions, r.messages, cut_off ? " (file cut off)" : "");
		if (junit && write_junit(&r, junit, path))
			status = 2;
		else
			status = r.by_sev[VUP_SEV_ERROR] ? 1 : 0;
	}
	for (size_t i = 0; i < r.ns; i++) {
		vup_model_free(r.s[i].model);
		vup_checker_free(r.s[i].checker);
	}
	free(r.s);
	for (size_t i = 0; i < r.nrules; i++)
		free(r.rules[i]);
	free(r.rules);
	free(r.rf);
	fflush(stdout);
	return status;
}
