/* Unit tests of reading a session for replay (src/replay/script.c):
 * which messages each direction plays, request/reply pairs, session
 * choice, and every kind of bad capture: cut short, foreign, written by a
 * newer vuproxy, damaged records, a session without its setup. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "rtrace.h"
#include "vuproxy/replay.h"

#define M   VUP_CHAN_MAIN
#define B   VUP_CHAN_BACKEND
#define FE  VUP_FRONTEND
#define BE  VUP_BACKEND
#define RQ  VUP_FLAG_VERSION
#define RP  (VUP_FLAG_VERSION | VUP_FLAG_REPLY)
#define VFE VUP_AS_FRONTEND
#define VBE VUP_AS_BACKEND

static char dir[256];
static char path[320];
static char err[1024];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/vup-replay-script.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *file(const char *name)
{
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static struct vup_replay_script *load_ok(const char *p, long session)
{
	struct vup_replay_script *s = NULL;
	int rc = vup_replay_load(p, session, false, &s, err, sizeof(err));
	if (rc)
		fail_msg("load %s: %d %s", p, rc, err);
	return s;
}

static int load_fails(const char *p, long session, bool partial)
{
	struct vup_replay_script *s = NULL;
	err[0] = '\0';
	int rc = vup_replay_load(p, session, partial, &s, err, sizeof(err));
	assert_null(s);
	assert_true(rc < 0);
	assert_true(err[0] != '\0');
	return rc;
}

#define assert_contains(hay, needle)                                           \
	do {                                                                   \
		if (!strstr((hay), (needle)))                                  \
			fail_msg("\"%s\" lacks \"%s\"", (hay), (needle));      \
	} while (0)

static void session_loads_and_pairs(void **state)
{
	(void)state;
	static struct rt t;
	memset(&t, 0, sizeof(t));
	rt_session(&t, 1);
	assert_int_equal(rt_write_gz(&t, file("s.pcapng.gz")), 0);
	struct vup_replay_script *s = load_ok(path, -1);
	assert_int_equal(s->session, 1);
	assert_int_equal(s->n, t.n);
	assert_false(s->truncated);
	for (size_t i = 0; i < s->n; i++) {
		assert_int_equal(s->m[i].frame, i + 1);
		assert_int_equal(s->m[i].hdr.request, t.m[i].h.request);
		assert_memory_equal(s->m[i].payload, t.m[i].payload,
		                    t.m[i].h.size);
		assert_true(s->m[i].in_view[VFE] && s->m[i].in_view[VBE]);
	}
	/* SET_OWNER: no reply; GET_FEATURES (1) <-> its reply (2);
	 * SET_MEM_TABLE (7) with a memfd of 2 MiB <-> its ack (8). */
	assert_int_equal(s->m[0].pair[VFE], -1);
	assert_int_equal(s->m[1].pair[VFE], 2);
	assert_int_equal(s->m[2].pair[VFE], 1);
	assert_int_equal(s->m[1].pair[VBE], 2);
	assert_int_equal(s->m[7].hdr.request, 5);
	assert_int_equal(s->m[7].pair[VFE], 8);
	assert_int_equal(s->m[7].nfds, 1);
	assert_int_equal(s->m[7].fds[0].kind, VUP_FDK_MEMFD);
	assert_int_equal(s->m[7].fds[0].size, 2 * 0x100000);
	assert_int_equal(vup_replay_check_setup(s, VFE, err, sizeof(err)), 0);
	assert_int_equal(vup_replay_check_setup(s, VBE, err, sizeof(err)), 0);
	char nb[32];
	assert_string_equal(vup_replay_msg_name(&s->m[7], nb, sizeof(nb)),
	                    "SET_MEM_TABLE");
	vup_replay_free(s);
}

static void choosing_a_session(void **state)
{
	(void)state;
	static struct rt t;
	memset(&t, 0, sizeof(t));
	rt_add(&t, 7, M, FE, 3, RQ, NULL, 0);
	rt_add(&t, 2, M, FE, 1, RQ, NULL, 0);
	rt_u64(&t, 7, M, FE, 2, RQ, 1);
	rt_u64(&t, 2, M, BE, 1, RP, 1);
	assert_int_equal(rt_write_gz(&t, file("two.pcapng.gz")), 0);
	struct vup_replay_script *s = load_ok(path, -1);
	assert_int_equal(s->session, 7); /* the first in the file */
	assert_int_equal(s->n, 2);
	assert_int_equal(s->m[1].frame, 3);
	vup_replay_free(s);
	s = load_ok(path, 2);
	assert_int_equal(s->n, 2);
	assert_int_equal(s->m[0].pair[VFE], 1);
	vup_replay_free(s);
	assert_int_equal(load_fails(path, 9, false), -ENOENT);
	assert_contains(err, "no session 9 (sessions: 7, 2)");
}

