/* The kind and size of every fd, as the trace (-w) records them, for the
 * kinds no other test sends through vuproxy: a POSIX shared memory object
 * (shm_open), a regular file, a character device (/dev/null, "other") and
 * the socket of SET_BACKEND_REQ_FD as the front-end sent it.  A memfd
 * sits among them in one SET_MEM_TABLE so that the per-fd order shows.
 *
 * The front-end sends each message through `vuproxy -w`; the back-end
 * checks it arrived with the very files sent.  After vuproxy stops, the
 * trace is read back with the reader API and each front-end message's
 * pseudo-header must list its fds' kinds, in order, with the sizes
 * fstat gives (0 for kinds without one). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "peer_test.h"
#include "vuproxy/pcapng.h"
#include "vuproxy/reader.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Sizes, all different, so that a size recorded for the wrong fd shows. */
#define SHM_REGION_SIZE    0x3000u  /* SET_MEM_TABLE region 0 */
#define FILE_REGION_SIZE   20000u   /* region 1, a sparse file */
#define MEMFD_REGION_SIZE  0x10000u /* region 2 */
#define SHM_LOG_SIZE       0x2000u  /* SET_LOG_BASE */
#define FILE_INFLIGHT_SIZE 4321u    /* SET_INFLIGHT_FD, bytes written */

/* What the trace must say of one front-end request. */
struct want {
	const char *request;
	unsigned nfds;
	const char *kind[3];
	uint64_t size[3];
	unsigned seen;
};

/* shm objects to unlink in teardown, also after a failed assertion. */
static char shm_names[2][64];

static int fdk_teardown(void **state)
{
	for (size_t i = 0; i < 2; i++)
		if (shm_names[i][0]) {
			shm_unlink(shm_names[i]);
			shm_names[i][0] = '\0';
		}
	return peer_teardown(state);
}

/* A shm_open object of `size` bytes; unlinked at once when `unlink_now`
 * (its /proc link then reads "/dev/shm/NAME (deleted)"). */
