/* test_tap_peers: the tap end to end, through the real vuproxy binary,
 * with our scripted peers (tests/peers) playing both sides (tap_world.h):
 * split and packed net, merged RX, restart, torn, malformed, indirect,
 * two regions, memory table changes, ACCESS_PLATFORM, a short region fd,
 * a cut memory file, blk.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tap_world.h"

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

/* A buffer the device used before the tap saw it available: with
 * --tap-strict it counts torn and is not recorded; by default (and with
 * --tap-unverified, which changes nothing) its copy is kept, counted
 * unverified.  Buffers before and after it are captured verified either
 * way. */
static void torn_case(void **state, const char *opt)
{
	bool strict = opt && strcmp(opt, "--tap-strict") == 0;
	struct tt *t = start_opt(state, "net", "128", NET_FEATURES, opt);
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
	 * preempted right there, could make it verified.) */
	split_used_entry(t, tx, 1, 0);
	split_offer(t, tx, (const uint16_t[]){1}, 1);
	gstore16(&t->g, true, tx->used + 2, tx->used_idx);
	tap_sync(t);

	split_offer(t, tx, (const uint16_t[]){2}, 1);
	tap_sync(t);
	split_use(t, tx, 2, 0);
	get_vring_base(t, tx);
	stop(t);

	struct trace *tr;
	struct rec *p[8];
	if (strict) {
		expect_counts(t, 1, 3, 2, 0, 1, 0, NULL);
		expect_summary(t, 1, 3, 2, 0, 1, 0);
		PEER_LOG(t->fx, "vuproxy: tap: ", " captured (strict), ");
		tr = read_trace(t);
		assert_int_equal(on_iface(tr, TX, p, 8), 2);
		expect_frame(p[0], TX, PCAPNG_DIR_OUTBOUND, f[0], 100);
		expect_frame(p[1], TX, PCAPNG_DIR_OUTBOUND, f[2], 100);
		expect_isb(tr, TX, 3, 2, 0, 1, 0);
		return;
	}
	expect_counts_unv(t, 1, 3, 3, 1, 0, 0, 0, NULL);
	expect_summary(t, 1, 3, 3, 0, 0, 0);
	PEER_LOG(t->fx, "vuproxy: tap: ", " 3 captured (1 unverified), ");
	tr = read_trace(t);
	assert_int_equal(on_iface(tr, TX, p, 8), 3);
	for (unsigned i = 0; i < 3; i++)
		expect_frame(p[i], TX, PCAPNG_DIR_OUTBOUND, f[i], 100);
	expect_isb(tr, TX, 3, 3, 0, 0, 0);
}

static void test_torn_strict(void **state)
{
	torn_case(state, "--tap-strict");
}

static void test_torn_kept(void **state)
{
	torn_case(state, NULL);
}

static void test_torn_kept_old_flag(void **state)
{
	torn_case(state, "--tap-unverified");
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
	        TAP_TEST(test_torn_strict),
	        TAP_TEST(test_torn_kept),
	        TAP_TEST(test_torn_kept_old_flag),
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
