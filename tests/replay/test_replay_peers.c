/* `vuproxy replay` against a scripted peer in this process.
 *
 * The replay runs in a child process (vup_replay_main, stdout and stderr
 * to files); this process is the live peer and plays the recorded other
 * side from the same script, checking every message it gets byte for
 * byte and every fd's kind (vup_fd_describe, as the trace does).  Cases:
 * identical sessions (exit 0), differences named per field (exit 1), a
 * back-end that closes early or is not there (exit 2, naming the
 * request), the back-end channel answered as recorded, recorded pacing,
 * and the same as the back-end for a live front-end; a file that starts
 * mid-session and declares its set-up replays whole in both roles, one
 * that does not declare it is refused. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rtrace.h"
#include "vuproxy/channel.h"
#include "vuproxy/endpoint.h"
#include "vuproxy/replay.h"

#define M  VUP_CHAN_MAIN
#define B  VUP_CHAN_BACKEND
#define FE VUP_FRONTEND
#define BE VUP_BACKEND
#define RQ VUP_FLAG_VERSION
#define RP (VUP_FLAG_VERSION | VUP_FLAG_REPLY)

static char dir[64], trace[100], sock[100], out[100], errf[100];
static struct rt t;

static int setup(void **state)
{
	(void)state;
	/* Short: the socket path must fit a sockaddr_un. */
	snprintf(dir, sizeof(dir), "/tmp/vup-replay-peers.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(trace, sizeof(trace), "%s/t.pcapng.gz", dir);
	snprintf(sock, sizeof(sock), "%s/peer.sock", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(errf, sizeof(errf), "%s/err", dir);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static char *slurp(const char *p)
{
	static char buf[65536];
	FILE *f = fopen(p, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
	return buf;
}

#define assert_contains(hay, needle)                                           \
	do {                                                                   \
		if (!strstr((hay), (needle)))                                  \
			fail_msg("\"%s\" lacks \"%s\"", (hay), (needle));      \
	} while (0)

/* Run `vuproxy replay ARGS...` in a child. */
static pid_t start_replay(const char *first, ...)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = "replay";
	argv[argc++] = trace;
	va_list ap;
	va_start(ap, first);
	for (const char *a = first; a && argc < 30;
	     a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(o, 1);
		dup2(e, 2);
		alarm(60);
		int rc = vup_replay_main(argc, argv);
		fflush(NULL);
		_exit(rc);
	}
	return pid;
}

static int finish(pid_t pid)
{
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st))
		fail_msg("replay died with status 0x%x; stderr: %s", st,
		         slurp(errf));
	return WEXITSTATUS(st);
}

/* Read one message within timeout_ms: VUP_CH_MSG, VUP_CH_EOF,
 * -ETIMEDOUT or -errno. */
static int recv_msg(struct vup_channel *ch, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		int rc = vup_channel_read(ch);
		if (rc != VUP_CH_AGAIN)
			return rc;
		uint64_t now = now_ms();
		if (now >= end)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = ch->fd, .events = POLLIN};
		poll(&p, 1, (int)(end - now));
	}
}

static void send_msg(struct vup_channel *ch, const struct vup_hdr *h,
                     const uint8_t *payload, int *fds, unsigned nfds)
{
	assert_int_equal(vup_channel_send(ch, h, payload, fds, nfds), 0);
	while (vup_channel_pending(ch)) {
		struct pollfd p = {.fd = ch->fd, .events = POLLOUT};
		poll(&p, 1, 1000);
		assert_true(vup_channel_flush(ch) >= 0);
	}
}

/* A received message is the recorded one: header, payload, fd kinds
 * (memory fds at least as big as recorded). */
static void check_same(struct vup_channel *ch, const struct rt_msg *m, size_t i)
{
	struct vup_msg *in = &ch->in;
	if (in->hdr.request != m->h.request || in->hdr.flags != m->h.flags ||
	    in->hdr.size != m->h.size)
		fail_msg("message %zu: got request %u flags 0x%x size %u, "
		         "recorded %u 0x%x %u",
		         i, in->hdr.request, in->hdr.flags, in->hdr.size,
		         m->h.request, m->h.flags, m->h.size);
	assert_memory_equal(in->payload, m->payload, m->h.size);
	if (in->nfds != m->nfds)
		fail_msg("message %zu: %u fds, recorded %u", i, in->nfds,
		         m->nfds);
	for (unsigned k = 0; k < in->nfds; k++) {
		struct vup_fd_info d;
		vup_fd_describe(in->fds[k], &d);
		if (d.kind != m->fds[k].kind)
			fail_msg("message %zu fd %u: a %s, recorded a %s", i, k,
			         vup_fd_kind_name(d.kind),
			         vup_fd_kind_name(m->fds[k].kind));
		if (d.kind == VUP_FDK_MEMFD)
			assert_true(d.size >= m->fds[k].size);
	}
}

static int fresh_fd(const struct vup_fd_info *f)
{
	if (f->kind == VUP_FDK_EVENTFD)
		return eventfd(0, EFD_CLOEXEC);
	if (f->kind == VUP_FDK_SOCKET) {
		int sv[2];
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		return sv[1]; /* sv[0] leaks into the peer side: unused */
	}
	int fd = memfd_create("test", MFD_CLOEXEC);
	assert_int_equal(ftruncate(fd, (off_t)f->size), 0);
	return fd;
}

/* What the scripted peer does differently at message i. */
struct twist {
	long index; /* -1: none */
	enum { TW_VALUE, TW_CLOSE, TW_SKIP, TW_SILENT } what;
	uint64_t value; /* TW_VALUE: the u64 sent instead */
};

static bool twisted(const struct twist *tw, size_t n, size_t i,
                    const struct twist **found)
{
	for (size_t k = 0; k < n; k++)
		if (tw[k].index == (long)i) {
			*found = &tw[k];
			return true;
		}
	return false;
}

/* Send recorded message i of the script, as given or twisted. */
static void send_recorded(struct vup_channel *ch, size_t i,
                          const struct twist *tw)
{
	const struct rt_msg *m = &t.m[i];
	uint8_t payload[512];
	memcpy(payload, m->payload, m->h.size);
	if (tw && tw->what == TW_VALUE)
		memcpy(payload, &tw->value, 8);
	int fds[4];
	for (unsigned k = 0; k < m->nfds; k++)
		fds[k] = fresh_fd(&m->fds[k]);
	send_msg(ch, &m->h, payload, fds, m->nfds);
}

/* Be the recorded back-end (peer of --as front-end).  Returns false if
 * a twist closed the connection. */
