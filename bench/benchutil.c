/* benchutil: see benchutil.h. */
#include "benchutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		fprintf(stderr, "socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sa->sun_path, path);
	return 0;
}

int bu_listen(const char *path)
{
	struct sockaddr_un sa;
	if (fill_addr(&sa, path))
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("socket");
		return -1;
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 16) < 0) {
		fprintf(stderr, "listen %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int bu_accept(int lfd)
{
	int fd;
	do {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		perror("accept");
	return fd;
}

int bu_connect(const char *path, double timeout_s)
{
	struct sockaddr_un sa;
	if (fill_addr(&sa, path))
		return -1;
	uint64_t end = bu_now_ns() + (uint64_t)(timeout_s * 1e9);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			perror("socket");
			return -1;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		int e = errno;
		close(fd);
		if ((e != ENOENT && e != ECONNREFUSED && e != EINTR) ||
		    bu_now_ns() > end) {
			fprintf(stderr, "connect %s: %s\n", path, strerror(e));
			return -1;
		}
		usleep(1000);
	}
}

int bu_recv_exact(int fd, void *buf, size_t len, int *fds, unsigned *nfds,
                  unsigned maxfds)
{
	size_t got = 0;
	while (got < len) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * VUP_MAX_FDS)];
			struct cmsghdr align;
		} cbuf;
		struct iovec iov = {.iov_base = (char *)buf + got,
		                    .iov_len = len - got};
		struct msghdr mh = {.msg_iov = &iov,
		                    .msg_iovlen = 1,
		                    .msg_control = cbuf.buf,
		                    .msg_controllen = sizeof(cbuf.buf)};
		ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("recvmsg");
			return -1;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c;
		     c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET ||
			    c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < cnt; i++) {
				int f;
				memcpy(&f, CMSG_DATA(c) + i * sizeof(int),
				       sizeof(f));
				if (*nfds < maxfds)
					fds[(*nfds)++] = f;
				else
					close(f);
			}
		}
		if (mh.msg_flags & MSG_CTRUNC) {
			fprintf(stderr, "recvmsg: too many fds (MSG_CTRUNC)\n");
			return -1;
		}
		if (n == 0) {
			if (got == 0)
				return 1;
			fprintf(stderr, "peer closed mid-message\n");
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

int bu_recv_msg(int fd, struct vup_hdr *h, uint8_t *payload, int *fds,
                unsigned *nfds)
{
	*nfds = 0;
	int rc = bu_recv_exact(fd, h, VUP_HDR_SIZE, fds, nfds, VUP_MAX_FDS);
	if (rc)
		return rc;
	if (h->size > VUP_MAX_PAYLOAD) {
		fprintf(stderr, "payload of %u bytes is too large\n", h->size);
		return -1;
	}
	if (h->size == 0)
		return 0;
	rc = bu_recv_exact(fd, payload, h->size, fds, nfds, VUP_MAX_FDS);
	return rc ? -1 : 0;
}

int bu_send_msg(int fd, const struct vup_hdr *h, const void *payload,
                const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VUP_MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov[2] = {
	        {.iov_base = (void *)h, .iov_len = VUP_HDR_SIZE},
	        {.iov_base = (void *)payload, .iov_len = h->size},
	};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = h->size ? 2 : 1};
	if (nfds > VUP_MAX_FDS) {
		fprintf(stderr, "too many fds to send\n");
		return -1;
	}
	if (nfds) {
		memset(cbuf.buf, 0, sizeof(cbuf.buf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	size_t left = VUP_HDR_SIZE + h->size;
	while (left) {
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("sendmsg");
			return -1;
		}
		left -= (size_t)n;
		/* A partial write: the fds went with the first byte. */
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		while (n > 0 && mh.msg_iovlen) {
			size_t take = (size_t)n < mh.msg_iov->iov_len
			                      ? (size_t)n
			                      : mh.msg_iov->iov_len;
			mh.msg_iov->iov_base =
			        (char *)mh.msg_iov->iov_base + take;
			mh.msg_iov->iov_len -= take;
			n -= (ssize_t)take;
			if (mh.msg_iov->iov_len == 0) {
				mh.msg_iov++;
				mh.msg_iovlen--;
			}
		}
	}
	return 0;
}

uint64_t bu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
