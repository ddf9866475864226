/* tap: one session's queues: started once described, read on the
 * caller's timer, stopped with their counts in the trace; see
 * include/vuproxy/tap.h.  What each message does to them is in
 * tap_follow.c, device decoding (net frames, blk requests) in
 * tap_decode.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vuproxy/log.h"
#include "vuproxy/trace.h"

int vup_tap_kind_parse(const char *s, enum vup_tap_kind *out)
{
	if (strcmp(s, "net") == 0)
		*out = VUP_TAP_NET;
	else if (strcmp(s, "blk") == 0)
		*out = VUP_TAP_BLK;
	else
		return -EINVAL;
	return 0;
}

struct vup_tap *vup_tap_new(const struct vup_tap_config *cfg, uint32_t session,
                            struct vup_trace *trace)
{
	struct vup_tap *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cfg = *cfg;
	if (!t->cfg.snaplen)
		t->cfg.snaplen = 256;
	t->session = session;
	t->trace = trace;
	return t;
}

/* Counts of a queue: what earlier runs left plus the running reader. */
static struct vup_ring_stats queue_counts(const struct tap_queue *q)
{
	struct vup_ring_stats s = q->done;
	if (q->running) {
		const struct vup_ring_stats *r = vup_ring_stats(&q->ring);
		s.consumed += r->consumed;
		s.captured += r->captured;
		s.missed += r->missed;
		s.torn += r->torn;
		s.malformed += r->malformed;
		s.unverified += r->unverified;
		s.unreadable += r->unreadable;
		s.bad_index += r->bad_index;
		if (r->last_malformed)
			s.last_malformed = r->last_malformed;
	}
	return s;
}

static void add_counts(struct vup_ring_stats *a, const struct vup_ring_stats *b)
{
	a->consumed += b->consumed;
	a->captured += b->captured;
	a->missed += b->missed;
	a->torn += b->torn;
	a->malformed += b->malformed;
}

/* Statistics of interface `handle` into the trace: a queue's counts, or
 * for blk the sum over the session's queues. */
static void record_stats(struct vup_tap *t, struct tap_queue *q, uint64_t now)
{
	if (!t->trace)
		return;
	struct vup_ring_stats s = {0};
	uint32_t handle;
	uint64_t start;
	if (t->cfg.kind == VUP_TAP_BLK) {
		if (!t->blk_declared)
			return;
		for (unsigned i = 0; i < VUP_TAP_MAX_QUEUES; i++)
			if (t->q[i]) {
				struct vup_ring_stats c = queue_counts(t->q[i]);
				add_counts(&s, &c);
			}
		handle = t->blk_handle;
		start = t->blk_start_ns;
	} else {
		if (!q->declared)
			return;
		s = queue_counts(q);
		handle = q->handle;
		start = q->start_ns;
	}
	struct pcapng_isb isb = {
	        .start_ns = start,
	        .ifrecv = s.consumed,
	        .usrdeliv = s.captured,
	        .ifdrop = s.missed,
	        .osdrop = s.torn + s.malformed,
	};
	char comment[200];
	snprintf(comment, sizeof(comment),
	         "consumed=%" PRIu64 " captured=%" PRIu64 " missed=%" PRIu64
	         " torn=%" PRIu64 " malformed=%" PRIu64,
	         s.consumed, s.captured, s.missed, s.torn, s.malformed);
	vup_trace_stats(t->trace, handle, now, &isb, comment);
}

