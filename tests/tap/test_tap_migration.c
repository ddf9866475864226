/* test_tap_migration: the tap through what live migration, postcopy and
 * in-band notifications send (tap_world.h: the real vuproxy binary, our
 * scripted peers, guest memory in memfds):
 *   - SET_VRING_ADDR sent again on a running ring to switch dirty logging
 *     (VHOST_VRING_F_LOG) on and off, split and packed: the ring stays
 *     followed, each buffer recorded once;
 *   - VRING_KICK (in-band) starts a ring as SET_VRING_KICK does;
 *   - GET_VRING_BASE_SKIP_DRAIN stops one as GET_VRING_BASE does;
 *   - QEMU's postcopy sequence (PAGEFAULT, POSTCOPY_ADVISE with a
 *     userfaultfd, POSTCOPY_LISTEN, the memory table echoed by the
 *     back-end and acknowledged by QEMU's 8-byte SET_MEM_TABLE,
 *     POSTCOPY_END) with traffic before, during and after: the
 *     acknowledgement replaces no memory table, the tap reads no guest
 *     memory during postcopy and the counts stay exact; the same with
 *     ADD_MEM_REG (CONFIGURE_MEM_SLOTS) echoed and acknowledged.
 */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tap_world.h"

#define NR VUP_FLAG_NEED_REPLY

/* Virtio and protocol feature bits these tests negotiate. */
#define F_LOG_ALL        26
#define PF_REPLY_ACK     3
#define PF_BACKEND_REQ   5
#define PF_PAGEFAULT     8
#define PF_INFLIGHT      12
#define PF_INBAND        14
#define PF_MEM_SLOTS     15
#define PF_SKIP_DRAIN_20 20 /* GET_VRING_BASE_SKIP_DRAIN needs it */
#define PF_SKIP_DRAIN    23

static void set_protocol_features(struct tt *t, uint64_t pf)
{
	uint8_t p[8];
	put64(p, pf);
	relay(t, "SET_PROTOCOL_FEATURES", p, 8, NULL, 0);
}

/* A request the back-end answers: both messages relayed unchanged. */
static void round_trip(struct tt *t, const char *req, uint32_t flags,
                       const void *p, uint32_t size, const void *rp,
                       uint32_t rsize, const int *rfds, unsigned nrfds)
{
	uint32_t code = peer_code(req);
	PEER_OK(peer_relay_check(t->fe, t->be, code, flags, p, size, NULL, 0));
	PEER_OK(peer_relay_check(t->be, t->fe, code, V | R, rp, rsize, rfds,
	                         nrfds));
}

/* The u64 0 of an ack. */
static const uint8_t ack_ok[8];

/* vuproxy with --tap net and a session: the features, protocol features
 * pf (none sent if 0), one region and its memory table; n frames of 100
 * bytes made from seed. */
static struct tt *begin(void **state, uint64_t features, uint64_t pf,
                        uint8_t f[][100], unsigned n, unsigned seed)
{
	struct tt *t = start(state, "net", "128", features);
	if (pf)
		set_protocol_features(t, pf);
	guest_one(t, REG_SIZE);
	set_mem_table(t, true);
	for (unsigned i = 0; i < n; i++)
		make_frame(f[i], 100, seed + i);
	return t;
}

/* A TX frame of len bytes in one descriptor at buffer d (packed: buffer
 * id d), offered. */
static void tx_offer(struct tt *t, struct vq *q, uint16_t d, const uint8_t *f,
                     uint32_t len)
{
	if (!q->packed) {
		split_tx(t, q, d, f, len, false);
		split_offer(t, q, &d, 1);
		return;
	}
	uint8_t h[NETHDR];
	net_hdr(h, 0);
	gwrite(&t->g, false, BUF(q->index, d), h, NETHDR);
	gwrite(&t->g, false, BUF(q->index, d) + NETHDR, f, len);
	struct seg s = {BUF(q->index, d), NETHDR + len, 0};
	packed_offer(t, q, &s, 1, d);
}

/* The device sends the frame of buffer d. */
static void tx_use(struct tt *t, struct vq *q, uint16_t d)
{
	if (q->packed)
		packed_use(t, q, d, 0, 1);
	else
		split_use(t, q, d, 0);
}

