/* Unit tests for src/proto/catalogue.c (and the feature names of
 * fields.c): the catalogue against the spec tables of PROTOCOL.md 2a/2b,
 * lookups by code, name, prefix and alias, and name uniqueness. */
#include <errno.h>
#include <stdio.h>
#include <strings.h>

#include "unit.h"

/* ---- the spec, as test data (PROTOCOL.md 2a and 2b) ---- */

struct spec_row {
	uint32_t code;
	const char *name;
	enum vup_reply_rule reply;
	enum vup_fd_rule req_fds, rep_fds;
	uint16_t req_min, req_max;
};

#define ACK   VUP_REPLY_ACK
#define ALW   VUP_REPLY_ALWAYS
#define FEAT  VUP_REPLY_FEATURE
#define PCOPY VUP_REPLY_POSTCOPY
#define NO    VUP_FD_NONE
#define ONE   VUP_FD_ONE
#define OPT   VUP_FD_OPTIONAL
#define VRING VUP_FD_VRING
#define PERR  VUP_FD_PER_REGION

static const struct spec_row spec_main[] = {
        {1, "GET_FEATURES", ALW, NO, NO, 0, 0},
        {2, "SET_FEATURES", ACK, NO, NO, 8, 8},
        {3, "SET_OWNER", ACK, NO, NO, 0, 0},
        {4, "RESET_OWNER", ACK, NO, NO, 0, 0},
        {5, "SET_MEM_TABLE", PCOPY, PERR, NO, 8, 8 + 8 * 40},
        {6, "SET_LOG_BASE", FEAT, OPT, NO, 16, 16},
        {7, "SET_LOG_FD", ACK, ONE, NO, 0, 8},
        {8, "SET_VRING_NUM", ACK, NO, NO, 8, 8},
        {9, "SET_VRING_ADDR", ACK, NO, NO, 40, 40},
        {10, "SET_VRING_BASE", ACK, NO, NO, 8, 8},
        {11, "GET_VRING_BASE", ALW, NO, NO, 8, 8},
        {12, "SET_VRING_KICK", ACK, VRING, NO, 8, 8},
        {13, "SET_VRING_CALL", ACK, VRING, NO, 8, 8},
        {14, "SET_VRING_ERR", ACK, VRING, NO, 8, 8},
        {15, "GET_PROTOCOL_FEATURES", ALW, NO, NO, 0, 0},
        {16, "SET_PROTOCOL_FEATURES", ACK, NO, NO, 8, 8},
        {17, "GET_QUEUE_NUM", ALW, NO, NO, 0, 0},
        {18, "SET_VRING_ENABLE", ACK, NO, NO, 8, 8},
        {19, "SEND_RARP", ACK, NO, NO, 8, 8},
        {20, "NET_SET_MTU", ACK, NO, NO, 8, 8},
        {21, "SET_BACKEND_REQ_FD", ACK, ONE, NO, 0, 0},
        {22, "IOTLB_MSG", ACK, NO, NO, 32, 32},
        {23, "SET_VRING_ENDIAN", ACK, NO, NO, 8, 8},
        {24, "GET_CONFIG", ALW, NO, NO, 12, 12 + 256},
        {25, "SET_CONFIG", ACK, NO, NO, 12, 12 + 256},
        {26, "CREATE_CRYPTO_SESSION", ALW, NO, NO, 0, VUP_MAX_PAYLOAD},
        {27, "CLOSE_CRYPTO_SESSION", ACK, NO, NO, 8, 8},
        {28, "POSTCOPY_ADVISE", ALW, NO, OPT, 0, 0},
        {29, "POSTCOPY_LISTEN", ACK, NO, NO, 0, 0},
        {30, "POSTCOPY_END", ALW, NO, NO, 0, 0},
        {31, "GET_INFLIGHT_FD", ALW, NO, OPT, 24, 24},
        {32, "SET_INFLIGHT_FD", ACK, ONE, NO, 24, 24},
        {33, "GPU_SET_SOCKET", ACK, ONE, NO, 0, 0},
        {34, "RESET_DEVICE", ACK, NO, NO, 0, 0},
        {35, "VRING_KICK", ACK, NO, NO, 8, 8},
        {36, "GET_MAX_MEM_SLOTS", ALW, NO, NO, 0, 0},
        {37, "ADD_MEM_REG", PCOPY, ONE, NO, 40, 48},
        {38, "REM_MEM_REG", ACK, OPT, NO, 40, 48},
        {39, "SET_STATUS", ACK, NO, NO, 8, 8},
        {40, "GET_STATUS", ALW, NO, NO, 0, 0},
        {41, "GET_SHARED_OBJECT", ALW, NO, OPT, 16, 16},
        {42, "SET_DEVICE_STATE_FD", ALW, ONE, OPT, 8, 8},
        {43, "CHECK_DEVICE_STATE", ALW, NO, NO, 0, 0},
        {44, "GET_SHMEM_CONFIG", ALW, NO, NO, 0, 0},
        {45, "GET_VRING_BASE_SKIP_DRAIN", ALW, NO, NO, 8, 8},
};

