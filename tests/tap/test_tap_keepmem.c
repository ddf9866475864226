/* Guest memory through the kept region fds, on a vuproxy started without
 * --tap: `ctl show` reads each split ring's live indices, and
 * `ctl record start FILE --tap net` starts a tap mid-session that follows
 * the running rings from where the device is.  vuproxy holds one copy of
 * each region fd, close-on-exec, closed when the session ends; with
 * --no-keep-memory none, and show says why.  Our scripted peers play
 * driver and device over memfd memory (tap_world.h). */
#include <dirent.h>
#include <string.h>

#include "../unit/unit.h"
#include "tap_world.h"

static char ctl_opt[256], ctl_path[256];

static struct tt *start_ctl(void **state, const char *more)
{
	struct peer_fx *fx = *state;
	snprintf(ctl_opt, sizeof(ctl_opt), "--control=%s/v.ctl", fx->dir);
	snprintf(ctl_path, sizeof(ctl_path), "%s/v.ctl", fx->dir);
	const char *extra[] = {ctl_opt, "-s", "128", "-vv", more, NULL};
	return start_args(state, NET_FEATURES, extra);
}

/* vuproxy's fds open on our guest memory files, and its mappings of
 * them (lines of /proc/PID/maps). */
static unsigned guest_fds(struct tt *t)
{
	char dir[64], link[400], target[256];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)t->fx->vp.pid);
	DIR *d = opendir(dir);
	assert_non_null(d);
	unsigned n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		ssize_t k = readlink(link, target, sizeof(target) - 1);
		if (k > 0) {
			target[k] = '\0';
			n += strstr(target, "memfd:vup-guest") != NULL;
		}
	}
	closedir(d);
	return n;
}

static unsigned guest_maps(struct tt *t)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)t->fx->vp.pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	unsigned n = 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "memfd:vup-guest") != NULL;
	fclose(f);
	return n;
}

static void expect_live(unsigned index, int64_t avail, int64_t used)
{
	int64_t a, u;
	char why[256] = "";
	if (!show_live(ctl_path, index, &a, &u, why, sizeof(why)))
		fail_msg("vring %u: no live indices: %s", index, why);
	assert_int_equal(a, avail);
	assert_int_equal(u, used);
}

/* No --tap: show maps the kept fds when asked; the indices move as the
 * driver offers and the device uses; the fds and the mapping go with the
 * session. */
static void test_show_without_tap(void **state)
{
	struct tt *t = start_ctl(state, NULL);
	assert_int_equal(guest_fds(t), 0);
	guest_one(t, REG_SIZE);
	set_mem_table(t, true);
	/* one copy of the region fd, not mapped yet (once vuproxy is done
	 * with the message: it closes what it received after sending) */
	tap_sync(t);
	assert_int_equal(guest_fds(t), 1);
	assert_int_equal(guest_maps(t), 0);
	struct vq *tx = setup_queue(t, 1);
	expect_live(1, 0, 0);
	assert_int_equal(guest_maps(t), 1);
	uint8_t f[3][128];
	for (uint16_t i = 0; i < 3; i++) {
		make_frame(f[i], 60, i + 1);
		split_tx(t, tx, i, f[i], 60, false);
	}
	split_offer(t, tx, (const uint16_t[]){0, 1, 2}, 3);
	expect_live(1, 3, 0);
	split_use(t, tx, 0, 0);
	split_use(t, tx, 1, 0);
	expect_live(1, 3, 2);
	/* the mapping is cached: one, however often asked */
	assert_int_equal(guest_maps(t), 1);
	/* a new table replaces the kept fd and the mapping */
	set_mem_table(t, true);
	tap_sync(t);
	assert_int_equal(guest_fds(t), 1);
	expect_live(1, 3, 2);
	/* the session ends: nothing of the guest's memory stays */
	peer_free(t->fe);
	t->fe = NULL;
	PEER_OK(vproc_wait_line(&t->fx->vp, PEER_TIMEOUT_MS, "s1 closed",
	                        NULL));
	assert_int_equal(guest_fds(t), 0);
	assert_int_equal(guest_maps(t), 0);
	stop(t);
}