/* The TX frames on the trace are exactly these, in this order. */
static void expect_tx_frames(struct tt *t, uint8_t f[][100], unsigned n)
{
	struct trace *tr = read_trace(t);
	struct rec *p[8];
	assert_int_equal(on_iface(tr, TX, p, 8), n);
	for (unsigned i = 0; i < n; i++)
		expect_frame(p[i], TX, PCAPNG_DIR_OUTBOUND, f[i], 100);
}

/* How many statistics blocks the TX queue wrote: one per stop. */
static unsigned tx_isbs(struct tt *t)
{
	struct trace *tr = read_trace(t);
	unsigned n = 0;
	for (unsigned i = 0; i < tr->ns; i++)
		n += strcmp(tr->s[i].ifname, TX) == 0;
	return n;
}

/* The end of a test: frame n - 1 offered (and, in-band, kicked) and sent,
 * the queue stopped, vuproxy too.  All n frames captured, verified, in
 * order. */
static void last_then_end(struct tt *t, struct vq *tx, uint8_t f[][100],
                          unsigned n, bool inband)
{
	uint16_t d = (uint16_t)(n - 1);
	tx_offer(t, tx, d, f[d], 100);
	if (inband)
		vring_state(t, "VRING_KICK", tx->index, 0);
	tap_sync(t);
	tx_use(t, tx, d);
	get_vring_base(t, tx);
	stop(t);
	expect_counts(t, 1, n, n, 0, 0, 0, NULL);
	expect_tx_frames(t, f, n);
}

/* The queue, set up again, is followed a second time; then the end. */
static void again_then_end(struct tt *t, struct vq *tx, uint8_t f[][100],
                           unsigned n)
{
	PEER_OK(vproc_wait_count(&t->fx->vp, "s1 tap q1: following", 2,
	                         PEER_TIMEOUT_MS));
	last_then_end(t, tx, f, n, false);
}

/* ---- dirty logging switched on a running ring ---- */

/* As QEMU starts and ends migration: SET_FEATURES with LOG_ALL, then
 * SET_VRING_ADDR with VHOST_VRING_F_LOG and the same rings; later both
 * without.  Frame 1 is offered before logging starts and sent after, the
 * others in between: four consumed, four captured verified, and the
 * queue was followed once, from set-up to GET_VRING_BASE. */
static void log_case(void **state, bool packed)
{
	uint64_t features = NET_FEATURES | (packed ? BIT(F_RING_PACKED) : 0);
	uint8_t f[4][100];
	struct tt *t = begin(state, features, 0, f, 4, 140);
	struct vq *tx = setup_queue(t, 1);
	PEER_OK(vproc_wait_line(&t->fx->vp, PEER_TIMEOUT_MS,
	                        "s1 tap q1: following", NULL));

	tx_offer(t, tx, 0, f[0], 100);
	tap_sync(t);
	tx_use(t, tx, 0);
	tx_offer(t, tx, 1, f[1], 100);
	tap_sync(t);

	set_features(t, features | BIT(F_LOG_ALL));
	vring_addr(t, tx, 1);
	tx_use(t, tx, 1);
	tx_offer(t, tx, 2, f[2], 100);
	tap_sync(t);
	tx_use(t, tx, 2);

	set_features(t, features);
	vring_addr(t, tx, 0);
	last_then_end(t, tx, f, 4, false);
	assert_int_equal(vproc_count(&t->fx->vp, "s1 tap q1: following"), 1);
	assert_int_equal(vproc_count(&t->fx->vp,
	                             "s1 tap q1: SET_VRING_ADDR with the "
	                             "same rings (logging on)"),
	                 1);
	assert_int_equal(vproc_count(&t->fx->vp, "s1 tap q1: stopped"), 1);
	assert_int_equal(tx_isbs(t), 1);
}

static void test_log_split(void **state)
{
	log_case(state, false);
}

static void test_log_packed(void **state)
{
	log_case(state, true);
}

/* SET_VRING_ADDR with other rings is a new ring, as before: the queue
 * stops after a last read and starts again from the used index. */