static const struct spec_row spec_backend[] = {
        {1, "BACKEND_IOTLB_MSG", ACK, NO, NO, 32, 32},
        {2, "BACKEND_CONFIG_CHANGE_MSG", ACK, NO, NO, 0, 0},
        {3, "BACKEND_VRING_HOST_NOTIFIER_MSG", ACK, VRING, NO, 24, 24},
        {4, "BACKEND_VRING_CALL", ACK, NO, NO, 8, 8},
        {5, "BACKEND_VRING_ERR", ACK, NO, NO, 8, 8},
        {6, "BACKEND_SHARED_OBJECT_ADD", ACK, NO, NO, 16, 16},
        {7, "BACKEND_SHARED_OBJECT_REMOVE", ACK, NO, NO, 16, 16},
        {8, "BACKEND_SHARED_OBJECT_LOOKUP", ALW, NO, OPT, 16, 16},
        {9, "BACKEND_SHMEM_MAP", ACK, ONE, NO, 40, 40},
        {10, "BACKEND_SHMEM_UNMAP", ACK, NO, NO, 40, 40},
};

static void check_against_spec(enum vup_chan chan, const struct spec_row *s,
                               size_t n)
{
	assert_int_equal(vup_proto_count(chan), n);
	assert_null(vup_proto_at(chan, n));
	for (size_t i = 0; i < n; i++) {
		const struct vup_msg_type *t =
		        vup_proto_lookup(chan, s[i].code);
		if (!t)
			fail_msg("%s code %u missing", vup_chan_name(chan),
			         s[i].code);
		assert_ptr_equal(t, vup_proto_at(chan, i));
		assert_int_equal(t->code, s[i].code);
		assert_int_equal(t->chan, chan);
		assert_string_equal(t->name, s[i].name);
		assert_string_equal(vup_proto_name(chan, s[i].code), s[i].name);
		if (t->reply != s[i].reply)
			fail_msg("%s: reply rule %d, spec %d", t->name,
			         t->reply, s[i].reply);
		if (t->req_fds != s[i].req_fds || t->rep_fds != s[i].rep_fds)
			fail_msg("%s: fd rules %d/%d, spec %d/%d", t->name,
			         t->req_fds, t->rep_fds, s[i].req_fds,
			         s[i].rep_fds);
		if (t->req_min != s[i].req_min || t->req_max != s[i].req_max)
			fail_msg("%s: request size %u..%u, spec %u..%u",
			         t->name, t->req_min, t->req_max, s[i].req_min,
			         s[i].req_max);
		/* Bounds are sane and within the global limit. */
		assert_true(t->req_min <= t->req_max);
		assert_true(t->rep_min <= t->rep_max);
		assert_true(t->req_max <= VUP_MAX_PAYLOAD);
		assert_true(t->rep_max <= VUP_MAX_PAYLOAD);
		/* An ACK-only request is answered by a u64 at most. */
		if (t->reply == VUP_REPLY_ACK) {
			assert_int_equal(t->rep_layout, VUP_L_ACK);
			assert_int_equal(t->rep_max, 8);
		}
	}
}

