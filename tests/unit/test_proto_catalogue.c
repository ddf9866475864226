/* Unit tests for src/proto/catalogue.c (and the feature names of
 * fields.c): the catalogue against the spec tables of PROTOCOL.md 2a/2b
 * and QEMU docs/interop/vhost-user.rst (gates, payload layouts and their
 * fields, reply sizes), lookups by code, name, prefix and alias, and name
 * uniqueness. */
#include <errno.h>
#include <stdio.h>
#include <strings.h>

#include "unit.h"

/* ---- the spec, as test data ----
 *
 * Written down from the spec, not from catalogue.c.  Per request: the
 * reply rule, fds and request sizes (PROTOCOL.md 2a and 2b); the protocol
 * feature that gates it; the payload layout of the request and of its
 * reply; the reply's size bounds.  Sizes are x86_64 wire sizes. */

struct spec_row {
	uint32_t code;
	const char *name;
	enum vup_reply_rule reply;
	enum vup_fd_rule req_fds, rep_fds;
	uint16_t req_min, req_max;
	int8_t gate; /* protocol feature bit, NOG for none */
	enum vup_layout req_layout, rep_layout;
	uint16_t rep_min, rep_max;
};

#define ACK    VUP_REPLY_ACK
#define ALW    VUP_REPLY_ALWAYS
#define FEAT   VUP_REPLY_FEATURE
#define PCOPY  VUP_REPLY_POSTCOPY
#define ACKANY VUP_REPLY_ACK_ANY
#define NO     VUP_FD_NONE
#define ONE    VUP_FD_ONE
#define OPT    VUP_FD_OPTIONAL
#define VRING  VUP_FD_VRING
#define PERR   VUP_FD_PER_REGION
#define L(x)   VUP_L_##x
/* The reply of a request answered only on NEED_REPLY (REPLY_ACK): a u64,
 * zero for success. */
#define ACKED L(ACK), 8, 8

/* The protocol feature bits, numbered as the spec numbers them. */
enum {
	NOG = -1,
	PF_MQ = 0,
	PF_LOG_SHMFD = 1,
	PF_RARP = 2,
	PF_NET_MTU = 4,
	PF_BACKEND_REQ = 5,
	PF_CROSS_ENDIAN = 6,
	PF_CRYPTO_SESSION = 7,
	PF_PAGEFAULT = 8,
	PF_CONFIG = 9,
	PF_HOST_NOTIFIER = 11,
	PF_INFLIGHT_SHMFD = 12,
	PF_RESET_DEVICE = 13,
	PF_INBAND = 14,    /* INBAND_NOTIFICATIONS */
	PF_MEM_SLOTS = 15, /* CONFIGURE_MEM_SLOTS */
	PF_STATUS = 16,
	PF_XEN_MMAP = 17,
	PF_SHARED_OBJECT = 18,
	PF_DEVICE_STATE = 19,
	PF_SHMEM = 22,
	PF_SKIP_DRAIN = 23, /* GET_VRING_BASE_SKIP_DRAIN */
};

/* 32 regions of 40 bytes (XEN_MMAP): the spec's baseline is 8, rust-vmm
 * peers take 32 (MAX_ATTACHED_FD_ENTRIES). */
#define MEM_TABLE_MAX (8 + 32 * 40)
/* rust-vmm: offset + size within 4 KiB of config space; the message
 * itself stays within the 4 KiB payload limit. */
#define CONFIG_MAX   VUP_MAX_PAYLOAD
#define SHMEM_CONFIG (8 + 256 * 8) /* u32 count, padding, 256 u64 sizes */

