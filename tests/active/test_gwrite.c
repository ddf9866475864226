/* Unit tests for src/active/gwrite.c: writes only inside a writable
 * mapping, counted per kind; dirty-log bits of exactly the pages
 * written; the memory mirror's lookup; a file cut under the mapping. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../unit/unit.h"
#include "active/gwrite.h"
#include "vuproxy/memmap.h"

#define GPA   0x100000ull
#define UADDR 0x7f0000000000ull
#define SIZE  0x10000u

static uint8_t buf[SIZE];

static uint8_t *buf_ptr(void *ctx, enum vup_addr_space as, uint64_t addr,
                        size_t len)
{
	(void)ctx;
	uint64_t start = as == VUP_AS_GPA ? GPA : UADDR;
	if (addr < start || addr - start > SIZE || len > SIZE - (addr - start))
		return NULL;
	return buf + (addr - start);
}

static struct vup_gwrite w;

static void setup_buf(void)
{
	memset(buf, 0xee, sizeof(buf));
	vup_gwrite_init(&w, (struct vup_guest_wmem){buf_ptr, NULL});
}

static void test_kinds_and_bounds(void **state)
{
	(void)state;
	setup_buf();
	uint8_t v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	assert_int_equal(vup_gwrite(&w, VUP_GW_USED_ELEM, VUP_AS_UADDR,
	                            UADDR + 8, v, 8, VUP_GWRITE_NOLOG),
	                 0);
	assert_memory_equal(buf + 8, v, 8);
	assert_int_equal(vup_gwrite(&w, VUP_GW_BLK_STATUS, VUP_AS_GPA,
	                            GPA + SIZE - 1, v, 1, GPA + SIZE - 1),
	                 0);
	assert_int_equal(buf[SIZE - 1], 1);
	assert_int_equal(vup_gwrite(&w, VUP_GW_USED_IDX, VUP_AS_UADDR,
	                            UADDR + 2, v, 2, VUP_GWRITE_NOLOG),
	                 0);
	assert_int_equal(w.st.writes[VUP_GW_USED_ELEM], 1);
	assert_int_equal(w.st.bytes[VUP_GW_USED_ELEM], 8);
	assert_int_equal(w.st.writes[VUP_GW_BLK_STATUS], 1);
	assert_int_equal(w.st.writes[VUP_GW_USED_IDX], 1);
	assert_int_equal(w.st.writes[VUP_GW_FAULT_DATA], 0);
	assert_string_equal(vup_gwrite_kind_name(VUP_GW_AVAIL_EVENT),
	                    "avail_event");

	/* Refused: one byte past the end, before the start, wrapping,
	 * the wrong address space, an unknown kind.  Nothing written. */
	uint8_t before[SIZE];
	memcpy(before, buf, SIZE);
	assert_int_equal(vup_gwrite(&w, VUP_GW_FAULT_DATA, VUP_AS_GPA,
	                            GPA + SIZE - 1, v, 2, GPA),
	                 -EFAULT);
	assert_int_equal(vup_gwrite(&w, VUP_GW_FAULT_DATA, VUP_AS_GPA, GPA - 1,
	                            v, 2, GPA),
	                 -EFAULT);
	assert_int_equal(vup_gwrite(&w, VUP_GW_FAULT_DATA, VUP_AS_GPA,
	                            UINT64_MAX - 2, v, 8, GPA),
	                 -EFAULT);
	assert_int_equal(vup_gwrite(&w, VUP_GW_USED_ELEM, VUP_AS_UADDR, GPA, v,
	                            8, VUP_GWRITE_NOLOG),
	                 -EFAULT);
	assert_int_equal(
	        vup_gwrite(&w, VUP_GW_NKINDS, VUP_AS_GPA, GPA, v, 1, GPA),
	        -EFAULT);
	assert_int_equal(w.st.refused, 5);
	assert_memory_equal(before, buf, SIZE);
	assert_int_equal(w.st.writes[VUP_GW_FAULT_DATA], 0);
}

