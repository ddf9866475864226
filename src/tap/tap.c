/* tap: one session's queues, followed from its messages; see
 * include/vuproxy/tap.h.  Device decoding (net frames, blk requests) is
 * in tap_decode.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap_internal.h"
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

/* A front-end request's code, by its catalogue name. */
static uint32_t code_of(const char *name)
{
	const struct vup_msg_type *m = vup_proto_by_name(name);
	return m ? m->code : UINT32_MAX;
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
	t->req_vring_kick = code_of("VRING_KICK");
	t->req_gvb_skip_drain = code_of("GET_VRING_BASE_SKIP_DRAIN");
	t->req_postcopy_listen = code_of("POSTCOPY_LISTEN");
	t->req_postcopy_end = code_of("POSTCOPY_END");
	return t;
}

static bool has(uint64_t bits, unsigned bit)
{
	return bits >> bit & 1;
}

/* A payload field, by the catalogue's layout and field name. */
static bool field(enum vup_layout l, const char *name, const uint8_t *p,
                  uint32_t size, uint64_t *v)
{
	return vup_layout_get(l, name, p, size, v);
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

static struct tap_queue *queue(struct vup_tap *t, uint32_t index)
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
static void stop_queue(struct vup_tap *t, struct tap_queue *q, uint64_t now,
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

static void stop_all(struct vup_tap *t, uint64_t now, const char *why)
{
	for (unsigned i = 0; i < VUP_TAP_MAX_QUEUES; i++)
		if (t->q[i])
			stop_queue(t, t->q[i], now, why);
}

static uint32_t header_room(const struct vup_tap *t)
{
	if (t->cfg.kind == VUP_TAP_BLK)
		return 16; /* the request header in front of write data */
	return vup__net_hdr_len(t->features);
}

/* Where the device starts: the base the front-end gave, or for a split
 * ring restarted without one, the used index in guest memory. */
static bool start_index(struct vup_tap *t, struct tap_queue *q, uint16_t *base)
{
	if (q->have_base) {
		*base = (uint16_t)q->base;
		return true;
	}
	if (has(t->features, VUP_F_RING_PACKED))
		return false;
	return vup_memmap_read(t->mem, VUP_AS_UADDR, q->used + 2, base, 2);
}

/* Start reading a queue once it is fully described and running. */
static void try_start(struct vup_tap *t, struct tap_queue *q, uint64_t now)
{
	if (t->off || t->postcopy || q->running || q->failed || !t->mem ||
	    !q->have_num || !q->have_addr || !q->kicked)
		return;
	if (has(t->features, VUP_F_PROTOCOL_FEATURES) && !q->enabled)
		return;
	uint16_t base;
	if (!start_index(t, q, &base)) {
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
	        .size = q->num,
	        .desc = q->desc,
	        .avail = q->avail,
	        .used = q->used,
	        .avail_base = base,
	        .used_base = base,
	        .features = t->features,
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
			        t->session, q->index, q->num, need >> 10,
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
	t->nrunning++;
	q->mem = need;
	if (b)
		b->mem_used += need;
	q->have_base = false; /* a restart needs a new one */
	q->cont = 0;
	q->skip = 0;
	q->pend_active = false;
	declare(t, q, now);
	vup_log(VUP_LOG_DEBUG,
	        "s%u tap q%u: following a %s ring of %u at desc=0x%" PRIx64
	        ", base %u",
	        t->session, q->index,
	        has(t->features, VUP_F_RING_PACKED) ? "packed" : "split",
	        q->num, q->desc, base);
}

static void try_start_all(struct vup_tap *t, uint64_t now)
{
	for (unsigned i = 0; i < VUP_TAP_MAX_QUEUES; i++)
		if (t->q[i])
			try_start(t, t->q[i], now);
}

/* A new memory table snapshot (NULL: none usable). */
static void set_mem(struct vup_tap *t, struct vup_memmap *m, uint64_t now)
{
	vup_memmap_put(t->mem);
	t->mem = m;
	if (m)
		try_start_all(t, now);
}

static void mem_message(struct vup_tap *t, const struct vup_hdr *h,
                        const uint8_t *payload, const int *fds, unsigned nfds,
                        uint64_t now)
{
	bool xen = has(t->protocol_features, VUP_PF_XEN_MMAP);
	struct vup_memmap *m = NULL;
	char err[256] = "";
	int rc;
	const char *what;
	switch (h->request) {
	case VUP_REQ_SET_MEM_TABLE:
		what = "SET_MEM_TABLE";
		rc = vup_memmap_set_table(&m, payload, h->size, fds, nfds, xen,
		                          err, sizeof(err));
		break;
	case VUP_REQ_ADD_MEM_REG:
		what = "ADD_MEM_REG";
		rc = nfds == 1
		             ? vup_memmap_add(t->mem, payload, h->size, fds[0],
		                              xen, &m, err, sizeof(err))
		             : -EBADF;
		if (nfds != 1)
			snprintf(err, sizeof(err), "no region fd");
		break;
	default:
		what = "REM_MEM_REG";
		rc = vup_memmap_remove(t->mem, payload, h->size, xen, &m, err,
		                       sizeof(err));
		break;
	}
	if (rc) {
		/* The back-end judges the message; the tap only stops reading
		 * memory it can no longer trust. */
		vup_log(VUP_LOG_WARN,
		        "s%u tap: %s: %s; the tap reads no guest memory until "
		        "the next memory table",
		        t->session, what, err);
		stop_all(t, now, "memory table refused");
		set_mem(t, NULL, now);
		return;
	}
	set_mem(t, m, now);
}

static void features_message(struct vup_tap *t, const uint8_t *payload,
                             uint32_t size, uint64_t now)
{
	if (!field(VUP_L_FEATURES, "features", payload, size, &t->features))
		return;
	if (has(t->features, VUP_F_ACCESS_PLATFORM) && !t->off) {
		vup_log(VUP_LOG_WARN,
		        "s%u tap: VIRTIO_F_ACCESS_PLATFORM negotiated: ring "
		        "and buffer addresses are I/O virtual addresses that "
		        "only the IOTLB translates; the tap does not follow "
		        "them and is off for this session",
		        t->session);
		stop_all(t, now, "ACCESS_PLATFORM");
		t->off = true;
	}
}

/* SET_VRING_ADDR for a queue being read, with the rings where they are:
 * QEMU switching dirty logging (VHOST_VRING_F_LOG) on or off for a
 * migration.  The ring goes on: the reader keeps its place. */
static bool same_rings(const struct tap_queue *q, const uint8_t *p,
                       uint32_t size)
{
	uint64_t desc, used, avail;
	return q->running && field(VUP_L_VRING_ADDR, "desc", p, size, &desc) &&
	       field(VUP_L_VRING_ADDR, "used", p, size, &used) &&
	       field(VUP_L_VRING_ADDR, "avail", p, size, &avail) &&
	       desc == q->desc && used == q->used && avail == q->avail;
}

/* What a vring request does to the tap's queue.  VRING_KICK (in-band
 * notifications) starts a queue as SET_VRING_KICK does;
 * GET_VRING_BASE_SKIP_DRAIN stops one as GET_VRING_BASE does. */
enum vring_op { OP_NUM, OP_ADDR, OP_BASE, OP_STOP, OP_KICK, OP_ENABLE };

static void vring_message(struct vup_tap *t, const struct vup_hdr *h,
                          enum vring_op op, const uint8_t *p, uint64_t now)
{
	const struct vup_msg_type *mt =
	        vup_proto_lookup(VUP_CHAN_MAIN, h->request);
	uint64_t index, v;
	if (!mt || !field(mt->req_layout, "index", p, h->size, &index))
		return;
	struct tap_queue *q = queue(t, (uint32_t)index);
	if (!q)
		return;
	if (op == OP_ADDR && same_rings(q, p, h->size)) {
		uint64_t flags = 0;
		field(VUP_L_VRING_ADDR, "flags", p, h->size, &flags);
		vup_log(VUP_LOG_DEBUG,
		        "s%u tap q%u: SET_VRING_ADDR with the same rings "
		        "(logging %s): still following",
		        t->session, q->index, flags & 1 ? "on" : "off");
		return;
	}
	switch (op) {
	case OP_NUM:
	case OP_ADDR:
	case OP_BASE:
		/* A queue set up again while read: what follows is a new
		 * ring. */
		stop_queue(t, q, now, "set up again");
		q->failed = false;
		break;
	default: break;
	}
	switch (op) {
	case OP_NUM:
		if (!field(VUP_L_VRING_STATE, "num", p, h->size, &v))
			return;
		q->num = (uint32_t)v;
		q->have_num = true;
		break;
	case OP_ADDR:
		if (!field(VUP_L_VRING_ADDR, "desc", p, h->size, &q->desc) ||
		    !field(VUP_L_VRING_ADDR, "used", p, h->size, &q->used) ||
		    !field(VUP_L_VRING_ADDR, "avail", p, h->size, &q->avail))
			return;
		q->have_addr = true;
		break;
	case OP_BASE:
		/* The whole u32: try_start reads it as split or packed. */
		if (!field(VUP_L_VRING_BASE, "num", p, h->size, &v))
			return;
		q->base = (uint32_t)v;
		q->have_base = true;
		break;
	case OP_STOP:
		/* The device stops when it handles this, not when it is sent:
		 * read on until the back-end's reply. */
		q->kicked = false;
		if (t->ngvb < sizeof(t->gvb) / sizeof(t->gvb[0]))
			t->gvb[t->ngvb++] = (uint32_t)index;
		return;
	case OP_KICK: q->kicked = true; break;
	case OP_ENABLE:
		/* Likewise the device may still use buffers after a disable
		 * is sent; the queue is read until it is stopped. */
		if (!field(VUP_L_VRING_ENABLE, "enable", p, h->size, &v))
			return;
		q->enabled = v != 0;
		break;
	}
	try_start(t, q, now);
}

/* The vring request a code is, for the tap; false for other codes. */
static bool vring_op_of(const struct vup_tap *t, uint32_t code,
                        enum vring_op *op)
{
	switch (code) {
	case VUP_REQ_SET_VRING_NUM: *op = OP_NUM; return true;
	case VUP_REQ_SET_VRING_ADDR: *op = OP_ADDR; return true;
	case VUP_REQ_SET_VRING_BASE: *op = OP_BASE; return true;
	case VUP_REQ_GET_VRING_BASE: *op = OP_STOP; return true;
	case VUP_REQ_SET_VRING_KICK: *op = OP_KICK; return true;
	case VUP_REQ_SET_VRING_ENABLE: *op = OP_ENABLE; return true;
	default: break;
	}
	if (code == t->req_vring_kick)
		*op = OP_KICK;
	else if (code == t->req_gvb_skip_drain)
		*op = OP_STOP;
	else
		return false;
	return true;
}

/* POSTCOPY_LISTEN: the back-end registers guest memory with its
 * userfaultfd and QEMU fills in each page as it arrives.  A read of a
 * page not migrated yet through vuproxy's own mapping would put a page of
 * zeros into the shared memory file, outside the back-end's
 * userfaultfd: QEMU could no longer place the real page (UFFDIO_COPY
 * fails with EEXIST).  So the tap reads nothing until POSTCOPY_END,
 * when every page is there; its readers keep their place and catch up.
 */
static void set_postcopy(struct vup_tap *t, bool on, uint64_t now)
{
	if (t->postcopy == on)
		return;
	t->postcopy = on;
	if (on) {
		vup_log(VUP_LOG_INFO,
		        "s%u tap: postcopy: the tap reads no guest memory "
		        "until POSTCOPY_END (pages not migrated yet must fault "
		        "into the back-end)",
		        t->session);
		return;
	}
	vup_log(VUP_LOG_INFO, "s%u tap: postcopy ended: reading again",
	        t->session);
	try_start_all(t, now);
}

/* The back-end's SET_MEM_TABLE / ADD_MEM_REG reply in postcopy echoes
 * the table with its own addresses (not an 8-byte ack): the front-end
 * answers it with the same request carrying a u64 0 and no fd, which is
 * no memory table. */
static bool is_echo_ack(struct vup_tap *t, const struct vup_hdr *h,
                        unsigned nfds)
{
	if (!t->echo || h->request != t->echo || h->size != 8 || nfds)
		return false;
	t->echo = 0;
	vup_log(VUP_LOG_DEBUG,
	        "s%u tap: %s of 8 bytes after the back-end's postcopy echo: "
	        "the front-end's acknowledgement, not a memory table",
	        t->session, vup_proto_name(VUP_CHAN_MAIN, h->request));
	return true;
}

static void backend_message(struct vup_tap *t, const struct vup_hdr *h,
                            uint64_t now)
{
	if (!(h->flags & VUP_FLAG_REPLY))
		return;
	if ((h->request == VUP_REQ_SET_MEM_TABLE ||
	     h->request == VUP_REQ_ADD_MEM_REG) &&
	    h->size > 8) {
		t->echo = h->request;
		return;
	}
	/* The GET_VRING_BASE reply: the device has stopped the queue; a last
	 * read gets what it used until then.  The queue is the one the
	 * oldest request asked for, not the index the reply claims; a reply
	 * with no request behind it (one vuproxy made for a rule's fail, or
	 * a lying back-end) stops nothing. */
	enum vring_op op;
	if (!vring_op_of(t, h->request, &op) || op != OP_STOP || !t->ngvb)
		return;
	uint32_t index = t->gvb[0];
	memmove(t->gvb, t->gvb + 1, --t->ngvb * sizeof(t->gvb[0]));
	char why[64];
	snprintf(why, sizeof(why), "%s answered",
	         vup_proto_name(VUP_CHAN_MAIN, h->request));
	if (t->q[index])
		stop_queue(t, t->q[index], now, why);
}

void vup_tap_message(struct vup_tap *t, enum vup_chan chan, enum vup_side from,
                     const struct vup_hdr *h, const uint8_t *payload,
                     const int *fds, unsigned nfds, uint64_t now_ns)
{
	if (!t || chan != VUP_CHAN_MAIN)
		return;
	if (from == VUP_BACKEND) {
		backend_message(t, h, now_ns);
		return;
	}
	/* Front-end requests set queues up; replies do not. */
	if (h->flags & VUP_FLAG_REPLY)
		return;
	enum vring_op op;
	if (vring_op_of(t, h->request, &op)) {
		vring_message(t, h, op, payload, now_ns);
		return;
	}
	if (h->request == t->req_postcopy_listen ||
	    h->request == t->req_postcopy_end) {
		set_postcopy(t, h->request == t->req_postcopy_listen, now_ns);
		return;
	}
	switch (h->request) {
	case VUP_REQ_SET_FEATURES:
		features_message(t, payload, h->size, now_ns);
		break;
	case VUP_REQ_SET_PROTOCOL_FEATURES:
		field(VUP_L_PROTOCOL_FEATURES, "features", payload, h->size,
		      &t->protocol_features);
		break;
	case VUP_REQ_SET_MEM_TABLE:
	case VUP_REQ_ADD_MEM_REG:
	case VUP_REQ_REM_MEM_REG:
		if (!t->off && !is_echo_ack(t, h, nfds))
			mem_message(t, h, payload, fds, nfds, now_ns);
		break;
	case VUP_REQ_RESET_OWNER:
	case VUP_REQ_RESET_DEVICE:
		stop_all(t, now_ns, "reset");
		set_mem(t, NULL, now_ns);
		/* The queues must be set up again; their counts and trace
		 * interfaces stay. */
		for (unsigned i = 0; i < VUP_TAP_MAX_QUEUES; i++)
			if (t->q[i]) {
				struct tap_queue *q = t->q[i];
				q->have_num = q->have_addr = q->have_base =
				        false;
				q->kicked = q->enabled = q->failed = false;
			}
		break;
	default: break;
	}
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

bool vup_tap_running(const struct vup_tap *t)
{
	return t && t->nrunning && !t->postcopy;
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
	stop_all(t, now_ns, "end of session");
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
	set_mem(t, NULL, now_ns);
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
