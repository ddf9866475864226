/* tap_follow: what each message of a session does to its tap (memory
 * tables, features, vring requests, postcopy); see include/vuproxy/tap.h.
 * Starting, reading and stopping queues is in tap.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tap_internal.h"
#include "vuproxy/log.h"

static void mem_message(struct vup_tap *t, const struct vup_hdr *h,
                        const uint8_t *payload, const int *fds, unsigned nfds,
                        uint64_t now)
{
	bool xen = vup__tap_has(t->protocol_features, VUP_PF_XEN_MMAP);
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

static void features_message(struct vup_tap *t, const uint8_t *payload,
                             uint32_t size, uint64_t now)
{
	if (!vup__tap_field(VUP_FLD_FEATURES_FEATURES, payload, size,
	                    &t->features))
		return;
	if (vup__tap_has(t->features, VUP_F_ACCESS_PLATFORM) && !t->off) {
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

/* The three ring addresses of a SET_VRING_ADDR, if the payload has them. */
static bool ring_addrs(const uint8_t *p, uint32_t size, uint64_t a[3])
{
	return vup__tap_field(VUP_FLD_VRING_ADDR_DESC, p, size, &a[0]) &&
	       vup__tap_field(VUP_FLD_VRING_ADDR_USED, p, size, &a[1]) &&
	       vup__tap_field(VUP_FLD_VRING_ADDR_AVAIL, p, size, &a[2]);
}

/* SET_VRING_ADDR for a queue being read, with the rings where they are:
 * QEMU switching dirty logging (VHOST_VRING_F_LOG) on or off for a
 * migration.  The ring goes on: the reader keeps its place. */
static bool same_rings(const struct tap_queue *q, const uint8_t *p,
                       uint32_t size)
{
	uint64_t a[3];
	return q->running && ring_addrs(p, size, a) && a[0] == q->desc &&
	       a[1] == q->used && a[2] == q->avail;
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
	enum vup_field_id index_field = mt && mt->req_layout == VUP_L_VRING_FD
	                                        ? VUP_FLD_VRING_FD_INDEX
	                                        : VUP_FLD_VRING_STATE_INDEX;
	if (!mt || !vup__tap_field(index_field, p, h->size, &index))
		return;
	struct tap_queue *q = vup__tap_queue(t, (uint32_t)index);
	if (!q)
		return;
	if (op == OP_ADDR && same_rings(q, p, h->size)) {
		uint64_t flags = 0;
		vup__tap_field(VUP_FLD_VRING_ADDR_FLAGS, p, h->size, &flags);
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
		vup__tap_stop_queue(t, q, now, "set up again");
		q->failed = false;
		break;
	default: break;
	}
	switch (op) {
	case OP_NUM:
		if (!vup__tap_field(VUP_FLD_VRING_STATE_NUM, p, h->size, &v))
			return;
		q->num = (uint32_t)v;
		q->have_num = true;
		break;
	case OP_ADDR: {
		uint64_t a[3];
		if (!ring_addrs(p, h->size, a))
			return;
		q->desc = a[0];
		q->used = a[1];
		q->avail = a[2];
		q->have_addr = true;
		break;
	}
	case OP_BASE:
		/* The whole u32: try_start reads it as split or packed. */
		if (!vup__tap_field(VUP_FLD_VRING_BASE_NUM, p, h->size, &v))
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
		if (!vup__tap_field(VUP_FLD_VRING_ENABLE_ENABLE, p, h->size,
		                    &v))
			return;
		q->enabled = v != 0;
		break;
	}
	vup__tap_try_start(t, q, now);
}

