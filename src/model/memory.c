/* memory: the session's memory table, from SET_MEM_TABLE, ADD_MEM_REG and
 * REM_MEM_REG, and the one parser of their payloads.
 *
 * In postcopy the back-end answers a table or a region with the table as
 * it mapped it (an echo), and the front-end acknowledges that echo with
 * the same request carrying a u64 0 and no fd: no memory table.  QEMU
 * ends a change of regions with that acknowledgement under the code of
 * its last request, REM_MEM_REG when it only removed some, with no echo
 * before it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static uint32_t region_size(bool xen_mmap)
{
	return xen_mmap ? 40 : 32;
}

static void parse_region(const uint8_t *p, bool xen_mmap,
                         struct vup_model_region *d)
{
	uint32_t rsz = region_size(xen_mmap);
	uint64_t v[VUP_MEM_REGION_FIELDS] = {0};
	for (unsigned k = 0; k < VUP_MEM_REGION_FIELDS; k++)
		vup_field_read(VUP_FLD__FIRST_REGION + k, p, rsz, &v[k]);
	memset(d, 0, sizeof(*d));
	d->gpa = v[0];
	d->size = v[1];
	d->uaddr = v[2];
	d->mmap_offset = v[3];
	if (xen_mmap) {
		memcpy(&d->xen_flags, p + 32, 4);
		memcpy(&d->xen_data, p + 36, 4);
	}
}

int vup_model_parse_table(const uint8_t *p, uint32_t size, bool xen_mmap,
                          unsigned max, struct vup_model_region *out,
                          unsigned *n, char *why, size_t whylen)
{
	uint32_t rsz = region_size(xen_mmap);
	uint64_t nr;
	if (!vup_field_read(VUP_FLD_MEM_TABLE_NREGIONS, p, size, &nr) ||
	    size < 8) {
		snprintf(why, whylen,
		         "SET_MEM_TABLE payload is %u bytes, want at least 8",
		         size);
		return -EINVAL;
	}
	if (nr > max) {
		snprintf(why, whylen,
		         "SET_MEM_TABLE declares %u regions, at most %u",
		         (unsigned)nr, max);
		return -EINVAL;
	}
	if (size != 8 + nr * rsz) {
		snprintf(why, whylen,
		         "SET_MEM_TABLE payload is %u bytes, %u region%s of %u "
		         "bytes need %u",
		         size, (unsigned)nr, nr == 1 ? "" : "s", rsz,
		         (unsigned)(8 + nr * rsz));
		return -EINVAL;
	}
	for (uint32_t i = 0; i < nr; i++)
		parse_region(p + 8 + i * rsz, xen_mmap, &out[i]);
	*n = (unsigned)nr;
	return 0;
}

int vup_model_parse_mem_reg(const char *what, const uint8_t *p, uint32_t size,
                            bool xen_mmap, struct vup_model_region *out,
                            char *why, size_t whylen)
{
	uint32_t want = 8 + region_size(xen_mmap);
	if (size != want) {
		snprintf(why, whylen, "%s payload is %u bytes, want %u", what,
		         size, want);
		return -EINVAL;
	}
	parse_region(p + 8, xen_mmap, out);
	return 0;
}

static bool xen_mmap(const struct vup_model *m)
{
	return m->neg.protocol_features >> VUP_PF_XEN_MMAP & 1;
}

bool vup_model_echo_ack(const struct vup_model *m, const struct vup_view *v)
{
	if (v->chan != VUP_CHAN_MAIN || v->from != VUP_FRONTEND ||
	    v->hdr.size != 8 || v->nfds)
		return false;
	bool after_removal =
	        m->postcopy && v->hdr.request == VUP_REQ_REM_MEM_REG;
	return after_removal || (m->echo && v->hdr.request == m->echo);
}

/* The front-end's acknowledgement of the back-end's echo: it is one. */
static bool is_echo_ack(struct vup_model *m, const struct vup_view *v)
{
	if (!vup_model_echo_ack(m, v))
		return false;
	m->echo = 0;
	return true;
}

