/* tap_follow: what the session model's events do to the tap (memory
 * tables, features, vrings, postcopy); see include/vuproxy/tap.h.  The
 * vrings' set-up is the model's; starting, reading and stopping queues is
 * in tap.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "vuproxy/log.h"

static void mem_message(struct vup_tap *t, const struct vup_view *v,
                        uint64_t now)
{
	const struct vup_hdr *h = &v->hdr;
	const uint8_t *payload = v->payload;
	const int *fds = v->fds;
	unsigned nfds = v->fds ? v->nfds : 0;
	bool xen = vup__tap_has(vup__tap_neg(t)->protocol_features,
	                        VUP_PF_XEN_MMAP);
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
		vup__tap_stop_all(t, now, "memory table refused");
		vup__tap_set_mem(t, NULL, now);
		return;
	}
	vup__tap_set_mem(t, m, now);
}

static void features_acked(struct vup_tap *t, uint64_t now)
{
	if (vup__tap_has(vup__tap_neg(t)->features, VUP_F_ACCESS_PLATFORM) &&
	    !t->off) {
		vup_log(VUP_LOG_WARN,
		        "s%u tap: VIRTIO_F_ACCESS_PLATFORM negotiated: ring "
		        "and buffer addresses are I/O virtual addresses that "
		        "only the IOTLB translates; the tap does not follow "
		        "them and is off for this session",
		        t->session);
		vup__tap_stop_all(t, now, "ACCESS_PLATFORM");
		t->off = true;
	}
}

/* What a vring event does to the tap's queue. */
static void vring_event(struct vup_tap *t, const struct vup_view *v,
                        const struct vup_model_event *e, uint64_t now)
{
	switch (e->kind) {
	case VUP_EV_VRING_ADDR:
	case VUP_EV_VRING_NUM:
	case VUP_EV_VRING_BASE:
	case VUP_EV_VRING_STOPPED:
	case VUP_EV_VRING_STARTED:
	case VUP_EV_VRING_ENABLED: break;
	default: return;
	}
	struct tap_queue *q = vup__tap_queue(t, e->index);
	if (!q)
		return;
	switch (e->kind) {
	case VUP_EV_VRING_ADDR:
		if (q->running && !e->value) {
			/* The same rings: QEMU switching dirty logging
			 * (VHOST_VRING_F_LOG) for a migration.  The ring goes
			 * on: the reader keeps its place. */
			const struct vup_model_vring *r = vup__tap_vring(q);
			vup_log(VUP_LOG_DEBUG,
			        "s%u tap q%u: SET_VRING_ADDR with the same "
			        "rings (logging %s): still following",
			        t->session, q->index,
			        r && (r->addr_flags & 1) ? "on" : "off");
			return;
		}
		/* fall through */
	case VUP_EV_VRING_NUM:
	case VUP_EV_VRING_BASE:
		/* A queue set up again while read: what follows is a new
		 * ring. */
		vup__tap_stop_queue(t, q, now, "set up again");
		q->failed = false;
		if (e->kind == VUP_EV_VRING_BASE)
			q->base_pending = true;
		break;
	case VUP_EV_VRING_STOPPED: {
		/* The device stopped the queue when it answered: a last read
		 * gets what it used until then. */
		char why[64];
		snprintf(why, sizeof(why), "%s answered",
		         vup_proto_name(VUP_CHAN_MAIN, v->hdr.request));
		vup__tap_stop_queue(t, q, now, why);
		return;
	}
	default: break;
	}
	vup__tap_try_start(t, q, now);
}

/* POSTCOPY_LISTEN: the back-end registers guest memory with its
 * userfaultfd and QEMU fills in each page as it arrives.  A read of a
 * page not migrated yet through vuproxy's own mapping would put a page of
 * zeros into the shared memory file, outside the back-end's
 * userfaultfd: QEMU could no longer place the real page (UFFDIO_COPY
 * fails with EEXIST).  So the tap reads nothing until POSTCOPY_END,
 * when every page is there; its readers keep their place and catch up.
 */
/* The device went on while the tap did not look.  Within a ring of
 * where the reader stopped (or, for a queue set up meanwhile, of its
 * base) the reader catches up as after any long poll; further than that
 * the 16-bit indices cannot say which uses it missed, and the queue
 * starts again where the device is, a split ring at the used index in
 * memory (the uses in between are not counted; a packed ring keeps no
 * such index and is left).  Either way the ring counts a pause: a copy
 * made before LISTEN is never taken for a use seen after END, which may
 * be of a later offer once the indices wrapped. */