static void test_addr_moved(void **state)
{
	uint8_t f[2][100];
	struct tt *t = begin(state, NET_FEATURES, 0, f, 2, 150);
	struct vq *tx = setup_queue(t, 1);
	tx_offer(t, tx, 0, f[0], 100);
	tap_sync(t);
	tx_use(t, tx, 0);

	/* The same rings copied to queue 0's place (unused here). */
	uint8_t ring[0xc00];
	memcpy(ring, t->g.r[0].fe + RING_BASE(1), sizeof(ring));
	gwrite(&t->g, false, RING_BASE(0), ring, sizeof(ring));
	tx->desc = RING_BASE(0);
	tx->avail = RING_BASE(0) + 0x400;
	tx->used = RING_BASE(0) + 0x800;
	vring_addr(t, tx, 0);
	PEER_OK(vproc_wait_line(&t->fx->vp, PEER_TIMEOUT_MS,
	                        "s1 tap q1: stopped (set up again)", NULL));
	again_then_end(t, tx, f, 2);
}

/* ---- in-band notifications ---- */

/* With INBAND_NOTIFICATIONS the front-end may send no SET_VRING_KICK at
 * all: its first VRING_KICK starts the ring, and the frame it offered
 * before is captured. */
static void test_inband_kick(void **state)
{
	uint8_t f[2][100];
	struct tt *t =
	        begin(state, NET_FEATURES,
	              BIT(PF_INBAND) | BIT(PF_BACKEND_REQ) | BIT(PF_REPLY_ACK),
	              f, 2, 160);
	struct vq *tx = lay_out_queue(t, 1);
	vring_state(t, "SET_VRING_NUM", 1, QSZ);
	vring_state(t, "SET_VRING_BASE", 1, 0);
	vring_addr(t, tx, 0);
	vring_state(t, "SET_VRING_ENABLE", 1, 1);
	tx_offer(t, tx, 0, f[0], 100);
	tap_sync(t);
	assert_int_equal(vproc_count(&t->fx->vp, "s1 tap q1: following"), 0);

	vring_state(t, "VRING_KICK", 1, 0);
	PEER_OK(vproc_wait_line(&t->fx->vp, PEER_TIMEOUT_MS,
	                        "s1 tap q1: following a split ring", NULL));
	tap_sync(t);
	tx_use(t, tx, 0);
	last_then_end(t, tx, f, 2, true);
	assert_int_equal(vproc_count(&t->fx->vp, "s1 tap q1: following"), 1);
}

/* ---- GET_VRING_BASE_SKIP_DRAIN ---- */

/* Its reply stops the queue as GET_VRING_BASE's does: what the front-end
 * then writes into the old rings (here garbage: a used index 7 ahead,
 * entries naming no buffer) is not read; the queue set up again is
 * followed again. */
static void test_skip_drain(void **state)
{
	uint8_t f[3][100];
	struct tt *t = begin(state, NET_FEATURES,
	                     BIT(PF_SKIP_DRAIN) | BIT(PF_SKIP_DRAIN_20) |
	                             BIT(PF_INFLIGHT),
	                     f, 3, 170);
	struct vq *tx = setup_queue(t, 1);
	for (uint16_t d = 0; d < 2; d++) {
		tx_offer(t, tx, d, f[d], 100);
		tap_sync(t);
		tx_use(t, tx, d);
	}
	uint8_t p[8], rp[8];
	put32(p, 1);
	put32(p + 4, 0);
	put32(rp, 1);
	put32(rp + 4, tx->avail_idx);
	round_trip(t, "GET_VRING_BASE_SKIP_DRAIN", V, p, 8, rp, 8, NULL, 0);
	PEER_OK(vproc_wait_line(
	        &t->fx->vp, PEER_TIMEOUT_MS,
	        "s1 tap q1: stopped (GET_VRING_BASE_SKIP_DRAIN answered)",
	        NULL));

	uint8_t junk[8];
	put32(junk, 0xffff);
	put32(junk + 4, 0);
	for (unsigned i = 0; i < 7; i++)
		gwrite(&t->g, true,
		       tx->used + 4 + 8ull * ((tx->used_idx + i) % QSZ), junk,
		       8);
	gstore16(&t->g, true, tx->used + 2, (uint16_t)(tx->used_idx + 7));
	tap_sync(t);
	tap_sync(t);
	gstore16(&t->g, true, tx->used + 2, tx->used_idx);

	send_queue_setup(t, tx, tx->avail_idx);
	again_then_end(t, tx, f, 3);
}

/* ---- postcopy ---- */

/* Whether the page of guest memory at gpa is in the memory file (a page
 * nobody read or wrote is not). */
static bool resident(struct tt *t, uint64_t gpa)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t room;
	uint8_t *p = gpa_ptr(&t->g, false, gpa & ~(uint64_t)(pg - 1), &room);
	unsigned char v = 0;
	if (mincore(p, (size_t)pg, &v) < 0)
		fail_msg("mincore: %s", strerror(errno));
	return v & 1;
}

