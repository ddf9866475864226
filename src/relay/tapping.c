/* tapping: the tap in the relay.  Each session gets a tap (--tap), or,
 * on a vuproxy started without, when `ctl record start --tap` asks: then
 * the tap starts mid-session from the kept region fds (keepmem.c) and
 * the model's state, and stops with the recording.  One timer for the
 * whole proxy reads every session's running queues, then flushes the
 * trace once.  The timer is a timerfd so that the interval can be below
 * libuv's millisecond timers. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "vuproxy/log.h"
#include "vuproxy/model.h"
#include "vuproxy/tap.h"

uint64_t vup__wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Arm (interval > 0) or disarm the timer. */
static int set_timer(struct vup_proxy *p, uint64_t us)
{
	struct itimerspec its = {
	        .it_interval = {(time_t)(us / 1000000),
	                        (long)(us % 1000000) * 1000},
	        .it_value = {(time_t)(us / 1000000),
	                     (long)(us % 1000000) * 1000},
	};
	if (timerfd_settime(p->tap_timer_fd, 0, &its, NULL) < 0)
		return -errno;
	p->tap_armed = us != 0;
	return 0;
}

/* Read every running queue; with none left (no session, or none whose
 * queues run) the timer stops until a queue starts: an idle proxy does
 * not wake up. */
static void on_tap_timer(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	struct vup_proxy *p = h->data;
	uint64_t expirations;
	if (read(p->tap_timer_fd, &expirations, sizeof(expirations)) < 0)
		return; /* EAGAIN: nothing expired */
	/* Taps started for a recording that broke (its reader went away)
	 * stop reading guest memory with it. */
	if (p->rec_tap != VUP_TAP_OFF && p->record_id > 0 &&
	    !vup_trace_recording(p->cfg.trace, p->record_id))
		vup__tap_record_stop(p);
	uint64_t now = vup__wall_ns();
	bool any = false;
	unsigned n = 0;
	for (struct vup_session *s = p->sessions; s; s = s->next)
		if (s->tap && !s->closing && vup_tap_running(s->tap))
			n++;
	/* One tick reads at most VUP_TAP_TICK_READS in all (a few ms at
	 * worst), shared out between the sessions: a hostile ring cannot
	 * hold up the relay of every session. */
	for (struct vup_session *s = p->sessions; s && n; s = s->next) {
		uint32_t share = VUP_TAP_TICK_READS / n;
		if (s->tap && !s->closing && vup_tap_poll(s->tap, now, &share))
			any = true;
	}
	if (p->cfg.trace)
		vup_trace_flush(p->cfg.trace);
	if (!any)
		set_timer(p, 0);
}

void vup__tap_timer_arm(struct vup_proxy *p)
{
	if (p->tap_timer_fd >= 0 && !p->tap_armed && !p->stopping)
		set_timer(p, p->cfg.tap_interval_us ? p->cfg.tap_interval_us
		                                    : 1000);
}

/* The timer, made on first need: at start with --tap, or when ctl
 * record start --tap starts a tap. */
static int timer_open(struct vup_proxy *p)
{
	if (p->tap_timer_fd >= 0)
		return 0;
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0) {
		vup_log(VUP_LOG_ERROR, "tap: timerfd_create: %s",
		        strerror(errno));
		return -errno;
	}
	int rc = uv_poll_init(p->loop, &p->tap_poll, fd);
	if (rc < 0) {
		close(fd);
		vup_log(VUP_LOG_ERROR, "tap: cannot poll the timer: %s",
		        uv_strerror(rc));
		return rc;
	}
	p->tap_timer_fd = fd;
	p->tap_armed = false;
	p->tap_poll.data = p;
	uv_poll_start(&p->tap_poll, UV_READABLE, on_tap_timer);
	return 0;
}

int vup__tap_timer_start(struct vup_proxy *p)
{
	p->tap_timer_fd = -1;
	if (p->cfg.tap.kind == VUP_TAP_OFF)
		return 0;
	return timer_open(p);
}

