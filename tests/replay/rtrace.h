/* rtrace: small traces built in memory for the replay tests, written
 * through the real trace writer (gzip) or as plain pcapng with a chosen
 * pseudo-header version. */
#ifndef VUP_TESTS_RTRACE_H
#define VUP_TESTS_RTRACE_H

#include <stddef.h>
#include <stdint.h>

#include "vuproxy/pcapng.h"
#include "vuproxy/proto.h"

#define RT_MAX 64

struct rt_msg {
	uint32_t session;
	uint8_t tflags; /* VUP_TRACE_F_* */
	uint8_t action;
	uint64_t ts_ns;
	struct vup_hdr h;
	uint8_t payload[512];
	unsigned nfds;
	struct vup_fd_info fds[4];
	uint32_t lie_size;    /* rt_write_plain: header size field, if set */
	bool declared;        /* declared state (VUP_TRACE_EXT_DECLARED) */
	uint64_t declared_ns; /* its value: when the message crossed */
};

/* A TX frame of the net tap ("s<session> net q<queue> tx"), written
 * after the first `after` messages. */
#define RT_MAX_FRAMES 512
struct rt_frame {
	uint32_t session;
	uint16_t queue;
	size_t after;
	uint32_t caplen, origlen;
	uint8_t data[256];
};

struct rt {
	struct rt_msg m[RT_MAX];
	size_t n;
	uint64_t ts;
	struct rt_frame f[RT_MAX_FRAMES];
	size_t nf;
	uint32_t snaplen; /* of the tap interfaces (0: 65535) */
	bool continued;   /* rt_write_plain: the interface says the session
	                     began in an earlier file (VUP_IDB_CONTINUED) */
};

/* Append a message (ts advances 1 ms each); returns it for tweaks. */
struct rt_msg *rt_add(struct rt *t, uint32_t session, enum vup_chan chan,
                      enum vup_side from, uint32_t req, uint32_t flags,
                      const void *payload, uint32_t size);
/* Attach an fd description to a message. */
void rt_fd(struct rt_msg *m, unsigned kind, uint64_t size);
/* Append a u64-payload message. */
struct rt_msg *rt_u64(struct rt *t, uint32_t session, enum vup_chan chan,
                      enum vup_side from, uint32_t req, uint32_t flags,
                      uint64_t v);
/* Append a tap TX frame after the messages added so far. */
struct rt_frame *rt_frame_add(struct rt *t, uint32_t session, uint16_t queue,
                              const void *data, uint32_t caplen,
                              uint32_t origlen);
/* Write with vup_trace_* (gzip), tap frames included.  0 or -1. */
int rt_write_gz(const struct rt *t, const char *path);
/* Write plain pcapng, pseudo-header version forced to `version`. */
int rt_write_plain(const struct rt *t, const char *path, unsigned version);
/* rt_write_plain at the current version when t->continued (the writer
 * cannot start a file mid-session on demand), else rt_write_gz. */
int rt_write(const struct rt *t, const char *path);
/* Make the first n messages declared state, as a file that starts after
 * them restates them: their time becomes the file's start (just before
 * message n), the time they crossed the declared value. */
void rt_declare(struct rt *t, size_t n);

/* A typical DPDK virtio-user session with one 1 MiB memory region and
 * one vring, replies as a DPDK back-end gives them (session 1). */
void rt_session(struct rt *t, uint32_t session);
/* The set-up of a net session with `rings` vrings, as QEMU makes it
 * (SET_OWNER, features and protocol features with their replies,
 * SET_MEM_TABLE with a memfd and its REPLY_ACK, then per vring NUM, ADDR,
 * BASE, KICK and CALL with eventfds, then SET_VRING_ENABLE each), one
 * 1 MiB region at guest 0x100000; vring i at 0x7f0000100000 + i * 0x4000
 * (desc, avail +0x1000, used +0x2000). */
void rt_net_setup(struct rt *t, uint32_t session, unsigned rings);
/* The teardown: GET_VRING_BASE per vring, answered {i, base}. */
void rt_net_teardown(struct rt *t, uint32_t session, unsigned rings,
                     uint32_t base);

#endif
