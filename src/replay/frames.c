/* frames: data-plane replay (`--frames`): the TX frames the tap captured
 * are offered again to the back-end, through the split rings of the
 * replayed session, in memory vuproxy owns.
 *
 * The replayed front-end hands the back-end zero-filled memfds laid out
 * as the recorded regions; vuproxy maps them too.  It follows the
 * recorded requests (vring size, addresses, base, kick eventfd, enable,
 * device status) and, just before the first request that stops a vring or
 * the device (SET_VRING_ENABLE 0, GET_VRING_BASE, a SET_STATUS without
 * DRIVER_OK, a reset, a new memory table, ...; or the end of the session)
 * while a vring runs that has frames left, it plays the driver of that
 * vring: each frame behind a zeroed virtio-net header of the negotiated
 * size, in buffers it places in guest memory no ring uses (the top of a
 * region), one descriptor per frame (two, header and frame, when neither
 * VERSION_1 nor ANY_LAYOUT allows them together), descriptors used in
 * ring order (IN_ORDER-safe), the avail index published and the kick
 * eventfd written; it polls the used ring and reuses what the back-end
 * used, until every frame is used or nothing moves for --reply-timeout.
 * Packed rings are refused before the replay starts (cmd.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "vuproxy/log.h"
#include "vuproxy/reader.h"

#define MAX_QUEUES  256
#define MAX_REGIONS 64
/* Buffers in flight per vring (also bounded by the ring size) and the
 * guest memory they may take. */
#define MAX_INFLIGHT 256
#define MAX_AREA     (64u << 20)

/* ---- reading the frames ---- */

void vup_replay_frames_free(struct vup_replay_frames *fr)
{
	if (!fr)
		return;
	for (size_t i = 0; i < fr->n; i++)
		free(fr->f[i].data);
	free(fr->f);
	memset(fr, 0, sizeof(*fr));
}

/* "s<session> net q<odd> tx" of this session: its queue index. */
static bool tx_iface(const char *name, uint32_t session, uint16_t *queue)
{
	unsigned s, q;
	char dir[4];
	int end = 0;
	if (sscanf(name, "s%u net q%u %3s%n", &s, &q, dir, &end) != 3 ||
	    name[end] != '\0')
		return false;
	if (s != session || strcmp(dir, "tx") != 0 || q >= MAX_QUEUES ||
	    q % 2 == 0)
		return false;
	*queue = (uint16_t)q;
	return true;
}

int vup_replay_load_frames(const char *path, uint32_t session, uint64_t max,
                           bool pad, bool partial,
                           struct vup_replay_frames *out, char *err,
                           size_t errlen)
{
	memset(out, 0, sizeof(*out));
	struct vup_reader *rd;
	int rc = vup_reader_open(path, &rd, err, errlen);
	if (rc)
		return rc;
	struct vup_replay_frames fr = {0};
	size_t cap = 0, cut = 0;
	uint32_t snaplen = 0;
	uint64_t packets = 0;
	char rerr[384];
	for (;;) {
		struct vup_record rec;
		enum vup_read_status st =
		        vup_reader_next(rd, &rec, rerr, sizeof(rerr));
		if (st == VUP_READ_END || (st == VUP_READ_TRUNCATED && partial))
			break;
		if (st != VUP_READ_RECORD) {
			snprintf(err, errlen, "%s: %s", path, rerr);
			rc = -EINVAL;
			goto fail;
		}
		packets++;
		uint16_t q;
		if (rec.linktype != LINKTYPE_ETHERNET ||
		    !tx_iface(rec.ifname, session, &q))
			continue;
		if (max && fr.n == max) {
			fr.left++;
			continue;
		}
		if (rec.caplen > rec.origlen ||
		    rec.origlen > VUP_REPLAY_MAX_FRAME_LEN) {
			snprintf(err, errlen,
			         "%s: frame %llu: %u bytes of a %u-byte frame "
			         "(at most %u bytes are replayed)",
			         path, (unsigned long long)packets, rec.caplen,
			         rec.origlen, VUP_REPLAY_MAX_FRAME_LEN);
			rc = -EINVAL;
			goto fail;
		}
		if (rec.caplen < rec.origlen) {
			cut++;
			snaplen = rec.snaplen;
			if (!pad)
				continue; /* counted, refused below */
		}
		if (fr.bytes + rec.origlen > VUP_REPLAY_MAX_FRAME_BYTES) {
			snprintf(
			        err, errlen,
			        "%s: the TX frames of session %u take more "
			        "than %llu bytes; replay the first N with "
			        "--frames=N",
			        path, session,
			        (unsigned long long)VUP_REPLAY_MAX_FRAME_BYTES);
			rc = -E2BIG;
			goto fail;
		}
		if (fr.n == cap) {
			cap = cap ? cap * 2 : 256;
			struct vup_replay_frame *f =
			        realloc(fr.f, cap * sizeof(*f));
			if (!f) {
				snprintf(err, errlen, "out of memory");
				rc = -ENOMEM;
				goto fail;
			}
			fr.f = f;
		}
		struct vup_replay_frame *f = &fr.f[fr.n];
		f->data = calloc(1, rec.origlen ? rec.origlen : 1);
		if (!f->data) {
			snprintf(err, errlen, "out of memory");
			rc = -ENOMEM;
			goto fail;
		}
		memcpy(f->data, rec.data, rec.caplen);
		f->frame = packets;
		f->queue = q;
		f->caplen = rec.caplen;
		f->len = rec.origlen;
		fr.n++;
		fr.bytes += rec.origlen;
		if (rec.origlen > fr.max_len)
			fr.max_len = rec.origlen;
	}
	if (cut && !pad) {
		snprintf(err, errlen,
		         "%s: %zu of the TX frames of session %u are cut to "
		         "the snap length (%u bytes; caplen < origlen): "
		         "replaying them would send other frames than the "
		         "guest did.  Record full frames (vuproxy --tap net "
		         "-s 0), or pad them with zeros to their length "
		         "with --frames-pad",
		         path, cut, session, snaplen);
		rc = -EINVAL;
		goto fail;
	}
	if (!fr.n) {
		snprintf(err, errlen,
		         "%s: no TX frames of session %u (tap interfaces "
		         "\"s%u net qN tx\"): record with vuproxy --tap net",
		         path, session, session);
		rc = -ENOENT;
		goto fail;
	}
	fr.cut = cut;
	vup_reader_close(rd);
	*out = fr;
	return 0;
fail:
	vup_reader_close(rd);
	vup_replay_frames_free(&fr);
	return rc;
}

