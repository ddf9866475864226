/* hold: messages of one direction of a session held back by a delay.
 *
 * vhost-user is ordered per connection: once one message is delayed,
 * every later message of the same direction waits behind it, so release
 * times never decrease along the queue.  Pure data structure; the caller
 * owns the clock and the timer. */
#ifndef VUPROXY_HOLD_H
#define VUPROXY_HOLD_H

#include <stdbool.h>
#include <stdint.h>

#include "vuproxy/proto.h"

struct vup_held {
	struct vup_held *next;
	uint64_t release_ns;
	struct vup_hdr hdr;
	unsigned nfds;
	int fds[VUP_MAX_FDS];
	/* The rule that delayed this message: its copy as sent is recorded
	 * when it leaves.  NULL for a message only waiting behind one. */
	const char *rule;
	/* SET_BACKEND_REQ_FD whose back-end channel vuproxy stands in. */
	bool interpose;
	uint8_t payload[]; /* hdr.size bytes, then the rule's name */
};

struct vup_hold {
	struct vup_held *head, *tail;
	unsigned count;
};

static inline bool vup_hold_empty(const struct vup_hold *h)
{
	return h->head == NULL;
}

/* Queue a message to leave at now + delay, but never before the one
 * ahead of it.  rule: the name of the rule that delayed it (copied), or
 * NULL.  Takes the fds.  -ENOMEM (fds closed) on failure; else the
 * caller may set the new tail's interpose. */
int vup_hold_push(struct vup_hold *h, uint64_t now_ns, uint64_t delay_ns,
                  const char *rule, const struct vup_hdr *hdr,
                  const uint8_t *payload, const int *fds, unsigned nfds);
/* The first message if its time has come (the caller frees it). */
struct vup_held *vup_hold_pop_ready(struct vup_hold *h, uint64_t now_ns);
/* When the first message is due; UINT64_MAX when empty. */
uint64_t vup_hold_next_ns(const struct vup_hold *h);
/* Drop everything, closing the fds. */
void vup_hold_clear(struct vup_hold *h);

#endif
