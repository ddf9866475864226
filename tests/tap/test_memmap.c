/* Unit tests for src/tap/memmap.c: mapping memfd-backed regions, address
 * translation in both spaces, bounds, refusals with their reasons,
 * snapshots across ADD/REM, and that nothing leaks or writes. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../unit/unit.h"
#include "vuproxy/memmap.h"
#include "vuproxy/model.h"

static char err[256];

/* The byte a test file holds at offset off. */
static uint8_t pat(unsigned seed, uint64_t off)
{
	return (uint8_t)(seed * 37 + off * 7 + (off >> 8) * 3);
}

/* A memfd of size bytes filled with pat(seed, .) through its own mapping. */
static int memfd(size_t size, unsigned seed)
{
	int fd = memfd_create("vup-test", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (size) {
		uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		                  MAP_SHARED, fd, 0);
		assert_true(p != MAP_FAILED);
		for (size_t i = 0; i < size; i++)
			p[i] = pat(seed, i);
		munmap(p, size);
	}
	return fd;
}

struct reg {
	uint64_t gpa, size, uaddr, off;
	uint32_t xen_flags;
};

/* SET_MEM_TABLE payload; returns its size. */
static uint32_t table(uint8_t *buf, uint32_t n, const struct reg *r, bool xen)
{
	uint32_t rsz = xen ? 40 : 32;
	memset(buf, 0, 8 + n * rsz);
	put_u32(buf, 0, n);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *p = buf + 8 + i * rsz;
		put_u64(p, 0, r[i].gpa);
		put_u64(p, 8, r[i].size);
		put_u64(p, 16, r[i].uaddr);
		put_u64(p, 24, r[i].off);
		if (xen)
			put_u32(p, 32, r[i].xen_flags);
	}
	return 8 + n * rsz;
}

/* ADD_MEM_REG / REM_MEM_REG payload. */
static uint32_t one(uint8_t *buf, struct reg r, bool xen)
{
	uint8_t t[8 + 40];
	uint32_t size = table(t, 1, &r, xen);
	memset(buf, 0, 8);
	memcpy(buf + 8, t + 8, size - 8);
	return size;
}

/* Mappings of the test memfds (other lines of /proc/self/maps come and go
 * with the allocator, ASan's in particular). */
static int count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	char line[512];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "/memfd:vup-test") != NULL;
	fclose(f);
	return n;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Expect len bytes at addr to be file seed's bytes from offset off. */
static void expect_bytes(const struct vup_memmap *m, enum vup_addr_space as,
                         uint64_t addr, size_t len, unsigned seed, uint64_t off)
{
	uint8_t buf[256];
	assert_true(len <= sizeof(buf));
	assert_true(vup_memmap_read(m, as, addr, buf, len));
	for (size_t i = 0; i < len; i++)
		assert_int_equal(buf[i], pat(seed, off + i));
}

static bool readable(const struct vup_memmap *m, enum vup_addr_space as,
                     uint64_t addr, size_t len)
{
	uint8_t buf[64];
	assert_true(len <= sizeof(buf));
	return vup_memmap_read(m, as, addr, buf, len);
}

/* Two regions: A (fd seed 1, 64 KiB) and B (fd seed 2, 16 KiB at offset
 * 4 KiB of a 20 KiB file). */
static const struct reg two[] = {
        {0x100000, 0x10000, 0x7f0000000000, 0, 0},
        {0x200000, 0x4000, 0x7f1000000000, 0x1000, 0},
};

static struct vup_memmap *map_two(int fds[2])
{
	uint8_t buf[8 + 8 * 40];
	fds[0] = memfd(0x10000, 1);
	fds[1] = memfd(0x5000, 2);
	uint32_t size = table(buf, 2, two, false);
	struct vup_memmap *m = NULL;
	assert_int_equal(vup_memmap_set_table(&m, buf, size, fds, 2, false, err,
	                                      sizeof(err)),
	                 0);
	assert_non_null(m);
	return m;
}

