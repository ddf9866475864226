/* active_step: --active's rewrites of control messages (see active.h).
 * Pure: bytes in, bytes out; the fds are numbers the adapter prepared. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "active.h"
#include "vuproxy/bits.h"

uint64_t vup_active_features_hidden(void)
{
	return 1ull << VUP_F_RING_PACKED | 1ull << VUP_F_IN_ORDER;
}

uint64_t vup_active_protocol_hidden(void)
{
	return 1ull << VUP_PF_HOST_NOTIFIER |
	       1ull << VUP_PF_INBAND_NOTIFICATIONS | 1ull << VUP_PF_PAGEFAULT |
	       1ull << VUP_PF_INFLIGHT_SHMFD |
	       1ull << VUP_PF_CONFIGURE_MEM_SLOTS;
}

void vup_active_init(struct vup_active *a)
{
	memset(a, 0, sizeof(*a));
	a->size = VUP_ACTIVE_REGION_SIZE;
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return x > UINT64_MAX - (a - 1) ? 0 : (x + a - 1) & ~(a - 1);
}

int vup_active_place(struct vup_active *a, uint32_t idx, uint64_t size,
                     uint64_t *off, char *why, size_t whylen)
{
	if (idx >= VUP_MODEL_VRINGS) {
		snprintf(why, whylen, "vring %" PRIu32 ": no such vring", idx);
		return -ENOSPC;
	}
	struct vup_active_place *p = &a->ring[idx];
	if (p->placed && size <= p->size) {
		*off = p->off;
		return 0;
	}
	/* A ring that grew takes new room: the old stays (a bump
	 * allocator; a reset starts again). */
	uint64_t at = align_up(a->next_off, 4096);
	if (size > a->size || at > a->size - size) {
		snprintf(why, whylen,
		         "vring %" PRIu32 ": its shadow ring needs %" PRIu64
		         " bytes, the shadow region has %" PRIu64 " of %" PRIu64
		         " left",
		         idx, size, at < a->size ? a->size - at : 0, a->size);
		return -ENOSPC;
	}
	*p = (struct vup_active_place){.off = at, .size = size, .placed = true};
	a->next_off = at + size;
	*off = at;
	return 0;
}

void vup_active_region(struct vup_active *a, const struct vup_model_region *r,
                       unsigned n)
{
	uint64_t gpa_end = 0, ua_end = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t ge = r[i].gpa + r[i].size, ue = r[i].uaddr + r[i].size;
		gpa_end = ge > gpa_end ? ge : gpa_end;
		ua_end = ue > ua_end ? ue : ua_end;
	}
	if (a->have_region && a->gpa >= gpa_end && a->uaddr >= ua_end)
		return; /* the rings the back-end holds stay where they are */
	a->gpa = align_up(gpa_end, VUP_ACTIVE_REGION_ALIGN);
	a->uaddr = align_up(ua_end, VUP_ACTIVE_REGION_ALIGN);
	a->have_region = true;
}

static void to_passthrough(struct vup_active *a, struct vup_active_out *out,
                           const char *why)
{
	a->passthrough = true;
	out->to_passthrough = true;
	snprintf(out->why, sizeof(out->why), "%s", why);
}

/* What cannot be shadowed (what): a session not shadowed yet goes to
 * passthrough; one whose table already carries the shadow region cannot
 * (the back-end's rings are in it): the message is refused and the
 * session fails. */
static void cannot_shadow(struct vup_active *a, struct vup_active_out *out,
                          const char *what)
{
	char w[256];
	if (!a->have_region) {
		snprintf(w, sizeof(w), "%.200s: the session is not shadowed",
		         what);
		to_passthrough(a, out, w);
		return;
	}
	out->refuse = true;
	snprintf(out->why, sizeof(out->why),
	         "%.180s: the session is shadowed already, it cannot go back "
	         "to passthrough",
	         what);
}

static void put_u64(uint8_t *p, uint64_t x)
{
	memcpy(p, &x, 8);
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t x;
	memcpy(&x, p, 8);
	return x;
}

/* The back-end's offers, with what cannot be shadowed hidden. */
static void offers(struct vup_active *a, const struct vup_view *v,
                   struct vup_msg *m, struct vup_active_out *out)
{
	if (m->hdr.size != 8)
		return; /* the checker's business */
	uint64_t bits = get_u64(m->payload), hide;
	if (v->hdr.request == VUP_REQ_GET_FEATURES) {
		if (bits >> VUP_F_ACCESS_PLATFORM & 1) {
			cannot_shadow(a, out,
			              "the back-end offers "
			              "VIRTIO_F_ACCESS_PLATFORM (an IOMMU)");
			return;
		}
		hide = vup_active_features_hidden();
	} else {
		hide = vup_active_protocol_hidden();
	}
	if (!(bits & hide))
		return;
	put_u64(m->payload, bits & ~hide);
	out->rewritten = true;
}