/* QEMU entering postcopy: POSTCOPY_ADVISE (the back-end answers with its
 * userfaultfd; an eventfd stands for it), POSTCOPY_LISTEN; the tap says
 * it stops reading. */
static void postcopy_listen(struct tt *t)
{
	int ufd = eventfd(0, EFD_CLOEXEC);
	assert_true(ufd >= 0);
	round_trip(t, "POSTCOPY_ADVISE", V, NULL, 0, NULL, 0, &ufd, 1);
	close(ufd);
	round_trip(t, "POSTCOPY_LISTEN", V | NR, NULL, 0, ack_ok, 8, NULL, 0);
	PEER_OK(vproc_wait_line(&t->fx->vp, PEER_TIMEOUT_MS,
	                        "s1 tap: postcopy: the tap reads no guest "
	                        "memory until POSTCOPY_END",
	                        NULL));
}

/* Every page has arrived: POSTCOPY_END; the tap reads again. */
static void postcopy_end(struct tt *t)
{
	round_trip(t, "POSTCOPY_END", V | NR, NULL, 0, ack_ok, 8, NULL, 0);
	PEER_OK(vproc_wait_line(&t->fx->vp, PEER_TIMEOUT_MS,
	                        "s1 tap: postcopy ended", NULL));
}

/* QEMU as the migration's destination with a net device on a polling
 * back-end (hw/virtio/vhost-user.c, docs/interop/vhost-user.rst): the
 * rings run before postcopy starts (here: traffic the tap must see as
 * usual), then
 *   POSTCOPY_ADVISE          the back-end answers with its userfaultfd
 *   POSTCOPY_LISTEN          need_reply, acked
 *   SET_MEM_TABLE            the same memory, no NEED_REPLY; the back-end
 *                            echoes the table with its own addresses
 *   SET_MEM_TABLE (8 bytes)  QEMU's acknowledgement: u64 0, no fd
 *   ... the guest runs while pages arrive ...
 *   POSTCOPY_END             need_reply, acked
 * and traffic after.  Between LISTEN and END the tap reads no guest
 * memory: an RX buffer in a page nobody touched stays out of the memory
 * file until the device writes it, and a TX frame offered and sent in
 * that time is found, after END, already used (kept, unverified).  After
 * END the tap reads through the memory table the acknowledgement did not
 * replace: TX consumed 3 captured 3 (1 unverified), RX consumed 2
 * captured 2. */
static void test_postcopy(void **state)
{
	uint8_t f[3][100], rxf[2][80];
	struct tt *t = begin(state, NET_FEATURES,
	                     BIT(PF_PAGEFAULT) | BIT(PF_REPLY_ACK), f, 3, 180);
	struct vq *rx = setup_queue(t, 0);
	struct vq *tx = setup_queue(t, 1);
	for (unsigned i = 0; i < 2; i++)
		make_frame(rxf[i], 80, 190 + i);

	/* Before: one frame each way. */
	tx_offer(t, tx, 0, f[0], 100);
	sdesc(t, rx, 0, 0, BUF(0, 0), 2048, D_WRITE, 0);
	split_offer(t, rx, (const uint16_t[]){0}, 1);
	tap_sync(t);
	tx_use(t, tx, 0);
	device_rx(t, BUF(0, 0), rxf[0], 80, 1);
	split_use(t, rx, 0, NETHDR + 80);
	tap_sync(t);

	postcopy_listen(t);

	set_mem_table(t, true);
	uint8_t echo[8 + 32];
	uint32_t size = mem_table_payload(&t->g, echo);
	put64(echo + 8 + 16, (uint64_t)(uintptr_t)t->g.r[0].be);
	PEER_OK(peer_relay_check(t->be, t->fe, peer_code("SET_MEM_TABLE"),
	                         V | R, echo, size, NULL, 0));
	relay(t, "SET_MEM_TABLE", ack_ok, 8, NULL, 0);

	/* During: a TX frame offered and sent; an RX buffer in a fresh
	 * page offered, then written and used by the device. */
	uint64_t fresh = BUF(0, 9);
	assert_false(resident(t, fresh));
	tx_offer(t, tx, 1, f[1], 100);
	sdesc(t, rx, 0, 1, fresh, 2048, D_WRITE, 0);
	split_offer(t, rx, (const uint16_t[]){1}, 1);
	tap_sync(t);
	tap_sync(t);
	if (resident(t, fresh))
		fail_msg("vuproxy read guest memory during postcopy: the RX "
		         "buffer's page is in the memory file\n%s",
		         vproc_log_tail(&t->fx->vp));
	tx_use(t, tx, 1);
	device_rx(t, fresh, rxf[1], 80, 1);
	split_use(t, rx, 1, NETHDR + 80);
	tap_sync(t);

	postcopy_end(t);

	/* After. */
	tx_offer(t, tx, 2, f[2], 100);
	tap_sync(t);
	tx_use(t, tx, 2);
	get_vring_base(t, tx);
	get_vring_base(t, rx);
	stop(t);

	expect_counts_unv(t, 1, 3, 3, 1, 0, 0, 0, NULL);
	expect_counts(t, 0, 2, 2, 0, 0, 0, NULL);
	assert_int_equal(vproc_count(&t->fx->vp, "following"), 2);
	assert_int_equal(vproc_count(&t->fx->vp, "tap reads no guest memory "
	                                         "until the next memory table"),
	                 0);
	expect_tx_frames(t, f, 3);
	struct trace *tr = read_trace(t);
	struct rec *p[8];
	assert_int_equal(on_iface(tr, RX, p, 8), 2);
	for (unsigned i = 0; i < 2; i++)
		expect_frame(p[i], RX, PCAPNG_DIR_INBOUND, rxf[i], 80);
}

