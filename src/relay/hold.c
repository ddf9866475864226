/* hold: the delay queue of one direction; see hold.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hold.h"
#include "vuproxy/channel.h"

int vup_hold_push(struct vup_hold *h, uint64_t now_ns, uint64_t delay_ns,
                  const char *rule, const struct vup_hdr *hdr,
                  const uint8_t *payload, const int *fds, unsigned nfds)
{
	/* The rule's name is copied: a SIGHUP may free the rules before the
	 * message leaves. */
	size_t rule_len = rule ? strlen(rule) + 1 : 0;
	struct vup_held *m = malloc(sizeof(*m) + hdr->size + rule_len);
	if (!m) {
		int copy[VUP_MAX_FDS];
		if (nfds)
			memcpy(copy, fds, sizeof(int) * nfds);
		vup_close_fds(copy, nfds);
		return -ENOMEM;
	}
	m->next = NULL;
	m->release_ns = now_ns + delay_ns;
	if (h->tail && h->tail->release_ns > m->release_ns)
		m->release_ns = h->tail->release_ns; /* stay in order */
	m->hdr = *hdr;
	m->nfds = nfds;
	if (nfds)
		memcpy(m->fds, fds, sizeof(int) * nfds);
	if (hdr->size)
		memcpy(m->payload, payload, hdr->size);
	m->rule = NULL;
	m->interpose = false;
	if (rule) {
		char *copy = (char *)m->payload + hdr->size;
		memcpy(copy, rule, rule_len);
		m->rule = copy;
	}
	if (h->tail)
		h->tail->next = m;
	else
		h->head = m;
	h->tail = m;
	h->count++;
	return 0;
}

struct vup_held *vup_hold_pop_ready(struct vup_hold *h, uint64_t now_ns)
{
	struct vup_held *m = h->head;
	if (!m || m->release_ns > now_ns)
		return NULL;
	h->head = m->next;
	if (!h->head)
		h->tail = NULL;
	h->count--;
	m->next = NULL;
	return m;
}

uint64_t vup_hold_next_ns(const struct vup_hold *h)
{
	return h->head ? h->head->release_ns : UINT64_MAX;
}

void vup_hold_clear(struct vup_hold *h)
{
	while (h->head) {
		struct vup_held *m = h->head;
		h->head = m->next;
		vup_close_fds(m->fds, m->nfds);
		free(m);
	}
	h->tail = NULL;
	h->count = 0;
}
