/* gwrite: the audited guest-memory write accessor (see gwrite.h).
 *
 * The lookup and its bounds are the provider's (the memory mirror's, by
 * uaddr or GPA); the copy runs under the tap's SIGBUS guard, so a region
 * file cut under vuproxy makes the write fail instead of killing every
 * session.  Dirty bits are set after the bytes are stored, with an atomic
 * OR as the back-ends do (the front-end and the back-end set bits in the
 * same bitmap concurrently).
 */
#include <errno.h>

#include "active/gwrite.h"
#include "tap/guard.h"
#include "vuproxy/memmap.h"

static const char *const kind_names[] = {
#define X(id, name) name,
        VUP_GWRITE_KINDS(X)
#undef X
};

const char *vup_gwrite_kind_name(enum vup_gwrite_kind k)
{
	return (unsigned)k < VUP_GW_NKINDS ? kind_names[k] : "?";
}

void vup_gwrite_init(struct vup_gwrite *w, struct vup_guest_wmem mem)
{
	*w = (struct vup_gwrite){.mem = mem};
	vup__guard_install();
}

void vup_gwrite_set_log(struct vup_gwrite *w, uint8_t *log, uint64_t size)
{
	w->log = size ? log : NULL;
	w->log_size = log ? size : 0;
}

void vup_gwrite_log(struct vup_gwrite *w, uint64_t gpa, uint64_t len)
{
	if (!w->log || len == 0)
		return;
	uint64_t first = gpa / VUP_LOG_PAGE;
	/* gpa + len - 1 may wrap for a hostile address: clamp to the top. */
	uint64_t end = len - 1 > UINT64_MAX - gpa ? UINT64_MAX : gpa + len - 1;
	uint64_t last = end / VUP_LOG_PAGE;
	for (uint64_t p = first; p <= last; p++) {
		if (p / 8 >= w->log_size) {
			w->st.log_beyond += last - p + 1;
			return;
		}
		__atomic_fetch_or(&w->log[p / 8], (uint8_t)(1u << (p % 8)),
		                  __ATOMIC_SEQ_CST);
		w->st.logged++;
	}
}

int vup_gwrite(struct vup_gwrite *w, enum vup_gwrite_kind kind,
               enum vup_addr_space as, uint64_t addr, const void *src,
               size_t len, uint64_t log_gpa)
{
	if ((unsigned)kind >= VUP_GW_NKINDS || len == 0 ||
	    (uint64_t)len - 1 > UINT64_MAX - addr) {
		w->st.refused++;
		return -EFAULT;
	}
	uint8_t *dst =
	        w->mem.ptr ? w->mem.ptr(w->mem.ctx, as, addr, len) : NULL;
	if (!dst) {
		w->st.refused++;
		return -EFAULT;
	}
	if (!vup__guarded_copy(dst, src, len)) {
		w->st.faulted++;
		return -EFAULT;
	}
	w->st.writes[kind]++;
	w->st.bytes[kind] += len;
	if (log_gpa != VUP_GWRITE_NOLOG)
		vup_gwrite_log(w, log_gpa, len);
	return 0;
}

static uint8_t *memmap_ptr(void *ctx, enum vup_addr_space as, uint64_t addr,
                           size_t len)
{
	/* The mirror's lookup and bounds; writable by the caller's promise
	 * (vup_gwrite_memmap). */
	return (uint8_t *)(uintptr_t)vup_memmap_ptr(ctx, as, addr, len);
}

struct vup_guest_wmem vup_gwrite_memmap(const struct vup_memmap *m)
{
	struct vup_guest_wmem g = {memmap_ptr, (void *)(uintptr_t)m};
	return g;
}