/* --no-keep-memory: no copy, show says why, no tap at run time. */
static void test_no_keep_memory(void **state)
{
	struct tt *t = start_ctl(state, "--no-keep-memory");
	guest_one(t, REG_SIZE);
	set_mem_table(t, true);
	setup_queue(t, 1);
	tap_sync(t);
	assert_int_equal(guest_fds(t), 0);
	int64_t a, u;
	char why[256] = "";
	assert_false(show_live(ctl_path, 1, &a, &u, why, sizeof(why)));
	assert_string_equal(why, "guest memory not mapped: vuproxy runs with "
	                         "--no-keep-memory (and without --tap)");
	static char out[4096];
	char file[256];
	snprintf(file, sizeof(file), "%s/mid.pcapng.gz", t->fx->dir);
	assert_int_equal(vproc_ctl(ctl_path, out, sizeof(out), "record",
	                           "start", file, "--tap", "net", NULL),
	                 1);
	assert_contains(out, "--no-keep-memory");
	stop(t);
}

/* Whether the file's control records that restate the set-up (declared)
 * all come before its first tap packet; their count. */
static unsigned declared_first(const char *path)
{
	struct vup_reader *rd;
	char err[256] = "";
	if (vup_reader_open(path, &rd, err, sizeof(err)) < 0)
		fail_msg("open %s: %s", path, err);
	struct vup_record rec;
	unsigned declared = 0;
	bool tap_seen = false;
	while (vup_reader_next(rd, &rec, err, sizeof(err)) == VUP_READ_RECORD) {
		if (rec.linktype != LINKTYPE_USER0) {
			tap_seen = true;
			continue;
		}
		static struct vup_trace_hdr h;
		assert_true(vup_trace_hdr_decode(rec.data, rec.caplen, &h, err,
		                                 sizeof(err)) > 0);
		if (h.declared) {
			assert_false(tap_seen);
			declared++;
		}
	}
	vup_reader_close(rd);
	return declared;
}

/* record start --tap net on a session set up and running before: the
 * recording declares the set-up, then holds the frames the device moves
 * after the start, and the tap's statistics; record stop ends the tap. */
static void test_record_tap_midway(void **state)
{
	struct tt *t = start_ctl(state, NULL);
	snprintf(t->trace, sizeof(t->trace), "%s/mid.pcapng.gz", t->fx->dir);
	guest_one(t, REG_SIZE);
	set_mem_table(t, true);
	struct vq *tx = setup_queue(t, 1);
	uint8_t before[128], f[2][128];
	make_frame(before, 60, 9);
	split_tx(t, tx, 0, before, 60, false);
	split_offer(t, tx, (const uint16_t[]){0}, 1);
	split_use(t, tx, 0, 0);
	static char out[4096];
	assert_int_equal(vproc_ctl(ctl_path, out, sizeof(out), "record",
	                           "start", t->trace, "--tap", "net", NULL),
	                 0);
	PEER_OK(vproc_wait_line(&t->fx->vp, PEER_TIMEOUT_MS,
	                        "s1 tap q1: following a split ring of 16",
	                        "base 1", NULL));
	for (uint16_t i = 0; i < 2; i++) {
		make_frame(f[i], 60 + i, i + 1);
		split_tx(t, tx, i + 1, f[i], 60 + i, false);
	}
	split_offer(t, tx, (const uint16_t[]){1, 2}, 2);
	tap_sync(t);
	split_use(t, tx, 1, 0);
	split_use(t, tx, 2, 0);
	tap_sync(t);
	assert_int_equal(
	        vproc_ctl(ctl_path, out, sizeof(out), "record", "stop", NULL),
	        0);
	expect_counts(t, 1, 2, 2, 0, 0, 0, NULL);
	struct trace *tr = read_trace(t);
	struct rec *p[4];
	assert_int_equal(on_iface(tr, TX, p, 4), 2);
	for (unsigned i = 0; i < 2; i++)
		expect_frame(p[i], TX, PCAPNG_DIR_OUTBOUND, f[i], 60 + i);
	expect_isb(tr, TX, 2, 2, 0, 0, 0);
	/* SET_FEATURES, SET_MEM_TABLE and the queue's five at least */
	assert_true(declared_first(t->trace) >= 7);
	/* the tap went with the recording: the session relays on */
	assert_int_equal(vproc_count(&t->fx->vp, "s1 tap: started at run time"),
	                 1);
	get_vring_base(t, tx);
	stop(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        TAP_TEST(test_show_without_tap),
	        TAP_TEST(test_no_keep_memory),
	        TAP_TEST(test_record_tap_midway),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
