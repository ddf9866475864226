/* Private to the relay: links (a channel on the loop) and sessions. */
#ifndef VUPROXY_RELAY_H
#define VUPROXY_RELAY_H

#include <stdbool.h>
#include <uv.h>

#include "vuproxy/channel.h"
#include "vuproxy/flow.h"
#include "vuproxy/proxy.h"

struct vup_session;

/* One socket of a session: a channel plus its poll handle. */
struct vup_link {
	struct vup_channel ch;
	uv_poll_t poll;
	bool polling; /* poll handle initialised (fd attached) */
	bool paused;  /* not reading: the peer's queue is full */
	bool dead;    /* the peer closed it: nothing more can be written */
	int events;
	enum vup_side side;
	enum vup_chan chan;
	struct vup_link *peer; /* where its messages go */
	struct vup_session *s;
};

struct vup_session {
	unsigned id;
	struct vup_proxy *proxy;
	struct vup_link *fe, *be;         /* main channel */
	struct vup_link *fe_bch, *be_bch; /* back-end channel, if interposed */
	struct vup_flow flow;
	uint64_t msgs;
	bool closing;
	bool failed;
	unsigned open_links;
	/* connecting side with retry */
	uv_timer_t retry;
	bool retry_active;
	enum vup_side connecting;
	unsigned backoff_ms;
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
	int reserve_fd; /* spent to refuse a connection when out of fds */
	struct vup_session *sessions; /* live, newest first */
	unsigned live;
	unsigned next_id;
	/* back-end connections accepted with no session to pair (listen/listen)
	 */
	int spare_be[16];
	unsigned nspare;
	uv_timer_t restart; /* connect/connect: next session after a close */
	bool stopping;
};

/* session.c */
struct vup_session *vup_session_new(struct vup_proxy *p);
/* Give the session the fd of one side (accepted or connected). */
void vup_session_attach(struct vup_session *s, enum vup_side side, int fd);
/* Start connecting one side, retrying with backoff. */
void vup_session_connect(struct vup_session *s, enum vup_side side);
bool vup_session_has(const struct vup_session *s, enum vup_side side);
void vup_session_close(struct vup_session *s, const char *reason);

/* proxy.c: a session has closed (called once per session). */
void vup_proxy_session_closed(struct vup_proxy *p, struct vup_session *s);

#endif