/* Rules change what each side saw: the front-end's view and the
 * back-end's view differ. */
static void views_under_rules(void **state)
{
	(void)state;
	static struct rt t;
	memset(&t, 0, sizeof(t));
	/* 0,1: SET_FEATURES rewritten (original, then the copy as sent). */
	rt_u64(&t, 1, M, FE, 2, RQ, 0xff)->action = VUP_TRACE_ACT_REWRITE;
	struct rt_msg *c = rt_u64(&t, 1, M, FE, 2, RQ, 0x0f);
	c->action = VUP_TRACE_ACT_REWRITE;
	c->tflags |= VUP_TRACE_F_AS_SENT;
	/* 2,3: GET_CONFIG failed by a rule: vuproxy answered itself. */
	uint8_t cfg[12] = {0};
	rt_add(&t, 1, M, FE, 24, RQ, cfg, 12)->action = VUP_TRACE_ACT_FAIL;
	c = rt_add(&t, 1, M, BE, 24, RP, NULL, 0);
	c->action = VUP_TRACE_ACT_FAIL;
	c->tflags |= VUP_TRACE_F_AS_SENT;
	/* 4: dropped SET_VRING_ENABLE. */
	rt_u64(&t, 1, M, FE, 18, RQ, 1)->action = VUP_TRACE_ACT_DROP;
	/* 5,6: GET_FEATURES delayed: as received, then the note of it
	 * leaving (in no view); 7: its reply, logged. */
	rt_add(&t, 1, M, FE, 1, RQ, NULL, 0)->action = VUP_TRACE_ACT_DELAY;
	c = rt_add(&t, 1, M, FE, 1, RQ, NULL, 0);
	c->action = VUP_TRACE_ACT_RELEASED;
	c->tflags |= VUP_TRACE_F_AS_SENT;
	rt_u64(&t, 1, M, BE, 1, RP, 3)->action = VUP_TRACE_ACT_LOG;
	/* 8: a refused message. */
	rt_u64(&t, 1, M, FE, 8, RQ, 1)->action = VUP_TRACE_ACT_REFUSED;
	assert_int_equal(rt_write_gz(&t, file("rules.pcapng.gz")), 0);
	struct vup_replay_script *s = load_ok(path, 1);
	static const bool fe_view[] = {0, 1, 0, 0, 0, 1, 0, 1, 0};
	static const bool be_view[] = {1, 0, 1, 1, 1, 1, 0, 1, 1};
	assert_int_equal(s->n, 9);
	for (size_t i = 0; i < s->n; i++) {
		if (s->m[i].in_view[VFE] != fe_view[i] ||
		    s->m[i].in_view[VBE] != be_view[i])
			fail_msg("message %zu: views %d/%d, want %d/%d", i,
			         s->m[i].in_view[VFE], s->m[i].in_view[VBE],
			         fe_view[i], be_view[i]);
	}
	/* The front-end got vuproxy's answer to GET_CONFIG. */
	assert_int_equal(s->m[2].pair[VBE], 3);
	assert_int_equal(s->m[2].pair[VFE], -1);
	assert_int_equal(s->m[5].pair[VFE], 7);
	assert_int_equal(s->m[5].pair[VBE], 7);
	assert_int_equal(s->m[6].pair[VFE], -1);
	assert_int_equal(s->m[6].pair[VBE], -1);
	vup_replay_free(s);
}

