/* dump: `vuproxy dump FILE` prints a trace as a timeline, one line per
 * record, or one JSON object per line (--json): control messages and the
 * checker's findings here, the tap's records (Ethernet frames, blk
 * requests, queue statistics) in dump_tap.c.  --ethernet-out FILE
 * writes the Ethernet frames to a classic pcap file instead
 * (dump_pcap.c). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dump_tap.h"
#include "vuproxy/check.h"
#include "vuproxy/dump.h"
#include "vuproxy/model.h"
#include "vuproxy/pcapng.h"
#include "vuproxy/proto.h"
#include "vuproxy/reader.h"
#include "vuproxy/tracemsg.h"

#define MAX_FILTER 64

struct session_state {
	uint32_t id;
	struct vup_model *model; /* what the session means so far */
	bool declared_told;      /* its declared state was announced */
};

struct dump {
	bool json;
	long only_session; /* -1: all */
	struct {
		enum vup_chan chan;
		uint32_t code;
	} req[MAX_FILTER];
	size_t nreq;
	struct session_state *sessions;
	size_t nsessions;
	uint64_t t0;
	bool have_t0;
	uint64_t shown, records;
	uint64_t frames; /* packets, numbered as Wireshark numbers them */
	uint64_t control, taps;    /* records of each kind read */
	struct vup_pcap_out *pcap; /* --ethernet-out */
};

/* Time since the first record shown. */
static uint64_t rel_time(struct dump *d, uint64_t ts_ns)
{
	if (!d->have_t0) {
		d->t0 = ts_ns;
		d->have_t0 = true;
	}
	return ts_ns - d->t0;
}

static struct session_state *state_of(struct dump *d, uint32_t id)
{
	for (size_t i = 0; i < d->nsessions; i++)
		if (d->sessions[i].id == id)
			return &d->sessions[i];
	struct session_state *s =
	        realloc(d->sessions, (d->nsessions + 1) * sizeof(*s));
	if (!s)
		return NULL;
	d->sessions = s;
	s[d->nsessions] =
	        (struct session_state){.id = id, .model = vup_model_new()};
	return &s[d->nsessions++];
}

/* "2023-11-14T22:13:20.000001000Z" (digits: 9 or 6 of the second). */
static void utc(char *buf, size_t len, uint64_t ns, int digits)
{
	time_t sec = (time_t)(ns / 1000000000u);
	struct tm tm;
	char day[32] = "?";
	if (gmtime_r(&sec, &tm))
		strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	uint64_t frac = ns % 1000000000u;
	if (digits == 6)
		frac /= 1000u;
	snprintf(buf, len, "%s.%0*" PRIu64 "Z", day, digits, frac);
}

/* Declared state (VUP_TRACE_EXT_DECLARED) restates a session's set-up
 * at the start of a file; the text timeline sets it apart from events
 * with a line before the session's first such record. */
static void declared_heading(struct dump *d, const struct vup_trace_hdr *th)
{
	struct session_state *st = state_of(d, th->session);
	if (d->json || !th->declared || !st || st->declared_told)
		return;
	st->declared_told = true;
	printf("s%u: declared state (set up before this file began)\n",
	       th->session);
}

/* The model learns what the record says reached its receiver
 * (vup_trace_msg_view says what that is). */
static void learn(struct vup_model *m, const struct vup_trace_hdr *th,
                  const struct vup_trace_msg *msg)
{
	struct vup_view v;
	bool delivered;
	if (vup_trace_msg_view(th, msg, vup_model_neg(m), 0, &v, &delivered))
		vup_model_feed(m, &v, delivered, NULL);
}

static bool wanted(const struct dump *d, uint32_t session, enum vup_chan chan,
                   uint32_t code)
{
	if (d->only_session >= 0 && session != (uint32_t)d->only_session)
		return false;
	if (!d->nreq)
		return true;
	for (size_t i = 0; i < d->nreq; i++)
		if (d->req[i].chan == chan && d->req[i].code == code)
			return true;
	return false;
}

