/* svq: the split-ring shadow virtqueue (see svq.h).
 *
 * Book-keeping lives in private memory only: the back-end maps the shadow
 * ring and may scribble on it, so nothing read back from it but its used
 * ring (id, len, idx) and its notification words is believed, and those
 * are checked against what vuproxy offered.  Shadow descriptors come from
 * a private free list, so a shadow chain is vuproxy's own snapshot of a
 * validated guest chain; the guest head is found again from the shadow
 * head the back-end returns.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "active/svq_internal.h"
#include "vuproxy/bits.h"
#include "vuproxy/ring_layout.h"

/* ---- stopping the vring ---- */

int vup__svq_halt(struct vup_svq *q, uint64_t *counter, const char *fmt, ...)
{
	if (counter)
		(*counter)++;
	if (q->stopped)
		return -EPROTO;
	q->stopped = true;
	int n = snprintf(q->why, sizeof(q->why),
	                 "%s: ", q->cfg.name ? q->cfg.name : "vring");
	if (n < 0 || (size_t)n >= sizeof(q->why))
		n = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q->why + n, sizeof(q->why) - (size_t)n, fmt, ap);
	va_end(ap);
	return -EPROTO;
}

/* ---- shadow memory (vuproxy's own, shared with the back-end) ---- */

uint64_t vup__svq_off_avail(uint32_t num)
{
	return vup_desc_table_size(num);
}

uint64_t vup__svq_off_used(uint32_t num)
{
	uint64_t end = vup__svq_off_avail(num) + vup_avail_size(num);
	return (end + 4095) & ~(uint64_t)4095;
}

uint64_t vup_svq_shadow_size(uint32_t num)
{
	uint64_t end = vup__svq_off_used(num) + vup_used_size(num);
	return (end + 4095) & ~(uint64_t)4095;
}

struct vup_svq_addrs vup_svq_shadow_addrs(const struct vup_svq *q)
{
	uint64_t b = q->cfg.shadow_uaddr;
	struct vup_svq_addrs a = {b, b + vup__svq_off_avail(q->cfg.num),
	                          b + vup__svq_off_used(q->cfg.num)};
	return a;
}

static uint16_t *sh16(const struct vup_svq *q, uint64_t off)
{
	return (uint16_t *)(void *)(q->cfg.shadow + off);
}

uint16_t vup__svq_sh_load(const struct vup_svq *q, uint64_t off)
{
	return le16toh(__atomic_load_n(sh16(q, off), __ATOMIC_ACQUIRE));
}

void vup__svq_sh_store(const struct vup_svq *q, uint64_t off, uint16_t v)
{
	__atomic_store_n(sh16(q, off), htole16(v), __ATOMIC_RELEASE);
}

/* ---- guest memory ---- */

bool vup__svq_read16(struct vup_svq *q, uint64_t uaddr, uint16_t *v)
{
	uint8_t b[2];
	if (!vup_guest_read(q->gmem, VUP_AS_UADDR, uaddr, b, 2))
		return false;
	*v = vup_le16(b);
	return true;
}

/* A write to the guest used ring at offset off, logged at the ring's log
 * address when the front-end asked for it. */
int vup__svq_used_write(struct vup_svq *q, enum vup_gwrite_kind kind,
                        uint64_t off, const void *src, size_t len)
{
	uint64_t log =
	        q->cfg.log_used ? q->cfg.used_log + off : VUP_GWRITE_NOLOG;
	if (vup_gwrite(q->gw, kind, VUP_AS_UADDR, q->cfg.used + off, src, len,
	               log) == 0)
		return 0;
	return vup__svq_halt(q, &q->st.bad_access,
	                     "guest used ring not writable at uaddr 0x%" PRIx64
	                     " (%s)",
	                     q->cfg.used + off, vup_gwrite_kind_name(kind));
}

int vup__svq_used_elem(struct vup_svq *q, uint16_t head, uint32_t len)
{
	uint8_t e[VUP_USED_ELEM_SIZE];
	vup_put_le32(e + VUP_USED_ELEM_ID, head);
	vup_put_le32(e + VUP_USED_ELEM_LEN, len);
	int rc = vup__svq_used_write(
	        q, VUP_GW_USED_ELEM,
	        vup_used_slot_off(q->g_used & (q->cfg.num - 1)), e, sizeof(e));
	if (rc == 0)
		q->g_used++;
	return rc;
}

