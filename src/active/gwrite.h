/* gwrite: the one way vuproxy writes guest memory (active mode).
 *
 * Every write to guest memory goes through vup_gwrite: it writes only
 * where the provider hands out a writable pointer (a range inside one
 * region mapped writable, found by guest user address or by GPA), counts
 * each write by kind, survives the front-end cutting the file under the
 * mapping (SIGBUS, the tap's guard), and sets the dirty-log bits of the
 * pages written while a log is attached.  The passive tap never comes
 * here: it reads through vup_guest_mem only.
 */
#ifndef VUP_ACTIVE_GWRITE_H
#define VUP_ACTIVE_GWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/guestmem.h"

/* The vhost-user dirty log: one bit per 4 KiB guest-physical page. */
#define VUP_LOG_PAGE 0x1000u

/* What a write is for: the complete list of what vuproxy writes. */
#define VUP_GWRITE_KINDS(X)                                                    \
	X(USED_ELEM, "used_elem")     /* split used.ring[i] {id, len} */       \
	X(USED_IDX, "used_idx")       /* split used.idx */                     \
	X(USED_FLAGS, "used_flags")   /* used.flags NO_NOTIFY */               \
	X(AVAIL_EVENT, "avail_event") /* EVENT_IDX word after used.ring */     \
	X(BLK_STATUS, "blk_status")   /* an injected blk status byte */        \
	X(FAULT_DATA, "fault_data")   /* injected bytes, device-writable */

enum vup_gwrite_kind {
#define X(id, name) VUP_GW_##id,
	VUP_GWRITE_KINDS(X)
#undef X
	        VUP_GW_NKINDS
};

const char *vup_gwrite_kind_name(enum vup_gwrite_kind k);

/* Where writes may go.  ptr returns a writable pointer to [addr, addr +
 * len) when the whole range lies in one region the provider maps
 * writable, else NULL. */
struct vup_guest_wmem {
	uint8_t *(*ptr)(void *ctx, enum vup_addr_space as, uint64_t addr,
	                size_t len);
	void *ctx;
};

/* A write made by user address that no log covers. */
#define VUP_GWRITE_NOLOG UINT64_MAX

struct vup_gwrite_stats {
	uint64_t writes[VUP_GW_NKINDS], bytes[VUP_GW_NKINDS];
	uint64_t refused;    /* outside every writable mapping */
	uint64_t faulted;    /* SIGBUS: the file was cut under the mapping */
	uint64_t logged;     /* bits set (or already set) in the log */
	uint64_t log_beyond; /* pages past the end of the log bitmap */
};

struct vup_gwrite {
	struct vup_guest_wmem mem;
	uint8_t *log; /* dirty bitmap (SET_LOG_BASE), NULL: not logging */
	uint64_t log_size;
	struct vup_gwrite_stats st;
};

void vup_gwrite_init(struct vup_gwrite *w, struct vup_guest_wmem mem);
/* Attaches (log != NULL) or detaches the dirty log: size bytes, bit p of
 * byte p / 8 set for page p = gpa / VUP_LOG_PAGE. */
void vup_gwrite_set_log(struct vup_gwrite *w, uint8_t *log, uint64_t size);

/* Copies len bytes of src to addr (as), then marks the pages of [log_gpa,
 * log_gpa + len) dirty if a log is attached and log_gpa is not
 * VUP_GWRITE_NOLOG (a GPA write passes addr; a used-ring write the ring's
 * log address plus its offset).  0, or -EFAULT (counted) when the range
 * is not inside one writable region, wraps, or faulted.  The copy is the
 * guard's memcpy: glibc stores 2 aligned bytes (used.idx) with one
 * 16-bit move, but nothing promises it (see the svq's publish). */
int vup_gwrite(struct vup_gwrite *w, enum vup_gwrite_kind kind,
               enum vup_addr_space as, uint64_t addr, const void *src,
               size_t len, uint64_t log_gpa);

/* Marks [gpa, gpa + len) dirty (no write): for bytes the caller wrote
 * through another way.  Exposed for tests of the bitmap. */
void vup_gwrite_log(struct vup_gwrite *w, uint64_t gpa, uint64_t len);

/* A provider over a memory mirror: its region lookup (vup_memmap_ptr).
 * Only for a mirror whose mappings are writable: the tap's are
 * PROT_READ, and a write there would raise SIGSEGV. */
struct vup_memmap;
struct vup_guest_wmem vup_gwrite_memmap(const struct vup_memmap *m);

#endif
