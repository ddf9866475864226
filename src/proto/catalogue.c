/* The catalogue: every request of the vhost-user spec, both channels.
 *
 * Sources: QEMU docs/interop/vhost-user.rst (front-end requests 1..45,
 * back-end requests 1..10), checked against DPDK lib/vhost, libvhost-user
 * and rust-vmm.  Payload sizes are x86_64 wire sizes.  Adding a request is
 * one row here; everything else (validator, log, dump, rules, dissector)
 * follows.
 */
#include <stddef.h>
#include <strings.h>

#include "vuproxy/proto.h"

/* Gates: the protocol feature (bits.h) that enables a request. */
#define G_NONE (-1)
#define G(pf)  VUP_PF_##pf

/* Region descriptors are 32 bytes, 40 with XEN_MMAP; at most 32 in a
 * table.  A config message is 12 bytes and the config bytes, within the
 * payload limit. */
#define MEM_TABLE_MAX (8 + VUP_MEM_TABLE_MAX_REGIONS * 40)
#define CONFIG_MAX    VUP_MAX_PAYLOAD

#define ROW(c, ch, nm, al, rl, rmin, rmax, rf, rep, pl, pmin, pmax, pf, g, rg) \
	{                                                                      \
		.code = c, .name = nm, .alias = al, .chan = ch,                \
		.req_layout = VUP_L_##rl, .req_min = rmin, .req_max = rmax,    \
		.req_fds = VUP_FD_##rf, .reply = VUP_REPLY_##rep,              \
		.rep_layout = VUP_L_##pl, .rep_min = pmin, .rep_max = pmax,    \
		.rep_fds = VUP_FD_##pf, .gate = g, .reply_gate = rg            \
	}

/* Front-end requests: ACK-rule rows answer with a u64 only on NEED_REPLY. */
#define FE(c, nm, al, rl, rmin, rmax, rf, rep, pl, pmin, pmax, pf, g)          \
	ROW(c, VUP_CHAN_MAIN, nm, al, rl, rmin, rmax, rf, rep, pl, pmin, pmax, \
	    pf, g, G_NONE)
#define FE_ACK(c, nm, al, rl, rmin, rmax, rf, g)                               \
	FE(c, nm, al, rl, rmin, rmax, rf, ACK, ACK, 0, 8, NONE, g)

