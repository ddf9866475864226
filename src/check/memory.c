/* memory: the rows of the memory table (overlap, slots, removal of what
 * was never added, a region past the end of its fd), of the dirty log
 * (too small for the table) and of ring addresses (before any table,
 * outside every region, running past the end of one), read from the
 * model's regions after it was fed. */
#include <stdio.h>

#include "internal.h"
#include "vuproxy/pcapng.h"
#include "vuproxy/ring_layout.h"

#define LOG_PAGE 4096u /* VHOST_LOG_PAGE: one bit of the log each */

static bool overlap(const struct vup_model_region *a,
                    const struct vup_model_region *b)
{
	return a->size && b->size && a->gpa < b->gpa + b->size &&
	       b->gpa < a->gpa + a->size;
}

static void table_rows(struct vup_checker *c, const struct vup_model *m,
                       const struct vup_view *v, uint64_t frame,
                       struct vup_check_findings *out)
{
	const struct vup_model_region *r;
	unsigned n = vup_model_regions(m, &r);
	for (unsigned i = 0; i < n; i++)
		for (unsigned k = i + 1; k < n; k++)
			if (overlap(&r[i], &r[k])) {
				vup__check_add(
				        out, c, VUP_CHECK_OVERLAP, v, frame,
				        "region %u (gpa 0x%llx size 0x%llx) "
				        "overlaps region %u (gpa 0x%llx size "
				        "0x%llx)",
				        i, (unsigned long long)r[i].gpa,
				        (unsigned long long)r[i].size, k,
				        (unsigned long long)r[k].gpa,
				        (unsigned long long)r[k].size);
				goto slots;
			}
	slots:
	if (c->have_slots && n > c->slots)
		vup__check_add(out, c, VUP_CHECK_SLOTS, v, frame,
		               "%u regions; GET_MAX_MEM_SLOTS said %llu", n,
		               (unsigned long long)c->slots);
}

/* The region holding user address ua, or -1. */
static int region_of(const struct vup_model_region *r, unsigned n, uint64_t ua)
{
	for (unsigned i = 0; i < n; i++)
		if (ua >= r[i].uaddr && ua - r[i].uaddr < r[i].size)
			return (int)i;
	return -1;
}

/* Bytes of each ring area (desc, used, avail) as DPDK's
 * translate_ring_addresses maps them; 0 when the size is unknown. */
static void area_lens(const struct vup_model *m, uint64_t index,
                      uint64_t len[3])
{
	len[0] = len[1] = len[2] = 0;
	if (index >= VUP_MODEL_VRINGS) /* past the model's rings: VU017 */
		return;
	const struct vup_model_vring *ring =
	        vup_model_vring(m, (uint32_t)index);
	if (!ring || !ring->have_num || !ring->num)
		return;
	uint64_t f = vup_model_neg(m)->features;
	uint32_t num = ring->num;
	len[0] = vup_desc_table_size(num);
	if (f & (1ull << VUP_F_RING_PACKED)) { /* event suppression areas */
		len[1] = len[2] = 4;
		return;
	}
	uint64_t ev = f & (1ull << VUP_F_EVENT_IDX) ? 2 : 0;
	len[1] = vup_used_slot_off(num) + ev;
	len[2] = vup_avail_slot_off(num) + ev;
}

static void addr_rows(struct vup_checker *c, const struct vup_model *m,
                      const struct vup_view *v, uint64_t frame,
                      struct vup_check_findings *out)
{
	static const struct {
		enum vup_field_id id;
		const char *name;
	} f[] = {{VUP_FLD_VRING_ADDR_DESC, "desc"},
	         {VUP_FLD_VRING_ADDR_USED, "used"},
	         {VUP_FLD_VRING_ADDR_AVAIL, "avail"}};
	uint64_t index = 0, a, len[3];
	vup_view_get(v, VUP_FLD_VRING_ADDR_INDEX, &index);
	const struct vup_model_region *r;
	unsigned n = vup_model_regions(m, &r);
	if (!n) {
		vup__check_add(out, c, VUP_CHECK_ADDR_BEFORE_TABLE, v, frame,
		               "addresses of vring %llu before any memory "
		               "table",
		               (unsigned long long)index);
		return;
	}
	/* With ACCESS_PLATFORM the addresses are IOVAs, not user
	 * addresses: the IOTLB, not the table, translates them. */
	if (vup_model_neg(m)->features & (1ull << VUP_F_ACCESS_PLATFORM))
		return;
	area_lens(m, index, len);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (!vup_view_get(v, f[i].id, &a))
			continue;
		int k = region_of(r, n, a);
		if (k < 0) {
			vup__check_add(out, c, VUP_CHECK_ADDR_OUTSIDE, v, frame,
			               "vring %llu %s 0x%llx lies in none of "
			               "the %u regions",
			               (unsigned long long)index, f[i].name,
			               (unsigned long long)a, n);
			return;
		}
		uint64_t room = r[k].size - (a - r[k].uaddr);
		if (len[i] > room) {
			vup__check_add(
			        out, c, VUP_CHECK_RING_PAST_REGION, v, frame,
			        "vring %llu %s 0x%llx: %llu bytes, region "
			        "%d (uaddr 0x%llx size 0x%llx) has %llu "
			        "left",
			        (unsigned long long)index, f[i].name,
			        (unsigned long long)a,
			        (unsigned long long)len[i], k,
			        (unsigned long long)r[k].uaddr,
			        (unsigned long long)r[k].size,
			        (unsigned long long)room);
			return;
		}
	}
}