/* The vring request a code is, for the tap; false for other codes. */
static bool vring_op_of(uint32_t code, enum vring_op *op)
{
	switch (code) {
	case VUP_REQ_SET_VRING_NUM: *op = OP_NUM; return true;
	case VUP_REQ_SET_VRING_ADDR: *op = OP_ADDR; return true;
	case VUP_REQ_SET_VRING_BASE: *op = OP_BASE; return true;
	case VUP_REQ_GET_VRING_BASE:
	case VUP_REQ_GET_VRING_BASE_SKIP_DRAIN: *op = OP_STOP; return true;
	case VUP_REQ_SET_VRING_KICK:
	case VUP_REQ_VRING_KICK: *op = OP_KICK; return true;
	case VUP_REQ_SET_VRING_ENABLE: *op = OP_ENABLE; return true;
	default: return false;
	}
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
	bool split = !vup__tap_has(t->features, VUP_F_RING_PACKED);
	if (q->running)
		q->ring.losses++;
	if (!split || !t->mem ||
	    !vup_memmap_read(t->mem, VUP_AS_UADDR, q->used + 2, &used, 2))
		return;
	if (q->running)
		from = q->ring.used_cur;
	else if (q->have_base)
		from = (uint16_t)q->base;
	else
		return;
	uint16_t moved = (uint16_t)(used - from);
	if (moved <= q->num)
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
	q->have_base = false; /* start at the used index in memory */
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

/* The back-end's SET_MEM_TABLE / ADD_MEM_REG reply in postcopy echoes
 * the table with its own addresses (not an 8-byte ack): the front-end
 * answers it with the same request carrying a u64 0 and no fd, which is
 * no memory table. */
static bool is_echo_ack(struct vup_tap *t, const struct vup_hdr *h,
                        unsigned nfds)
{
	if (h->size != 8 || nfds)
		return false;
	/* In postcopy QEMU ends a change of regions with that ack under the
	 * code of its last request, REM_MEM_REG when it only removed some,
	 * with no echo before it. */
	bool after_removal = t->postcopy && h->request == VUP_REQ_REM_MEM_REG;
	if (!after_removal && (!t->echo || h->request != t->echo))
		return false;
	t->echo = 0;
	vup_log(VUP_LOG_DEBUG,
	        "s%u tap: %s of 8 bytes after the back-end's postcopy echo: "
	        "the front-end's acknowledgement, not a memory table",
	        t->session, vup_proto_name(VUP_CHAN_MAIN, h->request));
	return true;
}

/* Whatever its flags say, the back-end only answers on the main channel
 * (vuproxy relays a mis-flagged message and reports it; the receiver may
 * take it as the reply it is). */
static void backend_message(struct vup_tap *t, const struct vup_hdr *h,
                            uint64_t now)
{
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
	if (!vring_op_of(h->request, &op) || op != OP_STOP || !t->ngvb)
		return;
	uint32_t index = t->gvb[0];
	memmove(t->gvb, t->gvb + 1, --t->ngvb * sizeof(t->gvb[0]));
	char why[64];
	snprintf(why, sizeof(why), "%s answered",
	         vup_proto_name(VUP_CHAN_MAIN, h->request));
	if (t->q[index])
		vup__tap_stop_queue(t, t->q[index], now, why);
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
	/* Front-end requests set queues up, even one flagged as a reply: the
	 * back-end may take it as the request it is. */
	enum vring_op op;
	if (vring_op_of(h->request, &op)) {
		vring_message(t, h, op, payload, now_ns);
		return;
	}
	switch (h->request) {
	case VUP_REQ_POSTCOPY_LISTEN:
	case VUP_REQ_POSTCOPY_END:
		set_postcopy(t, h->request == VUP_REQ_POSTCOPY_LISTEN, now_ns);
		break;
	case VUP_REQ_SET_FEATURES:
		features_message(t, payload, h->size, now_ns);
		break;
	case VUP_REQ_SET_PROTOCOL_FEATURES:
		vup__tap_field(VUP_FLD_PROTOCOL_FEATURES_FEATURES, payload,
		               h->size, &t->protocol_features);
		break;
	case VUP_REQ_SET_MEM_TABLE:
	case VUP_REQ_ADD_MEM_REG:
	case VUP_REQ_REM_MEM_REG:
		if (!t->off && !is_echo_ack(t, h, nfds))
			mem_message(t, h, payload, fds, nfds, now_ns);
		break;
	case VUP_REQ_RESET_OWNER:
	case VUP_REQ_RESET_DEVICE:
		vup__tap_stop_all(t, now_ns, "reset");
		vup__tap_set_mem(t, NULL, now_ns);
		/* A migration that never ended ends here. */
		t->postcopy = false;
		t->echo = 0;
		t->ngvb = 0;
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
