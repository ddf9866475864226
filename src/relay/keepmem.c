/* keepmem: each session's region fds, kept so that guest memory can be
 * mapped when asked (`ctl show`'s live ring indices, a tap started at run
 * time).
 *
 * When a memory message reaches the back-end, its fds are duplicated
 * (close-on-exec) into a table that mirrors the session model's regions
 * slot for slot, from the model's own events: a new table replaces them
 * all, ADD_MEM_REG appends, REM_MEM_REG removes its slot, a reset and
 * the end of the session close them.  Nothing is mapped until someone
 * asks; the mapping (read-only, memmap.h's bounds checks) is kept until
 * the table changes.  Holding the fds holds the guest's memory: a region
 * the front-end dropped stays allocated until vuproxy closes its copy
 * (README, --no-keep-memory).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "vuproxy/log.h"
#include "vuproxy/memmap.h"
#include "vuproxy/model.h"

static void drop_map(struct vup_keepmem *k)
{
	vup_memmap_put(k->map);
	k->map = NULL;
	k->map_err[0] = '\0';
}

static void close_from(struct vup_keepmem *k, unsigned from)
{
	for (unsigned i = from; i < k->n; i++)
		if (k->fds[i] >= 0)
			close(k->fds[i]);
	k->n = from < k->n ? from : k->n;
}

void vup__keep_close(struct vup_session *s)
{
	struct vup_keepmem *k = &s->keep;
	drop_map(k);
	close_from(k, 0);
	free(k->fds);
	k->fds = NULL;
	k->cap = 0;
}

/* A copy of fd that vuproxy owns (close-on-exec), or -1: the region is
 * then not mappable, and show says so. */
static int keep_fd(struct vup_session *s, int fd)
{
	if (fd < 0)
		return -1;
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (d < 0 && !s->keep.warned) {
		s->keep.warned = true;
		vup_log(VUP_LOG_WARN,
		        "s%u: cannot keep a region fd (fcntl F_DUPFD_CLOEXEC: "
		        "%s): ctl show reads no live indices of this memory "
		        "table",
		        s->id, strerror(errno));
	}
	return d;
}

static bool room(struct vup_keepmem *k, unsigned n)
{
	if (n <= k->cap)
		return true;
	unsigned cap = k->cap ? k->cap : 8;
	while (cap < n)
		cap *= 2;
	if (cap > VUP_MODEL_REGIONS)
		cap = VUP_MODEL_REGIONS;
	if (n > cap)
		return false;
	int *f = realloc(k->fds, cap * sizeof(*f));
	if (!f)
		return false;
	k->fds = f;
	k->cap = cap;
	return true;
}

static void table(struct vup_session *s, const struct vup_view *v, unsigned n)
{
	struct vup_keepmem *k = &s->keep;
	close_from(k, 0);
	if (!room(k, n))
		return; /* no slots: the count check below forgets it */
	for (unsigned i = 0; i < n; i++)
		k->fds[i] = keep_fd(s, v->fds && i < v->nfds ? v->fds[i] : -1);
	k->n = n;
}

static void added(struct vup_session *s, const struct vup_view *v,
                  unsigned slot)
{
	struct vup_keepmem *k = &s->keep;
	if (slot != k->n || !room(k, k->n + 1))
		return;
	k->fds[k->n++] = keep_fd(s, v->fds && v->nfds ? v->fds[0] : -1);
}

static void removed(struct vup_keepmem *k, unsigned slot)
{
	if (slot >= k->n)
		return;
	if (k->fds[slot] >= 0)
		close(k->fds[slot]);
	memmove(&k->fds[slot], &k->fds[slot + 1],
	        (k->n - slot - 1) * sizeof(k->fds[0]));
	k->n--;
}

void vup__keep_follow(struct vup_session *s, const struct vup_view *v,
                      const struct vup_model_events *ev)
{
	if (s->proxy->cfg.no_keep_memory || v->chan != VUP_CHAN_MAIN)
		return;
	struct vup_keepmem *k = &s->keep;
	bool changed = false;
	for (unsigned i = 0; i < ev->n; i++) {
		const struct vup_model_event *e = &ev->e[i];
		switch (e->kind) {
		case VUP_EV_MEM_TABLE: table(s, v, e->index); break;
		case VUP_EV_MEM_ADDED: added(s, v, e->index); break;
		case VUP_EV_MEM_REMOVED: removed(k, e->index); break;
		case VUP_EV_RESET: close_from(k, 0); break;
		/* The back-end got a memory message vuproxy could not read:
		 * what it kept may be memory the front-end replaced. */
		case VUP_EV_MEM_UNREADABLE: close_from(k, 0); break;
		default: continue;
		}
		changed = true;
	}
	if (!changed)
		return;
	drop_map(k);
	/* Slot for slot with the model, or nothing: a kept fd must never
	 * be taken for another region's. */
	const struct vup_model_region *r;
	if (vup_model_regions(s->flow.model, &r) != k->n)
		close_from(k, 0);
}

struct vup_memmap *vup__keep_map(struct vup_session *s, const char **why)
{
	struct vup_keepmem *k = &s->keep;
	const struct vup_model_region *r;
	unsigned n = vup_model_regions(s->flow.model, &r);
	*why = NULL;
	if (s->proxy->cfg.no_keep_memory) {
		*why = "guest memory not mapped: vuproxy runs with "
		       "--no-keep-memory (and without --tap)";
		return NULL;
	}
	if (k->map)
		return k->map;
	if (k->map_err[0]) {
		*why = k->map_err;
		return NULL;
	}
	if (n == 0) {
		*why = "guest memory not mapped: no memory table yet";
		return NULL;
	}
	if (k->n != n) {
		*why = "guest memory not mapped: the region fds of this "
		       "table were not kept";
		return NULL;
	}
	char err[160];
	int rc = vup_memmap_from_regions(r, k->fds, n, &k->map, err,
	                                 sizeof(err));
	if (rc < 0) {
		k->map = NULL;
		snprintf(k->map_err, sizeof(k->map_err),
		         "guest memory not mapped: %s", err);
		*why = k->map_err;
		return NULL;
	}
	return k->map;
}