static void be_backend(struct vup_channel *ch, const struct twist *tw,
                       size_t ntw)
{
	struct vup_channel bch;
	vup_channel_init(&bch, -1);
	for (size_t i = 0; i < t.n; i++) {
		const struct rt_msg *m = &t.m[i];
		bool on_bch = m->tflags & VUP_TRACE_F_BACKEND_CHAN;
		bool from_be = m->tflags & VUP_TRACE_F_FROM_BACKEND;
		const struct twist *w = NULL;
		bool tw_i = twisted(tw, ntw, i, &w);
		if (from_be) {
			if (tw_i && w->what == TW_SILENT)
				continue;
			send_recorded(on_bch ? &bch : ch, i, tw_i ? w : NULL);
			continue;
		}
		struct vup_channel *c = on_bch ? &bch : ch;
		int rc = recv_msg(c, 5000);
		if (rc != VUP_CH_MSG)
			fail_msg("message %zu: %d instead of a message; "
			         "stderr: %s",
			         i, rc, slurp(errf));
		check_same(c, m, i);
		if (!on_bch && m->h.request == 21) { /* SET_BACKEND_REQ_FD */
			vup_channel_init(&bch, c->in.fds[0]);
			c->in.fds[0] = -1;
			fcntl(bch.fd, F_SETFL, O_NONBLOCK);
		}
		vup_close_fds(c->in.fds, c->in.nfds);
		vup_channel_consume(c);
		if (tw_i && w->what == TW_CLOSE)
			break;
	}
	vup_channel_close(&bch);
}

static struct vup_channel accept_one(int lfd)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 5000), 1);
	int fd = vup_endpoint_accept(lfd);
	assert_true(fd >= 0);
	struct vup_channel ch;
	vup_channel_init(&ch, fd);
	return ch;
}

static int listen_sock(void)
{
	struct vup_endpoint ep = {.role = VUP_ROLE_LISTEN};
	snprintf(ep.path, sizeof(ep.path), "%s", sock);
	char err[256];
	int fd = vup_endpoint_listen(&ep, 0600, err, sizeof(err));
	if (fd < 0)
		fail_msg("listen: %s", err);
	return fd;
}

/* Replay --as front-end against be_backend with twists; exit status. */
static int against_backend(const struct twist *tw, size_t ntw,
                           const char *extra1, const char *extra2)
{
	assert_int_equal(rt_write(&t, trace), 0);
	int lfd = listen_sock();
	char spec[400];
	snprintf(spec, sizeof(spec), "connect:%s", sock);
	pid_t pid =
	        start_replay("--as", "front-end", "--backend", spec,
	                     "--reply-timeout", "1000", extra1, extra2, NULL);
	struct vup_channel ch = accept_one(lfd);
	be_backend(&ch, tw, ntw);
	vup_channel_close(&ch);
	int rc = finish(pid);
	close(lfd);
	return rc;
}

static void reset_script(void)
{
	memset(&t, 0, sizeof(t));
	rt_session(&t, 1);
}

static void fe_identical(void **state)
{
	(void)state;
	reset_script();
	assert_int_equal(against_backend(NULL, 0, NULL, NULL), 0);
	assert_contains(slurp(out),
	                "11 messages sent, 4 received, 4 compared, 0 "
	                "differences: identical");
	assert_string_equal(slurp(errf), "");
}

static void fe_differences_named(void **state)
{
	(void)state;
	reset_script();
	/* GET_FEATURES reply: IN_ORDER instead of RING_PACKED; the last
	 * GET_VRING_BASE reply: num 5. */
	struct twist tw[] = {
	        {2, TW_VALUE, (1ull << 32) | (1ull << 35) | (1ull << 30)},
	        {14, TW_VALUE, 5ull << 32},
	};
	assert_int_equal(against_backend(tw, 2, NULL, NULL), 1);
	const char *o = slurp(out);
	assert_contains(o, "#3 GET_FEATURES reply: -VIRTIO_F_RING_PACKED "
	                   "+VIRTIO_F_IN_ORDER\n");
	assert_contains(o, "#15 GET_VRING_BASE reply: num 0 -> 5\n");
	assert_contains(o, "2 differences: different");
	/* --ignore takes them away, one by one. */
	assert_int_equal(against_backend(tw, 2, "--ignore", "num"), 1);
	o = slurp(out);
	assert_contains(o, "1 differences: different");
	assert_int_equal(against_backend(tw, 2, "--ignore",
	                                 "GET_VRING_BASE.num,GET_FEATURES."
	                                 "features"),
	                 0);
}

/* rt_session with its GET_VRING_BASE after a SET_VRING_BASE of `set` on
 * vring 0, recorded after traffic: the recorded back-end answered
 * `recorded`.  The features (SET_FEATURES) get `more` bits too.  The
 * index of the recorded answer, for twists. */
static long vring_base_session(uint32_t set, uint32_t recorded, uint64_t more)
{
	reset_script();
	t.n -= 2; /* GET_VRING_BASE and its answer */
	uint64_t features;
	memcpy(&features, t.m[6].payload, 8);
	assert_int_equal(t.m[6].h.request, 2);
	features |= more;
	memcpy(t.m[6].payload, &features, 8);
	rt_u64(&t, 1, M, FE, 10, RQ, (uint64_t)set << 32); /* #14 */
	rt_u64(&t, 1, M, FE, 11, RQ, 0);
	rt_u64(&t, 1, M, BE, 11, RP, (uint64_t)recorded << 32);
	return (long)t.n - 1;
}

/* Split ring: a GET_VRING_BASE is expected at the base the replay set
 * (7), not where the recorded traffic left it (40); a back-end that
 * answers anything else, the recorded 40 included, differs. */
static void fe_vring_base_split(void **state)
{
	(void)state;
	long at = vring_base_session(7, 40, 0);
	struct twist same[] = {{at, TW_VALUE, 7ull << 32}};
	assert_int_equal(against_backend(same, 1, NULL, NULL), 0);
	assert_contains(slurp(out), "0 differences: identical");
	assert_int_equal(against_backend(NULL, 0, NULL, NULL), 1);
	assert_contains(slurp(out), "#16 GET_VRING_BASE reply: num 7 -> 40 "
	                            "(expected: the base #14 SET_VRING_BASE "
	                            "set; recorded num=40)\n");
	struct twist other[] = {{at, TW_VALUE, 8ull << 32}};
	assert_int_equal(against_backend(other, 1, NULL, NULL), 1);
	assert_contains(slurp(out), "GET_VRING_BASE reply: num 7 -> 8 ");
	assert_contains(slurp(out), "1 differences: different");
}

