/* fields: the payload fields of every layout, as one X-macro per layout.
 *
 * Each list expands into the field ids vuproxy's own code reads payloads
 * by (VUP_FLD_<LAYOUT>_<FIELD>: a misspelt field does not compile), the
 * field tables that rendering, rules and the dissector read by name, and
 * the slices vup_layout_fields returns.  Included by proto.h, after
 * VUP_LAYOUTS: every layout has a list here, and the region one more.
 *
 * X(layout, FIELD, "name", byte offset, size, shift, bits, format):
 * vhost-user numbers are native-endian and payload structs packed; a
 * bit-field is shift/bits within its integer (bits 0 = the whole of it);
 * size 6 is a MAC in wire order, 16 a UUID.
 */
#ifndef VUPROXY_FIELDS_H
#define VUPROXY_FIELDS_H

#define VUP_FIELDS_U64(X)  X(U64, VALUE, "value", 0, 8, 0, 0, HEX)
#define VUP_FIELDS_ACK(X)  X(ACK, ACK, "ack", 0, 8, 0, 0, DEC)
#define VUP_FIELDS_NONE(X) /* no payload */
#define VUP_FIELDS_FEATURES(X)                                                 \
	X(FEATURES, FEATURES, "features", 0, 8, 0, 0, FEATURES)
#define VUP_FIELDS_PROTOCOL_FEATURES(X)                                        \
	X(PROTOCOL_FEATURES, FEATURES, "features", 0, 8, 0, 0, PFEATURES)
#define VUP_FIELDS_VRING_STATE(X)                                              \
	X(VRING_STATE, INDEX, "index", 0, 4, 0, 0, DEC)                        \
	X(VRING_STATE, NUM, "num", 4, 4, 0, 0, DEC)
/* Split ring: num is the next avail index (bits 0-15). */
#define VUP_FIELDS_VRING_BASE(X)                                               \
	X(VRING_BASE, INDEX, "index", 0, 4, 0, 0, DEC)                         \
	X(VRING_BASE, NUM, "num", 4, 4, 0, 0, DEC)
/* Packed ring: avail idx + wrap, used idx + wrap in one u32. */
#define VUP_FIELDS_VRING_BASE_PACKED(X)                                        \
	X(VRING_BASE_PACKED, INDEX, "index", 0, 4, 0, 0, DEC)                  \
	X(VRING_BASE_PACKED, AVAIL_IDX, "avail_idx", 4, 4, 0, 15, DEC)         \
	X(VRING_BASE_PACKED, AVAIL_WRAP, "avail_wrap", 4, 4, 15, 1, DEC)       \
	X(VRING_BASE_PACKED, USED_IDX, "used_idx", 4, 4, 16, 15, DEC)          \
	X(VRING_BASE_PACKED, USED_WRAP, "used_wrap", 4, 4, 31, 1, DEC)
#define VUP_FIELDS_VRING_ENABLE(X)                                             \
	X(VRING_ENABLE, INDEX, "index", 0, 4, 0, 0, DEC)                       \
	X(VRING_ENABLE, ENABLE, "enable", 4, 4, 0, 0, DEC)
#define VUP_FIELDS_VRING_ADDR(X)                                               \
	X(VRING_ADDR, INDEX, "index", 0, 4, 0, 0, DEC)                         \
	X(VRING_ADDR, FLAGS, "flags", 4, 4, 0, 0, HEX)                         \
	X(VRING_ADDR, DESC, "desc", 8, 8, 0, 0, HEX)                           \
	X(VRING_ADDR, USED, "used", 16, 8, 0, 0, HEX)                          \
	X(VRING_ADDR, AVAIL, "avail", 24, 8, 0, 0, HEX)                        \
	X(VRING_ADDR, LOG, "log", 32, 8, 0, 0, HEX)
/* SET_VRING_KICK/CALL/ERR: bits 0-7 index, bit 8 NOFD. */
#define VUP_FIELDS_VRING_FD(X)                                                 \
	X(VRING_FD, INDEX, "index", 0, 8, 0, 8, DEC)                           \
	X(VRING_FD, NOFD, "nofd", 0, 8, 8, 1, BOOL)
/* The regions follow at offset 8 (VUP_FIELDS_REGION). */
#define VUP_FIELDS_MEM_TABLE(X)                                                \
	X(MEM_TABLE, NREGIONS, "nregions", 0, 4, 0, 0, DEC)
/* ADD_MEM_REG/REM_MEM_REG: u64 padding, then one region. */
#define VUP_FIELDS_MEM_REG(X)                                                  \
	X(MEM_REG, GPA, "gpa", 8, 8, 0, 0, HEX)                                \
	X(MEM_REG, SIZE, "size", 16, 8, 0, 0, HEX)                             \
	X(MEM_REG, UADDR, "uaddr", 24, 8, 0, 0, HEX)                           \
	X(MEM_REG, MMAP_OFFSET, "mmap_offset", 32, 8, 0, 0, HEX)
