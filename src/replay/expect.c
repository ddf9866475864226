/* expect: what a live back-end should answer where the record cannot say.
 *
 * GET_VRING_BASE answers where a vring stopped.  The recorded back-end's
 * answer holds the recorded guest's traffic; a replay offers no buffers
 * (its guest memory is zeros, unless --frames), so a back-end of the same
 * build stops each vring at the base the replay set with SET_VRING_BASE.
 * The expectation is derived from what the replay sent, never a field
 * left out: any other answer is still a difference.
 */
#include <string.h>

#include "vuproxy/replay.h"

void vup_replay_bases_note(struct vup_replay_bases *b,
                           const struct vup_replay_msg *m)
{
	uint64_t index, num;
	if (m->chan != VUP_CHAN_MAIN || m->from != VUP_FRONTEND ||
	    (m->hdr.flags & VUP_FLAG_REPLY) ||
	    m->hdr.request != VUP_REQ_SET_VRING_BASE ||
	    !vup_field_read(VUP_FLD_VRING_BASE_INDEX, m->payload, m->hdr.size,
	                    &index) ||
	    !vup_field_read(VUP_FLD_VRING_BASE_NUM, m->payload, m->hdr.size,
	                    &num))
		return;
	if (index >= VUP_REPLAY_MAX_VRINGS)
		return;
	b->v[index].set = true;
	b->v[index].num = (uint32_t)num;
	b->v[index].frame = m->frame;
}

bool vup_replay_bases_expect(const struct vup_replay_bases *b, uint32_t index,
                             uint32_t recorded, uint32_t *num, uint64_t *frame)
{
	if (index >= VUP_REPLAY_MAX_VRINGS || !b->v[index].set)
		return false;
	uint32_t set = b->v[index].num;
	/* The upper half only where this back-end fills it in. */
	uint32_t keep = (recorded >> 16) ? UINT32_MAX : 0xffffu;
	*num = set & keep;
	*frame = b->v[index].frame;
	return true;
}