/* SET_MEM_TABLE: the shadow region appended, io->fd its fd. */
static void mem_table(struct vup_active *a, struct vup_msg *m,
                      struct vup_active_io *io, struct vup_active_out *out)
{
	struct vup_model_region r[VUP_MEM_TABLE_MAX_REGIONS];
	unsigned n;
	char why[200];
	if (vup_model_parse_table(m->payload, m->hdr.size, false,
	                          VUP_MEM_TABLE_MAX_REGIONS, r, &n, why,
	                          sizeof(why)) < 0 ||
	    n != m->nfds) {
		cannot_shadow(a, out,
		              "SET_MEM_TABLE is no plain table of regions with "
		              "one fd each (XEN_MMAP?)");
		return;
	}
	if (n >= VUP_ACTIVE_MAX_REGIONS) {
		char w[200];
		snprintf(w, sizeof(w),
		         "SET_MEM_TABLE already has %u regions, no slot is "
		         "left for the shadow rings",
		         n);
		cannot_shadow(a, out, w);
		return;
	}
	if (io->fd < 0) { /* the adapter could not map it writable */
		out->refuse = true;
		snprintf(out->why, sizeof(out->why),
		         "SET_MEM_TABLE: the guest's memory cannot be mapped "
		         "writable by vuproxy");
		return;
	}
	vup_active_region(a, r, n);
	uint8_t *p = m->payload + 8 + 32u * n;
	put_u64(p, a->gpa);
	put_u64(p + 8, a->size);
	put_u64(p + 16, a->uaddr);
	put_u64(p + 24, 0);
	uint32_t n1 = n + 1;
	memcpy(m->payload, &n1, 4);
	m->hdr.size += 32;
	out->fd_slot = (int)m->nfds;
	m->fds[m->nfds++] = io->fd;
	out->fd_taken = true;
	out->rewritten = true;
}

/* SET_VRING_KICK / CALL: vuproxy's eventfd instead of the peer's. */
static void vring_fd(struct vup_msg *m, struct vup_active_io *io,
                     struct vup_active_out *out)
{
	if (io->fd < 0 || m->nfds != 1)
		return;
	out->kept_fd = m->fds[0];
	out->fd_slot = 0;
	m->fds[0] = io->fd;
	out->fd_taken = true;
	out->rewritten = true;
}

static void vring_addr(struct vup_msg *m, const struct vup_active_io *io,
                       struct vup_active_out *out)
{
	/* {u32 index, u32 flags, u64 desc, used, avail, log}: log stays */
	if (!io->have_addrs || m->hdr.size < 40)
		return;
	put_u64(m->payload + 8, io->desc);
	put_u64(m->payload + 16, io->used);
	put_u64(m->payload + 24, io->avail);
	out->rewritten = true;
}

static void vring_base_reply(struct vup_msg *m, const struct vup_active_io *io,
                             struct vup_active_out *out)
{
	const struct vup_field *f = &vup_fields[VUP_FLD_VRING_BASE_NUM];
	uint64_t num;
	if (!io->have_base ||
	    !vup_field_get(f, m->payload, m->hdr.size, &num) || num == io->base)
		return;
	vup_field_set(f, m->payload, m->hdr.size, io->base);
	out->rewritten = true;
}

bool vup_active_rewrite(struct vup_active *a, const struct vup_view *v,
                        struct vup_msg *m, struct vup_active_io *io,
                        struct vup_active_out *out)
{
	*out = (struct vup_active_out){.kept_fd = -1, .fd_slot = -1};
	if (a->passthrough || v->chan != VUP_CHAN_MAIN)
		return false;
	if (io->fail[0]) {
		out->refuse = true;
		snprintf(out->why, sizeof(out->why), "%s", io->fail);
		return false;
	}
	uint32_t req = v->hdr.request;
	if (v->reply) {
		if (v->from != VUP_BACKEND)
			return false;
		if (req == VUP_REQ_GET_FEATURES ||
		    req == VUP_REQ_GET_PROTOCOL_FEATURES)
			offers(a, v, m, out);
		else if (req == VUP_REQ_GET_VRING_BASE)
			vring_base_reply(m, io, out);
		return out->rewritten;
	}
	if (v->from != VUP_FRONTEND)
		return false;
	switch (req) {
	case VUP_REQ_SET_MEM_TABLE: mem_table(a, m, io, out); break;
	case VUP_REQ_SET_VRING_ADDR: vring_addr(m, io, out); break;
	case VUP_REQ_SET_VRING_KICK:
	case VUP_REQ_SET_VRING_CALL: vring_fd(m, io, out); break;
	default: break;
	}
	return out->rewritten;
}