static void on_tap_poll_closed(uv_handle_t *h)
{
	struct vup_proxy *p = h->data;
	close(p->tap_timer_fd);
	p->tap_timer_fd = -1;
}

void vup__tap_timer_stop(struct vup_proxy *p)
{
	if (p->tap_timer_fd < 0 || uv_is_closing((uv_handle_t *)&p->tap_poll))
		return;
	uv_close((uv_handle_t *)&p->tap_poll, on_tap_poll_closed);
}

static struct vup_tap *tap_new(struct vup_session *s, enum vup_tap_kind kind)
{
	struct vup_proxy *p = s->proxy;
	struct vup_tap_config c = p->cfg.tap;
	c.kind = kind;
	c.budget = &p->tap_budget;
	struct vup_tap *t = vup_tap_new(&c, s->id, p->cfg.trace);
	if (!t)
		vup_log(VUP_LOG_WARN,
		        "s%u tap: out of memory; no tap for "
		        "this session",
		        s->id);
	return t;
}

void vup__tap_session_open(struct vup_session *s)
{
	struct vup_proxy *p = s->proxy;
	if (p->cfg.tap.kind != VUP_TAP_OFF) {
		s->tap = tap_new(s, p->cfg.tap.kind);
		return;
	}
	/* A recording with its tap started at run time (of every
	 * session): a new session is followed from its start. */
	if (p->rec_tap != VUP_TAP_OFF && p->rec_tap_session == 0) {
		s->tap = tap_new(s, p->rec_tap);
		s->tap_for_record = s->tap != NULL;
	}
}

void vup__tap_session_close(struct vup_session *s)
{
	if (!s->tap)
		return;
	vup_tap_end(s->tap, vup__wall_ns());
	vup_tap_add_totals(s->tap, &s->proxy->stats.tap);
	vup_tap_free(s->tap);
	s->tap = NULL;
}

/* A tap for a session already running, from its kept guest memory and
 * what its model holds. */
static int tap_midway(struct vup_session *s, enum vup_tap_kind kind)
{
	if (s->tap)
		return 0;
	const char *why = NULL;
	struct vup_memmap *mem = vup__keep_map(s, &why);
	const struct vup_model_region *r;
	if (!mem && vup_model_regions(s->flow.model, &r))
		vup_log(VUP_LOG_WARN,
		        "s%u tap: %s; the tap reads the rings from the next "
		        "memory table on",
		        s->id, why);
	s->tap = tap_new(s, kind);
	if (!s->tap)
		return -ENOMEM;
	s->tap_for_record = true;
	vup_tap_adopt(s->tap, s->flow.model, mem, vup__wall_ns());
	vup_log(VUP_LOG_INFO, "s%u tap: started at run time (%s)", s->id,
	        kind == VUP_TAP_NET ? "net" : "blk");
	if (vup_tap_running(s->tap))
		vup__tap_timer_arm(s->proxy);
	return 0;
}

int vup__tap_record_start(struct vup_proxy *p, int session,
                          enum vup_tap_kind kind, char *err, size_t errlen)
{
	int rc = timer_open(p);
	if (rc < 0) {
		snprintf(err, errlen, "tap: no timer (%s)", uv_strerror(rc));
		return rc;
	}
	p->rec_tap = kind;
	p->rec_tap_session = session > 0 ? session : 0;
	for (struct vup_session *s = p->sessions; s; s = s->next)
		if (!s->closing && (session <= 0 || s->id == (unsigned)session))
			tap_midway(s, kind);
	return 0;
}

void vup__tap_record_stop(struct vup_proxy *p)
{
	p->rec_tap = VUP_TAP_OFF;
	for (struct vup_session *s = p->sessions; s; s = s->next)
		if (s->tap_for_record) {
			vup__tap_session_close(s);
			s->tap_for_record = false;
		}
}
