/* active: --active on libuv (the decisions are in active_step.c).
 *
 * Per session: one memfd of VUP_ACTIVE_REGION_SIZE bytes (sealed against
 * resizing) for the shadow rings, the guest's memory mapped writable
 * (the used-ring writes of active/gwrite.h), and per vring the svq, the
 * guest's kick and call fds and vuproxy's own eventfds for the back-end.
 * A guest kick pulls the guest's new chains into the shadow ring and
 * kicks the back-end if it asks; a back-end call pushes its used entries
 * to the guest and calls the guest if it asks.  Both re-check after
 * their pass (a peer that published meanwhile signalled an fd already
 * drained).  A vring whose svq is not set up relays the signals as they
 * are.  Event mode on the relay's loop: no thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "active_internal.h"
#include "vuproxy/le.h"
#include "vuproxy/log.h"
#include "vuproxy/memmap.h"
#include "vuproxy/tap.h"

static void signal_fd(int fd)
{
	uint64_t one = 1;
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		vup_log(VUP_LOG_DEBUG, "--active: eventfd write: %s",
		        strerror(errno));
}

/* False when fd can give no more notifications: its writer closed (a
 * pipe at EOF) or it fails; polled, it would wake the loop for ever. */
static bool drain_fd(int fd)
{
	uint64_t n;
	ssize_t rc;
	errno = 0;
	while ((rc = read(fd, &n, sizeof(n))) > 0)
		;
	return rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static void on_poll_closed(uv_handle_t *h)
{
	struct apoll *p = (struct apoll *)h;
	struct vup_session *s = p->s;
	free(p);
	vup__session_handle_closed(s);
}

static void poll_close(struct apoll **pp)
{
	if (!*pp)
		return;
	uv_close((uv_handle_t *)&(*pp)->h, on_poll_closed);
	*pp = NULL;
}

static struct apoll *poll_start(struct avring *r, int fd, uv_poll_cb cb)
{
	struct vup_session *s = r->as->s;
	struct apoll *p = calloc(1, sizeof(*p));
	if (!p || uv_poll_init(s->proxy->loop, &p->h, fd) < 0) {
		free(p);
		vup_log(VUP_LOG_ERROR, "s%u --active %s: cannot poll fd %d",
		        s->id, r->name, fd);
		return NULL;
	}
	p->s = s;
	p->h.data = r;
	s->open_timers++;
	uv_poll_start(&p->h, UV_READABLE, cb);
	return p;
}

/* The svq stopped on something a peer did: the vring stays stopped. */
static void halt(struct avring *r)
{
	vup_log(VUP_LOG_ERROR, "s%u --active: %s; the vring is stopped",
	        r->as->s->id, r->q.why);
	poll_close(&r->kick_poll);
	poll_close(&r->call_poll);
}

static void pull(struct avring *r)
{
	bool cap = r->as->tap != NULL;
	do {
		if (vup_svq_pull(&r->q, cap ? vup__active_on_avail : NULL, r) <
		    0) {
			halt(r);
			return;
		}
		if (vup_svq_backend_needs_kick(&r->q))
			signal_fd(r->b_kick);
	} while (vup_svq_guest_pending(&r->q));
}

static void push(struct avring *r)
{
	do {
		if (vup_svq_push(&r->q, r->as->tap ? vup__active_on_used : NULL,
		                 r) < 0) {
			halt(r);
			return;
		}
		if (vup_svq_guest_needs_call(&r->q))
			signal_fd(r->g_call);
	} while (vup_svq_backend_pending(&r->q));
}

static void on_guest_kick(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	struct avring *r = h->data;
	/* What came with the last kick is served even when none can come
	 * after it. */
	bool alive = drain_fd(r->g_kick);
	const char *why = errno ? strerror(errno) : "its writer closed it";
	if (r->q_on && !r->q.stopped)
		pull(r);
	else if (!r->q_on)
		signal_fd(r->b_kick);
	if (!alive) {
		vup_log(VUP_LOG_WARN,
		        "s%u --active: vring %u: the front-end's kick fd can "
		        "give no more kicks (%s); not watched any more",
		        r->as->s->id, r->idx, why);
		poll_close(&r->kick_poll);
	}
}

static void on_backend_call(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	struct avring *r = h->data;
	drain_fd(r->b_call);
	if (r->q_on && !r->q.stopped)
		push(r);
	else if (!r->q_on)
		signal_fd(r->g_call);
}

static struct avring *vring(struct vup_active_sess *as, uint32_t idx)
{
	if (idx >= VUP_MODEL_VRINGS)
		return NULL;
	if (!as->vr[idx]) {
		struct avring *r = calloc(1, sizeof(*r));
		if (!r)
			return NULL;
		r->as = as;
		r->idx = idx;
		r->g_kick = r->g_call = r->b_kick = r->b_call = -1;
		snprintf(r->name, sizeof(r->name), "vring %u", idx);
		as->vr[idx] = r;
	}
	return as->vr[idx];
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void svq_off(struct avring *r)
{
	if (r->q_on)
		vup_svq_free(&r->q);
	r->q_on = false;
}

static void vring_free(struct vup_active_sess *as, uint32_t idx)
{
	struct avring *r = as->vr[idx];
	if (!r)
		return;
	poll_close(&r->kick_poll);
	poll_close(&r->call_poll);
	svq_off(r);
	close_fd(&r->g_kick);
	close_fd(&r->g_call);
	close_fd(&r->b_kick);
	close_fd(&r->b_call);
	free(r);
	as->vr[idx] = NULL;
}

int vup__active_open(struct vup_session *s)
{
	struct vup_active_sess *as = calloc(1, sizeof(*as));
	if (!as)
		return -ENOMEM;
	as->s = s;
	as->memfd = -1;
	as->pend_own = -1;
	vup_active_init(&as->st);
	as->gmem = vup_memmap_guest(NULL);
	vup_gwrite_init(&as->gw, vup_gwrite_memmap(NULL));
	if (s->proxy->cfg.trace) {
		struct vup_tap_config tc = s->proxy->cfg.tap;
		tc.kind = VUP_TAP_NET;
		as->tap = vup_tap_new(&tc, s->id, s->proxy->cfg.trace);
	}
	s->active = as;
	return 0;
}

void vup__active_close(struct vup_session *s)
{
	struct vup_active_sess *as = s->active;
	if (!as)
		return;
	/* What the back-end used before it went goes to the guest. */
	for (uint32_t i = 0; i < VUP_MODEL_VRINGS; i++) {
		struct avring *r = as->vr[i];
		if (r && r->q_on && !r->q.stopped && as->map) {
			push(r);
			signal_fd(r->g_call);
		}
		vring_free(as, i);
	}
	if (as->shadow)
		munmap(as->shadow, VUP_ACTIVE_REGION_SIZE);
	close_fd(&as->memfd);
	close_fd(&as->pend_own);
	vup_memmap_put(as->map);
	vup_memmap_put(as->pending);
	if (as->tap) {
		vup_tap_capture_end(as->tap, vup__wall_ns());
		vup_tap_free(as->tap);
	}
	vup_log(VUP_LOG_INFO,
	        "s%u --active: guest memory writes: %llu used elements, "
	        "%llu used idx, %llu refused, %llu faulted",
	        s->id, (unsigned long long)as->gw.st.writes[VUP_GW_USED_ELEM],
	        (unsigned long long)as->gw.st.writes[VUP_GW_USED_IDX],
	        (unsigned long long)as->gw.st.refused,
	        (unsigned long long)as->gw.st.faulted);
	free(as);
	s->active = NULL;
}

struct vup_active *vup__active_state(struct vup_session *s)
{
	return &s->active->st;
}

/* The memfd of the shadow rings, made on first use. */
static int shadow_region(struct vup_active_sess *as, char *err, size_t len)
{
	if (as->memfd >= 0)
		return 0;
	int fd =
	        memfd_create("vuproxy-shadow", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)VUP_ACTIVE_REGION_SIZE) < 0) {
		snprintf(err, len, "shadow region: memfd: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* The back-end maps it: nobody may cut it under the mapping. */
	fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	void *p = mmap(NULL, VUP_ACTIVE_REGION_SIZE, PROT_READ | PROT_WRITE,
	               MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, len, "shadow region: mmap: %s", strerror(errno));
		close(fd);
		return -1;
	}
	as->memfd = fd;
	as->shadow = p;
	return 0;
}

static int give_fd(int fd, struct vup_active_io *io)
{
	io->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (io->fd < 0)
		snprintf(io->fail, sizeof(io->fail), "dup: %s",
		         strerror(errno));
	else
		vup_fd_describe(io->fd, &io->fd_info);
	return io->fd;
}

static void prep_mem_table(struct vup_active_sess *as, const struct vup_view *v,
                           struct vup_active_io *io)
{
	char err[200];
	if (shadow_region(as, io->fail, sizeof(io->fail)) < 0)
		return;
	vup_memmap_put(as->pending);
	as->pending = NULL;
	if (vup_memmap_set_table_rw(&as->pending, v->payload, v->hdr.size,
	                            v->fds, v->nfds, err, sizeof(err)) < 0) {
		/* The step decides on a table it cannot shadow anyway. */
		vup_log(VUP_LOG_DEBUG, "s%u --active: %s", as->s->id, err);
		return;
	}
	give_fd(as->memfd, io);
}

static void prep_vring_addr(struct vup_active_sess *as,
                            const struct vup_view *v, struct vup_active_io *io)
{
	uint32_t idx, flags;
	uint64_t a[4]; /* desc, used, avail, log */
	if (v->hdr.size < 40)
		return;
	memcpy(&idx, v->payload, 4);
	memcpy(&flags, v->payload + 4, 4);
	memcpy(a, v->payload + 8, sizeof(a));
	const struct vup_model_vring *mv =
	        vup_model_vring(as->s->flow.model, idx);
	struct avring *r = vring(as, idx);
	if (!mv || !r || !as->map || !mv->have_num) {
		snprintf(io->fail, sizeof(io->fail),
		         "vring %u: SET_VRING_ADDR before %s", idx,
		         !as->map ? "SET_MEM_TABLE" : "SET_VRING_NUM");
		return;
	}
	if (r->q_on && !r->q.stopped) {
		snprintf(io->fail, sizeof(io->fail),
		         "vring %u: SET_VRING_ADDR while it runs (dirty "
		         "logging switched on?): not supported yet",
		         idx);
		return;
	}
	svq_off(r);
	uint64_t off;
	if (vup_active_place(&as->st, idx, vup_svq_shadow_size(mv->num), &off,
	                     io->fail, sizeof(io->fail)) < 0)
		return;
	struct vup_svq_config cfg = {
	        .name = r->name,
	        .num = mv->num,
	        .desc = a[0],
	        .used = a[1],
	        .avail = a[2],
	        .log_used = flags & 1,
	        .used_log = a[3],
	        .base = (uint16_t)(mv->have_base ? mv->base : 0),
	        .features = vup_flow_neg(&as->s->flow)->features,
	        .shadow = as->shadow + off,
	        .shadow_uaddr = as->st.uaddr + off,
	};
	char err[160];
	if (vup_svq_init(&r->q, &cfg, &as->gmem, &as->gw, err, sizeof(err))) {
		snprintf(io->fail, sizeof(io->fail), "vring %u: %s", idx, err);
		return;
	}
	r->q_on = true;
	r->rx_used = cfg.base;
	struct vup_svq_addrs sa = vup_svq_shadow_addrs(&r->q);
	io->have_addrs = true;
	io->desc = sa.desc;
	io->avail = sa.avail;
	io->used = sa.used;
}

static void prep_vring_fd(struct vup_active_sess *as, const struct vup_view *v,
                          struct vup_active_io *io)
{
	uint64_t x;
	if (v->hdr.size < 8)
		return;
	memcpy(&x, v->payload, 8);
	if ((x & 0x100) || v->nfds != 1) { /* VHOST_USER_VRING_NOFD_MASK */
		snprintf(io->fail, sizeof(io->fail),
		         "vring %u: no fd (VHOST_USER_VRING_NOFD_MASK: the "
		         "front-end polls): not supported by --active yet",
		         (unsigned)(x & 0xff));
		return;
	}
	close_fd(&as->pend_own);
	as->pend_own = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (as->pend_own < 0) {
		snprintf(io->fail, sizeof(io->fail), "eventfd: %s",
		         strerror(errno));
		return;
	}
	give_fd(as->pend_own, io);
}

static void prep_vring_base_reply(struct vup_active_sess *as,
                                  const struct vup_view *v,
                                  struct vup_active_io *io)
{
	uint32_t idx;
	uint64_t num;
	if (!vup_view_vring(v, &idx) ||
	    !vup_field_read(VUP_FLD_VRING_BASE_NUM, v->payload, v->hdr.size,
	                    &num))
		return;
	struct avring *r = idx < VUP_MODEL_VRINGS ? as->vr[idx] : NULL;
	if (!r || !r->q_on)
		return;
	uint16_t base;
	poll_close(&r->kick_poll);
	if (vup_svq_stop(&r->q, (uint16_t)num,
	                 as->tap ? vup__active_on_used : NULL, r, &base) < 0)
		vup_log(VUP_LOG_ERROR, "s%u --active: %s", as->s->id, r->q.why);
	vup_log(VUP_LOG_DEBUG,
	        "s%u --active vring %u stopped: back-end base %u, guest %u",
	        as->s->id, idx, (unsigned)num, base);
	signal_fd(r->g_call); /* what the drain completed */
	svq_off(r);
	io->have_base = true;
	io->base = base;
}

/* Before a TX vring is disabled or stopped: what the guest offered goes
 * to the back-end, and vuproxy waits (at most VUP_ACTIVE_DRAIN_MS) for it
 * to be used, so that a front-end that stops right after sending loses
 * nothing it counted as sent (a back-end stops reading a disabled ring,
 * and what it never took is only offered again to a guest that
 * restarts).  RX buffers wait for frames: they are not drained. */
#define VUP_ACTIVE_DRAIN_MS 50
static void drain_tx(struct avring *r)
{
	if (!r || !r->q_on || r->q.stopped || r->idx % 2 == 0)
		return;
	pull(r);
	signal_fd(r->b_kick);
	uint64_t end = uv_hrtime() + VUP_ACTIVE_DRAIN_MS * 1000000ull;
	while (!r->q.stopped && r->q.s_used != r->q.s_avail &&
	       uv_hrtime() < end) {
		push(r);
		if (r->q.s_used != r->q.s_avail)
			usleep(50);
	}
	if (r->q.s_used != r->q.s_avail)
		vup_log(VUP_LOG_INFO,
		        "s%u --active vring %u: %u buffers not used by the "
		        "back-end %d ms after the front-end stopped it",
		        r->as->s->id, r->idx,
		        (unsigned)(uint16_t)(r->q.s_avail - r->q.s_used),
		        VUP_ACTIVE_DRAIN_MS);
}

bool vup__active_prepare(struct vup_session *s, const struct vup_view *v,
                         struct vup_active_io *io)
{
	struct vup_active_sess *as = s->active;
	memset(io, 0, sizeof(*io));
	io->fd = -1;
	if (as->st.passthrough)
		return false;
	if (v->chan != VUP_CHAN_MAIN)
		return true;
	uint32_t req = v->hdr.request, idx = VUP_MODEL_VRINGS;
	uint64_t num;
	if (v->reply) {
		if (v->from == VUP_BACKEND && req == VUP_REQ_GET_VRING_BASE)
			prep_vring_base_reply(as, v, io);
		return true;
	}
	if (v->from != VUP_FRONTEND)
		return true;
	switch (req) {
	case VUP_REQ_SET_MEM_TABLE: prep_mem_table(as, v, io); break;
	case VUP_REQ_SET_VRING_ADDR: prep_vring_addr(as, v, io); break;
	case VUP_REQ_SET_VRING_KICK:
	case VUP_REQ_SET_VRING_CALL: prep_vring_fd(as, v, io); break;
	case VUP_REQ_SET_VRING_ENABLE:
		if (vup_view_vring(v, &idx) && idx < VUP_MODEL_VRINGS &&
		    vup_field_read(VUP_FLD_VRING_STATE_NUM, v->payload,
		                   v->hdr.size, &num) &&
		    num == 0)
			drain_tx(as->vr[idx]); /* num 0: disable */
		break;
	case VUP_REQ_GET_VRING_BASE:
		if (vup_view_vring(v, &idx) && idx < VUP_MODEL_VRINGS)
			drain_tx(as->vr[idx]);
		if (idx < VUP_MODEL_VRINGS && as->vr[idx] &&
		    as->vr[idx]->q_on) {
			poll_close(&as->vr[idx]->kick_poll);
			vup_svq_stop_begin(&as->vr[idx]->q);
		}
		break;
	default: break;
	}
	return true;
}

/* SET_VRING_KICK / CALL went on with vuproxy's eventfd: keep the
 * guest's, poll the side that signals vuproxy. */
static void vring_fds(struct vup_active_sess *as, uint32_t req, uint32_t idx,
                      int kept)
{
	struct avring *r = vring(as, idx);
	int own = as->pend_own;
	as->pend_own = -1;
	if (!r) {
		close(kept);
		close_fd(&own);
		return;
	}
	if (req == VUP_REQ_SET_VRING_KICK) {
		poll_close(&r->kick_poll);
		close_fd(&r->g_kick);
		close_fd(&r->b_kick);
		r->g_kick = kept;
		r->b_kick = own;
		r->kick_poll = poll_start(r, kept, on_guest_kick);
		if (r->q_on) /* what the guest offered before its kick fd */
			pull(r);
		return;
	}
	poll_close(&r->call_poll);
	close_fd(&r->g_call);
	close_fd(&r->b_call);
	/* vuproxy writes the guest's call fd from its loop: a front-end's
	 * fd that would block (a full eventfd, a pipe nobody reads) must
	 * not stop every session.  QEMU's and DPDK's are non-blocking
	 * eventfds already; setting it on the shared file changes nothing
	 * for them. */
	int fl = fcntl(kept, F_GETFL);
	if (fl >= 0 && !(fl & O_NONBLOCK))
		fcntl(kept, F_SETFL, fl | O_NONBLOCK);
	r->g_call = kept;
	r->b_call = own;
	r->call_poll = poll_start(r, own, on_backend_call);
}

static void install_map(struct vup_active_sess *as)
{
	vup_memmap_put(as->map);
	as->map = as->pending;
	as->pending = NULL;
	/* The svqs hold &as->gmem and &as->gw: they follow. */
	as->gmem = vup_memmap_guest(as->map);
	as->gw.mem = vup_gwrite_memmap(as->map);
}

static bool is_reset(const struct vup_view *v)
{
	uint64_t status;
	uint32_t req = v->hdr.request;
	return req == VUP_REQ_RESET_OWNER || req == VUP_REQ_RESET_DEVICE ||
	       (req == VUP_REQ_SET_STATUS && v->hdr.size >= 8 &&
	        (memcpy(&status, v->payload, 8), status == 0));
}

void vup__active_after(struct vup_session *s, const struct vup_view *v,
                       const struct vup_step *st, struct vup_active_io *io)
{
	struct vup_active_sess *as = s->active;
	const struct vup_active_out *o = &st->active;
	if (o->to_passthrough)
		vup_log(VUP_LOG_INFO, "s%u --active: %s", s->id, o->why);
	if (io->fd >= 0 && !o->fd_taken)
		close(io->fd);
	int kept = o->kept_fd;
	if (!as || s->closing || !st->delivered || v->reply ||
	    v->from != VUP_FRONTEND || v->chan != VUP_CHAN_MAIN) {
		if (kept >= 0)
			close(kept);
		return;
	}
	uint32_t req = v->hdr.request, idx = 0;
	if (req == VUP_REQ_SET_MEM_TABLE && o->fd_taken)
		install_map(as);
	else if ((req == VUP_REQ_SET_VRING_KICK ||
	          req == VUP_REQ_SET_VRING_CALL) &&
	         kept >= 0 && vup_view_vring(v, &idx))
		vring_fds(as, req, idx, kept);
	else if (is_reset(v))
		for (uint32_t i = 0; i < VUP_MODEL_VRINGS; i++)
			vring_free(as, i);
	else if (kept >= 0)
		close(kept);
}
