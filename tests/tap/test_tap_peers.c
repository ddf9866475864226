/* test_tap_peers: the tap end to end, through the real vuproxy binary,
 * with our scripted peers (tests/peers) playing both sides.
 *
 * The front-end creates guest memory (memfds), lays split or packed rings
 * out in it and sets the queues up through vuproxy; the back-end receives
 * the region fds, maps them and plays the device (used entries, RX frames,
 * blk data and status).  vuproxy runs with --tap, a 200 µs poll interval
 * and -w; the trace is read back with the reader API and vuproxy's log is
 * checked for the exact per-queue counts.
 *
 * Timing: a buffer must be seen available by the tap before the device
 * uses it (else it counts torn, see ring.h).  tap_sync() makes that
 * certain rather than likely: after a pause it does two GET_FEATURES
 * round trips through vuproxy.  A reply can only come back after an event
 * loop iteration that started once the pause was over, and the tap's
 * timerfd (expired by then) is read in that iteration; so when
 * tap_sync() returns, a poll that started after the front-end's writes
 * has finished.  No assertion depends on how long anything took.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer_test.h"
#include "vuproxy/pcapng.h"
#include "vuproxy/reader.h"
#include "vuproxy/tapfmt.h"

#define V VUP_FLAG_VERSION
#define R VUP_FLAG_REPLY

#define QSZ      16u
#define REG_SIZE 0x40000ull /* 256 KiB per region */
/* The front-end's virtual addresses of the regions (the tap translates
 * ring addresses with them; they need not be where our maps are). */
#define UADDR0  0x7f3a00000000ull
#define UADDR1  0x7f3b00000000ull
#define SNAP    128u
#define NETHDR  12u /* virtio-net header with VERSION_1 */
#define SYNC_MS 20

/* Virtio feature bits. */
#define F_MRG_RXBUF   15
#define F_INDIRECT    28
#define F_PROTOCOL    30
#define F_VERSION_1   32
#define F_ACCESS_PLAT 33
#define F_RING_PACKED 34
#define BIT(b)        (1ull << (b))
#define NET_FEATURES  (BIT(F_VERSION_1) | BIT(F_PROTOCOL) | BIT(F_MRG_RXBUF))

/* Descriptor flags. */
#define D_NEXT     1u
#define D_WRITE    2u
#define D_INDIRECT 4u
#define P_AVAIL    (1u << 7)
#define P_USED     (1u << 15)

/* Where things are in region 0 (gpa; uaddr = UADDR0 + gpa).  Queue i has
 * its rings at 0x1000 * i and its buffers from 0x4000 + 0x10000 * i, one
 * 4 KiB page per descriptor index. */
#define RING_BASE(i) (0x1000ull * (i))
#define IND_TABLE    0x2000ull /* indirect tables, 0x100 apart */
#define BUF(i, d)    (0x4000ull + 0x10000ull * (i) + 0x1000ull * (d))

/* ---- guest memory ---- */

struct region {
	int fd;
	uint64_t gpa, size, uaddr;
	uint8_t *fe; /* the front-end's map */
	uint8_t *be; /* the back-end's map of the fd it received */
};

struct guest {
	struct region r[2];
	unsigned n;
};

/* A virtqueue as both peers know it. */
struct vq {
	unsigned index;
	bool packed;
	uint64_t desc, avail, used;     /* gpa in region 0 */
	uint16_t avail_idx, used_idx;   /* split: next indices */
	uint16_t next_avail, next_used; /* packed: positions */
	bool avail_wrap, used_wrap;
	int kick, call;
};

/* One test's world. */
struct tt {
	struct peer_fx *fx;
	struct peer *fe, *be;
	struct guest g;
	uint64_t features;
	char trace[256];
	struct vq q[2];
};

static struct tt tt_state; /* static: a failed test leaks nothing */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static void region_unmap_be(struct region *r)
{
	if (r->be)
		munmap(r->be, r->size);
	r->be = NULL;
}

static void guest_free(struct guest *g)
{
	for (unsigned i = 0; i < g->n; i++) {
		struct region *r = &g->r[i];
		if (r->fe)
			munmap(r->fe, r->size);
		region_unmap_be(r);
		if (r->fd >= 0)
			close(r->fd);
		r->fe = NULL;
		r->fd = -1;
	}
	g->n = 0;
}

/* A memfd of file_size bytes for a region of size bytes (they differ
 * only in the short-memfd test), mapped for the front-end. */
static void region_new(struct region *r, uint64_t gpa, uint64_t size,
                       uint64_t uaddr, uint64_t file_size)
{
	r->fd = memfd_create("vup-guest", MFD_CLOEXEC);
	if (r->fd < 0)
		fail_msg("memfd_create: %s", strerror(errno));
	if (ftruncate(r->fd, (off_t)file_size) < 0)
		fail_msg("ftruncate: %s", strerror(errno));
	r->gpa = gpa;
	r->size = size;
	r->uaddr = uaddr;
	r->be = NULL;
	r->fe = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (r->fe == MAP_FAILED)
		fail_msg("mmap: %s", strerror(errno));
}

/* Where gpa lies in one side's maps: a pointer and how many bytes follow
 * it in that region. */
static uint8_t *gpa_ptr(struct guest *g, bool be, uint64_t gpa, size_t *room)
{
	for (unsigned i = 0; i < g->n; i++) {
		struct region *r = &g->r[i];
		if (gpa >= r->gpa && gpa < r->gpa + r->size) {
			uint8_t *base = be ? r->be : r->fe;
			if (!base)
				fail_msg("region %u is not mapped (%s)", i,
				         be ? "back-end" : "front-end");
			*room = (size_t)(r->gpa + r->size - gpa);
			return base + (gpa - r->gpa);
		}
	}
	fail_msg("gpa 0x%" PRIx64 " is outside guest memory", gpa);
	abort(); /* not reached: cmocka 1.1.5's _fail() is not noreturn */
}

/* Copy into guest memory, piecewise across regions. */
static void gwrite(struct guest *g, bool be, uint64_t gpa, const void *src,
                   size_t len)
{
	const uint8_t *s = src;
	while (len) {
		size_t room;
		uint8_t *p = gpa_ptr(g, be, gpa, &room);
		size_t n = len < room ? len : room;
		memcpy(p, s, n);
		s += n;
		gpa += n;
		len -= n;
	}
}

