/* recorder: recording started at run time, and the flight recorder's
 * snapshots and their triggers (--ring, --snapshot-*).  The trace module
 * writes; this decides when, where, and for how long. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "vuproxy/log.h"

const char *vup_snapshot_trigger_name(enum vup_snapshot_trigger t)
{
	static const char *const names[] = {
#define X(id, name, selectable) name,
	        VUP_SNAPSHOT_TRIGGERS(X)
#undef X
	};
	return (unsigned)t < VUP_SNAP_COUNT ? names[t] : "unknown";
}

int vup_snapshot_triggers_parse(const char *list, unsigned *mask, char *err,
                                size_t errlen)
{
	static const bool selectable[] = {
#define X(id, name, sel) sel,
	        VUP_SNAPSHOT_TRIGGERS(X)
#undef X
	};
	*mask = 0;
	const char *p = list;
	while (*p) {
		size_t n = strcspn(p, ",");
		unsigned t = 0;
		for (; t < VUP_SNAP_COUNT; t++) {
			const char *name = vup_snapshot_trigger_name(t);
			if (selectable[t] && strlen(name) == n &&
			    strncmp(p, name, n) == 0)
				break;
		}
		if (t == VUP_SNAP_COUNT) {
			snprintf(err, errlen,
			         "unknown trigger '%.*s' (expected a list of "
			         "failure, nack, timeout, error)",
			         (int)n, p);
			return -1;
		}
		*mask |= 1u << t;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

int vup__record_start(struct vup_proxy *p, int fd, int session, const char *tap,
                      bool gzip, char *err, size_t errlen)
{
	struct vup_trace *t = p->cfg.trace;
	if (p->record_id > 0 && vup_trace_recording(t, p->record_id)) {
		snprintf(err, errlen,
		         "a recording runs already: record stop "
		         "first");
		return -EBUSY;
	}
	if (p->record_id > 0) { /* stopped by an error: its slot goes */
		vup__tap_record_stop(p);
		vup_trace_stop(t, p->record_id, NULL);
	}
	p->record_id = 0;
	enum vup_tap_kind kind = VUP_TAP_OFF;
	if (tap && vup_tap_kind_parse(tap, &kind)) {
		snprintf(err, errlen, "--tap %s: net or blk", tap);
		return -EINVAL;
	}
	/* A tap of the kind vuproxy runs gives its records; with none, one
	 * starts now from the kept region fds. */
	enum vup_tap_kind running = p->cfg.tap.kind;
	if (kind && running && kind != running) {
		snprintf(err, errlen, "--tap %s: this vuproxy taps %s", tap,
		         running == VUP_TAP_NET ? "net" : "blk");
		return -ENOTSUP;
	}
	if (kind && !running && p->cfg.no_keep_memory) {
		snprintf(err, errlen,
		         "--tap %s at run time maps the sessions' kept region "
		         "fds: this vuproxy runs with --no-keep-memory",
		         tap);
		return -ENOTSUP;
	}
	bool taps = kind != VUP_TAP_OFF;
	if (session > 0 && !vup__session_find(p, (unsigned)session)) {
		snprintf(err, errlen, "no session %d", session);
		return -ENOENT;
	}
	struct vup_trace_rec r = {.fd = fd,
	                          .gzip = gzip,
	                          .session =
	                                  session > 0 ? (uint32_t)session : 0,
	                          .taps = taps};
	int id = vup_trace_record(t, &r, err, errlen);
	if (id < 0)
		return id;
	p->record_id = id;
	/* After the recording's start: the tap's interfaces are declared
	 * into it. */
	if (kind && !running &&
	    vup__tap_record_start(p, session, kind, err, errlen) < 0)
		vup_log(VUP_LOG_WARN, "recording: no tap: %s", err);
	char which[32] = "every session";
	if (session > 0)
		snprintf(which, sizeof(which), "session %d", session);
	vup_log(VUP_LOG_INFO, "recording started: %s%s, %s", which,
	        taps ? " with its tap" : "", gzip ? "gzip" : "pcapng");
	return 0;
}

int vup__record_stop(struct vup_proxy *p, uint64_t *messages, char *err,
                     size_t errlen)
{
	if (p->record_id <= 0) {
		snprintf(err, errlen, "no recording runs");
		return -ENOENT;
	}
	/* The taps it started: their last records go into it. */
	vup__tap_record_stop(p);
	int rc = vup_trace_stop(p->cfg.trace, p->record_id, messages);
	p->record_id = 0;
	if (rc) {
		snprintf(err, errlen,
		         "the recording had stopped on a write error (see the "
		         "log); what was written before is kept");
		return rc;
	}
	vup_log(VUP_LOG_INFO, "recording stopped: %llu messages",
	        (unsigned long long)*messages);
	return 0;
}