static void test_translate(void **state)
{
	(void)state;
	int fds[2];
	struct vup_memmap *m = map_two(fds);
	/* The mirror does not own the fds: closing them keeps the mappings. */
	close(fds[0]);
	close(fds[1]);

	assert_int_equal(vup_memmap_count(m), 2);
	expect_bytes(m, VUP_AS_GPA, 0x100000, 16, 1, 0);
	expect_bytes(m, VUP_AS_GPA, 0x10fff0, 16, 1, 0xfff0);
	expect_bytes(m, VUP_AS_UADDR, 0x7f0000000123, 100, 1, 0x123);
	/* mmap_offset: gpa 0x200000 is file offset 0x1000. */
	expect_bytes(m, VUP_AS_GPA, 0x200000, 16, 2, 0x1000);
	expect_bytes(m, VUP_AS_UADDR, 0x7f1000003ff0, 16, 2, 0x4ff0);

	/* Through the guestmem interface. */
	struct vup_guest_mem g = vup_memmap_guest(m);
	uint8_t b[4];
	assert_true(vup_guest_read(&g, VUP_AS_GPA, 0x200010, b, 4));
	assert_int_equal(b[0], pat(2, 0x1010));
	assert_false(vup_guest_read(&g, VUP_AS_GPA, 0x7f1000000000, b, 4));
	assert_true(vup_guest_read(&g, VUP_AS_UADDR, 0x7f1000000000, b, 4));

	/* Zero-copy pointers. */
	const uint8_t *p = vup_memmap_ptr(m, VUP_AS_GPA, 0x100010, 0x100);
	assert_non_null(p);
	assert_int_equal(p[0], pat(1, 0x10));
	assert_ptr_equal(vup_memmap_ptr(m, VUP_AS_UADDR, 0x7f0000000010, 1), p);
	assert_non_null(vup_memmap_ptr(m, VUP_AS_GPA, 0x100000, 0x10000));
	assert_null(vup_memmap_ptr(m, VUP_AS_GPA, 0x100000, 0x10001));
	assert_null(vup_memmap_ptr(m, VUP_AS_GPA, 0xfffff, 2));
	assert_non_null(vup_memmap_ptr(m, VUP_AS_GPA, 0x10ffff, 0));
	assert_null(vup_memmap_ptr(m, VUP_AS_GPA, 0x110000, 0));

	const struct vup_memmap_region *r = vup_memmap_at(m, 1);
	assert_int_equal(r->gpa, 0x200000);
	assert_int_equal(r->mmap_offset, 0x1000);
	assert_null(vup_memmap_at(m, 2));
	vup_memmap_put(m);
}

static void test_span_adjacent(void **state)
{
	(void)state;
	/* Adjacent in gpa, not in uaddr; listed out of order. */
	struct reg r[] = {
	        {0x20000, 0x10000, 0x900000, 0, 0},
	        {0x10000, 0x10000, 0x500000, 0x2000, 0},
	};
	int fds[2] = {memfd(0x10000, 3), memfd(0x12000, 4)};
	uint8_t buf[8 + 2 * 32];
	struct vup_memmap *m = NULL;
	assert_int_equal(vup_memmap_set_table(&m, buf, table(buf, 2, r, false),
	                                      fds, 2, false, err, sizeof(err)),
	                 0);
	close(fds[0]);
	close(fds[1]);
	uint8_t got[64];
	assert_true(vup_memmap_read(m, VUP_AS_GPA, 0x1ffe0, got, 64));
	for (int i = 0; i < 32; i++)
		assert_int_equal(got[i], pat(4, 0x2000 + 0xffe0 + i));
	for (int i = 32; i < 64; i++)
		assert_int_equal(got[i], pat(3, i - 32));
	/* The same span in uaddr crosses a gap. */
	assert_false(readable(m, VUP_AS_UADDR, 0x50ffe0, 64));
	/* No pointer across two regions. */
	assert_null(vup_memmap_ptr(m, VUP_AS_GPA, 0x1ffe0, 64));
	/* The whole of both at once. */
	static uint8_t all[0x20000];
	assert_true(vup_memmap_read(m, VUP_AS_GPA, 0x10000, all, sizeof(all)));
	assert_int_equal(all[0], pat(4, 0x2000));
	assert_int_equal(all[0x1ffff], pat(3, 0xffff));
	assert_false(vup_memmap_read(m, VUP_AS_GPA, 0xffff, all, sizeof(all)));
	assert_false(vup_memmap_read(m, VUP_AS_GPA, 0x10001, all, sizeof(all)));
	vup_memmap_put(m);
}

static void test_outside(void **state)
{
	(void)state;
	int fds[2];
	struct vup_memmap *m = map_two(fds);
	close(fds[0]);
	close(fds[1]);
	assert_false(readable(m, VUP_AS_GPA, 0, 1));         /* below */
	assert_false(readable(m, VUP_AS_GPA, 0xfffff, 1));   /* just below */
	assert_false(readable(m, VUP_AS_GPA, 0xffff0, 32));  /* into start */
	assert_false(readable(m, VUP_AS_GPA, 0x10fff0, 17)); /* over end */
	assert_true(readable(m, VUP_AS_GPA, 0x10fff0, 16));
	assert_false(readable(m, VUP_AS_GPA, 0x110000, 1)); /* gap */
	assert_false(readable(m, VUP_AS_GPA, 0x1fffff, 2)); /* gap + B */
	assert_false(readable(m, VUP_AS_GPA, 0x204000, 1)); /* above */
	assert_false(readable(m, VUP_AS_GPA, UINT64_MAX, 1));
	assert_false(readable(m, VUP_AS_UADDR, 0x100000, 1)); /* wrong space */
	assert_false(readable(m, VUP_AS_UADDR, 0x7f0000010000, 1));
	assert_true(readable(m, VUP_AS_GPA, 0, 0)); /* nothing to read */
	assert_null(vup_memmap_ptr(m, VUP_AS_GPA, 0x204000, 1));
	vup_memmap_put(m);

	/* No table at all. */
	uint8_t b;
	struct vup_guest_mem g = vup_memmap_guest(NULL);
	assert_false(vup_guest_read(&g, VUP_AS_GPA, 0, &b, 1));
	assert_null(vup_memmap_ptr(NULL, VUP_AS_GPA, 0, 1));
	assert_int_equal(vup_memmap_count(NULL), 0);
	vup_memmap_put(NULL);
}

