/* bits: the virtio and vhost-user bits vuproxy names or reads.
 *
 * One X-macro per kind of bit (virtio features, vhost-user protocol
 * features, device status).  Each expands into the enum here, the name
 * functions (src/proto/bits.c) and, through them, the rule matcher, the
 * renderer and the Wireshark dissector's tables.  Adding a bit is one row;
 * nothing else keeps a list of bits.  Rows are in bit order.
 *
 * Sources: the virtio 1.3 spec (6 Reserved Feature Bits, 5.1.3 and 5.2.3
 * Feature bits, 2.1 Device Status Field), QEMU docs/interop/vhost-user.rst
 * (Protocol features).
 */
#ifndef VUPROXY_BITS_H
#define VUPROXY_BITS_H

#include <stdbool.h>
#include <stdint.h>

/* Bits in a feature word (GET/SET_FEATURES, GET/SET_PROTOCOL_FEATURES)
 * and in the device status byte (GET/SET_STATUS). */
#define VUP_FEATURE_WORD_BITS 64u
#define VUP_STATUS_WORD_BITS  8u

/* Virtio feature bits: X(id, bit, name) -> VUP_F_<id> = bit.  Bits 0-23
 * and 50-63 are device-specific; vhost-user does not say which device it
 * carries, so they are named after virtio-net, the common case. */
#define VUP_VIRTIO_FEATURES(X)                                                 \
	X(NET_CSUM, 0, "VIRTIO_NET_F_CSUM")                                    \
	X(NET_GUEST_CSUM, 1, "VIRTIO_NET_F_GUEST_CSUM")                        \
	X(NET_CTRL_GUEST_OFFLOADS, 2, "VIRTIO_NET_F_CTRL_GUEST_OFFLOADS")      \
	X(NET_MTU, 3, "VIRTIO_NET_F_MTU")                                      \
	X(NET_MAC, 5, "VIRTIO_NET_F_MAC")                                      \
	X(NET_GSO, 6, "VIRTIO_NET_F_GSO")                                      \
	X(NET_GUEST_TSO4, 7, "VIRTIO_NET_F_GUEST_TSO4")                        \
	X(NET_GUEST_TSO6, 8, "VIRTIO_NET_F_GUEST_TSO6")                        \
	X(NET_GUEST_ECN, 9, "VIRTIO_NET_F_GUEST_ECN")                          \
	X(NET_GUEST_UFO, 10, "VIRTIO_NET_F_GUEST_UFO")                         \
	X(NET_HOST_TSO4, 11, "VIRTIO_NET_F_HOST_TSO4")                         \
	X(NET_HOST_TSO6, 12, "VIRTIO_NET_F_HOST_TSO6")                         \
	X(NET_HOST_ECN, 13, "VIRTIO_NET_F_HOST_ECN")                           \
	X(NET_HOST_UFO, 14, "VIRTIO_NET_F_HOST_UFO")                           \
	X(NET_MRG_RXBUF, 15, "VIRTIO_NET_F_MRG_RXBUF")                         \
	X(NET_STATUS, 16, "VIRTIO_NET_F_STATUS")                               \
	X(NET_CTRL_VQ, 17, "VIRTIO_NET_F_CTRL_VQ")                             \
	X(NET_CTRL_RX, 18, "VIRTIO_NET_F_CTRL_RX")                             \
	X(NET_CTRL_VLAN, 19, "VIRTIO_NET_F_CTRL_VLAN")                         \
	X(NET_CTRL_RX_EXTRA, 20, "VIRTIO_NET_F_CTRL_RX_EXTRA")                 \
	X(NET_GUEST_ANNOUNCE, 21, "VIRTIO_NET_F_GUEST_ANNOUNCE")               \
	X(NET_MQ, 22, "VIRTIO_NET_F_MQ")                                       \
	X(NET_CTRL_MAC_ADDR, 23, "VIRTIO_NET_F_CTRL_MAC_ADDR")                 \
	X(NOTIFY_ON_EMPTY, 24, "VIRTIO_F_NOTIFY_ON_EMPTY")                     \
	X(LOG_ALL, 26, "VHOST_F_LOG_ALL")                                      \
	X(ANY_LAYOUT, 27, "VIRTIO_F_ANY_LAYOUT")                               \
	X(INDIRECT_DESC, 28, "VIRTIO_F_INDIRECT_DESC")                         \
	X(EVENT_IDX, 29, "VIRTIO_F_EVENT_IDX")                                 \
	X(PROTOCOL_FEATURES, 30, "VHOST_USER_F_PROTOCOL_FEATURES")             \
	X(VERSION_1, 32, "VIRTIO_F_VERSION_1")                                 \
	X(ACCESS_PLATFORM, 33, "VIRTIO_F_ACCESS_PLATFORM")                     \
	X(RING_PACKED, 34, "VIRTIO_F_RING_PACKED")                             \
	X(IN_ORDER, 35, "VIRTIO_F_IN_ORDER")                                   \
	X(ORDER_PLATFORM, 36, "VIRTIO_F_ORDER_PLATFORM")                       \
	X(SR_IOV, 37, "VIRTIO_F_SR_IOV")                                       \
	X(NOTIFICATION_DATA, 38, "VIRTIO_F_NOTIFICATION_DATA")                 \
	X(NOTIF_CONFIG_DATA, 39, "VIRTIO_F_NOTIF_CONFIG_DATA")                 \
	X(RING_RESET, 40, "VIRTIO_F_RING_RESET")                               \
	X(ADMIN_VQ, 41, "VIRTIO_F_ADMIN_VQ")                                   \
	X(SUSPEND, 43, "VIRTIO_F_SUSPEND")                                     \
	X(NET_GUEST_USO4, 54, "VIRTIO_NET_F_GUEST_USO4")                       \
	X(NET_GUEST_USO6, 55, "VIRTIO_NET_F_GUEST_USO6")                       \
	X(NET_HOST_USO, 56, "VIRTIO_NET_F_HOST_USO")                           \
	X(NET_HASH_REPORT, 57, "VIRTIO_NET_F_HASH_REPORT")                     \
	X(NET_GUEST_HDRLEN, 59, "VIRTIO_NET_F_GUEST_HDRLEN")                   \
	X(NET_RSS, 60, "VIRTIO_NET_F_RSS")                                     \
	X(NET_RSC_EXT, 61, "VIRTIO_NET_F_RSC_EXT")                             \
	X(NET_STANDBY, 62, "VIRTIO_NET_F_STANDBY")                             \
	X(NET_SPEED_DUPLEX, 63, "VIRTIO_NET_F_SPEED_DUPLEX")