static const struct spec_row spec_main[] = {
        {1, "GET_FEATURES", ALW, NO, NO, 0, 0, NOG, L(NONE), L(FEATURES), 8, 8},
        {2, "SET_FEATURES", ACK, NO, NO, 8, 8, NOG, L(FEATURES), ACKED},
        {3, "SET_OWNER", ACK, NO, NO, 0, 0, NOG, L(NONE), ACKED},
        {4, "RESET_OWNER", ACK, NO, NO, 0, 0, NOG, L(NONE), ACKED},
        /* Answered (postcopy only) by the table with the back-end's
         * addresses, else by an ack. */
        {5, "SET_MEM_TABLE", PCOPY, PERR, NO, 8, MEM_TABLE_MAX, NOG,
         L(MEM_TABLE), L(MEM_TABLE), 8, MEM_TABLE_MAX},
        /* The spec gives no reply payload, yet one is owed under
         * LOG_SHMFD: empty (DPDK), an ack (libvhost-user) or the log
         * struct (rust-vmm back-ends).  Its text names a u64: crosvm's
         * front-end sends 8 bytes. */
        {6, "SET_LOG_BASE", FEAT, OPT, NO, 8, 16, NOG, L(LOG), L(U64), 0, 16},
        {7, "SET_LOG_FD", ACK, ONE, NO, 0, 8, NOG, L(NONE), ACKED},
        {8, "SET_VRING_NUM", ACK, NO, NO, 8, 8, NOG, L(VRING_STATE), ACKED},
        {9, "SET_VRING_ADDR", ACK, NO, NO, 40, 40, NOG, L(VRING_ADDR), ACKED},
        {10, "SET_VRING_BASE", ACK, NO, NO, 8, 8, NOG, L(VRING_BASE), ACKED},
        {11, "GET_VRING_BASE", ALW, NO, NO, 8, 8, NOG, L(VRING_STATE),
         L(VRING_BASE), 8, 8},
        {12, "SET_VRING_KICK", ACK, VRING, NO, 8, 8, NOG, L(VRING_FD), ACKED},
        {13, "SET_VRING_CALL", ACK, VRING, NO, 8, 8, NOG, L(VRING_FD), ACKED},
        {14, "SET_VRING_ERR", ACK, VRING, NO, 8, 8, NOG, L(VRING_FD), ACKED},
        /* Legal with the device feature F_PROTOCOL_FEATURES (bit 30),
         * which is no protocol feature. */
        {15, "GET_PROTOCOL_FEATURES", ALW, NO, NO, 0, 0, NOG, L(NONE),
         L(PROTOCOL_FEATURES), 8, 8},
        {16, "SET_PROTOCOL_FEATURES", ACK, NO, NO, 8, 8, NOG,
         L(PROTOCOL_FEATURES), ACKED},
        {17, "GET_QUEUE_NUM", ALW, NO, NO, 0, 0, PF_MQ, L(NONE), L(U64), 8, 8},
        /* A vring state whose num is the enable flag. */
        {18, "SET_VRING_ENABLE", ACK, NO, NO, 8, 8, NOG, L(VRING_ENABLE),
         ACKED},
        /* A u64 whose first 6 bytes are the guest's MAC. */
        {19, "SEND_RARP", ACK, NO, NO, 8, 8, PF_RARP, L(MAC), ACKED},
        {20, "NET_SET_MTU", ACK, NO, NO, 8, 8, PF_NET_MTU, L(U64), ACKED},
        {21, "SET_BACKEND_REQ_FD", ACK, ONE, NO, 0, 0, PF_BACKEND_REQ, L(NONE),
         ACKED},
        /* Gated by VIRTIO_F_IOMMU_PLATFORM, a device feature.  "The
         * back-end has to acknowledge the request": DPDK does only on
         * NEED_REPLY. */
        {22, "IOTLB_MSG", ACKANY, NO, NO, 32, 32, NOG, L(IOTLB), ACKED},
        {23, "SET_VRING_ENDIAN", ACK, NO, NO, 8, 8, PF_CROSS_ENDIAN,
         L(VRING_STATE), ACKED},
        /* An empty reply reports an error. */
        {24, "GET_CONFIG", ALW, NO, NO, 12, CONFIG_MAX, PF_CONFIG, L(CONFIG),
         L(CONFIG), 0, CONFIG_MAX},
        {25, "SET_CONFIG", ACK, NO, NO, 12, CONFIG_MAX, PF_CONFIG, L(CONFIG),
         ACKED},
        /* The spec does not lay out the crypto session description. */
        {26, "CREATE_CRYPTO_SESSION", ALW, NO, NO, 0, VUP_MAX_PAYLOAD,
         PF_CRYPTO_SESSION, L(OPAQUE), L(OPAQUE), 0, VUP_MAX_PAYLOAD},
        {27, "CLOSE_CRYPTO_SESSION", ACK, NO, NO, 8, 8, PF_CRYPTO_SESSION,
         L(U64), ACKED},
        /* The reply is the userfaultfd alone: no payload bytes. */
        {28, "POSTCOPY_ADVISE", ALW, NO, OPT, 0, 0, PF_PAGEFAULT, L(NONE),
         L(NONE), 0, 0},
        {29, "POSTCOPY_LISTEN", ACK, NO, NO, 0, 0, PF_PAGEFAULT, L(NONE),
         ACKED},
        {30, "POSTCOPY_END", ALW, NO, NO, 0, 0, PF_PAGEFAULT, L(NONE), L(U64),
         8, 8},
        /* Two u64 and two u16: 20 bytes, 24 with the struct's padding. */
        {31, "GET_INFLIGHT_FD", ALW, NO, OPT, 24, 24, PF_INFLIGHT_SHMFD,
         L(INFLIGHT), L(INFLIGHT), 24, 24},
        {32, "SET_INFLIGHT_FD", ACK, ONE, NO, 24, 24, PF_INFLIGHT_SHMFD,
         L(INFLIGHT), ACKED},
        {33, "GPU_SET_SOCKET", ACK, ONE, NO, 0, 0, NOG, L(NONE), ACKED},
        {34, "RESET_DEVICE", ACK, NO, NO, 0, 0, PF_RESET_DEVICE, L(NONE),
         ACKED},
        {35, "VRING_KICK", ACK, NO, NO, 8, 8, PF_INBAND, L(VRING_STATE), ACKED},
        {36, "GET_MAX_MEM_SLOTS", ALW, NO, NO, 0, 0, PF_MEM_SLOTS, L(NONE),
         L(U64), 8, 8},
        /* One region after 8 bytes of padding: 40 bytes, 48 with
         * XEN_MMAP; echoed in postcopy, else acked.  In postcopy QEMU
         * acknowledges the echo with an 8-byte ADD_MEM_REG. */
        {37, "ADD_MEM_REG", PCOPY, ONE, NO, 8, 48, PF_MEM_SLOTS, L(MEM_REG),
         L(MEM_REG), 8, 48},
        {38, "REM_MEM_REG", ACK, OPT, NO, 40, 48, PF_MEM_SLOTS, L(MEM_REG),
         ACKED},
        {39, "SET_STATUS", ACK, NO, NO, 8, 8, PF_STATUS, L(STATUS), ACKED},
        {40, "GET_STATUS", ALW, NO, NO, 0, 0, PF_STATUS, L(NONE), L(STATUS), 8,
         8},
        /* The reply is the dma-buf fd alone: no payload bytes. */
        /* QEMU sends it without its UUID. */
        {41, "GET_SHARED_OBJECT", ALW, NO, OPT, 0, 16, PF_SHARED_OBJECT,
         L(UUID), L(NONE), 0, 0},
        {42, "SET_DEVICE_STATE_FD", ALW, ONE, OPT, 8, 8, PF_DEVICE_STATE,
         L(DEVICE_STATE), L(U64), 8, 8},
        {43, "CHECK_DEVICE_STATE", ALW, NO, NO, 0, 0, PF_DEVICE_STATE, L(NONE),
         L(U64), 8, 8},
        {44, "GET_SHMEM_CONFIG", ALW, NO, NO, 0, 0, PF_SHMEM, L(NONE),
         L(SHMEM_CONFIG), SHMEM_CONFIG, SHMEM_CONFIG},
        /* GET_VRING_BASE's payloads. */
        {45, "GET_VRING_BASE_SKIP_DRAIN", ALW, NO, NO, 8, 8, PF_SKIP_DRAIN,
         L(VRING_STATE), L(VRING_BASE), 8, 8},
};

