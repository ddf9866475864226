/* problems: what is wrong with one message, found once for the relay
 * and the checker.
 *
 * The relay's flow (src/relay/flow.c) decides with them what to refuse,
 * warn about and mark in the trace; the checker (check.h) turns them into
 * rows of VUP_CHECKS.  Both call vup_problems_find, so the two never
 * disagree on what a message did wrong.  No I/O; no allocation.
 */
#ifndef VUPROXY_PROBLEMS_H
#define VUPROXY_PROBLEMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/model.h"
#include "vuproxy/proto.h"

/* What is wrong with one message: up to VUP_FLOW_FINDINGS_MAX problems,
 * each with a human reason. */
#define VUP_FLOW_FINDINGS_MAX 4
struct vup_finding {
	enum vup_problem kind;
	char why[192];
};
struct vup_findings {
	unsigned n;
	enum vup_chan chan; /* of the message: a problem's row depends on it */
	struct vup_finding f[VUP_FLOW_FINDINGS_MAX];
};
/* Add a finding (ignored when full); returns it, or NULL. */
struct vup_finding *vup_findings_add(struct vup_findings *fs,
                                     enum vup_problem kind);
/* The first finding vuproxy must refuse the message for, or NULL: one
 * whose row (check.h, vup_check_problem_row) vup_check_refusal says is
 * refused always, or with --strict when strict. */
const struct vup_finding *vup_findings_refusal(const struct vup_findings *fs,
                                               bool strict);
/* "kind: why; kind: why" (snprintf style), for the trace's mark. */
size_t vup_findings_text(const struct vup_findings *fs, char *buf, size_t cap);

/* The problems of message v in the state m is in before it is fed v,
 * in this order (the trace's mark lists them so): the validator's
 * (vup_proto_check_view; a REFUSE-class one ends the list), NEED_REPLY
 * on a reply, reserved flag bits, an unknown request code, then how the
 * reply pairs with what is owed (vup_model_pairing).  *out is reset;
 * nothing is formatted for a message without a problem. */
void vup_problems_find(const struct vup_model *m, const struct vup_view *v,
                       struct vup_findings *out);

#endif
