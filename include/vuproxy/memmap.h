/* memmap: a read-only mirror of the front-end's memory table.
 *
 * Built from SET_MEM_TABLE, ADD_MEM_REG and REM_MEM_REG payloads and their
 * fds, mapped like the back-ends do (PROT_READ, MAP_SHARED, length size +
 * mmap_offset from file offset 0, base = map + mmap_offset).  A table is an
 * immutable, refcounted snapshot: a change builds a new one that shares the
 * unchanged regions (each region is refcounted and mapped once), so a
 * reader holding the old snapshot keeps valid mappings until it puts it.
 * No event loop, no logging: errors are -errno with a reason in err.
 *
 * The mirror never owns the caller's fds: it maps them and the caller
 * closes (or forwards) them.  Guest memory is never written, except
 * through a mirror of vup_memmap_set_table_rw, which only --active
 * sessions make (their used-ring writes, active/gwrite.h).
 */
#ifndef VUPROXY_MEMMAP_H
#define VUPROXY_MEMMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/guestmem.h"
#include "vuproxy/proto.h"

/* At most this many regions in one SET_MEM_TABLE (the proto's bound,
 * rust-vmm's 32), and in all (with ADD_MEM_REG; QEMU's
 * VHOST_USER_MAX_RAM_SLOTS). */
#define VUP_MEMMAP_TABLE_MAX VUP_MEM_TABLE_MAX_REGIONS
#define VUP_MEMMAP_SLOTS_MAX 512

struct vup_memmap;

/* One region as the front-end described it. */
struct vup_memmap_region {
	uint64_t gpa, size, uaddr, mmap_offset;
	uint32_t xen_flags, xen_data; /* 0 without XEN_MMAP */
	const uint8_t *base;          /* mapping of gpa / uaddr */
};

/* A new snapshot from a SET_MEM_TABLE request payload ({u32 nregions, u32
 * pad, region[n]}, 32-byte regions, 40 with XEN_MMAP); fds[i] backs region
 * i and nfds must equal nregions.  0 and *out (refcount 1), or -errno and
 * a reason in err: -EINVAL bad payload, size, overlap, too many regions;
 * -ENODEV fd not a mappable file (pipe, socket, device); -ENXIO file
 * shorter than size + mmap_offset; -EBADF, or what fstat / mmap returned.
 * Feed the request only: not the postcopy reply nor its u64 0 ack. */
int vup_memmap_set_table(struct vup_memmap **out, const uint8_t *payload,
                         uint32_t size, const int *fds, unsigned nfds,
                         bool xen_mmap, char *err, size_t errlen);

/* The same, mapped PROT_READ | PROT_WRITE: for --active only (its
 * writes go through active/gwrite.h).  No XEN_MMAP. */
int vup_memmap_set_table_rw(struct vup_memmap **out, const uint8_t *payload,
                            uint32_t size, const int *fds, unsigned nfds,
                            char *err, size_t errlen);
/* A new snapshot of a table already parsed (the session model's regions,
 * model.h) and the fds that back them, fds[i] region i (-1: none came):
 * the same checks as a SET_MEM_TABLE's, up to VUP_MEMMAP_SLOTS_MAX
 * regions (a table grown by ADD_MEM_REG).  For mapping a session's kept
 * region fds on demand. */
struct vup_model_region;
int vup_memmap_from_regions(const struct vup_model_region *regions,
                            const int *fds, unsigned n, struct vup_memmap **out,
                            char *err, size_t errlen);

/* A new snapshot: old (NULL = empty table) plus the region of an
 * ADD_MEM_REG payload ({u64 pad, region}) backed by fd.  old is not
 * changed and keeps its reference. */
int vup_memmap_add(const struct vup_memmap *old, const uint8_t *payload,
                   uint32_t size, int fd, bool xen_mmap,
                   struct vup_memmap **out, char *err, size_t errlen);

/* A new snapshot: old without the region of a REM_MEM_REG payload, matched
 * on gpa, size and uaddr like the back-ends (mmap_offset and the fd that
 * comes with it are ignored).  -ENOENT when no region matches. */
int vup_memmap_remove(const struct vup_memmap *old, const uint8_t *payload,
                      uint32_t size, bool xen_mmap, struct vup_memmap **out,
                      char *err, size_t errlen);

/* References.  A reset or the end of the session is a put of the current
 * snapshot; put(NULL) does nothing.  Thread-safe (atomic counts). */
struct vup_memmap *vup_memmap_get(struct vup_memmap *m);
void vup_memmap_put(struct vup_memmap *m);

/* Regions in gpa order; i < count. */
unsigned vup_memmap_count(const struct vup_memmap *m);
const struct vup_memmap_region *vup_memmap_at(const struct vup_memmap *m,
                                              unsigned i);

/* guestmem over m (NULL: every read fails).  It does not take a
 * reference: m must outlive its use. */
struct vup_guest_mem vup_memmap_guest(const struct vup_memmap *m);

/* Copy len bytes at addr (piecewise across adjacent regions); false if any
 * byte is outside every region or addr + len wraps, or if the front-end
 * cut the file under the mapping (SIGBUS is caught for this read only). */
bool vup_memmap_read(const struct vup_memmap *m, enum vup_addr_space as,
                     uint64_t addr, void *dst, size_t len);

/* A read-only pointer to [addr, addr + len) when the whole range lies in
 * one region, else NULL.  Reads through it are not guarded: a file cut
 * under the mapping makes them raise SIGBUS (use vup_memmap_read).  len 0
 * counts as 1.  Valid while m is held; the guest may change the bytes at any
 * time. */
const uint8_t *vup_memmap_ptr(const struct vup_memmap *m,
                              enum vup_addr_space as, uint64_t addr,
                              size_t len);

#endif
