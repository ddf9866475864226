/* frames_dp: data-plane replay (`--frames`): the TX frames the tap
 * captured are offered again to the back-end, through the split rings of
 * the replayed session, in memory vuproxy owns.
 *
 * The replayed front-end hands the back-end zero-filled memfds laid out
 * as the recorded regions; vuproxy maps them too.  It follows what the
 * session model makes of the recorded requests (vring size, addresses,
 * base, kick eventfd, enable, device status) and, just before the first
 * request that stops a vring or the device (SET_VRING_ENABLE 0,
 * GET_VRING_BASE, a SET_STATUS without DRIVER_OK, a reset, a new memory
 * table, ...; or the end of the session) while a vring runs that has
 * frames left, it plays the driver of that vring (frames_ring.c) with
 * buffers it places in guest memory no ring uses (the top of a region).
 * Packed rings are refused before the replay starts (cmd.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frames.h"
#include "vuproxy/ring_layout.h"

#define MAX_QUEUES  VUP_REPLAY_DP_QUEUES
#define MAX_REGIONS 64

struct region {
	uint64_t gpa, size, uaddr, off;
	uint8_t *map; /* the whole memfd */
	size_t maplen;
};

struct vup_replay_dp {
	struct vup_replay_dp_env env;
	struct vup_replay_frames fr;
	struct region reg[MAX_REGIONS];
	unsigned nreg;
	struct vup_replay_vring q[MAX_QUEUES];
	/* Buffer areas given out (host addresses), not to be reused. */
	struct {
		uint8_t *lo, *hi;
	} areas[MAX_QUEUES];
	unsigned nareas;
};

void vup_replay__dp_diff(const struct vup_replay_dp_env *env, const char *fmt,
                         ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (env->on_diff)
		env->on_diff(env->ctx, text);
}

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
		struct vup_replay_vring *v = &dp->q[i];
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
		struct vup_replay_vring *v = &dp->q[fr->f[i].queue];
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

void vup_replay__dp_attach(struct vup_replay_dp *dp,
                           const struct vup_replay_dp_env *env)
{
	dp->env = *env;
}

/* ---- guest memory: the regions mapped and the areas given out ---- */

static int map_region(struct vup_replay_dp *dp, int fd,
                      const struct vup_model_region *g, char *err,
                      size_t errlen)
{
	if (dp->nreg == MAX_REGIONS) {
		snprintf(err, errlen, "--frames: more than %d memory regions",
		         MAX_REGIONS);
		return -E2BIG;
	}
	uint64_t off = g->mmap_offset, size = g->size;
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
	dp->reg[dp->nreg++] = (struct region){g->gpa, size, g->uaddr,
	                                      off,    p,    (size_t)st.st_size};
	return 0;
}

