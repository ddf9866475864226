/* Feeding a tap without a relay: each tap of a test gets a session model,
 * which is fed the message first, as the relay does, and the tap follows
 * its events. */
#ifndef TAP_FEED_H
#define TAP_FEED_H

#include <stdlib.h>

#include "vuproxy/model.h"
#include "vuproxy/tap.h"

static struct {
	const struct vup_tap *tap;
	struct vup_model *model;
} tap_models[8];

static struct vup_model *tap_model_of(const struct vup_tap *t)
{
	for (size_t i = 0; i < sizeof(tap_models) / sizeof(tap_models[0]);
	     i++) {
		if (tap_models[i].tap == t)
			return tap_models[i].model;
		if (!tap_models[i].tap) {
			tap_models[i].tap = t;
			tap_models[i].model = vup_model_new();
			if (!tap_models[i].model)
				abort();
			return tap_models[i].model;
		}
	}
	abort();
}

/* The tap t is freed: so is its model. */
static void tap_model_forget(const struct vup_tap *t)
{
	for (size_t i = 0; i < sizeof(tap_models) / sizeof(tap_models[0]); i++)
		if (tap_models[i].tap == t) {
			vup_model_free(tap_models[i].model);
			tap_models[i].tap = NULL;
			tap_models[i].model = NULL;
		}
}

static void tap_feed(struct vup_tap *t, enum vup_chan chan, enum vup_side from,
                     const struct vup_hdr *h, const uint8_t *p, const int *fds,
                     unsigned nfds, uint64_t now)
{
	struct vup_model *m = tap_model_of(t);
	struct vup_view v;
	struct vup_model_events ev;
	vup_view_decode(&v, chan, from, h, p, fds, nfds, vup_model_neg(m), now);
	vup_model_feed(m, &v, true, &ev);
	vup_tap_message(t, m, &v, &ev, now);
}

#endif