/* The same with CONFIGURE_MEM_SLOTS, as QEMU's add-regions path does it
 * in postcopy: the region comes with ADD_MEM_REG, the back-end echoes it
 * with its own address, QEMU acknowledges with an ADD_MEM_REG of 8 bytes
 * (u64 0) and no fd.  The device starts in postcopy, as on a
 * destination: the tap starts reading at POSTCOPY_END, through the region
 * the acknowledgement did not remove, and finds both frames (the first,
 * sent in postcopy, unverified). */
static void test_postcopy_mem_slots(void **state)
{
	struct tt *t = start(state, "net", "128", NET_FEATURES);
	set_protocol_features(t, BIT(PF_PAGEFAULT) | BIT(PF_REPLY_ACK) |
	                                 BIT(PF_MEM_SLOTS));
	guest_one(t, REG_SIZE);
	uint8_t f[2][100];
	for (unsigned i = 0; i < 2; i++)
		make_frame(f[i], 100, 200 + i);
	postcopy_listen(t);

	struct region *r = &t->g.r[0];
	uint8_t reg[40] = {0};
	put64(reg + 8, r->gpa);
	put64(reg + 16, r->size);
	put64(reg + 24, r->uaddr);
	relay(t, "ADD_MEM_REG", reg, 40, &r->fd, 1);
	r->be = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
	             0);
	assert_true(r->be != MAP_FAILED);
	put64(reg + 24, (uint64_t)(uintptr_t)r->be);
	PEER_OK(peer_relay_check(t->be, t->fe, peer_code("ADD_MEM_REG"), V | R,
	                         reg, 40, NULL, 0));
	relay(t, "ADD_MEM_REG", ack_ok, 8, NULL, 0);

	struct vq *tx = setup_queue(t, 1);
	tx_offer(t, tx, 0, f[0], 100);
	tap_sync(t);
	tx_use(t, tx, 0);
	tap_sync(t);
	assert_int_equal(vproc_count(&t->fx->vp, "s1 tap q1: following"), 0);
	postcopy_end(t);
	PEER_OK(vproc_wait_line(&t->fx->vp, PEER_TIMEOUT_MS,
	                        "s1 tap q1: following a split ring", NULL));
	tx_offer(t, tx, 1, f[1], 100);
	tap_sync(t);
	tx_use(t, tx, 1);
	get_vring_base(t, tx);
	stop(t);

	expect_counts_unv(t, 1, 2, 2, 1, 0, 0, 0, NULL);
	expect_tx_frames(t, f, 2);
}

/* The device runs on during postcopy while the tap does not look: a
 * queue set up during postcopy (a destination) with SET_VRING_BASE 0 has
 * used 40000 buffers by POSTCOPY_END.  The tap must start again where
 * the device is, not at the stale base (40000 buffers on, its indices
 * say nothing): the frame sent after END is captured.  (From a review,
 * which found the queue dark after END.) */