static void print_fds_text(const struct vup_trace_hdr *th)
{
	for (unsigned i = 0; i < th->nfds; i++) {
		printf("%s%s", i ? ", " : ": ",
		       vup_fd_kind_name(th->fds[i].kind));
		if (th->fds[i].size)
			printf(" %" PRIu64, th->fds[i].size);
	}
}

static void show(struct dump *d, const struct vup_record *rec,
                 const struct vup_trace_hdr *th, const uint8_t *msg, size_t len)
{
	struct vup_trace_msg tm;
	vup_trace_msg_split(th, msg, len, &tm);
	enum vup_chan chan = tm.chan;
	enum vup_side from = tm.from;
	struct vup_hdr h = tm.hdr;
	uint32_t declared = tm.declared;
	const uint8_t *payload = tm.payload;
	struct session_state *st = state_of(d, th->session);
	struct vup_model *model = st ? st->model : NULL;
	struct vup_negotiated none = {0};
	const struct vup_negotiated *neg = model ? vup_model_neg(model) : &none;
	bool reply = h.flags & VUP_FLAG_REPLY;
	if (!wanted(d, th->session, chan, h.request)) {
		if (model)
			learn(model, th, &tm);
		return;
	}
	const char *name = vup_proto_name(chan, h.request);
	static char fields[65536];
	uint64_t rel = rel_time(d, rec->ts_ns);
	char crossed[48] = "";
	if (th->declared)
		utc(crossed, sizeof(crossed), th->declared_ns, d->json ? 9 : 6);
	declared_heading(d, th);
	if (d->json) {
		vup_render_json(fields, sizeof(fields), &h, payload, chan, neg);
		printf("{\"ts_ns\":%" PRIu64
		       ",\"session\":%u,\"channel\":\"%s\","
		       "\"from\":\"%s\",\"request\":\"%s\",\"code\":%u,"
		       "\"reply\":%s,\"flags\":%u,\"size\":%u,\"fds\":[",
		       rec->ts_ns, th->session, vup_chan_name(chan),
		       vup_side_name(from), name, h.request,
		       reply ? "true" : "false", h.flags, declared);
		for (unsigned i = 0; i < th->nfds; i++)
			printf("%s{\"kind\":\"%s\",\"size\":%" PRIu64 "}",
			       i ? "," : "", vup_fd_kind_name(th->fds[i].kind),
			       th->fds[i].size);
		printf("],\"action\":\"%s\",\"rule\":",
		       vup_trace_action_name(th->action));
		if (th->rule[0])
			vup_dump_json_str(th->rule);
		else
			printf("null");
		printf(",\"as_sent\":%s,\"payload\":%s,\"type\":\"control\"",
		       (th->flags & VUP_TRACE_F_AS_SENT) ? "true" : "false",
		       fields);
		/* Only where there is one: a file without marks reads as it
		 * always did. */
		if (th->mark[0]) {
			printf(",\"mark\":");
			vup_dump_json_str(th->mark);
		}
		if (th->declared)
			printf(",\"declared\":true,\"declared_ns\":%" PRIu64
			       ",\"declared_at\":\"%s\"",
			       th->declared_ns, crossed);
		printf("}\n");
	} else {
		vup_render_text(fields, sizeof(fields), &h, payload, chan, neg);
		printf("%4" PRIu64 ".%06" PRIu64 " s%u %s%s %s%s",
		       rel / 1000000000u, rel % 1000000000u / 1000u,
		       th->session, th->declared ? "[declared] " : "",
		       from == VUP_FRONTEND ? "front-end>back-end"
		                            : "back-end>front-end",
		       chan == VUP_CHAN_BACKEND ? "backend " : "", name);
		if (!vup_proto_lookup(chan, h.request))
			printf("(%u)", h.request);
		printf("%s%s%s%s (%u B, %u fds", reply ? " reply" : "",
		       (h.flags & VUP_FLAG_NEED_REPLY) ? " need_reply" : "",
		       fields[0] ? " " : "", fields, declared, th->nfds);
		print_fds_text(th);
		printf(") %s", vup_trace_action_name(th->action));
		if (th->rule[0])
			printf(" rule=%s", th->rule);
		if (th->flags & VUP_TRACE_F_AS_SENT)
			printf(" (as sent)");
		if (declared != h.size)
			printf(" [cut: %zu of %u bytes recorded]",
			       len < VUP_HDR_SIZE ? len : len - VUP_HDR_SIZE,
			       declared);
		if (th->mark[0])
			printf(" [problem: %s]", th->mark);
		if (th->declared)
			printf(" [crossed at %s]", crossed);
		putchar('\n');
	}
	d->shown++;
	if (model)
		learn(model, th, &tm);
}

