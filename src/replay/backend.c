/* backend: `vuproxy replay --as back-end`.  vuproxy is the recorded
 * back-end for a live front-end: each live request is matched with the
 * next recorded request of the same type (recorded order per type),
 * compared, and answered with the reply the recorded front-end received.
 * Requests the recorded back-end made on the back-end channel are sent
 * after the request they followed in the record.  The session ends when
 * the front-end closes the connection (or on SIGINT/SIGTERM); recorded
 * requests it never sent are differences. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "vuproxy/log.h"

#define AS VUP_AS_BACKEND

struct be_state {
	uint64_t live_requests;
	bool order_reported;
};

static bool is_reply(const struct vup_hdr *h)
{
	return h->flags & VUP_FLAG_REPLY;
}

static bool main_request(const struct vup_replay_msg *m)
{
	return m->in_view[AS] && m->chan == VUP_CHAN_MAIN &&
	       m->from == VUP_FRONTEND && !is_reply(&m->hdr);
}

/* SET_BACKEND_REQ_FD: the live front-end's socket is our back-end
 * channel. */
static void take_backend_channel(struct vup_replay_run *r)
{
	struct vup_msg *in = &r->main.in;
	if (in->hdr.request != 21 || in->nfds != 1)
		return;
	if (r->bch.fd >= 0)
		vup_channel_close(&r->bch);
	vup_channel_init(&r->bch, in->fds[0]);
	in->fds[0] = -1;
	fcntl(r->bch.fd, F_SETFL, fcntl(r->bch.fd, F_GETFL) | O_NONBLOCK);
}

/* Wait for the front-end's answer to a back-end-channel request. */
static void await_backend_reply(struct vup_replay_run *r,
                                const struct vup_replay_msg *rep)
{
	uint64_t deadline = vup_replay__now() +
	                    (uint64_t)r->opt->reply_timeout_ms * 1000000u;
	for (;;) {
		enum vup_chan chan;
		enum rp_event ev =
		        vup_replay__wait(r, deadline, false, true, &chan);
		if (ev != RP_MSG) {
			vup_replay__diff(r, rep, NULL,
			                 "no reply from the front-end within "
			                 "%u ms",
			                 r->opt->reply_timeout_ms);
			return;
		}
		struct vup_hdr *h = &r->bch.in.hdr;
		if (is_reply(h) && h->request == rep->hdr.request) {
			vup_replay__check(r, &r->bch, rep);
			vup_replay__drop_in(r, &r->bch);
			return;
		}
		vup_replay__diff(r, NULL, "back-end channel",
		                 "unexpected %s from the front-end",
		                 vup_proto_name(VUP_CHAN_BACKEND, h->request));
		vup_replay__drop_in(r, &r->bch);
	}
}

/* The back-end-channel requests recorded after main request j, up to the
 * next main request. */
static void send_backend_requests(struct vup_replay_run *r, long j)
{
	const struct vup_replay_script *s = r->s;
	for (size_t k = (size_t)j + 1; k < s->n && !main_request(&s->m[k]);
	     k++) {
		const struct vup_replay_msg *m = &s->m[k];
		if (r->used[k] || !m->in_view[AS] ||
		    m->chan != VUP_CHAN_BACKEND || m->from != VUP_BACKEND ||
		    is_reply(&m->hdr))
			continue;
		r->used[k] = true;
		if (r->bch.fd < 0) {
			vup_replay__diff(
			        r, m, NULL,
			        "not sent: the live front-end gave no "
			        "back-end channel (SET_BACKEND_REQ_FD)");
			continue;
		}
		char why[256];
		if (vup_replay__send_recorded(r, &r->bch, m, why,
		                              sizeof(why))) {
			vup_replay__diff(r, m, NULL, "could not be sent: %s",
			                 why);
			continue;
		}
		if (m->pair[AS] >= 0) {
			r->used[m->pair[AS]] = true;
			await_backend_reply(r, &s->m[m->pair[AS]]);
		}
	}
}

/* The reply the record gives for a request it has no more of: the last
 * recorded reply of that type, if any. */
static long last_reply_of(struct vup_replay_run *r, uint32_t code)
{
	for (size_t i = r->s->n; i-- > 0;) {
		const struct vup_replay_msg *m = &r->s->m[i];
		if (m->in_view[AS] && m->chan == VUP_CHAN_MAIN &&
		    m->from == VUP_BACKEND && is_reply(&m->hdr) &&
		    m->hdr.request == code)
			return (long)i;
	}
	return -1;
}

