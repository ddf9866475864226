/* control: `show N`, one session's model as JSON, with each split ring's
 * live indices read from guest memory: through the tap's mirror, or the
 * session's kept region fds (keepmem.c) mapped read-only when asked. */
#include <string.h>

#include "internal.h"
#include "vuproxy/bits.h"
#include "vuproxy/control.h"
#include "vuproxy/le.h"
#include "vuproxy/memmap.h"
#include "vuproxy/model.h"

static void names(struct vup_jw *w, const char *key, uint64_t bits,
                  bool protocol)
{
	vup_jw_key(w, key);
	vup_jw_arr(w);
	for (unsigned b = 0; b < VUP_FEATURE_WORD_BITS; b++) {
		if (!(bits >> b & 1))
			continue;
		const char *n = protocol ? vup_protocol_feature_name(b)
		                         : vup_feature_name(b);
		char unnamed[16];
		if (!n) {
			snprintf(unnamed, sizeof(unnamed), "bit %u", b);
			n = unnamed;
		}
		vup_jw_str(w, n);
	}
	vup_jw_end(w);
}

static void features(struct vup_jw *w, const char *key,
                     const struct vup_model *m, bool protocol, uint64_t acked)
{
	uint64_t offered;
	bool have = vup_model_offered(m, protocol, &offered);
	vup_jw_key(w, key);
	vup_jw_obj(w);
	if (have)
		names(w, "offered", offered, protocol);
	names(w, "acked", acked, protocol);
	vup_jw_key(w, "offered_hex");
	if (have)
		vup_jw_hex(w, offered);
	else
		vup_jw_null(w);
	vup_jw_khex(w, "acked_hex", acked);
	vup_jw_end(w);
}

static void memory(struct vup_jw *w, const struct vup_model *m)
{
	const struct vup_model_region *r;
	unsigned n = vup_model_regions(m, &r);
	vup_jw_key(w, "memory");
	vup_jw_arr(w);
	for (unsigned i = 0; i < n; i++) {
		vup_jw_obj(w);
		vup_jw_khex(w, "gpa", r[i].gpa);
		vup_jw_khex(w, "size", r[i].size);
		vup_jw_khex(w, "uaddr", r[i].uaddr);
		vup_jw_khex(w, "mmap_offset", r[i].mmap_offset);
		vup_jw_end(w);
	}
	vup_jw_end(w);
	uint64_t size, offset;
	vup_jw_key(w, "log");
	if (vup_model_log(m, &size, &offset)) {
		vup_jw_obj(w);
		vup_jw_khex(w, "size", size);
		vup_jw_khex(w, "offset", offset);
		vup_jw_end(w);
	} else {
		vup_jw_null(w);
	}
}

static const char *run_name(enum vup_vring_run r)
{
	switch (r) {
	case VUP_VRING_STARTED: return "started";
	case VUP_VRING_STOPPING: return "stopping";
	case VUP_VRING_STOPPED: return "stopped";
	default: return "idle";
	}
}

/* Why the live indices cannot be read, or NULL when they can (nomem:
 * why guest memory is not mapped). */
static const char *live_missing(const struct vup_session *s,
                                const struct vup_model_vring *v,
                                const char *nomem)
{
	const struct vup_negotiated *neg = vup_flow_neg(&s->flow);
	if (nomem)
		return nomem;
	if (vup_model_postcopy(s->flow.model))
		return "postcopy in progress: guest memory is not read";
	if (neg->features >> VUP_F_ACCESS_PLATFORM & 1)
		return "VIRTIO_F_ACCESS_PLATFORM: ring addresses are I/O "
		       "virtual addresses only the IOTLB translates";
	if (neg->features >> VUP_F_RING_PACKED & 1)
		return "packed ring: no avail/used index in memory";
	if (!v->have_addr)
		return "no ring addresses yet";
	return NULL;
}

static void live(struct vup_jw *w, const struct vup_session *s,
                 const struct vup_model_vring *v, const struct vup_memmap *mem,
                 const char *nomem)
{
	const char *why = live_missing(s, v, nomem);
	uint8_t a[2], u[2];
	/* idx follows the u16 flags in both rings (virtio 1.3, 2.7.6 and
	 * 2.7.8); read through the mirror's bounds checks. */
	if (!why && (!vup_memmap_read(mem, VUP_AS_UADDR, v->avail + 2, a, 2) ||
	             !vup_memmap_read(mem, VUP_AS_UADDR, v->used + 2, u, 2)))
		why = "ring addresses outside the mapped guest memory";
	if (why) {
		vup_jw_kstr(w, "live_missing", why);
		return;
	}
	vup_jw_key(w, "live");
	vup_jw_obj(w);
	vup_jw_kuint(w, "avail_idx", vup_le16(a));
	vup_jw_kuint(w, "used_idx", vup_le16(u));
	vup_jw_end(w);
}

static bool was_set_up(const struct vup_model_vring *v)
{
	return v->have_num || v->have_addr || v->have_base || v->kick_fd ||
	       v->call_fd || v->enabled || v->run != VUP_VRING_IDLE;
}

static void vring(struct vup_jw *w, const struct vup_session *s, uint32_t i,
                  const struct vup_model_vring *v, const struct vup_memmap *mem,
                  const char *nomem)
{
	vup_jw_obj(w);
	vup_jw_kuint(w, "index", i);
	vup_jw_kuint(w, "num", v->num);
	vup_jw_khex(w, "desc", v->desc);
	vup_jw_khex(w, "avail", v->avail);
	vup_jw_khex(w, "used", v->used);
	vup_jw_kuint(w, "base", v->base);
	vup_jw_key(w, "stopped_at");
	if (v->run == VUP_VRING_STOPPED)
		vup_jw_uint(w, v->stopped_at);
	else
		vup_jw_null(w);
	vup_jw_kstr(w, "state", run_name(v->run));
	vup_jw_kbool(w, "enabled", v->enabled);
	vup_jw_kbool(w, "kick", v->kick_fd);
	vup_jw_kbool(w, "call", v->call_fd);
	live(w, s, v, mem, nomem);
	vup_jw_end(w);
}

void vup__show_session(struct vup_session *s, struct vup_jw *w)
{
	const struct vup_model *m = s->flow.model;
	const struct vup_negotiated *neg = vup_flow_neg(&s->flow);
	/* The tap's mirror, else the kept region fds mapped now (cached
	 * until the table changes). */
	const char *nomem = NULL;
	const struct vup_memmap *mem = vup_tap_memmap(s->tap);
	if (!mem && !vup_model_postcopy(m))
		mem = vup__keep_map(s, &nomem);
	else if (!mem)
		nomem = "postcopy in progress: guest memory is not read";
	vup_jw_obj(w);
	vup_jw_kuint(w, "session", s->id);
	vup_jw_kstr(w, "state", vup__session_state(s));
	vup_jw_kuint(w, "messages", s->msgs);
	features(w, "features", m, false, neg->features);
	features(w, "protocol_features", m, true, neg->protocol_features);
	uint8_t status;
	vup_jw_key(w, "status");
	if (vup_model_status(m, &status))
		vup_jw_hex(w, status);
	else
		vup_jw_null(w);
	memory(w, m);
	vup_jw_key(w, "vrings");
	vup_jw_arr(w);
	for (uint32_t i = 0; i < VUP_MODEL_VRINGS; i++) {
		const struct vup_model_vring *v = vup_model_vring(m, i);
		if (v && was_set_up(v))
			vring(w, s, i, v, mem, nomem);
	}
	vup_jw_end(w);
	vup_jw_end(w);
}
