/* fds: fresh descriptors standing for the ones a recorded message carried.
 *
 * The trace keeps each fd's kind and size, not its contents: guest memory
 * becomes a zero-filled memfd of the recorded size (sparse, so a 1 GiB
 * guest costs nothing until the peer touches it), kick/call/err eventfds
 * new eventfds, the back-end channel one end of a new socketpair.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vuproxy/replay.h"

/* Larger than any guest we expect; a bigger size in a capture is refused
 * rather than handed to ftruncate. */
#define MAX_MEMFD_SIZE (UINT64_C(1) << 44)

/* The bytes the payload maps from fd i: mmap_offset + size of its region
 * (SET_MEM_TABLE region i, ADD_MEM_REG), else 0. */
static uint64_t payload_needs(const struct vup_replay_msg *m, unsigned i)
{
	const uint8_t *p = m->payload;
	uint32_t n = m->hdr.size;
	if (m->chan != VUP_CHAN_MAIN || (m->hdr.flags & VUP_FLAG_REPLY))
		return 0;
	uint64_t size, off;
	switch (m->hdr.request) {
	case VUP_REQ_SET_MEM_TABLE: {
		/* Regions of 32 bytes: the negotiated XEN_MMAP (40) is not
		 * known here. */
		uint32_t o = 8 + i * vup_mem_region_size(NULL);
		if (o > n)
			return 0;
		size = off = 0;
		vup_field_read(VUP_FLD_REGION_SIZE, p + o, n - o, &size);
		vup_field_read(VUP_FLD_REGION_MMAP_OFFSET, p + o, n - o, &off);
		break;
	}
	case VUP_REQ_ADD_MEM_REG:
		size = off = 0;
		vup_field_read(VUP_FLD_MEM_REG_SIZE, p, n, &size);
		vup_field_read(VUP_FLD_MEM_REG_MMAP_OFFSET, p, n, &off);
		break;
	default: return 0;
	}
	return off + size < off ? UINT64_MAX : off + size;
}

static int memfd(const char *name, uint64_t size, char *err, size_t errlen)
{
	if (size > MAX_MEMFD_SIZE) {
		snprintf(err, errlen,
		         "the capture asks for a %llu-byte memory fd, over "
		         "the %llu-byte limit",
		         (unsigned long long)size,
		         (unsigned long long)MAX_MEMFD_SIZE);
		return -EFBIG;
	}
	int fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "memfd_create: %s", strerror(e));
		return -e;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		int e = errno;
		snprintf(err, errlen, "ftruncate(memfd, %llu): %s",
		         (unsigned long long)size, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

int vup_replay_make_fd(const struct vup_replay_msg *m, unsigned i, int *keep,
                       char *err, size_t errlen)
{
	*keep = -1;
	if (i >= m->nfds) {
		snprintf(err, errlen, "fd %u of a message with %u", i, m->nfds);
		return -EINVAL;
	}
	const struct vup_fd_info *f = &m->fds[i];
	int fd, e, sv[2];
	switch (f->kind) {
	case VUP_FDK_MEMFD:
	case VUP_FDK_SHM:
	case VUP_FDK_FILE: {
		uint64_t need = payload_needs(m, i);
		return memfd("vuproxy-replay", f->size > need ? f->size : need,
		             err, errlen);
	}
	case VUP_FDK_EVENTFD:
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd >= 0)
			return fd;
		e = errno;
		snprintf(err, errlen, "eventfd: %s", strerror(e));
		return -e;
	case VUP_FDK_SOCKET:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) <
		    0) {
			e = errno;
			snprintf(err, errlen, "socketpair: %s", strerror(e));
			return -e;
		}
		*keep = sv[0];
		return sv[1];
	case VUP_FDK_PIPE: {
		if (pipe2(sv, O_CLOEXEC) < 0) {
			e = errno;
			snprintf(err, errlen, "pipe: %s", strerror(e));
			return -e;
		}
		/* SET_DEVICE_STATE_FD direction 0 (save): the back-end
		 * writes; anything else: it reads. */
		uint32_t dir = 1;
		if (m->hdr.size >= 4)
			memcpy(&dir, m->payload, 4);
		bool peer_writes =
		        m->hdr.request == VUP_REQ_SET_DEVICE_STATE_FD &&
		        m->chan == VUP_CHAN_MAIN && dir == 0;
		*keep = peer_writes ? sv[0] : sv[1];
		return peer_writes ? sv[1] : sv[0];
	}
	default:
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		e = errno;
		snprintf(err, errlen, "/dev/null: %s", strerror(e));
		return -e;
	}
}