static const struct spec_row spec_backend[] = {
        /* Gated by VIRTIO_F_IOMMU_PLATFORM, a device feature. */
        {1, "BACKEND_IOTLB_MSG", ACK, NO, NO, 32, 32, NOG, L(IOTLB), ACKED},
        {2, "BACKEND_CONFIG_CHANGE_MSG", ACK, NO, NO, 0, 0, PF_CONFIG, L(NONE),
         ACKED},
        /* The vring area: a u64 with the index and NOFD, size, offset. */
        {3, "BACKEND_VRING_HOST_NOTIFIER_MSG", ACK, VRING, NO, 24, 24,
         PF_HOST_NOTIFIER, L(HOST_NOTIFIER), ACKED},
        {4, "BACKEND_VRING_CALL", ACK, NO, NO, 8, 8, PF_INBAND, L(VRING_STATE),
         ACKED},
        {5, "BACKEND_VRING_ERR", ACK, NO, NO, 8, 8, PF_INBAND, L(VRING_STATE),
         ACKED},
        {6, "BACKEND_SHARED_OBJECT_ADD", ACK, NO, NO, 16, 16, PF_SHARED_OBJECT,
         L(UUID), ACKED},
        {7, "BACKEND_SHARED_OBJECT_REMOVE", ACK, NO, NO, 16, 16,
         PF_SHARED_OBJECT, L(UUID), ACKED},
        /* Answered by the dma-buf fd and a u64 status. */
        {8, "BACKEND_SHARED_OBJECT_LOOKUP", ALW, NO, OPT, 16, 16,
         PF_SHARED_OBJECT, L(UUID), L(U64), 8, 8},
        /* The MMAP request: u8 shmid, 7 bytes of padding, four u64. */
        {9, "BACKEND_SHMEM_MAP", ACK, ONE, NO, 40, 40, PF_SHMEM, L(SHMEM_MAP),
         ACKED},
        {10, "BACKEND_SHMEM_UNMAP", ACK, NO, NO, 40, 40, PF_SHMEM, L(SHMEM_MAP),
         ACKED},
};

/* Requests answered with a body only once a protocol feature is
 * negotiated (VUP_REPLY_FEATURE), and that feature. */
static const struct {
	const char *name;
	int8_t bit;
} spec_reply_gates[] = {
        {"SET_LOG_BASE", PF_LOG_SHMFD},
};

/* The fixed fields of each layout: offset, size and bit-field from the
 * spec's payload descriptions, under vuproxy's names for them (the names
 * rules and the dissector use).  In layout order; NONE and OPAQUE have
 * none. */
struct spec_field {
	enum vup_layout layout;
	const char *name;
	uint16_t off;
	uint8_t size, shift, bits;
};