static void resume_after_postcopy(struct vup_tap *t, struct tap_queue *q,
                                  uint64_t now)
{
	uint16_t used, from;
	bool split =
	        !vup__tap_has(vup__tap_neg(t)->features, VUP_F_RING_PACKED);
	const struct vup_model_vring *r = vup__tap_vring(q);
	if (q->running)
		q->ring.losses++;
	/* A queue read goes on with the rings it was read at; one set up
	 * meanwhile has the model's. */
	uint64_t used_ring = q->running ? q->used : r ? r->used : 0;
	uint32_t num = q->running ? q->num : r ? r->num : 0;
	if (!split || !t->mem || (!q->running && !r) ||
	    !vup_memmap_read(t->mem, VUP_AS_UADDR, used_ring + 2, &used, 2))
		return;
	if (q->running)
		from = q->ring.used_cur;
	else if (q->base_pending)
		from = (uint16_t)r->base;
	else
		return;
	uint16_t moved = (uint16_t)(used - from);
	if (moved <= num)
		return;
	vup_log(VUP_LOG_WARN,
	        "s%u tap q%u: the device used more than a ring (%u or more) "
	        "while the tap did not read, in postcopy: following it again "
	        "from used index %u, those uses not counted",
	        t->session, q->index, (unsigned)moved, (unsigned)used);
	if (q->running) {
		t->postcopy = true; /* stopped without a read */
		vup__tap_stop_queue(t, q, now, "postcopy: lost its place");
		t->postcopy = false;
	}
	q->base_pending = false; /* start at the used index in memory */
}

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
	for (unsigned i = 0; i < VUP_TAP_MAX_QUEUES; i++)
		if (t->q[i])
			resume_after_postcopy(t, t->q[i], now);
	vup_log(VUP_LOG_INFO, "s%u tap: postcopy ended: reading again",
	        t->session);
	vup__tap_try_start_all(t, now);
}

static void reset(struct vup_tap *t, uint64_t now)
{
	vup__tap_stop_all(t, now, "reset");
	vup__tap_set_mem(t, NULL, now);
	/* A migration that never ended ends here. */
	t->postcopy = false;
	/* The queues must be set up again; their counts and trace
	 * interfaces stay. */
	for (unsigned i = 0; i < VUP_TAP_MAX_QUEUES; i++)
		if (t->q[i])
			t->q[i]->failed = t->q[i]->base_pending = false;
}

void vup_tap_message(struct vup_tap *t, const struct vup_model *m,
                     const struct vup_view *v,
                     const struct vup_model_events *ev, uint64_t now_ns)
{
	if (!t || v->chan != VUP_CHAN_MAIN)
		return;
	t->model = m;
	for (unsigned i = 0; i < ev->n; i++) {
		const struct vup_model_event *e = &ev->e[i];
		switch (e->kind) {
		case VUP_EV_MEM_TABLE:
		case VUP_EV_MEM_ADDED:
		case VUP_EV_MEM_REMOVED:
		case VUP_EV_MEM_UNREADABLE:
			if (!t->off)
				mem_message(t, v, now_ns);
			break;
		case VUP_EV_FEATURES_ACKED: features_acked(t, now_ns); break;
		case VUP_EV_POSTCOPY_LISTEN:
		case VUP_EV_POSTCOPY_END:
			set_postcopy(t, e->kind == VUP_EV_POSTCOPY_LISTEN,
			             now_ns);
			break;
		case VUP_EV_RESET: reset(t, now_ns); break;
		default: vring_event(t, v, e, now_ns); break;
		}
	}
}

void vup_tap_adopt(struct vup_tap *t, const struct vup_model *m,
                   struct vup_memmap *mem, uint64_t now_ns)
{
	t->model = m;
	features_acked(t, now_ns);
	if (t->off)
		return;
	t->postcopy = vup_model_postcopy(m);
	bool packed =
	        vup__tap_has(vup__tap_neg(t)->features, VUP_F_RING_PACKED);
	for (uint32_t i = 0; i < VUP_TAP_MAX_QUEUES; i++) {
		const struct vup_model_vring *r = vup_model_vring(m, i);
		if (!r || r->run != VUP_VRING_STARTED)
			continue;
		struct tap_queue *q = vup__tap_queue(t, i);
		if (!q || !packed)
			continue;
		vup_log(VUP_LOG_WARN,
		        "s%u tap q%u: a packed ring already running keeps no "
		        "index in memory: the tap cannot find its place and "
		        "follows it once it is set up again",
		        t->session, i);
		q->failed = true;
	}
	/* Each queue started and set up: read from the used index in
	 * memory (no SET_VRING_BASE pending). */
	vup__tap_set_mem(t, vup_memmap_get(mem), now_ns);
}