/* Packed ring: the replay sets avail 0 wrap 1 and used 0 wrap 1
 * (0x80008000, as QEMU does); the recorded DPDK back-end answered the
 * avail half alone (avail 37 wrap 1: 0x8025), so the fresh one is
 * expected to answer 0x8000.  Reporting the used half too, or the
 * recorded index, is a difference named by field. */
static void fe_vring_base_packed(void **state)
{
	(void)state;
	long at = vring_base_session(0x80008000u, 0x8025, 1ull << 34);
	struct twist dpdk[] = {{at, TW_VALUE, 0x8000ull << 32}};
	assert_int_equal(against_backend(dpdk, 1, NULL, NULL), 0);
	assert_contains(slurp(out), "0 differences: identical");
	assert_int_equal(against_backend(NULL, 0, NULL, NULL), 1);
	assert_contains(slurp(out),
	                "#16 GET_VRING_BASE reply: avail_idx 0 -> 37 "
	                "(expected: the base #14 SET_VRING_BASE set; recorded "
	                "avail_idx=37 avail_wrap=1 used_idx=0 used_wrap=0)\n");
	struct twist both[] = {{at, TW_VALUE, 0x80008000ull << 32}};
	assert_int_equal(against_backend(both, 1, NULL, NULL), 1);
	assert_contains(slurp(out), "GET_VRING_BASE reply: used_wrap 0 -> 1 ");
}

static void fe_missing_reply(void **state)
{
	(void)state;
	reset_script();
	/* The back-end does not acknowledge SET_MEM_TABLE. */
	struct twist tw[] = {{8, TW_SILENT, 0}};
	assert_int_equal(against_backend(tw, 1, NULL, NULL), 1);
	assert_contains(slurp(out), "#9 SET_MEM_TABLE reply: no reply within "
	                            "1000 ms (recorded: ack=0, 8 bytes)");
}

static void fe_backend_closes_early(void **state)
{
	(void)state;
	reset_script();
	struct twist tw[] = {{7, TW_CLOSE, 0}};
	assert_int_equal(against_backend(tw, 1, NULL, NULL), 2);
	assert_contains(slurp(errf), "the back-end closed the connection while "
	                             "vuproxy waited for the reply to #8 "
	                             "SET_MEM_TABLE");
	/* Closed after a request that has no reply: vuproxy finds out on
	 * one of the next (which one depends on timing). */
	struct twist tw2[] = {{9, TW_CLOSE, 0}};
	assert_int_equal(against_backend(tw2, 1, NULL, NULL), 2);
	assert_contains(slurp(errf), "the back-end closed the connection");
}

static void fe_no_backend(void **state)
{
	(void)state;
	reset_script();
	assert_int_equal(rt_write_gz(&t, trace), 0);
	unlink(sock);
	char spec[400];
	snprintf(spec, sizeof(spec), "connect:%s", sock);
	pid_t pid = start_replay("--as", "front-end", "--backend", spec, NULL);
	assert_int_equal(finish(pid), 2);
	assert_contains(slurp(errf), "cannot connect to the back-end at");
}

/* The back-end channel: vuproxy gives the back-end a socket, and answers
 * its request there as the recorded front-end did (with an fd of the
 * recorded kind). */
static void fe_backend_channel(void **state)
{
	(void)state;
	reset_script();
	t.n -= 2; /* GET_VRING_BASE last, after the back-end channel */
	struct rt_msg *m = rt_add(&t, 1, M, FE, 21, RQ, NULL, 0);
	rt_fd(m, VUP_FDK_SOCKET, 0);
	uint8_t uuid[16] = {1, 2, 3, 4};
	rt_add(&t, 1, B, BE, 8, RQ, uuid, 16); /* SHARED_OBJECT_LOOKUP */
	m = rt_u64(&t, 1, B, FE, 8, RP, 0);
	rt_fd(m, VUP_FDK_MEMFD, 4096);
	uint64_t vs = 0;
	rt_add(&t, 1, M, FE, 11, RQ, &vs, 8);
	rt_u64(&t, 1, M, BE, 11, RP, 0);
	assert_int_equal(against_backend(NULL, 0, NULL, NULL), 0);
	assert_contains(slurp(out), "0 differences: identical");
	/* The back-end asks for another object: a difference. */
	struct twist tw[] = {{(long)t.n - 4, TW_VALUE, 9}};
	assert_int_equal(against_backend(tw, 1, NULL, NULL), 1);
	assert_contains(slurp(out), "BACKEND_SHARED_OBJECT_LOOKUP (back-end "
	                            "channel): uuid differs");
}

static void fe_paced(void **state)
{
	(void)state;
	memset(&t, 0, sizeof(t));
	rt_add(&t, 1, M, FE, 3, RQ, NULL, 0);
	rt_add(&t, 1, M, FE, 1, RQ, NULL, 0);
	rt_u64(&t, 1, M, BE, 1, RP, 1);
	rt_u64(&t, 1, M, FE, 2, RQ, 1);
	/* 0, 150, 151, 300 ms. */
	uint64_t t0 = t.m[0].ts_ns;
	t.m[1].ts_ns = t0 + 150000000;
	t.m[2].ts_ns = t0 + 151000000;
	t.m[3].ts_ns = t0 + 300000000;
	assert_int_equal(rt_write(&t, trace), 0);
	int lfd = listen_sock();
	char spec[400];
	snprintf(spec, sizeof(spec), "connect:%s", sock);
	pid_t pid = start_replay("--as", "front-end", "--backend", spec,
	                         "--pace", "recorded", NULL);
	struct vup_channel ch = accept_one(lfd);
	uint64_t at[3];
	size_t k = 0;
	for (size_t i = 0; i < t.n; i++) {
		if (t.m[i].tflags & VUP_TRACE_F_FROM_BACKEND) {
			send_recorded(&ch, i, NULL);
			continue;
		}
		assert_int_equal(recv_msg(&ch, 5000), VUP_CH_MSG);
		at[k++] = now_ms();
		vup_channel_consume(&ch);
	}
	assert_int_equal(finish(pid), 0);
	vup_channel_close(&ch);
	close(lfd);
	/* 150 and 300 ms after the first, within scheduling noise. */
	assert_true(at[1] - at[0] >= 145 && at[1] - at[0] < 400);
	assert_true(at[2] - at[0] >= 295 && at[2] - at[0] < 550);
}