static const struct vup_msg_type main_requests[] = {
        FE(1, "GET_FEATURES", NULL, NONE, 0, 0, NONE, ALWAYS, FEATURES, 8, 8,
           NONE, G_NONE),
        FE_ACK(2, "SET_FEATURES", NULL, FEATURES, 8, 8, NONE, G_NONE),
        FE_ACK(3, "SET_OWNER", NULL, NONE, 0, 0, NONE, G_NONE),
        FE_ACK(4, "RESET_OWNER", NULL, NONE, 0, 0, NONE, G_NONE),
        /* In postcopy the back-end echoes the table with its own addresses. */
        FE(5, "SET_MEM_TABLE", NULL, MEM_TABLE, 8, MEM_TABLE_MAX, PER_REGION,
           POSTCOPY, MEM_TABLE, 0, MEM_TABLE_MAX, NONE, G_NONE),
        /* The log fd comes with LOG_SHMFD, and then a reply always follows
         * (DPDK answers with size 0, libvhost-user with a u64, rust-vmm
         * back-ends with the 16-byte log struct).  crosvm's front-end
         * sends only the u64 the spec's text names. */
        ROW(6, VUP_CHAN_MAIN, "SET_LOG_BASE", NULL, LOG, 8, 16, OPTIONAL,
            FEATURE, U64, 0, 16, NONE, G_NONE, G(LOG_SHMFD)),
        FE_ACK(7, "SET_LOG_FD", NULL, NONE, 0, 8, ONE, G_NONE),
        FE_ACK(8, "SET_VRING_NUM", NULL, VRING_STATE, 8, 8, NONE, G_NONE),
        FE_ACK(9, "SET_VRING_ADDR", NULL, VRING_ADDR, 40, 40, NONE, G_NONE),
        FE_ACK(10, "SET_VRING_BASE", NULL, VRING_BASE, 8, 8, NONE, G_NONE),
        FE(11, "GET_VRING_BASE", NULL, VRING_STATE, 8, 8, NONE, ALWAYS,
           VRING_BASE, 8, 8, NONE, G_NONE),
        FE_ACK(12, "SET_VRING_KICK", NULL, VRING_FD, 8, 8, VRING, G_NONE),
        FE_ACK(13, "SET_VRING_CALL", NULL, VRING_FD, 8, 8, VRING, G_NONE),
        FE_ACK(14, "SET_VRING_ERR", NULL, VRING_FD, 8, 8, VRING, G_NONE),
        FE(15, "GET_PROTOCOL_FEATURES", NULL, NONE, 0, 0, NONE, ALWAYS,
           PROTOCOL_FEATURES, 8, 8, NONE, G_NONE),
        FE_ACK(16, "SET_PROTOCOL_FEATURES", NULL, PROTOCOL_FEATURES, 8, 8, NONE,
               G_NONE),
        FE(17, "GET_QUEUE_NUM", NULL, NONE, 0, 0, NONE, ALWAYS, U64, 8, 8, NONE,
           G(MQ)),
        FE_ACK(18, "SET_VRING_ENABLE", NULL, VRING_ENABLE, 8, 8, NONE, G_NONE),
        FE_ACK(19, "SEND_RARP", NULL, MAC, 8, 8, NONE, G(RARP)),
        FE_ACK(20, "NET_SET_MTU", NULL, U64, 8, 8, NONE, G(NET_MTU)),
        FE_ACK(21, "SET_BACKEND_REQ_FD", "SET_SLAVE_REQ_FD", NONE, 0, 0, ONE,
               G(BACKEND_REQ)),
        /* The spec says the back-end always acknowledges it; DPDK does
         * only on NEED_REPLY. */
        FE(22, "IOTLB_MSG", NULL, IOTLB, 32, 32, NONE, ACK_ANY, ACK, 0, 8, NONE,
           G_NONE),
        FE_ACK(23, "SET_VRING_ENDIAN", NULL, VRING_STATE, 8, 8, NONE,
               G(CROSS_ENDIAN)),
        /* A reply of size 0 reports an error (spec). */
        FE(24, "GET_CONFIG", NULL, CONFIG, 12, CONFIG_MAX, NONE, ALWAYS, CONFIG,
           0, CONFIG_MAX, NONE, G(CONFIG)),
        FE_ACK(25, "SET_CONFIG", NULL, CONFIG, 12, CONFIG_MAX, NONE, G(CONFIG)),
        /* The crypto session struct holds pointer-sized fields: opaque. */
        FE(26, "CREATE_CRYPTO_SESSION", NULL, OPAQUE, 0, VUP_MAX_PAYLOAD, NONE,
           ALWAYS, OPAQUE, 0, VUP_MAX_PAYLOAD, NONE, G(CRYPTO_SESSION)),
        FE_ACK(27, "CLOSE_CRYPTO_SESSION", NULL, U64, 8, 8, NONE,
               G(CRYPTO_SESSION)),
        /* The reply carries the userfaultfd (none if the back-end failed). */
        FE(28, "POSTCOPY_ADVISE", NULL, NONE, 0, 0, NONE, ALWAYS, U64, 0, 8,
           OPTIONAL, G(PAGEFAULT)),
        FE_ACK(29, "POSTCOPY_LISTEN", NULL, NONE, 0, 0, NONE, G(PAGEFAULT)),
        FE(30, "POSTCOPY_END", NULL, NONE, 0, 0, NONE, ALWAYS, U64, 8, 8, NONE,
           G(PAGEFAULT)),
        FE(31, "GET_INFLIGHT_FD", NULL, INFLIGHT, 24, 24, NONE, ALWAYS,
           INFLIGHT, 24, 24, OPTIONAL, G(INFLIGHT_SHMFD)),
        FE_ACK(32, "SET_INFLIGHT_FD", NULL, INFLIGHT, 24, 24, ONE,
               G(INFLIGHT_SHMFD)),
        FE_ACK(33, "GPU_SET_SOCKET", NULL, NONE, 0, 0, ONE, G_NONE),
        FE_ACK(34, "RESET_DEVICE", NULL, NONE, 0, 0, NONE, G(RESET_DEVICE)),
        FE_ACK(35, "VRING_KICK", NULL, VRING_STATE, 8, 8, NONE,
               G(INBAND_NOTIFICATIONS)),
        FE(36, "GET_MAX_MEM_SLOTS", NULL, NONE, 0, 0, NONE, ALWAYS, U64, 8, 8,
           NONE, G(CONFIGURE_MEM_SLOTS)),
        /* 8 bytes, no fd: QEMU's ack of the postcopy echo. */
        FE(37, "ADD_MEM_REG", NULL, MEM_REG, 8, 48, ONE, POSTCOPY, MEM_REG, 0,
           48, NONE, G(CONFIGURE_MEM_SLOTS)),
        /* The back-end may accept an fd here and must close it (spec). */
        FE_ACK(38, "REM_MEM_REG", NULL, MEM_REG, 40, 48, OPTIONAL,
               G(CONFIGURE_MEM_SLOTS)),
        FE_ACK(39, "SET_STATUS", NULL, STATUS, 8, 8, NONE, G(STATUS)),
        FE(40, "GET_STATUS", NULL, NONE, 0, 0, NONE, ALWAYS, STATUS, 8, 8, NONE,
           G(STATUS)),
        /* QEMU sends it without the UUID (size 0). */
        FE(41, "GET_SHARED_OBJECT", NULL, UUID, 0, 16, NONE, ALWAYS, U64, 0, 8,
           OPTIONAL, G(SHARED_OBJECT)),
        FE(42, "SET_DEVICE_STATE_FD", NULL, DEVICE_STATE, 8, 8, ONE, ALWAYS,
           U64, 8, 8, OPTIONAL, G(DEVICE_STATE)),
        FE(43, "CHECK_DEVICE_STATE", NULL, NONE, 0, 0, NONE, ALWAYS, U64, 8, 8,
           NONE, G(DEVICE_STATE)),
        FE(44, "GET_SHMEM_CONFIG", NULL, NONE, 0, 0, NONE, ALWAYS, SHMEM_CONFIG,
           8, 8 + 256 * 8, NONE, G(SHMEM)),
        FE(45, "GET_VRING_BASE_SKIP_DRAIN", NULL, VRING_STATE, 8, 8, NONE,
           ALWAYS, VRING_BASE, 8, 8, NONE, G(GET_VRING_BASE_SKIP_DRAIN)),
};

