/* tap_world: the scripted guest memory, rings, peers and trace reading
 * of the tap's peer tests; see tap_world.h. */
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

#include "tap_world.h"
#include "vuproxy/json.h"

/* ---- guest memory ---- */

struct tt tt_state; /* static storage: a failed test leaks nothing */

void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

uint32_t min32(uint32_t a, uint32_t b)
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
void region_new(struct region *r, uint64_t gpa, uint64_t size, uint64_t uaddr,
                uint64_t file_size)
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
uint8_t *gpa_ptr(struct guest *g, bool be, uint64_t gpa, size_t *room)
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
void gwrite(struct guest *g, bool be, uint64_t gpa, const void *src, size_t len)
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
void gstore16(struct guest *g, bool be, uint64_t gpa, uint16_t v)
{
	size_t room;
	uint16_t *p = (uint16_t *)(void *)gpa_ptr(g, be, gpa, &room);
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* ---- frames and buffers ---- */

/* An Ethernet frame of len bytes, different for each seed. */
void make_frame(uint8_t *f, uint32_t len, unsigned seed)
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
void net_hdr(uint8_t h[NETHDR], uint16_t num_buffers)
{
	memset(h, 0, NETHDR);
	put16(h + 10, num_buffers);
}

/* ---- messages ---- */

void relay(struct tt *t, const char *req, const void *payload, uint32_t size,
           const int *fds, unsigned nfds)
{
	PEER_OK(peer_relay_check(t->fe, t->be, peer_code(req), V, payload, size,
	                         fds, nfds));
}

void set_features(struct tt *t, uint64_t features)
{
	uint8_t p[8];
	put64(p, features);
	t->features = features;
	relay(t, "SET_FEATURES", p, 8, NULL, 0);
}

uint32_t mem_table_payload(const struct guest *g, uint8_t *p)
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
void set_mem_table(struct tt *t, bool map)
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

void vring_state(struct tt *t, const char *req, unsigned index, uint32_t num)
{
	uint8_t p[8];
	put32(p, index);
	put32(p + 4, num);
	relay(t, req, p, 8, NULL, 0);
}

void vring_fd(struct tt *t, const char *req, unsigned index, int fd)
{
	uint8_t p[8];
	put64(p, index);
	relay(t, req, p, 8, &fd, 1);
}

/* The set-up messages of a queue as QEMU sends them: NUM, BASE, ADDR,
 * KICK, CALL (, ENABLE); base is where the rings resume. */
void vring_addr(struct tt *t, struct vq *q, uint32_t flags)
{
	uint8_t a[40];
	put32(a, q->index);
	put32(a + 4, flags);
	put64(a + 8, UADDR0 + q->desc);
	put64(a + 16, UADDR0 + q->used);
	put64(a + 24, UADDR0 + q->avail);
	put64(a + 32, flags & 1 ? q->used : 0); /* log: the used ring's gpa */
	relay(t, "SET_VRING_ADDR", a, 40, NULL, 0);
}

void send_queue_setup(struct tt *t, struct vq *q, uint32_t base)
{
	unsigned index = q->index;
	vring_state(t, "SET_VRING_NUM", index, QSZ);
	vring_state(t, "SET_VRING_BASE", index, base);
	vring_addr(t, q, 0);
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

struct vq *lay_out_queue(struct tt *t, unsigned index)
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
	return q;
}

struct vq *setup_queue(struct tt *t, unsigned index)
{
	struct vq *q = lay_out_queue(t, index);
	send_queue_setup(t, q, q->packed ? 0x8000u : 0);
	return q;
}

/* GET_VRING_BASE: the back-end answers where it stopped; vuproxy stops
 * reading the queue after a last read. */
void get_vring_base(struct tt *t, struct vq *q)
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
void tap_sync(struct tt *t)
{
	peer_sleep_ms(SYNC_MS);
	for (int i = 0; i < 2; i++)
		PEER_OK(peer_get_features(t->fe, t->be, t->features));
}

/* ---- split rings ---- */

void sdesc(struct tt *t, struct vq *q, uint64_t table, unsigned i,
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
void split_offer(struct tt *t, struct vq *q, const uint16_t *heads, unsigned n)
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
void split_used_entry(struct tt *t, struct vq *q, uint16_t id, uint32_t len)
{
	uint8_t e[8];
	put32(e, id);
	put32(e + 4, len);
	gwrite(&t->g, true, q->used + 4 + 8ull * (q->used_idx % QSZ), e, 8);
	q->used_idx++;
}

void split_use(struct tt *t, struct vq *q, uint16_t id, uint32_t len)
{
	split_used_entry(t, q, id, len);
	gstore16(&t->g, true, q->used + 2, q->used_idx);
}

/* A TX buffer at descriptor d: header and frame in one descriptor, or in
 * two (d, d + 1). */
void split_tx(struct tt *t, struct vq *q, uint16_t d, const uint8_t *frame,
              uint32_t len, bool two)
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
void device_rx(struct tt *t, uint64_t gpa, const uint8_t *frame, uint32_t len,
               uint16_t num_buffers)
{
	uint8_t h[NETHDR];
	net_hdr(h, num_buffers);
	gwrite(&t->g, true, gpa, h, NETHDR);
	gwrite(&t->g, true, gpa + NETHDR, frame, len);
}

/* ---- packed rings ---- */

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
void packed_offer(struct tt *t, struct vq *q, const struct seg *s, unsigned n,
                  uint16_t id)
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
void packed_use(struct tt *t, struct vq *q, uint16_t id, uint32_t len,
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

/* Start vuproxy with --tap kind (and option `opt` unless NULL), connect
 * a session and send the features. */
struct tt *start_opt(void **state, const char *kind, const char *snap,
                     uint64_t features, const char *opt)
{
	struct tt *t = &tt_state;
	memset(t, 0, sizeof(*t));
	t->g.r[0].fd = t->g.r[1].fd = -1;
	t->fx = *state;
	snprintf(t->trace, sizeof(t->trace), "%s/trace.pcapng.gz", t->fx->dir);
	const char *extra[] = {"--tap", kind, "-s",     snap,  "--tap-interval",
	                       "200",   "-w", t->trace, "-vv", opt,
	                       NULL};
	PEER_OK(peer_fx_start(t->fx, "listen", "connect", extra));
	PEER_OK(peer_fx_session(t->fx, &t->fe, &t->be));
	set_features(t, features);
	return t;
}

struct tt *start_args(void **state, uint64_t features, const char *const *extra)
{
	struct tt *t = &tt_state;
	memset(t, 0, sizeof(*t));
	t->g.r[0].fd = t->g.r[1].fd = -1;
	t->fx = *state;
	PEER_OK(peer_fx_start(t->fx, "listen", "connect", extra));
	PEER_OK(peer_fx_session(t->fx, &t->fe, &t->be));
	set_features(t, features);
	return t;
}

struct tt *start(void **state, const char *kind, const char *snap,
                 uint64_t features)
{
	return start_opt(state, kind, snap, features, NULL);
}

/* One region of 256 KiB at gpa 0 (file_size: its memfd's length). */
void guest_one(struct tt *t, uint64_t file_size)
{
	region_new(&t->g.r[0], 0, REG_SIZE, UADDR0, file_size);
	t->g.n = 1;
}

bool alive(struct tt *t)
{
	return vproc_wait(&t->fx->vp, 0) == -ETIMEDOUT;
}

/* SIGINT, as a user stops it: exit status 0 and its summary lines. */
void stop(struct tt *t)
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
 * "s1 tap qN: consumed N, captured N[ (N unverified)], missed N, torn N,
 * malformed N" and " (last malformed: WHY)" when why is set. */
void expect_counts_unv(struct tt *t, unsigned q, unsigned consumed,
                       unsigned captured, unsigned unverified, unsigned missed,
                       unsigned torn, unsigned malformed, const char *why)
{
	char key[32], want[256], unv[32] = "";
	snprintf(key, sizeof(key), "s1 tap q%u: consumed ", q);
	if (unverified)
		snprintf(unv, sizeof(unv), " (%u unverified)", unverified);
	snprintf(want, sizeof(want),
	         "s1 tap q%u: consumed %u, captured %u%s, missed %u, torn %u, "
	         "malformed %u%s%s%s",
	         q, consumed, captured, unv, missed, torn, malformed,
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

/* The same with every capture verified. */
void expect_counts(struct tt *t, unsigned q, unsigned consumed,
                   unsigned captured, unsigned missed, unsigned torn,
                   unsigned malformed, const char *why)
{
	expect_counts_unv(t, q, consumed, captured, 0, missed, torn, malformed,
	                  why);
}

struct trace trace_buf;

struct trace *read_trace(struct tt *t)
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
unsigned on_iface(struct trace *tr, const char *ifname, struct rec **out,
                  unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < tr->n; i++)
		if (strcmp(tr->r[i].ifname, ifname) == 0 && n < max)
			out[n++] = &tr->r[i];
	return n;
}

/* The last statistics of an interface must say exactly this. */
void expect_isb(struct trace *tr, const char *ifname, unsigned consumed,
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

void expect_frame(const struct rec *r, const char *ifname, uint32_t dir,
                  const uint8_t *frame, uint32_t len)
{
	assert_string_equal(r->ifname, ifname);
	assert_int_equal(r->linktype, LINKTYPE_ETHERNET);
	assert_int_equal(r->flags & 3u, dir);
	assert_int_equal(r->origlen, len);
	assert_int_equal(r->caplen, min32(len, SNAP));
	assert_memory_equal(r->data, frame, r->caplen);
}

/* vuproxy's summary at exit.  Between "captured" and "missed" it may say
 * more (how many copies were kept unverified): not checked here. */
void expect_summary(struct tt *t, unsigned queues, unsigned consumed,
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

/* ---- fixture ---- */

int tt_teardown(void **state)
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

/* ---- the control socket ---- */

bool show_live(const char *ctl, unsigned index, int64_t *avail, int64_t *used,
               char *why, size_t whylen)
{
	static char out[65536];
	char err[256];
	assert_int_equal(
	        vproc_ctl(ctl, out, sizeof(out), "show", "1", "--json", NULL),
	        0);
	struct vup_json_doc d;
	if (vup_json_parse(&d, out, strlen(out), err, sizeof(err)))
		fail_msg("%s: %s", err, out);
	int vr = vup_json_get(&d, vup_json_get(&d, 0, "result"), "vrings");
	int found = -1;
	for (int v = vr >= 0 ? d.n[vr].child : -1; v >= 0; v = d.n[v].next) {
		int64_t i;
		if (vup_json_int(&d, vup_json_get(&d, v, "index"), &i) == 0 &&
		    i == index)
			found = v;
	}
	if (found < 0)
		fail_msg("no vring %u: %s", index, out);
	int l = vup_json_get(&d, found, "live");
	size_t n;
	bool have = l >= 0;
	if (have) {
		assert_int_equal(vup_json_int(&d,
		                              vup_json_get(&d, l, "avail_idx"),
		                              avail),
		                 0);
		assert_int_equal(
		        vup_json_int(&d, vup_json_get(&d, l, "used_idx"), used),
		        0);
	} else if (vup_json_string(&d, vup_json_get(&d, found, "live_missing"),
	                           why, whylen, &n) != 0) {
		fail_msg("neither live nor live_missing: %s", out);
	}
	vup_json_doc_free(&d);
	return have;
}