/* Be the recorded front-end (peer of --as back-end). */
static void be_frontend(struct vup_channel *ch, const struct twist *tw,
                        size_t ntw)
{
	for (size_t i = 0; i < t.n; i++) {
		const struct rt_msg *m = &t.m[i];
		const struct twist *w = NULL;
		bool tw_i = twisted(tw, ntw, i, &w);
		if (!(m->tflags & VUP_TRACE_F_FROM_BACKEND)) {
			if (tw_i && w->what == TW_SKIP)
				continue;
			send_recorded(ch, i, tw_i ? w : NULL);
			continue;
		}
		if (i > 0 && twisted(tw, ntw, i - 1, &w) && w->what == TW_SKIP)
			continue; /* no request, no reply */
		int rc = recv_msg(ch, 5000);
		if (rc != VUP_CH_MSG)
			fail_msg("reply %zu: %d; stderr: %s", i, rc,
			         slurp(errf));
		check_same(ch, m, i);
		vup_close_fds(ch->in.fds, ch->in.nfds);
		vup_channel_consume(ch);
	}
}

static int against_frontend(const struct twist *tw, size_t ntw, bool write)
{
	if (write)
		assert_int_equal(rt_write(&t, trace), 0);
	unlink(sock);
	char spec[400];
	snprintf(spec, sizeof(spec), "listen:%s", sock);
	pid_t pid = start_replay("--as", "back-end", "--frontend", spec, NULL);
	struct vup_endpoint ep = {.role = VUP_ROLE_CONNECT};
	snprintf(ep.path, sizeof(ep.path), "%s", sock);
	int fd = -1;
	for (int k = 0; k < 200 && fd < 0; k++) {
		fd = vup_endpoint_connect(&ep);
		if (fd < 0)
			usleep(10000);
	}
	assert_true(fd >= 0);
	struct vup_channel ch;
	vup_channel_init(&ch, fd);
	be_frontend(&ch, tw, ntw);
	vup_channel_close(&ch);
	return finish(pid);
}

static void be_identical(void **state)
{
	(void)state;
	reset_script();
	assert_int_equal(against_frontend(NULL, 0, true), 0);
	assert_contains(slurp(out), "session 1 as back-end");
	assert_contains(slurp(out), "0 differences: identical");
}

static void be_differences(void **state)
{
	(void)state;
	reset_script();
	/* SET_FEATURES with IN_ORDER too; no GET_VRING_BASE at the end. */
	struct twist tw[] = {
	        {6, TW_VALUE, (1ull << 32) | (1ull << 30) | (1ull << 35)},
	        {13, TW_SKIP, 0},
	};
	assert_int_equal(against_frontend(tw, 2, true), 1);
	const char *o = slurp(out);
	assert_contains(o, "#7 SET_FEATURES: +VIRTIO_F_IN_ORDER\n");
	assert_contains(o, "#14 GET_VRING_BASE: recorded, never sent by the "
	                   "live front-end\n");
	/* Requests out of the recorded order are still answered by type,
	 * and the first change of order is named. */
	reset_script();
	assert_int_equal(rt_write_gz(&t, trace), 0);
	struct rt_msg tmp = t.m[9];
	t.m[9] = t.m[10];
	t.m[10] = tmp; /* live: SET_VRING_ADDR before SET_VRING_NUM */
	assert_int_equal(against_frontend(NULL, 0, false), 1);
	assert_contains(slurp(out), "#10 SET_VRING_NUM: the live front-end "
	                            "sent SET_VRING_ADDR(9) here instead");
	assert_contains(slurp(out), "1 differences");
}

/* A continued file whose first 13 messages (up to SET_VRING_CALL) are
 * declared state: the same session as fe_identical/be_identical. */
static void declared_script(void)
{
	reset_script();
	rt_declare(&t, 13);
	t.continued = true;
}

/* As front-end: the declared requests are sent first, with fresh fds of
 * their kinds, and the declared replies expected; then the events. */
static void fe_declared(void **state)
{
	(void)state;
	declared_script();
	assert_int_equal(against_backend(NULL, 0, NULL, NULL), 0);
	assert_contains(slurp(out),
	                "11 messages sent, 4 received, 4 compared, 0 "
	                "differences: identical");
	assert_string_equal(slurp(errf), "");
	/* A difference in a declared reply is named like any other. */
	declared_script();
	struct twist tw[] = {{4, TW_VALUE, (1ull << 3)}};
	assert_int_equal(against_backend(tw, 1, NULL, NULL), 1);
	assert_contains(slurp(out), "#5 GET_PROTOCOL_FEATURES reply: "
	                            "-BACKEND_REQ");
}

/* As back-end: the declared replies answer the live front-end. */
static void be_declared(void **state)
{
	(void)state;
	declared_script();
	assert_int_equal(against_frontend(NULL, 0, true), 0);
	assert_contains(slurp(out), "0 differences: identical");
}

/* Bad captures end with exit 2 and one clear line, before any
 * connection is tried. */
