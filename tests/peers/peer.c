/* peers: connections, messages and plausible payloads for the scripted
 * test peers.  See peer.h. */
#include <dirent.h>
#include <errno.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "peer.h"

static char last_error[8192];

int peer_fail(int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return rc;
}

const char *peer_error(void)
{
	return last_error;
}

uint64_t peer_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void peer_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
	                      .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int peer_tmpdir(char *out, size_t len)
{
	const char *base = getenv("TMPDIR");
	if (!base || !*base || strlen(base) > 60)
		base = "/tmp";
	if ((size_t)snprintf(out, len, "%s/vup-peers-XXXXXX", base) >= len)
		return peer_fail(-ENAMETOOLONG, "temp dir name too long");
	if (!mkdtemp(out))
		return peer_fail(-errno, "mkdtemp %s: %s", out,
		                 strerror(errno));
	return 0;
}

void peer_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char path[512];
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return peer_fail(-ENAMETOOLONG, "socket path too long: %s",
		                 path);
	strcpy(sa->sun_path, path);
	return 0;
}

int peer_listen(const char *path, int backlog)
{
	struct sockaddr_un sa;
	int rc = fill_addr(&sa, path);
	if (rc)
		return rc;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return peer_fail(-errno, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, backlog) < 0) {
		int e = errno;
		close(fd);
		return peer_fail(-e, "bind/listen %s: %s", path, strerror(e));
	}
	return fd;
}