/* Declare the trace interface the queue's records go to. */
static void declare(struct vup_tap *t, struct tap_queue *q, uint64_t now)
{
	if (!t->trace)
		return;
	char name[64], desc[160];
	if (t->cfg.kind == VUP_TAP_BLK) {
		if (t->blk_declared)
			return;
		snprintf(name, sizeof(name), "s%u blk", t->session);
		snprintf(desc, sizeof(desc),
		         "vuproxy session %u: virtio-blk requests (tap)",
		         t->session);
		t->blk_start_ns = now;
		t->blk_declared = vup_trace_add_iface(
		                          t->trace, t->session, LINKTYPE_USER1,
		                          VUP_BLK_REC_SIZE + t->cfg.snaplen,
		                          name, desc, &t->blk_handle) == 0;
		return;
	}
	if (q->declared)
		return;
	bool rx = q->index % 2 == 0;
	snprintf(name, sizeof(name), "s%u net q%u %s", t->session, q->index,
	         rx ? "rx" : "tx");
	snprintf(desc, sizeof(desc),
	         "vuproxy session %u: virtqueue %u, %s (tap)", t->session,
	         q->index,
	         rx ? "frames to the guest" : "frames from the guest");
	q->start_ns = now;
	q->declared = vup_trace_add_iface(t->trace, t->session,
	                                  LINKTYPE_ETHERNET, t->cfg.snaplen,
	                                  name, desc, &q->handle) == 0;
}

struct tap_queue *vup__tap_queue(struct vup_tap *t, uint32_t index)
{
	if (index >= VUP_TAP_MAX_QUEUES) {
		if (!t->warned_index)
			vup_log(VUP_LOG_WARN,
			        "s%u tap: vring index %u: the tap follows "
			        "queues 0..%u only",
			        t->session, index, VUP_TAP_MAX_QUEUES - 1);
		t->warned_index = true;
		return NULL;
	}
	if (!t->q[index]) {
		t->q[index] = calloc(1, sizeof(*t->q[index]));
		if (t->q[index]) {
			t->q[index]->index = index;
			t->q[index]->tap = t;
		}
	}
	return t->q[index];
}

/* Read what is left, then stop reading the queue. */
void vup__tap_stop_queue(struct vup_tap *t, struct tap_queue *q, uint64_t now,
                         const char *why)
{
	if (!q->running)
		return;
	/* A last read, to the end: it may take several polls' budgets (a
	 * full ring of 32768), bounded.  Not in postcopy: what the device
	 * used since POSTCOPY_LISTEN goes uncounted. */
	if (t->postcopy)
		vup_log(VUP_LOG_WARN,
		        "s%u tap q%u: stopped in postcopy: the buffers the "
		        "device used since POSTCOPY_LISTEN are not counted",
		        t->session, q->index);
	else if (t->mem) {
		struct vup_guest_mem g = vup_memmap_guest(t->mem);
		for (int i = 0; i < 8; i++) {
			vup_ring_poll(&q->ring, &g, now, vup__tap_emit, q);
			if (!q->ring.halt)
				break;
		}
	}
	vup__tap_flush_pending(q);
	q->done = queue_counts(q);
	q->running = false;
	t->nrunning--;
	vup_ring_free(&q->ring);
	if (t->cfg.budget)
		t->cfg.budget->mem_used -= q->mem;
	q->mem = 0;
	record_stats(t, q, now);
	vup_log(VUP_LOG_DEBUG, "s%u tap q%u: stopped (%s)", t->session,
	        q->index, why);
}

void vup__tap_stop_all(struct vup_tap *t, uint64_t now, const char *why)
{
	for (unsigned i = 0; i < VUP_TAP_MAX_QUEUES; i++)
		if (t->q[i])
			vup__tap_stop_queue(t, t->q[i], now, why);
}

static uint32_t header_room(const struct vup_tap *t)
{
	if (t->cfg.kind == VUP_TAP_BLK)
		return 16; /* the request header in front of write data */
	return vup_net_hdr_len(vup__tap_neg(t)->features);
}

/* Where the device starts: the base the front-end gave, or for a split
 * ring restarted without one, the used index in guest memory. */
static bool start_index(struct vup_tap *t, struct tap_queue *q,
                        const struct vup_model_vring *r, uint16_t *base)
{
	if (q->base_pending) {
		*base = (uint16_t)r->base;
		return true;
	}
	if (vup__tap_has(vup__tap_neg(t)->features, VUP_F_RING_PACKED))
		return false;
	return vup_memmap_read(t->mem, VUP_AS_UADDR, r->used + 2, base, 2);
}