static void bad_captures(void **state)
{
	(void)state;
	static const struct {
		const char *what, *says;
	} cases[] = {
	        {"cut", "cut short"},
	        {"foreign", "not a readable trace"},
	        {"newer", "written by a newer vuproxy"},
	        {"nosetup", "has no setup"},
	        {"nosession", "no session 4"},
	        {"undeclared", "lacks its set-up (no declared state: it was "
	                       "written by an older vuproxy); re-record it"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *w = cases[i].what;
		reset_script();
		if (strcmp(w, "cut") == 0) {
			assert_int_equal(rt_write_gz(&t, trace), 0);
			assert_int_equal(truncate(trace, 300), 0);
		} else if (strcmp(w, "foreign") == 0) {
			FILE *f = fopen(trace, "w");
			fputs("GIF89a, not a trace\n", f);
			fclose(f);
		} else if (strcmp(w, "newer") == 0) {
			assert_int_equal(rt_write_plain(&t, trace, 9), 0);
		} else if (strcmp(w, "nosetup") == 0) {
			memmove(&t.m[0], &t.m[9], 2 * sizeof(t.m[0]));
			t.n = 2; /* SET_VRING_NUM, SET_VRING_ADDR */
			assert_int_equal(rt_write_gz(&t, trace), 0);
		} else if (strcmp(w, "undeclared") == 0) {
			/* From GET_VRING_BASE on: a continued file with
			 * nothing else, as an older -C wrote it. */
			memmove(&t.m[0], &t.m[13], 2 * sizeof(t.m[0]));
			t.n = 2;
			t.continued = true;
			assert_int_equal(rt_write(&t, trace), 0);
		} else {
			assert_int_equal(rt_write_gz(&t, trace), 0);
		}
		char spec[400];
		snprintf(spec, sizeof(spec), "connect:%s", sock);
		pid_t pid = start_replay(
		        "--as", "front-end", "--backend", spec, "--session",
		        strcmp(w, "nosession") ? "1" : "4", NULL);
		int rc = finish(pid);
		if (rc != 2)
			fail_msg("%s: exit %d, want 2", w, rc);
		const char *e = slurp(errf);
		assert_contains(e, cases[i].says);
		assert_contains(e, "vuproxy replay: ");
		assert_string_equal(slurp(out), "");
	}
}

/* ---- --frames: a device back-end that maps the memfd and takes the
 * buffers offered on vring 1 ---- */

#define FR_GPA   0x100000ull
#define FR_UADDR 0x7f0000100000ull
#define FR_NUM   64u
#define FR_DESC  (FR_UADDR + 0x1000)
#define FR_AVAIL (FR_UADDR + 0x2000)
#define FR_USED  (FR_UADDR + 0x3000)

/* The SET_VRING_BASE num frames_session records. */
static uint16_t fr_base;

struct dev {
	uint8_t *mem;
	size_t memlen;
	int kick;
	uint32_t hl;         /* virtio-net header expected */
	uint16_t last_avail; /* buffers taken */
	size_t stall_after;  /* stop taking after this many (0: never) */
	uint16_t base;       /* the vring's SET_VRING_BASE */
	bool no_notify;      /* set VRING_USED_F_NO_NOTIFY: no kicks wanted */
	bool started;        /* the vring runs: enabled, or kicked (no
	                        SET_VRING_ENABLE in the session) */
	bool cyclic;         /* --frames-loop: frame k is capture frame
	                        k % t.nf, checked as it comes */
	size_t got;
	struct {
		uint32_t len;
		uint8_t data[300];
	} rx[RT_MAX_FRAMES];
	char bad[200]; /* the first thing wrong with what was offered */
};

static uint8_t frame_byte(size_t k, size_t j)
{
	return (uint8_t)(k * 7 + j * 13 + 1);
}

static uint32_t frame_len(size_t k)
{
	return 60 + (uint32_t)(k * 37 % 140);
}

/* A session that runs vring 1 (a TX queue) of FR_NUM entries, with
 * `features`, and nframes TX frames captured on it. */
static void frames_session(uint64_t features, size_t nframes)
{
	memset(&t, 0, sizeof(t));
	const uint32_t NR = RQ | VUP_FLAG_NEED_REPLY;
	rt_add(&t, 1, M, FE, 3, RQ, NULL, 0);
	rt_add(&t, 1, M, FE, 1, RQ, NULL, 0);
	rt_u64(&t, 1, M, BE, 1, RP, features);
	rt_u64(&t, 1, M, FE, 2, RQ, features);
	uint8_t mt[40] = {0};
	uint32_t one = 1;
	uint64_t gpa = FR_GPA, size = 0x100000, uaddr = FR_UADDR;
	memcpy(mt, &one, 4);
	memcpy(mt + 8, &gpa, 8);
	memcpy(mt + 16, &size, 8);
	memcpy(mt + 24, &uaddr, 8);
	struct rt_msg *m = rt_add(&t, 1, M, FE, 5, NR, mt, 40);
	rt_fd(m, VUP_FDK_MEMFD, 0x100000);
	rt_u64(&t, 1, M, BE, 5, RP, 0);
	rt_u64(&t, 1, M, FE, 8, RQ, 1 | (uint64_t)FR_NUM << 32);
	rt_u64(&t, 1, M, FE, 10, RQ, 1 | (uint64_t)fr_base << 32);
	uint8_t addr[40] = {1};
	uint64_t a[3] = {FR_DESC, FR_USED, FR_AVAIL};
	memcpy(addr + 8, a, 24);
	rt_add(&t, 1, M, FE, 9, RQ, addr, 40);
	m = rt_u64(&t, 1, M, FE, 12, RQ, 1);
	rt_fd(m, VUP_FDK_EVENTFD, 0);
	m = rt_u64(&t, 1, M, FE, 13, RQ, 1);
	rt_fd(m, VUP_FDK_EVENTFD, 0);
	for (size_t k = 0; k < nframes; k++) {
		uint8_t d[256];
		for (size_t j = 0; j < frame_len(k); j++)
			d[j] = frame_byte(k, j);
		rt_frame_add(&t, 1, 1, d, frame_len(k), frame_len(k));
	}
	if (features >> VUP_F_PROTOCOL_FEATURES & 1)
		rt_u64(&t, 1, M, FE, 18, RQ, 1 | 1ull << 32);
	/* Recorded after traffic: the index is elsewhere. */
	rt_u64(&t, 1, M, FE, 11, RQ, 1);
	rt_u64(&t, 1, M, BE, 11, RP, 1 | 999ull << 32);
}

static uint8_t *dev_at(struct dev *d, uint64_t a, uint64_t base, uint64_t len)
{
	if (!d->mem || a < base || a - base + len > d->memlen)
		return NULL;
	return d->mem + (a - base);
}

static void dev_fail(struct dev *d, const char *why, unsigned long v)
{
	if (!d->bad[0])
		snprintf(d->bad, sizeof(d->bad), "%s (%lu)", why, v);
}

/* Take what is offered on vring 1, as a device does. */
static void dev_poll(struct dev *d)
{
	uint8_t *desc = dev_at(d, FR_DESC, FR_UADDR, 16 * FR_NUM);
	uint16_t *avail = (uint16_t *)(void *)dev_at(d, FR_AVAIL, FR_UADDR,
	                                             4 + 2 * FR_NUM);
	uint8_t *used = dev_at(d, FR_USED, FR_UADDR, 4 + 8 * FR_NUM);
	if (!desc || !avail || !used || !d->started)
		return;
	uint16_t aidx = __atomic_load_n(&avail[1], __ATOMIC_ACQUIRE);
	while (d->last_avail != aidx && (d->cyclic || d->got < RT_MAX_FRAMES)) {
		if (d->stall_after && d->got >= d->stall_after)
			return;
		uint16_t head = avail[2 + d->last_avail % FR_NUM];
		uint8_t buf[400];
		uint32_t len = 0;
		for (uint16_t i = head, n = 0;; n++) {
			if (i >= FR_NUM || n > 2)
				return dev_fail(d, "bad descriptor chain", i);
			uint64_t da;
			uint32_t dl;
			uint16_t fl, next;
			memcpy(&da, desc + 16 * i, 8);
			memcpy(&dl, desc + 16 * i + 8, 4);
			memcpy(&fl, desc + 16 * i + 12, 2);
			memcpy(&next, desc + 16 * i + 14, 2);
			const uint8_t *p = dev_at(d, da, FR_GPA, dl);
			if (!p || len + dl > sizeof(buf))
				return dev_fail(d, "buffer outside memory", da);
			if (da < FR_GPA + 0x4000)
				return dev_fail(d, "buffer on the rings", da);
			memcpy(buf + len, p, dl);
			len += dl;
			if (!(fl & 1))
				break;
			i = next;
		}
		if (len < d->hl)
			return dev_fail(d, "shorter than the header", len);
		for (uint32_t j = 0; j < d->hl; j++)
			if (buf[j])
				return dev_fail(d, "header not zero", j);
		if (d->cyclic) {
			const struct rt_frame *f = &t.f[d->got % t.nf];
			if (len - d->hl != f->origlen ||
			    memcmp(buf + d->hl, f->data, f->origlen) != 0)
				return dev_fail(d, "not the captured frame",
				                d->got);
		}
		if (d->got < RT_MAX_FRAMES) {
			d->rx[d->got].len = len - d->hl;
			memcpy(d->rx[d->got].data, buf + d->hl, len - d->hl);
		}
		d->got++;
		uint16_t uidx;
		memcpy(&uidx, used + 2, 2);
		uint32_t e[2] = {head, 0};
		memcpy(used + 4 + 8 * (uidx % FR_NUM), e, 8);
		__atomic_store_n((uint16_t *)(void *)(used + 2),
		                 (uint16_t)(uidx + 1), __ATOMIC_RELEASE);
		d->last_avail++;
	}
}

/* Read a message, serving the ring meanwhile. */
static int recv_serving(struct vup_channel *ch, struct dev *d, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		int rc = vup_channel_read(ch);
		if (rc != VUP_CH_AGAIN)
			return rc;
		dev_poll(d);
		if (now_ms() >= end)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = ch->fd, .events = POLLIN};
		poll(&p, 1, 1);
	}
}

