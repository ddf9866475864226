/* Private to the relay: links (a channel on the loop) and sessions. */
#ifndef VUP_RELAY_INTERNAL_H
#define VUP_RELAY_INTERNAL_H

#include <stdbool.h>
#include <uv.h>

#include "flow.h"
#include "hold.h"
#include "step.h"
#include "vuproxy/channel.h"
#include "vuproxy/check.h"
#include "vuproxy/control.h"
#include "vuproxy/proxy.h"
#include "vuproxy/rules.h"
#include "watchdog.h"

/* Stop reading a peer when the other side has this much queued (or this
 * many of its messages are held by a delay); resume below LOW. */
#define VUP_QUEUE_HIGH_MSGS  256
#define VUP_QUEUE_HIGH_BYTES (1u << 20)
#define VUP_QUEUE_LOW_MSGS   64

struct vup_session;
struct vup_memmap;
struct vup_active_sess;

/* One socket of a session: a channel plus its poll handle. */
struct vup_link {
	struct vup_channel ch;
	uv_poll_t poll;
	bool polling;    /* poll handle initialised (fd attached) */
	bool paused;     /* not reading: the peer's queue is full */
	bool dead;       /* the peer closed it: nothing more can be written */
	bool drain_turn; /* read from its read-ahead in this loop turn */
	int events;
	uint64_t mid_since; /* loop time (ms, odd) its incomplete message
	                       began; 0 between messages */
	enum vup_side side;
	enum vup_chan chan;
	struct vup_link *peer; /* where its messages go */
	struct vup_hold hold;  /* messages from here held back by a delay */
	struct vup_session *s;
};

/* keepmem.c: a session's region fds, slot for slot with its model's
 * memory table, and their mapping once asked for. */
struct vup_keepmem {
	int *fds; /* n kept copies (-1: that region's fd could not be) */
	unsigned n, cap;
	struct vup_memmap *map; /* mapped on demand; NULL: not yet */
	char map_err[200];      /* why the mapping failed, until a change */
	bool warned;
};

struct vup_session {
	unsigned id;
	struct vup_proxy *proxy;
	struct vup_link *fe, *be;         /* main channel */
	struct vup_link *fe_bch, *be_bch; /* back-end channel, if interposed */
	struct vup_flow flow;
	struct vup_rules_session *rules_state;
	struct vup_rules *own_rules; /* ctl rules load --session; NULL: -r's */
	struct vup_tap *tap;         /* --tap, or NULL */
	bool tap_for_record;         /* tap started by ctl record --tap */
	struct vup_keepmem keep;     /* region fds (--no-keep-memory: none) */
	struct vup_active_sess *active; /* --active (active.c), or NULL */
	struct vup_checker *checker;    /* NULL: --no-check */
	struct vup_warn_limit check_warn[VUP_CHECK_COUNT]; /* by row */
	struct vup_watchdog watchdog;                      /* --reply-timeout */
	uv_timer_t hold_timer;  /* releases held messages */
	uv_timer_t stall_timer; /* a peer stopped mid-message */
	uv_idle_t drain_idle;   /* delivers messages a channel read ahead */
	uint64_t msgs;
	bool closing;
	bool failed;
	unsigned open_links;
	/* connecting side with retry, the wait for a back-end; also times
	 * the end of a session */
	uv_timer_t retry;
	unsigned open_timers; /* the timers above until closed */
	enum vup_side connecting;
	unsigned backoff_ms;
	unsigned be_attempts; /* connects to the back-end so far */
	uint64_t be_since;    /* loop time (ms) the front-end began waiting */
	/* ending: no more reading; queued messages are being delivered */
	bool ending;
	char end_reason[512];
	struct vup_session *prev, *next;
};