/* Start reading a queue once it is fully described and running. */
void vup__tap_try_start(struct vup_tap *t, struct tap_queue *q, uint64_t now)
{
	const struct vup_model_vring *r = vup__tap_vring(q);
	if (t->off || t->postcopy || q->running || q->failed || !t->mem || !r ||
	    !r->have_num || !r->have_addr || r->run != VUP_VRING_STARTED)
		return;
	uint64_t features = vup__tap_neg(t)->features;
	/* Without VHOST_USER_F_PROTOCOL_FEATURES a ring is enabled when it
	 * starts; with it, by SET_VRING_ENABLE. */
	if (vup__tap_has(features, VUP_F_PROTOCOL_FEATURES) && !r->enabled)
		return;
	uint16_t base;
	if (!start_index(t, q, r, &base)) {
		vup_log(VUP_LOG_WARN,
		        "s%u tap q%u: restarted without SET_VRING_BASE; the "
		        "tap cannot find its place in a packed ring and "
		        "stops following it",
		        t->session, q->index);
		q->failed = true;
		return;
	}
	uint32_t snap = t->cfg.snaplen + header_room(t);
	struct vup_ring_config rc = {
	        .size = r->num,
	        .desc = r->desc,
	        .avail = r->avail,
	        .used = r->used,
	        .avail_base = base,
	        .used_base = base,
	        .features = features,
	        .keep_unverified = !t->cfg.strict,
	        .snaplen = snap > VUP_RING_MAX_SNAPLEN ? VUP_RING_MAX_SNAPLEN
	                                               : snap,
	};
	uint64_t need = vup_ring_mem(rc.size, rc.snaplen);
	struct vup_tap_budget *b = t->cfg.budget;
	if (b && b->mem_used + need > b->mem_limit) {
		if (!t->warned_mem)
			vup_log(VUP_LOG_WARN,
			        "s%u tap q%u: not following it: a ring of %u "
			        "needs %" PRIu64 " KiB, the tap's memory "
			        "(--tap-memory) has %" PRIu64 " KiB left",
			        t->session, q->index, r->num, need >> 10,
			        (b->mem_limit - b->mem_used) >> 10);
		t->warned_mem = true;
		q->failed = true;
		return;
	}
	const char *reason = "?";
	if (vup_ring_init(&q->ring, &rc, &reason)) {
		vup_log(VUP_LOG_WARN, "s%u tap q%u: not following it: %s",
		        t->session, q->index, reason);
		q->failed = true;
		return;
	}
	q->running = true;
	q->num = r->num;
	q->desc = r->desc;
	q->avail = r->avail;
	q->used = r->used;
	t->nrunning++;
	q->mem = need;
	if (b)
		b->mem_used += need;
	q->base_pending = false; /* a restart needs a new one */
	q->cont = 0;
	q->skip = 0;
	q->pend_active = false;
	declare(t, q, now);
	vup_log(VUP_LOG_DEBUG,
	        "s%u tap q%u: following a %s ring of %u at desc=0x%" PRIx64
	        ", base %u",
	        t->session, q->index,
	        vup__tap_has(features, VUP_F_RING_PACKED) ? "packed" : "split",
	        q->num, q->desc, base);
}

void vup__tap_try_start_all(struct vup_tap *t, uint64_t now)
{
	for (unsigned i = 0; i < VUP_TAP_MAX_QUEUES; i++)
		if (t->q[i])
			vup__tap_try_start(t, t->q[i], now);
}

/* A new memory table snapshot (NULL: none usable). */
void vup__tap_set_mem(struct vup_tap *t, struct vup_memmap *m, uint64_t now)
{
	vup_memmap_put(t->mem);
	t->mem = m;
	if (m)
		vup__tap_try_start_all(t, now);
}

bool vup_tap_poll(struct vup_tap *t, uint64_t now_ns, uint32_t *reads)
{
	if (!t || !t->mem || !t->nrunning || t->postcopy)
		return false;
	struct vup_guest_mem g = vup_memmap_guest(t->mem);
	unsigned start = t->next_q;
	t->next_q = (t->next_q + 1) % VUP_TAP_MAX_QUEUES;
	for (unsigned k = 0; k < VUP_TAP_MAX_QUEUES; k++) {
		struct tap_queue *q = t->q[(start + k) % VUP_TAP_MAX_QUEUES];
		if (!q || !q->running)
			continue;
		if (reads && *reads == 0)
			break; /* the tick's reads are spent: next tick */
		q->ring.max_reads = reads ? *reads : 0;
		vup_ring_poll(&q->ring, &g, now_ns, vup__tap_emit, q);
		if (reads) {
			uint32_t used = vup_ring_reads(&q->ring);
			*reads -= used < *reads ? used : *reads;
		}
	}
	return true;
}

