/* watchdog: the replies a session has owed for too long, without the
 * loop.
 *
 * The model keeps each owed reply with the time its request came
 * (vup_model_owed_at, since_ns).  The relay's periodic tick asks which of
 * them are older than --reply-timeout and were not told yet: each is told
 * once.  Owed replies of a channel are kept in the order their requests
 * came, so "told" is one time per channel: the newest request told.
 */
#ifndef VUP_RELAY_WATCHDOG_H
#define VUP_RELAY_WATCHDOG_H

#include <stdbool.h>
#include <stdint.h>

#include "vuproxy/model.h"

struct vup_watchdog {
	uint64_t told_until[2]; /* by channel: since_ns of the last told */
	bool told_any[2];
	/* vuproxy's own time is not the peer's: while a channel's requests
	 * are held (a delay rule, back-pressure) nothing on it is due, and
	 * a reply's wait is counted from the last release at the latest.
	 * Set by the relay. */
	bool holding[2];
	uint64_t released_ns[2];
};

struct vup_watchdog_late {
	enum vup_chan chan;
	const struct vup_model_owed *owed; /* in the model, until it changes */
};

/* The replies owed in m that must come (VUP_EXPECT_YES) whose request is
 * timeout_ns old or older at now_ns (counted from the channel's last
 * release if later) and not told yet: up to max of them into out, in
 * order, now told.  Returns how many. */
unsigned vup_watchdog_due(struct vup_watchdog *w, const struct vup_model *m,
                          uint64_t now_ns, uint64_t timeout_ns,
                          struct vup_watchdog_late *out, unsigned max);

#endif