/* Region slot of the model against fd i of v: the fd's size, where the
 * trace knows it (memfd, shm, file). */
static void fd_short(struct vup_checker *c, const struct vup_model *m,
                     const struct vup_view *v, unsigned slot, unsigned fd,
                     uint64_t frame, struct vup_check_findings *out)
{
	const struct vup_model_region *r;
	unsigned n = vup_model_regions(m, &r);
	if (slot >= n || fd >= v->nfds || !v->fd_info)
		return;
	const struct vup_fd_info *fi = &v->fd_info[fd];
	uint64_t have = fi->size;
	if ((fi->kind != VUP_FDK_MEMFD && fi->kind != VUP_FDK_SHM &&
	     fi->kind != VUP_FDK_FILE) ||
	    have == 0)
		return;
	if (r[slot].size <= have && r[slot].mmap_offset <= have - r[slot].size)
		return;
	vup__check_add(out, c, VUP_CHECK_FD_SHORT, v, frame,
	               "region %u (gpa 0x%llx size 0x%llx) at mmap_offset "
	               "0x%llx ends past its %s of 0x%llx bytes",
	               slot, (unsigned long long)r[slot].gpa,
	               (unsigned long long)r[slot].size,
	               (unsigned long long)r[slot].mmap_offset,
	               vup_fd_kind_name(fi->kind), (unsigned long long)have);
}

/* The log needs one bit per page up to the highest guest address of the
 * table (the spec's pseudo-code: log[page / 8]). */
static void log_small(struct vup_checker *c, const struct vup_model *m,
                      const struct vup_view *v, uint64_t frame,
                      struct vup_check_findings *out)
{
	uint64_t size, off, end = 0;
	if (!vup_model_log(m, &size, &off))
		return;
	const struct vup_model_region *r;
	unsigned n = vup_model_regions(m, &r);
	for (unsigned i = 0; i < n; i++)
		if (r[i].size && r[i].gpa + r[i].size > end)
			end = r[i].gpa + r[i].size;
	if (!end)
		return;
	uint64_t need = (end - 1) / LOG_PAGE / 8 + 1;
	if (size >= need)
		return;
	vup__check_add(out, c, VUP_CHECK_LOG_SMALL, v, frame,
	               "log of 0x%llx bytes; the memory reaches gpa 0x%llx "
	               "and needs 0x%llx",
	               (unsigned long long)size, (unsigned long long)end - 1,
	               (unsigned long long)need);
}

void vup__check_memory(struct vup_checker *c, const struct vup_model *m,
                       const struct vup_view *v,
                       const struct vup_model_events *ev, uint64_t frame,
                       struct vup_check_findings *out)
{
	for (unsigned i = 0; ev && i < ev->n; i++) {
		enum vup_model_event_kind k = ev->e[i].kind;
		if (k == VUP_EV_MEM_TABLE || k == VUP_EV_MEM_ADDED)
			table_rows(c, m, v, frame, out);
		for (unsigned s = 0;
		     k == VUP_EV_MEM_TABLE && s < ev->e[i].index; s++)
			fd_short(c, m, v, s, s, frame, out);
		if (k == VUP_EV_MEM_ADDED)
			fd_short(c, m, v, ev->e[i].index, 0, frame, out);
		/* QEMU grows the log before the table ("To log more,
		 * must increase log size before table update"). */
		if ((k == VUP_EV_MEM_TABLE || k == VUP_EV_MEM_ADDED) &&
		    (vup_model_neg(m)->features & (1ull << VUP_F_LOG_ALL)))
			log_small(c, m, v, frame, out);
		if (k == VUP_EV_LOG_BASE)
			log_small(c, m, v, frame, out);
		/* A readable REM_MEM_REG that matched nothing. */
		if (k == VUP_EV_MEM_UNREADABLE &&
		    v->hdr.request == VUP_REQ_REM_MEM_REG && v->fits) {
			uint64_t gpa = 0, size = 0;
			vup_view_get(v, VUP_FLD_MEM_REG_GPA, &gpa);
			vup_view_get(v, VUP_FLD_MEM_REG_SIZE, &size);
			vup__check_add(out, c, VUP_CHECK_REM_UNKNOWN, v, frame,
			               "REM_MEM_REG of gpa 0x%llx size 0x%llx: "
			               "no such region",
			               (unsigned long long)gpa,
			               (unsigned long long)size);
		}
	}
	if (v->hdr.request == VUP_REQ_SET_VRING_ADDR && v->fits)
		addr_rows(c, m, v, frame, out);
}