/* ---- the data plane ---- */

struct region {
	uint64_t gpa, size, uaddr, off;
	uint8_t *map; /* the whole memfd */
	size_t maplen;
};

/* A vring's set-up (size, addresses, base, started, enabled) is the
 * session model's; here is what driving it takes. */
struct vring {
	bool done;
	int kick;                    /* our dup of the kick eventfd, or -1 */
	struct vup_replay_frame **f; /* its frames, in file order */
	size_t nf;
	uint64_t total;              /* frames to offer (--frames-loop) */
	uint64_t offered, completed; /* frames made available / used */
	uint64_t kicks;              /* kick eventfd writes */
	uint64_t t_first, t_last;    /* first and last offer (ns) */
	uint64_t max_late;           /* --frames-rate: worst lateness (ns) */
	uint16_t avail_idx;          /* what we published last */
};

struct vup_replay_dp {
	struct vup_replay_frames fr;
	struct region reg[MAX_REGIONS];
	unsigned nreg;
	struct vring q[MAX_QUEUES];
	const struct vup_model *model; /* the replayed session's */
	/* Buffer areas given out (host addresses), not to be reused. */
	struct {
		uint8_t *lo, *hi;
	} areas[MAX_QUEUES];
	unsigned nareas;
};

static void unmap_all(struct vup_replay_dp *dp)
{
	for (unsigned i = 0; i < dp->nreg; i++)
		munmap(dp->reg[i].map, dp->reg[i].maplen);
	dp->nreg = 0;
	dp->nareas = 0;
}

struct vup_replay_dp *vup_replay__dp_new(struct vup_replay_frames *fr,
                                         uint64_t loop)
{
	struct vup_replay_dp *dp = calloc(1, sizeof(*dp));
	if (!dp)
		return NULL;
	for (unsigned i = 0; i < MAX_QUEUES; i++)
		dp->q[i].kick = -1;
	for (size_t i = 0; i < fr->n; i++)
		dp->q[fr->f[i].queue].nf++;
	for (unsigned i = 0; i < MAX_QUEUES; i++) {
		struct vring *v = &dp->q[i];
		if (!v->nf)
			continue;
		v->f = calloc(v->nf, sizeof(*v->f));
		if (!v->f) {
			for (unsigned k = 0; k < i; k++)
				free(dp->q[k].f);
			free(dp);
			return NULL;
		}
		v->nf = 0;
	}
	for (size_t i = 0; i < fr->n; i++) {
		struct vring *v = &dp->q[fr->f[i].queue];
		v->f[v->nf++] = &fr->f[i];
	}
	for (unsigned i = 0; i < MAX_QUEUES; i++)
		dp->q[i].total = dp->q[i].nf && loop ? loop : dp->q[i].nf;
	dp->fr = *fr;
	memset(fr, 0, sizeof(*fr));
	return dp;
}