static const struct spec_field spec_fields[] = {
        {L(U64), "value", 0, 8, 0, 0},
        {L(ACK), "ack", 0, 8, 0, 0},
        {L(FEATURES), "features", 0, 8, 0, 0},
        {L(PROTOCOL_FEATURES), "features", 0, 8, 0, 0},
        /* vring state: u32 index, u32 num */
        {L(VRING_STATE), "index", 0, 4, 0, 0},
        {L(VRING_STATE), "num", 4, 4, 0, 0},
        /* split ring: vring index, then the next avail index */
        {L(VRING_BASE), "index", 0, 4, 0, 0},
        {L(VRING_BASE), "num", 4, 4, 0, 0},
        /* packed ring: avail idx bits 0-14, wrap 15; used 16-30, wrap 31 */
        {L(VRING_BASE_PACKED), "index", 0, 4, 0, 0},
        {L(VRING_BASE_PACKED), "avail_idx", 4, 4, 0, 15},
        {L(VRING_BASE_PACKED), "avail_wrap", 4, 4, 15, 1},
        {L(VRING_BASE_PACKED), "used_idx", 4, 4, 16, 15},
        {L(VRING_BASE_PACKED), "used_wrap", 4, 4, 31, 1},
        {L(VRING_ENABLE), "index", 0, 4, 0, 0},
        {L(VRING_ENABLE), "enable", 4, 4, 0, 0},
        /* u32 index, u32 flags, then descriptor, used, available, log */
        {L(VRING_ADDR), "index", 0, 4, 0, 0},
        {L(VRING_ADDR), "flags", 4, 4, 0, 0},
        {L(VRING_ADDR), "desc", 8, 8, 0, 0},
        {L(VRING_ADDR), "used", 16, 8, 0, 0},
        {L(VRING_ADDR), "avail", 24, 8, 0, 0},
        {L(VRING_ADDR), "log", 32, 8, 0, 0},
        /* a u64: vring index in bits 0-7, invalid-fd flag in bit 8 */
        {L(VRING_FD), "index", 0, 8, 0, 8},
        {L(VRING_FD), "nofd", 0, 8, 8, 1},
        /* u32 region count, u32 padding, then the regions */
        {L(MEM_TABLE), "nregions", 0, 4, 0, 0},
        /* 8 bytes of padding, then one region */
        {L(MEM_REG), "gpa", 8, 8, 0, 0},
        {L(MEM_REG), "size", 16, 8, 0, 0},
        {L(MEM_REG), "uaddr", 24, 8, 0, 0},
        {L(MEM_REG), "mmap_offset", 32, 8, 0, 0},
        {L(LOG), "mmap_size", 0, 8, 0, 0},
        {L(LOG), "mmap_offset", 8, 8, 0, 0},
        /* iova, size, user address, u8 permissions, u8 type */
        {L(IOTLB), "iova", 0, 8, 0, 0},
        {L(IOTLB), "size", 8, 8, 0, 0},
        {L(IOTLB), "uaddr", 16, 8, 0, 0},
        {L(IOTLB), "perm", 24, 1, 0, 0},
        {L(IOTLB), "type", 25, 1, 0, 0},
        /* u32 offset, u32 size, u32 flags, then the bytes */
        {L(CONFIG), "offset", 0, 4, 0, 0},
        {L(CONFIG), "size", 4, 4, 0, 0},
        {L(CONFIG), "flags", 8, 4, 0, 0},
        {L(INFLIGHT), "mmap_size", 0, 8, 0, 0},
        {L(INFLIGHT), "mmap_offset", 8, 8, 0, 0},
        {L(INFLIGHT), "num_queues", 16, 2, 0, 0},
        {L(INFLIGHT), "queue_size", 18, 2, 0, 0},
        {L(STATUS), "status", 0, 8, 0, 0},
        {L(MAC), "mac", 0, 6, 0, 0},
        {L(UUID), "uuid", 0, 16, 0, 0},
        /* u32 transfer direction, u32 migration phase */
        {L(DEVICE_STATE), "direction", 0, 4, 0, 0},
        {L(DEVICE_STATE), "phase", 4, 4, 0, 0},
        {L(SHMEM_CONFIG), "nregions", 0, 4, 0, 0},
        /* vring area: the u64 as SET_VRING_KICK's, size, offset */
        {L(HOST_NOTIFIER), "index", 0, 8, 0, 8},
        {L(HOST_NOTIFIER), "nofd", 0, 8, 8, 1},
        {L(HOST_NOTIFIER), "size", 8, 8, 0, 0},
        {L(HOST_NOTIFIER), "offset", 16, 8, 0, 0},
        {L(SHMEM_MAP), "shmid", 0, 1, 0, 0},
        {L(SHMEM_MAP), "fd_offset", 8, 8, 0, 0},
        {L(SHMEM_MAP), "shm_offset", 16, 8, 0, 0},
        {L(SHMEM_MAP), "len", 24, 8, 0, 0},
        {L(SHMEM_MAP), "flags", 32, 8, 0, 0},
};

/* Where catalogue.c is more lenient than the spec, on purpose: these
 * replies are shorter or wider than the spec allows, but a relay that
 * closed the session for them would break a peer the receiver may well
 * accept (vuproxy refuses only what it cannot relay safely; the receiver
 * judges the rest).  The catalogue's value is accepted in place of the
 * spec's only here; an entry that no longer matches anything fails (drop
 * it when the catalogue changes).  code 0: every row of the channel the
 * catalogue answers with a REPLY_ACK u64. */
enum spec_col { COL_REP_LAYOUT, COL_REP_MIN, COL_REP_MAX };
static const char *const col_names[] = {"reply layout", "reply min size",
                                        "reply max size"};
struct deviation {
	enum vup_chan chan;
	uint32_t code;
	enum spec_col col;
	long catalogue;
};

static const struct deviation deviations[] = {
        /* The REPLY_ACK reply is a u64; the catalogue takes an empty
         * one too. */
        {VUP_CHAN_MAIN, 0, COL_REP_MIN, 0},
        {VUP_CHAN_BACKEND, 0, COL_REP_MIN, 0},
        /* Answered by a region table/description or an ack, never
         * empty; the catalogue takes an empty reply. */
        {VUP_CHAN_MAIN, 5, COL_REP_MIN, 0},
        {VUP_CHAN_MAIN, 37, COL_REP_MIN, 0},
        /* The reply is an fd and no payload; the catalogue also takes a
         * u64. */
        {VUP_CHAN_MAIN, 28, COL_REP_LAYOUT, VUP_L_U64},
        {VUP_CHAN_MAIN, 28, COL_REP_MAX, 8},
        {VUP_CHAN_MAIN, 41, COL_REP_LAYOUT, VUP_L_U64},
        {VUP_CHAN_MAIN, 41, COL_REP_MAX, 8},
        /* The size array has 256 entries; the catalogue takes one cut
         * after the count. */
        {VUP_CHAN_MAIN, 44, COL_REP_MIN, 8},
};

static void col_value(enum spec_col col, long v, char *buf, size_t len)
{
	if (col == COL_REP_LAYOUT)
		snprintf(buf, len, "%s", vup_layout_name((enum vup_layout)v));
	else
		snprintf(buf, len, "%ld", v);
}

/* The catalogue's value of a column against the spec's, or a listed
 * deviation (counted in used[]). */
