/* frames_ring: the driver of one split ring for `replay --frames`.
 *
 * Each frame goes behind a zeroed virtio-net header of the negotiated
 * size, in buffers the caller placed in guest memory no ring uses, one
 * descriptor per frame (two, header and frame, when neither VERSION_1
 * nor ANY_LAYOUT allows them together), descriptors used in ring order
 * (IN_ORDER-safe); the avail index is published and the kick eventfd
 * written when the device wants it; the used ring is polled and what the
 * back-end used is reused, until every frame is used or nothing moves
 * for the reply timeout.
 *
 * The memory is the replay's own (the replayed front-end's memfds), so
 * the driver writes it; the tap, a third party, never does.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frames.h"
#include "vuproxy/bits.h"
#include "vuproxy/log.h"
#include "vuproxy/ring_layout.h"

/* Buffers in flight per vring (also bounded by the ring size) and the
 * guest memory they may take. */
#define MAX_INFLIGHT 256
#define MAX_AREA     (64u << 20)

/* Serve the channels at least this often while the frames keep the loop
 * busy (busy-waiting for a deadline, or a back-end that always has
 * something used). */
#define SERVE_NS UINT64_C(1000000)

/* ---- guest memory: every access of the driver goes through these ----
 *
 * Plain data (buffers, descriptors, avail slots, used elements) is
 * copied with memcpy, in the ring's little-endian layout: no alignment
 * is assumed.  The words both sides publish and poll (the avail and used
 * flags and indices, the used ring's avail_event) are accessed
 * atomically as uint16_t, which must be 2-byte aligned: the spec aligns
 * the avail ring to 2 bytes and the used ring to 4, but the addresses
 * come from the recorded front-end, so vup_replay__ring_aligned() checks
 * the host addresses they map to before any such access (an unaligned
 * ring is reported as a difference, not touched). */

static uint16_t gm_load16(const uint8_t *p, int order)
{
	return le16toh(
	        __atomic_load_n((const uint16_t *)(const void *)p, order));
}

static void gm_store16(uint8_t *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)(void *)p, htole16(v), order);
}

static void gm_write(uint8_t *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
}

static void gm_zero(uint8_t *dst, size_t n)
{
	memset(dst, 0, n);
}

static uint32_t gm_read32(const uint8_t *p)
{
	uint8_t b[4];
	memcpy(b, p, 4);
	return vup_le32(b);
}

bool vup_replay__ring_aligned(const uint8_t *avail, const uint8_t *used)
{
	return (uintptr_t)avail % _Alignof(uint16_t) == 0 &&
	       (uintptr_t)used % _Alignof(uint16_t) == 0;
}

void vup_replay__ring_prime(uint8_t *avail, uint8_t *used, uint16_t base)
{
	if (!vup_replay__ring_aligned(avail, used))
		return; /* refused with a difference if frames come */
	gm_store16(used + VUP_USED_OFF_IDX, base, __ATOMIC_RELEASE);
	gm_store16(avail + VUP_AVAIL_OFF_IDX, base, __ATOMIC_RELEASE);
}

/* ---- the buffers ---- */

void vup_replay__ring_plan(const struct vup_replay_vring *v,
                           struct vup_replay_ring *g)
{
	uint64_t feat = g->features;
	g->hl = vup_net_hdr_len(feat);
	/* Header and frame in one descriptor need VERSION_1 or ANY_LAYOUT;
	 * else the header gets its own. */
	g->per = (feat >> VUP_F_VERSION_1 & 1) || (feat >> VUP_F_ANY_LAYOUT & 1)
	                 ? 1
	                 : 2;
	g->chains = g->num / g->per;
	uint32_t maxlen = 0;
	for (size_t i = 0; i < v->nf; i++)
		if (v->f[i]->len > maxlen)
			maxlen = v->f[i]->len;
	g->slot = ((uint64_t)g->hl + maxlen + 63) & ~UINT64_C(63);
	g->nbuf = g->chains < MAX_INFLIGHT ? g->chains : MAX_INFLIGHT;
	if (g->nbuf > v->total)
		g->nbuf = v->total;
	while (g->nbuf > 1 && g->nbuf * g->slot > MAX_AREA)
		g->nbuf /= 2;
}

