/* script: one session of a trace, read into memory for replay.
 *
 * Each control record becomes a message with what the trace says about
 * it: who sent it, on which channel, whether its sender emitted it (a
 * record that is not vuproxy's as-sent copy) and whether its receiver got
 * it (passed, delayed or logged as received; or the as-sent copy of a
 * rewrite or of an error answer made by a `fail` rule).  The record of a
 * delayed message leaving ("released") is a timing note, in no view: the
 * message's place is where it came, since the hold queue keeps a
 * direction's order.  From those, two
 * views: what the back-end received and sent (played --as front-end), and
 * what the front-end sent and received (played --as back-end); in each,
 * replies are paired with their requests in order.  A file that starts
 * in the middle of a session restates its set-up first (declared state):
 * those records are played as the session's first messages, so such a
 * file replays on its own.  A capture is
 * untrusted: every length is checked, sizes and counts are bounded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vuproxy/reader.h"
#include "vuproxy/replay.h"

/* How far back a reply looks for its request (replies follow their
 * requests closely; this bounds the work on a hostile file). */
#define PAIR_WINDOW 4096

void vup_replay_free(struct vup_replay_script *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->m[i].payload);
	free(s->m);
	free(s);
}

const char *vup_replay_msg_name(const struct vup_replay_msg *m, char *buf,
                                size_t len)
{
	if (vup_proto_lookup(m->chan, m->hdr.request))
		return vup_proto_name(m->chan, m->hdr.request);
	snprintf(buf, len, "UNKNOWN(%u)", m->hdr.request);
	return buf;
}

static bool is_reply(const struct vup_replay_msg *m)
{
	return m->hdr.flags & VUP_FLAG_REPLY;
}

/* The side that sends requests on a channel. */
static enum vup_side requester(enum vup_chan chan)
{
	return chan == VUP_CHAN_MAIN ? VUP_FRONTEND : VUP_BACKEND;
}

static void classify(struct vup_replay_msg *m)
{
	bool copy = m->trace_flags & VUP_TRACE_F_AS_SENT;
	m->sent = !copy;
	if (m->action == VUP_TRACE_ACT_RELEASED)
		m->sent = m->delivered = false;
	else if (copy)
		m->delivered = m->action != VUP_TRACE_ACT_DROP &&
		               m->action != VUP_TRACE_ACT_DISCONNECT;
	else
		m->delivered = m->action == VUP_TRACE_ACT_PASS ||
		               m->action == VUP_TRACE_ACT_LOG ||
		               m->action == VUP_TRACE_ACT_DELAY;
	/* Played as front-end: the recorded back-end's view. */
	m->in_view[VUP_AS_FRONTEND] =
	        m->from == VUP_FRONTEND ? m->delivered : m->sent;
	/* Played as back-end: the recorded front-end's view. */
	m->in_view[VUP_AS_BACKEND] =
	        m->from == VUP_BACKEND ? m->delivered : m->sent;
	m->pair[0] = m->pair[1] = -1;
}

/* Pair each reply of a view with the earliest unanswered request of the
 * same code on its channel, after the last request answered there. */
static void pair_view(struct vup_replay_script *s, enum vup_replay_as as)
{
	size_t next_open[2] = {0, 0};
	for (size_t i = 0; i < s->n; i++) {
		struct vup_replay_msg *r = &s->m[i];
		if (!r->in_view[as] || !is_reply(r) ||
		    r->from == requester(r->chan))
			continue;
		size_t from = next_open[r->chan];
		if (i > PAIR_WINDOW && from < i - PAIR_WINDOW)
			from = i - PAIR_WINDOW;
		for (size_t j = from; j < i; j++) {
			struct vup_replay_msg *q = &s->m[j];
			if (!q->in_view[as] || is_reply(q) ||
			    q->chan != r->chan ||
			    q->from != requester(q->chan) ||
			    q->hdr.request != r->hdr.request ||
			    q->pair[as] >= 0)
				continue;
			q->pair[as] = (int32_t)i;
			r->pair[as] = (int32_t)j;
			next_open[r->chan] = j + 1;
			break;
		}
	}
}

struct loader {
	struct vup_replay_script *s;
	long want; /* session, -1 until the first record names one */
	uint32_t seen[8];
	size_t nseen;
};