const struct vup_memmap *vup_tap_memmap(const struct vup_tap *t)
{
	return t && !t->off ? t->mem : NULL;
}

bool vup_tap_running(const struct vup_tap *t)
{
	return t && t->nrunning && !t->postcopy;
}

void vup_tap_capture(struct vup_tap *t, const struct vup_model *m,
                     uint32_t index, uint32_t num, const struct vup_ring_buf *b,
                     uint64_t now_ns)
{
	struct tap_queue *q = vup__tap_queue(t, index);
	if (!q)
		return;
	t->model = m;
	q->num = num;
	declare(t, q, now_ns);
	q->done.consumed++;
	q->done.captured++;
	vup__tap_emit(q, b);
}

void vup_tap_capture_end(struct vup_tap *t, uint64_t now_ns)
{
	for (unsigned i = 0; t && i < VUP_TAP_MAX_QUEUES; i++)
		if (t->q[i] && !t->q[i]->running)
			record_stats(t, t->q[i], now_ns);
	vup_tap_end(t, now_ns);
}

void vup_tap_add_totals(const struct vup_tap *t, struct vup_tap_totals *sum)
{
	for (unsigned i = 0; i < VUP_TAP_MAX_QUEUES; i++) {
		if (!t->q[i])
			continue;
		struct vup_ring_stats s = queue_counts(t->q[i]);
		if (!s.consumed && !t->q[i]->declared)
			continue;
		sum->queues++;
		sum->consumed += s.consumed;
		sum->captured += s.captured;
		sum->missed += s.missed;
		sum->torn += s.torn;
		sum->malformed += s.malformed;
		sum->unverified += s.unverified;
	}
}

void vup_tap_end(struct vup_tap *t, uint64_t now_ns)
{
	if (!t)
		return;
	vup__tap_stop_all(t, now_ns, "end of session");
	for (unsigned i = 0; i < VUP_TAP_MAX_QUEUES; i++) {
		struct tap_queue *q = t->q[i];
		if (!q || (!q->declared && !q->done.consumed))
			continue;
		char last[160] = "", unv[64] = "";
		if (q->done.last_malformed)
			snprintf(last, sizeof(last), " (last malformed: %s)",
			         q->done.last_malformed);
		if (q->done.unverified)
			snprintf(unv, sizeof(unv), " (%" PRIu64 " unverified)",
			         q->done.unverified);
		vup_log(VUP_LOG_INFO,
		        "s%u tap q%u: consumed %" PRIu64 ", captured %" PRIu64
		        "%s, missed %" PRIu64 ", torn %" PRIu64
		        ", malformed %" PRIu64 "%s",
		        t->session, i, q->done.consumed, q->done.captured, unv,
		        q->done.missed, q->done.torn, q->done.malformed, last);
		/* Most buffers torn: the device uses them faster than the
		 * tap polls.  Say what would help. */
		if (t->cfg.strict && q->done.torn > q->done.captured &&
		    q->done.torn > 8)
			vup_log(VUP_LOG_INFO,
			        "s%u tap q%u: the device used most buffers "
			        "before the tap could check its copy; without "
			        "--tap-strict such copies are kept, marked",
			        t->session, i);
	}
	vup__tap_set_mem(t, NULL, now_ns);
	if (t->trace)
		vup_trace_flush(t->trace);
}

void vup_tap_free(struct vup_tap *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < VUP_TAP_MAX_QUEUES; i++) {
		if (t->q[i] && t->q[i]->running)
			vup_ring_free(&t->q[i]->ring);
		if (t->q[i])
			free(t->q[i]->pend);
		free(t->q[i]);
	}
	vup_memmap_put(t->mem);
	free(t);
}