/* Elements before the index: the guest reads them after it. */
int vup__svq_publish_used(struct vup_svq *q)
{
	uint8_t b[2];
	vup_put_le16(b, q->g_used);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	return vup__svq_used_write(q, VUP_GW_USED_IDX, VUP_USED_OFF_IDX, b, 2);
}

/* ---- the chain walk (guest descriptors, bounded) ---- */

static bool read_desc(struct vup_svq *q, enum vup_addr_space as, uint64_t base,
                      uint32_t i, struct vup_svq_seg *s, uint16_t *flags,
                      uint16_t *next)
{
	uint8_t d[VUP_DESC_SIZE];
	if (!vup_guest_read(q->gmem, as, base + (uint64_t)VUP_DESC_SIZE * i, d,
	                    sizeof(d)))
		return false;
	s->addr = vup_desc_addr(d);
	s->len = vup_desc_len(d);
	*flags = vup_sdesc_flags(d);
	*next = vup_sdesc_next(d);
	s->write = *flags & VUP_DESC_F_WRITE;
	return true;
}

static const char *add_seg(struct vup_svq *q, struct walk *w,
                           const struct vup_svq_seg *s)
{
	uint8_t probe;
	if (w->nseg >= VUP_SVQ_MAX_CHAIN)
		return "more than 1024 descriptors in the chain";
	if (s->len == 0)
		return "zero-length descriptor";
	if ((uint64_t)s->len - 1 > UINT64_MAX - s->addr)
		return "descriptor wraps the address space";
	if (!s->write && w->seen_write)
		return "device-readable descriptor after a writable one";
	if (!vup_guest_read(q->gmem, VUP_AS_GPA, s->addr, &probe, 1) ||
	    !vup_guest_read(q->gmem, VUP_AS_GPA, s->addr + s->len - 1, &probe,
	                    1))
		return "buffer outside guest memory";
	w->seen_write |= s->write;
	*(s->write ? &w->wr : &w->rd) += s->len;
	if (w->rd + w->wr > UINT32_MAX)
		return "chain longer than 4 GiB";
	q->p->seg[w->nseg++] = *s;
	return NULL;
}

/* The descriptors of an indirect table (GPA), all of them data. */
const char *vup__svq_walk_table(struct vup_svq *q, struct walk *w)
{
	struct vup_svq_seg s;
	uint16_t flags, next;
	uint32_t n = w->ind_len / VUP_DESC_SIZE, i = 0;
	if (w->ind_len == 0 || w->ind_len % VUP_DESC_SIZE)
		return "indirect table length not a multiple of 16";
	if (n > VUP_SVQ_MAX_CHAIN)
		return "indirect table of more than 1024 descriptors";
	/* The whole table, as a back-end will map it. */
	uint8_t probe;
	if ((uint64_t)w->ind_len - 1 > UINT64_MAX - w->ind_addr ||
	    !vup_guest_read(q->gmem, VUP_AS_GPA, w->ind_addr, &probe, 1) ||
	    !vup_guest_read(q->gmem, VUP_AS_GPA, w->ind_addr + w->ind_len - 1,
	                    &probe, 1))
		return "indirect table outside guest memory";
	for (uint32_t count = 0;; count++) {
		if (count >= n)
			return "loop in the indirect table";
		if (!read_desc(q, VUP_AS_GPA, w->ind_addr, i, &s, &flags,
		               &next))
			return "indirect table outside guest memory";
		if (flags & VUP_DESC_F_INDIRECT)
			return "indirect descriptor inside an indirect table";
		const char *why = add_seg(q, w, &s);
		if (why)
			return why;
		if (!(flags & VUP_DESC_F_NEXT))
			return NULL;
		if (next >= n)
			return "next past the indirect table";
		i = next;
	}
}