static void expect_col(const struct vup_msg_type *t, enum spec_col col,
                       long got, long spec, unsigned *used)
{
	if (got == spec)
		return;
	for (size_t i = 0; i < COUNT(deviations); i++) {
		const struct deviation *d = &deviations[i];
		bool row = d->code == t->code ||
		           (d->code == 0 && (t->reply == VUP_REPLY_ACK ||
		                             t->reply == VUP_REPLY_ACK_ANY));
		if (d->chan == t->chan && row && d->col == col &&
		    d->catalogue == got) {
			used[i]++;
			return;
		}
	}
	char g[32], s[32];
	col_value(col, got, g, sizeof(g));
	col_value(col, spec, s, sizeof(s));
	fail_msg("%s %s: %s %s, spec %s", vup_chan_name(t->chan), t->name,
	         col_names[col], g, s);
}

static int8_t spec_reply_gate(const char *name)
{
	for (size_t i = 0; i < COUNT(spec_reply_gates); i++)
		if (strcmp(spec_reply_gates[i].name, name) == 0)
			return spec_reply_gates[i].bit;
	fail_msg("%s: a FEATURE reply rule without its feature", name);
	return NOG;
}

/* Where the fixed fields of a layout end (0 when it has none). */
static unsigned fields_end(enum vup_layout l)
{
	size_t n;
	const struct vup_field *f = vup_layout_fields(l, &n);
	unsigned end = 0;
	for (size_t i = 0; i < n; i++)
		if (f[i].off + f[i].size > end)
			end = f[i].off + f[i].size;
	return end;
}

static void check_against_spec(enum vup_chan chan, const struct spec_row *s,
                               size_t n)
{
	unsigned used[COUNT(deviations)] = {0};
	assert_int_equal(vup_proto_count(chan), n);
	assert_null(vup_proto_at(chan, n));
	for (size_t i = 0; i < n; i++) {
		const struct vup_msg_type *t =
		        vup_proto_lookup(chan, s[i].code);
		if (!t)
			fail_msg("%s code %u missing", vup_chan_name(chan),
			         s[i].code);
		assert_ptr_equal(t, vup_proto_at(chan, i));
		assert_int_equal(t->code, s[i].code);
		assert_int_equal(t->chan, chan);
		assert_string_equal(t->name, s[i].name);
		assert_string_equal(vup_proto_name(chan, s[i].code), s[i].name);
		if (t->reply != s[i].reply)
			fail_msg("%s: reply rule %d, spec %d", t->name,
			         t->reply, s[i].reply);
		if (t->req_fds != s[i].req_fds || t->rep_fds != s[i].rep_fds)
			fail_msg("%s: fd rules %d/%d, spec %d/%d", t->name,
			         t->req_fds, t->rep_fds, s[i].req_fds,
			         s[i].rep_fds);
		if (t->req_min != s[i].req_min || t->req_max != s[i].req_max)
			fail_msg("%s: request size %u..%u, spec %u..%u",
			         t->name, t->req_min, t->req_max, s[i].req_min,
			         s[i].req_max);
		/* The protocol feature that gates it, and the one that
		 * makes a reply owed. */
		if (t->gate != s[i].gate)
			fail_msg("%s: gate %d (%s), spec %d (%s)", t->name,
			         t->gate,
			         t->gate >= 0 ? vup_protocol_feature_name(
			                                (unsigned)t->gate)
			                      : "none",
			         s[i].gate,
			         s[i].gate >= 0 ? vup_protocol_feature_name(
			                                  (unsigned)s[i].gate)
			                        : "none");
		if (t->gate >= 0)
			assert_non_null(
			        vup_protocol_feature_name((unsigned)t->gate));
		int8_t rg = s[i].reply == FEAT ? spec_reply_gate(t->name) : NOG;
		if (t->reply_gate != rg)
			fail_msg("%s: reply gate %d, spec %d", t->name,
			         t->reply_gate, rg);
		/* The payload layouts. */
		if (t->req_layout != s[i].req_layout)
			fail_msg("%s: request layout %s, spec %s", t->name,
			         vup_layout_name(t->req_layout),
			         vup_layout_name(s[i].req_layout));
		expect_col(t, COL_REP_LAYOUT, t->rep_layout, s[i].rep_layout,
		           used);
		expect_col(t, COL_REP_MIN, t->rep_min, s[i].rep_min, used);
		expect_col(t, COL_REP_MAX, t->rep_max, s[i].rep_max, used);
		/* Bounds are sane and within the global limit. */
		assert_true(t->req_min <= t->req_max);
		assert_true(t->rep_min <= t->rep_max);
		assert_true(t->req_max <= VUP_MAX_PAYLOAD);
		assert_true(t->rep_max <= VUP_MAX_PAYLOAD);
		/* The smallest request, and the smallest reply body that is
		 * not an error or an ack, hold every fixed field, but where
		 * a real peer sends less (SET_LOG_BASE from crosvm: 8 bytes;
		 * GET_SHARED_OBJECT from QEMU: 0; QEMU's postcopy ack of
		 * ADD_MEM_REG: 8): readers then get the
		 * fields that are there and no more. */
		bool short_form = strcmp(t->name, "SET_LOG_BASE") == 0 ||
		                  strcmp(t->name, "GET_SHARED_OBJECT") == 0 ||
		                  strcmp(t->name, "ADD_MEM_REG") == 0;
		if (!short_form && fields_end(t->req_layout) > t->req_min)
			fail_msg("%s: %s fields end at %u, past the %u-byte "
			         "minimum",
			         t->name, vup_layout_name(t->req_layout),
			         fields_end(t->req_layout), t->req_min);
		if (t->reply != VUP_REPLY_ACK && t->rep_min > 0 &&
		    fields_end(t->rep_layout) > t->rep_min)
			fail_msg("%s: reply %s fields end at %u, past the "
			         "%u-byte minimum",
			         t->name, vup_layout_name(t->rep_layout),
			         fields_end(t->rep_layout), t->rep_min);
		/* An ACK-only request is answered by a u64 at most. */
		if (t->reply == VUP_REPLY_ACK) {
			assert_int_equal(t->rep_layout, VUP_L_ACK);
			assert_int_equal(t->rep_max, 8);
		}
	}
	for (size_t i = 0; i < COUNT(deviations); i++)
		if (deviations[i].chan == chan && !used[i])
			fail_msg("deviation %zu (%s code %u, %s) no longer "
			         "applies: remove it",
			         i, vup_chan_name(chan), deviations[i].code,
			         col_names[deviations[i].col]);
}

