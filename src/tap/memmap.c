/* memmap: the read-only mirror of the front-end's memory table.
 *
 * A snapshot holds its regions sorted twice, by gpa and by uaddr, for a
 * binary search in either address space.  Regions are refcounted and
 * shared between snapshots, so ADD/REM map or unmap one region only.
 * Everything a payload says is checked before any fd is touched; each fd
 * is fstat'ed before it is mapped so that a short file is refused here
 * rather than raising SIGBUS in a later read.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "guard.h"
#include "vuproxy/memmap.h"
#include "vuproxy/model.h"

struct region {
	atomic_uint refs;
	struct vup_memmap_region pub;
	uint64_t gpa_last, uaddr_last; /* inclusive: a region may end at 2^64 */
	void *map;
	size_t maplen;
};

struct vup_memmap {
	atomic_uint refs;
	unsigned n;
	struct region **by_gpa, **by_uaddr; /* n each, in slots[] */
	struct region *slots[];
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Region references. */

static struct region *region_get(struct region *r)
{
	atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
	return r;
}

static void region_put(struct region *r)
{
	if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
		return;
	munmap(r->map, r->maplen);
	free(r);
}

/* Payload parsing and checks that need no fd. */

static void from_model(const struct vup_model_region *r,
                       struct vup_memmap_region *d)
{
	memset(d, 0, sizeof(*d));
	d->gpa = r->gpa;
	d->size = r->size;
	d->uaddr = r->uaddr;
	d->mmap_offset = r->mmap_offset;
	d->xen_flags = r->xen_flags;
	d->xen_data = r->xen_data;
}

static int check_region(const struct vup_memmap_region *d, const char *what,
                        char *err, size_t errlen)
{
	if (d->size == 0)
		return fail(err, errlen, -EINVAL, "%s: size is 0", what);
	if (d->size - 1 > UINT64_MAX - d->gpa)
		return fail(err, errlen, -EINVAL,
		            "%s: gpa 0x%" PRIx64 " + size 0x%" PRIx64
		            " wraps around 2^64",
		            what, d->gpa, d->size);
	if (d->size - 1 > UINT64_MAX - d->uaddr)
		return fail(err, errlen, -EINVAL,
		            "%s: uaddr 0x%" PRIx64 " + size 0x%" PRIx64
		            " wraps around 2^64",
		            what, d->uaddr, d->size);
	if (d->size > UINT64_MAX - d->mmap_offset)
		return fail(err, errlen, -EINVAL,
		            "%s: size 0x%" PRIx64 " + mmap_offset 0x%" PRIx64
		            " overflows",
		            what, d->size, d->mmap_offset);
	if (d->size + d->mmap_offset > SIZE_MAX)
		return fail(err, errlen, -EINVAL,
		            "%s: size 0x%" PRIx64 " + mmap_offset 0x%" PRIx64
		            " does not fit the address space",
		            what, d->size, d->mmap_offset);
	if (d->xen_flags)
		return fail(err, errlen, -EINVAL,
		            "%s: Xen mmap flags 0x%" PRIx32
		            " (foreign or grant mapping) are not supported",
		            what, d->xen_flags);
	return 0;
}

static const char *file_type(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO: return "a pipe";
	case S_IFSOCK: return "a socket";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFDIR: return "a directory";
	default: return "not a regular file";
	}
}

/* Map d from fd like the back-ends: size + mmap_offset bytes from file
 * offset 0 (the length rounded up to the file's block size, which is the
 * page size of a hugetlbfs file, so that munmap accepts it). */