void vup_replay__dp_free(struct vup_replay_dp *dp)
{
	if (!dp)
		return;
	unmap_all(dp);
	for (unsigned i = 0; i < MAX_QUEUES; i++) {
		free(dp->q[i].f);
		if (dp->q[i].kick >= 0)
			close(dp->q[i].kick);
	}
	vup_replay_frames_free(&dp->fr);
	free(dp);
}

/* A payload field by its id; 0 when absent. */
static uint64_t fld(enum vup_field_id id, const uint8_t *p, uint32_t size)
{
	uint64_t v = 0;
	vup_field_read(id, p, size, &v);
	return v;
}

static int map_region(struct vup_replay_dp *dp, int fd, uint64_t gpa,
                      uint64_t size, uint64_t uaddr, uint64_t off, char *err,
                      size_t errlen)
{
	if (dp->nreg == MAX_REGIONS) {
		snprintf(err, errlen, "--frames: more than %d memory regions",
		         MAX_REGIONS);
		return -E2BIG;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 ||
	    off + size > (uint64_t)st.st_size || off + size < off) {
		snprintf(err, errlen,
		         "--frames: a memory region (offset %llu, %llu bytes) "
		         "outside its fd",
		         (unsigned long long)off, (unsigned long long)size);
		return -EINVAL;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
	               MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		snprintf(err, errlen, "--frames: mmap of guest memory: %s",
		         strerror(e));
		return -e;
	}
	dp->reg[dp->nreg++] =
	        (struct region){gpa, size, uaddr, off, p, (size_t)st.st_size};
	return 0;
}

static struct vring *vring_of(struct vup_replay_dp *dp, uint32_t index)
{
	return index < MAX_QUEUES ? &dp->q[index] : NULL;
}

/* The model's state of vring i, or NULL before any message. */
static const struct vup_model_vring *set_up(const struct vup_replay_dp *dp,
                                            uint32_t i)
{
	return dp->model ? vup_model_vring(dp->model, i) : NULL;
}

/* The vring has a size and addresses. */
static bool described(const struct vup_model_vring *m)
{
	return m && m->have_addr && m->have_num;
}

static uint8_t *host_of_uaddr(struct vup_replay_dp *dp, uint64_t a,
                              uint64_t len);

/* Before a vring may start (its kick, SET_VRING_ENABLE 1): its avail and
 * used indices in our memory at its base, as a driver leaves them, so
 * that a back-end polling from SET_VRING_BASE sees no buffers until we
 * offer some (zero-filled memory would read as 65536 - base of them). */
static void prime_indices(struct vup_replay_dp *dp, uint32_t index)
{
	const struct vup_model_vring *m = set_up(dp, index);
	if (!described(m) || !m->num)
		return;
	uint8_t *avail = host_of_uaddr(dp, m->avail, 4);
	uint8_t *used = host_of_uaddr(dp, m->used, 4);
	if (!avail || !used)
		return;
	uint16_t base = (uint16_t)m->base;
	__atomic_store_n((uint16_t *)(void *)(used + 2), base,
	                 __ATOMIC_RELEASE);
	__atomic_store_n((uint16_t *)(void *)(avail + 2), base,
	                 __ATOMIC_RELEASE);
}

static int map_model_region(struct vup_replay_dp *dp, unsigned i, int fd,
                            char *err, size_t errlen)
{
	const struct vup_model_region *g;
	unsigned n = vup_model_regions(dp->model, &g);
	if (i >= n)
		return 0;
	return map_region(dp, fd, g[i].gpa, g[i].size, g[i].uaddr,
	                  g[i].mmap_offset, err, errlen);
}

static void unmap_gpa(struct vup_replay_dp *dp, uint64_t gpa)
{
	for (unsigned i = 0; i < dp->nreg; i++) {
		struct region *g = &dp->reg[i];
		if (g->gpa != gpa)
			continue;
		munmap(g->map, g->maplen);
		dp->reg[i] = dp->reg[--dp->nreg];
		dp->nareas = 0;
		return;
	}
}