/* Send recorded reply p, at its recorded time when pacing. */
static int reply(struct vup_replay_run *r, const struct vup_replay_msg *p)
{
	if (r->pace.on) {
		uint64_t due = vup_pace_deadline(&r->pace, p->ts_ns);
		while (vup_replay__now() < due) {
			enum vup_chan chan;
			enum rp_event ev =
			        vup_replay__wait(r, due, false, true, &chan);
			if (ev == RP_MSG) {
				vup_replay__diff(r, NULL, "back-end channel",
				                 "unexpected message from the "
				                 "front-end");
				vup_replay__drop_in(r, &r->bch);
			} else if (ev != RP_TIMEOUT) {
				break;
			}
		}
	}
	char why[256];
	int rc = vup_replay__send_recorded(r, &r->main, p, why, sizeof(why));
	if (rc < 0)
		vup_log(VUP_LOG_INFO, "replay: could not send the reply: %s",
		        why);
	return rc;
}

static int on_request(struct vup_replay_run *r, struct be_state *st)
{
	const struct vup_replay_script *s = r->s;
	struct vup_msg *in = &r->main.in;
	struct vup_hdr h = in->hdr;
	uint8_t pl[VUP_MAX_PAYLOAD]; /* in is consumed before the answer */
	memcpy(pl, in->payload, h.size);
	const char *name = vup_proto_name(VUP_CHAN_MAIN, h.request);
	if (is_reply(&h)) {
		vup_replay__diff(r, NULL, "main channel",
		                 "a %s reply from the front-end, which only "
		                 "sends requests there",
		                 name);
		vup_replay__drop_in(r, &r->main);
		return 0;
	}
	st->live_requests++;
	long next = vup_replay__find_any(r, AS, VUP_CHAN_MAIN, VUP_FRONTEND);
	if (!r->pace.started && next >= 0)
		vup_pace_start(&r->pace, s->m[next].ts_ns);
	long j = vup_replay__find(r, AS, VUP_CHAN_MAIN, VUP_FRONTEND, false,
	                          h.request);
	if (next >= 0 && j != next && !st->order_reported) {
		vup_replay__diff(r, &s->m[next], NULL,
		                 "the live front-end sent %s(%u) here instead "
		                 "(its request %llu); later order differences "
		                 "are not reported",
		                 name, h.request,
		                 (unsigned long long)st->live_requests);
		st->order_reported = true;
	}
	if (j >= 0) {
		r->used[j] = true;
		vup_replay__check(r, &r->main, &s->m[j]);
	} else {
		vup_replay__diff(
		        r, NULL, "main channel",
		        "unexpected %s(%u) from the front-end (its "
		        "request %llu; the record has no more of them)",
		        name, h.request, (unsigned long long)st->live_requests);
	}
	take_backend_channel(r);
	vup_replay__drop_in(r, &r->main);
	long p = j >= 0 ? s->m[j].pair[AS] : last_reply_of(r, h.request);
	if (j >= 0 && p >= 0)
		r->used[p] = true;
	int rc = 0;
	if (p >= 0 &&
	    (j >= 0 || vup_replay__wants_reply(&h, VUP_CHAN_MAIN,
	                                       vup_model_neg(r->model))))
		rc = reply(r, &s->m[p]);
	else if (vup_replay__wants_reply(&h, VUP_CHAN_MAIN,
	                                 vup_model_neg(r->model)))
		rc = vup_replay__default_reply(r, &r->main, &h, pl);
	if (rc < 0)
		return rc;
	if (j >= 0)
		send_backend_requests(r, j);
	return 0;
}

int vup_replay__backend(struct vup_replay_run *r, char *err, size_t errlen)
{
	const struct vup_replay_script *s = r->s;
	struct be_state st = {0};
	int rc = vup_replay__open_peer(r, err, errlen);
	if (rc)
		return rc;
	for (;;) {
		enum vup_chan chan;
		enum rp_event ev =
		        vup_replay__wait(r, UINT64_MAX, true, true, &chan);
		if (ev == RP_EOF)
			break;
		if (ev == RP_SIGNAL) {
			vup_log(VUP_LOG_INFO, "replay: stopped by a signal");
			break;
		}
		if (ev == RP_ERROR) {
			snprintf(err, errlen,
			         "the connection to the front-end failed after "
			         "its request %llu: %s",
			         (unsigned long long)st.live_requests,
			         r->main.why);
			return -EIO;
		}
		if (ev != RP_MSG)
			continue;
		if (chan == VUP_CHAN_BACKEND) {
			vup_replay__diff(r, NULL, "back-end channel",
			                 "unexpected %s from the front-end",
			                 vup_proto_name(VUP_CHAN_BACKEND,
			                                r->bch.in.hdr.request));
			vup_replay__drop_in(r, &r->bch);
			continue;
		}
		if (on_request(r, &st) < 0)
			break; /* the front-end is gone */
	}
	vup_log(VUP_LOG_INFO, "replay: the front-end sent %llu requests",
	        (unsigned long long)st.live_requests);
	for (size_t i = 0; i < s->n; i++)
		if (!r->used[i] && main_request(&s->m[i]))
			vup_replay__diff(r, &s->m[i], NULL,
			                 "recorded, never sent by the live "
			                 "front-end");
	return 0;
}
