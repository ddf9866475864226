/* tap_world: what the tap's peer tests (test_tap_peers.c,
 * test_tap_migration.c) share.  They test the tap end to end, through the
 * real vuproxy binary, with our scripted peers (tests/peers) playing both
 * sides.
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
#ifndef VUP_TESTS_TAP_WORLD_H
#define VUP_TESTS_TAP_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#define TX "s1 net q1 tx"
#define RX "s1 net q0 rx"

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

struct seg {
	uint64_t addr;
	uint32_t len;
	uint16_t flags; /* D_WRITE, D_INDIRECT */
};

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

void put16(uint8_t *p, uint16_t v);

void put32(uint8_t *p, uint32_t v);

void put64(uint8_t *p, uint64_t v);

uint32_t min32(uint32_t a, uint32_t b);

/* A memfd of file_size bytes for a region of size bytes (they differ
 * only in the short-memfd test), mapped for the front-end. */
void region_new(struct region *r, uint64_t gpa, uint64_t size, uint64_t uaddr,
                uint64_t file_size);

/* Where gpa lies in one side's maps: a pointer and how many bytes follow
 * it in that region. */
uint8_t *gpa_ptr(struct guest *g, bool be, uint64_t gpa, size_t *room);

/* Copy into guest memory, piecewise across regions. */
void gwrite(struct guest *g, bool be, uint64_t gpa, const void *src,
            size_t len);

/* A 16-bit ring index or flags word, published after what it covers. */
void gstore16(struct guest *g, bool be, uint64_t gpa, uint16_t v);

/* An Ethernet frame of len bytes, different for each seed. */
void make_frame(uint8_t *f, uint32_t len, unsigned seed);

/* A virtio-net header: zero, with num_buffers (RX) set. */
void net_hdr(uint8_t h[NETHDR], uint16_t num_buffers);

void relay(struct tt *t, const char *req, const void *payload, uint32_t size,
           const int *fds, unsigned nfds);

void set_features(struct tt *t, uint64_t features);

uint32_t mem_table_payload(const struct guest *g, uint8_t *p);

/* SET_MEM_TABLE with the regions' fds: the back-end must get the same
 * bytes and the same files, and maps them (unless map is false: a region
 * longer than its file would fault). */
void set_mem_table(struct tt *t, bool map);

void vring_state(struct tt *t, const char *req, unsigned index, uint32_t num);

void vring_fd(struct tt *t, const char *req, unsigned index, int fd);

/* SET_VRING_ADDR of q with flags (bit 0, VHOST_VRING_F_LOG: the used
 * ring's gpa as log address). */
void vring_addr(struct tt *t, struct vq *q, uint32_t flags);

/* The set-up messages of a queue as QEMU sends them: NUM, BASE, ADDR,
 * KICK, CALL (, ENABLE); base is where the rings resume. */
void send_queue_setup(struct tt *t, struct vq *q, uint32_t base);

/* Queue `index`: rings laid out (zeroed) in region 0, no message sent. */
struct vq *lay_out_queue(struct tt *t, unsigned index);

/* Queue `index`: rings laid out (zeroed) in region 0 and set up through
 * vuproxy from the start. */
struct vq *setup_queue(struct tt *t, unsigned index);

/* GET_VRING_BASE: the back-end answers where it stopped; vuproxy stops
 * reading the queue after a last read. */
void get_vring_base(struct tt *t, struct vq *q);

/* Until a tap poll that started after our last write has finished (see
 * the comment at the top). */
void tap_sync(struct tt *t);

void sdesc(struct tt *t, struct vq *q, uint64_t table, unsigned i,
           uint64_t addr, uint32_t len, uint16_t flags, uint16_t next);

/* The front-end offers heads: avail entries, then the index. */
void split_offer(struct tt *t, struct vq *q, const uint16_t *heads, unsigned n);

/* The device's used entry (not yet published). */
void split_used_entry(struct tt *t, struct vq *q, uint16_t id, uint32_t len);

void split_use(struct tt *t, struct vq *q, uint16_t id, uint32_t len);

/* A TX buffer at descriptor d: header and frame in one descriptor, or in
 * two (d, d + 1). */
void split_tx(struct tt *t, struct vq *q, uint16_t d, const uint8_t *frame,
              uint32_t len, bool two);

/* The device writes a received frame (with its header) at gpa. */
void device_rx(struct tt *t, uint64_t gpa, const uint8_t *frame, uint32_t len,
               uint16_t num_buffers);

/* The driver offers a chain as buffer id: every descriptor but the head's
 * flags, then the head's flags. */
void packed_offer(struct tt *t, struct vq *q, const struct seg *s, unsigned n,
                  uint16_t id);

/* The device marks buffer id used: one used descriptor, then it skips the
 * chain's ndesc slots. */
void packed_use(struct tt *t, struct vq *q, uint16_t id, uint32_t len,
                unsigned ndesc);

/* Start vuproxy with --tap kind (and option `opt` unless NULL), connect
 * a session and send the features. */
struct tt *start_opt(void **state, const char *kind, const char *snap,
                     uint64_t features, const char *opt);

/* Start vuproxy with exactly these extra arguments (no --tap, no -w
 * unless given; set t->trace to read a file back), connect a session
 * and send the features. */
struct tt *start_args(void **state, uint64_t features,
                      const char *const *extra);

struct tt *start(void **state, const char *kind, const char *snap,
                 uint64_t features);

/* One region of 256 KiB at gpa 0 (file_size: its memfd's length). */
void guest_one(struct tt *t, uint64_t file_size);

bool alive(struct tt *t);

/* SIGINT, as a user stops it: exit status 0 and its summary lines. */
void stop(struct tt *t);

/* The per-queue line vuproxy logs at the end of the session, exactly:
 * "s1 tap qN: consumed N, captured N[ (N unverified)], missed N, torn N,
 * malformed N" and " (last malformed: WHY)" when why is set. */
void expect_counts_unv(struct tt *t, unsigned q, unsigned consumed,
                       unsigned captured, unsigned unverified, unsigned missed,
                       unsigned torn, unsigned malformed, const char *why);

/* The same with every capture verified. */
void expect_counts(struct tt *t, unsigned q, unsigned consumed,
                   unsigned captured, unsigned missed, unsigned torn,
                   unsigned malformed, const char *why);

struct trace *read_trace(struct tt *t);

/* The packets of one interface, in order. */
unsigned on_iface(struct trace *tr, const char *ifname, struct rec **out,
                  unsigned max);

/* The last statistics of an interface must say exactly this. */
void expect_isb(struct trace *tr, const char *ifname, unsigned consumed,
                unsigned captured, unsigned missed, unsigned torn,
                unsigned malformed);

void expect_frame(const struct rec *r, const char *ifname, uint32_t dir,
                  const uint8_t *frame, uint32_t len);

/* vuproxy's summary at exit.  Between "captured" and "missed" it may say
 * more (how many copies were kept unverified): not checked here. */
void expect_summary(struct tt *t, unsigned queues, unsigned consumed,
                    unsigned captured, unsigned missed, unsigned torn,
                    unsigned malformed);

/* Vring `index` of `vuproxy ctl CTL show 1 --json`: true and its live
 * indices, or false and why they are missing (live_missing) in why. */
bool show_live(const char *ctl, unsigned index, int64_t *avail, int64_t *used,
               char *why, size_t whylen);

/* The fixture's teardown: the test's fds and guest memory, then
 * peer_teardown. */
int tt_teardown(void **state);

#define TAP_TEST(f) cmocka_unit_test_setup_teardown(f, peer_setup, tt_teardown)

#endif
