/* active: what --active does to a session's control messages (issue 15,
 * stages S0/S1), decided without the loop.
 *
 * vuproxy plays the device of the guest's split rings and the driver of
 * shadow rings kept in a memfd it adds to the back-end's memory table
 * (active/svq.h).  For that it rewrites, on the main channel:
 *   - the back-end's GET_FEATURES reply: RING_PACKED and IN_ORDER hidden;
 *   - its GET_PROTOCOL_FEATURES reply: HOST_NOTIFIER, INBAND_NOTIFICATIONS,
 *     PAGEFAULT, INFLIGHT_SHMFD and (for now) CONFIGURE_MEM_SLOTS hidden,
 *     so that the front-end sends SET_MEM_TABLE (a front-end acks only
 *     what is offered, and falls back to the table without the slots);
 *   - SET_MEM_TABLE: the shadow region appended, with its fd;
 *   - SET_VRING_ADDR: the shadow ring's addresses (log unchanged);
 *   - SET_VRING_KICK / SET_VRING_CALL: vuproxy's own eventfds;
 *   - the GET_VRING_BASE reply: the guest's base, once the svq stopped.
 * A session it cannot shadow (the back-end offers ACCESS_PLATFORM, the
 * table already has VUP_ACTIVE_MAX_REGIONS regions, XEN_MMAP) stays in
 * passthrough for good, with the reason once.
 *
 * The adapter (active.c) prepares what needs I/O before the step (the
 * memfd, eventfds, the svq and its shadow addresses, the stopped base) in
 * struct vup_active_io; vup_active_rewrite applies it to the message.
 */
#ifndef VUP_RELAY_ACTIVE_H
#define VUP_RELAY_ACTIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/channel.h"
#include "vuproxy/model.h"
#include "vuproxy/pcapng.h"
#include "vuproxy/proto.h"

/* The regions a back-end maps from one SET_MEM_TABLE (DPDK's and QEMU's
 * VHOST_MEMORY_BASELINE_NREGIONS): the shadow region takes one. */
#define VUP_ACTIVE_MAX_REGIONS 8u
/* The shadow region: a fixed size, rings placed in it lazily. */
#define VUP_ACTIVE_REGION_SIZE (4ull << 20)
/* Its GPA and uaddr go this aligned above the guest's regions. */
#define VUP_ACTIVE_REGION_ALIGN (1ull << 30)

/* The name rewrites carry in the trace (a rule's name otherwise). */
#define VUP_ACTIVE_RULE "--active"

/* Feature bits hidden from the offers (bits.h). */
uint64_t vup_active_features_hidden(void);
uint64_t vup_active_protocol_hidden(void);

struct vup_active_place {
	uint64_t off, size; /* in the region */
	bool placed;
};

/* A session's pure state. */
struct vup_active {
	bool passthrough; /* decided: not shadowed, for good */
	bool have_region; /* G/U chosen (at the first SET_MEM_TABLE) */
	uint64_t gpa, uaddr, size;
	uint64_t next_off; /* first free byte of the region */
	struct vup_active_place ring[VUP_MODEL_VRINGS];
};

/* What the adapter prepared for one message.  fd: the fd to put in
 * (memfd for SET_MEM_TABLE, an eventfd for SET_VRING_KICK/CALL), -1
 * none; fail: the message must not pass (why). */
struct vup_active_io {
	int fd;
	struct vup_fd_info fd_info;
	bool have_addrs; /* SET_VRING_ADDR: the shadow ring's */
	uint64_t desc, avail, used;
	bool have_base; /* GET_VRING_BASE reply: the guest's base */
	uint32_t base;
	char fail[256];
};

/* What the rewrite did. */
struct vup_active_out {
	bool rewritten;
	bool fd_taken;       /* io->fd is in the message now */
	int kept_fd;         /* the peer's fd taken out of it, or -1 */
	int fd_slot;         /* where io->fd went (-1 none) */
	bool to_passthrough; /* this message made the session passthrough */
	char why[256];       /* to_passthrough or io->fail: the reason */
	bool refuse;         /* io->fail: not sent on; the session fails */
};

void vup_active_init(struct vup_active *a);

/* Where the shadow ring of vring idx (num entries, size bytes) goes in
 * the region: 0 and *off, or -ENOSPC with why. */
int vup_active_place(struct vup_active *a, uint32_t idx, uint64_t size,
                     uint64_t *off, char *why, size_t whylen);

/* Chooses G and U for a table (parsed regions): 1 GiB-aligned above the
 * highest.  Kept while they stay above the table's regions. */
void vup_active_region(struct vup_active *a, const struct vup_model_region *r,
                       unsigned n);

/* Apply --active to message m (decoded in v, delivered to its receiver
 * unless out->refuse).  Returns out->rewritten. */
bool vup_active_rewrite(struct vup_active *a, const struct vup_view *v,
                        struct vup_msg *m, struct vup_active_io *io,
                        struct vup_active_out *out);

#endif