static void catalogue_main_matches_spec(void **state)
{
	(void)state;
	check_against_spec(VUP_CHAN_MAIN, spec_main, COUNT(spec_main));
}

static void catalogue_backend_matches_spec(void **state)
{
	(void)state;
	check_against_spec(VUP_CHAN_BACKEND, spec_backend, COUNT(spec_backend));
}

/* Every name and alias, on both channels, is unique (case-insensitively)
 * and finds its own row. */
static void catalogue_names_unique(void **state)
{
	(void)state;
	const char *names[128];
	const struct vup_msg_type *rows[128];
	size_t n = 0;
	for (int ch = VUP_CHAN_MAIN; ch <= VUP_CHAN_BACKEND; ch++) {
		for (size_t i = 0; i < vup_proto_count(ch); i++) {
			const struct vup_msg_type *t = vup_proto_at(ch, i);
			assert_non_null(t->name);
			assert_true(strlen(t->name) > 0);
			assert_null(strchr(t->name, ' '));
			assert_true(strncmp(t->name, "VHOST_USER_", 11) != 0);
			names[n] = t->name;
			rows[n++] = t;
			if (t->alias) {
				names[n] = t->alias;
				rows[n++] = t;
			}
		}
	}
	assert_true(n > 55);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++)
			if (strcasecmp(names[i], names[j]) == 0)
				fail_msg("name %s appears twice", names[i]);
		assert_ptr_equal(vup_proto_by_name(names[i]), rows[i]);
	}
}

static void catalogue_by_name(void **state)
{
	(void)state;
	const struct vup_msg_type *t;
	t = vup_proto_by_name("GET_FEATURES");
	assert_non_null(t);
	assert_int_equal(t->code, 1);
	assert_int_equal(t->chan, VUP_CHAN_MAIN);
	assert_ptr_equal(vup_proto_by_name("get_features"), t);
	assert_ptr_equal(vup_proto_by_name("VHOST_USER_GET_FEATURES"), t);
	assert_ptr_equal(vup_proto_by_name("vhost_user_get_features"), t);

	t = vup_proto_by_name("SET_BACKEND_REQ_FD");
	assert_non_null(t);
	assert_int_equal(t->code, 21);
	assert_ptr_equal(vup_proto_by_name("SET_SLAVE_REQ_FD"), t);
	assert_ptr_equal(vup_proto_by_name("VHOST_USER_SET_SLAVE_REQ_FD"), t);
	assert_ptr_equal(vup_proto_by_name("set_slave_req_fd"), t);
	assert_string_equal(t->alias, "SET_SLAVE_REQ_FD");

	t = vup_proto_by_name("VHOST_USER_SLAVE_IOTLB_MSG");
	assert_non_null(t);
	assert_int_equal(t->chan, VUP_CHAN_BACKEND);
	assert_int_equal(t->code, 1);
	assert_ptr_equal(vup_proto_by_name("BACKEND_IOTLB_MSG"), t);
	/* The main-channel IOTLB_MSG is a different request. */
	t = vup_proto_by_name("IOTLB_MSG");
	assert_non_null(t);
	assert_int_equal(t->chan, VUP_CHAN_MAIN);
	assert_int_equal(t->code, 22);

	assert_null(vup_proto_by_name("NO_SUCH_REQUEST"));
	assert_null(vup_proto_by_name(""));
	assert_null(vup_proto_by_name("VHOST_USER_"));
	assert_null(vup_proto_by_name("GET_FEATURE"));
	assert_null(vup_proto_by_name("GET_FEATURESX"));
	assert_null(vup_proto_by_name(NULL));
}

