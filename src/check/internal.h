/* check: what the engine keeps beyond the session model, and the helpers
 * its files share. */
#ifndef VUP_CHECK_INTERNAL_H
#define VUP_CHECK_INTERNAL_H

#include "vuproxy/check.h"

/* Where each owed request was in the file, to name its frame at the end
 * (the model keeps its code and time only). */
#define OWED_FRAMES (2 * VUP_MODEL_OWED_MAX)
struct owed_frame {
	enum vup_chan chan;
	uint32_t code;
	uint64_t since_ns, frame;
};

#define PRE_MAX 4
struct vup_checker {
	uint32_t session;
	bool owner_seen, before_owner_told;
	bool features_set, call_told;
	bool have_qnum, have_slots;
	uint64_t qnum, slots;
	uint32_t config_size; /* the last GET_CONFIG request's size field */
	bool config_asked;
	/* the features the last SET_FEATURES acked, before the next one */
	bool have_acked;
	uint64_t acked;
	bool unadvertised_told;
	/* vup_check_before's findings, for the next message */
	unsigned npre;
	struct {
		enum vup_check_id id;
		char why[160];
	} pre[PRE_MAX];
	struct owed_frame owed[OWED_FRAMES];
	unsigned owed_next;
};

/* Add a finding of row id about message v (NULL: none) at frame. */
void vup__check_add(struct vup_check_findings *out, const struct vup_checker *c,
                    enum vup_check_id id, const struct vup_view *v,
                    uint64_t frame, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));

/* The memory rows (memory.c): a table or region, ring addresses. */
void vup__check_memory(struct vup_checker *c, const struct vup_model *m,
                       const struct vup_view *v,
                       const struct vup_model_events *ev, uint64_t frame,
                       struct vup_check_findings *out);

/* The rows of a front-end request's negotiation and vring settings
 * (rows.c): sizes, gates on VHOST_USER_F_PROTOCOL_FEATURES, features
 * changed under running rings, NEED_REPLY where a reply is due anyway. */
void vup__check_rows(struct vup_checker *c, const struct vup_model *m,
                     const struct vup_view *v, uint64_t frame,
                     struct vup_check_findings *out);

#endif
