/* flow: what vuproxy finds wrong with each message of a session, without
 * any I/O.
 *
 * It validates a message against the catalogue and asks the session model
 * (model.h: what was negotiated, the replies owed) how it pairs, before
 * the message's fate is known; the relay then feeds the model what became
 * of it.  It finds problems; the relay decides what to do about them, and
 * rate-limits the warnings here.
 */
#ifndef VUP_RELAY_FLOW_H
#define VUP_RELAY_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/channel.h"
#include "vuproxy/model.h"
#include "vuproxy/problems.h"
#include "vuproxy/proto.h"

#define VUP_FLOW_PENDING_MAX VUP_MODEL_OWED_MAX

/* Warnings are rate-limited per session and kind: the first is logged,
 * later ones within VUP_FLOW_WARN_PERIOD_NS are counted and the count is
 * told with the next line logged after the period, or when the session
 * ends. */
#define VUP_FLOW_WARN_PERIOD_NS (10ull * 1000000000ull)
struct vup_warn_limit {
	uint64_t last_ns; /* when the last line of this kind was logged */
	uint32_t held;    /* occurrences since then, not logged */
	bool logged;
};
/* The rate limit of one kind of line (a problem's, a check row's): log
 * now?  True for the first one and for the first after the period;
 * *held then receives how many were counted and not logged since the
 * last line.  False: counted. */
bool vup_warn_due(struct vup_warn_limit *w, uint64_t now_ns, uint32_t *held);
/* Occurrences counted and not logged yet, to be told now: if the last
 * line is a period old by now_ns (the proxy's periodic tick), or whatever
 * its age with now_ns UINT64_MAX (the session ends).  Resets the count; a
 * line told starts a new period. */
uint32_t vup_warn_take_held(struct vup_warn_limit *w, uint64_t now_ns);

struct vup_flow {
	struct vup_model *model; /* the session's meaning */
	struct vup_warn_limit warn[VUP_PROBLEM_COUNT];
};

/* A new model for a session (f zeroed, or initialised before: its model
 * is replaced).  -ENOMEM. */
int vup_flow_init(struct vup_flow *f);
void vup_flow_free(struct vup_flow *f);
static inline const struct vup_negotiated *
vup_flow_neg(const struct vup_flow *f)
{
	return vup_model_neg(f->model);
}

/* Forget the replies owed on a channel (it was closed or replaced). */
void vup_flow_forget(struct vup_flow *f, enum vup_chan chan);

/* What is wrong with a message about to be relayed (vup_problems_find
 * in the session's model): checked against the catalogue and the replies
 * owed, nothing changed.  *out receives every
 * problem found (n = 0: none).  Whether to relay is the caller's
 * (vup_findings_refusal); what becomes of it is then fed to the model. */
void vup_flow_check(const struct vup_flow *f, const struct vup_view *v,
                    struct vup_findings *out);

/* Check a message and feed it to the model as delivered unless refused:
 * for callers that relay whatever is not refused. */
void vup_flow_inspect(struct vup_flow *f, enum vup_chan chan,
                      enum vup_side from, const struct vup_msg *m,
                      struct vup_findings *out);

/* vup_warn_due and vup_warn_take_held for the session's problems of a
 * kind. */
bool vup_flow_warn_due(struct vup_flow *f, enum vup_problem kind,
                       uint64_t now_ns, uint32_t *held);
uint32_t vup_flow_warn_take_held(struct vup_flow *f, enum vup_problem kind,
                                 uint64_t now_ns);

#endif