/* virtio-blk's names for the device-specific bits: accepted when parsing
 * (rules, replay --ignore), never printed (the bits print as net's). */
#define VUP_VIRTIO_BLK_FEATURES(X)                                             \
	X(BLK_SIZE_MAX, 1, "VIRTIO_BLK_F_SIZE_MAX")                            \
	X(BLK_SEG_MAX, 2, "VIRTIO_BLK_F_SEG_MAX")                              \
	X(BLK_GEOMETRY, 4, "VIRTIO_BLK_F_GEOMETRY")                            \
	X(BLK_RO, 5, "VIRTIO_BLK_F_RO")                                        \
	X(BLK_BLK_SIZE, 6, "VIRTIO_BLK_F_BLK_SIZE")                            \
	X(BLK_FLUSH, 9, "VIRTIO_BLK_F_FLUSH")                                  \
	X(BLK_TOPOLOGY, 10, "VIRTIO_BLK_F_TOPOLOGY")                           \
	X(BLK_CONFIG_WCE, 11, "VIRTIO_BLK_F_CONFIG_WCE")                       \
	X(BLK_MQ, 12, "VIRTIO_BLK_F_MQ")                                       \
	X(BLK_DISCARD, 13, "VIRTIO_BLK_F_DISCARD")                             \
	X(BLK_WRITE_ZEROES, 14, "VIRTIO_BLK_F_WRITE_ZEROES")                   \
	X(BLK_LIFETIME, 15, "VIRTIO_BLK_F_LIFETIME")                           \
	X(BLK_SECURE_ERASE, 16, "VIRTIO_BLK_F_SECURE_ERASE")                   \
	X(BLK_ZONED, 17, "VIRTIO_BLK_F_ZONED")