static void test_dirty_log(void **state)
{
	(void)state;
	setup_buf();
	uint8_t log[4] = {0}; /* 32 pages: gpa 0 .. 0x1fffff */
	uint8_t v[0x40] = {0};
	/* Unlogged before a log is attached. */
	assert_int_equal(
	        vup_gwrite(&w, VUP_GW_FAULT_DATA, VUP_AS_GPA, GPA, v, 1, GPA),
	        0);
	vup_gwrite_set_log(&w, log, sizeof(log));
	/* GPA 0x100ff0 + 0x20 spans pages 0x100 and 0x101: past the log
	 * (32 pages) -> counted, not set.  Use a region low in the log:
	 * the log covers pages 0..31, i.e. gpa < 0x20000. */
	assert_int_equal(vup_gwrite(&w, VUP_GW_FAULT_DATA, VUP_AS_GPA,
	                            GPA + 0xff0, v, 0x20, GPA + 0xff0),
	                 0);
	assert_int_equal(w.st.log_beyond, 2);
	assert_memory_equal(log, ((uint8_t[4]){0}), 4);
	/* A used-ring write by uaddr, logged at its ring's log address:
	 * 0x5ff8 + 0x10 -> pages 5 and 6. */
	assert_int_equal(vup_gwrite(&w, VUP_GW_USED_ELEM, VUP_AS_UADDR, UADDR,
	                            v, 0x10, 0x5ff8),
	                 0);
	assert_int_equal(log[0], 0x60);
	assert_int_equal(log[1] | log[2] | log[3], 0);
	/* Exactly one page: 0x1f000 .. 0x1ffff is page 31. */
	assert_int_equal(vup_gwrite(&w, VUP_GW_AVAIL_EVENT, VUP_AS_UADDR, UADDR,
	                            v, 2, 0x1fffe),
	                 0);
	assert_int_equal(log[3], 0x80);
	/* A bit already set stays set; others untouched (atomic OR). */
	log[1] = 0x11;
	vup_gwrite_log(&w, 0x8000, 1);
	assert_int_equal(log[1], 0x11);
	vup_gwrite_log(&w, 0x9000, 0x1000);
	assert_int_equal(log[1], 0x13);
	/* NOLOG and a refused write set nothing. */
	uint8_t snap[4];
	memcpy(snap, log, 4);
	assert_int_equal(vup_gwrite(&w, VUP_GW_USED_FLAGS, VUP_AS_UADDR, UADDR,
	                            v, 2, VUP_GWRITE_NOLOG),
	                 0);
	assert_int_equal(vup_gwrite(&w, VUP_GW_FAULT_DATA, VUP_AS_GPA,
	                            GPA + SIZE, v, 1, 0x2000),
	                 -EFAULT);
	assert_memory_equal(snap, log, 4);
	vup_gwrite_set_log(&w, NULL, 0);
	assert_int_equal(vup_gwrite(&w, VUP_GW_FAULT_DATA, VUP_AS_GPA, GPA, v,
	                            1, 0x3000),
	                 0);
	assert_memory_equal(snap, log, 4);
}

/* The mirror's lookup over a memfd region; the mapping made writable
 * here as the active relay will map it. */
static void test_memmap_provider(void **state)
{
	(void)state;
	int fd = memfd_create("vup-gw", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 * SIZE), 0);
	uint8_t payload[8 + 32] = {0};
	put_u32(payload, 0, 1);
	put_u64(payload + 8, 0, GPA);
	put_u64(payload + 8, 8, SIZE);
	put_u64(payload + 8, 16, UADDR);
	put_u64(payload + 8, 24, SIZE); /* mmap_offset */
	struct vup_memmap *m = NULL;
	char err[256];
	assert_int_equal(vup_memmap_set_table(&m, payload, sizeof(payload), &fd,
	                                      1, false, err, sizeof(err)),
	                 0);
	const struct vup_memmap_region *r = vup_memmap_at(m, 0);
	uint8_t *base = (uint8_t *)(uintptr_t)r->base;
	assert_int_equal(mprotect(base, SIZE, PROT_READ | PROT_WRITE), 0);
	struct vup_gwrite mw;
	vup_gwrite_init(&mw, vup_gwrite_memmap(m));
	uint8_t v[4] = {0xde, 0xad, 0xbe, 0xef};
	assert_int_equal(vup_gwrite(&mw, VUP_GW_USED_ELEM, VUP_AS_UADDR,
	                            UADDR + 0x100, v, 4, VUP_GWRITE_NOLOG),
	                 0);
	assert_int_equal(vup_gwrite(&mw, VUP_GW_BLK_STATUS, VUP_AS_GPA,
	                            GPA + SIZE - 1, v, 1, VUP_GWRITE_NOLOG),
	                 0);
	uint8_t got[4];
	assert_int_equal(pread(fd, got, 4, SIZE + 0x100), 4);
	assert_memory_equal(got, v, 4);
	assert_int_equal(pread(fd, got, 1, 2 * SIZE - 1), 1);
	assert_int_equal(got[0], 0xde);
	/* Outside the region (the file's first SIZE bytes are not in it). */
	assert_int_equal(vup_gwrite(&mw, VUP_GW_FAULT_DATA, VUP_AS_GPA,
	                            GPA + SIZE - 2, v, 4, VUP_GWRITE_NOLOG),
	                 -EFAULT);
	assert_int_equal(vup_gwrite(&mw, VUP_GW_FAULT_DATA, VUP_AS_GPA, GPA - 4,
	                            v, 4, VUP_GWRITE_NOLOG),
	                 -EFAULT);
	assert_int_equal(mw.st.refused, 2);
	assert_int_equal(pread(fd, got, 4, SIZE - 4), 4);
	assert_memory_equal(got, ((uint8_t[4]){0}), 4);
	/* The front-end cuts the file: the write fails, no SIGBUS. */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(vup_gwrite(&mw, VUP_GW_USED_ELEM, VUP_AS_UADDR,
	                            UADDR + 0x200, v, 4, VUP_GWRITE_NOLOG),
	                 -EFAULT);
	assert_int_equal(mw.st.faulted, 1);
	assert_int_equal(mw.st.writes[VUP_GW_USED_ELEM], 1);
	vup_memmap_put(m);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_kinds_and_bounds),
	        cmocka_unit_test(test_dirty_log),
	        cmocka_unit_test(test_memmap_provider),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