int peer_accept(int listen_fd, int timeout_ms)
{
	struct pollfd pfd = {.fd = listen_fd, .events = POLLIN};
	int n;
	do {
		n = poll(&pfd, 1, timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		return peer_fail(-ETIMEDOUT, "no connection within %d ms",
		                 timeout_ms);
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return peer_fail(-errno, "accept: %s", strerror(errno));
	return fd;
}

int peer_connect_once(const char *path)
{
	struct sockaddr_un sa;
	int rc = fill_addr(&sa, path);
	if (rc)
		return rc;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return peer_fail(-errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return peer_fail(-e, "connect %s: %s", path, strerror(e));
	}
	return fd;
}

int peer_connect(const char *path, int timeout_ms)
{
	uint64_t end = peer_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		int fd = peer_connect_once(path);
		if (fd >= 0)
			return fd;
		if ((fd != -ENOENT && fd != -ECONNREFUSED) ||
		    peer_now_ms() >= end)
			return fd;
		peer_sleep_ms(5);
	}
}

static struct peer *live_peers;

struct peer *peer_new(int fd, const char *name)
{
	struct peer *p = calloc(1, sizeof(*p));
	if (!p) {
		fprintf(stderr, "peer_new: out of memory\n");
		abort();
	}
	vup_channel_init(&p->ch, fd);
	p->name = name;
	p->next = live_peers;
	if (live_peers)
		live_peers->prev = p;
	live_peers = p;
	return p;
}

void peer_free(struct peer *p)
{
	if (!p)
		return;
	if (p->prev)
		p->prev->next = p->next;
	else
		live_peers = p->next;
	if (p->next)
		p->next->prev = p->prev;
	vup_channel_close(&p->ch);
	free(p);
}

void peer_free_all(void)
{
	while (live_peers)
		peer_free(live_peers);
}

/* Wait until fd is ready for events; 0, or -ETIMEDOUT. */
static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int n;
	do {
		n = poll(&pfd, 1, timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

static ssize_t send_chunk(int fd, const uint8_t *buf, size_t len,
                          const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 256)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds) {
		if (nfds > 256)
			return -EINVAL;
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	ssize_t n;
	do {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

int peer_send_split(int fd, const void *buf, size_t len, size_t chunk,
                    unsigned pause_ms, const int *fds, unsigned nfds)
{
	const uint8_t *b = buf;
	size_t off = 0;
	bool fds_sent = nfds == 0;
	if (chunk == 0)
		chunk = len;
	while (off < len || !fds_sent) {
		size_t want = len - off < chunk ? len - off : chunk;
		ssize_t n = send_chunk(fd, b + off, want, fds_sent ? NULL : fds,
		                       fds_sent ? 0 : nfds);
		if (n == -EAGAIN) {
			if (wait_fd(fd, POLLOUT, PEER_TIMEOUT_MS))
				return peer_fail(
				        -ETIMEDOUT,
				        "send: the receiver took nothing "
				        "for %d ms (%zu of %zu bytes sent)",
				        PEER_TIMEOUT_MS, off, len);
			continue;
		}
		if (n < 0)
			return peer_fail((int)n, "sendmsg: %s",
			                 strerror((int)-n));
		fds_sent = true;
		off += (size_t)n;
		if (pause_ms && off < len)
			peer_sleep_ms(pause_ms);
	}
	return 0;
}

int peer_send_raw(int fd, const void *buf, size_t len, const int *fds,
                  unsigned nfds)
{
	return peer_send_split(fd, buf, len, 0, 0, fds, nfds);
}

int peer_send(struct peer *p, uint32_t request, uint32_t flags,
              const void *payload, uint32_t size, const int *fds, unsigned nfds)
{
	struct vup_hdr h = {request, flags, size};
	uint8_t *buf = malloc(VUP_HDR_SIZE + (size_t)size);
	if (!buf)
		return peer_fail(-ENOMEM, "out of memory");
	memcpy(buf, &h, VUP_HDR_SIZE);
	if (size)
		memcpy(buf + VUP_HDR_SIZE, payload, size);
	int rc = peer_send_raw(p->ch.fd, buf, VUP_HDR_SIZE + (size_t)size, fds,
	                       nfds);
	free(buf);
	return rc;
}

void peer_msg_close(struct vup_msg *m)
{
	vup_close_fds(m->fds, m->nfds);
	m->nfds = 0;
}

int peer_recv(struct peer *p, struct vup_msg *m, int timeout_ms)
{
	uint64_t end = peer_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		int rc = vup_channel_read(&p->ch);
		if (rc == VUP_CH_MSG) {
			m->hdr = p->ch.in.hdr;
			m->nfds = p->ch.in.nfds;
			memcpy(m->fds, p->ch.in.fds, sizeof(int) * m->nfds);
			memcpy(m->payload, p->ch.in.payload, m->hdr.size);
			p->ch.in.nfds = 0;
			vup_channel_consume(&p->ch);
			return 1;
		}
		if (rc == VUP_CH_EOF)
			return peer_fail(VUP_CH_EOF, "%s: EOF (%s)", p->name,
			                 p->ch.why);
		if (rc < 0)
			return peer_fail(rc, "%s: %s", p->name, p->ch.why);
		uint64_t now = peer_now_ms();
		if (now >= end ||
		    wait_fd(p->ch.fd, POLLIN, (int)(end - now)) == -ETIMEDOUT)
			return peer_fail(
			        -ETIMEDOUT,
			        "%s: no message within %d ms (%zu bytes of "
			        "one so far)",
			        p->name, timeout_ms, p->ch.in_got);
	}
}

int peer_expect_eof(struct peer *p, int timeout_ms)
{
	struct vup_msg *m = malloc(sizeof(*m));
	if (!m)
		return peer_fail(-ENOMEM, "out of memory");
	int rc = peer_recv(p, m, timeout_ms);
	if (rc == 1) {
		peer_msg_close(m);
		rc = peer_fail(
		        -EPROTO,
		        "%s: expected EOF, got request %u flags 0x%x size %u",
		        p->name, m->hdr.request, m->hdr.flags, m->hdr.size);
	} else if (rc == VUP_CH_EOF) {
		rc = 0;
	} else if (rc == -ECONNRESET) {
		rc = 0; /* closed with data unread: as good as EOF */
	}
	free(m);
	return rc;
}

int peer_expect_silence(struct peer *p, int ms)
{
	struct vup_msg *m = malloc(sizeof(*m));
	if (!m)
		return peer_fail(-ENOMEM, "out of memory");
	int rc = peer_recv(p, m, ms);
	if (rc == 1)
		peer_msg_close(m);
	free(m);
	if (rc == -ETIMEDOUT)
		return 0;
	return peer_fail(-1, "%s: expected nothing for %d ms, got %s", p->name,
	                 ms, rc == 1 ? "a message" : "EOF or an error");
}

int peer_msg_equal(const struct vup_msg *m, uint32_t request, uint32_t flags,
                   const void *payload, uint32_t size, unsigned nfds)
{
	if (m->hdr.request != request || m->hdr.flags != flags ||
	    m->hdr.size != size)
		return peer_fail(
		        -1,
		        "header differs: got {request %u, flags 0x%x, size "
		        "%u}, sent {%u, 0x%x, %u}",
		        m->hdr.request, m->hdr.flags, m->hdr.size, request,
		        flags, size);
	if (size && memcmp(m->payload, payload, size) != 0) {
		uint32_t i = 0;
		while (m->payload[i] == ((const uint8_t *)payload)[i])
			i++;
		return peer_fail(-1, "request %u: payload differs at byte %u",
		                 request, i);
	}
	if (m->nfds != nfds)
		return peer_fail(-1, "request %u: got %u fds, sent %u", request,
		                 m->nfds, nfds);
	return 0;
}

bool peer_same_file(int a, int b)
{
	struct stat sa, sb;
	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return false;
	if (sa.st_dev != sb.st_dev || sa.st_ino != sb.st_ino ||
	    (sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT))
		return false;
	/* Eventfds share one anonymous inode: where kcmp is allowed, also
	 * ask whether both fds name the same open file (the test process
	 * plays both peers, so both are ours). */
	pid_t me = getpid();
	long r = syscall(SYS_kcmp, me, me, KCMP_FILE, a, b);
	return r <= 0;
}

int peer_relay_check(struct peer *from, struct peer *to, uint32_t request,
                     uint32_t flags, const void *payload, uint32_t size,
                     const int *fds, unsigned nfds)
{
	struct vup_msg *m = calloc(1, sizeof(*m));
	if (!m)
		return peer_fail(-ENOMEM, "out of memory");
	int rc = peer_send(from, request, flags, payload, size, fds, nfds);
	if (rc == 0)
		rc = peer_recv(to, m, PEER_TIMEOUT_MS) == 1 ? 0 : -1;
	if (rc == 0)
		rc = peer_msg_equal(m, request, flags, payload, size, nfds);
	for (unsigned i = 0; rc == 0 && i < nfds; i++)
		if (!peer_same_file(fds[i], m->fds[i]))
			rc = peer_fail(
			        -1,
			        "request %u from %s: fd %u is not the file "
			        "that was sent",
			        request, from->name, i);
	peer_msg_close(m);
	free(m);
	return rc;
}

int peer_get_features(struct peer *fe, struct peer *be, uint64_t features)
{
	uint32_t code = peer_code("GET_FEATURES");
	int rc = peer_relay_check(fe, be, code, VUP_FLAG_VERSION, NULL, 0, NULL,
	                          0);
	if (rc == 0)
		rc = peer_relay_check(be, fe, code,
		                      VUP_FLAG_VERSION | VUP_FLAG_REPLY,
		                      &features, 8, NULL, 0);
	return rc;
}

uint32_t peer_code(const char *name)
{
	const struct vup_msg_type *t = vup_proto_by_name(name);
	if (!t) {
		fprintf(stderr, "no request %s in the catalogue\n", name);
		abort();
	}
	return t->code;
}

/* Plausible payloads. */

static void put32(uint8_t *b, size_t off, uint32_t v)
{
	memcpy(b + off, &v, 4);
}

static void put64(uint8_t *b, size_t off, uint64_t v)
{
	memcpy(b + off, &v, 8);
}

/* VERSION_1 | PROTOCOL_FEATURES | MRG_RXBUF | MAC */
#define PLAUSIBLE_FEATURES 0x140008020ull
/* MQ, RARP, REPLY_ACK, MTU, BACKEND_REQ, CROSS_ENDIAN, CONFIG,
 * BACKEND_SEND_FD, HOST_NOTIFIER, INFLIGHT_SHMFD, RESET_DEVICE,
 * CONFIGURE_MEM_SLOTS, STATUS: no LOG_SHMFD, PAGEFAULT or XEN_MMAP,
 * which change reply rules and region sizes. */
#define PLAUSIBLE_PROTOCOL_FEATURES                                            \
	(1ull << VUP_PF_MQ | 1ull << 2 | 1ull << VUP_PF_REPLY_ACK |            \
	 1ull << 4 | 1ull << VUP_PF_BACKEND_REQ | 1ull << 6 |                  \
	 1ull << VUP_PF_CONFIG | 1ull << VUP_PF_BACKEND_SEND_FD | 1ull << 11 | \
	 1ull << 12 | 1ull << 13 | 1ull << VUP_PF_CONFIGURE_MEM_SLOTS |        \
	 1ull << 16)

static void region(uint8_t *b, size_t off, unsigned i)
{
	put64(b, off, 0x100000000ull * i);         /* guest address */
	put64(b, off + 8, 0x40000000ull);          /* size */
	put64(b, off + 16, 0x7f0000000000ull + i); /* user address */
	put64(b, off + 24, 0);                     /* mmap offset */
}

uint32_t peer_plausible(const struct vup_msg_type *t, bool reply, uint8_t *buf,
                        size_t cap, unsigned *nfds)
{
	enum vup_layout l;
	unsigned min, max;
	enum vup_fd_rule fr;
	if (!reply) {
		l = t->req_layout;
		min = t->req_min, max = t->req_max;
		fr = t->req_fds;
	} else if (t->reply == VUP_REPLY_ALWAYS) {
		l = t->rep_layout;
		min = t->rep_min, max = t->rep_max;
		fr = t->rep_fds;
	} else {
		/* ACK rows, SET_LOG_BASE and postcopy rows answer NEED_REPLY
		 * with a u64 ack (SET_LOG_BASE: also with LOG_SHMFD). */
		l = VUP_L_ACK;
		min = max = 8;
		fr = VUP_FD_NONE;
	}
	uint32_t size = min ? min : (max >= 8 ? 8 : max);
	for (size_t i = 0; i < cap; i++)
		buf[i] = (uint8_t)(t->code * 31 + i * 7 + (reply ? 128 : 0));
	unsigned regions = 2;
	switch (l) {
	case VUP_L_NONE: size = 0; break;
	case VUP_L_ACK: put64(buf, 0, 0); break;
	case VUP_L_FEATURES: put64(buf, 0, PLAUSIBLE_FEATURES); break;
	case VUP_L_PROTOCOL_FEATURES:
		put64(buf, 0, PLAUSIBLE_PROTOCOL_FEATURES);
		break;
	case VUP_L_VRING_STATE:
	case VUP_L_VRING_BASE:
	case VUP_L_VRING_BASE_PACKED:
		put32(buf, 0, 1);
		put32(buf, 4, 256);
		break;
	case VUP_L_VRING_ENABLE:
		put32(buf, 0, 1);
		put32(buf, 4, 1);
		break;
	case VUP_L_VRING_FD: put64(buf, 0, 1); break; /* ring 1, with fd */
	case VUP_L_MEM_TABLE:
		size = 8 + 32 * regions;
		put32(buf, 0, regions);
		put32(buf, 4, 0);
		for (unsigned i = 0; i < regions; i++)
			region(buf, 8 + 32 * i, i);
		break;
	case VUP_L_MEM_REG:
		size = 40;
		put64(buf, 0, 0);
		region(buf, 8, 3);
		break;
	case VUP_L_LOG:
		put64(buf, 0, 0x10000);
		put64(buf, 8, 0);
		break;
	case VUP_L_IOTLB:
		put64(buf, 0, 0x1000);
		put64(buf, 8, 0x1000);
		put64(buf, 16, 0x7f0000001000ull);
		buf[24] = 3; /* RW */
		buf[25] = 2; /* update */
		memset(buf + 26, 0, 6);
		break;
	case VUP_L_CONFIG:
		size = 12 + 4;
		put32(buf, 0, 0);
		put32(buf, 4, 4);
		put32(buf, 8, 0);
		break;
	case VUP_L_INFLIGHT:
		put64(buf, 0, 0x2000);
		put64(buf, 8, 0);
		buf[16] = 2, buf[17] = 0; /* num_queues */
		buf[18] = 0, buf[19] = 1; /* queue_size 256 */
		memset(buf + 20, 0, 4);
		break;
	case VUP_L_STATUS: put64(buf, 0, 0x0f); break;
	case VUP_L_MAC: buf[6] = buf[7] = 0; break;
	case VUP_L_DEVICE_STATE:
		put32(buf, 0, 0);
		put32(buf, 4, 0);
		break;
	case VUP_L_SHMEM_CONFIG:
		size = max; /* the whole 2 KiB table */
		put32(buf, 0, regions);
		put32(buf, 4, 0);
		break;
	case VUP_L_HOST_NOTIFIER:
		put64(buf, 0, 1); /* ring 1, with fd */
		put64(buf, 8, 0x1000);
		put64(buf, 16, 0);
		break;
	case VUP_L_SHMEM_MAP:
		memset(buf + 1, 0, 7);
		put64(buf, 32, 1);
		break;
	case VUP_L_OPAQUE: size = 64; break;
	default: break;
	}
	if (size > cap)
		size = (uint32_t)cap;
	switch (fr) {
	case VUP_FD_ONE:
	case VUP_FD_OPTIONAL:
	case VUP_FD_VRING: *nfds = 1; break;
	case VUP_FD_PER_REGION: *nfds = regions; break;
	default: *nfds = 0; break;
	}
	return size;
}