/* The row of VUP_CHECKS a finding names, or NULL (a check this vuproxy
 * does not know). */
static const struct vup_check_row *row_of(const char *id)
{
	for (int k = 0; k < VUP_CHECK_COUNT; k++)
		if (strcmp(vup_check_row(k)->code, id) == 0)
			return vup_check_row(k);
	return NULL;
}

static void finding_json(const struct vup_record *rec, uint64_t frame,
                         const struct vup_finding_rec *f, const char *sev,
                         const char *id, const char *rule, const char *msg)
{
	enum vup_chan chan = f->flags & VUP_TRACE_F_BACKEND_CHAN
	                             ? VUP_CHAN_BACKEND
	                             : VUP_CHAN_MAIN;
	const struct vup_check_row *row = row_of(id);
	/* The keys of `vuproxy check --json`, frame being the message's;
	 * finding_frame is the record's own. */
	printf("{\"ts_ns\":%" PRIu64 ",\"type\":\"finding\",\"id\":",
	       rec->ts_ns);
	vup_dump_json_str(id);
	printf(",\"severity\":\"%s\",\"session\":%u,\"frame\":%" PRIu64
	       ",\"finding_frame\":%" PRIu64 ",\"channel\":\"%s\","
	       "\"from\":\"%s\",\"request\":\"%s\",\"code\":%u,"
	       "\"message\":",
	       sev, f->session, f->frame, frame, vup_chan_name(chan),
	       vup_side_name(f->flags & VUP_TRACE_F_FROM_BACKEND
	                             ? VUP_BACKEND
	                             : VUP_FRONTEND),
	       vup_proto_name(chan, f->request), f->request);
	vup_dump_json_str(msg);
	printf(",\"rule\":");
	if (rule[0])
		vup_dump_json_str(rule);
	else
		printf("null");
	if (row) {
		char spec[1024];
		snprintf(spec, sizeof(spec), "%s: %s", row->section,
		         row->quote);
		printf(",\"title\":");
		vup_dump_json_str(row->title);
		printf(",\"spec\":");
		vup_dump_json_str(spec);
	}
	printf("}\n");
}

/* A finding record (tracemsg.h): one line naming the frame it is about.
 * What is not a version-1 finding is skipped, as the versioning rule
 * says.  --request keeps the findings about those requests. */
static void show_finding(struct dump *d, const struct vup_record *rec)
{
	struct vup_finding_rec f;
	if (d->pcap || !vup_finding_decode(rec->data, rec->caplen, &f))
		return;
	enum vup_chan chan = f.flags & VUP_TRACE_F_BACKEND_CHAN
	                             ? VUP_CHAN_BACKEND
	                             : VUP_CHAN_MAIN;
	if (!wanted(d, f.session, chan, f.request))
		return;
	static char id[256], rule[256], msg[65536], sev[16];
	snprintf(id, sizeof(id), "%.*s", (int)f.id_len, f.id);
	snprintf(rule, sizeof(rule), "%.*s", (int)f.rule_len, f.rule);
	snprintf(msg, sizeof(msg), "%.*s", (int)f.message_len, f.message);
	const char *name = vup_finding_severity_name(f.severity);
	if (name)
		snprintf(sev, sizeof(sev), "%s", name);
	else
		snprintf(sev, sizeof(sev), "severity%u", f.severity);
	uint64_t rel = rel_time(d, rec->ts_ns);
	d->shown++;
	if (d->json) {
		finding_json(rec, d->frames, &f, sev, id, rule, msg);
		return;
	}
	printf("%4" PRIu64 ".%06" PRIu64 " s%u frame %" PRIu64
	       " finding %s %s about ",
	       rel / 1000000000u, rel % 1000000000u / 1000u, f.session,
	       d->frames, sev, id);
	if (f.frame)
		printf("frame %" PRIu64 " ", f.frame);
	else
		printf("no frame of this file ");
	printf("%s%s", chan == VUP_CHAN_BACKEND ? "backend " : "",
	       vup_proto_name(chan, f.request));
	if (!vup_proto_lookup(chan, f.request))
		printf("(%u)", f.request);
	printf(": %s", msg);
	if (rule[0])
		printf(" rule=%s", rule);
	putchar('\n');
}

