/* kill_after: SIGKILL a vuproxy just after it logged its K-th message.
 *
 *   kill_after PID LOG K [TIMEOUT_S]
 *
 * LOG is the stderr of `vuproxy -v` (one line per message, written before
 * the message is recorded and forwarded).  kill_after sleeps on inotify
 * until the file grows, counts the complete lines naming a direction
 * (" front-end>back-end " or " back-end>front-end "), and sends SIGKILL to
 * PID as soon as there are K: one inotify wake-up after message K,
 * often inside a burst of set-up messages, where a shell's sleep cannot
 * aim.  Prints "killed after N messages" (the lines it had seen)
 * and exits 0; exits 1 if PID is gone first or TIMEOUT_S (default 30)
 * passes, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: kill_after PID LOG K [TIMEOUT_S]\n");
		return 2;
	}
	pid_t pid = (pid_t)atol(argv[1]);
	long k = atol(argv[3]);
	long timeout_s = argc == 5 ? atol(argv[4]) : 30;
	if (pid <= 0 || k <= 0 || timeout_s <= 0) {
		fprintf(stderr, "kill_after: bad PID, K or TIMEOUT_S\n");
		return 2;
	}
	int in = inotify_init1(IN_CLOEXEC);
	int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (in < 0 || fd < 0 || inotify_add_watch(in, argv[2], IN_MODIFY) < 0) {
		fprintf(stderr, "kill_after: %s: %s\n", argv[2],
		        strerror(errno));
		return 1;
	}
	static char line[8192];
	size_t used = 0;
	long seen = 0, deadline = now_ms() + timeout_s * 1000L;
	for (;;) {
		/* Read what is there, count complete lines. */
		ssize_t n;
		while ((n = read(fd, line + used, sizeof(line) - 1 - used)) >
		       0) {
			used += (size_t)n;
			char *start = line, *nl;
			while ((nl = memchr(start, '\n',
			                    used - (size_t)(start - line)))) {
				*nl = '\0';
				if (strstr(start, " front-end>back-end ") ||
				    strstr(start, " back-end>front-end "))
					seen++;
				start = nl + 1;
			}
			used -= (size_t)(start - line);
			memmove(line, start, used);
			if (used == sizeof(line) - 1)
				used = 0; /* an absurdly long line: drop it */
			if (seen >= k) {
				if (kill(pid, SIGKILL) < 0) {
					fprintf(stderr,
					        "kill_after: kill %d: %s\n",
					        (int)pid, strerror(errno));
					return 1;
				}
				printf("killed after %ld messages\n", seen);
				return 0;
			}
		}
		if (kill(pid, 0) < 0) {
			fprintf(stderr,
			        "kill_after: process %d is gone after %ld "
			        "messages\n",
			        (int)pid, seen);
			return 1;
		}
		long left = deadline - now_ms();
		if (left <= 0) {
			fprintf(stderr,
			        "kill_after: %ld messages after %ld s, waiting "
			        "for %ld\n",
			        seen, timeout_s, k);
			return 1;
		}
		/* Wake on the next write, or every 100 ms to check PID. */
		struct pollfd p = {.fd = in, .events = POLLIN};
		if (poll(&p, 1, left < 100 ? (int)left : 100) > 0) {
			char ev[4096];
			if (read(in, ev, sizeof(ev)) < 0 && errno != EAGAIN)
				return 1;
		}
	}
}
