/* memory: the rows of the memory table (overlap, slots, removal of what
 * was never added) and of ring addresses (before any table, outside
 * every region), read from the model's regions after it was fed. */
#include <stdio.h>

#include "internal.h"

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

static bool inside(const struct vup_model_region *r, unsigned n, uint64_t ua)
{
	for (unsigned i = 0; i < n; i++)
		if (ua >= r[i].uaddr && ua - r[i].uaddr < r[i].size)
			return true;
	return false;
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
	uint64_t index = 0, a;
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
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (vup_view_get(v, f[i].id, &a) && !inside(r, n, a)) {
			vup__check_add(out, c, VUP_CHECK_ADDR_OUTSIDE, v, frame,
			               "vring %llu %s 0x%llx lies in none of "
			               "the %u regions",
			               (unsigned long long)index, f[i].name,
			               (unsigned long long)a, n);
			return;
		}
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
