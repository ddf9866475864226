/* Internals of the session model (model.c: feeding and queries;
 * replies.c: the replies owed; memory.c: the memory table; vrings.c:
 * the vrings). */
#ifndef VUP_MODEL_INTERNAL_H
#define VUP_MODEL_INTERNAL_H

#include "vuproxy/model.h"

struct owed_fifo {
	struct vup_model_owed q[VUP_MODEL_OWED_MAX];
	unsigned head, count;
};

struct vup_model {
	struct vup_negotiated neg;
	uint64_t offered, protocol_offered;
	bool have_offered, have_protocol_offered;
	uint8_t status;
	bool have_status;
	bool postcopy; /* POSTCOPY_LISTEN until POSTCOPY_END */
	/* The back-end echoed SET_MEM_TABLE / ADD_MEM_REG (postcopy): the
	 * code whose acknowledgement by the front-end (the same request
	 * with a u64 0 and no fd) is still to come; 0 none. */
	uint32_t echo;
	bool have_log;
	uint64_t log_size, log_offset;
	/* Grown as the front-end adds regions and sets vrings up: a session
	 * stuck before its set-up costs little (many may be). */
	unsigned nregions, region_cap;
	struct vup_model_region *regions;
	struct vup_model_vring *vrings[VUP_MODEL_VRINGS];
	struct owed_fifo owed[2]; /* by enum vup_chan */
};

/* Add an event (counted out when the list is full). */
void vup__model_event(struct vup_model_events *ev,
                      enum vup_model_event_kind kind, uint32_t index,
                      uint64_t value);

/* Vring index's state, made on first use; NULL past VUP_MODEL_VRINGS or
 * out of memory. */
struct vup_model_vring *vup__model_vring_at(struct vup_model *m,
                                            uint32_t index);
/* Room for n regions; false when out of memory. */
bool vup__model_regions_room(struct vup_model *m, unsigned n);

/* replies.c: a request owes its reply; a reply pays (the entry it paid,
 * copied to *paid, or false). */
void vup__model_owe(struct vup_model *m, const struct vup_view *v,
                    struct vup_model_events *ev);
bool vup__model_pay(struct vup_model *m, const struct vup_view *v,
                    struct vup_model_owed *paid, struct vup_model_events *ev);

/* memory.c: SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG from the front-end,
 * and the back-end's postcopy echo of them. */
void vup__model_memory(struct vup_model *m, const struct vup_view *v,
                       struct vup_model_events *ev);
void vup__model_memory_reply(struct vup_model *m, const struct vup_view *v,
                             struct vup_model_events *ev);

/* vrings.c: the front-end's vring requests (false: not one), and the
 * back-end's answer to GET_VRING_BASE. */
bool vup__model_vring(struct vup_model *m, const struct vup_view *v,
                      struct vup_model_events *ev);
void vup__model_vring_stopped(struct vup_model *m, const struct vup_view *v,
                              const struct vup_model_owed *paid,
                              struct vup_model_events *ev);

#endif
