/* trace_peer: a minimal vhost-user front-end and back-end in one program,
 * to push a known, numbered message stream through `vuproxy -w`.
 *
 *   trace_peer FE_SOCK BE_SOCK COUNT [PAD [crash]]
 *
 * Listens on BE_SOCK (vuproxy --backend connect:BE_SOCK), connects to
 * FE_SOCK (vuproxy --frontend listen:FE_SOCK), then forks: the child is the
 * back-end, the parent the front-end.  The front-end sends
 *   GET_FEATURES                      (the back-end replies, 8 bytes)
 *   COUNT times: SET_VRING_NUM {index 0, num i}, i = 0 .. COUNT-1,
 *                and, when PAD > 0, SET_CONFIG {offset i, size PAD, flags 0,
 *                PAD pseudo-random bytes} (hard to compress: files grow)
 *   GET_FEATURES                      (once its reply is back, vuproxy has
 *                                      recorded everything before it)
 * and closes.  The back-end checks that every num arrives once, in order.
 * On success the front-end prints "messages N" (requests and replies
 * vuproxy relayed) and "last K" (the last num) and exits 0.  Any error:
 * a message on stderr, exit 1.  Bounded: every wait times out.
 *
 * With "crash", vuproxy is expected to die midway (SIGKILL): when its
 * socket fails, the front-end prints "sent N" and the back-end "received
 * N" (the SET_VRING_NUM each got through, nums 0 .. N-1) and both exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vuproxy/channel.h"
#include "vuproxy/proto.h"

#define WAIT_MS 10000

#define REQ_GET_FEATURES  1
#define REQ_SET_VRING_NUM 8
#define REQ_SET_CONFIG    25

static const char *role = "trace_peer";
static bool crash_mode;
static const char *progress_word = "progress";
static unsigned long progress; /* SET_VRING_NUM sent / received */
static pid_t child_pid;

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt,
                                                                ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", role);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* The peer is gone: an error, or in crash mode the expected end. */