struct vup_proxy {
	uv_loop_t *loop;
	struct vup_proxy_config cfg;
	struct vup_proxy_stats stats;
	uv_poll_t listen_poll[2]; /* by enum vup_side */
	int listen_fd[2];
	/* handed over by systemd (LISTEN_FDS): its socket file, which
	 * vuproxy neither chmods nor unlinks */
	bool listen_inherited[2];
	uv_timer_t sd_watchdog; /* WATCHDOG=1 pings, when WATCHDOG_USEC */
	int reserve_fd; /* spent to refuse a connection when out of fds */
	struct vup_session *sessions; /* live, newest first */
	unsigned live;
	unsigned next_id;
	/* back-end connections accepted with no session to pair (listen/listen)
	 */
	int spare_be[16];
	unsigned nspare;
	uv_timer_t restart;   /* connect/connect: next session after a close */
	uv_timer_t warn_tick; /* tells the warnings the rate limit held back */
	struct vup_rules *rules; /* -r, or NULL; replaced on SIGHUP */
	bool stopping;
	int tap_timer_fd; /* --tap: the poll period; -1 without */
	bool tap_armed;   /* the timer runs (some queue is read) */
	struct vup_tap_budget tap_budget;
	/* record start --tap on a vuproxy without --tap: the kind and the
	 * session (0: all) whose new sessions get a tap too */
	enum vup_tap_kind rec_tap;
	int rec_tap_session;
	uv_poll_t tap_poll;
	/* recorder.c: a recording started at run time, a snapshot being
	 * written (trace output ids; 0 none) */
	int record_id, snap_id;
	uv_timer_t snap_timer;   /* --snapshot-after */
	uint64_t snap_last_auto; /* loop ms of the last triggered one */
	unsigned snap_skipped;   /* triggers since, not taken */
	char snap_path[4096], snap_trigger[300];
	/* A snapshot of ours is written as a hidden .part file and renamed
	 * to snap_path once finished: whoever watches --snapshot-dir never
	 * opens half a file.  "" for a client's file. */
	char snap_part[4096];
	struct vup_control *ctl; /* --control, or NULL */
};

/* systemd.c: the listening sockets systemd hands over, by side (-1
 * none); the others are closed with a warning.  0, or -errno (logged)
 * when one is not a listening unix stream socket. */
int vup__systemd_listeners(struct vup_proxy *p, int fds[2]);
/* Start pinging when WATCHDOG_USEC asks (the timer is initialised
 * either way; close it with the proxy). */
void vup__systemd_watchdog_start(struct vup_proxy *p);

/* recorder.c: recordings started at run time, snapshots (control.h) */
void vup__recorder_init(struct vup_proxy *p);
void vup__recorder_close(struct vup_proxy *p);
int vup__record_start(struct vup_proxy *p, int fd, int session, const char *tap,
                      bool gzip, char *err, size_t errlen);
int vup__record_stop(struct vup_proxy *p, uint64_t *messages, char *err,
                     size_t errlen);
/* fd < 0: a new file in --snapshot-dir, its name in path. */
int vup__snapshot(struct vup_proxy *p, int fd, char *path, size_t pathlen,
                  uint64_t *messages, char *err, size_t errlen);
/* An event that may take a snapshot (--snapshot-on); detail says which.
 * Events take one every VUP_SNAPSHOT_INTERVAL_S at most. */
#define VUP_SNAPSHOT_INTERVAL_S 10
void vup__snapshot_trigger(struct vup_proxy *p, enum vup_snapshot_trigger trig,
                           const char *detail);

/* tapping.c: the tap's timer and each session's tap */
uint64_t vup__wall_ns(void);
int vup__tap_timer_start(struct vup_proxy *p);
void vup__tap_timer_stop(struct vup_proxy *p);
/* A tap queue may have started: make sure the timer runs. */
void vup__tap_timer_arm(struct vup_proxy *p);
void vup__tap_session_open(struct vup_session *s);
void vup__tap_session_close(struct vup_session *s);
/* record start --tap KIND on a vuproxy started without --tap: a tap for
 * the session (0) or each live one (-1), started from the kept region
 * fds and the model's state, and for sessions that start until
 * vup__tap_record_stop.  0 or -errno with err set. */
int vup__tap_record_start(struct vup_proxy *p, int session,
                          enum vup_tap_kind kind, char *err, size_t errlen);
/* The taps record start made: their last records and statistics. */
void vup__tap_record_stop(struct vup_proxy *p);

/* keepmem.c: the region fds of what a delivered message did to the
 * model's memory table (ev), while v's fds are open. */
void vup__keep_follow(struct vup_session *s, const struct vup_view *v,
                      const struct vup_model_events *ev);
/* The session's guest memory mapped from its kept fds (cached until the
 * table changes), or NULL with why set. */
struct vup_memmap *vup__keep_map(struct vup_session *s, const char **why);
void vup__keep_close(struct vup_session *s);

/* session.c: links and the session's life (vup__: private to src/relay) */
const char *vup__direction(enum vup_side from);
const char *vup__bch_tag(const struct vup_link *l);
struct vup_link *vup__link_new(struct vup_session *s, enum vup_side side,
                               enum vup_chan chan, int fd);
int vup__link_attach(struct vup_link *l, int fd);
void vup__link_update(struct vup_link *l);
void vup__link_close(struct vup_link *l);
void vup__bch_close(struct vup_session *s);
__attribute__((format(printf, 2, 3))) void
vup__session_fail(struct vup_session *s, const char *fmt, ...);
void vup__session_end(struct vup_session *s, bool failed, const char *reason);
/* A handle the session counts in open_timers has closed. */
void vup__session_handle_closed(struct vup_session *s);

/* active.c: --active on the loop (decisions: active.h).  prepare does
 * the I/O a message needs before the step (false: the session is not
 * shadowed, no step context); after acts on its fate. */
