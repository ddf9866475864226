/* Unit tests for src/proto/bits.c and include/vuproxy/bits.h: the enums
 * hold the spec's bit numbers, every name maps back to its bit, the
 * virtio-net header length, and the Wireshark dissector's bit tables are
 * the X-macros' rows. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"
#include "vuproxy/wireshark_lua.h"

/* ---- the enums against the specs ---- */

/* Numbers copied from the virtio 1.3 spec (6 Reserved Feature Bits,
 * 5.1.3 and 5.2.3 Feature bits, 2.1 Device Status Field; the same in
 * Linux's include/uapi/linux/virtio_{config,net,blk}.h) and from QEMU's
 * docs/interop/vhost-user.rst ("Protocol features"). */
static void enums_are_spec_bits(void **state)
{
	(void)state;
	assert_int_equal(VUP_F_NET_MRG_RXBUF, 15);
	assert_int_equal(VUP_F_NET_MQ, 22);
	assert_int_equal(VUP_F_NOTIFY_ON_EMPTY, 24);
	assert_int_equal(VUP_F_ANY_LAYOUT, 27);
	assert_int_equal(VUP_F_INDIRECT_DESC, 28);
	assert_int_equal(VUP_F_EVENT_IDX, 29);
	assert_int_equal(VUP_F_PROTOCOL_FEATURES, 30);
	assert_int_equal(VUP_F_VERSION_1, 32);
	assert_int_equal(VUP_F_ACCESS_PLATFORM, 33);
	assert_int_equal(VUP_F_RING_PACKED, 34);
	assert_int_equal(VUP_F_IN_ORDER, 35);
	assert_int_equal(VUP_F_RING_RESET, 40);
	assert_int_equal(VUP_F_NET_HASH_REPORT, 57);
	assert_int_equal(VUP_F_BLK_FLUSH, 9);
	assert_int_equal(VUP_F_BLK_ZONED, 17);

	assert_int_equal(VUP_PF_MQ, 0);
	assert_int_equal(VUP_PF_LOG_SHMFD, 1);
	assert_int_equal(VUP_PF_REPLY_ACK, 3);
	assert_int_equal(VUP_PF_NET_MTU, 4);
	assert_int_equal(VUP_PF_BACKEND_REQ, 5);
	assert_int_equal(VUP_PF_PAGEFAULT, 8);
	assert_int_equal(VUP_PF_CONFIG, 9);
	assert_int_equal(VUP_PF_BACKEND_SEND_FD, 10);
	assert_int_equal(VUP_PF_CONFIGURE_MEM_SLOTS, 15);
	assert_int_equal(VUP_PF_STATUS, 16);
	assert_int_equal(VUP_PF_XEN_MMAP, 17);
	assert_int_equal(VUP_PF_DEVICE_STATE, 19);

	assert_int_equal(VUP_STATUS_ACKNOWLEDGE, 1);
	assert_int_equal(VUP_STATUS_DRIVER, 2);
	assert_int_equal(VUP_STATUS_DRIVER_OK, 4);
	assert_int_equal(VUP_STATUS_FEATURES_OK, 8);
	assert_int_equal(VUP_STATUS_DEVICE_NEEDS_RESET, 0x40);
	assert_int_equal(VUP_STATUS_FAILED, 0x80);
	assert_int_equal(VUP_STATUS_BIT_DRIVER_OK, 2);
}

/* ---- names ---- */