/* Be the recorded back-end as a device: map the memory, take the buffers,
 * answer GET_VRING_BASE with the buffers taken. */
static void be_device(struct vup_channel *ch, struct dev *d)
{
	for (size_t i = 0; i < t.n; i++) {
		const struct rt_msg *m = &t.m[i];
		if (m->tflags & VUP_TRACE_F_FROM_BACKEND) {
			if (m->h.request == 11) {
				uint64_t v = 1 | (uint64_t)d->last_avail << 32;
				send_msg(ch, &m->h, (const uint8_t *)&v, NULL,
				         0);
			} else {
				send_recorded(ch, i, NULL);
			}
			continue;
		}
		int rc = recv_serving(ch, d, 5000);
		if (rc != VUP_CH_MSG)
			fail_msg("message %zu: %d instead of a message; "
			         "stderr: %s",
			         i, rc, slurp(errf));
		check_same(ch, m, i);
		struct vup_msg *in = &ch->in;
		if (m->h.request == 5) {
			struct stat st;
			assert_int_equal(fstat(in->fds[0], &st), 0);
			d->memlen = (size_t)st.st_size;
			d->mem = mmap(NULL, d->memlen, PROT_READ | PROT_WRITE,
			              MAP_SHARED, in->fds[0], 0);
			assert_true(d->mem != MAP_FAILED);
			d->last_avail = d->base;
			if (d->no_notify) {
				uint16_t fl = 1; /* VRING_USED_F_NO_NOTIFY */
				memcpy(dev_at(d, FR_USED, FR_UADDR, 2), &fl, 2);
			}
		}
		if (m->h.request == 12) {
			d->kick = in->fds[0];
			in->fds[0] = -1;
			bool enable = false;
			for (size_t k = 0; k < t.n; k++)
				enable |= t.m[k].h.request == 18;
			d->started = !enable;
		}
		if (m->h.request == 18 && m->payload[4])
			d->started = true;
		vup_close_fds(in->fds, in->nfds);
		vup_channel_consume(ch);
	}
}

/* Run the replay with up to 6 options. */
static int against_device6(struct dev *d, const char *a1, const char *a2,
                           const char *a3, const char *a4, const char *a5,
                           const char *a6)
{
	assert_int_equal(rt_write(&t, trace), 0);
	int lfd = listen_sock();
	char spec[400];
	snprintf(spec, sizeof(spec), "connect:%s", sock);
	pid_t pid = start_replay("--as", "front-end", "--backend", spec,
	                         "--reply-timeout", "500", a1, a2, a3, a4, a5,
	                         a6, NULL);
	struct vup_channel ch = accept_one(lfd);
	d->kick = -1;
	be_device(&ch, d);
	vup_channel_close(&ch);
	int rc = finish(pid);
	close(lfd);
	if (d->mem)
		munmap(d->mem, d->memlen);
	d->mem = NULL;
	return rc;
}

static int against_device(struct dev *d, const char *a1, const char *a2,
                          const char *a3)
{
	return against_device6(d, a1, a2, a3, NULL, NULL, NULL);
}

/* The device got frames [0, n) of the capture, byte for byte (padded
 * from `caplen` when that is not 0). */
static void assert_frames(const struct dev *d, size_t n, uint32_t caplen)
{
	if (d->bad[0])
		fail_msg("the device saw: %s", d->bad);
	assert_int_equal(d->got, n);
	for (size_t k = 0; k < n; k++) {
		const struct rt_frame *f = &t.f[k];
		if (d->rx[k].len != f->origlen)
			fail_msg("frame %zu: %u bytes, want %u", k,
			         d->rx[k].len, f->origlen);
		uint32_t keep =
		        caplen && caplen < f->origlen ? caplen : f->origlen;
		assert_memory_equal(d->rx[k].data, f->data, keep);
		for (uint32_t j = keep; j < f->origlen; j++)
			assert_int_equal(d->rx[k].data[j], 0);
	}
}

static uint64_t kicks(int fd)
{
	uint64_t v = 0;
	if (fd >= 0 && read(fd, &v, 8) != 8)
		v = 0;
	if (fd >= 0)
		close(fd);
	return v;
}

#define F_V1_PF_INORDER                                                        \
	(1ull << VUP_F_VERSION_1 | 1ull << VUP_F_PROTOCOL_FEATURES | 1ull << 35)

static struct dev dv;