/* ---- the driver ---- */

struct drv {
	const struct vup_replay_dp_env *env;
	struct vup_replay_vring *v;
	const struct vup_replay_ring *g;
	int64_t *owner;  /* per chain: the frame number in flight, or -1 */
	int64_t *bowner; /* per buffer: the same */
	uint64_t next;   /* the next frame number to offer */
	uint64_t oldest; /* the oldest in flight (IN_ORDER) */
	uint16_t used_seen;
	bool in_order, event_idx;
	struct vup_rate rate;
	uint64_t timeout_ns, last_progress, last_serve;
	/* The last offer stopped on a busy chain or buffer (blocked), or
	 * wait ns before the next frame is due. */
	bool blocked;
	uint64_t wait;
};

static uint64_t now_ns(const struct drv *d)
{
	return d->env->clock.now_ns(d->env->clock.ctx);
}

/* Does the device want a kick after the avail index went from old to
 * new?  As a driver decides: with EVENT_IDX by the avail_event the device
 * wrote after the used ring, else unless it set NO_NOTIFY (a polling
 * back-end such as DPDK does; a kick per frame would cost a system call
 * per frame). */
static bool want_kick(const struct drv *d, uint16_t old, uint16_t new_idx)
{
	const uint8_t *used = d->g->used;
	/* The avail index store before the flags/event load. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (d->event_idx) {
		uint16_t ev =
		        gm_load16(used + vup_used_avail_event_off(d->g->num),
		                  __ATOMIC_RELAXED);
		return (uint16_t)(new_idx - ev - 1) < (uint16_t)(new_idx - old);
	}
	uint16_t fl = gm_load16(used + VUP_USED_OFF_FLAGS, __ATOMIC_RELAXED);
	return !(fl & VUP_USED_F_NO_NOTIFY);
}

/* Frame number d->next into chain c and buffer b, made available (not
 * yet published). */
static void place(struct drv *d, uint32_t c, uint64_t b)
{
	const struct vup_replay_ring *g = d->g;
	struct vup_replay_vring *v = d->v;
	const struct vup_replay_frame *f = v->f[d->next % v->nf];
	uint8_t *buf = g->area + b * g->slot;
	uint64_t bgpa = g->gpa + b * g->slot;
	gm_zero(buf, g->hl);
	gm_write(buf + g->hl, f->data, f->len);
	uint16_t head = (uint16_t)(c * g->per);
	uint8_t desc[2][VUP_DESC_SIZE], slot[2];
	if (g->per == 1) {
		vup_sdesc_put(desc[0], bgpa, g->hl + f->len, 0, 0);
	} else {
		vup_sdesc_put(desc[0], bgpa, g->hl, VUP_DESC_F_NEXT,
		              (uint16_t)(head + 1));
		vup_sdesc_put(desc[1], bgpa + g->hl, f->len, 0, 0);
	}
	gm_write(g->desc + vup_desc_table_size(head), desc,
	         VUP_DESC_SIZE * g->per);
	vup_put_le16(slot, head);
	gm_write(g->avail + vup_avail_slot_off(v->avail_idx % g->num), slot, 2);
	v->avail_idx++;
	d->owner[c] = (int64_t)d->next;
	d->bowner[b] = (int64_t)d->next;
	d->next++;
}

/* Offers what is due and the free descriptors and buffers allow; how
 * many. */
static uint64_t offer(struct drv *d, uint64_t now)
{
	uint64_t added = 0;
	d->blocked = false;
	d->wait = 0;
	while (d->next < d->v->total) {
		uint32_t c = (uint32_t)(d->next % d->g->chains);
		uint64_t b = d->next % d->g->nbuf;
		if (d->owner[c] >= 0 || d->bowner[b] >= 0) {
			d->blocked = true;
			break;
		}
		if (d->rate.pps) {
			uint64_t due = vup_rate_deadline(&d->rate, d->next);
			if (due > now) {
				d->wait = due - now;
				break;
			}
			if (now - due > d->v->max_late)
				d->v->max_late = now - due;
		}
		place(d, c, b);
		added++;
	}
	return added;
}

/* Publishes `added` new buffers and kicks if the device wants it. */
static void publish(struct drv *d, uint64_t added, uint64_t now)
{
	struct vup_replay_vring *v = d->v;
	uint16_t old = (uint16_t)(v->avail_idx - added);
	gm_store16(d->g->avail + VUP_AVAIL_OFF_IDX, v->avail_idx,
	           __ATOMIC_RELEASE);
	if (!v->offered)
		v->t_first = now;
	v->t_last = now;
	v->offered += added;
	uint64_t one = 1;
	if (!want_kick(d, old, v->avail_idx))
		return;
	v->kicks++;
	if (write(v->kick, &one, 8) < 0 && errno != EAGAIN)
		vup_log(VUP_LOG_WARN, "replay: q%u: kick: %s", d->g->index,
		        strerror(errno));
}

/* Frame k was used: it and, in order, every frame offered before it. */
static void complete(struct drv *d, uint64_t k)
{
	uint32_t chains = d->g->chains;
	for (uint64_t j = d->in_order ? d->oldest : k; j <= k; j++) {
		uint32_t c = (uint32_t)(j % chains);
		if (d->owner[c] != (int64_t)j)
			continue;
		d->owner[c] = -1;
		d->bowner[j % d->g->nbuf] = -1;
		d->v->completed++;
	}
	while (d->oldest < d->next &&
	       d->owner[d->oldest % chains] != (int64_t)d->oldest)
		d->oldest++;
}

/* Takes back what the back-end used; *progress if anything.  False when
 * the used ring makes no sense (a difference). */
static bool take_used(struct drv *d, bool *progress)
{
	const struct vup_replay_ring *g = d->g;
	uint32_t num = g->num;
	*progress = false;
	uint16_t ui = gm_load16(g->used + VUP_USED_OFF_IDX, __ATOMIC_ACQUIRE);
	if ((uint16_t)(ui - d->used_seen) > num) {
		vup_replay__dp_diff(d->env,
		                    "q%u: the used index jumped from %u to "
		                    "%u (ring size %u)",
		                    g->index, d->used_seen, ui, num);
		return false;
	}
	while (d->used_seen != ui) {
		uint32_t id = gm_read32(g->used +
		                        vup_used_slot_off(d->used_seen % num) +
		                        VUP_USED_ELEM_ID);
		d->used_seen++;
		if (id >= num || id % g->per || d->owner[id / g->per] < 0) {
			vup_replay__dp_diff(d->env,
			                    "q%u: the back-end used "
			                    "descriptor %u, not one in "
			                    "flight",
			                    g->index, id);
			return false;
		}
		complete(d, (uint64_t)d->owner[id / g->per]);
		*progress = true;
	}
	return true;
}

/* While busy: serve the channels (without sleeping) if SERVE_NS have
 * passed since the last time; 0 or on_idle's error. */
static int serve_now_and_then(struct drv *d, uint64_t now, char *err,
                              size_t errlen)
{
	if (now - d->last_serve < SERVE_NS)
		return 0;
	d->last_serve = now;
	return d->env->on_idle(d->env->ctx, 0, err, errlen);
}

/* Idle.  Without a rate, or the back-end not using what is in flight for
 * a while: sleep 1 ms at a time (in poll(2), serving the channels).  With
 * a rate: sleep until the next deadline when it is at least
 * VUP_RATE_SPIN_NS away, else busy-wait for it (a sleep would wake up
 * late: at 100 kpps and more the replay takes a CPU).  Returns when to
 * wake up; now: spin. */
static uint64_t wake_at(const struct drv *d, uint64_t now)
{
	if (!d->rate.pps || d->next >= d->v->total)
		return now + 1000000u;
	if (d->blocked && now - d->last_progress < 1000000u)
		return now; /* the back-end is busy: spin */
	if (d->blocked)
		return now + 1000000u;
	return d->wait < VUP_RATE_SPIN_NS ? now : now + d->wait;
}

/* Between two rounds: serve the channels, sleep or spin.  busy: the round
 * offered or took back buffers.  1 when the back-end stalled (a
 * difference), else 0 or on_idle's -errno. */
static int pause_round(struct drv *d, bool busy, char *err, size_t errlen)
{
	struct vup_replay_vring *v = d->v;
	uint64_t now = now_ns(d);
	/* A stall is frames in flight that nothing uses; waiting for the
	 * next deadline with none in flight is not. */
	if (busy || v->offered == v->completed)
		d->last_progress = now;
	if (busy) /* still answer the peer now and then */
		return serve_now_and_then(d, now, err, errlen);
	if (now - d->last_progress >= d->timeout_ns) {
		vup_replay__dp_diff(d->env,
		                    "q%u: the back-end used %llu of the "
		                    "%llu frames (%llu offered), then none "
		                    "for %u ms",
		                    d->g->index,
		                    (unsigned long long)v->completed,
		                    (unsigned long long)v->total,
		                    (unsigned long long)v->offered,
		                    d->env->reply_timeout_ms);
		return 1;
	}
	uint64_t until = wake_at(d, now);
	if (until == now)
		return serve_now_and_then(d, now, err, errlen);
	d->last_serve = now;
	return d->env->on_idle(d->env->ctx, until, err, errlen);
}

/* The ring as the driver starts: a vring resumed from a base has its
 * indices there; the device need not interrupt (we poll). */
static void start(struct drv *d)
{
	const struct vup_replay_ring *g = d->g;
	d->v->avail_idx = g->base;
	d->used_seen = g->base;
	if (g->base) {
		gm_store16(g->used + VUP_USED_OFF_IDX, g->base,
		           __ATOMIC_RELEASE);
		gm_store16(g->avail + VUP_AVAIL_OFF_IDX, g->base,
		           __ATOMIC_RELEASE);
	}
	gm_store16(g->avail + VUP_AVAIL_OFF_FLAGS, VUP_AVAIL_F_NO_INTERRUPT,
	           __ATOMIC_RELAXED);
	vup_log(VUP_LOG_INFO,
	        "replay: q%u: replaying %llu frames (%zu captured; %u-byte "
	        "virtio-net header, %u descriptor%s each, %llu buffers at "
	        "gpa 0x%" PRIx64 ")",
	        g->index, (unsigned long long)d->v->total, d->v->nf, g->hl,
	        g->per, g->per > 1 ? "s" : "", (unsigned long long)g->nbuf,
	        g->gpa);
}

int vup_replay__ring_drive(const struct vup_replay_dp_env *env,
                           struct vup_replay_vring *v,
                           const struct vup_replay_ring *g, char *err,
                           size_t errlen)
{
	struct drv d = {
	        .env = env,
	        .v = v,
	        .g = g,
	        .owner = malloc(g->chains * sizeof(int64_t)),
	        .bowner = malloc(g->nbuf * sizeof(int64_t)),
	        .in_order = g->features >> VUP_F_IN_ORDER & 1,
	        .event_idx = g->features >> VUP_F_EVENT_IDX & 1,
	        .timeout_ns = (uint64_t)env->reply_timeout_ms * 1000000u,
	};
	int rc = 0;
	if (!d.owner || !d.bowner) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t c = 0; c < g->chains; c++)
		d.owner[c] = -1;
	for (uint64_t b = 0; b < g->nbuf; b++)
		d.bowner[b] = -1;
	start(&d);
	/* --frames-rate: frame `next` is due at start + next / rate, from
	 * this one start time. */
	vup_rate_init(&d.rate, &env->clock, env->rate);
	d.last_progress = d.last_serve = now_ns(&d);
	vup_rate_start(&d.rate);
	while (v->completed < v->total) {
		uint64_t now = now_ns(&d);
		uint64_t added = offer(&d, now);
		if (added)
			publish(&d, added, now);
		bool progress;
		if (!take_used(&d, &progress))
			break;
		rc = pause_round(&d, progress || added, err, errlen);
		if (rc)
			break;
	}
out:
	free(d.owner);
	free(d.bowner);
	return rc < 0 ? rc : 0;
}