#define BE(c, nm, al, rl, rmin, rmax, rf, rep, pl, pmin, pmax, pf, g)          \
	ROW(c, VUP_CHAN_BACKEND, nm, al, rl, rmin, rmax, rf, rep, pl, pmin,    \
	    pmax, pf, g, G_NONE)
#define BE_ACK(c, nm, al, rl, rmin, rmax, rf, g)                               \
	BE(c, nm, al, rl, rmin, rmax, rf, ACK, ACK, 0, 8, NONE, g)

static const struct vup_msg_type backend_requests[] = {
        BE_ACK(1, "BACKEND_IOTLB_MSG", "SLAVE_IOTLB_MSG", IOTLB, 32, 32, NONE,
               G_NONE),
        BE_ACK(2, "BACKEND_CONFIG_CHANGE_MSG", "SLAVE_CONFIG_CHANGE_MSG", NONE,
               0, 0, NONE, G(CONFIG)),
        BE_ACK(3, "BACKEND_VRING_HOST_NOTIFIER_MSG",
               "SLAVE_VRING_HOST_NOTIFIER_MSG", HOST_NOTIFIER, 24, 24, VRING,
               G(HOST_NOTIFIER)),
        BE_ACK(4, "BACKEND_VRING_CALL", "SLAVE_VRING_CALL", VRING_STATE, 8, 8,
               NONE, G(INBAND_NOTIFICATIONS)),
        BE_ACK(5, "BACKEND_VRING_ERR", "SLAVE_VRING_ERR", VRING_STATE, 8, 8,
               NONE, G(INBAND_NOTIFICATIONS)),
        BE_ACK(6, "BACKEND_SHARED_OBJECT_ADD", "SLAVE_SHARED_OBJECT_ADD", UUID,
               16, 16, NONE, G(SHARED_OBJECT)),
        BE_ACK(7, "BACKEND_SHARED_OBJECT_REMOVE", "SLAVE_SHARED_OBJECT_REMOVE",
               UUID, 16, 16, NONE, G(SHARED_OBJECT)),
        /* On success the front-end answers with the dma-buf fd. */
        BE(8, "BACKEND_SHARED_OBJECT_LOOKUP", "SLAVE_SHARED_OBJECT_LOOKUP",
           UUID, 16, 16, NONE, ALWAYS, U64, 8, 8, OPTIONAL, G(SHARED_OBJECT)),
        BE_ACK(9, "BACKEND_SHMEM_MAP", NULL, SHMEM_MAP, 40, 40, ONE, G(SHMEM)),
        BE_ACK(10, "BACKEND_SHMEM_UNMAP", NULL, SHMEM_MAP, 40, 40, NONE,
               G(SHMEM)),
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct vup_msg_type *table(enum vup_chan chan, size_t *n)
{
	if (chan == VUP_CHAN_BACKEND) {
		*n = COUNT(backend_requests);
		return backend_requests;
	}
	*n = COUNT(main_requests);
	return main_requests;
}

size_t vup_proto_count(enum vup_chan chan)
{
	size_t n;
	table(chan, &n);
	return n;
}

const struct vup_msg_type *vup_proto_at(enum vup_chan chan, size_t i)
{
	size_t n;
	const struct vup_msg_type *t = table(chan, &n);
	return i < n ? &t[i] : NULL;
}

const struct vup_msg_type *vup_proto_lookup(enum vup_chan chan, uint32_t code)
{
	size_t n;
	const struct vup_msg_type *t = table(chan, &n);
	/* Rows are in code order starting at 1. */
	if (code >= 1 && code <= n && t[code - 1].code == code)
		return &t[code - 1];
	return NULL;
}

#define D(code, kind) [code] = VUP_DECLARE_##kind
/* Back-end channel requests are events: none lasts. */
static const unsigned char main_declares[] = {
        D(1, LAST),        /* GET_FEATURES */
        D(2, LAST),        /* SET_FEATURES */
        D(3, LAST),        /* SET_OWNER */
        D(4, LAST),        /* RESET_OWNER */
        D(5, TABLE),       /* SET_MEM_TABLE */
        D(6, LAST),        /* SET_LOG_BASE */
        D(7, LAST),        /* SET_LOG_FD */
        D(8, VRING),       /* SET_VRING_NUM */
        D(9, VRING),       /* SET_VRING_ADDR */
        D(10, VRING),      /* SET_VRING_BASE */
        D(11, VRING_STOP), /* GET_VRING_BASE: the ring stopped */
        D(12, VRING),      /* SET_VRING_KICK */
        D(13, VRING),      /* SET_VRING_CALL */
        D(14, VRING),      /* SET_VRING_ERR */
        D(15, LAST),       /* GET_PROTOCOL_FEATURES */
        D(16, LAST),       /* SET_PROTOCOL_FEATURES */
        D(17, LAST),       /* GET_QUEUE_NUM */
        D(18, VRING),      /* SET_VRING_ENABLE */
        D(20, LAST),       /* NET_SET_MTU */
        D(21, LAST),       /* SET_BACKEND_REQ_FD */
        D(23, VRING),      /* SET_VRING_ENDIAN */
        D(25, LAST),       /* SET_CONFIG */
        D(31, LAST),       /* GET_INFLIGHT_FD */
        D(32, LAST),       /* SET_INFLIGHT_FD */
        D(33, LAST),       /* GPU_SET_SOCKET */
        D(34, LAST),       /* RESET_DEVICE */
        D(36, LAST),       /* GET_MAX_MEM_SLOTS */
        D(37, REGION_ADD), /* ADD_MEM_REG */
        D(38, REGION_REM), /* REM_MEM_REG */
        D(39, LAST),       /* SET_STATUS */
        D(45, VRING_STOP), /* GET_VRING_BASE_SKIP_DRAIN */
};
#undef D

enum vup_declare vup_proto_declares(enum vup_chan chan, uint32_t code)
{
	if (chan != VUP_CHAN_MAIN || code >= sizeof(main_declares))
		return VUP_DECLARE_NONE;
	return (enum vup_declare)main_declares[code];
}

const char *vup_proto_name(enum vup_chan chan, uint32_t code)
{
	const struct vup_msg_type *t = vup_proto_lookup(chan, code);
	return t ? t->name : "UNKNOWN";
}

const struct vup_msg_type *vup_proto_by_name(const char *name)
{
	static const char prefix[] = "VHOST_USER_";
	if (!name)
		return NULL;
	if (strncasecmp(name, prefix, sizeof(prefix) - 1) == 0)
		name += sizeof(prefix) - 1;
	for (int ch = VUP_CHAN_MAIN; ch <= VUP_CHAN_BACKEND; ch++) {
		size_t n;
		const struct vup_msg_type *t = table(ch, &n);
		for (size_t i = 0; i < n; i++) {
			if (strcasecmp(t[i].name, name) == 0 ||
			    (t[i].alias && strcasecmp(t[i].alias, name) == 0))
				return &t[i];
		}
	}
	return NULL;
}

const char *vup_layout_name(enum vup_layout l)
{
	static const char *const names[] = {
#define X(id, str) str,
	        VUP_LAYOUTS(X)
#undef X
	};
	return (unsigned)l < VUP_L_COUNT ? names[l] : "?";
}

const char *vup_chan_name(enum vup_chan c)
{
	return c == VUP_CHAN_BACKEND ? "backend" : "main";
}

const char *vup_side_name(enum vup_side s)
{
	return s == VUP_BACKEND ? "back-end" : "front-end";
}
