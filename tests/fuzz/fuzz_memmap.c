/* libFuzzer target for the memory mirror, src/tap/memmap.c.
 *
 * Tables are built from fuzz input over a few memfds (and a pipe, and no
 * fd at all); every read is checked against a model kept here from the
 * same payloads, so a read outside the regions, or of the wrong bytes, is
 * caught even where ASan cannot see it (inside a mapping).
 *
 * Input: a sequence of operations, each one control byte c then operands:
 *   c % 8 = 0  SET_MEM_TABLE: 1 byte nfds (mod 10), nfds fd selectors,
 *              2 bytes payload length (mod 400), payload bytes
 *          1  ADD_MEM_REG: 1 fd selector, 8 + region size payload bytes
 *          2  REM_MEM_REG: 8 + region size payload bytes
 *          3  read the current table: 8 bytes addr, 2 bytes len (mod 600)
 *          4  read the held table: same operands
 *          5  hold the current table (the old hold is put)
 *          6  reset: put the current table
 *          7  read near a modelled region: 1 byte region, 2 bytes signed
 *              delta from its start, 2 bytes len (mod 600)
 *   bit 3 of c: XEN_MMAP (40-byte regions) for 0-2; uaddr space for 3, 4, 7.
 * Fd selectors: mod 6 -> memfd 0-3 (0x1000, 0x3000, 0x10000, 0 bytes), a
 * pipe, -1.  Operands past the end of the input read as zeros.
 *
 * Checked besides memory safety: accepted tables are what the model
 * accepts (no overlap, in the file, at most 8 / 512 regions); reads succeed
 * exactly when every byte is in a region and return the file's bytes;
 * pointers only for ranges inside one region; after each input, no test
 * memfd is mapped.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "vuproxy/memmap.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			        __LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

#define NMEMFD 4
static const uint64_t memfd_size[NMEMFD] = {0x1000, 0x3000, 0x10000, 0};
static int fdsel[NMEMFD + 2]; /* memfds, pipe, -1 */

static uint8_t pat(int f, uint64_t off)
{
	return (uint8_t)(f * 37 + off * 7 + (off >> 8) * 3);
}

static void init(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	for (int i = 0; i < NMEMFD; i++) {
		int fd = memfd_create("vup-fuzz", MFD_CLOEXEC);
		CHECK(fd >= 0);
		CHECK(ftruncate(fd, (off_t)memfd_size[i]) == 0);
		if (memfd_size[i]) {
			uint8_t *p =
			        mmap(NULL, memfd_size[i],
			             PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			CHECK(p != MAP_FAILED);
			for (uint64_t o = 0; o < memfd_size[i]; o++)
				p[o] = pat(i, o);
			munmap(p, memfd_size[i]);
		}
		fdsel[i] = fd;
	}
	int p[2];
	CHECK(pipe(p) == 0);
	fdsel[NMEMFD] = p[0];
	fdsel[NMEMFD + 1] = -1;
}

/* The model: regions as the payloads said, with their file. */
struct mreg {
	uint64_t gpa, size, uaddr, off;
	int file; /* index into fdsel */
};
struct model {
	unsigned n;
	struct mreg r[VUP_MEMMAP_SLOTS_MAX];
};

static struct model cur_m, held_m, tmp_m;

static void parse(const uint8_t *p, struct mreg *r, int file)
{
	memcpy(&r->gpa, p, 8);
	memcpy(&r->size, p + 8, 8);
	memcpy(&r->uaddr, p + 16, 8);
	memcpy(&r->off, p + 24, 8);
	r->file = file;
}

static uint64_t mstart(const struct mreg *r, bool ua)
{
	return ua ? r->uaddr : r->gpa;
}

/* Is a model valid as a table the mirror may accept? */
static void check_valid(const struct model *m)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct mreg *a = &m->r[i];
		CHECK(a->file < NMEMFD);
		CHECK(a->size > 0);
		CHECK(a->size - 1 <= UINT64_MAX - a->gpa);
		CHECK(a->size - 1 <= UINT64_MAX - a->uaddr);
		CHECK(a->size <= memfd_size[a->file]);
		CHECK(a->off <= memfd_size[a->file] - a->size);
		for (unsigned j = 0; j < i; j++) {
			const struct mreg *b = &m->r[j];
			for (int ua = 0; ua < 2; ua++) {
				uint64_t as = mstart(a, ua), bs = mstart(b, ua);
				CHECK(as > bs + (b->size - 1) ||
				      bs > as + (a->size - 1));
			}
		}
	}
}

/* The region of the model holding addr, or NULL. */
static const struct mreg *mfind(const struct model *m, bool ua, uint64_t a)
{
	for (unsigned i = 0; i < m->n; i++) {
		uint64_t s = mstart(&m->r[i], ua);
		if (a >= s && a - s < m->r[i].size)
			return &m->r[i];
	}
	return NULL;
}

static void check_read(const struct vup_memmap *mm, const struct model *m,
                       bool ua, uint64_t addr, size_t len)
{
	static uint8_t buf[600];
	enum vup_addr_space as = ua ? VUP_AS_UADDR : VUP_AS_GPA;
	memset(buf, 0x5a, sizeof(buf));
	bool ok = vup_memmap_read(mm, as, addr, buf, len);
	/* The model, byte by byte. */
	bool want = len == 0 || (uint64_t)len - 1 <= UINT64_MAX - addr;
	for (size_t i = 0; want && i < len; i++) {
		const struct mreg *r = mfind(m, ua, addr + i);
		if (!r)
			want = false;
		else if (ok)
			CHECK(buf[i] == pat(r->file, r->off + (addr + i -
			                                       mstart(r, ua))));
	}
	CHECK(ok == want);

	const uint8_t *p = vup_memmap_ptr(mm, as, addr, len);
	const struct mreg *r = mfind(m, ua, addr);
	size_t l = len ? len : 1;
	bool pwant =
	        r && (uint64_t)l - 1 <= r->size - 1 - (addr - mstart(r, ua));
	CHECK((p != NULL) == pwant);
	if (p) {
		uint64_t o = r->off + (addr - mstart(r, ua));
		CHECK(p[0] == pat(r->file, o));
		CHECK(p[l - 1] == pat(r->file, o + l - 1));
	}
}