static void cut_short(void **state)
{
	(void)state;
	static struct rt t;
	memset(&t, 0, sizeof(t));
	rt_session(&t, 1);
	assert_int_equal(rt_write_gz(&t, file("cut.pcapng.gz")), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	/* Cut in the middle: what a SIGKILLed vuproxy leaves. */
	assert_int_equal(truncate(path, st.st_size * 2 / 3), 0);
	assert_int_equal(load_fails(path, -1, false), -EINVAL);
	assert_contains(err, "cut short");
	assert_contains(err, "--partial");
	struct vup_replay_script *s = NULL;
	assert_int_equal(vup_replay_load(path, -1, true, &s, err, sizeof(err)),
	                 0);
	assert_true(s->truncated);
	assert_true(s->n > 0 && s->n < t.n);
	vup_replay_free(s);
}

static void write_bytes(const char *p, const void *data, size_t len)
{
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void foreign_files(void **state)
{
	(void)state;
	write_bytes(file("text"), "hello, world\n", 13);
	load_fails(path, -1, false);
	assert_contains(err, "not a readable trace");
	write_bytes(file("empty"), "", 0);
	load_fails(path, -1, false);
	assert_contains(err, "empty file");
	assert_int_equal(load_fails(file("missing"), -1, false), -ENOENT);
	/* pcapng, but Ethernet only: not a vuproxy trace. */
	struct vup_buf b = {0};
	uint8_t frame[60] = {0};
	pcapng_shb(&b, "someone else");
	pcapng_idb(&b, LINKTYPE_ETHERNET, 65535, "eth0", NULL);
	pcapng_epb(&b, 0, 1, frame, 60, 60, 0, NULL);
	write_bytes(file("eth.pcapng"), b.data, b.len);
	vup_buf_free(&b);
	load_fails(path, -1, false);
	assert_contains(err, "no vuproxy control messages in 1 frames");
	/* A user link type packet without the pseudo-header magic. */
	pcapng_shb(&b, "someone else");
	pcapng_idb(&b, LINKTYPE_USER0, 65535, "x", NULL);
	memcpy(frame, "XYZ", 3);
	pcapng_epb(&b, 0, 1, frame, 60, 60, 0, NULL);
	write_bytes(file("user0.pcapng"), b.data, b.len);
	vup_buf_free(&b);
	load_fails(path, -1, false);
	assert_contains(err, "not a vuproxy trace");
}

static void newer_vuproxy(void **state)
{
	(void)state;
	static struct rt t;
	memset(&t, 0, sizeof(t));
	rt_session(&t, 1);
	assert_int_equal(rt_write_plain(&t, file("v1.pcapng"), 1), 0);
	struct vup_replay_script *s = load_ok(path, -1);
	assert_int_equal(s->n, t.n);
	vup_replay_free(s);
	assert_int_equal(rt_write_plain(&t, file("v2.pcapng"), 2), 0);
	assert_int_equal(load_fails(path, -1, false), -ENOTSUP);
	assert_contains(err, "newer vuproxy");
	assert_contains(err, "version 2");
}

static void damaged_records(void **state)
{
	(void)state;
	static const uint32_t lies[] = {100, 0xffffffffu, 4097};
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		static struct rt t;
		memset(&t, 0, sizeof(t));
		rt_add(&t, 1, M, FE, 3, RQ, NULL, 0);
		rt_u64(&t, 1, M, FE, 2, RQ, 7)->lie_size = lies[i];
		assert_int_equal(rt_write_plain(&t, file("lie.pcapng"), 1), 0);
		load_fails(path, -1, false);
		assert_contains(err, "frame 2");
		assert_contains(err, "cut or damaged record");
	}
}

static void no_setup(void **state)
{
	(void)state;
	static struct rt t;
	struct vup_replay_script *s;
	/* Only the back-end spoke. */
	memset(&t, 0, sizeof(t));
	rt_u64(&t, 1, M, BE, 1, RP, 3);
	assert_int_equal(rt_write_gz(&t, file("be-only.pcapng.gz")), 0);
	s = load_ok(path, -1);
	assert_int_equal(vup_replay_check_setup(s, VFE, err, sizeof(err)),
	                 -EINVAL);
	assert_contains(err, "no setup: no request from the front-end");
	assert_int_equal(vup_replay_check_setup(s, VBE, err, sizeof(err)),
	                 -EINVAL);
	vup_replay_free(s);
	/* Vrings set up with no memory table before: the middle of a
	 * session (a rotated file). */
	memset(&t, 0, sizeof(t));
	rt_u64(&t, 1, M, FE, 8, RQ, 256ull << 32);
	uint8_t addr[40] = {0};
	rt_add(&t, 1, M, FE, 9, RQ, addr, 40);
	assert_int_equal(rt_write_gz(&t, file("middle.pcapng.gz")), 0);
	s = load_ok(path, -1);
	assert_int_equal(vup_replay_check_setup(s, VFE, err, sizeof(err)),
	                 -EINVAL);
	assert_contains(err, "frame 2 SET_VRING_ADDR comes before any "
	                     "SET_MEM_TABLE");
	vup_replay_free(s);
	/* Requests without vrings need no memory table. */
	memset(&t, 0, sizeof(t));
	rt_add(&t, 1, M, FE, 1, RQ, NULL, 0);
	rt_u64(&t, 1, M, BE, 1, RP, 3);
	assert_int_equal(rt_write_gz(&t, file("features.pcapng.gz")), 0);
	s = load_ok(path, -1);
	assert_int_equal(vup_replay_check_setup(s, VFE, err, sizeof(err)), 0);
	vup_replay_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(session_loads_and_pairs),
	        cmocka_unit_test(choosing_a_session),
	        cmocka_unit_test(views_under_rules),
	        cmocka_unit_test(cut_short),
	        cmocka_unit_test(foreign_files),
	        cmocka_unit_test(newer_vuproxy),
	        cmocka_unit_test(damaged_records),
	        cmocka_unit_test(no_setup),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