/* Remember the session ids of the file, for "no session N" messages. */
static void saw_session(struct loader *ld, uint32_t id)
{
	struct vup_replay_script *s = ld->s;
	for (size_t i = 0; i < ld->nseen && i < 8; i++)
		if (ld->seen[i] == id)
			return;
	size_t len = strlen(s->sessions);
	if (ld->nseen < 8)
		snprintf(s->sessions + len, sizeof(s->sessions) - len, "%s%u",
		         len ? ", " : "", id);
	else if (ld->nseen == 8)
		snprintf(s->sessions + len, sizeof(s->sessions) - len, ", ...");
	else
		return;
	if (ld->nseen < 8)
		ld->seen[ld->nseen] = id;
	ld->nseen++;
}

/* Decode one control record into a message of the script.  Returns 1
 * when added, 0 when it belongs to another session, <0 on a bad record. */
static int take(struct loader *ld, const struct vup_record *rec, char *err,
                size_t errlen)
{
	struct vup_replay_script *s = ld->s;
	static struct vup_trace_hdr th; /* large (fds, rule): not on stack */
	char why[256];
	int hl = vup_trace_hdr_decode(rec->data, rec->caplen, &th, why,
	                              sizeof(why));
	if (hl == -2) {
		snprintf(err, errlen,
		         "frame %llu: %s: the file was written by a newer "
		         "vuproxy",
		         (unsigned long long)s->frames, why);
		return -ENOTSUP;
	}
	if (hl < 0) {
		snprintf(err, errlen, "frame %llu: %s; not a vuproxy trace",
		         (unsigned long long)s->frames, why);
		return -EINVAL;
	}
	saw_session(ld, th.session);
	if (ld->want < 0)
		ld->want = th.session;
	if (th.session != (uint32_t)ld->want)
		return 0;
	if (!s->n && rec->continued)
		s->continued = true;
	size_t len = rec->caplen - (size_t)hl;
	const uint8_t *msg = rec->data + hl;
	struct vup_hdr h;
	if (len < VUP_HDR_SIZE) {
		snprintf(err, errlen,
		         "frame %llu: a %zu-byte message, shorter than a "
		         "vhost-user header",
		         (unsigned long long)s->frames, len);
		return -EINVAL;
	}
	memcpy(&h, msg, VUP_HDR_SIZE);
	if (h.size > VUP_MAX_PAYLOAD || h.size != len - VUP_HDR_SIZE) {
		snprintf(err, errlen,
		         "frame %llu: the header announces %u payload bytes, "
		         "the record holds %zu (a cut or damaged record)",
		         (unsigned long long)s->frames, h.size,
		         len - VUP_HDR_SIZE);
		return -EINVAL;
	}
	if (th.nfds > VUP_MAX_FDS) {
		snprintf(err, errlen,
		         "frame %llu: %u fds on one message, at most %u",
		         (unsigned long long)s->frames, th.nfds, VUP_MAX_FDS);
		return -EINVAL;
	}
	if (s->n == VUP_REPLAY_MAX_MSGS) {
		snprintf(err, errlen, "session %u has more than %u messages",
		         th.session, VUP_REPLAY_MAX_MSGS);
		return -E2BIG;
	}
	if ((s->n & (s->n - 1)) == 0) { /* grow at powers of two */
		size_t cap = s->n ? s->n * 2 : 64;
		struct vup_replay_msg *m = realloc(s->m, cap * sizeof(*m));
		if (!m) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		s->m = m;
	}
	struct vup_replay_msg *m = &s->m[s->n];
	memset(m, 0, sizeof(*m));
	m->payload = malloc(h.size ? h.size : 1);
	if (!m->payload) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(m->payload, msg + VUP_HDR_SIZE, h.size);
	m->frame = s->frames;
	m->ts_ns = rec->ts_ns;
	m->trace_flags = th.flags;
	m->chan = (th.flags & VUP_TRACE_F_BACKEND_CHAN) ? VUP_CHAN_BACKEND
	                                                : VUP_CHAN_MAIN;
	m->from = (th.flags & VUP_TRACE_F_FROM_BACKEND) ? VUP_BACKEND
	                                                : VUP_FRONTEND;
	m->action = th.action;
	m->hdr = h;
	m->nfds = th.nfds;
	memcpy(m->fds, th.fds, th.nfds * sizeof(th.fds[0]));
	m->declared = th.declared;
	s->declared += th.declared;
	classify(m);
	s->n++;
	return 1;
}