static int make_shm(unsigned slot, uint64_t size, bool unlink_now)
{
	snprintf(shm_names[slot], sizeof(shm_names[slot]), "/vup-fdk-%d-%u",
	         (int)getpid(), slot);
	int fd = shm_open(shm_names[slot], O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		fail_msg("shm_open %s: %s", shm_names[slot], strerror(errno));
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (unlink_now) {
		assert_int_equal(shm_unlink(shm_names[slot]), 0);
		shm_names[slot][0] = '\0';
	}
	return fd;
}

/* A regular file in the test's directory: `size` bytes written, or a
 * sparse file of that size. */
static int make_file(const struct peer_fx *fx, const char *name, uint64_t size,
                     bool write_bytes)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	if (write_bytes) {
		char buf[512];
		memset(buf, 0x5a, sizeof(buf));
		for (uint64_t done = 0; done < size;) {
			size_t n = size - done < sizeof(buf)
			                   ? (size_t)(size - done)
			                   : sizeof(buf);
			ssize_t w = write(fd, buf, n);
			assert_true(w > 0);
			done += (uint64_t)w;
		}
	} else {
		assert_int_equal(ftruncate(fd, (off_t)size), 0);
	}
	return fd;
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Read the trace and match each front-end request on the main channel
 * against w[]. */
static void check_trace(const char *path, struct want *w, size_t nw)
{
	struct vup_reader *r;
	char err[256];
	if (vup_reader_open(path, &r, err, sizeof(err)))
		fail_msg("reading %s: %s", path, err);
	static struct vup_trace_hdr th;
	struct vup_record rec;
	enum vup_read_status st;
	unsigned fe_requests = 0;
	while ((st = vup_reader_next(r, &rec, err, sizeof(err))) ==
	       VUP_READ_RECORD) {
		if (rec.linktype != LINKTYPE_USER0)
			continue;
		int hlen = vup_trace_hdr_decode(rec.data, rec.caplen, &th, err,
		                                sizeof(err));
		if (hlen < 0)
			fail_msg("pseudo-header: %s", err);
		if (rec.caplen < (uint32_t)hlen + VUP_HDR_SIZE)
			fail_msg("record of %u bytes cut", rec.caplen);
		struct vup_hdr h;
		memcpy(&h, rec.data + hlen, VUP_HDR_SIZE);
		if (th.flags & (VUP_TRACE_F_BACKEND_CHAN |
		                VUP_TRACE_F_FROM_BACKEND) ||
		    h.flags & VUP_FLAG_REPLY)
			continue;
		fe_requests++;
		const char *name = vup_proto_name(VUP_CHAN_MAIN, h.request);
		struct want *m = NULL;
		for (size_t i = 0; i < nw; i++)
			if (strcmp(w[i].request, name) == 0)
				m = &w[i];
		if (!m)
			fail_msg("unexpected front-end request %s in the trace",
			         name);
		m->seen++;
		assert_int_equal(th.session, 1);
		assert_int_equal(th.action, VUP_TRACE_ACT_PASS);
		assert_false(th.flags & VUP_TRACE_F_AS_SENT);
		if (th.nfds != m->nfds)
			fail_msg("%s: %u fds in the trace, sent %u", name,
			         th.nfds, m->nfds);
		for (unsigned i = 0; i < m->nfds; i++) {
			const char *kind = vup_fd_kind_name(th.fds[i].kind);
			if (strcmp(kind, m->kind[i]) != 0)
				fail_msg("%s fd %u: kind %s (%u), want %s",
				         name, i, kind, th.fds[i].kind,
				         m->kind[i]);
			if (th.fds[i].size != m->size[i])
				fail_msg("%s fd %u (%s): size %llu, want %llu",
				         name, i, kind,
				         (unsigned long long)th.fds[i].size,
				         (unsigned long long)m->size[i]);
		}
	}
	if (st != VUP_READ_END)
		fail_msg("%s does not end cleanly (%d): %s", path, st, err);
	vup_reader_close(r);
	for (size_t i = 0; i < nw; i++)
		if (w[i].seen != 1)
			fail_msg("%s recorded %u times, want once",
			         w[i].request, w[i].seen);
	assert_int_equal(fe_requests, nw);
}

static void fd_kinds_in_trace(void **state)
{
	struct peer_fx *fx = *state;
	char trace[256];
	snprintf(trace, sizeof(trace), "%s/trace.pcapng.gz", fx->dir);
	const char *extra[] = {"-w", trace, NULL};
	PEER_OK(peer_fx_start(fx, "listen", "connect", extra));
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	const uint32_t V = VUP_FLAG_VERSION;

	/* SET_MEM_TABLE: a shm object (still linked), a sparse file and a
	 * memfd, one per region, in that order. */
	int mt[3];
	mt[0] = make_shm(0, SHM_REGION_SIZE, false);
	mt[1] = make_file(fx, "region.bin", FILE_REGION_SIZE, false);
	mt[2] = memfd_create("vup-fdk", MFD_CLOEXEC);
	assert_true(mt[2] >= 0);
	assert_int_equal(ftruncate(mt[2], MEMFD_REGION_SIZE), 0);
	const uint64_t sizes[3] = {SHM_REGION_SIZE, FILE_REGION_SIZE,
	                           MEMFD_REGION_SIZE};
	uint8_t table[8 + 3 * 32] = {0};
	uint32_t nregions = 3;
	memcpy(table, &nregions, 4);
	for (int i = 0; i < 3; i++) {
		uint8_t *reg = table + 8 + 32 * i;
		put64(reg, 0x100000000ull * (uint64_t)i); /* gpa */
		put64(reg + 8, sizes[i]);                 /* size */
		put64(reg + 16, 0x7f0000000000ull + 0x100000ull * i);
		put64(reg + 24, 0); /* mmap offset */
	}
	PEER_OK(peer_relay_check(fe, be, peer_code("SET_MEM_TABLE"), V, table,
	                         sizeof(table), mt, 3));

	/* SET_LOG_BASE: a shm object unlinked before it is sent. */
	int log_fd = make_shm(1, SHM_LOG_SIZE, true);
	uint64_t log[2] = {SHM_LOG_SIZE, 0};
	PEER_OK(peer_relay_check(fe, be, peer_code("SET_LOG_BASE"), V, log,
	                         sizeof(log), &log_fd, 1));

	/* SET_INFLIGHT_FD: a regular file with its bytes written. */
	int inflight_fd =
	        make_file(fx, "inflight.bin", FILE_INFLIGHT_SIZE, true);
	uint8_t inflight[24] = {0};
	put64(inflight, FILE_INFLIGHT_SIZE);
	uint16_t queues = 1, qsize = 256;
	memcpy(inflight + 16, &queues, 2);
	memcpy(inflight + 18, &qsize, 2);
	PEER_OK(peer_relay_check(fe, be, peer_code("SET_INFLIGHT_FD"), V,
	                         inflight, sizeof(inflight), &inflight_fd, 1));

	/* SET_VRING_KICK: a character device, which is no kind of its
	 * own. */
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	assert_true(null_fd >= 0);
	uint64_t ring0 = 0;
	PEER_OK(peer_relay_check(fe, be, peer_code("SET_VRING_KICK"), V, &ring0,
	                         8, &null_fd, 1));

	/* SET_BACKEND_REQ_FD: the back-end gets a socket of vuproxy's; the
	 * trace describes the front-end's. */
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
	                 0);
	uint32_t sbrf = peer_code("SET_BACKEND_REQ_FD");
	PEER_OK(peer_send(fe, sbrf, V, NULL, 0, &sv[1], 1));
	struct vup_msg m;
	PEER_OK(peer_recv(be, &m, PEER_TIMEOUT_MS));
	PEER_OK(peer_msg_equal(&m, sbrf, V, NULL, 0, 1));
	struct stat sst;
	assert_int_equal(fstat(m.fds[0], &sst), 0);
	assert_true(S_ISSOCK(sst.st_mode));
	peer_msg_close(&m);

	PEER_OK(peer_get_features(fe, be, 1));
	peer_free(fe);
	peer_free(be);
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS, "s1 closed", NULL));
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 1 sessions (0 failed), 7 messages relayed");

	struct want w[] = {
	        {"SET_MEM_TABLE",
	         3,
	         {"shm", "file", "memfd"},
	         {SHM_REGION_SIZE, FILE_REGION_SIZE, MEMFD_REGION_SIZE},
	         0},
	        {"SET_LOG_BASE", 1, {"shm"}, {SHM_LOG_SIZE}, 0},
	        {"SET_INFLIGHT_FD", 1, {"file"}, {FILE_INFLIGHT_SIZE}, 0},
	        {"SET_VRING_KICK", 1, {"other"}, {0}, 0},
	        {"SET_BACKEND_REQ_FD", 1, {"socket"}, {0}, 0},
	        {"GET_FEATURES", 0, {NULL}, {0}, 0},
	};
	check_trace(trace, w, COUNT(w));

	for (int i = 0; i < 3; i++)
		close(mt[i]);
	close(log_fd);
	close(inflight_fd);
	close(null_fd);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(fd_kinds_in_trace, peer_setup,
	                                        fdk_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