/* SET_VRING_KICK: our own copy of the kick eventfd. */
static int take_kick(struct vring *q, const struct vup_view *v, bool nofd,
                     char *err, size_t errlen)
{
	if (q->kick >= 0)
		close(q->kick);
	q->kick = -1;
	if (nofd || !v->nfds)
		return 0;
	q->kick = dup(v->fds[0]);
	if (q->kick >= 0)
		return 0;
	int e = errno;
	snprintf(err, errlen, "--frames: dup: %s", strerror(e));
	return -e;
}

int vup_replay__dp_events(struct vup_replay_run *r, const struct vup_view *v,
                          const struct vup_model_events *ev, char *err,
                          size_t errlen)
{
	struct vup_replay_dp *dp = r->dp;
	if (!dp)
		return 0;
	dp->model = r->model;
	int rc = 0;
	for (unsigned k = 0; k < ev->n && rc == 0; k++) {
		const struct vup_model_event *e = &ev->e[k];
		struct vring *q = vring_of(dp, e->index);
		switch (e->kind) {
		case VUP_EV_MEM_TABLE:
			unmap_all(dp);
			for (unsigned i = 0; i < e->index && i < v->nfds && !rc;
			     i++)
				rc = map_model_region(dp, i, v->fds[i], err,
				                      errlen);
			break;
		case VUP_EV_MEM_ADDED:
			if (v->nfds)
				rc = map_model_region(dp, e->index, v->fds[0],
				                      err, errlen);
			break;
		case VUP_EV_MEM_REMOVED: unmap_gpa(dp, e->value); break;
		case VUP_EV_VRING_KICK:
			if (!q)
				break;
			rc = take_kick(q, v, e->value, err, errlen);
			prime_indices(dp, e->index);
			break;
		case VUP_EV_VRING_ENABLED:
			if (q && e->value)
				prime_indices(dp, e->index);
			break;
		default: break;
		}
	}
	return rc;
}

static bool running(const struct vup_replay_run *r, unsigned index)
{
	const struct vup_replay_dp *dp = r->dp;
	const struct vup_model_vring *m = set_up(dp, index);
	if (!dp->nreg || !described(m) || dp->q[index].kick < 0 ||
	    m->run != VUP_VRING_STARTED || !m->num)
		return false;
	/* Without VHOST_USER_F_PROTOCOL_FEATURES a vring is enabled when it
	 * is kicked; with it, by SET_VRING_ENABLE. */
	if ((vup_model_neg(r->model)->features >> VUP_F_PROTOCOL_FEATURES &
	     1) &&
	    !m->enabled)
		return false;
	uint8_t status;
	return !vup_model_status(r->model, &status) ||
	       (status & VUP_STATUS_DRIVER_OK);
}

/* Does request m stop a vring, the device or its memory? */
static bool stops(const struct vup_replay_msg *m)
{
	if (m->chan != VUP_CHAN_MAIN || m->from != VUP_FRONTEND ||
	    (m->hdr.flags & VUP_FLAG_REPLY))
		return false;
	const uint8_t *p = m->payload;
	uint32_t n = m->hdr.size;
	switch (m->hdr.request) {
	case VUP_REQ_SET_FEATURES:
	case VUP_REQ_RESET_OWNER:
	case VUP_REQ_SET_MEM_TABLE:
	case VUP_REQ_SET_VRING_NUM:
	case VUP_REQ_SET_VRING_ADDR:
	case VUP_REQ_SET_VRING_BASE:
	case VUP_REQ_GET_VRING_BASE:
	case VUP_REQ_SET_VRING_KICK:
	case VUP_REQ_RESET_DEVICE:
	case VUP_REQ_REM_MEM_REG: return true;
	case VUP_REQ_SET_VRING_ENABLE:
		return fld(VUP_FLD_VRING_ENABLE_ENABLE, p, n) == 0;
	case VUP_REQ_SET_STATUS:
		return !(fld(VUP_FLD_STATUS_STATUS, p, n) &
		         VUP_STATUS_DRIVER_OK);
	default: return false;
	}
}

bool vup_replay__dp_due(struct vup_replay_run *r,
                        const struct vup_replay_msg *m)
{
	struct vup_replay_dp *dp = r->dp;
	if (!dp || (m && !stops(m)))
		return false;
	for (unsigned i = 1; i < MAX_QUEUES; i += 2) {
		const struct vring *v = &dp->q[i];
		if (v->nf && !v->done && running(r, i))
			return true;
	}
	return false;
}