static void catalogue_unknown_codes(void **state)
{
	(void)state;
	const uint32_t main_bad[] = {0, 46, 47, 100, 0x7fffffff, 0xffffffff};
	const uint32_t be_bad[] = {0, 11, 12, 46, 0xffffffff};
	for (size_t i = 0; i < COUNT(main_bad); i++) {
		assert_null(vup_proto_lookup(VUP_CHAN_MAIN, main_bad[i]));
		assert_string_equal(vup_proto_name(VUP_CHAN_MAIN, main_bad[i]),
		                    "UNKNOWN");
	}
	for (size_t i = 0; i < COUNT(be_bad); i++) {
		assert_null(vup_proto_lookup(VUP_CHAN_BACKEND, be_bad[i]));
		assert_string_equal(vup_proto_name(VUP_CHAN_BACKEND, be_bad[i]),
		                    "UNKNOWN");
	}
	/* The code spaces overlap: 1 means different things per channel. */
	assert_string_equal(vup_proto_name(VUP_CHAN_MAIN, 1), "GET_FEATURES");
	assert_string_equal(vup_proto_name(VUP_CHAN_BACKEND, 1),
	                    "BACKEND_IOTLB_MSG");
	assert_null(vup_proto_at(VUP_CHAN_MAIN, 1000));
}

static void names_of_enums(void **state)
{
	(void)state;
	assert_string_equal(vup_chan_name(VUP_CHAN_MAIN), "main");
	assert_string_equal(vup_chan_name(VUP_CHAN_BACKEND), "backend");
	assert_string_equal(vup_side_name(VUP_FRONTEND), "front-end");
	assert_string_equal(vup_side_name(VUP_BACKEND), "back-end");
	assert_string_equal(vup_layout_name(VUP_L_NONE), "none");
	assert_string_equal(vup_layout_name(VUP_L_VRING_ADDR), "vring_addr");
	assert_string_equal(vup_layout_name(VUP_L_OPAQUE), "opaque");
	assert_string_equal(vup_layout_name(VUP_L_COUNT), "?");
	assert_string_equal(vup_layout_name((enum vup_layout) - 1), "?");
	/* Layout names are unique. */
	for (int i = 0; i < VUP_L_COUNT; i++)
		for (int j = i + 1; j < VUP_L_COUNT; j++)
			assert_string_not_equal(vup_layout_name(i),
			                        vup_layout_name(j));
}

