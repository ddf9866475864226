/* The control server's reading of lines and fds under a client's
 * load: a read of 64 KiB of blank lines runs in one pass (moving the rest
 * after each line was quadratic: seconds of a blocked loop), and the fd
 * of a request sent right after one without fds reaches its own request
 * (the kernel merges the earlier bytes into the read that carries the
 * fds). */
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

static const struct vup_control_cmd table[] = {
        {"ping", "", 0, cmd_ping, "pong"},
        {"take", "", 1, cmd_take, "one fd"},
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
	int rc = uv_loop_close(&f->loop);
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
	memset(&c, 0, sizeof(c));
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
		break;
	}
	out[n] = '\0';
}

static void blank_line_flood_blocks_the_loop(void **state)
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

static void fds_of_a_pipelined_request_go_to_the_previous_one(void **state)
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
	        cmocka_unit_test_setup_teardown(
	                blank_line_flood_blocks_the_loop, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                fds_of_a_pipelined_request_go_to_the_previous_one,
	                setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
