/* pace: `--pace recorded`.  Every recorded message gets a deadline from
 * one start time: start + (ts - ts0).  Nothing is ever computed by adding
 * up waits, so a slow peer or a late wake-up does not shift the messages
 * after it.  Time comes from a clock the caller passes in (tests use a
 * fake one). */
#include <time.h>

#include "vuproxy/replay.h"

uint64_t vup_clock_monotonic(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void vup_pace_init(struct vup_pace *p, const struct vup_clock *clock, bool on)
{
	p->clock = *clock;
	p->on = on;
	p->started = false;
	p->start_ns = p->ts0_ns = 0;
}

void vup_pace_start(struct vup_pace *p, uint64_t ts0_ns)
{
	p->start_ns = p->clock.now_ns(p->clock.ctx);
	p->ts0_ns = ts0_ns;
	p->started = true;
}

uint64_t vup_pace_deadline(struct vup_pace *p, uint64_t ts_ns)
{
	if (!p->started)
		vup_pace_start(p, ts_ns);
	uint64_t off = ts_ns > p->ts0_ns ? ts_ns - p->ts0_ns : 0;
	/* A capture may hold any timestamp: saturate, never wrap. */
	if (off > UINT64_MAX - p->start_ns)
		return UINT64_MAX;
	return p->start_ns + off;
}

uint64_t vup_pace_wait_ns(struct vup_pace *p, uint64_t ts_ns)
{
	if (!p->on)
		return 0;
	uint64_t due = vup_pace_deadline(p, ts_ns);
	uint64_t now = p->clock.now_ns(p->clock.ctx);
	return due > now ? due - now : 0;
}

/* ---- --frames-rate: frame i is due at start + i / pps ---- */

uint64_t vup_rate_offset_ns(uint64_t i, uint64_t pps)
{
	if (!pps)
		return 0;
	/* i * 1e9 / pps without overflow: whole seconds, then the rest
	 * ((i % pps) * 1e9 < pps * 1e9 fits for pps <= VUP_RATE_MAX_PPS). */
	uint64_t sec = i / pps;
	if (sec > UINT64_MAX / 1000000000u)
		return UINT64_MAX;
	return sec * 1000000000u + (i % pps) * 1000000000u / pps;
}

void vup_rate_init(struct vup_rate *r, const struct vup_clock *clock,
                   uint64_t pps)
{
	vup_pace_init(&r->pace, clock, pps != 0);
	r->pps = pps;
}

void vup_rate_start(struct vup_rate *r)
{
	vup_pace_start(&r->pace, 0);
}

uint64_t vup_rate_deadline(struct vup_rate *r, uint64_t i)
{
	if (!r->pace.started)
		vup_rate_start(r);
	return vup_pace_deadline(&r->pace, vup_rate_offset_ns(i, r->pps));
}

uint64_t vup_rate_wait_ns(struct vup_rate *r, uint64_t i)
{
	if (!r->pps)
		return 0;
	if (!r->pace.started)
		vup_rate_start(r);
	return vup_pace_wait_ns(&r->pace, vup_rate_offset_ns(i, r->pps));
}