#define VUP_FIELDS_LOG(X)                                                      \
	X(LOG, MMAP_SIZE, "mmap_size", 0, 8, 0, 0, HEX)                        \
	X(LOG, MMAP_OFFSET, "mmap_offset", 8, 8, 0, 0, HEX)
#define VUP_FIELDS_IOTLB(X)                                                    \
	X(IOTLB, IOVA, "iova", 0, 8, 0, 0, HEX)                                \
	X(IOTLB, SIZE, "size", 8, 8, 0, 0, HEX)                                \
	X(IOTLB, UADDR, "uaddr", 16, 8, 0, 0, HEX)                             \
	X(IOTLB, PERM, "perm", 24, 1, 0, 0, DEC)                               \
	X(IOTLB, TYPE, "type", 25, 1, 0, 0, DEC)
#define VUP_FIELDS_CONFIG(X)                                                   \
	X(CONFIG, OFFSET, "offset", 0, 4, 0, 0, DEC)                           \
	X(CONFIG, SIZE, "size", 4, 4, 0, 0, DEC)                               \
	X(CONFIG, FLAGS, "flags", 8, 4, 0, 0, HEX)
#define VUP_FIELDS_INFLIGHT(X)                                                 \
	X(INFLIGHT, MMAP_SIZE, "mmap_size", 0, 8, 0, 0, HEX)                   \
	X(INFLIGHT, MMAP_OFFSET, "mmap_offset", 8, 8, 0, 0, HEX)               \
	X(INFLIGHT, NUM_QUEUES, "num_queues", 16, 2, 0, 0, DEC)                \
	X(INFLIGHT, QUEUE_SIZE, "queue_size", 18, 2, 0, 0, DEC)
#define VUP_FIELDS_STATUS(X) X(STATUS, STATUS, "status", 0, 8, 0, 0, STATUS)
#define VUP_FIELDS_MAC(X)    X(MAC, MAC, "mac", 0, 6, 0, 0, MAC)
#define VUP_FIELDS_UUID(X)   X(UUID, UUID, "uuid", 0, 16, 0, 0, UUID)
#define VUP_FIELDS_DEVICE_STATE(X)                                             \
	X(DEVICE_STATE, DIRECTION, "direction", 0, 4, 0, 0, DEC)               \
	X(DEVICE_STATE, PHASE, "phase", 4, 4, 0, 0, DEC)
#define VUP_FIELDS_SHMEM_CONFIG(X)                                             \
	X(SHMEM_CONFIG, NREGIONS, "nregions", 0, 4, 0, 0, DEC)
#define VUP_FIELDS_HOST_NOTIFIER(X)                                            \
	X(HOST_NOTIFIER, INDEX, "index", 0, 8, 0, 8, DEC)                      \
	X(HOST_NOTIFIER, NOFD, "nofd", 0, 8, 8, 1, BOOL)                       \
	X(HOST_NOTIFIER, SIZE, "size", 8, 8, 0, 0, HEX)                        \
	X(HOST_NOTIFIER, OFFSET, "offset", 16, 8, 0, 0, HEX)
#define VUP_FIELDS_SHMEM_MAP(X)                                                \
	X(SHMEM_MAP, SHMID, "shmid", 0, 1, 0, 0, DEC)                          \
	X(SHMEM_MAP, FD_OFFSET, "fd_offset", 8, 8, 0, 0, HEX)                  \
	X(SHMEM_MAP, SHM_OFFSET, "shm_offset", 16, 8, 0, 0, HEX)               \
	X(SHMEM_MAP, LEN, "len", 24, 8, 0, 0, HEX)                             \
	X(SHMEM_MAP, FLAGS, "flags", 32, 8, 0, 0, HEX)
#define VUP_FIELDS_OPAQUE(X) /* not decoded */

/* One memory region of SET_MEM_TABLE, at 8 + i * vup_mem_region_size;
 * offsets within the region. */
#define VUP_FIELDS_REGION(X)                                                   \
	X(REGION, GPA, "gpa", 0, 8, 0, 0, HEX)                                 \
	X(REGION, SIZE, "size", 8, 8, 0, 0, HEX)                               \
	X(REGION, UADDR, "uaddr", 16, 8, 0, 0, HEX)                            \
	X(REGION, MMAP_OFFSET, "mmap_offset", 24, 8, 0, 0, HEX)

/* Field ids; VUP_FLD__FIRST_<LAYOUT> is the first of a layout's (equal to
 * the next layout's first when it has none). */
enum vup_field_id {
#define VUP_FLD_ID_(l, f, ...) VUP_FLD_##l##_##f,
#define VUP_FLD_LIST_(l, ...)                                                  \
	VUP_FLD__FIRST_##l, VUP_FLD__BEFORE_##l = VUP_FLD__FIRST_##l - 1,      \
	                    VUP_FIELDS_##l(VUP_FLD_ID_)
	VUP_LAYOUTS(VUP_FLD_LIST_) VUP_FLD_LIST_(REGION)
#undef VUP_FLD_LIST_
#undef VUP_FLD_ID_
	        VUP_FLD_COUNT
};

#endif