/* --snapshot-keep: the oldest snapshots of this vuproxy go.  Names sort
 * by time (vuproxy-NAME-YYYYmmddTHHMMSS.uuuuuuZ-TRIGGER.pcapng.gz). */
static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void prune(struct vup_proxy *p)
{
	if (!p->cfg.snapshot_keep || !p->cfg.snapshot_dir)
		return;
	DIR *d = opendir(p->cfg.snapshot_dir);
	if (!d)
		return;
	char prefix[300];
	snprintf(prefix, sizeof(prefix), "vuproxy-%s-", p->cfg.name);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	size_t pl = strlen(prefix);
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		/* The time follows the name: vuproxy-NAME-x's are not ours. */
		if (strncmp(e->d_name, prefix, pl) != 0 || l < pl + 10 ||
		    e->d_name[pl] < '0' || e->d_name[pl] > '9' ||
		    strcmp(e->d_name + l - 10, ".pcapng.gz") != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			char **nn = realloc(names, cap * sizeof(*nn));
			if (!nn)
				break;
			names = nn;
		}
		if (!(names[n] = strdup(e->d_name)))
			break;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i + p->cfg.snapshot_keep < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", p->cfg.snapshot_dir,
		         names[i]);
		if (unlink(path) == 0)
			vup_log(VUP_LOG_INFO,
			        "snapshot %s removed (--snapshot-keep %u)",
			        path, p->cfg.snapshot_keep);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void snapshot_done(struct vup_proxy *p)
{
	uint64_t n = 0;
	int rc = vup_trace_stop(p->cfg.trace, p->snap_id, &n);
	p->snap_id = 0;
	if (p->snap_part[0] && rename(p->snap_part, p->snap_path) < 0) {
		vup_log(VUP_LOG_ERROR, "snapshot %s: rename from %s: %s",
		        p->snap_path, p->snap_part, strerror(errno));
		snprintf(p->snap_path, sizeof(p->snap_path), "%s",
		         p->snap_part);
	}
	p->snap_part[0] = '\0';
	vup_log(rc ? VUP_LOG_ERROR : VUP_LOG_INFO,
	        "snapshot %s (%s): %s, %llu messages", p->snap_path,
	        p->snap_trigger, rc ? "cut short by a write error" : "done",
	        (unsigned long long)n);
	prune(p);
}

static void on_snapshot_after(uv_timer_t *h)
{
	snapshot_done(h->data);
}

/* A new file in --snapshot-dir named with the time and the trigger
 * (path), opened as its hidden .part (part) until it is finished. */
static int open_in_dir(struct vup_proxy *p, const char *trigger, char *path,
                       size_t pathlen, char *part, size_t partlen, char *err,
                       size_t errlen)
{
	if (!p->cfg.snapshot_dir) {
		snprintf(err, errlen,
		         "no --snapshot-dir: name a FILE for the snapshot");
		return -EINVAL;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[32];
	strftime(when, sizeof(when), "%Y%m%dT%H%M%S", &tm);
	if (snprintf(path, pathlen, "%s/vuproxy-%s-%s.%06ldZ-%s.pcapng.gz",
	             p->cfg.snapshot_dir, p->cfg.name, when, ts.tv_nsec / 1000,
	             trigger) >= (int)pathlen) {
		snprintf(err, errlen, "snapshot name too long");
		return -ENAMETOOLONG;
	}
	const char *base = strrchr(path, '/') + 1;
	if (snprintf(part, partlen, "%s/.%s.part", p->cfg.snapshot_dir, base) >=
	    (int)partlen) {
		snprintf(err, errlen, "snapshot name too long");
		return -ENAMETOOLONG;
	}
	int fd =
	        open(part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	             0600);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", part, strerror(e));
		return -e;
	}
	return fd;
}