/* Host address of [uaddr, uaddr + len) (front-end virtual), or NULL. */
static uint8_t *host_of_uaddr(struct vup_replay_dp *dp, uint64_t a,
                              uint64_t len)
{
	for (unsigned i = 0; i < dp->nreg; i++) {
		struct region *g = &dp->reg[i];
		if (a >= g->uaddr && a - g->uaddr <= g->size &&
		    len <= g->size - (a - g->uaddr))
			return g->map + g->off + (a - g->uaddr);
	}
	return NULL;
}

static bool overlaps(const uint8_t *a, const uint8_t *b, const uint8_t *lo,
                     const uint8_t *hi)
{
	return a < hi && lo < b;
}

/* The busy host ranges: every ring of the session and the areas given
 * out already.  Returns the lowest start of those overlapping [a, b), or
 * NULL if none does. */
static const uint8_t *first_conflict(struct vup_replay_dp *dp, const uint8_t *a,
                                     const uint8_t *b)
{
	const uint8_t *lowest = NULL;
	for (unsigned i = 0; i < MAX_QUEUES; i++) {
		const struct vup_model_vring *v = set_up(dp, i);
		if (!described(v))
			continue;
		uint64_t addr[3] = {v->desc, v->avail, v->used};
		uint64_t len[3] = {16ull * v->num, 6 + 2ull * v->num,
		                   6 + 8ull * v->num};
		for (int k = 0; k < 3; k++) {
			const uint8_t *lo = host_of_uaddr(dp, addr[k], len[k]);
			if (lo && overlaps(a, b, lo, lo + len[k]) &&
			    (!lowest || lo < lowest))
				lowest = lo;
		}
	}
	for (unsigned i = 0; i < dp->nareas; i++)
		if (overlaps(a, b, dp->areas[i].lo, dp->areas[i].hi) &&
		    (!lowest || dp->areas[i].lo < lowest))
			lowest = dp->areas[i].lo;
	return lowest;
}

/* Buffer space of `size` bytes in guest memory no ring uses: the top of
 * a region, moved down below whatever it would overlap.  Its host
 * address, and its guest-physical one in *gpa; NULL if none fits. */
static uint8_t *alloc_area(struct vup_replay_dp *dp, uint64_t size,
                           uint64_t *gpa)
{
	if (dp->nareas == MAX_QUEUES)
		return NULL;
	for (unsigned i = 0; i < dp->nreg; i++) {
		struct region *g = &dp->reg[i];
		if (size > g->size)
			continue;
		uint8_t *base = g->map + g->off;
		uint64_t top = g->size & ~UINT64_C(4095);
		if (top < size)
			continue;
		uint64_t at = (top - size) & ~UINT64_C(63);
		for (unsigned tries = 0; tries < 4 * MAX_QUEUES; tries++) {
			const uint8_t *c =
			        first_conflict(dp, base + at, base + at + size);
			if (!c) {
				dp->areas[dp->nareas].lo = base + at;
				dp->areas[dp->nareas].hi = base + at + size;
				dp->nareas++;
				*gpa = g->gpa + at;
				return base + at;
			}
			uint64_t below = (uint64_t)(c - base);
			if (below < size)
				break;
			at = (below - size) & ~UINT64_C(63);
		}
	}
	return NULL;
}

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
#define VRING_DESC_F_NEXT          1
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY     1

/* Does the device want a kick after the avail index went from old to
 * new?  As a driver decides: with EVENT_IDX by the avail_event the device
 * wrote after the used ring, else unless it set NO_NOTIFY (a polling
 * back-end such as DPDK does; a kick per frame would cost a system call
 * per frame). */