static int add_request_filter(struct dump *d, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		return -1;
	for (char *tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		const struct vup_msg_type *t = vup_proto_by_name(tok);
		if (!t) {
			fprintf(stderr,
			        "vuproxy dump: --request %s: no such request "
			        "(see `vuproxy requests`)\n",
			        tok);
			free(copy);
			return -1;
		}
		if (d->nreq == MAX_FILTER) {
			fprintf(stderr, "vuproxy dump: too many --request "
			                "names\n");
			free(copy);
			return -1;
		}
		d->req[d->nreq].chan = t->chan;
		d->req[d->nreq].code = t->code;
		d->nreq++;
	}
	free(copy);
	return 0;
}

/* A tap record (or an Ethernet frame for --ethernet-out); 0, or -1 after
 * a write error (reported). */
static int show_tap(struct dump *d, const struct vup_record *rec,
                    const char *path)
{
	uint32_t session;
	const char *rest;
	if (d->only_session >= 0 &&
	    (!vup_dump_iface_session(rec->ifname, &session, &rest) ||
	     session != (uint32_t)d->only_session))
		return 0;
	if (d->pcap) {
		if (rec->kind != VUP_REC_PACKET ||
		    rec->linktype != LINKTYPE_ETHERNET)
			return 0;
		int rc = vup_pcap_out_frame(d->pcap, rec);
		if (rc)
			fprintf(stderr,
			        "vuproxy dump: %s: --ethernet-out: %s\n", path,
			        strerror(-rc));
		return rc ? -1 : 0;
	}
	if (d->nreq) /* --request selects control messages only */
		return 0;
	vup_dump_tap(rec, d->json, rel_time(d, rec->ts_ns));
	d->shown++;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vuproxy dump FILE [--json] [--session N] "
	           "[--request NAME[,NAME...]]\n"
	           "                         [--ethernet-out PCAP]\n"
	           "Print a trace written by vuproxy -w, one line per record "
	           "(--json: one object\n"
	           "per line, with \"type\": \"control\", \"finding\", "
	           "\"net\", \"blk\" or\n\"stats\"): control messages, "
	           "the checker's findings (each naming the\nframe it is "
	           "about), and the tap's Ethernet frames, blk requests and "
	           "queue\nstatistics.  A file that starts in the middle of "
	           "a session first restates\nits set-up (\"declared\", "
	           "with when each message crossed).  "
	           "--session N keeps one session's records; --request keeps "
	           "only those\ncontrol messages and the findings about "
	           "them.  --ethernet-out PCAP writes "
	           "the Ethernet frames (of --session N) to\na classic pcap "
	           "file for tcpdump -r instead of printing (\"-\": stdout; "
	           "an\nexisting file is overwritten; created 0600).  Exit "
	           "status 2 if the file is\ncut short (what was recovered is "
	           "printed first), corrupt or not a vuproxy\ntrace.\n");
}