static int region_map(const struct vup_memmap_region *d, int fd, bool rw,
                      const char *what, struct region **out, char *err,
                      size_t errlen)
{
	struct stat st;
	if (fd < 0)
		return fail(err, errlen, -EBADF, "%s: no fd (%d)", what, fd);
	if (fstat(fd, &st) < 0)
		return fail(err, errlen, -errno, "%s: fstat(fd %d): %s", what,
		            fd, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(err, errlen, -ENODEV,
		            "%s: fd %d is %s, not a mappable file", what, fd,
		            file_type(st.st_mode));
	uint64_t need = d->size + d->mmap_offset;
	if (st.st_size < 0 || (uint64_t)st.st_size < need)
		return fail(err, errlen, -ENXIO,
		            "%s: file is %jd bytes, the region needs 0x%" PRIx64
		            " + 0x%" PRIx64,
		            what, (intmax_t)st.st_size, d->size,
		            d->mmap_offset);
	size_t len = (size_t)need;
	size_t blk = st.st_blksize > 0 ? (size_t)st.st_blksize : 0;
	if (blk && (blk & (blk - 1)) == 0 && len <= SIZE_MAX - (blk - 1))
		len = (len + blk - 1) & ~(blk - 1);

	vup__guard_install();
	void *map = mmap(NULL, len, rw ? PROT_READ | PROT_WRITE : PROT_READ,
	                 MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return fail(err, errlen, -errno,
		            "%s: mmap(0x%zx bytes, fd %d): %s", what, len, fd,
		            strerror(errno));
#ifdef MADV_DONTDUMP
	madvise(map, len, MADV_DONTDUMP); /* guest RAM stays out of cores */
#endif
	struct region *r = calloc(1, sizeof(*r));
	if (!r) {
		munmap(map, len);
		return fail(err, errlen, -ENOMEM, "%s: out of memory", what);
	}
	atomic_init(&r->refs, 1);
	r->pub = *d;
	r->pub.base = (const uint8_t *)map + d->mmap_offset;
	r->gpa_last = d->gpa + (d->size - 1);
	r->uaddr_last = d->uaddr + (d->size - 1);
	r->map = map;
	r->maplen = len;
	*out = r;
	return 0;
}

/* Snapshots and lookup. */

static struct vup_memmap *snap_alloc(unsigned n)
{
	struct vup_memmap *m =
	        calloc(1, sizeof(*m) + 2 * (size_t)n * sizeof(m->slots[0]));
	if (!m)
		return NULL;
	atomic_init(&m->refs, 1);
	m->n = n;
	m->by_gpa = m->slots;
	m->by_uaddr = m->slots + n;
	return m;
}

static uint64_t start_of(const struct region *r, enum vup_addr_space as)
{
	return as == VUP_AS_GPA ? r->pub.gpa : r->pub.uaddr;
}

static uint64_t last_of(const struct region *r, enum vup_addr_space as)
{
	return as == VUP_AS_GPA ? r->gpa_last : r->uaddr_last;
}

static struct region *const *sorted(const struct vup_memmap *m,
                                    enum vup_addr_space as)
{
	return as == VUP_AS_GPA ? m->by_gpa : m->by_uaddr;
}

/* Index of the first region starting above addr. */
static unsigned upper(const struct vup_memmap *m, enum vup_addr_space as,
                      uint64_t addr)
{
	struct region *const *v = sorted(m, as);
	unsigned lo = 0, hi = m->n;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (start_of(v[mid], as) <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct region *find(const struct vup_memmap *m,
                                 enum vup_addr_space as, uint64_t addr)
{
	if (!m || m->n == 0)
		return NULL;
	unsigned i = upper(m, as, addr);
	if (i == 0)
		return NULL;
	const struct region *r = sorted(m, as)[i - 1];
	return addr <= last_of(r, as) ? r : NULL;
}

/* A region of m that shares an address with [start, last], or NULL. */
static const struct region *overlap(const struct vup_memmap *m,
                                    enum vup_addr_space as, uint64_t start,
                                    uint64_t last)
{
	if (!m || m->n == 0)
		return NULL;
	const struct region *r = find(m, as, start);
	if (r)
		return r;
	unsigned i = upper(m, as, start);
	if (i < m->n && start_of(sorted(m, as)[i], as) <= last)
		return sorted(m, as)[i];
	return NULL;
}

static const char *as_name(enum vup_addr_space as)
{
	return as == VUP_AS_GPA ? "gpa" : "uaddr";
}

static int overlap_fail(const struct region *a, const char *what,
                        const struct region *b, enum vup_addr_space as,
                        char *err, size_t errlen)
{
	return fail(err, errlen, -EINVAL,
	            "%s: %s 0x%" PRIx64 "-0x%" PRIx64
	            " overlaps the region at %s 0x%" PRIx64 "-0x%" PRIx64,
	            what, as_name(as), start_of(a, as), last_of(a, as),
	            as_name(as), start_of(b, as), last_of(b, as));
}

static int cmp_gpa(const void *a, const void *b)
{
	const struct region *x = *(struct region *const *)a;
	const struct region *y = *(struct region *const *)b;
	return (x->pub.gpa > y->pub.gpa) - (x->pub.gpa < y->pub.gpa);
}

static int cmp_uaddr(const void *a, const void *b)
{
	const struct region *x = *(struct region *const *)a;
	const struct region *y = *(struct region *const *)b;
	return (x->pub.uaddr > y->pub.uaddr) - (x->pub.uaddr < y->pub.uaddr);
}

/* Public API. */

struct vup_memmap *vup_memmap_get(struct vup_memmap *m)
{
	if (m)
		atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
	return m;
}

void vup_memmap_put(struct vup_memmap *m)
{
	if (!m ||
	    atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (unsigned i = 0; i < m->n; i++)
		region_put(m->by_gpa[i]);
	free(m);
}

/* A snapshot of n regions (what[i] names region i in errors), mapped
 * from fds[i]: every description is checked, overlaps included, before
 * any fd is touched. */
struct build_scratch {
	struct vup_memmap_region d;
	struct region tmp;
	struct region *v;
	char what[24]; /* "region " and a u32 */
};

static int build(const struct vup_model_region *parsed, unsigned n,
                 const int *fds, bool rw, struct vup_memmap **out, char *err,
                 size_t errlen)
{
	struct build_scratch *b = calloc(n ? n : 1, sizeof(*b));
	struct region **v = calloc(n ? n : 1, sizeof(*v));
	struct vup_memmap *m = NULL;
	int rc = b && v ? 0 : fail(err, errlen, -ENOMEM, "out of memory");
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		snprintf(b[i].what, sizeof(b[i].what), "region %u", i);
		from_model(&parsed[i], &b[i].d);
		rc = check_region(&b[i].d, b[i].what, err, errlen);
		b[i].tmp.pub = b[i].d;
		b[i].tmp.pub.base = (const uint8_t *)(uintptr_t)i; /* index */
		b[i].tmp.gpa_last = b[i].d.gpa + (b[i].d.size - 1);
		b[i].tmp.uaddr_last = b[i].d.uaddr + (b[i].d.size - 1);
		v[i] = &b[i].tmp;
	}
	/* Overlaps, on the descriptions: no fd is touched before. */
	for (int as = VUP_AS_UADDR; as <= VUP_AS_GPA && rc == 0; as++) {
		qsort(v, n, sizeof(v[0]),
		      as == VUP_AS_GPA ? cmp_gpa : cmp_uaddr);
		for (uint32_t i = 1; i < n && rc == 0; i++) {
			if (start_of(v[i], as) > last_of(v[i - 1], as))
				continue;
			uintptr_t k = (uintptr_t)v[i]->pub.base;
			rc = overlap_fail(v[i], b[k].what, v[i - 1], as, err,
			                  errlen);
		}
	}
	if (rc == 0 && !(m = snap_alloc(n)))
		rc = fail(err, errlen, -ENOMEM, "out of memory");
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		rc = region_map(&b[i].d, fds[i], rw, b[i].what, &m->by_gpa[i],
		                err, errlen);
		if (rc < 0) {
			m->n = i;
			vup_memmap_put(m);
			break;
		}
		m->by_uaddr[i] = m->by_gpa[i];
	}
	free(b);
	free(v);
	if (rc < 0)
		return rc;
	qsort(m->by_gpa, n, sizeof(m->by_gpa[0]), cmp_gpa);
	qsort(m->by_uaddr, n, sizeof(m->by_uaddr[0]), cmp_uaddr);
	*out = m;
	return 0;
}

static int set_table(struct vup_memmap **out, const uint8_t *payload,
                     uint32_t size, const int *fds, unsigned nfds,
                     bool xen_mmap, bool rw, char *err, size_t errlen)
{
	/* The session model's parser: one reading of a memory table. */
	struct vup_model_region parsed[VUP_MEMMAP_TABLE_MAX];
	unsigned n;
	int rc = vup_model_parse_table(payload, size, xen_mmap,
	                               VUP_MEMMAP_TABLE_MAX, parsed, &n, err,
	                               errlen);
	if (rc < 0)
		return rc;
	if (nfds != n)
		return fail(err, errlen, -EINVAL,
		            "SET_MEM_TABLE has %u regions but %u fds", n, nfds);
	return build(parsed, n, fds, rw, out, err, errlen);
}

int vup_memmap_set_table(struct vup_memmap **out, const uint8_t *payload,
                         uint32_t size, const int *fds, unsigned nfds,
                         bool xen_mmap, char *err, size_t errlen)
{
	return set_table(out, payload, size, fds, nfds, xen_mmap, false, err,
	                 errlen);
}

int vup_memmap_set_table_rw(struct vup_memmap **out, const uint8_t *payload,
                            uint32_t size, const int *fds, unsigned nfds,
                            char *err, size_t errlen)
{
	return set_table(out, payload, size, fds, nfds, false, true, err,
	                 errlen);
}

int vup_memmap_from_regions(const struct vup_model_region *regions,
                            const int *fds, unsigned n, struct vup_memmap **out,
                            char *err, size_t errlen)
{
	if (n > VUP_MEMMAP_SLOTS_MAX)
		return fail(err, errlen, -EINVAL,
		            "the table has %u regions, at most %u", n,
		            VUP_MEMMAP_SLOTS_MAX);
	return build(regions, n, fds, false, out, err, errlen);
}

static int parse_one(const char *msg, const uint8_t *payload, uint32_t size,
                     bool xen_mmap, struct vup_memmap_region *d, char *err,
                     size_t errlen)
{
	struct vup_model_region r;
	int rc = vup_model_parse_mem_reg(msg, payload, size, xen_mmap, &r, err,
	                                 errlen);
	if (rc == 0)
		from_model(&r, d);
	return rc;
}

/* Copy v without index skip (n entries, skip == n keeps all), inserting
 * add (if any) before index at. */
static void copy_refs(struct region **dst, struct region *const *src,
                      unsigned n, unsigned skip, struct region *add,
                      unsigned at)
{
	unsigned j = 0;
	for (unsigned i = 0; i <= n; i++) {
		if (add && i == at)
			dst[j++] = add;
		if (i < n && i != skip)
			dst[j++] = src[i];
	}
}

int vup_memmap_add(const struct vup_memmap *old, const uint8_t *payload,
                   uint32_t size, int fd, bool xen_mmap,
                   struct vup_memmap **out, char *err, size_t errlen)
{
	const char *what = "added region";
	struct vup_memmap_region d;
	int rc = parse_one("ADD_MEM_REG", payload, size, xen_mmap, &d, err,
	                   errlen);
	if (rc < 0)
		return rc;
	rc = check_region(&d, what, err, errlen);
	if (rc < 0)
		return rc;
	unsigned n = old ? old->n : 0;
	if (n >= VUP_MEMMAP_SLOTS_MAX)
		return fail(err, errlen, -EINVAL,
		            "%s: the table already has %u regions, at most %u",
		            what, n, VUP_MEMMAP_SLOTS_MAX);
	struct region probe = {.pub = d,
	                       .gpa_last = d.gpa + (d.size - 1),
	                       .uaddr_last = d.uaddr + (d.size - 1)};
	for (int as = VUP_AS_UADDR; as <= VUP_AS_GPA; as++) {
		const struct region *o = overlap(old, as, start_of(&probe, as),
		                                 last_of(&probe, as));
		if (o)
			return overlap_fail(&probe, what, o, as, err, errlen);
	}

	struct vup_memmap *m = snap_alloc(n + 1);
	if (!m)
		return fail(err, errlen, -ENOMEM, "out of memory");
	struct region *r;
	rc = region_map(&d, fd, false, what, &r, err, errlen);
	if (rc < 0) {
		free(m);
		return rc;
	}
	if (old) {
		copy_refs(m->by_gpa, old->by_gpa, n, n, r,
		          upper(old, VUP_AS_GPA, d.gpa));
		copy_refs(m->by_uaddr, old->by_uaddr, n, n, r,
		          upper(old, VUP_AS_UADDR, d.uaddr));
		for (unsigned i = 0; i < n; i++)
			region_get(old->by_gpa[i]);
	} else {
		m->by_gpa[0] = m->by_uaddr[0] = r;
	}
	*out = m;
	return 0;
}

int vup_memmap_remove(const struct vup_memmap *old, const uint8_t *payload,
                      uint32_t size, bool xen_mmap, struct vup_memmap **out,
                      char *err, size_t errlen)
{
	/* Zeroed: parse_one's failure return comes from fail(), which is
	 * variadic and never inlined, so once gcc -O3 inlines parse_one it
	 * cannot see that rc < 0 whenever d was left unwritten. */
	struct vup_memmap_region d = {0};
	int rc = parse_one("REM_MEM_REG", payload, size, xen_mmap, &d, err,
	                   errlen);
	if (rc < 0)
		return rc;
	const struct region *r = find(old, VUP_AS_GPA, d.gpa);
	if (!r || r->pub.gpa != d.gpa || r->pub.size != d.size ||
	    r->pub.uaddr != d.uaddr)
		return fail(err, errlen, -ENOENT,
		            "REM_MEM_REG: no region with gpa 0x%" PRIx64
		            " size 0x%" PRIx64 " uaddr 0x%" PRIx64,
		            d.gpa, d.size, d.uaddr);
	unsigned n = old->n;
	struct vup_memmap *m = snap_alloc(n - 1);
	if (!m)
		return fail(err, errlen, -ENOMEM, "out of memory");
	unsigned ig = upper(old, VUP_AS_GPA, d.gpa) - 1;
	unsigned iu = upper(old, VUP_AS_UADDR, d.uaddr) - 1;
	copy_refs(m->by_gpa, old->by_gpa, n, ig, NULL, 0);
	copy_refs(m->by_uaddr, old->by_uaddr, n, iu, NULL, 0);
	for (unsigned i = 0; i < n - 1; i++)
		region_get(m->by_gpa[i]);
	*out = m;
	return 0;
}

unsigned vup_memmap_count(const struct vup_memmap *m)
{
	return m ? m->n : 0;
}

const struct vup_memmap_region *vup_memmap_at(const struct vup_memmap *m,
                                              unsigned i)
{
	return m && i < m->n ? &m->by_gpa[i]->pub : NULL;
}

bool vup_memmap_read(const struct vup_memmap *m, enum vup_addr_space as,
                     uint64_t addr, void *dst, size_t len)
{
	uint8_t *d = dst;
	if (len == 0)
		return true;
	if ((uint64_t)len - 1 > UINT64_MAX - addr)
		return false;
	while (len) {
		const struct region *r = find(m, as, addr);
		if (!r)
			return false;
		/* At most size (<= 2^64 - 1) bytes: no wrap. */
		uint64_t avail = last_of(r, as) - addr + 1;
		size_t k = (uint64_t)len < avail ? len : (size_t)avail;
		if (!vup__guarded_copy(
		            d, r->pub.base + (addr - start_of(r, as)), k))
			return false;
		d += k;
		len -= k;
		addr += k; /* wraps to 0 only when len is now 0 */
	}
	return true;
}

const uint8_t *vup_memmap_ptr(const struct vup_memmap *m,
                              enum vup_addr_space as, uint64_t addr, size_t len)
{
	const struct region *r = find(m, as, addr);
	if (!r)
		return NULL;
	if (len == 0)
		len = 1;
	if ((uint64_t)len - 1 > last_of(r, as) - addr)
		return NULL;
	return r->pub.base + (addr - start_of(r, as));
}

static bool guest_read(void *ctx, enum vup_addr_space as, uint64_t addr,
                       void *dst, size_t len)
{
	return vup_memmap_read(ctx, as, addr, dst, len);
}

struct vup_guest_mem vup_memmap_guest(const struct vup_memmap *m)
{
	struct vup_guest_mem g = {guest_read, (void *)(uintptr_t)m};
	return g;
}