static void test_wrap(void **state)
{
	(void)state;
	/* A region that ends exactly at 2^64 in both spaces. */
	struct reg r = {UINT64_MAX - 0xfff, 0x1000, UINT64_MAX - 0xfff, 0, 0};
	int fd = memfd(0x1000, 5);
	uint8_t buf[8 + 32];
	struct vup_memmap *m = NULL;
	assert_int_equal(vup_memmap_set_table(&m, buf, table(buf, 1, &r, false),
	                                      &fd, 1, false, err, sizeof(err)),
	                 0);
	expect_bytes(m, VUP_AS_GPA, UINT64_MAX, 1, 5, 0xfff);
	expect_bytes(m, VUP_AS_UADDR, UINT64_MAX - 15, 16, 5, 0xff0);
	assert_false(readable(m, VUP_AS_GPA, UINT64_MAX, 2));
	assert_false(readable(m, VUP_AS_GPA, UINT64_MAX - 15, 17));
	uint8_t b;
	assert_false(
	        vup_memmap_read(m, VUP_AS_GPA, UINT64_MAX - 15, &b, SIZE_MAX));
	assert_false(vup_memmap_read(m, VUP_AS_GPA, 1, &b, SIZE_MAX));
	assert_null(vup_memmap_ptr(m, VUP_AS_GPA, UINT64_MAX, 2));
	assert_null(vup_memmap_ptr(m, VUP_AS_GPA, UINT64_MAX - 15, SIZE_MAX));
	assert_non_null(vup_memmap_ptr(m, VUP_AS_GPA, UINT64_MAX, 1));
	vup_memmap_put(m);

	/* Refused descriptions. */
	struct {
		struct reg r;
		const char *why;
	} bad[] = {
	        {{1, 0x1000, 0, 0, 0}, "wraps"}, /* fixed below */
	        {{0, 0x1000, UINT64_MAX - 0xffe, 0, 0}, "uaddr 0x"},
	        {{0, UINT64_MAX, 0, 2, 0}, "overflows"},
	        {{0, 0, 0, 0, 0}, "size is 0"},
	};
	bad[0].r.gpa = UINT64_MAX - 0xffe;
	for (size_t i = 0; i < COUNT(bad); i++) {
		m = NULL;
		assert_int_equal(
		        vup_memmap_set_table(&m, buf,
		                             table(buf, 1, &bad[i].r, false),
		                             &fd, 1, false, err, sizeof(err)),
		        -EINVAL);
		assert_null(m);
		assert_contains(err, "region 0: ");
		assert_contains(err, bad[i].why);
	}
	close(fd);
}

static void test_short_file(void **state)
{
	(void)state;
	struct reg r[] = {
	        {0, 0x1000, 0, 0, 0},
	        {0x10000, 0x10000, 0x10000, 0, 0},
	};
	int fds[2] = {memfd(0x1000, 1), memfd(4096, 2)};
	uint8_t buf[8 + 2 * 32];
	struct vup_memmap *m = NULL;
	int maps = count_maps();
	assert_int_equal(vup_memmap_set_table(&m, buf, table(buf, 2, r, false),
	                                      fds, 2, false, err, sizeof(err)),
	                 -ENXIO);
	assert_null(m);
	assert_string_equal(err, "region 1: file is 4096 bytes, the region "
	                         "needs 0x10000 + 0x0");
	/* Region 0 was mapped, then unmapped again. */
	assert_int_equal(count_maps(), maps);

	/* mmap_offset counts: 0x1000 + 0x1 in a 0x1000 file. */
	r[1].size = 0x1000;
	r[1].off = 1;
	assert_int_equal(vup_memmap_set_table(&m, buf, table(buf, 2, r, false),
	                                      fds, 2, false, err, sizeof(err)),
	                 -ENXIO);
	assert_contains(err, "needs 0x1000 + 0x1");
	/* An empty memfd. */
	int e = memfd(0, 0);
	assert_int_equal(vup_memmap_set_table(&m, buf, table(buf, 1, r, false),
	                                      &e, 1, false, err, sizeof(err)),
	                 -ENXIO);
	assert_contains(err, "file is 0 bytes");
	close(e);
	close(fds[0]);
	close(fds[1]);
}

