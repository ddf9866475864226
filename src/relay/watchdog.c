/* watchdog: replies owed too long (watchdog.h). */
#include "watchdog.h"

unsigned vup_watchdog_due(struct vup_watchdog *w, const struct vup_model *m,
                          uint64_t now_ns, uint64_t timeout_ns,
                          struct vup_watchdog_late *out, unsigned max)
{
	unsigned n = 0;
	for (int chan = VUP_CHAN_MAIN; chan <= VUP_CHAN_BACKEND; chan++) {
		if (w->holding[chan])
			continue;
		unsigned count = vup_model_owed_count(m, (enum vup_chan)chan);
		for (unsigned i = 0; i < count && n < max; i++) {
			const struct vup_model_owed *o =
			        vup_model_owed_at(m, (enum vup_chan)chan, i);
			uint64_t since = o->since_ns > w->released_ns[chan]
			                         ? o->since_ns
			                         : w->released_ns[chan];
			if (now_ns < since || now_ns - since < timeout_ns)
				break; /* the later ones are younger */
			if (o->expect != VUP_EXPECT_YES ||
			    (w->told_any[chan] &&
			     o->since_ns <= w->told_until[chan]))
				continue;
			w->told_until[chan] = o->since_ns;
			w->told_any[chan] = true;
			out[n++] = (struct vup_watchdog_late){
			        (enum vup_chan)chan, o};
		}
	}
	return n;
}