int vup__active_open(struct vup_session *s);
void vup__active_close(struct vup_session *s);
struct vup_active *vup__active_state(struct vup_session *s);
bool vup__active_prepare(struct vup_session *s, const struct vup_view *v,
                         struct vup_active_io *io);
void vup__active_after(struct vup_session *s, const struct vup_view *v,
                       const struct vup_step *st, struct vup_active_io *io);

/* inspect.c: the warnings about problems found in a message. */
/* The warning lines for a message's problems, once its fate (v) is known;
 * rate-limited per session and kind. */
void vup__warn_findings(const struct vup_link *l, const struct vup_hdr *h,
                        const struct vup_findings *fs,
                        const struct vup_verdict *v);
/* Tell the counts the rate limit held back: all of them (the session
 * ends), or those whose last line is a period old (the periodic tick). */
void vup__warn_flush(struct vup_session *s, bool all);
/* checking.c: the checker live (check.h) and the reply watchdog. */
void vup__check_open(struct vup_session *s);
void vup__check_close(struct vup_session *s);
/* After the step's actions: the findings about message v (about: its
 * record's vup_trace_seq, rule: the rule its record names) are logged,
 * rate-limited per row, and recorded in the trace. */
void vup__check_message(struct vup_session *s, const struct vup_link *l,
                        const struct vup_view *v, const struct vup_step *st,
                        uint64_t about, const char *rule);
/* Tell the counts the rate limit held back (as vup__warn_flush). */
void vup__check_flush(struct vup_session *s, bool all);
/* The periodic tick: replies owed past --reply-timeout. */
void vup__watchdog(struct vup_session *s, uint64_t now_ns);
/* The session ends: the replies it still owes, one line each. */
void vup__check_end(struct vup_session *s);

/* forward.c: record a message in the trace (fdi: its fds' kinds; mark:
 * its problems, or NULL). */
void vup__record(struct vup_session *s, enum vup_chan chan, enum vup_side from,
                 const struct vup_hdr *hdr, const uint8_t *payload,
                 const struct vup_fd_info *fdi, unsigned nfds,
                 enum vup_trace_action action, const char *rule, bool as_sent,
                 const char *mark);
void vup__peer_gone(struct vup_link *l, const char *how);
void vup__send_failed(struct vup_link *to, int rc);

/* forward.c: one message through check, rules, trace and out */
void vup__relay(struct vup_link *l);
void vup__release_held(uv_timer_t *t);
void vup__flush_held(struct vup_session *s); /* all of it, now */

/* session.c */
struct vup_session *vup_session_new(struct vup_proxy *p);
/* Give the session the fd of one side (accepted or connected). */
void vup_session_attach(struct vup_session *s, enum vup_side side, int fd);
/* Start connecting one side, retrying with backoff: for ever, or for a
 * back-end whose front-end waits, until --backend-wait is over. */
void vup_session_connect(struct vup_session *s, enum vup_side side);
bool vup_session_has(const struct vup_session *s, enum vup_side side);
void vup_session_close(struct vup_session *s, const char *reason);

/* events.c: what control subscribers are told; one call where the
 * relay logs each. */
void vup__event_session_up(struct vup_session *s);
void vup__event_session_down(struct vup_session *s, const char *reason);
void vup__event_rule(struct vup_session *s, const struct vup_view *v,
                     const struct vup_verdict *vd);
void vup__event_finding(struct vup_session *s,
                        const struct vup_check_finding *f);

/* control.c, control_show.c: the control socket's commands. */
extern const struct vup_control_cmd *const vup__control_cmds;
extern const size_t vup__control_ncmds;
/* The session with this id, or NULL. */
struct vup_session *vup__session_find(struct vup_proxy *p, unsigned id);
const char *vup__session_state(const struct vup_session *s);
void vup__show_session(struct vup_session *s, struct vup_jw *w);

/* Recording at run time and snapshots (record.c; record_stub.c until
 * then).  0 or -errno with err set.  record_start takes fd on success
 * (the caller closes it on failure); session -1: all; tap NULL: none. */
int vup__record_start(struct vup_proxy *p, int fd, int session, const char *tap,
                      bool gzip, char *err, size_t errlen);
int vup__record_stop(struct vup_proxy *p, uint64_t *messages, char *err,
                     size_t errlen);
/* fd -1: a file in --snapshot-dir, its name in path; else fd is taken
 * on success. */
int vup__snapshot(struct vup_proxy *p, int fd, char *path, size_t pathlen,
                  uint64_t *messages, char *err, size_t errlen);

/* proxy.c: a session has closed (called once per session). */
void vup_proxy_session_closed(struct vup_proxy *p, struct vup_session *s);

#endif