int vup_replay_load(const char *path, long session, bool partial,
                    struct vup_replay_script **out, char *err, size_t errlen)
{
	struct vup_reader *r;
	int rc = vup_reader_open(path, &r, err, errlen);
	if (rc)
		return rc;
	struct vup_replay_script *s = calloc(1, sizeof(*s));
	if (!s) {
		vup_reader_close(r);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	struct loader ld = {.s = s, .want = session};
	uint64_t control = 0;
	char rerr[384];
	for (;;) {
		struct vup_record rec;
		enum vup_read_status st =
		        vup_reader_next(r, &rec, rerr, sizeof(rerr));
		if (st == VUP_READ_END)
			break;
		if (st == VUP_READ_TRUNCATED && partial) {
			s->truncated = true;
			break;
		}
		if (st == VUP_READ_TRUNCATED) {
			snprintf(err, errlen,
			         "%s: %s (%llu frames read); a session cut "
			         "short would replay as differences: use "
			         "--partial to replay what is there",
			         path, rerr, (unsigned long long)s->frames);
			rc = -EINVAL;
			goto out;
		}
		if (st == VUP_READ_CORRUPT) {
			snprintf(err, errlen, "%s: not a readable trace: %s",
			         path, rerr);
			rc = -EINVAL;
			goto out;
		}
		s->frames++;
		if (rec.linktype != LINKTYPE_USER0)
			continue; /* tap records */
		control++;
		rc = take(&ld, &rec, rerr, sizeof(rerr));
		if (rc < 0) {
			snprintf(err, errlen, "%s: %s", path, rerr);
			goto out;
		}
	}
	rc = 0;
	if (!control) {
		snprintf(err, errlen,
		         "%s: no vuproxy control messages in %llu frames; not "
		         "a vuproxy trace",
		         path, (unsigned long long)s->frames);
		rc = -EINVAL;
		goto out;
	}
	if (!s->n) {
		snprintf(err, errlen, "%s: no session %ld (sessions: %s)", path,
		         session, s->sessions);
		rc = -ENOENT;
		goto out;
	}
	s->session = (uint32_t)ld.want;
	pair_view(s, VUP_AS_FRONTEND);
	pair_view(s, VUP_AS_BACKEND);
out:
	vup_reader_close(r);
	if (rc) {
		vup_replay_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* Requests that name guest addresses: without a memory table before them
 * the back-end cannot translate them. */
static bool needs_memory(const struct vup_replay_msg *m)
{
	if (m->chan != VUP_CHAN_MAIN || is_reply(m))
		return false;
	return m->hdr.request == VUP_REQ_SET_VRING_ADDR;
}

static bool is_memory_table(const struct vup_replay_msg *m)
{
	return m->chan == VUP_CHAN_MAIN && !is_reply(m) &&
	       (m->hdr.request == VUP_REQ_SET_MEM_TABLE ||
	        m->hdr.request == VUP_REQ_ADD_MEM_REG);
}

int vup_replay_check_setup(const struct vup_replay_script *s,
                           enum vup_replay_as as, char *err, size_t errlen)
{
	if (s->continued && !s->declared) {
		snprintf(err, errlen,
		         "session %u began in an earlier file and this file "
		         "lacks its set-up (no declared state: it was written "
		         "by an older vuproxy); re-record it with a newer "
		         "vuproxy, whose files restate the set-up",
		         s->session);
		return -EINVAL;
	}
	size_t requests = 0;
	bool memory = false;
	for (size_t i = 0; i < s->n; i++) {
		const struct vup_replay_msg *m = &s->m[i];
		if (!m->in_view[as] || m->from != VUP_FRONTEND ||
		    m->chan != VUP_CHAN_MAIN || is_reply(m))
			continue;
		requests++;
		if (is_memory_table(m))
			memory = true;
		if (needs_memory(m) && !memory) {
			char nb[32];
			snprintf(
			        err, errlen,
			        "session %u has no setup: frame %llu %s comes "
			        "before any SET_MEM_TABLE or ADD_MEM_REG (a "
			        "session recorded from its middle, e.g. a file "
			        "of a rotation other than the first)",
			        s->session, (unsigned long long)m->frame,
			        vup_replay_msg_name(m, nb, sizeof(nb)));
			return -EINVAL;
		}
	}
	if (!requests) {
		snprintf(err, errlen,
		         "session %u has no setup: no request from the "
		         "front-end in it (%zu messages)",
		         s->session, s->n);
		return -EINVAL;
	}
	return 0;
}