/* 150 frames through a 64-entry ring (descriptors and buffers reused),
 * one descriptor each behind a 12-byte header; GET_VRING_BASE expected
 * where the frames left the index, not at the recorded 999. */
static void frames_exact(void **state)
{
	(void)state;
	frames_session(F_V1_PF_INORDER, 150);
	memset(&dv, 0, sizeof(dv));
	dv.hl = 12;
	assert_int_equal(against_device(&dv, "--frames", NULL, NULL), 0);
	assert_frames(&dv, 150, 0);
	assert_true(kicks(dv.kick) > 0);
	const char *o = slurp(out);
	assert_contains(o, "replay: frames: 150 replayed of 150 captured, 150 "
	                   "used by the back-end (q1 150/150)\n");
	assert_contains(o, "0 differences: identical");
}

/* Legacy layout (no VERSION_1, no ANY_LAYOUT): a 10-byte header in its
 * own descriptor, chained to the frame; no PROTOCOL_FEATURES, so the
 * vring runs from its kick. */
static void frames_legacy_chain(void **state)
{
	(void)state;
	frames_session(0, 70);
	memset(&dv, 0, sizeof(dv));
	dv.hl = 10;
	assert_int_equal(against_device(&dv, "--frames", NULL, NULL), 0);
	assert_frames(&dv, 70, 0);
	assert_contains(slurp(out), "70 replayed of 70 captured, 70 used");
}

static void frames_first_n(void **state)
{
	(void)state;
	frames_session(F_V1_PF_INORDER, 150);
	memset(&dv, 0, sizeof(dv));
	dv.hl = 12;
	assert_int_equal(against_device(&dv, "--frames=100", NULL, NULL), 0);
	assert_frames(&dv, 100, 0);
	assert_contains(slurp(out), "100 replayed of 150 captured, 100 used "
	                            "by the back-end (q1 100/100)");
}

/* A back-end that stops taking buffers: a difference, then the session
 * goes on (its GET_VRING_BASE differs too). */
static void frames_stalled(void **state)
{
	(void)state;
	frames_session(F_V1_PF_INORDER, 150);
	memset(&dv, 0, sizeof(dv));
	dv.hl = 12;
	dv.stall_after = 20;
	assert_int_equal(against_device(&dv, "--frames", NULL, NULL), 1);
	assert_frames(&dv, 20, 0);
	const char *o = slurp(out);
	assert_contains(o, "frames: q1: the back-end used 20 of the 150 "
	                   "frames (84 offered), then none for 500 ms\n");
	assert_contains(o,
	                "GET_VRING_BASE reply: num 84 -> 20 (expected: the "
	                "base plus the frames replayed; recorded num=999)\n");
	assert_contains(o, "20 used by the back-end");
}

/* Frames cut to the snap length: refused, or padded with zeros. */
static void frames_cut(void **state)
{
	(void)state;
	frames_session(F_V1_PF_INORDER, 30);
	t.snaplen = 64;
	for (size_t k = 0; k < t.nf; k++)
		if (t.f[k].caplen > 64)
			t.f[k].caplen = 64;
	memset(&dv, 0, sizeof(dv));
	dv.hl = 12;
	assert_int_equal(rt_write_gz(&t, trace), 0);
	char spec[400];
	snprintf(spec, sizeof(spec), "connect:%s", sock);
	pid_t pid = start_replay("--as", "front-end", "--backend", spec,
	                         "--frames", NULL);
	assert_int_equal(finish(pid), 2);
	assert_contains(slurp(errf), "28 of the TX frames of session 1 are "
	                             "cut to the snap length (64 bytes");
	assert_contains(slurp(errf), "-s 0");
	assert_string_equal(slurp(out), "");
	assert_int_equal(against_device(&dv, "--frames", "--frames-pad", NULL),
	                 0);
	assert_frames(&dv, 30, 64);
	assert_contains(slurp(errf), "28 of the 30 frames were cut to the "
	                             "snap length; they are replayed padded");
	assert_contains(slurp(out), ", 28 padded with zeros to their length");
}

/* Frames of a vring the replayed session never runs (q3 here): a
 * difference; those of q1 still go. */
static void frames_vring_never_ran(void **state)
{
	(void)state;
	frames_session(F_V1_PF_INORDER, 10);
	uint8_t d[60] = {0x33};
	for (int k = 0; k < 5; k++)
		rt_frame_add(&t, 1, 3, d, sizeof(d), sizeof(d));
	memset(&dv, 0, sizeof(dv));
	dv.hl = 12;
	assert_int_equal(against_device(&dv, "--frames", NULL, NULL), 1);
	assert_frames(&dv, 10, 0);
	const char *o = slurp(out);
	assert_contains(o, "frames: q3: 5 frames not replayed: the vring never "
	                   "ran in the replayed session\n");
	assert_contains(o, "10 replayed of 15 captured, 10 used by the "
	                   "back-end (q1 10/10, q3 0/5)");
	assert_contains(o, "1 differences: different");
}

/* --frames-loop: 150 captured frames offered over and over, 1000 in
 * all, through a 64-entry ring resumed at base 65500: the device gets
 * frame k % 150 as its k-th, exactly 1000, and GET_VRING_BASE is expected
 * at (65500 + 1000) mod 65536 = 964 (the 16-bit index wrapped). */
static void frames_loop_exact(void **state)
{
	(void)state;
	fr_base = 65500;
	frames_session(F_V1_PF_INORDER, 150);
	fr_base = 0;
	memset(&dv, 0, sizeof(dv));
	dv.hl = 12;
	dv.base = 65500;
	dv.cyclic = true;
	assert_int_equal(against_device6(&dv, "--frames", "--frames-loop",
	                                 "1000", NULL, NULL, NULL),
	                 0);
	if (dv.bad[0])
		fail_msg("the device saw: %s", dv.bad);
	assert_int_equal(dv.got, 1000);
	assert_int_equal(dv.last_avail, 964);
	const char *o = slurp(out);
	assert_contains(o, "replay: frames: 1000 replayed of 150 captured, "
	                   "1000 used by the back-end (q1 1000/1000)\n");
	assert_contains(o, "replay: frames: q1: 1000 offered in ");
	assert_contains(o, "0 differences: identical");
}

/* A loop shorter than the capture offers its first N frames. */
static void frames_loop_short(void **state)
{
	(void)state;
	frames_session(F_V1_PF_INORDER, 150);
	memset(&dv, 0, sizeof(dv));
	dv.hl = 12;
	assert_int_equal(against_device6(&dv, "--frames", "--frames-loop", "7",
	                                 NULL, NULL, NULL),
	                 0);
	assert_frames(&dv, 7, 0);
	assert_contains(slurp(out), "7 replayed of 150 captured, 7 used by "
	                            "the back-end (q1 7/7)");
}