int vup_dump_main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"session", required_argument, NULL, 's'},
	        {"request", required_argument, NULL, 'r'},
	        {"ethernet-out", required_argument, NULL, 'e'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	struct dump d = {.only_session = -1};
	const char *eth_out = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': d.json = true; break;
		case 's': {
			char *end;
			d.only_session = strtol(optarg, &end, 10);
			if (*end || d.only_session < 0) {
				fprintf(stderr,
				        "vuproxy dump: --session %s: not a "
				        "session number\n",
				        optarg);
				return 2;
			}
			break;
		}
		case 'r':
			if (add_request_filter(&d, optarg))
				return 2;
			break;
		case 'e': eth_out = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	const char *path = argv[optind];
	char err[512];
	struct vup_reader *r;
	if (vup_reader_open(path, &r, err, sizeof(err))) {
		fprintf(stderr, "vuproxy dump: %s\n", err);
		return 2;
	}
	vup_reader_want_stats(r, true);
	if (eth_out &&
	    vup_pcap_out_open(eth_out, path, &d.pcap, err, sizeof(err))) {
		fprintf(stderr, "vuproxy dump: %s\n", err);
		vup_reader_close(r);
		return 2;
	}
	int status = 0;
	for (;;) {
		struct vup_record rec;
		enum vup_read_status st =
		        vup_reader_next(r, &rec, err, sizeof(err));
		if (st == VUP_READ_END)
			break;
		if (st == VUP_READ_TRUNCATED) {
			fflush(stdout);
			fprintf(stderr,
			        "vuproxy dump: %s: %s; %llu records read\n",
			        path, err, (unsigned long long)d.records);
			status = 2;
			break;
		}
		if (st == VUP_READ_CORRUPT) {
			fflush(stdout);
			fprintf(stderr,
			        "vuproxy dump: %s: corrupt: %s; %llu records "
			        "read\n",
			        path, err, (unsigned long long)d.records);
			status = 2;
			break;
		}
		/* A control interface's statistics are a rotation's note
		 * (VUP_ISB_GOES_ON), no record of the session's. */
		if (rec.kind == VUP_REC_STATS && rec.linktype == LINKTYPE_USER0)
			continue;
		d.records++;
		if (rec.kind == VUP_REC_PACKET)
			d.frames++; /* every packet is a frame */
		if (rec.kind == VUP_REC_PACKET &&
		    rec.linktype == LINKTYPE_USER3) {
			if (vup_reader_vuproxy(r))
				show_finding(&d, &rec);
			continue;
		}
		if (rec.kind != VUP_REC_PACKET ||
		    rec.linktype != LINKTYPE_USER0) {
			/* Tap records in a section vuproxy wrote; another
			 * tool's packets are not vuproxy's to show. */
			if (!vup_dump_is_tap(&rec) || !vup_reader_vuproxy(r))
				continue;
			d.taps++;
			if (show_tap(&d, &rec, path)) {
				status = 2;
				break;
			}
			continue;
		}
		struct vup_trace_hdr th;
		int hl = vup_trace_hdr_decode(rec.data, rec.caplen, &th, err,
		                              sizeof(err));
		if (hl < 0) {
			fflush(stdout);
			fprintf(stderr, "vuproxy dump: %s: record %llu: %s%s\n",
			        path, (unsigned long long)d.records, err,
			        hl == -2 ? " (written by a newer vuproxy)"
			                 : "; not a vuproxy trace");
			status = 2;
			break;
		}
		d.control++;
		if (!d.pcap)
			show(&d, &rec, &th, rec.data + hl,
			     rec.caplen - (size_t)hl);
	}
	bool ours = vup_reader_vuproxy(r);
	vup_reader_close(r);
	for (size_t i = 0; i < d.nsessions; i++)
		vup_model_free(d.sessions[i].model);
	free(d.sessions);
	/* A vuproxy trace: control records, or a section vuproxy wrote
	 * that holds tap records or nothing at all. */
	if (status == 0 && d.control == 0 &&
	    (!ours || (d.records && !d.taps))) {
		fprintf(stderr,
		        "vuproxy dump: %s: no vuproxy control records in %llu "
		        "packets; not a vuproxy trace\n",
		        path, (unsigned long long)d.records);
		status = 2;
	}
	if (d.pcap) {
		uint64_t frames = vup_pcap_out_frames(d.pcap);
		if (vup_pcap_out_close(d.pcap, err, sizeof(err))) {
			fprintf(stderr, "vuproxy dump: %s\n", err);
			status = 2;
		} else {
			fprintf(stderr,
			        "vuproxy dump: %llu Ethernet frames written to "
			        "%s\n",
			        (unsigned long long)frames, eth_out);
		}
	}
	fflush(stdout);
	return status;
}