static void set_table(struct vup_model *m, const struct vup_view *v,
                      struct vup_model_events *ev)
{
	unsigned n;
	char why[160];
	struct vup_model_region parsed[VUP_MEM_TABLE_MAX_REGIONS];
	if (vup_model_parse_table(v->payload, v->hdr.size, xen_mmap(m),
	                          VUP_MEM_TABLE_MAX_REGIONS, parsed, &n, why,
	                          sizeof(why)) < 0) {
		vup__model_event(ev, VUP_EV_MEM_UNREADABLE, 0, 0);
		return;
	}
	if (!vup__model_regions_room(m, n)) {
		vup__model_event(ev, VUP_EV_MEM_UNREADABLE, 0, 0);
		return;
	}
	if (n)
		memcpy(m->regions, parsed, n * sizeof(parsed[0]));
	m->nregions = n;
	vup__model_event(ev, VUP_EV_MEM_TABLE, n, 0);
}

static void add_region(struct vup_model *m, const struct vup_view *v,
                       struct vup_model_events *ev)
{
	struct vup_model_region r;
	char why[160];
	if (vup_model_parse_mem_reg("ADD_MEM_REG", v->payload, v->hdr.size,
	                            xen_mmap(m), &r, why, sizeof(why)) < 0 ||
	    m->nregions == VUP_MODEL_REGIONS ||
	    !vup__model_regions_room(m, m->nregions + 1)) {
		vup__model_event(ev, VUP_EV_MEM_UNREADABLE, 0, 0);
		return;
	}
	m->regions[m->nregions] = r;
	vup__model_event(ev, VUP_EV_MEM_ADDED, m->nregions++, r.gpa);
}

/* Matched on gpa, size and uaddr like the back-ends (mmap_offset and an
 * fd that comes with it are ignored). */
static void remove_region(struct vup_model *m, const struct vup_view *v,
                          struct vup_model_events *ev)
{
	struct vup_model_region r;
	char why[160];
	if (vup_model_parse_mem_reg("REM_MEM_REG", v->payload, v->hdr.size,
	                            xen_mmap(m), &r, why, sizeof(why)) == 0) {
		for (unsigned i = 0; i < m->nregions; i++) {
			const struct vup_model_region *g = &m->regions[i];
			if (g->gpa != r.gpa || g->size != r.size ||
			    g->uaddr != r.uaddr)
				continue;
			memmove(&m->regions[i], &m->regions[i + 1],
			        (m->nregions - i - 1) * sizeof(r));
			m->nregions--;
			vup__model_event(ev, VUP_EV_MEM_REMOVED, i, r.gpa);
			return;
		}
	}
	vup__model_event(ev, VUP_EV_MEM_UNREADABLE, 0, 0);
}

void vup__model_memory(struct vup_model *m, const struct vup_view *v,
                       struct vup_model_events *ev)
{
	if (is_echo_ack(m, v)) {
		vup__model_event(ev, VUP_EV_MEM_ECHO_ACK, 0, v->hdr.request);
		return;
	}
	switch (v->hdr.request) {
	case VUP_REQ_SET_MEM_TABLE: set_table(m, v, ev); break;
	case VUP_REQ_ADD_MEM_REG: add_region(m, v, ev); break;
	default: remove_region(m, v, ev); break;
	}
}

void vup__model_memory_reply(struct vup_model *m, const struct vup_view *v,
                             struct vup_model_events *ev)
{
	if ((v->hdr.request == VUP_REQ_SET_MEM_TABLE ||
	     v->hdr.request == VUP_REQ_ADD_MEM_REG) &&
	    v->hdr.size > 8) {
		m->echo = v->hdr.request;
		vup__model_event(ev, VUP_EV_MEM_ECHO, 0, v->hdr.request);
	}
}

unsigned vup_model_regions(const struct vup_model *m,
                           const struct vup_model_region **regions)
{
	*regions = m->regions;
	return m->nregions;
}