/* The codes vuproxy's logic names (enum vup_req) are the catalogue's. */
static void request_enum_matches_catalogue(void **state)
{
	(void)state;
	static const struct {
		enum vup_req code;
		const char *name;
	} rows[] = {
	        {VUP_REQ_SET_FEATURES, "SET_FEATURES"},
	        {VUP_REQ_RESET_OWNER, "RESET_OWNER"},
	        {VUP_REQ_SET_MEM_TABLE, "SET_MEM_TABLE"},
	        {VUP_REQ_SET_VRING_NUM, "SET_VRING_NUM"},
	        {VUP_REQ_SET_VRING_ADDR, "SET_VRING_ADDR"},
	        {VUP_REQ_SET_VRING_BASE, "SET_VRING_BASE"},
	        {VUP_REQ_GET_VRING_BASE, "GET_VRING_BASE"},
	        {VUP_REQ_SET_VRING_KICK, "SET_VRING_KICK"},
	        {VUP_REQ_SET_PROTOCOL_FEATURES, "SET_PROTOCOL_FEATURES"},
	        {VUP_REQ_SET_VRING_ENABLE, "SET_VRING_ENABLE"},
	        {VUP_REQ_SET_BACKEND_REQ_FD, "SET_BACKEND_REQ_FD"},
	        {VUP_REQ_RESET_DEVICE, "RESET_DEVICE"},
	        {VUP_REQ_ADD_MEM_REG, "ADD_MEM_REG"},
	        {VUP_REQ_REM_MEM_REG, "REM_MEM_REG"},
	        {VUP_REQ_SET_STATUS, "SET_STATUS"},
	        {VUP_REQ_SET_DEVICE_STATE_FD, "SET_DEVICE_STATE_FD"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct vup_msg_type *t =
		        vup_proto_lookup(VUP_CHAN_MAIN, rows[i].code);
		assert_non_null(t);
		assert_string_equal(t->name, rows[i].name);
	}
}

static void feature_names(void **state)
{
	(void)state;
	bool proto = true;
	assert_string_equal(vup_feature_name(32), "VIRTIO_F_VERSION_1");
	assert_string_equal(vup_feature_name(30),
	                    "VHOST_USER_F_PROTOCOL_FEATURES");
	assert_string_equal(vup_feature_name(34), "VIRTIO_F_RING_PACKED");
	assert_null(vup_feature_name(64));
	assert_null(vup_feature_name(1000));
	assert_string_equal(vup_protocol_feature_name(3), "REPLY_ACK");
	assert_string_equal(vup_protocol_feature_name(17), "XEN_MMAP");
	assert_string_equal(vup_protocol_feature_name(23),
	                    "GET_VRING_BASE_SKIP_DRAIN");
	assert_null(vup_protocol_feature_name(24));
	assert_null(vup_protocol_feature_name(64));

	assert_int_equal(vup_feature_bit("VIRTIO_F_VERSION_1", &proto), 32);
	assert_false(proto);
	assert_int_equal(vup_feature_bit("virtio_f_ring_packed", &proto), 34);
	assert_false(proto);
	assert_int_equal(vup_feature_bit("VIRTIO_BLK_F_RO", &proto), 5);
	assert_false(proto);
	assert_int_equal(vup_feature_bit("REPLY_ACK", &proto), 3);
	assert_true(proto);
	proto = false;
	assert_int_equal(
	        vup_feature_bit("VHOST_USER_PROTOCOL_F_XEN_MMAP", &proto), 17);
	assert_true(proto);
	proto = false;
	assert_int_equal(vup_feature_bit("SLAVE_REQ", &proto), 5);
	assert_true(proto);
	assert_int_equal(vup_feature_bit("SLAVE_SEND_FD", &proto), 10);
	assert_int_equal(vup_feature_bit("BACKEND_SEND_FD", &proto), 10);
	assert_int_equal(vup_feature_bit("NO_SUCH_FEATURE", &proto), -1);
	assert_int_equal(vup_feature_bit("", &proto), -1);
	/* Every named bit maps back to its number. */
	for (unsigned b = 0; b < 64; b++) {
		const char *n = vup_feature_name(b);
		if (n) {
			assert_int_equal(vup_feature_bit(n, &proto), (int)b);
			assert_false(proto);
		}
		n = vup_protocol_feature_name(b);
		if (n) {
			assert_int_equal(vup_feature_bit(n, &proto), (int)b);
			assert_true(proto);
		}
	}
}

/* The historical protocol-feature names are accepted bare (SLAVE_REQ);
 * they must be in their full spec spelling too, like every other name
 * (VHOST_USER_PROTOCOL_F_SLAVE_REQ is what DPDK and QEMU headers used). */
static void feature_names_legacy_prefixed(void **state)
{
	(void)state;
	bool proto = false;
	assert_int_equal(
	        vup_feature_bit("VHOST_USER_PROTOCOL_F_BACKEND_REQ", &proto),
	        5);
	proto = false;
	assert_int_equal(
	        vup_feature_bit("VHOST_USER_PROTOCOL_F_SLAVE_REQ", &proto), 5);
	assert_true(proto);
	assert_int_equal(
	        vup_feature_bit("VHOST_USER_PROTOCOL_F_SLAVE_SEND_FD", &proto),
	        10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(catalogue_main_matches_spec),
	        cmocka_unit_test(catalogue_backend_matches_spec),
	        cmocka_unit_test(catalogue_names_unique),
	        cmocka_unit_test(catalogue_by_name),
	        cmocka_unit_test(catalogue_unknown_codes),
	        cmocka_unit_test(names_of_enums),
	        cmocka_unit_test(request_enum_matches_catalogue),
	        cmocka_unit_test(feature_names),
	        cmocka_unit_test(feature_names_legacy_prefixed),
	};
	return cmocka_run_group_tests_name("proto_catalogue", tests, NULL,
	                                   NULL);
}