/* A 16-bit ring index or flags word, published after what it covers. */
static void gstore16(struct guest *g, bool be, uint64_t gpa, uint16_t v)
{
	size_t room;
	uint16_t *p = (uint16_t *)(void *)gpa_ptr(g, be, gpa, &room);
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* ---- frames and buffers ---- */

/* An Ethernet frame of len bytes, different for each seed. */
static void make_frame(uint8_t *f, uint32_t len, unsigned seed)
{
	static const uint8_t dst[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	static const uint8_t src[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[5] = (uint8_t)seed;
	f[12] = 0x08;
	f[13] = 0x00;
	for (uint32_t i = 14; i < len; i++)
		f[i] = (uint8_t)(seed * 31u + i * 7u + 1u);
}

/* A virtio-net header: zero, with num_buffers (RX) set. */
static void net_hdr(uint8_t h[NETHDR], uint16_t num_buffers)
{
	memset(h, 0, NETHDR);
	put16(h + 10, num_buffers);
}

/* ---- messages ---- */

static void relay(struct tt *t, const char *req, const void *payload,
                  uint32_t size, const int *fds, unsigned nfds)
{
	PEER_OK(peer_relay_check(t->fe, t->be, peer_code(req), V, payload, size,
	                         fds, nfds));
}

static void set_features(struct tt *t, uint64_t features)
{
	uint8_t p[8];
	put64(p, features);
	t->features = features;
	relay(t, "SET_FEATURES", p, 8, NULL, 0);
}

static uint32_t mem_table_payload(const struct guest *g, uint8_t *p)
{
	put32(p, g->n);
	put32(p + 4, 0);
	for (unsigned i = 0; i < g->n; i++) {
		const struct region *r = &g->r[i];
		put64(p + 8 + 32 * i, r->gpa);
		put64(p + 8 + 32 * i + 8, r->size);
		put64(p + 8 + 32 * i + 16, r->uaddr);
		put64(p + 8 + 32 * i + 24, 0);
	}
	return 8 + 32 * g->n;
}

/* SET_MEM_TABLE with the regions' fds: the back-end must get the same
 * bytes and the same files, and maps them (unless map is false: a region
 * longer than its file would fault). */
static void set_mem_table(struct tt *t, bool map)
{
	uint8_t p[8 + 32 * 2];
	uint32_t size = mem_table_payload(&t->g, p);
	int fds[2];
	for (unsigned i = 0; i < t->g.n; i++)
		fds[i] = t->g.r[i].fd;
	uint32_t code = peer_code("SET_MEM_TABLE");
	PEER_OK(peer_send(t->fe, code, V, p, size, fds, t->g.n));
	struct vup_msg *m = malloc(sizeof(*m));
	assert_non_null(m);
	PEER_OK(peer_recv(t->be, m, PEER_TIMEOUT_MS));
	PEER_OK(peer_msg_equal(m, code, V, p, size, t->g.n));
	for (unsigned i = 0; i < t->g.n; i++) {
		struct region *r = &t->g.r[i];
		if (!peer_same_file(fds[i], m->fds[i]))
			fail_msg("SET_MEM_TABLE: fd %u is not the region's", i);
		region_unmap_be(r);
		if (map) {
			r->be = mmap(NULL, r->size, PROT_READ | PROT_WRITE,
			             MAP_SHARED, m->fds[i], 0);
			if (r->be == MAP_FAILED) {
				r->be = NULL;
				fail_msg("back-end mmap: %s", strerror(errno));
			}
		}
	}
	peer_msg_close(m);
	free(m);
}

static void vring_state(struct tt *t, const char *req, unsigned index,
                        uint32_t num)
{
	uint8_t p[8];
	put32(p, index);
	put32(p + 4, num);
	relay(t, req, p, 8, NULL, 0);
}

static void vring_fd(struct tt *t, const char *req, unsigned index, int fd)
{
	uint8_t p[8];
	put64(p, index);
	relay(t, req, p, 8, &fd, 1);
}

/* The set-up messages of a queue as QEMU sends them: NUM, BASE, ADDR,
 * KICK, CALL (, ENABLE); base is where the rings resume. */
static void send_queue_setup(struct tt *t, struct vq *q, uint32_t base)
{
	unsigned index = q->index;
	vring_state(t, "SET_VRING_NUM", index, QSZ);
	vring_state(t, "SET_VRING_BASE", index, base);
	uint8_t a[40];
	put32(a, index);
	put32(a + 4, 0);
	put64(a + 8, UADDR0 + q->desc);
	put64(a + 16, UADDR0 + q->used);
	put64(a + 24, UADDR0 + q->avail);
	put64(a + 32, 0);
	relay(t, "SET_VRING_ADDR", a, 40, NULL, 0);
	if (q->kick >= 0)
		close(q->kick);
	if (q->call >= 0)
		close(q->call);
	q->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(q->kick >= 0 && q->call >= 0);
	vring_fd(t, "SET_VRING_KICK", index, q->kick);
	vring_fd(t, "SET_VRING_CALL", index, q->call);
	if (t->features & BIT(F_PROTOCOL))
		vring_state(t, "SET_VRING_ENABLE", index, 1);
}

/* Queue `index`: rings laid out (zeroed) in region 0 and set up through
 * vuproxy from the start. */
static struct vq *setup_queue(struct tt *t, unsigned index)
{
	struct vq *q = &t->q[index];
	memset(q, 0, sizeof(*q));
	q->index = index;
	q->packed = t->features & BIT(F_RING_PACKED);
	q->desc = RING_BASE(index);
	q->avail = RING_BASE(index) + 0x400;
	q->used = RING_BASE(index) + 0x800;
	q->avail_wrap = q->used_wrap = true;
	q->kick = q->call = -1;
	static const uint8_t zero[0x1000];
	gwrite(&t->g, false, RING_BASE(index), zero, sizeof(zero));
	send_queue_setup(t, q, q->packed ? 0x8000u : 0);
	return q;
}

/* GET_VRING_BASE: the back-end answers where it stopped; vuproxy stops
 * reading the queue after a last read. */
static void get_vring_base(struct tt *t, struct vq *q)
{
	uint32_t code = peer_code("GET_VRING_BASE");
	uint8_t p[8];
	put32(p, q->index);
	put32(p + 4, 0);
	PEER_OK(peer_relay_check(t->fe, t->be, code, V, p, 8, NULL, 0));
	uint16_t num = q->packed ? (uint16_t)(q->next_avail |
	                                      (q->avail_wrap ? 0x8000u : 0))
	                         : q->avail_idx;
	put32(p + 4, num);
	PEER_OK(peer_relay_check(t->be, t->fe, code, V | R, p, 8, NULL, 0));
}

/* Until a tap poll that started after our last write has finished (see
 * the comment at the top). */
static void tap_sync(struct tt *t)
{
	peer_sleep_ms(SYNC_MS);
	for (int i = 0; i < 2; i++)
		PEER_OK(peer_get_features(t->fe, t->be, t->features));
}

/* ---- split rings ---- */

static void sdesc(struct tt *t, struct vq *q, uint64_t table, unsigned i,
                  uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t d[16];
	put64(d, addr);
	put32(d + 8, len);
	put16(d + 12, flags);
	put16(d + 14, next);
	gwrite(&t->g, false, (table ? table : q->desc) + 16ull * i, d, 16);
}

/* The front-end offers heads: avail entries, then the index. */
static void split_offer(struct tt *t, struct vq *q, const uint16_t *heads,
                        unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t e[2];
		put16(e, heads[i]);
		gwrite(&t->g, false,
		       q->avail + 4 + 2ull * ((q->avail_idx + i) % QSZ), e, 2);
	}
	q->avail_idx = (uint16_t)(q->avail_idx + n);
	gstore16(&t->g, false, q->avail + 2, q->avail_idx);
}

/* The device's used entry (not yet published). */
static void split_used_entry(struct tt *t, struct vq *q, uint16_t id,
                             uint32_t len)
{
	uint8_t e[8];
	put32(e, id);
	put32(e + 4, len);
	gwrite(&t->g, true, q->used + 4 + 8ull * (q->used_idx % QSZ), e, 8);
	q->used_idx++;
}

static void split_use(struct tt *t, struct vq *q, uint16_t id, uint32_t len)
{
	split_used_entry(t, q, id, len);
	gstore16(&t->g, true, q->used + 2, q->used_idx);
}

/* A TX buffer at descriptor d: header and frame in one descriptor, or in
 * two (d, d + 1). */
static void split_tx(struct tt *t, struct vq *q, uint16_t d,
                     const uint8_t *frame, uint32_t len, bool two)
{
	uint8_t h[NETHDR];
	net_hdr(h, 0);
	uint64_t b = BUF(q->index, d);
	gwrite(&t->g, false, b, h, NETHDR);
	if (two) {
		gwrite(&t->g, false, BUF(q->index, d + 1), frame, len);
		sdesc(t, q, 0, d, b, NETHDR, D_NEXT, (uint16_t)(d + 1));
		sdesc(t, q, 0, d + 1u, BUF(q->index, d + 1), len, 0, 0);
	} else {
		gwrite(&t->g, false, b + NETHDR, frame, len);
		sdesc(t, q, 0, d, b, NETHDR + len, 0, 0);
	}
}

/* The device writes a received frame (with its header) at gpa. */
static void device_rx(struct tt *t, uint64_t gpa, const uint8_t *frame,
                      uint32_t len, uint16_t num_buffers)
{
	uint8_t h[NETHDR];
	net_hdr(h, num_buffers);
	gwrite(&t->g, true, gpa, h, NETHDR);
	gwrite(&t->g, true, gpa + NETHDR, frame, len);
}

/* ---- packed rings ---- */

struct seg {
	uint64_t addr;
	uint32_t len;
	uint16_t flags; /* D_WRITE, D_INDIRECT */
};

static void pdesc_write(struct tt *t, struct vq *q, uint16_t pos,
                        const struct seg *s, uint16_t id)
{
	uint8_t d[14];
	put64(d, s->addr);
	put32(d + 8, s->len);
	put16(d + 12, id);
	gwrite(&t->g, false, q->desc + 16ull * pos, d, 14);
}

static void padvance(uint16_t *pos, bool *wrap, unsigned k)
{
	unsigned p = *pos + k;
	while (p >= QSZ) {
		p -= QSZ;
		*wrap = !*wrap;
	}
	*pos = (uint16_t)p;
}

static uint16_t avail_flags(bool wrap)
{
	return (uint16_t)(wrap ? P_AVAIL : P_USED);
}

/* The driver offers a chain as buffer id: every descriptor but the head's
 * flags, then the head's flags. */
static void packed_offer(struct tt *t, struct vq *q, const struct seg *s,
                         unsigned n, uint16_t id)
{
	uint16_t pos = q->next_avail, head = pos;
	bool wrap = q->avail_wrap, head_wrap = wrap;
	for (unsigned i = 0; i < n; i++) {
		pdesc_write(t, q, pos, &s[i], id);
		uint16_t f = (uint16_t)(s[i].flags | (i + 1 < n ? D_NEXT : 0) |
		                        avail_flags(wrap));
		if (i)
			gstore16(&t->g, false, q->desc + 16ull * pos + 14, f);
		padvance(&pos, &wrap, 1);
	}
	uint16_t f = (uint16_t)(s[0].flags | (n > 1 ? D_NEXT : 0) |
	                        avail_flags(head_wrap));
	gstore16(&t->g, false, q->desc + 16ull * head + 14, f);
	q->next_avail = pos;
	q->avail_wrap = wrap;
}

/* The device marks buffer id used: one used descriptor, then it skips the
 * chain's ndesc slots. */
static void packed_use(struct tt *t, struct vq *q, uint16_t id, uint32_t len,
                       unsigned ndesc)
{
	uint8_t d[6];
	put32(d, len);
	put16(d + 4, id);
	uint64_t at = q->desc + 16ull * q->next_used;
	gwrite(&t->g, true, at + 8, d, 6);
	gstore16(&t->g, true, at + 14,
	         (uint16_t)(q->used_wrap ? P_AVAIL | P_USED : 0));
	padvance(&q->next_used, &q->used_wrap, ndesc);
}

/* ---- vuproxy, its log and its trace ---- */

/* Start vuproxy with --tap kind, connect a session and send the
 * features. */
static struct tt *start(void **state, const char *kind, const char *snap,
                        uint64_t features)
{
	struct tt *t = &tt_state;
	memset(t, 0, sizeof(*t));
	t->g.r[0].fd = t->g.r[1].fd = -1;
	t->fx = *state;
	snprintf(t->trace, sizeof(t->trace), "%s/trace.pcapng.gz", t->fx->dir);
	const char *extra[] = {"--tap", kind, "-s",     snap,  "--tap-interval",
	                       "200",   "-w", t->trace, "-vv", NULL};
	PEER_OK(peer_fx_start(t->fx, "listen", "connect", extra));
	PEER_OK(peer_fx_session(t->fx, &t->fe, &t->be));
	set_features(t, features);
	return t;
}

/* One region of 256 KiB at gpa 0 (file_size: its memfd's length). */
static void guest_one(struct tt *t, uint64_t file_size)
{
	region_new(&t->g.r[0], 0, REG_SIZE, UADDR0, file_size);
	t->g.n = 1;
}

static bool alive(struct tt *t)
{
	return vproc_wait(&t->fx->vp, 0) == -ETIMEDOUT;
}

/* SIGINT, as a user stops it: exit status 0 and its summary lines. */
static void stop(struct tt *t)
{
	assert_true(alive(t));
	kill(t->fx->vp.pid, SIGINT);
	PEER_OK(vproc_wait(&t->fx->vp, PEER_TIMEOUT_MS));
	int st = t->fx->vp.status;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("vuproxy: wait status 0x%x\n%s", (unsigned)st,
		         vproc_log_tail(&t->fx->vp));
	PEER_LOG(t->fx, "vuproxy: ", " sessions (");
}

/* The per-queue line vuproxy logs at the end of the session, exactly:
 * "s1 tap qN: consumed N, captured N, missed N, torn N, malformed N"
 * and " (last malformed: WHY)" when why is set. */
static void expect_counts(struct tt *t, unsigned q, unsigned consumed,
                          unsigned captured, unsigned missed, unsigned torn,
                          unsigned malformed, const char *why)
{
	char key[32], want[256];
	snprintf(key, sizeof(key), "s1 tap q%u: consumed ", q);
	snprintf(want, sizeof(want),
	         "s1 tap q%u: consumed %u, captured %u, missed %u, torn %u, "
	         "malformed %u%s%s%s",
	         q, consumed, captured, missed, torn, malformed,
	         why ? " (last malformed: " : "", why ? why : "",
	         why ? ")" : "");
	char *log = vproc_log(&t->fx->vp);
	assert_non_null(log);
	const char *hit = strstr(log, key);
	if (!hit) {
		free(log);
		fail_msg("no \"%s\" line in the log:\n%s", key,
		         vproc_log_tail(&t->fx->vp));
	}
	const char *end = strchr(hit, '\n');
	size_t len = end ? (size_t)(end - hit) : strlen(hit);
	char got[256];
	snprintf(got, sizeof(got), "%.*s", (int)len, hit);
	bool twice = strstr(hit + 1, key) != NULL;
	free(log);
	assert_string_equal(got, want);
	if (twice)
		fail_msg("\"%s\" logged more than once", key);
}

/* The trace, read back. */
struct rec {
	uint16_t linktype;
	char ifname[48];
	uint32_t caplen, origlen, flags;
	uint8_t data[VUP_BLK_REC_SIZE + 2048];
};

struct isb {
	char ifname[48];
	char comment[256];
	struct vup_isb_stats s;
};

struct trace {
	struct rec r[32];
	unsigned n;
	struct isb s[16];
	unsigned ns;
	unsigned control; /* control-interface packets (USER0) */
};

static struct trace trace_buf;

static struct trace *read_trace(struct tt *t)
{
	struct trace *tr = &trace_buf;
	memset(tr, 0, sizeof(*tr));
	struct vup_reader *rd;
	char err[256] = "";
	if (vup_reader_open(t->trace, &rd, err, sizeof(err)) < 0)
		fail_msg("open trace: %s", err);
	vup_reader_want_stats(rd, true);
	struct vup_record rec;
	enum vup_read_status st;
	while ((st = vup_reader_next(rd, &rec, err, sizeof(err))) ==
	       VUP_READ_RECORD) {
		if (rec.kind == VUP_REC_STATS) {
			if (tr->ns == 16)
				fail_msg("more than 16 statistics blocks");
			struct isb *s = &tr->s[tr->ns++];
			snprintf(s->ifname, sizeof(s->ifname), "%s",
			         rec.ifname);
			snprintf(s->comment, sizeof(s->comment), "%s",
			         rec.comment ? rec.comment : "");
			s->s = rec.isb;
			continue;
		}
		if (rec.linktype == LINKTYPE_USER0) {
			tr->control++;
			continue;
		}
		if (tr->n == 32)
			fail_msg("more than 32 tap packets");
		struct rec *r = &tr->r[tr->n++];
		r->linktype = rec.linktype;
		snprintf(r->ifname, sizeof(r->ifname), "%s", rec.ifname);
		r->caplen = rec.caplen;
		r->origlen = rec.origlen;
		r->flags = rec.epb_flags;
		if (rec.caplen > sizeof(r->data))
			fail_msg("packet of %u bytes", rec.caplen);
		memcpy(r->data, rec.data, rec.caplen);
	}
	vup_reader_close(rd);
	if (st != VUP_READ_END)
		fail_msg("trace: %d: %s", st, err);
	assert_true(tr->control > 0); /* the messages are there too */
	return tr;
}

/* The packets of one interface, in order. */
static unsigned on_iface(struct trace *tr, const char *ifname, struct rec **out,
                         unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < tr->n; i++)
		if (strcmp(tr->r[i].ifname, ifname) == 0 && n < max)
			out[n++] = &tr->r[i];
	return n;
}

/* The last statistics of an interface must say exactly this. */
static void expect_isb(struct trace *tr, const char *ifname, unsigned consumed,
                       unsigned captured, unsigned missed, unsigned torn,
                       unsigned malformed)
{
	const struct isb *last = NULL;
	for (unsigned i = 0; i < tr->ns; i++)
		if (strcmp(tr->s[i].ifname, ifname) == 0)
			last = &tr->s[i];
	if (!last)
		fail_msg("no statistics for \"%s\" in the trace", ifname);
	char want[200];
	snprintf(want, sizeof(want),
	         "consumed=%u captured=%u missed=%u torn=%u malformed=%u",
	         consumed, captured, missed, torn, malformed);
	assert_string_equal(last->comment, want);
	assert_int_equal(last->s.ifrecv, consumed);
	assert_int_equal(last->s.usrdeliv, captured);
	assert_int_equal(last->s.ifdrop, missed);
	assert_int_equal(last->s.osdrop, torn + malformed);
}

static void expect_frame(const struct rec *r, const char *ifname, uint32_t dir,
                         const uint8_t *frame, uint32_t len)
{
	assert_string_equal(r->ifname, ifname);
	assert_int_equal(r->linktype, LINKTYPE_ETHERNET);
	assert_int_equal(r->flags & 3u, dir);
	assert_int_equal(r->origlen, len);
	assert_int_equal(r->caplen, min32(len, SNAP));
	assert_memory_equal(r->data, frame, r->caplen);
}

#define TX "s1 net q1 tx"
#define RX "s1 net q0 rx"

/* vuproxy's summary at exit.  Between "captured" and "missed" it may say
 * more (how many copies were kept unverified): not checked here. */
static void expect_summary(struct tt *t, unsigned queues, unsigned consumed,
                           unsigned captured, unsigned missed, unsigned torn,
                           unsigned malformed)
{
	char head[160], tail[160];
	snprintf(head, sizeof(head),
	         "vuproxy: tap: %u queues, %u buffers consumed: %u captured",
	         queues, consumed, captured);
	snprintf(tail, sizeof(tail), ", %u missed, %u torn, %u malformed\n",
	         missed, torn, malformed);
	char *log = vproc_log(&t->fx->vp);
	assert_non_null(log);
	const char *hit = strstr(log, head);
	const char *end = hit ? strchr(hit, '\n') : NULL;
	const char *rest = end ? strstr(hit, tail) : NULL;
	bool ok = rest && rest + strlen(tail) - 1 == end;
	free(log);
	if (!ok)
		fail_msg("no summary \"%s ...%s\" in the log:\n%s", head, tail,
		         vproc_log_tail(&t->fx->vp));
}

/* ---- tests ---- */

/* Split rings: three TX frames (one and two descriptors, one longer than
 * the snap length) and two RX frames, all captured exactly. */
static void test_split_net(void **state)
{
	struct tt *t = start(state, "net", "128", NET_FEATURES);
	guest_one(t, REG_SIZE);
	set_mem_table(t, true);
	struct vq *rx = setup_queue(t, 0);
	struct vq *tx = setup_queue(t, 1);
	PEER_OK(vproc_wait_line(&t->fx->vp, PEER_TIMEOUT_MS,
	                        "s1 tap q1: following a split ring of 16",
	                        NULL));

	static const uint32_t txlen[3] = {60, 200, 98};
	uint8_t txf[3][256];
	for (unsigned i = 0; i < 3; i++)
		make_frame(txf[i], txlen[i], i + 1);
	split_tx(t, tx, 0, txf[0], txlen[0], true);
	split_tx(t, tx, 2, txf[1], txlen[1], false);
	split_tx(t, tx, 3, txf[2], txlen[2], true);
	split_offer(t, tx, (const uint16_t[]){0, 2, 3}, 3);

	/* Two RX buffers of 2 KiB, device-writable. */
	for (uint16_t d = 0; d < 2; d++)
		sdesc(t, rx, 0, d, BUF(0, d), 2048, D_WRITE, 0);
	split_offer(t, rx, (const uint16_t[]){0, 1}, 2);
	tap_sync(t);

	/* The device sends the TX frames and receives two. */
	split_use(t, tx, 0, 0);
	split_use(t, tx, 2, 0);
	split_use(t, tx, 3, 0);
	static const uint32_t rxlen[2] = {74, 300};
	uint8_t rxf[2][512];
	for (unsigned i = 0; i < 2; i++) {
		make_frame(rxf[i], rxlen[i], 10 + i);
		device_rx(t, BUF(0, i), rxf[i], rxlen[i], 1);
		split_use(t, rx, (uint16_t)i, NETHDR + rxlen[i]);
	}
	get_vring_base(t, tx);
	get_vring_base(t, rx);
	stop(t);

	expect_counts(t, 1, 3, 3, 0, 0, 0, NULL);
	expect_counts(t, 0, 2, 2, 0, 0, 0, NULL);
	expect_summary(t, 2, 5, 5, 0, 0, 0);
	struct trace *tr = read_trace(t);
	struct rec *p[8];
	assert_int_equal(on_iface(tr, TX, p, 8), 3);
	for (unsigned i = 0; i < 3; i++)
		expect_frame(p[i], TX, PCAPNG_DIR_OUTBOUND, txf[i], txlen[i]);
	assert_int_equal(on_iface(tr, RX, p, 8), 2);
	for (unsigned i = 0; i < 2; i++)
		expect_frame(p[i], RX, PCAPNG_DIR_INBOUND, rxf[i], rxlen[i]);
	assert_int_equal(tr->n, 5);
	expect_isb(tr, TX, 3, 3, 0, 0, 0);
	expect_isb(tr, RX, 2, 2, 0, 0, 0);
}

/* The same over packed rings. */
static void test_packed_net(void **state)
{
	struct tt *t =
	        start(state, "net", "128", NET_FEATURES | BIT(F_RING_PACKED));
	guest_one(t, REG_SIZE);
	set_mem_table(t, true);
	struct vq *rx = setup_queue(t, 0);
	struct vq *tx = setup_queue(t, 1);
	PEER_OK(vproc_wait_line(&t->fx->vp, PEER_TIMEOUT_MS,
	                        "s1 tap q1: following a packed ring of 16",
	                        NULL));

	static const uint32_t txlen[3] = {64, 150, 1500};
	static uint8_t txf[3][1500];
	uint8_t h[NETHDR];
	net_hdr(h, 0);
	for (unsigned i = 0; i < 3; i++) {
		make_frame(txf[i], txlen[i], 20 + i);
		gwrite(&t->g, false, BUF(1, 2 * i), h, NETHDR);
		gwrite(&t->g, false, BUF(1, 2 * i + 1), txf[i], txlen[i]);
	}
	/* id 7: header and frame apart; id 3: one descriptor; id 5: apart */
	struct seg two0[2] = {{BUF(1, 0), NETHDR, 0}, {BUF(1, 1), 64, 0}};
	packed_offer(t, tx, two0, 2, 7);
	gwrite(&t->g, false, BUF(1, 2) + NETHDR, txf[1], txlen[1]);
	struct seg one[1] = {{BUF(1, 2), NETHDR + 150, 0}};
	packed_offer(t, tx, one, 1, 3);
	struct seg two2[2] = {{BUF(1, 4), NETHDR, 0}, {BUF(1, 5), 1500, 0}};
	packed_offer(t, tx, two2, 2, 5);

	struct seg w0[1] = {{BUF(0, 0), 2048, D_WRITE}};
	struct seg w1[1] = {{BUF(0, 1), 2048, D_WRITE}};
	packed_offer(t, rx, w0, 1, 0);
	packed_offer(t, rx, w1, 1, 1);
	tap_sync(t);

	packed_use(t, tx, 7, 0, 2);
	packed_use(t, tx, 3, 0, 1);
	packed_use(t, tx, 5, 0, 2);
	static const uint32_t rxlen[2] = {98, 1400};
	static uint8_t rxf[2][1400];
	for (unsigned i = 0; i < 2; i++) {
		make_frame(rxf[i], rxlen[i], 30 + i);
		device_rx(t, BUF(0, i), rxf[i], rxlen[i], 1);
		packed_use(t, rx, (uint16_t)i, NETHDR + rxlen[i], 1);
	}
	get_vring_base(t, tx);
	get_vring_base(t, rx);
	stop(t);

	expect_counts(t, 1, 3, 3, 0, 0, 0, NULL);
	expect_counts(t, 0, 2, 2, 0, 0, 0, NULL);
	struct trace *tr = read_trace(t);
	struct rec *p[8];
	assert_int_equal(on_iface(tr, TX, p, 8), 3);
	for (unsigned i = 0; i < 3; i++)
		expect_frame(p[i], TX, PCAPNG_DIR_OUTBOUND, txf[i], txlen[i]);
	assert_int_equal(on_iface(tr, RX, p, 8), 2);
	for (unsigned i = 0; i < 2; i++)
		expect_frame(p[i], RX, PCAPNG_DIR_INBOUND, rxf[i], rxlen[i]);
	expect_isb(tr, TX, 3, 3, 0, 0, 0);
	expect_isb(tr, RX, 2, 2, 0, 0, 0);
}

/* A queue stopped by GET_VRING_BASE and started again from the base the
 * back-end gave (as after a vhost stop/start): the tap follows both runs,
 * each stop records the statistics so far, and the counts add up. */
static void test_restart(void **state)
{
	struct tt *t = start(state, "net", "128", NET_FEATURES);
	guest_one(t, REG_SIZE);
	set_mem_table(t, true);
	struct vq *tx = setup_queue(t, 1);
	uint8_t f[3][90];
	for (unsigned i = 0; i < 3; i++) {
		make_frame(f[i], 90, 120 + i);
		split_tx(t, tx, (uint16_t)i, f[i], 90, false);
	}
	split_offer(t, tx, (const uint16_t[]){0}, 1);
	tap_sync(t);
	split_use(t, tx, 0, 0);
	get_vring_base(t, tx); /* stopped at avail index 1 */
	PEER_OK(vproc_wait_line(&t->fx->vp, PEER_TIMEOUT_MS,
	                        "s1 tap q1: stopped (GET_VRING_BASE answered)",
	                        NULL));

	send_queue_setup(t, tx, tx->avail_idx);
	PEER_OK(vproc_wait_count(&t->fx->vp, "s1 tap q1: following", 2,
	                         PEER_TIMEOUT_MS));
	split_offer(t, tx, (const uint16_t[]){1, 2}, 2);
	tap_sync(t);
	split_use(t, tx, 1, 0);
	split_use(t, tx, 2, 0);
	get_vring_base(t, tx);
	stop(t);

	expect_counts(t, 1, 3, 3, 0, 0, 0, NULL);
	struct trace *tr = read_trace(t);
	struct rec *p[8];
	assert_int_equal(on_iface(tr, TX, p, 8), 3);
	for (unsigned i = 0; i < 3; i++)
		expect_frame(p[i], TX, PCAPNG_DIR_OUTBOUND, f[i], 90);
	unsigned nisb = 0;
	for (unsigned i = 0; i < tr->ns; i++)
		if (strcmp(tr->s[i].ifname, TX) == 0 && nisb++ == 0)
			assert_string_equal(tr->s[i].comment,
			                    "consumed=1 captured=1 missed=0 "
			                    "torn=0 malformed=0");
	assert_int_equal(nisb, 2);
	expect_isb(tr, TX, 3, 3, 0, 0, 0);
}

/* MRG_RXBUF: a 1500-byte frame merged over two 1 KiB RX buffers
 * (num_buffers 2) makes one record of the whole frame; both buffers count
 * captured. */
static void merged_rx(void **state, const char *snap)
{
	struct tt *t = start(state, "net", snap, NET_FEATURES);
	guest_one(t, REG_SIZE);
	set_mem_table(t, true);
	struct vq *rx = setup_queue(t, 0);
	for (uint16_t d = 0; d < 3; d++)
		sdesc(t, rx, 0, d, BUF(0, d), 1024, D_WRITE, 0);
	split_offer(t, rx, (const uint16_t[]){0, 1, 2}, 3);
	tap_sync(t);

	static uint8_t f[1500], g[60];
	make_frame(f, 1500, 110);
	make_frame(g, 60, 111);
	uint32_t first = 1024 - NETHDR;
	device_rx(t, BUF(0, 0), f, first, 2);
	gwrite(&t->g, true, BUF(0, 1), f + first, 1500 - first);
	split_used_entry(t, rx, 0, 1024);
	split_use(t, rx, 1, 1500 - first);
	device_rx(t, BUF(0, 2), g, 60, 1); /* the next frame: its own */
	split_use(t, rx, 2, NETHDR + 60);
	get_vring_base(t, rx);
	stop(t);

	expect_counts(t, 0, 3, 3, 0, 0, 0, NULL);
	struct trace *tr = read_trace(t);
	struct rec *p[8];
	assert_int_equal(on_iface(tr, RX, p, 8), 2);
	/* One record for the merged frame: its whole length, its bytes
	 * from both buffers up to the snap length. */
	uint32_t snaplen = (uint32_t)atoi(snap);
	assert_int_equal(p[0]->origlen, 1500);
	assert_int_equal(p[0]->caplen, min32(1500, snaplen));
	assert_memory_equal(p[0]->data, f, p[0]->caplen);
	expect_frame(p[1], RX, PCAPNG_DIR_INBOUND, g, 60);
}

static void test_merged_rx(void **state)
{
	merged_rx(state, "128");
}

/* The same with a snap length past the first buffer: the record holds
 * the bytes of both. */
static void test_merged_rx_whole(void **state)
{
	merged_rx(state, "2048");
}

/* A buffer the device used before the tap saw it available counts torn
 * and is not recorded; buffers before and after it are captured. */
static void test_torn(void **state)
{
	struct tt *t = start(state, "net", "128", NET_FEATURES);
	guest_one(t, REG_SIZE);
	set_mem_table(t, true);
	struct vq *tx = setup_queue(t, 1);
	uint8_t f[3][100];
	for (unsigned i = 0; i < 3; i++) {
		make_frame(f[i], 100, 40 + i);
		split_tx(t, tx, (uint16_t)i, f[i], 100, false);
	}
	split_offer(t, tx, (const uint16_t[]){0}, 1);
	tap_sync(t);
	split_use(t, tx, 0, 0);

	/* Offered and used at once: the used entry first (unpublished),
	 * then both indices back to back, nanoseconds apart.  (Only a whole
	 * tap poll fitting between the two stores, i.e. this thread being
	 * preempted right there, could make it captured.) */
	split_used_entry(t, tx, 1, 0);
	split_offer(t, tx, (const uint16_t[]){1}, 1);
	gstore16(&t->g, true, tx->used + 2, tx->used_idx);
	tap_sync(t);

	split_offer(t, tx, (const uint16_t[]){2}, 1);
	tap_sync(t);
	split_use(t, tx, 2, 0);
	get_vring_base(t, tx);
	stop(t);

	expect_counts(t, 1, 3, 2, 0, 1, 0, NULL);
	struct trace *tr = read_trace(t);
	struct rec *p[8];
	assert_int_equal(on_iface(tr, TX, p, 8), 2);
	expect_frame(p[0], TX, PCAPNG_DIR_OUTBOUND, f[0], 100);
	expect_frame(p[1], TX, PCAPNG_DIR_OUTBOUND, f[2], 100);
	expect_isb(tr, TX, 3, 2, 0, 1, 0);
}

/* A malformed buffer (set up by `bad`) counts malformed with its reason;
 * vuproxy goes on and the next buffer is captured. */
static void malformed_case(void **state,
                           void (*bad)(struct tt *t, struct vq *q),
                           const char *why)
{
	struct tt *t = start(state, "net", "128", NET_FEATURES);
	guest_one(t, REG_SIZE);
	set_mem_table(t, true);
	struct vq *tx = setup_queue(t, 1);
	bad(t, tx);
	split_offer(t, tx, (const uint16_t[]){0}, 1);
	tap_sync(t);
	split_use(t, tx, 0, 0);
	tap_sync(t);
	assert_true(alive(t));

	uint8_t f[80];
	make_frame(f, 80, 50);
	split_tx(t, tx, 4, f, 80, true);
	split_offer(t, tx, (const uint16_t[]){4}, 1);
	tap_sync(t);
	split_use(t, tx, 4, 0);
	get_vring_base(t, tx);
	assert_true(alive(t));
	stop(t);

	expect_counts(t, 1, 2, 1, 0, 0, 1, why);
	struct trace *tr = read_trace(t);
	struct rec *p[8];
	assert_int_equal(on_iface(tr, TX, p, 8), 1);
	expect_frame(p[0], TX, PCAPNG_DIR_OUTBOUND, f, 80);
	expect_isb(tr, TX, 2, 1, 0, 0, 1);
}

static void bad_outside(struct tt *t, struct vq *q)
{
	/* gpa 256 MiB: far past the 256 KiB of guest memory */
	sdesc(t, q, 0, 0, 0x10000000ull, NETHDR + 60, 0, 0);
}

static void bad_loop(struct tt *t, struct vq *q)
{
	sdesc(t, q, 0, 0, BUF(1, 0), NETHDR, D_NEXT, 1);
	sdesc(t, q, 0, 1, BUF(1, 1), 60, D_NEXT, 0);
}

static void test_malformed_outside(void **state)
{
	malformed_case(state, bad_outside,
	               "descriptor address outside guest memory");
}

static void test_malformed_loop(void **state)
{
	malformed_case(state, bad_loop,
	               "descriptor loop or chain longer than the queue");
}

/* Stop both queues and vuproxy; exactly one TX and one RX buffer were
 * consumed and captured, with these frames. */
static void end_one_frame_each(struct tt *t, struct vq *tx, struct vq *rx,
                               const uint8_t *txf, uint32_t txlen,
                               const uint8_t *rxf, uint32_t rxlen)
{
	get_vring_base(t, tx);
	get_vring_base(t, rx);
	stop(t);

	expect_counts(t, 1, 1, 1, 0, 0, 0, NULL);
	expect_counts(t, 0, 1, 1, 0, 0, 0, NULL);
	struct trace *tr = read_trace(t);
	struct rec *p[8];
	assert_int_equal(on_iface(tr, TX, p, 8), 1);
	expect_frame(p[0], TX, PCAPNG_DIR_OUTBOUND, txf, txlen);
	assert_int_equal(on_iface(tr, RX, p, 8), 1);
	expect_frame(p[0], RX, PCAPNG_DIR_INBOUND, rxf, rxlen);
}

/* Indirect descriptors: a TX chain and an RX buffer in indirect tables. */
static void test_indirect(void **state)
{
	struct tt *t =
	        start(state, "net", "128", NET_FEATURES | BIT(F_INDIRECT));
	guest_one(t, REG_SIZE);
	set_mem_table(t, true);
	struct vq *rx = setup_queue(t, 0);
	struct vq *tx = setup_queue(t, 1);

	uint8_t txf[140], rxf[90], h[NETHDR];
	make_frame(txf, 140, 60);
	net_hdr(h, 0);
	gwrite(&t->g, false, BUF(1, 0), h, NETHDR);
	gwrite(&t->g, false, BUF(1, 1), txf, 140);
	sdesc(t, tx, IND_TABLE, 0, BUF(1, 0), NETHDR, D_NEXT, 1);
	sdesc(t, tx, IND_TABLE, 1, BUF(1, 1), 140, 0, 0);
	sdesc(t, tx, 0, 5, IND_TABLE, 32, D_INDIRECT, 0);
	split_offer(t, tx, (const uint16_t[]){5}, 1);

	sdesc(t, rx, IND_TABLE + 0x100, 0, BUF(0, 0), 2048, D_WRITE, 0);
	sdesc(t, rx, 0, 9, IND_TABLE + 0x100, 16, D_INDIRECT, 0);
	split_offer(t, rx, (const uint16_t[]){9}, 1);
	tap_sync(t);

	split_use(t, tx, 5, 0);
	make_frame(rxf, 90, 61);
	device_rx(t, BUF(0, 0), rxf, 90, 1);
	split_use(t, rx, 9, NETHDR + 90);
	end_one_frame_each(t, tx, rx, txf, 140, rxf, 90);
}

/* Two regions, adjacent in gpa, far apart in the front-end's address
 * space: a TX and then an RX buffer that straddle them are read
 * piecewise. */
static void test_two_regions(void **state)
{
	struct tt *t = start(state, "net", "128", NET_FEATURES);
	region_new(&t->g.r[0], 0, REG_SIZE, UADDR0, REG_SIZE);
	region_new(&t->g.r[1], REG_SIZE, REG_SIZE, UADDR1, REG_SIZE);
	t->g.n = 2;
	set_mem_table(t, true);
	struct vq *rx = setup_queue(t, 0);
	struct vq *tx = setup_queue(t, 1);

	/* TX: header and 150 bytes from 50 bytes before the boundary. */
	uint8_t txf[150], rxf[100], h[NETHDR];
	make_frame(txf, 150, 70);
	net_hdr(h, 0);
	uint64_t at = REG_SIZE - 50;
	gwrite(&t->g, false, at, h, NETHDR);
	gwrite(&t->g, false, at + NETHDR, txf, 150);
	sdesc(t, tx, 0, 0, at, NETHDR + 150, 0, 0);
	split_offer(t, tx, (const uint16_t[]){0}, 1);
	tap_sync(t);
	split_use(t, tx, 0, 0);

	/* RX, once the TX buffer is done: 2 KiB from 20 bytes before the
	 * boundary; the device's header and frame cross it. */
	at = REG_SIZE - 20;
	sdesc(t, rx, 0, 0, at, 2048, D_WRITE, 0);
	split_offer(t, rx, (const uint16_t[]){0}, 1);
	tap_sync(t);
	make_frame(rxf, 100, 71);
	device_rx(t, at, rxf, 100, 1);
	split_use(t, rx, 0, NETHDR + 100);
	end_one_frame_each(t, tx, rx, txf, 150, rxf, 100);
}

/* The memory table is replaced while the queue runs: a buffer in flight
 * across the change and one offered after it, in the new memory only
 * (the old memory gets a decoy at the same place), are captured. */
static void test_mem_table_replaced(void **state)
{
	struct tt *t = start(state, "net", "128", NET_FEATURES);
	guest_one(t, REG_SIZE);
	set_mem_table(t, true);
	struct vq *tx = setup_queue(t, 1);
	uint8_t f[3][120], decoy[120];
	for (unsigned i = 0; i < 3; i++)
		make_frame(f[i], 120, 80 + i);
	make_frame(decoy, 120, 99);

	split_tx(t, tx, 0, f[0], 120, false);
	split_offer(t, tx, (const uint16_t[]){0}, 1);
	tap_sync(t);
	split_use(t, tx, 0, 0);
	split_tx(t, tx, 1, f[1], 120, false);
	split_offer(t, tx, (const uint16_t[]){1}, 1);
	tap_sync(t);

	/* New memory: a copy of the old, same gpa and front-end address. */
	struct region old = t->g.r[0];
	region_new(&t->g.r[0], 0, REG_SIZE, UADDR0, REG_SIZE);
	memcpy(t->g.r[0].fe, old.fe, REG_SIZE);
	set_mem_table(t, true);
	split_use(t, tx, 1, 0); /* the device now writes the new memory */

	/* Buffer 3 in the new memory; the old memory offers a decoy at the
	 * same place (a tap still reading it would record the decoy). */
	struct guest newg = t->g;
	struct vq oldq = *tx;
	t->g = (struct guest){.r = {old}, .n = 1};
	split_tx(t, &oldq, 2, decoy, 120, false);
	split_offer(t, &oldq, (const uint16_t[]){2}, 1);
	t->g = newg;
	split_tx(t, tx, 2, f[2], 120, false);
	split_offer(t, tx, (const uint16_t[]){2}, 1);
	tap_sync(t);
	split_use(t, tx, 2, 0);
	get_vring_base(t, tx);
	stop(t);
	munmap(old.fe, old.size);
	if (old.be)
		munmap(old.be, old.size);
	close(old.fd);

	expect_counts(t, 1, 3, 3, 0, 0, 0, NULL);
	struct trace *tr = read_trace(t);
	struct rec *p[8];
	assert_int_equal(on_iface(tr, TX, p, 8), 3);
	for (unsigned i = 0; i < 3; i++)
		expect_frame(p[i], TX, PCAPNG_DIR_OUTBOUND, f[i], 120);
}

/* VIRTIO_F_ACCESS_PLATFORM: the tap says it cannot follow and records
 * nothing for the session; the session itself goes on. */
static void test_access_platform(void **state)
{
	struct tt *t =
	        start(state, "net", "128", NET_FEATURES | BIT(F_ACCESS_PLAT));
	PEER_OK(vproc_wait_line(&t->fx->vp, PEER_TIMEOUT_MS, "s1 tap:",
	                        "VIRTIO_F_ACCESS_PLATFORM negotiated",
	                        "is off for this session", NULL));
	guest_one(t, REG_SIZE);
	set_mem_table(t, true);
	struct vq *tx = setup_queue(t, 1);
	uint8_t f[2][64];
	for (unsigned i = 0; i < 2; i++) {
		make_frame(f[i], 64, 90 + i);
		split_tx(t, tx, (uint16_t)i, f[i], 64, false);
	}
	split_offer(t, tx, (const uint16_t[]){0, 1}, 2);
	tap_sync(t);
	split_use(t, tx, 0, 0);
	split_use(t, tx, 1, 0);
	tap_sync(t);
	get_vring_base(t, tx);
	stop(t);

	assert_int_equal(vproc_count(&t->fx->vp, "s1 tap q"), 0);
	expect_summary(t, 0, 0, 0, 0, 0, 0);
	struct trace *tr = read_trace(t);
	assert_int_equal(tr->n, 0);
	assert_int_equal(tr->ns, 0);
}

/* A region longer than its memfd: the tap warns and maps nothing (no
 * SIGBUS), the message still reaches the back-end; a correct table later
 * starts the tap. */
static void test_short_memfd(void **state)
{
	struct tt *t = start(state, "net", "128", NET_FEATURES);
	guest_one(t, 0x10000); /* 64 KiB file for a 256 KiB region */
	set_mem_table(t, false);
	PEER_OK(vproc_wait_line(&t->fx->vp, PEER_TIMEOUT_MS,
	                        "s1 tap: SET_MEM_TABLE:",
	                        "the tap reads no guest memory until the next "
	                        "memory table",
	                        NULL));
	assert_true(alive(t));
	/* Rings live past 64 KiB: set the queue up with the file grown but
	 * the old table still in force. */
	assert_int_equal(ftruncate(t->g.r[0].fd, (off_t)REG_SIZE), 0);
	struct vq *tx = setup_queue(t, 1);
	tap_sync(t);
	assert_int_equal(vproc_count(&t->fx->vp, "s1 tap q1: following"), 0);

	set_mem_table(t, true);
	PEER_OK(vproc_wait_line(&t->fx->vp, PEER_TIMEOUT_MS,
	                        "s1 tap q1: following a split ring", NULL));
	uint8_t f[70];
	make_frame(f, 70, 100);
	split_tx(t, tx, 0, f, 70, false);
	split_offer(t, tx, (const uint16_t[]){0}, 1);
	tap_sync(t);
	split_use(t, tx, 0, 0);
	get_vring_base(t, tx);
	stop(t);

	expect_counts(t, 1, 1, 1, 0, 0, 0, NULL);
	struct trace *tr = read_trace(t);
	struct rec *p[8];
	assert_int_equal(on_iface(tr, TX, p, 8), 1);
	expect_frame(p[0], TX, PCAPNG_DIR_OUTBOUND, f, 70);
}

/* blk: a read (IN, sector 2048, 4096 bytes) and a write (OUT, sector 8,
 * 512 bytes), without PROTOCOL_FEATURES (the kick starts the queue). */
static void test_blk(void **state)
{
	struct tt *t = start(state, "blk", "1024", BIT(F_VERSION_1));
	guest_one(t, REG_SIZE);
	set_mem_table(t, true);
	struct vq *q = setup_queue(t, 0);
	PEER_OK(vproc_wait_line(&t->fx->vp, PEER_TIMEOUT_MS,
	                        "s1 tap q0: following a split ring", NULL));

	uint8_t hdr[16];
	/* read: header (desc 0), 4096 data (1), status (2) */
	memset(hdr, 0, 16);
	put32(hdr, VUP_BLK_T_IN);
	put64(hdr + 8, 2048);
	gwrite(&t->g, false, BUF(0, 0), hdr, 16);
	sdesc(t, q, 0, 0, BUF(0, 0), 16, D_NEXT, 1);
	sdesc(t, q, 0, 1, BUF(0, 1), 4096, D_WRITE | D_NEXT, 2);
	sdesc(t, q, 0, 2, BUF(0, 2), 1, D_WRITE, 0);
	/* write: header (3), 512 data (4), status (5) */
	static uint8_t wdata[512];
	for (unsigned i = 0; i < 512; i++)
		wdata[i] = (uint8_t)(i * 13 + 5);
	put32(hdr, VUP_BLK_T_OUT);
	put64(hdr + 8, 8);
	gwrite(&t->g, false, BUF(0, 3), hdr, 16);
	gwrite(&t->g, false, BUF(0, 4), wdata, 512);
	sdesc(t, q, 0, 3, BUF(0, 3), 16, D_NEXT, 4);
	sdesc(t, q, 0, 4, BUF(0, 4), 512, D_NEXT, 5);
	sdesc(t, q, 0, 5, BUF(0, 5), 1, D_WRITE, 0);
	/* status bytes the device will overwrite */
	uint8_t ff = 0xff;
	gwrite(&t->g, false, BUF(0, 2), &ff, 1);
	gwrite(&t->g, false, BUF(0, 5), &ff, 1);
	split_offer(t, q, (const uint16_t[]){0, 3}, 2);
	tap_sync(t);

	static uint8_t rdata[4096];
	for (unsigned i = 0; i < 4096; i++)
		rdata[i] = (uint8_t)(i * 7 + i / 256);
	uint8_t ok = 0;
	gwrite(&t->g, true, BUF(0, 1), rdata, 4096);
	gwrite(&t->g, true, BUF(0, 2), &ok, 1);
	split_use(t, q, 0, 4097);
	gwrite(&t->g, true, BUF(0, 5), &ok, 1);
	split_use(t, q, 3, 1);
	get_vring_base(t, q);
	stop(t);

	expect_counts(t, 0, 2, 2, 0, 0, 0, NULL);
	struct trace *tr = read_trace(t);
	struct rec *p[8];
	assert_int_equal(on_iface(tr, "s1 blk", p, 8), 2);
	assert_int_equal(tr->n, 2);
	struct vup_blk_rec b;

	assert_int_equal(p[0]->linktype, LINKTYPE_USER1);
	assert_int_equal(vup_blk_rec_decode(p[0]->data, p[0]->caplen, &b), 0);
	assert_int_equal(b.type, VUP_BLK_T_IN);
	assert_int_equal(b.sector, 2048);
	assert_int_equal(b.data_len, 4096);
	assert_int_equal(b.queue, 0);
	assert_int_equal(b.id, 0);
	assert_int_equal(b.used_len, 4097);
	assert_true(b.flags & VUP_BLK_F_STATUS);
	assert_int_equal(b.status, 0);
	assert_true(b.flags & VUP_BLK_F_LATENCY);
	assert_true(b.latency_ns > 0);
	assert_int_equal(p[0]->caplen, VUP_BLK_REC_SIZE + 1024);
	assert_int_equal(p[0]->origlen, VUP_BLK_REC_SIZE + 4096);
	assert_memory_equal(p[0]->data + VUP_BLK_REC_SIZE, rdata, 1024);

	assert_int_equal(p[1]->linktype, LINKTYPE_USER1);
	assert_int_equal(vup_blk_rec_decode(p[1]->data, p[1]->caplen, &b), 0);
	assert_int_equal(b.type, VUP_BLK_T_OUT);
	assert_int_equal(b.sector, 8);
	assert_int_equal(b.data_len, 512);
	assert_int_equal(b.id, 3);
	assert_int_equal(b.used_len, 1);
	assert_true(b.flags & VUP_BLK_F_STATUS);
	assert_int_equal(b.status, 0);
	assert_true(b.flags & VUP_BLK_F_LATENCY);
	assert_true(b.latency_ns > 0);
	assert_int_equal(p[1]->caplen, VUP_BLK_REC_SIZE + 512);
	assert_int_equal(p[1]->origlen, VUP_BLK_REC_SIZE + 512);
	assert_memory_equal(p[1]->data + VUP_BLK_REC_SIZE, wdata, 512);
	expect_isb(tr, "s1 blk", 2, 2, 0, 0, 0);
}

/* ---- fixture ---- */

static int tt_teardown(void **state)
{
	struct tt *t = &tt_state;
	for (unsigned i = 0; i < 2; i++) {
		if (t->q[i].kick > 0)
			close(t->q[i].kick);
		if (t->q[i].call > 0)
			close(t->q[i].call);
		t->q[i].kick = t->q[i].call = -1;
	}
	guest_free(&t->g);
	return peer_teardown(state);
}

#define TAP_TEST(f) cmocka_unit_test_setup_teardown(f, peer_setup, tt_teardown)

/* The front-end cuts its memory file after vuproxy mapped it, with a TX
 * buffer offered: vuproxy's reads of the lost pages fail (no SIGBUS), it
 * keeps relaying and exits cleanly. */
static void test_file_cut(void **state)
{
	struct tt *t = start(state, "net", "128", NET_FEATURES);
	guest_one(t, REG_SIZE);
	set_mem_table(t, true);
	struct vq *tx = setup_queue(t, 1);
	PEER_OK(vproc_wait_line(&t->fx->vp, PEER_TIMEOUT_MS,
	                        "s1 tap q1: following a split ring of 16",
	                        NULL));
	uint8_t f[60];
	make_frame(f, 60, 9);
	split_tx(t, tx, 0, f, 60, true);
	split_offer(t, tx, (const uint16_t[]){0}, 1);
	assert_int_equal(ftruncate(t->g.r[0].fd, 0), 0);
	tap_sync(t);
	tap_sync(t);
	assert_true(alive(t));
	stop(t);
	expect_counts(t, 1, 0, 0, 0, 0, 0, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        TAP_TEST(test_split_net),
	        TAP_TEST(test_packed_net),
	        TAP_TEST(test_merged_rx),
	        TAP_TEST(test_merged_rx_whole),
	        TAP_TEST(test_restart),
	        TAP_TEST(test_torn),
	        TAP_TEST(test_malformed_outside),
	        TAP_TEST(test_malformed_loop),
	        TAP_TEST(test_indirect),
	        TAP_TEST(test_two_regions),
	        TAP_TEST(test_mem_table_replaced),
	        TAP_TEST(test_access_platform),
	        TAP_TEST(test_short_memfd),
	        TAP_TEST(test_file_cut),
	        TAP_TEST(test_blk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