static void test_postcopy_device_moved_on(void **state)
{
	struct tt *t = start(state, "net", "128", NET_FEATURES);
	set_protocol_features(t, BIT(PF_PAGEFAULT) | BIT(PF_REPLY_ACK));
	guest_one(t, REG_SIZE);
	uint8_t f[2][100];
	for (unsigned i = 0; i < 2; i++)
		make_frame(f[i], 100, 300 + i);
	postcopy_listen(t);
	set_mem_table(t, true);
	struct vq *tx = setup_queue(t, 1);
	for (uint16_t d = 0; d < QSZ; d++)
		split_tx(t, tx, d, f[0], 100, false);
	for (unsigned i = 0; i < 40000; i++) {
		uint16_t d = (uint16_t)(i % QSZ);
		uint8_t e[2];
		put16(e, d);
		gwrite(&t->g, false,
		       tx->avail + 4 + 2ull * (tx->avail_idx % QSZ), e, 2);
		tx->avail_idx++;
		split_used_entry(t, tx, d, 0);
	}
	gstore16(&t->g, false, tx->avail + 2, tx->avail_idx);
	gstore16(&t->g, true, tx->used + 2, tx->used_idx);
	postcopy_end(t);
	PEER_OK(vproc_wait_line(&t->fx->vp, PEER_TIMEOUT_MS,
	                        "s1 tap q1: following a split ring", NULL));
	split_tx(t, tx, 1, f[1], 100, false);
	uint16_t d1 = 1;
	split_offer(t, tx, &d1, 1);
	tap_sync(t);
	split_use(t, tx, 1, 0);
	tap_sync(t);
	get_vring_base(t, tx);
	stop(t);
	expect_tx_frames(t, f + 1, 1);
}

/* A running TX queue whose ring goes round 65536 times during postcopy:
 * the 16-bit indices come back to where the reader left them.  The copy
 * of the frame offered before POSTCOPY_LISTEN must not be taken for the
 * buffer used last (it held another frame by then). */
static void test_postcopy_ring_wrapped(void **state)
{
	uint8_t f[3][100];
	struct tt *t = begin(state, NET_FEATURES,
	                     BIT(PF_PAGEFAULT) | BIT(PF_REPLY_ACK), f, 3, 400);
	struct vq *tx = setup_queue(t, 1);
	PEER_OK(vproc_wait_line(&t->fx->vp, PEER_TIMEOUT_MS,
	                        "s1 tap q1: following", NULL));
	tx_offer(t, tx, 0, f[0], 100); /* avail 0: frame 0, copied */
	tap_sync(t);
	postcopy_listen(t);
	split_tx(t, tx, 0, f[1], 100, false);
	for (unsigned i = 0; i < 65536; i++) {
		uint8_t e[2];
		put16(e, 0);
		gwrite(&t->g, false,
		       tx->avail + 4 + 2ull * (tx->avail_idx % QSZ), e, 2);
		tx->avail_idx++;
	}
	for (unsigned i = 0; i < 65537; i++)
		split_used_entry(t, tx, 0, 0);
	gstore16(&t->g, true, tx->used + 2, tx->used_idx);
	split_tx(t, tx, 0, f[2], 100, false);
	uint16_t d0 = 0;
	split_offer(t, tx, &d0, 1);
	postcopy_end(t);
	tap_sync(t);
	tap_sync(t);
	get_vring_base(t, tx);
	stop(t);
	struct trace *tr = read_trace(t);
	struct rec *p[8];
	unsigned n = on_iface(tr, TX, p, 8);
	for (unsigned i = 0; i < n; i++)
		if (memcmp(p[i]->data, f[0], 100) == 0)
			fail_msg("TX record %u holds the frame offered before "
			         "POSTCOPY_LISTEN",
			         i);
	PEER_LOG(t->fx, "s1 tap: postcopy ended: reading again");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        TAP_TEST(test_log_split),
	        TAP_TEST(test_log_packed),
	        TAP_TEST(test_addr_moved),
	        TAP_TEST(test_inband_kick),
	        TAP_TEST(test_skip_drain),
	        TAP_TEST(test_postcopy),
	        TAP_TEST(test_postcopy_mem_slots),
	        TAP_TEST(test_postcopy_device_moved_on),
	        TAP_TEST(test_postcopy_ring_wrapped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
