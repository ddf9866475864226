/* frontend: `vuproxy replay --as front-end`.  vuproxy is the recorded
 * front-end: it sends, in order, what the recorded back-end received,
 * waits for a reply wherever the recorded back-end gave one and compares
 * it; requests the back-end makes on the back-end channel are matched
 * with the recorded ones and answered as the recorded front-end answered.
 * The back-end closing the connection before the end is an error that
 * names the request it died on. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vuproxy/log.h"

#define AS VUP_AS_FRONTEND

static bool is_reply(const struct vup_hdr *h)
{
	return h->flags & VUP_FLAG_REPLY;
}

/* A request of the back-end on the back-end channel (in r->bch.in). */
static int on_backend_request(struct vup_replay_run *r, char *err,
                              size_t errlen)
{
	const struct vup_replay_script *s = r->s;
	struct vup_msg *in = &r->bch.in;
	struct vup_hdr h = in->hdr;
	uint8_t pl[VUP_MAX_PAYLOAD]; /* in is consumed before the answer */
	memcpy(pl, in->payload, h.size);
	const char *name = vup_proto_name(VUP_CHAN_BACKEND, h.request);
	if (is_reply(&h)) {
		vup_replay__diff(r, NULL, "back-end channel",
		                 "a %s reply from the back-end, which only "
		                 "sends requests there",
		                 name);
		vup_replay__drop_in(r, &r->bch);
		return 0;
	}
	long j = vup_replay__find(r, AS, VUP_CHAN_BACKEND, VUP_BACKEND, false,
	                          h.request);
	if (j < 0) {
		vup_replay__diff(r, NULL, "back-end channel",
		                 "unexpected %s(%u) from the back-end (not in "
		                 "the record)",
		                 name, h.request);
		vup_replay__drop_in(r, &r->bch);
		/* The back-end must not hang on it: a plain ack. */
		if (vup_replay__wants_reply(&h, VUP_CHAN_BACKEND,
		                            vup_model_neg(r->model)))
			vup_replay__default_reply(r, &r->bch, &h, pl);
		return 0;
	}
	r->used[j] = true;
	vup_replay__check(r, &r->bch, &s->m[j]);
	vup_replay__drop_in(r, &r->bch);
	if (!vup_replay__wants_reply(&h, VUP_CHAN_BACKEND,
	                             vup_model_neg(r->model)))
		return 0;
	int32_t p = s->m[j].pair[AS];
	int rc;
	if (p >= 0) {
		r->used[p] = true;
		rc = vup_replay__send_recorded(r, &r->bch, &s->m[p], err,
		                               errlen);
	} else {
		rc = vup_replay__default_reply(r, &r->bch, &h, pl);
	}
	if (rc < 0)
		vup_log(VUP_LOG_WARN,
		        "replay: cannot answer %s on the back-end channel: %s",
		        name, r->bch.why);
	return 0;
}

/* A message that came while no reply was awaited. */
static int on_stray(struct vup_replay_run *r, enum vup_chan chan, char *err,
                    size_t errlen)
{
	if (chan == VUP_CHAN_BACKEND)
		return on_backend_request(r, err, errlen);
	struct vup_hdr h = r->main.in.hdr;
	vup_replay__diff(r, NULL, "main channel",
	                 "unexpected %s%s from the back-end (the record has "
	                 "none here)",
	                 vup_proto_name(VUP_CHAN_MAIN, h.request),
	                 is_reply(&h) ? " reply" : " request");
	vup_replay__drop_in(r, &r->main);
	return 0;
}

static int closed(struct vup_replay_run *r, enum rp_event ev,
                  const struct vup_replay_msg *last, const char *doing,
                  char *err, size_t errlen)
{
	char nb[32];
	const char *name = last ? vup_replay_msg_name(last, nb, sizeof(nb))
	                        : "(nothing sent yet)";
	unsigned long long frame = last ? (unsigned long long)last->frame : 0;
	if (ev == RP_SIGNAL) {
		snprintf(err, errlen, "interrupted %s #%llu %s", doing, frame,
		         name);
		return -EINTR;
	}
	snprintf(err, errlen, "the back-end %s %s #%llu %s",
	         ev == RP_EOF ? "closed the connection" : "failed", doing,
	         frame, name);
	if (ev == RP_ERROR) {
		size_t len = strlen(err);
		snprintf(err + len, errlen - len, ": %s", r->main.why);
	}
	return -EPIPE;
}

/* Serve what arrives until deadline (pacing), or until nothing is there
 * when deadline is 0. */
static int idle_until(struct vup_replay_run *r, uint64_t deadline,
                      const struct vup_replay_msg *last, char *err,
                      size_t errlen)
{
	for (;;) {
		enum vup_chan chan;
		enum rp_event ev =
		        vup_replay__wait(r, deadline, true, true, &chan);
		if (ev == RP_TIMEOUT)
			return 0;
		if (ev != RP_MSG)
			return closed(r, ev, last, "after", err, errlen);
		int rc = on_stray(r, chan, err, errlen);
		if (rc < 0)
			return rc;
	}
}