static void catalogue_main_matches_spec(void **state)
{
	(void)state;
	check_against_spec(VUP_CHAN_MAIN, spec_main, COUNT(spec_main));
}

static void catalogue_backend_matches_spec(void **state)
{
	(void)state;
	check_against_spec(VUP_CHAN_BACKEND, spec_backend, COUNT(spec_backend));
}

/* Each layout has exactly the spec's fields, in order. */
static void layouts_match_spec(void **state)
{
	(void)state;
	size_t k = 0;
	for (int l = 0; l < VUP_L_COUNT; l++) {
		size_t n;
		const struct vup_field *f = vup_layout_fields(l, &n);
		size_t i = 0;
		for (;
		     k < COUNT(spec_fields) && (int)spec_fields[k].layout == l;
		     k++, i++) {
			const struct spec_field *s = &spec_fields[k];
			if (i >= n)
				fail_msg("%s lacks field %s",
				         vup_layout_name(l), s->name);
			if (strcmp(f[i].name, s->name) != 0 ||
			    f[i].off != s->off || f[i].size != s->size ||
			    f[i].shift != s->shift || f[i].bits != s->bits)
				fail_msg("%s field %zu: %s at %u, %u bytes, "
				         "bits %u+%u; spec %s at %u, %u bytes, "
				         "bits %u+%u",
				         vup_layout_name(l), i, f[i].name,
				         f[i].off, f[i].size, f[i].shift,
				         f[i].bits, s->name, s->off, s->size,
				         s->shift, s->bits);
		}
		if (i != n)
			fail_msg("%s has %zu fields, spec %zu",
			         vup_layout_name(l), n, i);
	}
	/* Every spec row was consumed: the table is in layout order. */
	assert_int_equal(k, COUNT(spec_fields));

	/* A memory region: guest address, size, user address, mmap
	 * offset; 32 bytes, 40 with XEN_MMAP's flags and domid. */
	static const struct spec_field region[VUP_MEM_REGION_FIELDS] = {
	        {L(NONE), "gpa", 0, 8, 0, 0},
	        {L(NONE), "size", 8, 8, 0, 0},
	        {L(NONE), "uaddr", 16, 8, 0, 0},
	        {L(NONE), "mmap_offset", 24, 8, 0, 0},
	};
	for (size_t i = 0; i < VUP_MEM_REGION_FIELDS; i++) {
		const struct vup_field *f = &vup_mem_region_fields[i];
		assert_string_equal(f->name, region[i].name);
		assert_int_equal(f->off, region[i].off);
		assert_int_equal(f->size, region[i].size);
		assert_int_equal(f->bits, 0);
	}
	struct vup_negotiated neg = {0};
	assert_int_equal(vup_mem_region_size(NULL), 32);
	assert_int_equal(vup_mem_region_size(&neg), 32);
	neg.protocol_features = ~(UINT64_C(1) << PF_XEN_MMAP);
	assert_int_equal(vup_mem_region_size(&neg), 32);
	neg.protocol_features = UINT64_C(1) << PF_XEN_MMAP;
	assert_int_equal(vup_mem_region_size(&neg), 40);
}

/* Every name and alias, on both channels, is unique (case-insensitively)
 * and finds its own row. */
static void catalogue_names_unique(void **state)
{
	(void)state;
	const char *names[128];
	const struct vup_msg_type *rows[128];
	size_t n = 0;
	for (int ch = VUP_CHAN_MAIN; ch <= VUP_CHAN_BACKEND; ch++) {
		for (size_t i = 0; i < vup_proto_count(ch); i++) {
			const struct vup_msg_type *t = vup_proto_at(ch, i);
			assert_non_null(t->name);
			assert_true(strlen(t->name) > 0);
			assert_null(strchr(t->name, ' '));
			assert_true(strncmp(t->name, "VHOST_USER_", 11) != 0);
			names[n] = t->name;
			rows[n++] = t;
			if (t->alias) {
				names[n] = t->alias;
				rows[n++] = t;
			}
		}
	}
	assert_true(n > 55);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++)
			if (strcasecmp(names[i], names[j]) == 0)
				fail_msg("name %s appears twice", names[i]);
		assert_ptr_equal(vup_proto_by_name(names[i]), rows[i]);
	}
}

