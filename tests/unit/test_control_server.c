/* control/server.c on a real loop, with clients in the same thread: fds
 * go with the request whose bytes they came with (also one sent right
 * after a request without fds, which the kernel merges into the same
 * read), a line past 1 MiB is refused and the connection closed, a
 * subscriber that does not read is dropped, a client that leaves
 * mid-request is forgotten, a read of 64 KiB of blank lines runs in one
 * pass (moving the rest after each line was quadratic: seconds of a
 * blocked loop), and none of it stops the others from being answered. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "vuproxy/control.h"

static int got_fd = -2;

static int cmd_ping(struct vup_control_req *r)
{
	vup_jw_str(r->out, "pong");
	return 0;
}

static int cmd_take(struct vup_control_req *r)
{
	got_fd = r->nfds ? r->fds[0] : -1;
	if (r->nfds)
		r->fds[0] = -1;
	return 0;
}

static int cmd_sub(struct vup_control_req *r)
{
	r->subscribe = true;
	return 0;
}

static const struct vup_control_cmd table[] = {
        {"ping", "", 0, cmd_ping, "pong"},
        {"take", "", 1, cmd_take, "one fd"},
        {"subscribe", "", 0, cmd_sub, "events"},
};

struct fx {
	uv_loop_t loop;
	struct vup_control *c;
	char dir[64], path[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/vup-ctl-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/c.ctl", f->dir);
	uv_loop_init(&f->loop);
	char err[256];
	if (vup_control_start(&f->loop, f->path, 0600, table, COUNT(table),
	                      NULL, &f->c, err, sizeof(err)))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	vup_control_stop(f->c);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(&f->loop);            /* every handle closed */
	assert_int_equal(access(f->path, F_OK), -1); /* file removed */
	rmdir(f->dir);
	free(f);
	return rc;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One loop turn; how long it took. */
static uint64_t turn(struct fx *f)
{
	uint64_t t0 = now_ms();
	uv_run(&f->loop, UV_RUN_NOWAIT);
	return now_ms() - t0;
}

static void spin(struct fx *f, int turns)
{
	for (int i = 0; i < turns; i++) {
		turn(f);
		usleep(200);
	}
}

static int client(struct fx *f)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", f->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	spin(f, 3);
	return fd;
}

static void send_fd(int sock, const char *s, int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} c;
	struct iovec iov = {(void *)s, strlen(s)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		mh.msg_control = c.b;
		mh.msg_controllen = sizeof(c.b);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	assert_int_equal(sendmsg(sock, &mh, 0), (ssize_t)strlen(s));
}

/* What the server sent by now (the loop turned meanwhile); "" none,
 * "EOF" once it closed and everything was read. */
static void recv_all(struct fx *f, int sock, char *out, size_t cap)
{
	size_t n = 0;
	spin(f, 20);
	for (;;) {
		ssize_t k = recv(sock, out + n, cap - 1 - n, MSG_DONTWAIT);
		if (k > 0) {
			n += (size_t)k;
			spin(f, 2);
			continue;
		}
		if (k == 0 || (k < 0 && errno == ECONNRESET))
			n += (size_t)snprintf(out + n, cap - n, "EOF");
		break;
	}
	out[n] = '\0';
}