__attribute__((noreturn)) static void gone(const char *what, const char *why)
{
	if (!crash_mode)
		die("%s: %s", what, why);
	printf("%s %lu\n", progress_word, progress);
	fflush(stdout);
	int status = 0;
	if (child_pid > 0 && (waitpid(child_pid, &status, 0) < 0 ||
	                      !WIFEXITED(status) || WEXITSTATUS(status)))
		die("the back-end failed (status 0x%x)", status);
	_exit(0);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wait_fd(int fd, short events, const char *what)
{
	struct pollfd p = {.fd = fd, .events = events};
	int rc;
	do {
		rc = poll(&p, 1, WAIT_MS);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0)
		die("poll: %s", strerror(errno));
	if (rc == 0)
		die("timed out after %d ms waiting to %s", WAIT_MS, what);
}

static int unix_socket(const char *path, struct sockaddr_un *sa)
{
	if (strlen(path) >= sizeof(sa->sun_path))
		die("%s: path too long", path);
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	strcpy(sa->sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	return fd;
}

static int set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void send_msg(struct vup_channel *ch, uint32_t request, uint32_t flags,
                     const void *payload, uint32_t size)
{
	struct vup_hdr h = {.request = request, .flags = flags, .size = size};
	int nofds[1] = {-1}; /* not NULL: memcpy(dst, NULL, 0) is undefined */
	if (vup_channel_send(ch, &h, payload, nofds, 0) < 0)
		gone("send", ch->why);
	while (vup_channel_pending(ch)) {
		wait_fd(ch->fd, POLLOUT, "write");
		if (vup_channel_flush(ch) < 0)
			gone("send", ch->why);
	}
}

/* 1 = a message in ch->in; 0 = clean EOF. */
static int recv_msg(struct vup_channel *ch)
{
	for (;;) {
		int rc = vup_channel_read(ch);
		if (rc == VUP_CH_MSG)
			return 1;
		if (rc == VUP_CH_EOF && ch->in_got == 0 && !crash_mode)
			return 0;
		if (rc != VUP_CH_AGAIN)
			gone("read", ch->why);
		wait_fd(ch->fd, POLLIN, "read a message");
	}
}

static void pad_bytes(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

static int backend(struct vup_channel *ch, unsigned long count)
{
	role = "trace_peer back-end";
	progress_word = "received";
	unsigned long next = 0;
	unsigned gf = 0;
	while (recv_msg(ch)) {
		struct vup_msg *m = &ch->in;
		if (m->nfds)
			die("request %u came with %u fds", m->hdr.request,
			    m->nfds);
		switch (m->hdr.request) {
		case REQ_GET_FEATURES: {
			uint64_t features = 1ull << 32; /* VERSION_1 */
			gf++;
			if (gf == 2 && next != count)
				die("final GET_FEATURES after %lu of %lu "
				    "SET_VRING_NUM",
				    next, count);
			vup_channel_consume(ch);
			send_msg(ch, REQ_GET_FEATURES, 0x5, &features, 8);
			continue;
		}
		case REQ_SET_VRING_NUM: {
			uint32_t st[2];
			if (m->hdr.size != 8)
				die("SET_VRING_NUM of %u bytes", m->hdr.size);
			memcpy(st, m->payload, 8);
			if (st[1] != (uint32_t)next)
				die("SET_VRING_NUM num %u, expected %lu", st[1],
				    next);
			next++;
			progress = next;
			break;
		}
		case REQ_SET_CONFIG: break;
		default:
			die("unexpected request %u (flags 0x%x)",
			    m->hdr.request, m->hdr.flags);
		}
		vup_channel_consume(ch);
	}
	if (gf != 2 || next != count)
		die("EOF after %u GET_FEATURES and %lu of %lu SET_VRING_NUM",
		    gf, next, count);
	return 0;
}

static void get_features(struct vup_channel *ch)
{
	send_msg(ch, REQ_GET_FEATURES, 0x1, NULL, 0);
	if (!recv_msg(ch))
		die("EOF while waiting for the GET_FEATURES reply");
	if (ch->in.hdr.request != REQ_GET_FEATURES || ch->in.hdr.flags != 0x5 ||
	    ch->in.hdr.size != 8)
		die("expected the GET_FEATURES reply, got request %u flags "
		    "0x%x size %u",
		    ch->in.hdr.request, ch->in.hdr.flags, ch->in.hdr.size);
	vup_channel_consume(ch);
}

static int frontend(struct vup_channel *ch, unsigned long count, unsigned pad)
{
	role = "trace_peer front-end";
	progress_word = "sent";
	uint8_t cfg[12 + 256];
	get_features(ch);
	for (unsigned long i = 0; i < count; i++) {
		uint32_t st[2] = {0, (uint32_t)i};
		send_msg(ch, REQ_SET_VRING_NUM, 0x1, st, 8);
		progress = i + 1;
		if (pad) {
			uint32_t h3[3] = {(uint32_t)i, pad, 0};
			memcpy(cfg, h3, 12);
			pad_bytes(cfg + 12, pad, i);
			send_msg(ch, REQ_SET_CONFIG, 0x1, cfg, 12 + pad);
		}
	}
	get_features(ch);
	vup_channel_close(ch);
	printf("messages %lu\n", 4 + count * (pad ? 2 : 1));
	printf("last %lu\n", count ? count - 1 : 0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 6 ||
	    (argc == 6 && strcmp(argv[5], "crash") != 0)) {
		fprintf(stderr, "usage: trace_peer FE_SOCK BE_SOCK COUNT [PAD "
		                "[crash]]\n");
		return 2;
	}
	crash_mode = argc == 6;
	const char *fe_path = argv[1], *be_path = argv[2];
	unsigned long count = strtoul(argv[3], NULL, 10);
	unsigned pad = argc >= 5 ? (unsigned)strtoul(argv[4], NULL, 10) : 0;
	if (pad > 256)
		die("PAD is at most 256");
	signal(SIGPIPE, SIG_IGN);

	struct sockaddr_un sa;
	int lfd = unix_socket(be_path, &sa);
	unlink(be_path);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 4) < 0)
		die("%s: %s", be_path, strerror(errno));

	int fe = unix_socket(fe_path, &sa);
	long long end = now_ms() + WAIT_MS;
	while (connect(fe, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if ((errno != ENOENT && errno != ECONNREFUSED) ||
		    now_ms() > end)
			die("connect %s: %s", fe_path, strerror(errno));
		usleep(10000);
	}
	wait_fd(lfd, POLLIN, "accept vuproxy's back-end connection");
	int be = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (be < 0)
		die("accept: %s", strerror(errno));
	close(lfd);
	unlink(be_path);
	if (set_nonblocking(fe) || set_nonblocking(be))
		die("O_NONBLOCK: %s", strerror(errno));

	struct vup_channel ch;
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(fe);
		vup_channel_init(&ch, be);
		_exit(backend(&ch, count));
	}
	close(be);
	child_pid = pid;
	vup_channel_init(&ch, fe);
	int rc = frontend(&ch, count, pad);
	int status;
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("the back-end failed (status 0x%x)", status);
	return rc;
}
