/* cmd: `vuproxy replay FILE --as front-end|back-end ...`: options, the
 * capture checks, the run, the summary and the exit status (0 identical,
 * 1 differences, 2 error). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vuproxy/log.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: vuproxy replay FILE --as front-end --backend "
	        "connect:PATH|listen:PATH [options]\n"
	        "       vuproxy replay FILE --as back-end --frontend "
	        "listen:PATH|connect:PATH [options]\n"
	        "\n"
	        "Play one recorded session (a trace written by vuproxy -w) "
	        "against a live peer and\n"
	        "report where the peer differs from the record.  Exit status "
	        "0: identical,\n"
	        "1: differences (one line each on stdout), 2: error.\n"
	        "\n"
	        "  --as front-end          be the recorded front-end: send its "
	        "requests to a live\n"
	        "                          back-end, compare the replies\n"
	        "  --as back-end           be the recorded back-end: answer a "
	        "live front-end with\n"
	        "                          the recorded replies, compare its "
	        "requests\n"
	        "  --session N             the session to play (default: the "
	        "first in FILE)\n"
	        "  --ignore FIELD          do not compare FIELD (a field as "
	        "`vuproxy dump` names\n"
	        "                          it, REQUEST.FIELD, a feature bit "
	        "name, size, fds,\n"
	        "                          need_reply); repeat or separate "
	        "with commas\n"
	        "  --pace recorded|fast    reproduce the recorded gaps, or "
	        "go as fast as the peer\n"
	        "                          answers (default fast)\n"
	        "  --reply-timeout MS      how long to wait for a reply "
	        "(default 10000)\n"
	        "  --partial               replay a file that is cut short "
	        "(what it holds)\n"
	        "  --frames[=N]            --as front-end: offer the TX "
	        "frames the tap captured\n"
	        "                          (the first N) to the back-end "
	        "through the session's\n"
	        "                          split rings, in memory vuproxy "
	        "owns\n"
	        "  --frames-pad            pad frames cut to the snap length "
	        "with zeros to their\n"
	        "                          length (else they are refused)\n"
	        "  --frames-rate PPS       offer the frames at PPS frames per "
	        "second (frame i at\n"
	        "                          start + i/PPS; default: as fast as "
	        "the back-end takes\n"
	        "                          them)\n"
	        "  --frames-loop N         offer N frames per TX vring, its "
	        "captured ones over\n"
	        "                          and over\n"
	        "  -v                      log every message sent\n");
}

static void on_signal(int sig)
{
	(void)sig;
	vup_replay__stop = 1;
}

static int parse_ignore(struct vup_replay_opts *o, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		return -ENOMEM;
	int rc = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok && !rc;
	     tok = strtok_r(NULL, ",", &save)) {
		char err[256];
		rc = vup_replay_ignore_add(&o->ignore, tok, err, sizeof(err));
		if (rc)
			fprintf(stderr, "vuproxy replay: --ignore %s\n", err);
	}
	free(copy);
	return rc;
}

static int parse_args(int argc, char **argv, struct vup_replay_opts *o)
{
	enum {
		O_AS = 256,
		O_BACKEND,
		O_FRONTEND,
		O_SESSION,
		O_IGNORE,
		O_PACE,
		O_TIMEOUT,
		O_PARTIAL,
		O_FRAMES,
		O_FRAMES_PAD,
		O_FRAMES_RATE,
		O_FRAMES_LOOP
	};
	static const struct option opts[] = {
	        {"as", required_argument, NULL, O_AS},
	        {"backend", required_argument, NULL, O_BACKEND},
	        {"frontend", required_argument, NULL, O_FRONTEND},
	        {"session", required_argument, NULL, O_SESSION},
	        {"ignore", required_argument, NULL, O_IGNORE},
	        {"pace", required_argument, NULL, O_PACE},
	        {"reply-timeout", required_argument, NULL, O_TIMEOUT},
	        {"partial", no_argument, NULL, O_PARTIAL},
	        {"frames", optional_argument, NULL, O_FRAMES},
	        {"frames-pad", no_argument, NULL, O_FRAMES_PAD},
	        {"frames-rate", required_argument, NULL, O_FRAMES_RATE},
	        {"frames-loop", required_argument, NULL, O_FRAMES_LOOP},
	        {"verbose", no_argument, NULL, 'v'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	bool have_as = false, have_fe = false, have_be = false;
	char err[256], *end;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case O_AS:
			if (strcmp(optarg, "front-end") == 0)
				o->as = VUP_AS_FRONTEND;
			else if (strcmp(optarg, "back-end") == 0)
				o->as = VUP_AS_BACKEND;
			else {
				fprintf(stderr,
				        "vuproxy replay: --as %s: want "
				        "front-end or back-end\n",
				        optarg);
				return -1;
			}
			have_as = true;
			break;
		case O_BACKEND:
		case O_FRONTEND:
			if (vup_endpoint_parse(optarg, &o->peer, err,
			                       sizeof(err))) {
				fprintf(stderr, "vuproxy replay: --%s %s\n",
				        c == O_BACKEND ? "backend" : "frontend",
				        err);
				return -1;
			}
			*(c == O_BACKEND ? &have_be : &have_fe) = true;
			break;
		case O_SESSION:
			errno = 0;
			o->session = strtol(optarg, &end, 10);
			if (errno || *end || !*optarg || o->session < 0 ||
			    o->session > UINT32_MAX) {
				fprintf(stderr,
				        "vuproxy replay: --session %s: not a "
				        "session number\n",
				        optarg);
				return -1;
			}
			break;
		case O_IGNORE:
			if (parse_ignore(o, optarg))
				return -1;
			break;
		case O_PACE:
			if (strcmp(optarg, "recorded") == 0)
				o->pace = true;
			else if (strcmp(optarg, "fast") == 0)
				o->pace = false;
			else {
				fprintf(stderr,
				        "vuproxy replay: --pace %s: want "
				        "recorded or fast\n",
				        optarg);
				return -1;
			}
			break;
		case O_TIMEOUT: {
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || v == 0 ||
			    v > 3600000) {
				fprintf(stderr,
				        "vuproxy replay: --reply-timeout %s: "
				        "milliseconds, 1 to 3600000\n",
				        optarg);
				return -1;
			}
			o->reply_timeout_ms = (unsigned)v;
			break;
		}
		case O_PARTIAL: o->partial = true; break;
		case O_FRAMES:
			o->frames = true;
			if (!optarg)
				break;
			errno = 0;
			o->frames_max = strtoull(optarg, &end, 10);
			if (errno || *end || !*optarg || *optarg == '-' ||
			    o->frames_max == 0) {
				fprintf(stderr,
				        "vuproxy replay: --frames=%s: a number "
				        "of frames, 1 or more\n",
				        optarg);
				return -1;
			}
			break;
		case O_FRAMES_PAD: o->frames_pad = true; break;
		case O_FRAMES_RATE:
		case O_FRAMES_LOOP: {
			bool is_rate = c == O_FRAMES_RATE;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || *end || !*optarg || *optarg == '-' ||
			    v == 0 || (is_rate && v > VUP_RATE_MAX_PPS)) {
				fprintf(stderr,
				        "vuproxy replay: --frames-%s %s: %s\n",
				        is_rate ? "rate" : "loop", optarg,
				        is_rate ? "frames per second, 1 to "
				                  "1000000000"
				                : "a number of frames, 1 or "
				                  "more");
				return -1;
			}
			*(is_rate ? &o->frames_rate : &o->frames_loop) = v;
			break;
		}
		case 'v':
			vup_log_level = vup_log_level < VUP_LOG_MSG
			                        ? VUP_LOG_MSG
			                        : VUP_LOG_DEBUG;
			break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "vuproxy replay: %s\n",
		        optind < argc ? "one capture file, please"
		                      : "which capture file?");
		usage(stderr);
		return -1;
	}
	o->path = argv[optind];
	if (!have_as) {
		fprintf(stderr, "vuproxy replay: --as front-end or --as "
		                "back-end is needed\n");
		return -1;
	}
	bool fe = o->as == VUP_AS_FRONTEND;
	if ((o->frames || o->frames_pad || o->frames_rate || o->frames_loop) &&
	    !fe) {
		fprintf(stderr, "vuproxy replay: --frames replays frames to a "
		                "back-end: it needs --as front-end\n");
		return -1;
	}
	if ((o->frames_pad || o->frames_rate || o->frames_loop) && !o->frames) {
		fprintf(stderr,
		        "vuproxy replay: --frames-%s goes with "
		        "--frames\n",
		        o->frames_pad    ? "pad"
		        : o->frames_rate ? "rate"
		                         : "loop");
		return -1;
	}
	if (fe ? !have_be || have_fe : !have_fe || have_be) {
		fprintf(stderr,
		        "vuproxy replay: --as %s takes --%s (the live %s), "
		        "and only that\n",
		        fe ? "front-end" : "back-end",
		        fe ? "backend" : "frontend",
		        fe ? "back-end" : "front-end");
		return -1;
	}
	return 0;
}

static void summary(const struct vup_replay_run *r, const char *result)
{
	const struct vup_replay_opts *o = r->opt;
	printf("replay: session %u as %s, %s %s:%s: %llu messages sent, "
	       "%llu received, %llu compared, %llu differences: %s\n",
	       r->s->session,
	       o->as == VUP_AS_FRONTEND ? "front-end" : "back-end",
	       o->as == VUP_AS_FRONTEND ? "back-end" : "front-end",
	       o->peer.role == VUP_ROLE_LISTEN ? "listen" : "connect",
	       o->peer.path, (unsigned long long)r->sent,
	       (unsigned long long)r->received, (unsigned long long)r->compared,
	       (unsigned long long)r->diffs, result);
	fflush(stdout);
}

/* --frames: the session's TX frames, refused for what cannot be
 * replayed (packed rings, cut frames without --frames-pad, none). */