static void catalogue_by_name(void **state)
{
	(void)state;
	const struct vup_msg_type *t;
	t = vup_proto_by_name("GET_FEATURES");
	assert_non_null(t);
	assert_int_equal(t->code, 1);
	assert_int_equal(t->chan, VUP_CHAN_MAIN);
	assert_ptr_equal(vup_proto_by_name("get_features"), t);
	assert_ptr_equal(vup_proto_by_name("VHOST_USER_GET_FEATURES"), t);
	assert_ptr_equal(vup_proto_by_name("vhost_user_get_features"), t);

	t = vup_proto_by_name("SET_BACKEND_REQ_FD");
	assert_non_null(t);
	assert_int_equal(t->code, 21);
	assert_ptr_equal(vup_proto_by_name("SET_SLAVE_REQ_FD"), t);
	assert_ptr_equal(vup_proto_by_name("VHOST_USER_SET_SLAVE_REQ_FD"), t);
	assert_ptr_equal(vup_proto_by_name("set_slave_req_fd"), t);
	assert_string_equal(t->alias, "SET_SLAVE_REQ_FD");

	t = vup_proto_by_name("VHOST_USER_SLAVE_IOTLB_MSG");
	assert_non_null(t);
	assert_int_equal(t->chan, VUP_CHAN_BACKEND);
	assert_int_equal(t->code, 1);
	assert_ptr_equal(vup_proto_by_name("BACKEND_IOTLB_MSG"), t);
	/* The main-channel IOTLB_MSG is a different request. */
	t = vup_proto_by_name("IOTLB_MSG");
	assert_non_null(t);
	assert_int_equal(t->chan, VUP_CHAN_MAIN);
	assert_int_equal(t->code, 22);

	assert_null(vup_proto_by_name("NO_SUCH_REQUEST"));
	assert_null(vup_proto_by_name(""));
	assert_null(vup_proto_by_name("VHOST_USER_"));
	assert_null(vup_proto_by_name("GET_FEATURE"));
	assert_null(vup_proto_by_name("GET_FEATURESX"));
	assert_null(vup_proto_by_name(NULL));
}

static void catalogue_unknown_codes(void **state)
{
	(void)state;
	const uint32_t main_bad[] = {0, 46, 47, 100, 0x7fffffff, 0xffffffff};
	const uint32_t be_bad[] = {0, 11, 12, 46, 0xffffffff};
	for (size_t i = 0; i < COUNT(main_bad); i++) {
		assert_null(vup_proto_lookup(VUP_CHAN_MAIN, main_bad[i]));
		assert_string_equal(vup_proto_name(VUP_CHAN_MAIN, main_bad[i]),
		                    "UNKNOWN");
	}
	for (size_t i = 0; i < COUNT(be_bad); i++) {
		assert_null(vup_proto_lookup(VUP_CHAN_BACKEND, be_bad[i]));
		assert_string_equal(vup_proto_name(VUP_CHAN_BACKEND, be_bad[i]),
		                    "UNKNOWN");
	}
	/* The code spaces overlap: 1 means different things per channel. */
	assert_string_equal(vup_proto_name(VUP_CHAN_MAIN, 1), "GET_FEATURES");
	assert_string_equal(vup_proto_name(VUP_CHAN_BACKEND, 1),
	                    "BACKEND_IOTLB_MSG");
	assert_null(vup_proto_at(VUP_CHAN_MAIN, 1000));
}

static void names_of_enums(void **state)
{
	(void)state;
	assert_string_equal(vup_chan_name(VUP_CHAN_MAIN), "main");
	assert_string_equal(vup_chan_name(VUP_CHAN_BACKEND), "backend");
	assert_string_equal(vup_side_name(VUP_FRONTEND), "front-end");
	assert_string_equal(vup_side_name(VUP_BACKEND), "back-end");
	assert_string_equal(vup_layout_name(VUP_L_NONE), "none");
	assert_string_equal(vup_layout_name(VUP_L_VRING_ADDR), "vring_addr");
	assert_string_equal(vup_layout_name(VUP_L_OPAQUE), "opaque");
	assert_string_equal(vup_layout_name(VUP_L_COUNT), "?");
	assert_string_equal(vup_layout_name((enum vup_layout) - 1), "?");
	/* Layout names are unique. */
	for (int i = 0; i < VUP_L_COUNT; i++)
		for (int j = i + 1; j < VUP_L_COUNT; j++)
			assert_string_not_equal(vup_layout_name(i),
			                        vup_layout_name(j));
}