static bool want_kick(const uint8_t *used, uint32_t num, bool event_idx,
                      uint16_t old, uint16_t new_idx)
{
	/* The avail index store before the flags/event load. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (event_idx) {
		uint16_t ev = __atomic_load_n(
		        (const uint16_t *)(const void *)(used + 4 + 8u * num),
		        __ATOMIC_RELAXED);
		return (uint16_t)(new_idx - ev - 1) < (uint16_t)(new_idx - old);
	}
	uint16_t fl = __atomic_load_n((const uint16_t *)(const void *)used,
	                              __ATOMIC_RELAXED);
	return !(fl & VRING_USED_F_NO_NOTIFY);
}

/* Serve the channels at least this often while the frames keep the loop
 * busy (busy-waiting for a deadline, or a back-end that always has
 * something used). */
#define SERVE_NS UINT64_C(1000000)

/* While busy: serve the channels (without sleeping) if SERVE_NS have
 * passed since *last; 0 or idle's error. */
static int serve_now_and_then(struct vup_replay_run *r, uint64_t now,
                              uint64_t *last, vup_replay_idle_fn idle,
                              char *err, size_t errlen)
{
	if (now - *last < SERVE_NS)
		return 0;
	*last = now;
	return idle(r, 0, err, errlen);
}

/* Replay the frames of vring `index`. */
static int inject_vring(struct vup_replay_run *r, unsigned index,
                        vup_replay_idle_fn idle, char *err, size_t errlen)
{
	struct vup_replay_dp *dp = r->dp;
	struct vring *v = &dp->q[index];
	const struct vup_model_vring *m = set_up(dp, index);
	uint32_t num = m->num;
	uint16_t base = (uint16_t)m->base;
	v->done = true;
	struct vring_desc *desc = (struct vring_desc *)(void *)host_of_uaddr(
	        dp, m->desc, 16ull * num);
	uint8_t *avail = host_of_uaddr(dp, m->avail, 6 + 2ull * num);
	uint8_t *used = host_of_uaddr(dp, m->used, 6 + 8ull * num);
	if (!desc || !avail || !used || num > 32768 || (num & (num - 1))) {
		vup_replay__diff(
		        r, NULL, "frames",
		        "q%u: %zu frames not replayed: the vring (size "
		        "%u, desc 0x%" PRIx64 " avail 0x%" PRIx64
		        " used 0x%" PRIx64
		        ") is not a split ring inside the memory table",
		        index, v->nf, num, m->desc, m->avail, m->used);
		return 0;
	}
	uint64_t feat = vup_model_neg(r->model)->features;
	uint32_t hl = vup_net_hdr_len(feat);
	bool in_order = feat >> VUP_F_IN_ORDER & 1;
	/* Header and frame in one descriptor need VERSION_1 or ANY_LAYOUT;
	 * else the header gets its own. */
	uint32_t per =
	        (feat >> VUP_F_VERSION_1 & 1) || (feat >> VUP_F_ANY_LAYOUT & 1)
	                ? 1
	                : 2;
	uint32_t chains = num / per;
	uint32_t maxlen = 0;
	for (size_t i = 0; i < v->nf; i++)
		if (v->f[i]->len > maxlen)
			maxlen = v->f[i]->len;
	uint64_t slot = ((uint64_t)hl + maxlen + 63) & ~UINT64_C(63);
	uint64_t nbuf = chains < MAX_INFLIGHT ? chains : MAX_INFLIGHT;
	if (nbuf > v->total)
		nbuf = v->total;
	while (nbuf > 1 && nbuf * slot > MAX_AREA)
		nbuf /= 2;
	uint64_t gpa;
	uint8_t *area = chains ? alloc_area(dp, nbuf * slot, &gpa) : NULL;
	if (!area) {
		vup_replay__diff(
		        r, NULL, "frames",
		        "q%u: %zu frames not replayed: no room for "
		        "%llu bytes of buffers in guest memory outside "
		        "the rings",
		        index, v->nf, (unsigned long long)(nbuf * slot));
		return 0;
	}
	int64_t *owner = malloc(chains * sizeof(*owner));
	int64_t *bowner = malloc(nbuf * sizeof(*bowner));
	if (!owner || !bowner) {
		free(owner);
		free(bowner);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (uint32_t c = 0; c < chains; c++)
		owner[c] = -1;
	for (uint64_t b = 0; b < nbuf; b++)
		bowner[b] = -1;
	uint16_t *aflags = (uint16_t *)(void *)avail;
	uint16_t *aidx = aflags + 1, *aring = aflags + 2;
	uint16_t *uidx = (uint16_t *)(void *)(used + 2);
	const uint8_t *uring = used + 4;
	/* A vring resumed from a base: the indices start there. */
	v->avail_idx = base;
	uint16_t used_seen = base;
	if (base) {
		__atomic_store_n(uidx, base, __ATOMIC_RELEASE);
		__atomic_store_n(aidx, base, __ATOMIC_RELEASE);
	}
	__atomic_store_n(aflags, VRING_AVAIL_F_NO_INTERRUPT, __ATOMIC_RELAXED);
	uint64_t next = 0, oldest = 0, total = v->total;
	uint64_t timeout_ns = (uint64_t)r->opt->reply_timeout_ms * 1000000u;
	bool event_idx = feat >> VUP_F_EVENT_IDX & 1;
	/* --frames-rate: frame `next` is due at start + next / rate, from
	 * this one start time. */
	struct vup_clock clk = {vup_clock_monotonic, NULL};
	struct vup_rate rate;
	vup_rate_init(&rate, &clk, r->opt->frames_rate);
	uint64_t last_progress = vup_replay__now(), last_serve = last_progress;
	int rc = 0;
	vup_log(VUP_LOG_INFO,
	        "replay: q%u: replaying %llu frames (%zu captured; %u-byte "
	        "virtio-net header, %u descriptor%s each, %llu buffers at "
	        "gpa 0x%" PRIx64 ")",
	        index, (unsigned long long)total, v->nf, hl, per,
	        per > 1 ? "s" : "", (unsigned long long)nbuf, gpa);
	vup_rate_start(&rate);
	while (v->completed < total) {
		/* Offer what is due and the free descriptors and buffers
		 * allow. */
		uint64_t added = 0, wait = 0;
		uint64_t now = vup_replay__now();
		bool blocked = false;
		while (next < total) {
			uint32_t c = (uint32_t)(next % chains);
			uint64_t b = next % nbuf;
			if (owner[c] >= 0 || bowner[b] >= 0) {
				blocked = true;
				break;
			}
			if (rate.pps) {
				uint64_t due = vup_rate_deadline(&rate, next);
				if (due > now) {
					wait = due - now;
					break;
				}
				if (now - due > v->max_late)
					v->max_late = now - due;
			}
			const struct vup_replay_frame *f = v->f[next % v->nf];
			uint8_t *buf = area + b * slot;
			uint64_t bgpa = gpa + b * slot;
			memset(buf, 0, hl);
			memcpy(buf + hl, f->data, f->len);
			uint16_t head = (uint16_t)(c * per);
			if (per == 1) {
				desc[head] = (struct vring_desc){
				        bgpa, hl + f->len, 0, 0};
			} else {
				desc[head] = (struct vring_desc){
				        bgpa, hl, VRING_DESC_F_NEXT,
				        (uint16_t)(head + 1)};
				desc[head + 1] = (struct vring_desc){
				        bgpa + hl, f->len, 0, 0};
			}
			aring[v->avail_idx % num] = head;
			v->avail_idx++;
			owner[c] = (int64_t)next;
			bowner[b] = (int64_t)next;
			next++;
			added++;
		}
		if (added) {
			uint16_t old = (uint16_t)(v->avail_idx - added);
			__atomic_store_n(aidx, v->avail_idx, __ATOMIC_RELEASE);
			if (!v->offered)
				v->t_first = now;
			v->t_last = now;
			v->offered += added;
			uint64_t one = 1;
			if (want_kick(used, num, event_idx, old,
			              v->avail_idx)) {
				v->kicks++;
				if (write(v->kick, &one, 8) < 0 &&
				    errno != EAGAIN)
					vup_log(VUP_LOG_WARN,
					        "replay: q%u: kick: %s", index,
					        strerror(errno));
			}
		}
		/* Take back what the back-end used. */
		bool progress = false, broken = false;
		uint16_t ui = __atomic_load_n(uidx, __ATOMIC_ACQUIRE);
		if ((uint16_t)(ui - used_seen) > num) {
			vup_replay__diff(
			        r, NULL, "frames",
			        "q%u: the used index jumped from %u to "
			        "%u (ring size %u)",
			        index, used_seen, ui, num);
			break;
		}
		while (used_seen != ui && !broken) {
			uint32_t id;
			memcpy(&id, uring + 8u * (used_seen % num), 4);
			used_seen++;
			if (id >= num || id % per || owner[id / per] < 0) {
				vup_replay__diff(r, NULL, "frames",
				                 "q%u: the back-end used "
				                 "descriptor %u, not one in "
				                 "flight",
				                 index, id);
				broken = true;
				break;
			}
			uint64_t k = (uint64_t)owner[id / per];
			/* In order, one used entry may stand for every
			 * buffer offered before it. */
			for (uint64_t j = in_order ? oldest : k; j <= k; j++) {
				uint32_t c = (uint32_t)(j % chains);
				if (owner[c] != (int64_t)j)
					continue;
				owner[c] = -1;
				bowner[j % nbuf] = -1;
				v->completed++;
			}
			while (oldest < next &&
			       owner[oldest % chains] != (int64_t)oldest)
				oldest++;
			progress = true;
		}
		if (broken)
			break;
		now = vup_replay__now();
		/* A stall is frames in flight that nothing uses; waiting
		 * for the next deadline with none in flight is not. */
		if (progress || added || v->offered == v->completed)
			last_progress = now;
		if (progress || added) {
			/* Busy: still answer the peer now and then. */
			rc = serve_now_and_then(r, now, &last_serve, idle, err,
			                        errlen);
			if (rc)
				break;
			continue;
		}
		if (now - last_progress >= timeout_ns) {
			vup_replay__diff(
			        r, NULL, "frames",
			        "q%u: the back-end used %llu of the "
			        "%llu frames (%llu offered), then none "
			        "for %u ms",
			        index, (unsigned long long)v->completed,
			        (unsigned long long)total,
			        (unsigned long long)v->offered,
			        r->opt->reply_timeout_ms);
			break;
		}
		/* Idle.  Without a rate, or the back-end not using what is
		 * in flight for a while: sleep 1 ms at a time (in poll(2),
		 * serving the channels).  With a rate: sleep until the next
		 * deadline when it is at least VUP_RATE_SPIN_NS away, else
		 * busy-wait for it (a sleep would wake up late: at 100 kpps
		 * and more the replay takes a CPU). */
		uint64_t until = now + 1000000u;
		if (rate.pps && next < total) {
			if (blocked && now - last_progress < 1000000u)
				until = now; /* the back-end is busy: spin */
			else if (!blocked && wait < VUP_RATE_SPIN_NS)
				until = now;
			else if (!blocked)
				until = now + wait;
		}
		if (until == now) {
			rc = serve_now_and_then(r, now, &last_serve, idle, err,
			                        errlen);
			if (rc)
				break;
			continue;
		}
		last_serve = now;
		rc = idle(r, until, err, errlen);
		if (rc)
			break;
	}
	free(owner);
	free(bowner);
	return rc;
}

int vup_replay__dp_inject(struct vup_replay_run *r, vup_replay_idle_fn idle,
                          char *err, size_t errlen)
{
	struct vup_replay_dp *dp = r->dp;
	for (unsigned i = 1; dp && i < MAX_QUEUES; i += 2) {
		struct vring *v = &dp->q[i];
		if (!v->nf || v->done || !running(r, i))
			continue;
		int rc = inject_vring(r, i, idle, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

bool vup_replay__dp_vring_base(const struct vup_replay_run *r, uint32_t index,
                               uint32_t *num)
{
	const struct vup_replay_dp *dp = r->dp;
	if (!dp || index >= MAX_QUEUES || !dp->q[index].offered)
		return false;
	*num = dp->q[index].avail_idx;
	return true;
}

void vup_replay__dp_finish(struct vup_replay_run *r, bool complete)
{
	struct vup_replay_dp *dp = r->dp;
	if (!dp)
		return;
	uint64_t offered = 0, completed = 0;
	char per_q[256] = "";
	size_t len = 0;
	for (unsigned i = 1; i < MAX_QUEUES; i += 2) {
		const struct vring *v = &dp->q[i];
		if (!v->nf)
			continue;
		if (!v->done && complete)
			vup_replay__diff(r, NULL, "frames",
			                 "q%u: %zu frames not replayed: the "
			                 "vring never ran in the replayed "
			                 "session",
			                 i, v->nf);
		offered += v->offered;
		completed += v->completed;
		if (len < sizeof(per_q))
			len += (size_t)snprintf(
			        per_q + len, sizeof(per_q) - len,
			        "%sq%u %llu/%llu", len ? ", " : "", i,
			        (unsigned long long)v->completed,
			        (unsigned long long)v->total);
	}
	printf("replay: frames: %llu replayed of %zu captured, %llu used by "
	       "the back-end (%s)",
	       (unsigned long long)offered, dp->fr.n + dp->fr.left,
	       (unsigned long long)completed, per_q);
	if (dp->fr.cut)
		printf(", %zu padded with zeros to their length", dp->fr.cut);
	printf("\n");
	/* --frames-rate / --frames-loop: the rate achieved per vring, from
	 * its first offer to its last. */
	for (unsigned i = 1; i < MAX_QUEUES; i += 2) {
		const struct vring *v = &dp->q[i];
		if (!v->offered ||
		    !(r->opt->frames_rate || r->opt->frames_loop))
			continue;
		double secs = (double)(v->t_last - v->t_first) / 1e9;
		printf("replay: frames: q%u: %llu offered in %.6f s (first to "
		       "last): %.0f pps",
		       i, (unsigned long long)v->offered, secs,
		       secs > 0 ? (double)(v->offered - 1) / secs : 0.0);
		if (r->opt->frames_rate)
			printf(" (--frames-rate %llu, at most %.1f us late)",
			       (unsigned long long)r->opt->frames_rate,
			       (double)v->max_late / 1e3);
		printf(", %llu kicks\n", (unsigned long long)v->kicks);
	}
	fflush(stdout);
}
