/* guestmem: how the tap reads guest memory, whatever provides it.
 *
 * The memory mirror (memmap) implements it over read-only mappings of the
 * front-end's region fds; tests and fuzzers implement it over a buffer.
 * Ring readers only ever see this interface, so they cannot write guest
 * memory and cannot read outside what the provider checks.
 */
#ifndef VUPROXY_GUESTMEM_H
#define VUPROXY_GUESTMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Two address spaces: ring addresses from SET_VRING_ADDR are front-end
 * virtual addresses (uaddr); descriptor addresses inside rings are guest
 * physical (gpa). */
enum vup_addr_space { VUP_AS_UADDR, VUP_AS_GPA };

struct vup_guest_mem {
	/* Copy len bytes at addr into dst.  False if any byte lies outside
	 * every region (nothing is then guaranteed about dst).  A range that
	 * spans two adjacent regions is read piecewise.  Never faults. */
	bool (*read)(void *ctx, enum vup_addr_space as, uint64_t addr,
	             void *dst, size_t len);
	void *ctx;
};

static inline bool vup_guest_read(const struct vup_guest_mem *m,
                                  enum vup_addr_space as, uint64_t addr,
                                  void *dst, size_t len)
{
	return m->read(m->ctx, as, addr, dst, len);
}

#endif