static void no_reply(struct vup_replay_run *r, const struct vup_replay_msg *rep)
{
	char fields[512];
	vup_render_text(fields, sizeof(fields), &rep->hdr, rep->payload,
	                rep->chan, vup_model_neg(r->model));
	vup_replay__diff(r, rep, NULL,
	                 "no reply within %u ms (recorded: %s%s%u bytes)",
	                 r->opt->reply_timeout_ms, fields,
	                 fields[0] ? ", " : "", rep->hdr.size);
}

/* The recorded answer's fields but the index ("num=37",
 * "avail_idx=5 avail_wrap=1 used_idx=0 used_wrap=0"). */
static const char *recorded_base(struct vup_replay_run *r,
                                 const struct vup_replay_msg *rep, char *buf,
                                 size_t len)
{
	vup_render_text(buf, len, &rep->hdr, rep->payload, rep->chan,
	                vup_model_neg(r->model));
	const char *sp = strchr(buf, ' ');
	return sp ? sp + 1 : buf;
}

/* Compare the reply in r->main.in with the recorded one.  A
 * GET_VRING_BASE answer is expected where the replay left the vring, not
 * where the recorded traffic did: after frames were replayed on it, at
 * the base plus those frames; else at the base the replay set with
 * SET_VRING_BASE.  A difference says so. */
static void expected_check(struct vup_replay_run *r,
                           const struct vup_replay_msg *req,
                           const struct vup_replay_msg *rep)
{
	uint64_t index64, rec64, frame;
	uint32_t num;
	char note[256], rb[160];
	if ((req->hdr.request != VUP_REQ_GET_VRING_BASE &&
	     req->hdr.request != VUP_REQ_GET_VRING_BASE_SKIP_DRAIN) ||
	    req->chan != VUP_CHAN_MAIN ||
	    !vup_field_read(VUP_FLD_VRING_STATE_INDEX, req->payload,
	                    req->hdr.size, &index64) ||
	    !vup_field_read(VUP_FLD_VRING_BASE_NUM, rep->payload, rep->hdr.size,
	                    &rec64)) {
		vup_replay__check(r, &r->main, rep);
		return;
	}
	uint32_t index = (uint32_t)index64, rec_num = (uint32_t)rec64;
	if (vup_replay__dp_vring_base(r->dp, index, &num)) {
		snprintf(note, sizeof(note),
		         "expected: the base plus the frames replayed; "
		         "recorded %s",
		         recorded_base(r, rep, rb, sizeof(rb)));
	} else if (vup_replay_bases_expect(&r->bases, index, rec_num, &num,
	                                   &frame)) {
		snprintf(note, sizeof(note),
		         "expected: the base #%llu SET_VRING_BASE set; "
		         "recorded %s",
		         (unsigned long long)frame,
		         recorded_base(r, rep, rb, sizeof(rb)));
	} else {
		vup_replay__check(r, &r->main, rep);
		return;
	}
	if (num == rec_num) {
		vup_replay__check(r, &r->main, rep);
		return;
	}
	struct vup_replay_msg want = *rep;
	uint8_t payload[VUP_MAX_PAYLOAD];
	memcpy(payload, rep->payload, rep->hdr.size);
	vup_field_set(&vup_fields[VUP_FLD_VRING_BASE_NUM], payload,
	              rep->hdr.size, num);
	want.payload = payload;
	vup_replay__check_note(r, &r->main, &want, note);
}

static int await_reply(struct vup_replay_run *r,
                       const struct vup_replay_msg *req,
                       const struct vup_replay_msg *rep, char *err,
                       size_t errlen)
{
	uint64_t deadline = vup_replay__now() +
	                    (uint64_t)r->opt->reply_timeout_ms * 1000000u;
	for (;;) {
		enum vup_chan chan;
		enum rp_event ev =
		        vup_replay__wait(r, deadline, true, true, &chan);
		if (ev == RP_TIMEOUT) {
			no_reply(r, rep);
			return 0;
		}
		if (ev != RP_MSG)
			return closed(r, ev, req,
			              "while vuproxy waited for the "
			              "reply to",
			              err, errlen);
		if (chan == VUP_CHAN_BACKEND) {
			int rc = on_backend_request(r, err, errlen);
			if (rc < 0)
				return rc;
			continue;
		}
		struct vup_hdr *h = &r->main.in.hdr;
		if (!is_reply(h) || h->request != req->hdr.request) {
			on_stray(r, chan, err, errlen);
			continue;
		}
		expected_check(r, req, rep);
		vup_replay__drop_in(r, &r->main);
		return 0;
	}
}

/* ---- the data plane's hooks (--frames) ---- */