/* vhost-user protocol features: X(id, bit) -> VUP_PF_<id> = bit, named
 * "<id>" (the spec's VHOST_USER_PROTOCOL_F_ prefix is also accepted). */
#define VUP_PROTOCOL_FEATURES(X)                                               \
	X(MQ, 0)                                                               \
	X(LOG_SHMFD, 1)                                                        \
	X(RARP, 2)                                                             \
	X(REPLY_ACK, 3)                                                        \
	X(NET_MTU, 4)                                                          \
	X(BACKEND_REQ, 5)                                                      \
	X(CROSS_ENDIAN, 6)                                                     \
	X(CRYPTO_SESSION, 7)                                                   \
	X(PAGEFAULT, 8)                                                        \
	X(CONFIG, 9)                                                           \
	X(BACKEND_SEND_FD, 10)                                                 \
	X(HOST_NOTIFIER, 11)                                                   \
	X(INFLIGHT_SHMFD, 12)                                                  \
	X(RESET_DEVICE, 13)                                                    \
	X(INBAND_NOTIFICATIONS, 14)                                            \
	X(CONFIGURE_MEM_SLOTS, 15)                                             \
	X(STATUS, 16)                                                          \
	X(XEN_MMAP, 17)                                                        \
	X(SHARED_OBJECT, 18)                                                   \
	X(DEVICE_STATE, 19)                                                    \
	X(GET_VRING_BASE_INFLIGHT, 20)                                         \
	X(GPA_ADDRESSES, 21)                                                   \
	X(SHMEM, 22)                                                           \
	X(GET_VRING_BASE_SKIP_DRAIN, 23)

/* Virtio device status bits: X(id, bit) -> VUP_STATUS_BIT_<id> = bit,
 * VUP_STATUS_<id> = its mask, named "<id>". */
#define VUP_STATUS_BITS(X)                                                     \
	X(ACKNOWLEDGE, 0)                                                      \
	X(DRIVER, 1)                                                           \
	X(DRIVER_OK, 2)                                                        \
	X(FEATURES_OK, 3)                                                      \
	X(DEVICE_NEEDS_RESET, 6)                                               \
	X(FAILED, 7)

enum vup_virtio_feature {
#define X(id, bit, name) VUP_F_##id = bit,
	VUP_VIRTIO_FEATURES(X) VUP_VIRTIO_BLK_FEATURES(X)
#undef X
};

enum vup_protocol_feature {
#define X(id, bit) VUP_PF_##id = bit,
	VUP_PROTOCOL_FEATURES(X)
#undef X
};

enum vup_status_bit {
#define X(id, bit) VUP_STATUS_BIT_##id = bit,
	VUP_STATUS_BITS(X)
#undef X
};

enum vup_status_mask {
#define X(id, bit) VUP_STATUS_##id = 1u << bit,
	VUP_STATUS_BITS(X)
#undef X
};

/* Feature-bit names (NULL when the bit has none).  Protocol names without
 * prefix ("REPLY_ACK"), virtio names in full ("VIRTIO_F_VERSION_1"). */
const char *vup_feature_name(unsigned bit);
const char *vup_protocol_feature_name(unsigned bit);
/* Virtio device status bits (SET_STATUS/GET_STATUS), NULL when unnamed. */
const char *vup_status_name(unsigned bit);
/* Bit number for a name of either kind, -1 if unknown; *protocol tells
 * which.  Case-insensitive; virtio-blk names, the protocol names with
 * their VHOST_USER_PROTOCOL_F_ prefix and the names before the "slave"
 * rename (SLAVE_REQ, SLAVE_SEND_FD) are accepted too. */
int vup_feature_bit(const char *name, bool *protocol);

/* Length of the virtio-net header in front of every frame, from the
 * negotiated features (virtio 1.3, 5.1.6 Device Operation): 10 bytes
 * (legacy), 12 with num_buffers (MRG_RXBUF or VERSION_1), 20 with
 * hash_value, hash_report and padding (HASH_REPORT). */
uint32_t vup_net_hdr_len(uint64_t features);

#endif