static struct vup_replay_dp *load_frames(const struct vup_replay_opts *o,
                                         const struct vup_replay_script *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct vup_replay_msg *m = &s->m[i];
		uint64_t f = 0;
		if (!m->in_view[VUP_AS_FRONTEND] || m->from != VUP_FRONTEND ||
		    m->chan != VUP_CHAN_MAIN ||
		    (m->hdr.flags & VUP_FLAG_REPLY) || m->hdr.request != 2 ||
		    m->hdr.size < 8)
			continue;
		memcpy(&f, m->payload, 8);
		if (f >> VUP_F_RING_PACKED & 1) {
			fprintf(stderr,
			        "vuproxy replay: %s: --frames: session %u "
			        "negotiates packed rings "
			        "(VIRTIO_F_RING_PACKED, "
			        "frame %llu); data-plane replay supports split "
			        "rings only\n",
			        o->path, s->session,
			        (unsigned long long)m->frame);
			return NULL;
		}
	}
	struct vup_replay_frames fr;
	char err[768];
	if (vup_replay_load_frames(o->path, s->session, o->frames_max,
	                           o->frames_pad, o->partial, &fr, err,
	                           sizeof(err))) {
		fprintf(stderr, "vuproxy replay: --frames: %s\n", err);
		return NULL;
	}
	if (fr.cut)
		fprintf(stderr,
		        "vuproxy replay: --frames-pad: %zu of the %zu frames "
		        "were cut to the snap length; they are replayed "
		        "padded with zeros to their original length\n",
		        fr.cut, fr.n);
	struct vup_replay_dp *dp = vup_replay__dp_new(&fr, o->frames_loop);
	if (!dp) {
		vup_replay_frames_free(&fr);
		fprintf(stderr, "vuproxy replay: out of memory\n");
	}
	return dp;
}

