/* active_internal: what active.c (the adapter) and active_capture.c
 * (-w: the frames) share. */
#ifndef VUP_RELAY_ACTIVE_INTERNAL_H
#define VUP_RELAY_ACTIVE_INTERNAL_H

#include "active/svq.h"
#include "internal.h"

struct apoll {
	uv_poll_t h;
	struct vup_session *s;
};

struct avring {
	struct vup_active_sess *as;
	uint32_t idx;
	struct vup_svq q;
	bool q_on;
	char name[16];
	int g_kick, g_call; /* the guest's (front-end's) */
	int b_kick, b_call; /* vuproxy's, given to the back-end */
	struct apoll *kick_poll, *call_poll;
	uint16_t rx_used; /* capture: used index of the next RX chain */
};

struct vup_active_sess {
	struct vup_session *s;
	struct vup_active st;
	int memfd;
	uint8_t *shadow;
	struct vup_memmap *map, *pending;
	struct vup_guest_mem gmem;
	struct vup_gwrite gw;
	int pend_own; /* the eventfd prepared for a SET_VRING_KICK/CALL */
	struct vup_tap *tap; /* -w: every frame, recorded as the tap does */
	struct avring *vr[VUP_MODEL_VRINGS];
};

/* The svq's callbacks when recording (ctx: the struct avring): a TX
 * chain as it is pulled, an RX chain as it is completed. */
enum vup_svq_verdict vup__active_on_avail(void *ctx,
                                          const struct vup_svq_chain *c);
void vup__active_on_used(void *ctx, const struct vup_svq_chain *c,
                         uint32_t len);

#endif