const char *vup__svq_walk(struct vup_svq *q, uint16_t head, struct walk *w)
{
	struct vup_svq_seg s;
	uint16_t flags, next;
	uint32_t num = q->cfg.num, i = head;
	*w = (struct walk){0};
	if (head >= num)
		return "head index past the ring";
	for (uint32_t count = 0;; count++) {
		if (count >= num)
			return "loop in the descriptor chain";
		if (!read_desc(q, VUP_AS_UADDR, q->cfg.desc, i, &s, &flags,
		               &next))
			return "descriptor table outside guest memory";
		if (flags & VUP_DESC_F_INDIRECT) {
			if (!q->indirect)
				return "indirect descriptor without "
				       "INDIRECT_DESC";
			if (count || (flags & VUP_DESC_F_NEXT))
				return "indirect descriptor not alone in its "
				       "chain";
			w->indirect = true;
			w->ind_addr = s.addr;
			w->ind_len = s.len;
			return vup__svq_walk_table(q, w);
		}
		const char *why = add_seg(q, w, &s);
		if (why)
			return why;
		if (!(flags & VUP_DESC_F_NEXT))
			return NULL;
		if (next >= num)
			return "next past the descriptor table";
		i = next;
	}
}

/* ---- set-up ---- */

int vup_svq_init(struct vup_svq *q, const struct vup_svq_config *cfg,
                 const struct vup_guest_mem *gmem, struct vup_gwrite *gw,
                 char *err, size_t errlen)
{
	uint32_t num = cfg->num;
	memset(q, 0, sizeof(*q));
	if (num == 0 || num > VUP_VRING_MAX_NUM || (num & (num - 1))) {
		snprintf(err, errlen,
		         "ring size %" PRIu32 " is not a power of 2 "
		         "up to 32768",
		         num);
		return -EINVAL;
	}
	if (!cfg->shadow || ((uintptr_t)cfg->shadow & 15)) {
		snprintf(err, errlen, "shadow memory missing or not aligned");
		return -EINVAL;
	}
	struct vup_svq_priv *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->g_state = calloc(num, 1);
	p->s_state = calloc(num, 1);
	p->s_ind = calloc(num, 1);
	p->g_sh = calloc(num, 2);
	p->g_aidx = calloc(num, 2);
	p->held_prev = calloc(num, 2);
	p->held_next = calloc(num, 2);
	p->a_head = calloc(num, 2);
	p->s_next = calloc(num, 2);
	p->s_g = calloc(num, 2);
	p->s_pos = calloc(num, 2);
	p->s_ndesc = calloc(num, 2);
	p->s_seg = calloc(num, sizeof(*p->s_seg));
	q->p = p;
	if (!p->g_state || !p->s_state || !p->s_ind || !p->g_sh || !p->g_aidx ||
	    !p->held_prev || !p->held_next || !p->a_head || !p->s_next ||
	    !p->s_g || !p->s_pos || !p->s_ndesc || !p->s_seg) {
		vup_svq_free(q);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	q->cfg = *cfg;
	q->gmem = gmem;
	q->gw = gw;
	q->event_idx = cfg->features >> VUP_F_EVENT_IDX & 1;
	q->indirect = cfg->features >> VUP_F_INDIRECT_DESC & 1;
	q->g_avail = q->g_used = q->g_signalled = cfg->base;
	q->s_avail = q->s_used = q->s_kicked = cfg->base;
	for (uint32_t i = 0; i < num; i++)
		p->s_next[i] = (uint16_t)(i + 1 < num ? i + 1 : VUP_SVQ_NONE);
	p->free_head = 0;
	p->nfree = num;
	p->held_first = p->held_last = VUP_SVQ_NONE;
	p->kicks_on = p->calls_on = true;
	memset(cfg->shadow, 0, vup_svq_shadow_size(num));
	vup__svq_sh_store(q, vup__svq_off_avail(num) + VUP_AVAIL_OFF_IDX,
	                  cfg->base);
	vup__svq_sh_store(q, vup__svq_off_used(num) + VUP_USED_OFF_IDX,
	                  cfg->base);
	return 0;
}

void vup_svq_free(struct vup_svq *q)
{
	struct vup_svq_priv *p = q->p;
	if (!p)
		return;
	free(p->g_state);
	free(p->s_state);
	free(p->s_ind);
	free(p->g_sh);
	free(p->g_aidx);
	free(p->held_prev);
	free(p->held_next);
	free(p->a_head);
	free(p->s_next);
	free(p->s_g);
	free(p->s_pos);
	free(p->s_ndesc);
	free(p->s_seg);
	free(p);
	q->p = NULL;
}

/* ---- shadow chains ---- */

/* Writes the walked chain (q->p->seg) as shadow descriptors; returns the
 * shadow head or VUP_SVQ_NONE when the free list is short (a guest that offers
 * one descriptor in two chains). */
static uint16_t shadow_write(struct vup_svq *q, const struct walk *w,
                             uint16_t ghead)
{
	struct vup_svq_priv *p = q->p;
	uint32_t n = w->indirect ? 1 : w->nseg;
	if (n > p->nfree)
		return VUP_SVQ_NONE;
	uint16_t head = p->free_head, i = head;
	for (uint32_t k = 0; k < n; k++) {
		uint16_t next = p->s_next[i];
		struct vup_svq_seg s =
		        w->indirect ? (struct vup_svq_seg){w->ind_addr,
		                                           w->ind_len, false}
		                    : p->seg[k];
		uint16_t flags = (uint16_t)(s.write ? VUP_DESC_F_WRITE : 0);
		if (w->indirect)
			flags = VUP_DESC_F_INDIRECT;
		if (k + 1 < n)
			flags |= VUP_DESC_F_NEXT;
		vup_sdesc_put(q->cfg.shadow + (uint64_t)VUP_DESC_SIZE * i,
		              s.addr, s.len, flags, k + 1 < n ? next : 0);
		p->s_seg[i] = s;
		if (k + 1 < n)
			i = next;
		else
			p->free_head = next;
	}
	p->nfree -= n;
	p->s_ndesc[head] = (uint16_t)n;
	p->s_ind[head] = w->indirect;
	p->s_g[head] = ghead;
	return head;
}

void vup__svq_shadow_release(struct vup_svq *q, uint16_t head, uint8_t state)
{
	struct vup_svq_priv *p = q->p;
	uint16_t i = head;
	for (uint32_t k = 1; k < p->s_ndesc[head]; k++)
		i = p->s_next[i];
	p->s_next[i] = p->free_head;
	p->free_head = head;
	p->nfree += p->s_ndesc[head];
	p->s_state[head] = state;
}

static void shadow_offer(struct vup_svq *q, uint16_t sh)
{
	struct vup_svq_priv *p = q->p;
	uint32_t num = q->cfg.num;
	vup__svq_sh_store(q,
	                  vup__svq_off_avail(num) +
	                          vup_avail_slot_off(q->s_avail & (num - 1)),
	                  sh);
	p->s_pos[sh] = q->s_avail++;
	p->s_state[sh] = S_FLIGHT;
	p->g_state[p->s_g[sh]] = G_FLIGHT;
	p->s_inflight++;
	q->st.forwarded++;
}

static void publish_avail(struct vup_svq *q)
{
	/* The entries and descriptors before the index (release). */
	vup__svq_sh_store(q, vup__svq_off_avail(q->cfg.num) + VUP_AVAIL_OFF_IDX,
	                  q->s_avail);
}

static void held_unlink(struct vup_svq_priv *p, uint16_t h)
{
	uint16_t a = p->held_prev[h], b = p->held_next[h];
	*(a == VUP_SVQ_NONE ? &p->held_first : &p->held_next[a]) = b;
	*(b == VUP_SVQ_NONE ? &p->held_last : &p->held_prev[b]) = a;
}

static void held_append(struct vup_svq_priv *p, uint16_t h)
{
	p->held_prev[h] = p->held_last;
	p->held_next[h] = VUP_SVQ_NONE;
	*(p->held_last == VUP_SVQ_NONE ? &p->held_first
	                               : &p->held_next[p->held_last]) = h;
	p->held_last = h;
}

/* ---- pull: guest avail -> shadow avail ---- */

static int pull_one(struct vup_svq *q, uint16_t t, vup_svq_avail_fn fn,
                    void *ctx)
{
	struct vup_svq_priv *p = q->p;
	uint32_t num = q->cfg.num;
	uint16_t head;
	struct walk w;
	if (!vup__svq_read16(
	            q, q->cfg.avail + vup_avail_slot_off(t & (num - 1)), &head))
		return vup__svq_halt(q, &q->st.bad_access,
		                     "avail entry %u unreadable", t);
	const char *why = vup__svq_walk(q, head, &w);
	if (!why && p->g_state[head] != G_FREE)
		why = "head offered again while in flight";
	if (why)
		return vup__svq_halt(q, &q->st.bad_chain,
		                     "avail %u head %u: %s", t, head, why);
	struct vup_svq_chain c = {
	        head,   t,      w.indirect,     false,
	        w.nseg, p->seg, (uint32_t)w.rd, (uint32_t)w.wr};
	enum vup_svq_verdict v = fn ? fn(ctx, &c) : VUP_SVQ_FORWARD;
	q->st.pulled++;
	p->a_head[t & (num - 1)] = head;
	p->g_aidx[head] = t;
	q->g_avail = (uint16_t)(t + 1);
	if (v == VUP_SVQ_DROP) {
		q->st.dropped++;
		return vup__svq_used_elem(q, head, 0);
	}
	uint16_t sh = shadow_write(q, &w, head);
	if (sh == VUP_SVQ_NONE)
		return vup__svq_halt(
		        q, &q->st.bad_chain,
		        "avail %u head %u: more descriptors in flight than "
		        "the ring holds (descriptors shared by two chains)",
		        t, head);
	p->g_sh[head] = sh;
	if (v == VUP_SVQ_HOLD) {
		q->st.held++;
		p->s_state[sh] = S_HELD;
		p->g_state[head] = G_HELD;
		held_append(p, head);
		return 0;
	}
	shadow_offer(q, sh);
	return 0;
}

int vup_svq_pull(struct vup_svq *q, vup_svq_avail_fn fn, void *ctx)
{
	uint16_t idx;
	if (q->stopped)
		return -EPROTO;
	if (!vup__svq_read16(q, q->cfg.avail + VUP_AVAIL_OFF_IDX, &idx))
		return vup__svq_halt(q, &q->st.bad_access,
		                     "avail index unreadable");
	__atomic_thread_fence(__ATOMIC_ACQUIRE); /* entries after the index */
	uint16_t n = (uint16_t)(idx - q->g_avail);
	if (n > q->cfg.num)
		return vup__svq_halt(
		        q, &q->st.bad_index,
		        "avail index jumped from %u to %u (ring of %" PRIu32
		        ")",
		        q->g_avail, idx, q->cfg.num);
	uint16_t used0 = q->g_used, avail0 = q->s_avail;
	int rc = 0, done = 0;
	for (; done < n && rc == 0; done++)
		rc = pull_one(q, (uint16_t)(q->g_avail), fn, ctx);
	if (q->s_avail != avail0)
		publish_avail(q);
	if (q->g_used != used0 && vup__svq_publish_used(q) < 0)
		rc = -EPROTO;
	if (rc == 0 && done && vup__svq_avail_event(q) < 0)
		rc = -EPROTO;
	return rc < 0 ? rc : done;
}

int vup_svq_release(struct vup_svq *q, uint16_t head, enum vup_svq_verdict v)
{
	struct vup_svq_priv *p = q->p;
	if (q->stopped)
		return -EPROTO;
	if (head >= q->cfg.num || p->g_state[head] != G_HELD)
		return -ENOENT;
	held_unlink(p, head);
	uint16_t sh = p->g_sh[head];
	if (v == VUP_SVQ_DROP) {
		vup__svq_shadow_release(q, sh, S_FREE);
		p->g_state[head] = G_FREE;
		q->st.dropped++;
		if (vup__svq_used_elem(q, head, 0) < 0)
			return -EPROTO;
		return vup__svq_publish_used(q) < 0 ? -EPROTO : 0;
	}
	shadow_offer(q, sh);
	publish_avail(q);
	return 0;
}

int vup_svq_release_all(struct vup_svq *q)
{
	int n = 0;
	if (q->stopped)
		return -EPROTO;
	for (uint16_t h = q->p->held_first; h != VUP_SVQ_NONE;
	     h = q->p->held_first) {
		held_unlink(q->p, h);
		shadow_offer(q, q->p->g_sh[h]);
		n++;
	}
	if (n)
		publish_avail(q);
	return n;
}