/* A name is found whatever its case. */
static void lower(char *out, size_t cap, const char *s)
{
	size_t i = 0;
	for (; s[i] && i + 1 < cap; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
}

static void expect_bit(const char *name, int bit, bool protocol)
{
	bool p = !protocol;
	char low[64];
	if (vup_feature_bit(name, &p) != bit || p != protocol)
		fail_msg("%s: bit %d (protocol %d), want %d (%d)", name,
		         vup_feature_bit(name, &p), p, bit, protocol);
	lower(low, sizeof(low), name);
	p = !protocol;
	assert_int_equal(vup_feature_bit(low, &p), bit);
	assert_true(p == protocol);
}

static void rows_round_trip(void **state)
{
	(void)state;
	char full[64];
#define X(id, bit, name)                                                       \
	assert_string_equal(vup_feature_name(bit), name);                      \
	expect_bit(name, bit, false);
	VUP_VIRTIO_FEATURES(X)
#undef X
	/* blk names parse, and the bits print under net's names. */
#define X(id, bit, name)                                                       \
	expect_bit(name, bit, false);                                          \
	assert_true(!vup_feature_name(bit) ||                                  \
	            strcmp(vup_feature_name(bit), name) != 0);
	VUP_VIRTIO_BLK_FEATURES(X)
#undef X
#define X(id, bit)                                                             \
	assert_string_equal(vup_protocol_feature_name(bit), #id);              \
	expect_bit(#id, bit, true);                                            \
	snprintf(full, sizeof(full), "VHOST_USER_PROTOCOL_F_%s", #id);         \
	expect_bit(full, bit, true);
	VUP_PROTOCOL_FEATURES(X)
#undef X
#define X(id, bit)                                                             \
	assert_string_equal(vup_status_name(bit), #id);                        \
	assert_int_equal(VUP_STATUS_##id, 1u << VUP_STATUS_BIT_##id);
	VUP_STATUS_BITS(X)
#undef X
}

/* Every bit a name function names maps back to that bit; the rest of
 * the word, and beyond it, has no name. */
static void every_named_bit_maps_back(void **state)
{
	(void)state;
	unsigned named = 0, pnamed = 0, snamed = 0;
	for (unsigned b = 0; b < VUP_FEATURE_WORD_BITS; b++) {
		const char *n = vup_feature_name(b);
		if (n) {
			expect_bit(n, (int)b, false);
			named++;
		}
		n = vup_protocol_feature_name(b);
		if (n) {
			expect_bit(n, (int)b, true);
			pnamed++;
		}
	}
	for (unsigned b = 0; b < VUP_STATUS_WORD_BITS; b++)
		snamed += vup_status_name(b) != NULL;
	unsigned rows = 0, prows = 0, srows = 0;
#define X(...) rows++;
	VUP_VIRTIO_FEATURES(X)
#undef X
#define X(...) prows++;
	VUP_PROTOCOL_FEATURES(X)
#undef X
#define X(...) srows++;
	VUP_STATUS_BITS(X)
#undef X
	assert_int_equal(named, rows);
	assert_int_equal(pnamed, prows);
	assert_int_equal(snamed, srows);
	assert_null(vup_feature_name(VUP_FEATURE_WORD_BITS));
	assert_null(vup_protocol_feature_name(VUP_FEATURE_WORD_BITS));
	assert_null(vup_status_name(VUP_STATUS_WORD_BITS));
	assert_null(vup_feature_name(25));
	assert_null(vup_status_name(4));
}

static void names_not_in_the_lists(void **state)
{
	(void)state;
	bool p = false;
	/* the names before the "slave" rename */
	assert_int_equal(vup_feature_bit("SLAVE_REQ", &p), VUP_PF_BACKEND_REQ);
	assert_true(p);
	p = false;
	assert_int_equal(
	        vup_feature_bit("VHOST_USER_PROTOCOL_F_SLAVE_SEND_FD", &p),
	        VUP_PF_BACKEND_SEND_FD);
	assert_true(p);
	assert_int_equal(vup_feature_bit("VIRTIO_F_NOPE", &p), -1);
	assert_int_equal(vup_feature_bit("", &p), -1);
	/* The protocol prefix does not make a virtio name a protocol one. */
	assert_int_equal(
	        vup_feature_bit("VHOST_USER_PROTOCOL_F_VIRTIO_F_VERSION_1", &p),
	        -1);
}

/* ---- virtio-net header ---- */

static void net_hdr_len(void **state)
{
	(void)state;
	uint64_t v1 = UINT64_C(1) << VUP_F_VERSION_1;
	uint64_t mrg = UINT64_C(1) << VUP_F_NET_MRG_RXBUF;
	uint64_t hash = UINT64_C(1) << VUP_F_NET_HASH_REPORT;
	assert_int_equal(vup_net_hdr_len(0), 10);
	assert_int_equal(vup_net_hdr_len(~(v1 | mrg | hash)), 10);
	assert_int_equal(vup_net_hdr_len(mrg), 12);
	assert_int_equal(vup_net_hdr_len(v1), 12);
	assert_int_equal(vup_net_hdr_len(v1 | mrg), 12);
	assert_int_equal(vup_net_hdr_len(v1 | hash), 20);
	assert_int_equal(vup_net_hdr_len(v1 | mrg | hash), 20);
}

/* ---- the dissector ---- */

/* What `vuproxy wireshark-lua` prints (malloc'd). */
static char *dissector(void)
{
	char path[] = "/tmp/vup-test-bits.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
	char arg0[] = "wireshark-lua";
	char *argv[] = {arg0, NULL};
	int rc = vup_wireshark_lua_main(1, argv);
	fflush(stdout);
	assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
	close(saved);
	assert_int_equal(rc, 0);
	off_t len = lseek(fd, 0, SEEK_END);
	assert_true(len > 0);
	char *text = malloc((size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(pread(fd, text, (size_t)len, 0), len);
	text[len] = '\0';
	close(fd);
	return text;
}

/* The dissector's Lua table `local VAR = {` holds exactly the rows in
 * want. */
static void expect_table(const char *text, const char *var, const char *want)
{
	char head[64];
	snprintf(head, sizeof(head), "local %s = {\n", var);
	const char *start = strstr(text, head);
	if (!start)
		fail_msg("the dissector has no table %s", var);
	start += strlen(head);
	const char *end = strstr(start, "\n}\n");
	assert_non_null(end);
	char *rows = strndup(start, (size_t)(end + 1 - start));
	assert_non_null(rows);
	assert_string_equal(rows, want);
	free(rows);
}

/* Append the Lua row `[bit] = "name",` to want. */
static void lua_row(char *want, size_t cap, unsigned bit, const char *name)
{
	size_t n = strlen(want);
	snprintf(want + n, cap - n, "\t[%u] = \"%s\",\n", bit, name);
}

/* Each table holds exactly the rows of its X-macro, in bit order. */
static void dissector_tables_are_the_rows(void **state)
{
	(void)state;
	char *text = dissector();
	char want[4096] = "";
#define X(id, bit, name) lua_row(want, sizeof(want), bit, name);
	VUP_VIRTIO_FEATURES(X)
#undef X
	expect_table(text, "FEATURE_NAME", want);
	want[0] = '\0';
#define X(id, bit) lua_row(want, sizeof(want), bit, #id);
	VUP_PROTOCOL_FEATURES(X)
	expect_table(text, "PROTOCOL_FEATURE_NAME", want);
	want[0] = '\0';
	VUP_STATUS_BITS(X)
#undef X
	expect_table(text, "STATUS_NAME", want);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(enums_are_spec_bits),
	        cmocka_unit_test(rows_round_trip),
	        cmocka_unit_test(every_named_bit_maps_back),
	        cmocka_unit_test(names_not_in_the_lists),
	        cmocka_unit_test(net_hdr_len),
	        cmocka_unit_test(dissector_tables_are_the_rows),
	};
	return cmocka_run_group_tests_name("proto_bits", tests, NULL, NULL);
}