/* Serve the channels while frames are replayed. */
static int dp_idle(void *ctx, uint64_t deadline, char *err, size_t errlen)
{
	struct vup_replay_run *r = ctx;
	return idle_until(r, deadline, r->last, err, errlen);
}

static void dp_diff(void *ctx, const char *text)
{
	vup_replay__diff(ctx, NULL, "frames", "%s", text);
}

/* A message is about to be sent: the data plane follows the model. */
static int dp_on_send(struct vup_replay_run *r, const struct vup_view *v,
                      const struct vup_model_events *ev, char *err,
                      size_t errlen)
{
	return vup_replay__dp_events(r->dp, v, ev, err, errlen);
}

static void dp_attach(struct vup_replay_run *r)
{
	const struct vup_replay_opts *o = r->opt;
	struct vup_replay_dp_env env = {
	        .model = r->model,
	        .clock = {vup_clock_monotonic, NULL},
	        .reply_timeout_ms = o->reply_timeout_ms,
	        .rate = o->frames_rate,
	        .report_rate = o->frames_rate || o->frames_loop,
	        .ctx = r,
	        .on_diff = dp_diff,
	        .on_idle = dp_idle,
	};
	vup_replay__dp_attach(r->dp, &env);
	r->on_send = dp_on_send;
}

static int replay_frames(struct vup_replay_run *r,
                         const struct vup_replay_msg *before, char *err,
                         size_t errlen)
{
	if (!vup_replay__dp_due(r->dp, before))
		return 0;
	return vup_replay__dp_inject(r->dp, err, errlen);
}

/* Back-end-channel requests in the record that have not come. */
static bool backend_requests_missing(struct vup_replay_run *r)
{
	return vup_replay__find_any(r, AS, VUP_CHAN_BACKEND, VUP_BACKEND) >= 0;
}

int vup_replay__frontend(struct vup_replay_run *r, char *err, size_t errlen)
{
	const struct vup_replay_script *s = r->s;
	const struct vup_replay_msg *last = NULL;
	if (r->dp)
		dp_attach(r);
	int rc = vup_replay__open_peer(r, err, errlen);
	if (rc)
		return rc;
	for (size_t i = 0; i < s->n; i++) {
		const struct vup_replay_msg *m = &s->m[i];
		if (!m->in_view[AS] || m->from != VUP_FRONTEND ||
		    m->chan != VUP_CHAN_MAIN || is_reply(&m->hdr))
			continue;
		/* What arrived meanwhile, then the recorded gap. */
		uint64_t due =
		        r->pace.on ? vup_pace_deadline(&r->pace, m->ts_ns) : 0;
		rc = idle_until(r, due, last, err, errlen);
		if (rc)
			return rc;
		/* --frames: before the request that stops a running vring. */
		rc = replay_frames(r, m, err, errlen);
		if (rc)
			return rc;
		char why[256];
		rc = vup_replay__send_recorded(r, &r->main, m, why,
		                               sizeof(why));
		if (rc < 0) {
			char nb[32];
			closed(r, RP_EOF, last, "after", err, errlen);
			size_t len = strlen(err);
			snprintf(err + len, errlen - len,
			         "; sending #%llu %s failed: %s",
			         (unsigned long long)m->frame,
			         vup_replay_msg_name(m, nb, sizeof(nb)), why);
			return rc;
		}
		r->used[i] = true;
		last = r->last = m;
		vup_replay_bases_note(&r->bases, m);
		if (m->pair[AS] < 0)
			continue;
		r->used[m->pair[AS]] = true;
		rc = await_reply(r, m, &s->m[m->pair[AS]], err, errlen);
		if (rc)
			return rc;
	}
	/* --frames: a session recorded without its teardown. */
	rc = replay_frames(r, NULL, err, errlen);
	if (rc)
		return rc;
	/* Back-end-channel requests recorded after the last reply, then a
	 * short look for stray messages. */
	uint64_t deadline = vup_replay__now() +
	                    (uint64_t)r->opt->reply_timeout_ms * 1000000u;
	while (r->bch.fd >= 0 && backend_requests_missing(r) &&
	       vup_replay__now() < deadline) {
		enum vup_chan chan;
		enum rp_event ev =
		        vup_replay__wait(r, deadline, true, true, &chan);
		if (ev != RP_MSG)
			break;
		on_stray(r, chan, err, errlen);
	}
	rc = idle_until(r, vup_replay__now() + 100 * 1000000u, last, err,
	                errlen);
	if (rc == -EPIPE)
		rc = 0; /* closing after the last request is not early */
	for (size_t i = 0; i < s->n; i++) {
		const struct vup_replay_msg *m = &s->m[i];
		if (!r->used[i] && m->in_view[AS] && m->from == VUP_BACKEND &&
		    m->chan == VUP_CHAN_BACKEND && !is_reply(&m->hdr))
			vup_replay__diff(r, m, NULL,
			                 "recorded from the back-end, never "
			                 "came");
	}
	return rc;
}