/* The codes vuproxy's logic names (enum vup_req) are the catalogue's. */
static void request_enum_matches_catalogue(void **state)
{
	(void)state;
	static const struct {
		enum vup_req code;
		const char *name;
	} rows[] = {
	        {VUP_REQ_GET_FEATURES, "GET_FEATURES"},
	        {VUP_REQ_SET_FEATURES, "SET_FEATURES"},
	        {VUP_REQ_SET_OWNER, "SET_OWNER"},
	        {VUP_REQ_GET_QUEUE_NUM, "GET_QUEUE_NUM"},
	        {VUP_REQ_GET_CONFIG, "GET_CONFIG"},
	        {VUP_REQ_GET_MAX_MEM_SLOTS, "GET_MAX_MEM_SLOTS"},
	        {VUP_REQ_SET_LOG_BASE, "SET_LOG_BASE"},
	        {VUP_REQ_SET_VRING_CALL, "SET_VRING_CALL"},
	        {VUP_REQ_SET_VRING_ERR, "SET_VRING_ERR"},
	        {VUP_REQ_GET_PROTOCOL_FEATURES, "GET_PROTOCOL_FEATURES"},
	        {VUP_REQ_RESET_OWNER, "RESET_OWNER"},
	        {VUP_REQ_SET_MEM_TABLE, "SET_MEM_TABLE"},
	        {VUP_REQ_SET_VRING_NUM, "SET_VRING_NUM"},
	        {VUP_REQ_SET_VRING_ADDR, "SET_VRING_ADDR"},
	        {VUP_REQ_SET_VRING_BASE, "SET_VRING_BASE"},
	        {VUP_REQ_GET_VRING_BASE, "GET_VRING_BASE"},
	        {VUP_REQ_SET_VRING_KICK, "SET_VRING_KICK"},
	        {VUP_REQ_SET_PROTOCOL_FEATURES, "SET_PROTOCOL_FEATURES"},
	        {VUP_REQ_SET_VRING_ENABLE, "SET_VRING_ENABLE"},
	        {VUP_REQ_SET_BACKEND_REQ_FD, "SET_BACKEND_REQ_FD"},
	        {VUP_REQ_POSTCOPY_LISTEN, "POSTCOPY_LISTEN"},
	        {VUP_REQ_POSTCOPY_END, "POSTCOPY_END"},
	        {VUP_REQ_RESET_DEVICE, "RESET_DEVICE"},
	        {VUP_REQ_VRING_KICK, "VRING_KICK"},
	        {VUP_REQ_ADD_MEM_REG, "ADD_MEM_REG"},
	        {VUP_REQ_REM_MEM_REG, "REM_MEM_REG"},
	        {VUP_REQ_SET_STATUS, "SET_STATUS"},
	        {VUP_REQ_SET_DEVICE_STATE_FD, "SET_DEVICE_STATE_FD"},
	        {VUP_REQ_GET_VRING_BASE_SKIP_DRAIN,
	         "GET_VRING_BASE_SKIP_DRAIN"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct vup_msg_type *t =
		        vup_proto_lookup(VUP_CHAN_MAIN, rows[i].code);
		assert_non_null(t);
		assert_string_equal(t->name, rows[i].name);
	}
}

static void feature_names(void **state)
{
	(void)state;
	bool proto = true;
	assert_string_equal(vup_feature_name(32), "VIRTIO_F_VERSION_1");
	assert_string_equal(vup_feature_name(30),
	                    "VHOST_USER_F_PROTOCOL_FEATURES");
	assert_string_equal(vup_feature_name(34), "VIRTIO_F_RING_PACKED");
	assert_null(vup_feature_name(64));
	assert_null(vup_feature_name(1000));
	assert_string_equal(vup_protocol_feature_name(3), "REPLY_ACK");
	assert_string_equal(vup_protocol_feature_name(17), "XEN_MMAP");
	assert_string_equal(vup_protocol_feature_name(23),
	                    "GET_VRING_BASE_SKIP_DRAIN");
	assert_null(vup_protocol_feature_name(24));
	assert_null(vup_protocol_feature_name(64));

	assert_int_equal(vup_feature_bit("VIRTIO_F_VERSION_1", &proto), 32);
	assert_false(proto);
	assert_int_equal(vup_feature_bit("virtio_f_ring_packed", &proto), 34);
	assert_false(proto);
	assert_int_equal(vup_feature_bit("VIRTIO_BLK_F_RO", &proto), 5);
	assert_false(proto);
	assert_int_equal(vup_feature_bit("REPLY_ACK", &proto), 3);
	assert_true(proto);
	proto = false;
	assert_int_equal(
	        vup_feature_bit("VHOST_USER_PROTOCOL_F_XEN_MMAP", &proto), 17);
	assert_true(proto);
	proto = false;
	assert_int_equal(vup_feature_bit("SLAVE_REQ", &proto), 5);
	assert_true(proto);
	assert_int_equal(vup_feature_bit("SLAVE_SEND_FD", &proto), 10);
	assert_int_equal(vup_feature_bit("BACKEND_SEND_FD", &proto), 10);
	assert_int_equal(vup_feature_bit("NO_SUCH_FEATURE", &proto), -1);
	assert_int_equal(vup_feature_bit("", &proto), -1);
	/* Every named bit maps back to its number. */
	for (unsigned b = 0; b < 64; b++) {
		const char *n = vup_feature_name(b);
		if (n) {
			assert_int_equal(vup_feature_bit(n, &proto), (int)b);
			assert_false(proto);
		}
		n = vup_protocol_feature_name(b);
		if (n) {
			assert_int_equal(vup_feature_bit(n, &proto), (int)b);
			assert_true(proto);
		}
	}
}

/* The historical protocol-feature names are accepted bare (SLAVE_REQ);
 * they must be in their full spec spelling too, like every other name
 * (VHOST_USER_PROTOCOL_F_SLAVE_REQ is what DPDK and QEMU headers used). */
static void feature_names_legacy_prefixed(void **state)
{
	(void)state;
	bool proto = false;
	assert_int_equal(
	        vup_feature_bit("VHOST_USER_PROTOCOL_F_BACKEND_REQ", &proto),
	        5);
	proto = false;
	assert_int_equal(
	        vup_feature_bit("VHOST_USER_PROTOCOL_F_SLAVE_REQ", &proto), 5);
	assert_true(proto);
	assert_int_equal(
	        vup_feature_bit("VHOST_USER_PROTOCOL_F_SLAVE_SEND_FD", &proto),
	        10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(catalogue_main_matches_spec),
	        cmocka_unit_test(catalogue_backend_matches_spec),
	        cmocka_unit_test(layouts_match_spec),
	        cmocka_unit_test(catalogue_names_unique),
	        cmocka_unit_test(catalogue_by_name),
	        cmocka_unit_test(catalogue_unknown_codes),
	        cmocka_unit_test(names_of_enums),
	        cmocka_unit_test(request_enum_matches_catalogue),
	        cmocka_unit_test(feature_names),
	        cmocka_unit_test(feature_names_legacy_prefixed),
	};
	return cmocka_run_group_tests_name("proto_catalogue", tests, NULL,
	                                   NULL);
}