static unsigned open_fds(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/fd");
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void fds_go_with_their_request(void **state)
{
	struct fx *f = *state;
	int s = client(f);
	char out[4096];
	int p[2];
	assert_int_equal(pipe(p), 0);
	unsigned before = open_fds();
	/* on a request that takes none: refused, and closed */
	send_fd(s, "{\"cmd\":\"ping\"}\n", p[0]);
	recv_all(f, s, out, sizeof(out));
	assert_string_equal(out, "{\"ok\":false,\"error\":\"ping takes no file "
	                         "descriptor (1 received; closed)\"}\n");
	assert_int_equal(open_fds(), before);
	/* a request sent in two writes, the fd with its first byte */
	send_fd(s, "{\"cmd\":", p[0]);
	spin(f, 5);
	send_fd(s, "\"take\"}\n{\"cmd\":\"take\"}\n", -1);
	recv_all(f, s, out, sizeof(out));
	assert_string_equal(out, "{\"ok\":true,\"result\":{}}\n"
	                         "{\"ok\":true,\"result\":{}}\n");
	/* the second request got none */
	assert_int_equal(got_fd, -1);
	close(s);
	close(p[0]);
	close(p[1]);
	spin(f, 5);
}

static void oversize_line_refused(void **state)
{
	struct fx *f = *state;
	int s = client(f), other = client(f);
	char *big = malloc(VUP_CONTROL_LINE_MAX + 2);
	memset(big, ' ', VUP_CONTROL_LINE_MAX + 1);
	big[VUP_CONTROL_LINE_MAX + 1] = '\0';
	size_t off = 0, len = strlen(big);
	while (off < len) {
		ssize_t k = send(s, big + off, len - off, MSG_DONTWAIT);
		if (k > 0)
			off += (size_t)k;
		else if (k < 0 && errno == EPIPE)
			break;
		spin(f, 1);
	}
	free(big);
	char out[256];
	recv_all(f, s, out, sizeof(out));
	assert_string_equal(out, "{\"ok\":false,\"error\":\"request longer "
	                         "than 1048576 bytes\"}\nEOF");
	send_fd(other, "{\"cmd\":\"ping\"}\n", -1);
	recv_all(f, other, out, sizeof(out));
	assert_string_equal(out, "{\"ok\":true,\"result\":\"pong\"}\n");
	close(s);
	close(other);
	spin(f, 5);
}

static void subscriber_that_does_not_read_is_dropped(void **state)
{
	struct fx *f = *state;
	int s = client(f), other = client(f);
	char out[256];
	send_fd(s, "{\"cmd\":\"subscribe\"}\n", -1);
	spin(f, 10);
	assert_true(vup_control_subscribed(f->c));
	char ev[1024];
	memset(ev, 'x', sizeof(ev));
	memcpy(ev, "{\"event\":\"", 10);
	memcpy(ev + sizeof(ev) - 2, "\"}", 2);
	/* far more than the socket buffer and the queue hold */
	for (int i = 0; i < 16 * 1024 && vup_control_subscribed(f->c); i++)
		vup_control_publish(f->c, ev, sizeof(ev));
	assert_false(vup_control_subscribed(f->c));
	send_fd(other, "{\"cmd\":\"ping\"}\n", -1);
	recv_all(f, other, out, sizeof(out));
	assert_string_equal(out, "{\"ok\":true,\"result\":\"pong\"}\n");
	close(s);
	close(other);
	spin(f, 5);
}

static void client_gone_mid_request(void **state)
{
	struct fx *f = *state;
	unsigned before = open_fds();
	for (int i = 0; i < 50; i++) {
		int s = client(f);
		int p[2];
		assert_int_equal(pipe(p), 0);
		send_fd(s, "{\"cmd\":\"ta", p[0]); /* never finished */
		close(p[0]);
		close(p[1]);
		close(s);
	}
	spin(f, 50);
	/* the fds it sent with half a request are closed too */
	assert_int_equal(open_fds(), before);
	int s = client(f);
	char out[256];
	send_fd(s, "{\"cmd\":\"ping\",\"id\":1}\n\n", -1);
	recv_all(f, s, out, sizeof(out));
	assert_string_equal(out,
	                    "{\"id\":1,\"ok\":true,\"result\":\"pong\"}\n");
	close(s);
	spin(f, 5);
}

static void blank_lines_in_one_pass(void **state)
{
	struct fx *f = *state;
	int s = client(f);
	size_t chunk = 64 << 10, total = 1 << 20, sent = 0;
	char *nl = malloc(chunk);
	memset(nl, '\n', chunk);
	uint64_t worst = 0;
	/* Fill the socket, let the server take one turn, and so on. */
	while (sent < total) {
		ssize_t k = send(s, nl, chunk, MSG_DONTWAIT);
		if (k > 0)
			sent += (size_t)k;
		uint64_t t = turn(f);
		if (t > worst)
			worst = t;
	}
	for (int i = 0; i < 20; i++) {
		uint64_t t = turn(f);
		if (t > worst)
			worst = t;
	}
	free(nl);
	/* A relay's message waits at most a few ms for the control socket. */
	if (worst > 50)
		fail_msg("one loop turn took %llu ms for blank lines",
		         (unsigned long long)worst);
	close(s);
	spin(f, 5);
}

static void pipelined_request_keeps_its_fd(void **state)
{
	struct fx *f = *state;
	int s = client(f);
	int p[2];
	assert_int_equal(pipe(p), 0);
	got_fd = -2;
	/* Two requests, the fd with the first byte of the second; the
	 * server does not read in between. */
	send_fd(s, "{\"cmd\":\"ping\"}\n", -1);
	send_fd(s, "{\"cmd\":\"take\"}\n", p[0]);
	char out[1024];
	recv_all(f, s, out, sizeof(out));
	assert_string_equal(out, "{\"ok\":true,\"result\":\"pong\"}\n"
	                         "{\"ok\":true,\"result\":{}}\n");
	assert_true(got_fd >= 0); /* the second request got the fd */
	if (got_fd >= 0)
		close(got_fd);
	close(p[0]);
	close(p[1]);
	close(s);
	spin(f, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(fds_go_with_their_request,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(oversize_line_refused, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(
	                subscriber_that_does_not_read_is_dropped, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(blank_lines_in_one_pass, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(pipelined_request_keeps_its_fd,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(client_gone_mid_request, setup,
	                                        teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