static int take(struct vup_proxy *p, int fd, const char *trigger,
                const char *detail, char *path, size_t pathlen,
                uint64_t *messages, char *err, size_t errlen)
{
	struct vup_trace *t = p->cfg.trace;
	if (p->snap_id > 0) {
		snprintf(err, errlen,
		         "a snapshot is being written (%s, trigger %s): one "
		         "at a time",
		         p->snap_path, p->snap_trigger);
		return -EBUSY;
	}
	struct vup_trace_ring_stats rs;
	if (!vup_trace_ring_stats(t, &rs)) {
		snprintf(err, errlen,
		         "no flight recorder: start vuproxy with --ring MB");
		return -ENOENT;
	}
	bool own = fd < 0;
	char part[sizeof(p->snap_part)] = "";
	if (own) {
		fd = open_in_dir(p, trigger, path, pathlen, part, sizeof(part),
		                 err, errlen);
		if (fd < 0)
			return fd;
	} else {
		snprintf(path, pathlen, "(the client's file)");
	}
	char why[300];
	snprintf(why, sizeof(why), "%s%s%s", trigger, detail ? ": " : "",
	         detail ? detail : "");
	int id = vup_trace_snapshot(t, fd, why, err, errlen);
	if (id < 0) {
		if (own) {
			close(fd);
			unlink(part);
		}
		return id;
	}
	p->snap_id = id;
	snprintf(p->snap_path, sizeof(p->snap_path), "%s", path);
	snprintf(p->snap_part, sizeof(p->snap_part), "%s", part);
	snprintf(p->snap_trigger, sizeof(p->snap_trigger), "%s", why);
	if (messages)
		*messages = vup_trace_messages(t, id);
	vup_log(VUP_LOG_INFO,
	        "snapshot %s (%s): %llu messages from the ring, %u s more "
	        "to come",
	        path, why, (unsigned long long)vup_trace_messages(t, id),
	        p->cfg.snapshot_after_s);
	if (p->cfg.snapshot_after_s)
		uv_timer_start(&p->snap_timer, on_snapshot_after,
		               (uint64_t)p->cfg.snapshot_after_s * 1000, 0);
	else
		snapshot_done(p);
	return 0;
}

int vup__snapshot(struct vup_proxy *p, int fd, char *path, size_t pathlen,
                  uint64_t *messages, char *err, size_t errlen)
{
	return take(p, fd, "ctl", NULL, path, pathlen, messages, err, errlen);
}

void vup__snapshot_trigger(struct vup_proxy *p, enum vup_snapshot_trigger trig,
                           const char *detail)
{
	/* Chosen by --snapshot-on; a signal and a rule ask themselves. */
	bool chosen = trig == VUP_SNAP_SIGNAL || trig == VUP_SNAP_RULE ||
	              (p->cfg.snapshot_on & (1u << trig));
	if (!chosen)
		return;
	/* A peer that errs on every message must not get a ring's worth
	 * of disk per message: what triggers by itself takes one snapshot
	 * per VUP_SNAPSHOT_INTERVAL_S at most, the rest are counted. */
	uint64_t now = uv_now(p->loop);
	if (trig != VUP_SNAP_SIGNAL && p->snap_last_auto &&
	    now - p->snap_last_auto < VUP_SNAPSHOT_INTERVAL_S * 1000u) {
		if (!p->snap_skipped++)
			vup_log(VUP_LOG_WARN,
			        "snapshot on %s skipped: at most one snapshot "
			        "triggered by events every %u s (the next "
			        "ones are counted)",
			        vup_snapshot_trigger_name(trig),
			        VUP_SNAPSHOT_INTERVAL_S);
		return;
	}
	if (p->snap_skipped)
		vup_log(VUP_LOG_INFO, "%u snapshot triggers were skipped",
		        p->snap_skipped);
	p->snap_skipped = 0;
	if (trig != VUP_SNAP_SIGNAL)
		p->snap_last_auto = now;
	char path[4096], err[512] = "";
	if (take(p, -1, vup_snapshot_trigger_name(trig), detail, path,
	         sizeof(path), NULL, err, sizeof(err)))
		vup_log(VUP_LOG_WARN, "snapshot on %s%s%s not taken: %s",
		        vup_snapshot_trigger_name(trig), detail ? " (" : "",
		        detail ? detail : "", err);
}

void vup_proxy_snapshot(struct vup_proxy *p)
{
	vup__snapshot_trigger(p, VUP_SNAP_SIGNAL, NULL);
}

void vup__recorder_init(struct vup_proxy *p)
{
	uv_timer_init(p->loop, &p->snap_timer);
	p->snap_timer.data = p;
}

void vup__recorder_close(struct vup_proxy *p)
{
	if (p->snap_id > 0) {
		uv_timer_stop(&p->snap_timer);
		snapshot_done(p);
	}
	if (p->record_id > 0) {
		uint64_t n = 0;
		char err[256];
		vup__record_stop(p, &n, err, sizeof(err));
	}
	uv_close((uv_handle_t *)&p->snap_timer, NULL);
}