static void test_unmappable(void **state)
{
	(void)state;
	struct reg r = {0, 0x1000, 0, 0, 0};
	uint8_t buf[8 + 32];
	uint32_t size = table(buf, 1, &r, false);
	struct vup_memmap *m = NULL;
	int p[2], s[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(vup_memmap_set_table(&m, buf, size, &p[0], 1, false,
	                                      err, sizeof(err)),
	                 -ENODEV);
	assert_contains(err, "region 0: fd ");
	assert_contains(err, "is a pipe, not a mappable file");
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	assert_int_equal(vup_memmap_set_table(&m, buf, size, &s[0], 1, false,
	                                      err, sizeof(err)),
	                 -ENODEV);
	assert_contains(err, "is a socket");
	int bad = -1;
	assert_int_equal(vup_memmap_set_table(&m, buf, size, &bad, 1, false,
	                                      err, sizeof(err)),
	                 -EBADF);
	int closed = dup(p[1]);
	close(closed);
	assert_int_equal(vup_memmap_set_table(&m, buf, size, &closed, 1, false,
	                                      err, sizeof(err)),
	                 -EBADF);
	assert_contains(err, "fstat");
	/* ADD_MEM_REG with a pipe. */
	uint8_t one_buf[48];
	assert_int_equal(vup_memmap_add(NULL, one_buf, one(one_buf, r, false),
	                                p[1], false, &m, err, sizeof(err)),
	                 -ENODEV);
	assert_contains(err, "added region: fd ");
	assert_null(m);
	/* The caller's fds are still open. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(close(p[i]), 0);
		assert_int_equal(close(s[i]), 0);
	}
}

static void test_overlap(void **state)
{
	(void)state;
	int fd = memfd(0x3000, 1);
	int fds[3] = {fd, fd, fd};
	uint8_t buf[8 + 3 * 32];
	struct vup_memmap *m = NULL;
	/* gpa overlap by one byte. */
	struct reg g[] = {
	        {0x0, 0x1000, 0x10000, 0, 0},
	        {0x5000, 0x1000, 0x30000, 0, 0},
	        {0xfff, 0x1000, 0x20000, 0, 0},
	};
	assert_int_equal(vup_memmap_set_table(&m, buf, table(buf, 3, g, false),
	                                      fds, 3, false, err, sizeof(err)),
	                 -EINVAL);
	assert_string_equal(err, "region 2: gpa 0xfff-0x1ffe overlaps the "
	                         "region at gpa 0x0-0xfff");
	/* uaddr overlap only. */
	struct reg u[] = {
	        {0x0, 0x2000, 0x10000, 0, 0},
	        {0x4000, 0x1000, 0x11fff, 0, 0},
	};
	assert_int_equal(vup_memmap_set_table(&m, buf, table(buf, 2, u, false),
	                                      fds, 2, false, err, sizeof(err)),
	                 -EINVAL);
	assert_contains(err, "region 1: uaddr 0x11fff-0x12ffe overlaps");
	/* Same fd for two disjoint regions is fine. */
	u[1].uaddr = 0x12000;
	assert_int_equal(vup_memmap_set_table(&m, buf, table(buf, 2, u, false),
	                                      fds, 2, false, err, sizeof(err)),
	                 0);
	/* ADD overlapping an existing region, inside one, around one. */
	struct reg a[] = {
	        {0x1fff, 0x10, 0x90000, 0, 0},   /* gpa end of region 0 */
	        {0x100, 0x10, 0x90000, 0, 0},    /* inside region 0 */
	        {0x3000, 0x3000, 0x90000, 0, 0}, /* covers region 1 */
	        {0x9000, 0x10, 0x10100, 0, 0},   /* uaddr inside region 0 */
	};
	uint8_t ob[48];
	for (size_t i = 0; i < COUNT(a); i++) {
		struct vup_memmap *n = NULL;
		assert_int_equal(vup_memmap_add(m, ob, one(ob, a[i], false), fd,
		                                false, &n, err, sizeof(err)),
		                 -EINVAL);
		assert_null(n);
		assert_contains(err, "added region: ");
		assert_contains(err, "overlaps");
	}
	vup_memmap_put(m);
	close(fd);
}

static void test_limits(void **state)
{
	(void)state;
	int fd = memfd(0x1000, 1);
	int fds[VUP_MEMMAP_TABLE_MAX + 1];
	struct reg r[VUP_MEMMAP_TABLE_MAX + 1];
	for (unsigned i = 0; i <= VUP_MEMMAP_TABLE_MAX; i++) {
		fds[i] = fd;
		r[i] = (struct reg){i * 0x1000ull, 0x1000, i * 0x1000ull, 0, 0};
	}
	uint8_t buf[8 + (VUP_MEMMAP_TABLE_MAX + 1) * 40];
	struct vup_memmap *m = NULL;
	assert_int_equal(
	        vup_memmap_set_table(
	                &m, buf, table(buf, VUP_MEMMAP_TABLE_MAX + 1, r, false),
	                fds, VUP_MEMMAP_TABLE_MAX + 1, false, err, sizeof(err)),
	        -EINVAL);
	assert_string_equal(err,
	                    "SET_MEM_TABLE declares 33 regions, at most 32");
	uint32_t size = table(buf, 8, r, false);
	assert_int_equal(vup_memmap_set_table(&m, buf, size - 1, fds, 8, false,
	                                      err, sizeof(err)),
	                 -EINVAL);
	assert_contains(err, "payload is 263 bytes, 8 regions of 32 bytes "
	                     "need 264");
	assert_int_equal(vup_memmap_set_table(&m, buf, size, fds, 8, true, err,
	                                      sizeof(err)),
	                 -EINVAL);
	assert_int_equal(vup_memmap_set_table(&m, buf, 4, fds, 0, false, err,
	                                      sizeof(err)),
	                 -EINVAL);
	assert_int_equal(vup_memmap_set_table(&m, buf, size, fds, 7, false, err,
	                                      sizeof(err)),
	                 -EINVAL);
	assert_contains(err, "8 regions but 7 fds");
	assert_int_equal(vup_memmap_set_table(&m, buf, size, fds, 8, false, err,
	                                      sizeof(err)),
	                 0);
	assert_int_equal(vup_memmap_count(m), 8);
	vup_memmap_put(m);
	/* An empty table. */
	assert_int_equal(vup_memmap_set_table(&m, buf, table(buf, 0, r, false),
	                                      NULL, 0, false, err, sizeof(err)),
	                 0);
	assert_int_equal(vup_memmap_count(m), 0);
	assert_false(readable(m, VUP_AS_GPA, 0, 1));
	vup_memmap_put(m);
	/* ADD/REM payload sizes. */
	uint8_t ob[48];
	assert_int_equal(
	        vup_memmap_add(NULL, ob, 48, fd, false, &m, err, sizeof(err)),
	        -EINVAL);
	assert_string_equal(err, "ADD_MEM_REG payload is 48 bytes, want 40");
	assert_int_equal(
	        vup_memmap_remove(NULL, ob, 40, true, &m, err, sizeof(err)),
	        -EINVAL);
	assert_string_equal(err, "REM_MEM_REG payload is 40 bytes, want 48");
	close(fd);
}

/* 512 regions by ADD_MEM_REG, in shuffled order, over one memfd: every
 * region i is 0x100 bytes at file offset (i % 16) * 0x100. */
static void test_many_slots(void **state)
{
	(void)state;
	int maps = count_maps();
	int fd = memfd(0x1000, 9);
	struct vup_memmap *m = NULL, *n;
	uint8_t ob[48];
	for (unsigned k = 0; k < VUP_MEMMAP_SLOTS_MAX; k++) {
		unsigned i =
		        (k * 197) % VUP_MEMMAP_SLOTS_MAX; /* a permutation */
		struct reg r = {0x100000 + i * 0x200ull, 0x100,
		                0x7000000 - i * 0x100ull, (i % 16) * 0x100, 0};
		assert_int_equal(vup_memmap_add(m, ob, one(ob, r, false), fd,
		                                false, &n, err, sizeof(err)),
		                 0);
		vup_memmap_put(m);
		m = n;
	}
	assert_int_equal(vup_memmap_count(m), VUP_MEMMAP_SLOTS_MAX);
	struct reg extra = {0x10, 0x10, 0x10, 0, 0};
	n = NULL;
	assert_int_equal(vup_memmap_add(m, ob, one(ob, extra, false), fd, false,
	                                &n, err, sizeof(err)),
	                 -EINVAL);
	assert_contains(err, "already has 512 regions, at most 512");
	assert_null(n);
	for (unsigned i = 0; i < VUP_MEMMAP_SLOTS_MAX; i++) {
		uint64_t off = (i % 16) * 0x100;
		expect_bytes(m, VUP_AS_GPA, 0x100000 + i * 0x200ull + 0x80,
		             0x80, 9, off + 0x80);
		expect_bytes(m, VUP_AS_UADDR, 0x7000000 - i * 0x100ull, 0x10, 9,
		             off);
		/* The gaps between gpa regions. */
		assert_false(readable(m, VUP_AS_GPA,
		                      0x100000 + i * 0x200ull + 0x100, 1));
		assert_false(readable(m, VUP_AS_GPA,
		                      0x100000 + i * 0x200ull + 0xff, 2));
	}
	/* uaddr regions are adjacent: one read spans three of them. */
	uint8_t b[0x220];
	assert_true(vup_memmap_read(m, VUP_AS_UADDR, 0x7000000 - 0x1f0, b,
	                            sizeof(b)));
	assert_int_equal(b[0], pat(9, 0x200 + 0x10)); /* region 2 */
	assert_int_equal(b[0xf0], pat(9, 0x100));     /* region 1 */
	assert_int_equal(b[0x1f0], pat(9, 0));        /* region 0 */
	assert_int_equal(b[0x21f], pat(9, 0x2f));
	vup_memmap_put(m);
	close(fd);
	assert_int_equal(count_maps(), maps);
}

/* A table from the session model's regions and kept fds (ctl show, a
 * tap started mid-session): past one SET_MEM_TABLE's 32 regions, with
 * the same checks before any fd is touched. */
static void test_from_regions(void **state)
{
	(void)state;
	int maps = count_maps();
	enum { N = 40 };
	struct vup_model_region r[N];
	int fds[N];
	int fd = memfd(0x1000, 5);
	for (unsigned i = 0; i < N; i++) {
		r[i] = (struct vup_model_region){
		        .gpa = 0x10000 * (i + 1ull),
		        .size = 0x800,
		        .uaddr = 0x7f0000000000ull + 0x1000 * i,
		        .mmap_offset = 0x100 * (i % 8)};
		fds[i] = fd;
	}
	struct vup_memmap *m = NULL;
	assert_int_equal(
	        vup_memmap_from_regions(r, fds, N, &m, err, sizeof(err)), 0);
	assert_int_equal(vup_memmap_count(m), N);
	for (unsigned i = 0; i < N; i++) {
		expect_bytes(m, VUP_AS_GPA, 0x10000 * (i + 1ull), 0x100, 5,
		             0x100 * (i % 8));
		expect_bytes(m, VUP_AS_UADDR,
		             0x7f0000000000ull + 0x1000 * i + 0x700, 0x100, 5,
		             0x100 * (i % 8) + 0x700);
		assert_false(readable(m, VUP_AS_GPA,
		                      0x10000 * (i + 1ull) + 0x7ff, 2));
	}
	vup_memmap_put(m);
	/* a region whose fd could not be kept */
	fds[7] = -1;
	m = NULL;
	assert_int_equal(
	        vup_memmap_from_regions(r, fds, N, &m, err, sizeof(err)),
	        -EBADF);
	assert_contains(err, "region 7: no fd");
	assert_null(m);
	/* overlapping regions: refused before any fd is mapped */
	fds[7] = fd;
	r[9].gpa = r[8].gpa + 0x400;
	assert_int_equal(
	        vup_memmap_from_regions(r, fds, N, &m, err, sizeof(err)),
	        -EINVAL);
	assert_contains(err, "overlaps");
	/* a region longer than its file */
	r[9].gpa = 0x10000 * 10ull;
	r[3].size = 0x1000;
	assert_int_equal(
	        vup_memmap_from_regions(r, fds, N, &m, err, sizeof(err)),
	        -ENXIO);
	assert_int_equal(
	        vup_memmap_from_regions(r, fds, 0, &m, err, sizeof(err)), 0);
	assert_int_equal(vup_memmap_count(m), 0);
	vup_memmap_put(m);
	close(fd);
	assert_int_equal(count_maps(), maps);
}

static void test_add_remove_snapshots(void **state)
{
	(void)state;
	int maps = count_maps();
	int fds[2];
	struct vup_memmap *a = map_two(fds);
	int fc = memfd(0x2000, 7);
	uint8_t ob[48];
	struct reg c = {0x300000, 0x2000, 0x7f2000000000, 0, 0};

	struct vup_memmap *b = NULL;
	assert_int_equal(vup_memmap_add(a, ob, one(ob, c, false), fc, false, &b,
	                                err, sizeof(err)),
	                 0);
	close(fc);
	assert_int_equal(vup_memmap_count(a), 2);
	assert_int_equal(vup_memmap_count(b), 3);
	/* The unchanged regions were not mapped again. */
	assert_int_equal(count_maps(), maps + 3);
	assert_ptr_equal(vup_memmap_at(a, 0)->base, vup_memmap_at(b, 0)->base);
	assert_ptr_equal(vup_memmap_at(a, 1)->base, vup_memmap_at(b, 1)->base);
	expect_bytes(b, VUP_AS_GPA, 0x301000, 16, 7, 0x1000);
	expect_bytes(b, VUP_AS_UADDR, 0x7f2000000000, 16, 7, 0);
	assert_false(readable(a, VUP_AS_GPA, 0x300000, 1));

	/* Remove A from b; a still has it. */
	const uint8_t *pa = vup_memmap_ptr(a, VUP_AS_GPA, 0x100000, 16);
	struct vup_memmap *c2 = NULL;
	assert_int_equal(vup_memmap_remove(b, ob, one(ob, two[0], false), false,
	                                   &c2, err, sizeof(err)),
	                 0);
	assert_int_equal(vup_memmap_count(c2), 2);
	assert_false(readable(c2, VUP_AS_GPA, 0x100000, 1));
	assert_false(readable(c2, VUP_AS_UADDR, 0x7f0000000000, 1));
	expect_bytes(c2, VUP_AS_GPA, 0x200000, 16, 2, 0x1000);
	expect_bytes(c2, VUP_AS_GPA, 0x300000, 16, 7, 0);
	vup_memmap_put(b);
	/* a is the last holder of A: still mapped. */
	assert_int_equal(count_maps(), maps + 3);
	expect_bytes(a, VUP_AS_GPA, 0x100000, 16, 1, 0);
	assert_int_equal(pa[5], pat(1, 5));

	/* A region no longer there, or never there. */
	struct vup_memmap *d = NULL;
	assert_int_equal(vup_memmap_remove(c2, ob, one(ob, two[0], false),
	                                   false, &d, err, sizeof(err)),
	                 -ENOENT);
	assert_string_equal(err, "REM_MEM_REG: no region with gpa 0x100000 "
	                         "size 0x10000 uaddr 0x7f0000000000");
	struct reg wrong = two[1];
	wrong.size = 0x1000;
	assert_int_equal(vup_memmap_remove(c2, ob, one(ob, wrong, false), false,
	                                   &d, err, sizeof(err)),
	                 -ENOENT);
	assert_int_equal(vup_memmap_remove(NULL, ob, one(ob, wrong, false),
	                                   false, &d, err, sizeof(err)),
	                 -ENOENT);
	assert_null(d);

	/* Releasing a unmaps A only. */
	vup_memmap_put(a);
	assert_int_equal(count_maps(), maps + 2);
	/* get/put pairs. */
	assert_ptr_equal(vup_memmap_get(c2), c2);
	vup_memmap_put(c2);
	expect_bytes(c2, VUP_AS_GPA, 0x200000, 16, 2, 0x1000);
	/* Remove everything, then add to the empty table. */
	struct vup_memmap *e = NULL, *f = NULL;
	assert_int_equal(vup_memmap_remove(c2, ob, one(ob, two[1], false),
	                                   false, &e, err, sizeof(err)),
	                 0);
	vup_memmap_put(c2);
	assert_int_equal(vup_memmap_remove(e, ob, one(ob, c, false), false, &f,
	                                   err, sizeof(err)),
	                 0);
	vup_memmap_put(e);
	assert_int_equal(vup_memmap_count(f), 0);
	assert_int_equal(count_maps(), maps);
	struct vup_memmap *g = NULL;
	assert_int_equal(vup_memmap_add(f, ob, one(ob, two[0], false), fds[0],
	                                false, &g, err, sizeof(err)),
	                 0);
	expect_bytes(g, VUP_AS_GPA, 0x100000, 16, 1, 0);
	vup_memmap_put(f);
	vup_memmap_put(g);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(count_maps(), maps);
}

static void test_xen_mmap(void **state)
{
	(void)state;
	struct reg r[] = {
	        {0x1000, 0x1000, 0x5000, 0x1000, 0},
	        {0x2000, 0x1000, 0x9000, 0, 0},
	};
	int fds[2] = {memfd(0x2000, 1), memfd(0x1000, 2)};
	uint8_t buf[8 + 2 * 40];
	uint32_t size = table(buf, 2, r, true);
	assert_int_equal(size, 88);
	put_u32(buf, 8 + 36, 0x1234); /* xen_mmap_data */
	struct vup_memmap *m = NULL;
	assert_int_equal(vup_memmap_set_table(&m, buf, size, fds, 2, true, err,
	                                      sizeof(err)),
	                 0);
	expect_bytes(m, VUP_AS_GPA, 0x1ff8, 8, 1, 0x1ff8);
	expect_bytes(m, VUP_AS_GPA, 0x2000, 8, 2, 0);
	assert_int_equal(vup_memmap_at(m, 0)->xen_data, 0x1234);
	/* Read as 32-byte regions, the same bytes are the wrong size. */
	assert_int_equal(vup_memmap_set_table(&m, buf, size, fds, 2, false, err,
	                                      sizeof(err)) < 0,
	                 1);
	/* ADD with a 48-byte payload. */
	uint8_t ob[48];
	struct reg c = {0x3000, 0x1000, 0xa000, 0, 0};
	struct vup_memmap *n = NULL;
	assert_int_equal(one(ob, c, true), 48);
	assert_int_equal(
	        vup_memmap_add(m, ob, 48, fds[1], true, &n, err, sizeof(err)),
	        0);
	expect_bytes(n, VUP_AS_GPA, 0x3000, 16, 2, 0);
	uint8_t b[32];
	assert_true(vup_memmap_read(n, VUP_AS_GPA, 0x2ff0, b, 32));
	assert_int_equal(b[0], pat(2, 0xff0));
	assert_int_equal(b[16], pat(2, 0));
	vup_memmap_put(n);
	vup_memmap_put(m);
	/* Foreign / grant mappings cannot be mirrored by plain mmap. */
	r[1].xen_flags = 1;
	assert_int_equal(vup_memmap_set_table(&m, buf, table(buf, 2, r, true),
	                                      fds, 2, true, err, sizeof(err)),
	                 -EINVAL);
	assert_contains(err, "region 1: Xen mmap flags 0x1");
	close(fds[0]);
	close(fds[1]);
}

static void test_no_leaks(void **state)
{
	(void)state;
	int maps = count_maps();
	int nfd = count_fds();
	for (int round = 0; round < 3; round++) {
		int fds[2];
		struct vup_memmap *m = map_two(fds);
		struct vup_memmap *hold = vup_memmap_get(m);
		/* The mirror leaves the fds to the caller: still open. */
		assert_int_equal(count_fds(), nfd + 2);
		uint8_t ob[48];
		struct vup_memmap *n = NULL;
		assert_int_equal(vup_memmap_remove(m, ob,
		                                   one(ob, two[1], false),
		                                   false, &n, err, sizeof(err)),
		                 0);
		struct reg big = {0x900000, 0x100000, 0x900000, 0, 0};
		struct vup_memmap *x = NULL;
		assert_int_equal(vup_memmap_add(n, ob, one(ob, big, false),
		                                fds[1], false, &x, err,
		                                sizeof(err)),
		                 -ENXIO);
		close(fds[0]);
		close(fds[1]);
		vup_memmap_put(m);
		vup_memmap_put(n);
		vup_memmap_put(hold);
	}
	assert_int_equal(count_fds(), nfd);
	assert_int_equal(count_maps(), maps);
}

static void test_write_faults(void **state)
{
	(void)state;
	int fds[2];
	struct vup_memmap *m = map_two(fds);
	uint8_t *p = (uint8_t *)vup_memmap_ptr(m, VUP_AS_GPA, 0x200000, 1);
	assert_non_null(p);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		*(volatile uint8_t *)p = 0xaa;
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
	/* And the byte is unchanged. */
	assert_int_equal(*p, pat(2, 0x1000));
	vup_memmap_put(m);
	close(fds[0]);
	close(fds[1]);
}

static void exit_42(int sig)
{
	(void)sig;
	_exit(42);
}

/* The front-end truncates a region's file after vuproxy mapped it: a
 * read of the lost pages fails instead of killing the process with
 * SIGBUS; the other region and the pages still there read on; a SIGBUS
 * outside a guarded read goes to the handler that was there before. */
static void test_file_cut_under_mapping(void **state)
{
	(void)state;
	int fds[2];
	struct vup_memmap *m = map_two(fds);
	assert_int_equal(ftruncate(fds[0], 0x4000), 0);
	uint8_t b[16];
	assert_false(vup_memmap_read(m, VUP_AS_GPA, 0x108000, b, sizeof(b)));
	assert_false(vup_memmap_read(m, VUP_AS_GPA, 0x103ff8, b, sizeof(b)));
	expect_bytes(m, VUP_AS_GPA, 0x100000, 16, 1, 0);
	expect_bytes(m, VUP_AS_GPA, 0x200000, 16, 2, 0x1000);
	/* Many times over: the guard is re-armed each time. */
	for (int i = 0; i < 1000; i++)
		assert_false(vup_memmap_read(m, VUP_AS_GPA, 0x10f000, b, 1));
	/* A SIGBUS outside a guarded read goes to the handler that was
	 * there before (here one that exits 42; by default, death). */
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGBUS, exit_42);
		int f2[2];
		struct vup_memmap *m2 = map_two(f2);
		if (ftruncate(f2[0], 0x4000) == 0 &&
		    !vup_memmap_read(m2, VUP_AS_GPA, 0x108000, b, 1)) {
			const uint8_t *p =
			        vup_memmap_ptr(m2, VUP_AS_GPA, 0x108000, 1);
			volatile uint8_t x = *(volatile const uint8_t *)p;
			(void)x;
		}
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 42);
	vup_memmap_put(m);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_translate),
	        cmocka_unit_test(test_file_cut_under_mapping),
	        cmocka_unit_test(test_span_adjacent),
	        cmocka_unit_test(test_outside),
	        cmocka_unit_test(test_wrap),
	        cmocka_unit_test(test_short_file),
	        cmocka_unit_test(test_unmappable),
	        cmocka_unit_test(test_overlap),
	        cmocka_unit_test(test_limits),
	        cmocka_unit_test(test_many_slots),
	        cmocka_unit_test(test_from_regions),
	        cmocka_unit_test(test_add_remove_snapshots),
	        cmocka_unit_test(test_xen_mmap),
	        cmocka_unit_test(test_no_leaks),
	        cmocka_unit_test(test_write_faults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