int vup_replay_main(int argc, char **argv)
{
	struct vup_replay_opts o = {.session = -1, .reply_timeout_ms = 10000};
	int rc = parse_args(argc, argv, &o);
	if (rc)
		return rc > 0 ? 0 : VUP_REPLAY_ERROR;
	char err[768];
	struct vup_replay_script *s;
	if (vup_replay_load(o.path, o.session, o.partial, &s, err,
	                    sizeof(err))) {
		fprintf(stderr, "vuproxy replay: %s\n", err);
		return VUP_REPLAY_ERROR;
	}
	if (vup_replay_check_setup(s, o.as, err, sizeof(err))) {
		fprintf(stderr, "vuproxy replay: %s: %s\n", o.path, err);
		vup_replay_free(s);
		return VUP_REPLAY_ERROR;
	}
	struct vup_replay_dp *dp = NULL;
	if (o.frames && !(dp = load_frames(&o, s))) {
		vup_replay_free(s);
		return VUP_REPLAY_ERROR;
	}
	if (s->truncated)
		fprintf(stderr,
		        "vuproxy replay: %s is cut short; replaying the %zu "
		        "messages of session %u it holds\n",
		        o.path, s->n, s->session);
	struct vup_replay_run r = {.s = s, .opt = &o, .dp = dp};
	snprintf(r.peer_name, sizeof(r.peer_name), "%s",
	         o.as == VUP_AS_FRONTEND ? "back-end" : "front-end");
	vup_channel_init(&r.main, -1);
	vup_channel_init(&r.bch, -1);
	struct vup_clock clock = {vup_clock_monotonic, NULL};
	vup_pace_init(&r.pace, &clock, o.pace);
	r.used = calloc(s->n, sizeof(*r.used));
	r.model = vup_model_new();
	if (!r.used || !r.model) {
		free(r.used);
		vup_model_free(r.model);
		fprintf(stderr, "vuproxy replay: out of memory\n");
		vup_replay__dp_free(dp);
		vup_replay_free(s);
		return VUP_REPLAY_ERROR;
	}
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term,
	                 old_pipe, ign = {.sa_handler = SIG_IGN};
	vup_replay__stop = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGPIPE, &ign, &old_pipe);
	rc = o.as == VUP_AS_FRONTEND
	             ? vup_replay__frontend(&r, err, sizeof(err))
	             : vup_replay__backend(&r, err, sizeof(err));
	vup_channel_close(&r.main);
	vup_channel_close(&r.bch);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	vup_replay__dp_finish(dp, rc == 0);
	int status;
	if (rc) {
		fflush(stdout);
		fprintf(stderr, "vuproxy replay: %s\n", err);
		summary(&r, "error");
		status = VUP_REPLAY_ERROR;
	} else if (r.diffs) {
		summary(&r, "different");
		status = VUP_REPLAY_DIFF;
	} else {
		summary(&r, "identical");
		status = VUP_REPLAY_SAME;
	}
	free(r.used);
	vup_model_free(r.model);
	vup_replay__dp_free(dp);
	vup_replay_free(s);
	return status;
}