static int mapped_memfds(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	CHECK(f);
	char line[512];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "/memfd:vup-fuzz") != NULL;
	fclose(f);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init();
	struct in in = {data, size};
	struct vup_memmap *cur = NULL, *held = NULL, *next;
	char err[256];
	cur_m.n = held_m.n = 0;
	unsigned ops = 0;

	while (in.left && ops++ < 200) {
		unsigned c = byte(&in);
		bool bit = c >> 3 & 1;
		uint32_t rsz = bit ? 40 : 32;
		uint8_t pay[400];
		int rc;
		next = NULL;
		err[0] = '\0';
		switch (c % 8) {
		case 0: {
			unsigned nfds = byte(&in) % 10, sel[10];
			int fds[10];
			for (unsigned i = 0; i < nfds; i++) {
				sel[i] = byte(&in) % (NMEMFD + 2);
				fds[i] = fdsel[sel[i]];
			}
			uint32_t plen = (unsigned)le(&in, 2) % sizeof(pay);
			take(&in, pay, plen);
			rc = vup_memmap_set_table(&next, pay, plen, fds, nfds,
			                          bit, err, sizeof(err));
			CHECK(rc <= 0);
			if (rc < 0) {
				CHECK(!next && err[0]);
				break;
			}
			uint32_t n;
			memcpy(&n, pay, 4);
			CHECK(n == nfds && plen == 8 + n * rsz && n <= 8);
			tmp_m.n = n;
			for (uint32_t i = 0; i < n; i++)
				parse(pay + 8 + i * rsz, &tmp_m.r[i],
				      (int)sel[i]);
			check_valid(&tmp_m);
			CHECK(vup_memmap_count(next) == n);
			vup_memmap_put(cur);
			cur = next;
			cur_m = tmp_m;
			break;
		}
		case 1: {
			unsigned s = byte(&in) % (NMEMFD + 2);
			take(&in, pay, 8 + rsz);
			rc = vup_memmap_add(cur, pay, 8 + rsz, fdsel[s], bit,
			                    &next, err, sizeof(err));
			CHECK(rc <= 0);
			if (rc < 0) {
				CHECK(!next && err[0]);
				break;
			}
			CHECK(cur_m.n < VUP_MEMMAP_SLOTS_MAX);
			parse(pay + 8, &cur_m.r[cur_m.n++], (int)s);
			check_valid(&cur_m);
			CHECK(vup_memmap_count(next) == cur_m.n);
			vup_memmap_put(cur);
			cur = next;
			break;
		}
		case 2: {
			struct mreg d;
			take(&in, pay, 8 + rsz);
			parse(pay + 8, &d, 0);
			rc = vup_memmap_remove(cur, pay, 8 + rsz, bit, &next,
			                       err, sizeof(err));
			unsigned i;
			for (i = 0; i < cur_m.n; i++)
				if (cur_m.r[i].gpa == d.gpa &&
				    cur_m.r[i].size == d.size &&
				    cur_m.r[i].uaddr == d.uaddr)
					break;
			CHECK((rc == 0) == (i < cur_m.n));
			if (rc < 0) {
				CHECK(rc == -ENOENT && !next && err[0]);
				break;
			}
			cur_m.r[i] = cur_m.r[--cur_m.n];
			CHECK(vup_memmap_count(next) == cur_m.n);
			vup_memmap_put(cur);
			cur = next;
			break;
		}
		case 3:
		case 4: {
			uint64_t addr = le(&in, 8);
			size_t len = (unsigned)le(&in, 2) % 600;
			if (c % 8 == 3)
				check_read(cur, &cur_m, bit, addr, len);
			else
				check_read(held, &held_m, bit, addr, len);
			break;
		}
		case 5:
			vup_memmap_put(held);
			held = vup_memmap_get(cur);
			held_m = cur_m;
			break;
		case 6:
			vup_memmap_put(cur);
			cur = NULL;
			cur_m.n = 0;
			break;
		case 7: {
			unsigned k = byte(&in);
			int16_t delta = (int16_t)(unsigned)le(&in, 2);
			size_t len = (unsigned)le(&in, 2) % 600;
			if (!cur_m.n)
				break;
			const struct mreg *r = &cur_m.r[k % cur_m.n];
			uint64_t addr =
			        mstart(r, bit) + (uint64_t)(int64_t)delta;
			check_read(cur, &cur_m, bit, addr, len);
			break;
		}
		}
	}
	/* The guestmem interface agrees with vup_memmap_read. */
	struct vup_guest_mem g = vup_memmap_guest(cur);
	uint8_t b;
	CHECK(vup_guest_read(&g, VUP_AS_GPA, cur_m.n ? cur_m.r[0].gpa : 0, &b,
	                     1) == (cur_m.n > 0));
	vup_memmap_put(cur);
	vup_memmap_put(held);
	CHECK(mapped_memfds() == 0);
	return 0;
}