/* "offered in S s" of the rate line. */
static double offered_secs(const char *o)
{
	const char *p = strstr(o, " offered in ");
	if (!p)
		fail_msg("no rate line in \"%s\"", o);
	return strtod(p + strlen(" offered in "), NULL);
}

/* --frames-rate 2000 with 300 frames (50 captured, looped): frame i is
 * not offered before start + i / 2000 s, so the last (i = 299) goes at
 * least 149.5 ms after the first; a device that keeps up sees all 300,
 * in order, and the rate line says so. */
static void frames_rate_paced(void **state)
{
	(void)state;
	frames_session(F_V1_PF_INORDER, 50);
	memset(&dv, 0, sizeof(dv));
	dv.hl = 12;
	dv.cyclic = true;
	uint64_t t0 = now_ms();
	assert_int_equal(against_device6(&dv, "--frames", "--frames-rate",
	                                 "2000", "--frames-loop", "300", NULL),
	                 0);
	uint64_t took = now_ms() - t0;
	if (dv.bad[0])
		fail_msg("the device saw: %s", dv.bad);
	assert_int_equal(dv.got, 300);
	const char *o = slurp(out);
	assert_contains(o, "300 replayed of 50 captured, 300 used by the "
	                   "back-end (q1 300/300)");
	assert_contains(o, "replay: frames: q1: 300 offered in ");
	assert_contains(o, "(--frames-rate 2000, at most ");
	double secs = offered_secs(o);
	if (secs < 0.1495 || secs > 5.0)
		fail_msg("300 frames at 2000 pps offered in %.6f s", secs);
	assert_true(took >= 149);
}

/* A back-end that sets VRING_USED_F_NO_NOTIFY (it polls, as DPDK does)
 * gets no kick; the frames all go. */
static void frames_no_notify(void **state)
{
	(void)state;
	frames_session(F_V1_PF_INORDER, 100);
	memset(&dv, 0, sizeof(dv));
	dv.hl = 12;
	dv.no_notify = true;
	assert_int_equal(against_device6(&dv, "--frames", "--frames-loop",
	                                 "100", NULL, NULL, NULL),
	                 0);
	assert_frames(&dv, 100, 0);
	assert_int_equal(kicks(dv.kick), 0);
	assert_contains(slurp(out), "q1: 100 offered in ");
	assert_contains(slurp(out), ", 0 kicks\n");
}

/* Bad --frames-rate / --frames-loop: exit 2 before connecting. */
static void frames_rate_loop_refused(void **state)
{
	(void)state;
	frames_session(F_V1_PF_INORDER, 5);
	assert_int_equal(rt_write_gz(&t, trace), 0);
	char spec[400];
	snprintf(spec, sizeof(spec), "connect:%s", sock);
	static const struct {
		const char *a1, *a2, *a3, *says;
	} cases[] = {
	        {"--frames", "--frames-rate", "0",
	         "--frames-rate 0: frames per second, 1 to 1000000000"},
	        {"--frames", "--frames-rate", "1000000001",
	         "frames per second, 1 to 1000000000"},
	        {"--frames", "--frames-loop", "-3",
	         "--frames-loop -3: a number of frames, 1 or more"},
	        {"--frames", "--frames-loop", "12x", "a number of frames"},
	        {"--frames-rate", "1000", NULL,
	         "--frames-rate goes with --frames"},
	        {"--frames-loop", "10", NULL,
	         "--frames-loop goes with --frames"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pid_t pid = start_replay("--as", "front-end", "--backend", spec,
		                         cases[i].a1, cases[i].a2, cases[i].a3,
		                         NULL);
		assert_int_equal(finish(pid), 2);
		assert_contains(slurp(errf), cases[i].says);
		assert_string_equal(slurp(out), "");
	}
}

/* What --frames cannot replay: exit 2 before connecting. */
static void frames_refused(void **state)
{
	(void)state;
	char spec[400];
	snprintf(spec, sizeof(spec), "connect:%s", sock);
	static const struct {
		uint64_t features;
		size_t nframes;
		const char *as, *says;
	} cases[] = {
	        {F_V1_PF_INORDER | 1ull << VUP_F_RING_PACKED, 5, "front-end",
	         "negotiates packed rings (VIRTIO_F_RING_PACKED"},
	        {F_V1_PF_INORDER, 0, "front-end",
	         "no TX frames of session 1 (tap interfaces \"s1 net qN "
	         "tx\"): record with vuproxy --tap net"},
	        {F_V1_PF_INORDER, 5, "back-end", "it needs --as front-end"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		frames_session(cases[i].features, cases[i].nframes);
		assert_int_equal(rt_write_gz(&t, trace), 0);
		bool fe = strcmp(cases[i].as, "front-end") == 0;
		pid_t pid = start_replay("--as", cases[i].as,
		                         fe ? "--backend" : "--frontend", spec,
		                         "--frames", NULL);
		assert_int_equal(finish(pid), 2);
		assert_contains(slurp(errf), cases[i].says);
		assert_string_equal(slurp(out), "");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(fe_identical),
	        cmocka_unit_test(fe_differences_named),
	        cmocka_unit_test(fe_vring_base_split),
	        cmocka_unit_test(fe_vring_base_packed),
	        cmocka_unit_test(fe_missing_reply),
	        cmocka_unit_test(fe_backend_closes_early),
	        cmocka_unit_test(fe_no_backend),
	        cmocka_unit_test(fe_backend_channel),
	        cmocka_unit_test(fe_paced),
	        cmocka_unit_test(be_identical),
	        cmocka_unit_test(be_differences),
	        cmocka_unit_test(fe_declared),
	        cmocka_unit_test(be_declared),
	        cmocka_unit_test(bad_captures),
	        cmocka_unit_test(frames_exact),
	        cmocka_unit_test(frames_legacy_chain),
	        cmocka_unit_test(frames_first_n),
	        cmocka_unit_test(frames_stalled),
	        cmocka_unit_test(frames_cut),
	        cmocka_unit_test(frames_vring_never_ran),
	        cmocka_unit_test(frames_refused),
	        cmocka_unit_test(frames_loop_exact),
	        cmocka_unit_test(frames_loop_short),
	        cmocka_unit_test(frames_rate_paced),
	        cmocka_unit_test(frames_no_notify),
	        cmocka_unit_test(frames_rate_loop_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