/* Region i of the model's memory table, from fd. */
static int map_model_region(struct vup_replay_dp *dp, unsigned i, int fd,
                            char *err, size_t errlen)
{
	const struct vup_model_region *g;
	unsigned n = vup_model_regions(dp->env.model, &g);
	if (i >= n)
		return 0;
	return map_region(dp, fd, &g[i], err, errlen);
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

/* Host address of [uaddr, uaddr + len) (front-end virtual), or NULL. */
static uint8_t *host_of_uaddr(const struct vup_replay_dp *dp, uint64_t a,
                              uint64_t len)
{
	for (unsigned i = 0; i < dp->nreg; i++) {
		const struct region *g = &dp->reg[i];
		if (a >= g->uaddr && a - g->uaddr <= g->size &&
		    len <= g->size - (a - g->uaddr))
			return g->map + g->off + (a - g->uaddr);
	}
	return NULL;
}

/* The model's state of vring i, or NULL. */
static const struct vup_model_vring *set_up(const struct vup_replay_dp *dp,
                                            uint32_t i)
{
	return dp->env.model ? vup_model_vring(dp->env.model, i) : NULL;
}

/* The vring has a size and addresses. */
static bool described(const struct vup_model_vring *m)
{
	return m && m->have_addr && m->have_num;
}

static bool overlaps(const uint8_t *a, const uint8_t *b, const uint8_t *lo,
                     const uint8_t *hi)
{
	return a < hi && lo < b;
}

/* The busy host ranges: every ring of the session and the areas given
 * out already.  Returns the lowest start of those overlapping [a, b), or
 * NULL if none does. */
static const uint8_t *first_conflict(const struct vup_replay_dp *dp,
                                     const uint8_t *a, const uint8_t *b)
{
	const uint8_t *lowest = NULL;
	for (unsigned i = 0; i < MAX_QUEUES; i++) {
		const struct vup_model_vring *v = set_up(dp, i);
		if (!described(v))
			continue;
		uint64_t addr[3] = {v->desc, v->avail, v->used};
		uint64_t len[3] = {vup_desc_table_size(v->num),
		                   vup_avail_size(v->num),
		                   vup_used_size(v->num)};
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

/* ---- following the session ---- */

/* Before a vring may start (its kick, SET_VRING_ENABLE 1): its avail and
 * used indices in our memory at its base, as a driver leaves them, so
 * that a back-end polling from SET_VRING_BASE sees no buffers until we
 * offer some (zero-filled memory would read as 65536 - base of them). */
static void prime_indices(struct vup_replay_dp *dp, uint32_t index)
{
	const struct vup_model_vring *m = set_up(dp, index);
	if (!described(m) || !m->num)
		return;
	uint8_t *avail = host_of_uaddr(dp, m->avail, VUP_AVAIL_OFF_IDX + 2);
	uint8_t *used = host_of_uaddr(dp, m->used, VUP_USED_OFF_IDX + 2);
	if (avail && used)
		vup_replay__ring_prime(avail, used, (uint16_t)m->base);
}

/* SET_VRING_KICK: our own copy of the kick eventfd. */
static int take_kick(struct vup_replay_vring *q, const struct vup_view *v,
                     bool nofd, char *err, size_t errlen)
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

/* One model event of message v. */
static int on_event(struct vup_replay_dp *dp, const struct vup_view *v,
                    const struct vup_model_event *e, char *err, size_t errlen)
{
	struct vup_replay_vring *q =
	        e->index < MAX_QUEUES ? &dp->q[e->index] : NULL;
	int rc = 0;
	switch (e->kind) {
	case VUP_EV_MEM_TABLE:
		unmap_all(dp);
		for (unsigned i = 0; i < e->index && i < v->nfds && !rc; i++)
			rc = map_model_region(dp, i, v->fds[i], err, errlen);
		return rc;
	case VUP_EV_MEM_ADDED:
		if (v->nfds)
			rc = map_model_region(dp, e->index, v->fds[0], err,
			                      errlen);
		return rc;
	case VUP_EV_MEM_REMOVED: unmap_gpa(dp, e->value); return 0;
	case VUP_EV_VRING_KICK:
		if (!q)
			return 0;
		rc = take_kick(q, v, e->value, err, errlen);
		prime_indices(dp, e->index);
		return rc;
	case VUP_EV_VRING_ENABLED:
		if (q && e->value)
			prime_indices(dp, e->index);
		return 0;
	default: return 0;
	}
}

int vup_replay__dp_events(struct vup_replay_dp *dp, const struct vup_view *v,
                          const struct vup_model_events *ev, char *err,
                          size_t errlen)
{
	int rc = 0;
	for (unsigned k = 0; dp && k < ev->n && rc == 0; k++)
		rc = on_event(dp, v, &ev->e[k], err, errlen);
	return rc;
}

static bool running(const struct vup_replay_dp *dp, unsigned index)
{
	const struct vup_model *model = dp->env.model;
	const struct vup_model_vring *m = set_up(dp, index);
	if (!dp->nreg || !described(m) || dp->q[index].kick < 0 ||
	    m->run != VUP_VRING_STARTED || !m->num)
		return false;
	/* Without VHOST_USER_F_PROTOCOL_FEATURES a vring is enabled when it
	 * is kicked; with it, by SET_VRING_ENABLE. */
	if ((vup_model_neg(model)->features >> VUP_F_PROTOCOL_FEATURES & 1) &&
	    !m->enabled)
		return false;
	uint8_t status;
	return !vup_model_status(model, &status) ||
	       (status & VUP_STATUS_DRIVER_OK);
}

/* A payload field by its id; 0 when absent. */
static uint64_t fld(enum vup_field_id id, const uint8_t *p, uint32_t size)
{
	uint64_t v = 0;
	vup_field_read(id, p, size, &v);
	return v;
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

bool vup_replay__dp_due(const struct vup_replay_dp *dp,
                        const struct vup_replay_msg *m)
{
	if (!dp || (m && !stops(m)))
		return false;
	for (unsigned i = 1; i < MAX_QUEUES; i += 2) {
		const struct vup_replay_vring *v = &dp->q[i];
		if (v->nf && !v->done && running(dp, i))
			return true;
	}
	return false;
}

/* ---- replaying the frames of a vring ---- */

/* Ring g of vring m in our memory: false (a difference) if it is not a
 * split ring there the driver can use. */
static bool find_ring(struct vup_replay_dp *dp, const struct vup_model_vring *m,
                      const struct vup_replay_vring *v,
                      struct vup_replay_ring *g)
{
	uint32_t num = m->num;
	g->desc = host_of_uaddr(dp, m->desc, vup_desc_table_size(num));
	g->avail = host_of_uaddr(dp, m->avail, vup_avail_size(num));
	g->used = host_of_uaddr(dp, m->used, vup_used_size(num));
	if (!g->desc || !g->avail || !g->used || num > VUP_VRING_MAX_NUM ||
	    (num & (num - 1))) {
		vup_replay__dp_diff(
		        &dp->env,
		        "q%u: %zu frames not replayed: the vring (size "
		        "%u, desc 0x%" PRIx64 " avail 0x%" PRIx64
		        " used 0x%" PRIx64
		        ") is not a split ring inside the memory table",
		        g->index, v->nf, num, m->desc, m->avail, m->used);
		return false;
	}
	if (!vup_replay__ring_aligned(g->avail, g->used)) {
		vup_replay__dp_diff(&dp->env,
		                    "q%u: %zu frames not replayed: the avail "
		                    "ring (0x%" PRIx64 ") or the used ring "
		                    "(0x%" PRIx64 ") is not aligned in memory",
		                    g->index, v->nf, m->avail, m->used);
		return false;
	}
	return true;
}

/* Replay the frames of vring `index`. */
static int inject_vring(struct vup_replay_dp *dp, unsigned index, char *err,
                        size_t errlen)
{
	struct vup_replay_vring *v = &dp->q[index];
	const struct vup_model_vring *m = set_up(dp, index);
	v->done = true;
	struct vup_replay_ring g = {
	        .index = index,
	        .num = m->num,
	        .base = (uint16_t)m->base,
	        .features = vup_model_neg(dp->env.model)->features,
	};
	if (!find_ring(dp, m, v, &g))
		return 0;
	vup_replay__ring_plan(v, &g);
	g.area = g.chains ? alloc_area(dp, g.nbuf * g.slot, &g.gpa) : NULL;
	if (!g.area) {
		vup_replay__dp_diff(
		        &dp->env,
		        "q%u: %zu frames not replayed: no room for "
		        "%llu bytes of buffers in guest memory outside "
		        "the rings",
		        index, v->nf, (unsigned long long)(g.nbuf * g.slot));
		return 0;
	}
	return vup_replay__ring_drive(&dp->env, v, &g, err, errlen);
}

int vup_replay__dp_inject(struct vup_replay_dp *dp, char *err, size_t errlen)
{
	for (unsigned i = 1; dp && i < MAX_QUEUES; i += 2) {
		struct vup_replay_vring *v = &dp->q[i];
		if (!v->nf || v->done || !running(dp, i))
			continue;
		int rc = inject_vring(dp, i, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

bool vup_replay__dp_vring_base(const struct vup_replay_dp *dp, uint32_t index,
                               uint32_t *num)
{
	if (!dp || index >= MAX_QUEUES || !dp->q[index].offered)
		return false;
	*num = dp->q[index].avail_idx;
	return true;
}

/* --frames-rate / --frames-loop: the rate achieved per vring, from its
 * first offer to its last. */
static void print_rates(const struct vup_replay_dp *dp)
{
	for (unsigned i = 1; i < MAX_QUEUES; i += 2) {
		const struct vup_replay_vring *v = &dp->q[i];
		if (!v->offered || !dp->env.report_rate)
			continue;
		double secs = (double)(v->t_last - v->t_first) / 1e9;
		printf("replay: frames: q%u: %llu offered in %.6f s (first to "
		       "last): %.0f pps",
		       i, (unsigned long long)v->offered, secs,
		       secs > 0 ? (double)(v->offered - 1) / secs : 0.0);
		if (dp->env.rate)
			printf(" (--frames-rate %llu, at most %.1f us late)",
			       (unsigned long long)dp->env.rate,
			       (double)v->max_late / 1e3);
		printf(", %llu kicks\n", (unsigned long long)v->kicks);
	}
}

void vup_replay__dp_finish(struct vup_replay_dp *dp, bool complete)
{
	if (!dp)
		return;
	uint64_t offered = 0, completed = 0;
	char per_q[256] = "";
	size_t len = 0;
	for (unsigned i = 1; i < MAX_QUEUES; i += 2) {
		const struct vup_replay_vring *v = &dp->q[i];
		if (!v->nf)
			continue;
		if (!v->done && complete)
			vup_replay__dp_diff(&dp->env,
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
	print_rates(dp);
	fflush(stdout);
}
