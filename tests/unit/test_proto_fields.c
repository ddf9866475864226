/* Unit tests for src/proto/fields.c: the field tables of every layout,
 * vup_field_get/set (bit-fields, odd sizes, bounds), the layout a message
 * is read with, and vup_proto_note. */
#include <errno.h>
#include <stdio.h>
#include <strings.h>

#include "unit.h"

/* ---- fields ---- */

static const struct vup_field *field(enum vup_layout l, const char *name)
{
	size_t n;
	const struct vup_field *f = vup_layout_fields(l, &n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return &f[i];
	fail_msg("layout %s has no field %s", vup_layout_name(l), name);
	return NULL;
}

/* Every field of every layout lies within the largest payload the
 * catalogue allows for that layout, and has a sane shape. */
static void fields_fit_their_messages(void **state)
{
	(void)state;
	unsigned max[VUP_L_COUNT] = {0};
	for (int ch = VUP_CHAN_MAIN; ch <= VUP_CHAN_BACKEND; ch++) {
		for (size_t i = 0; i < vup_proto_count(ch); i++) {
			const struct vup_msg_type *t = vup_proto_at(ch, i);
			if (t->req_max > max[t->req_layout])
				max[t->req_layout] = t->req_max;
			if (t->rep_max > max[t->rep_layout])
				max[t->rep_layout] = t->rep_max;
		}
	}
	max[VUP_L_VRING_BASE_PACKED] = max[VUP_L_VRING_BASE];
	for (int l = 0; l < VUP_L_COUNT; l++) {
		size_t n;
		const struct vup_field *f = vup_layout_fields(l, &n);
		if (l == VUP_L_NONE || l == VUP_L_OPAQUE) {
			assert_int_equal(n, 0);
			continue;
		}
		if (n == 0)
			fail_msg("layout %s has no fields", vup_layout_name(l));
		if (max[l] == 0)
			fail_msg("layout %s is used by no request",
			         vup_layout_name(l));
		for (size_t i = 0; i < n; i++) {
			const char *what = vup_layout_name(l);
			if (f[i].off + f[i].size > max[l])
				fail_msg("%s.%s ends at %u, messages hold %u",
				         what, f[i].name, f[i].off + f[i].size,
				         max[l]);
			assert_true(f[i].size == 1 || f[i].size == 2 ||
			            f[i].size == 4 || f[i].size == 8 ||
			            f[i].size == 6 || f[i].size == 16);
			assert_true(f[i].shift + f[i].bits <= 8 * f[i].size);
			for (size_t j = i + 1; j < n; j++)
				assert_string_not_equal(f[i].name, f[j].name);
		}
	}
	size_t n = 99;
	assert_null(vup_layout_fields(VUP_L_COUNT, &n));
	assert_int_equal(n, 0);
}

static void fields_vring_addr(void **state)
{
	(void)state;
	uint8_t buf[41];
	uint8_t *p = buf + 1; /* unaligned on purpose */
	memset(buf, 0, sizeof(buf));
	put_u32(p, 0, 3);
	put_u32(p, 4, 1);
	put_u64(p, 8, 0x7f0012345000ull);
	put_u64(p, 16, 0x7f0012346000ull);
	put_u64(p, 24, 0x7f0012347000ull);
	put_u64(p, 32, 0xabc);
	uint64_t v;
	assert_true(vup_field_get(field(VUP_L_VRING_ADDR, "index"), p, 40, &v));
	assert_int_equal(v, 3);
	assert_true(vup_field_get(field(VUP_L_VRING_ADDR, "flags"), p, 40, &v));
	assert_int_equal(v, 1);
	assert_true(vup_field_get(field(VUP_L_VRING_ADDR, "desc"), p, 40, &v));
	assert_int_equal(v, 0x7f0012345000ull);
	assert_true(vup_field_get(field(VUP_L_VRING_ADDR, "used"), p, 40, &v));
	assert_int_equal(v, 0x7f0012346000ull);
	assert_true(vup_field_get(field(VUP_L_VRING_ADDR, "avail"), p, 40, &v));
	assert_int_equal(v, 0x7f0012347000ull);
	assert_true(vup_field_get(field(VUP_L_VRING_ADDR, "log"), p, 40, &v));
	assert_int_equal(v, 0xabc);
	/* Beyond the payload: refused, *out untouched. */
	v = 42;
	assert_false(vup_field_get(field(VUP_L_VRING_ADDR, "log"), p, 39, &v));
	assert_int_equal(v, 42);
	assert_false(vup_field_get(field(VUP_L_VRING_ADDR, "index"), p, 3, &v));
	assert_true(vup_field_get(field(VUP_L_VRING_ADDR, "index"), p, 4, &v));

	assert_true(vup_field_set(field(VUP_L_VRING_ADDR, "desc"), p, 40,
	                          0x1122334455667788ull));
	assert_true(vup_field_get(field(VUP_L_VRING_ADDR, "desc"), p, 40, &v));
	assert_int_equal(v, 0x1122334455667788ull);
	assert_true(vup_field_get(field(VUP_L_VRING_ADDR, "used"), p, 40, &v));
	assert_int_equal(v, 0x7f0012346000ull);
	/* A set beyond the payload writes nothing. */
	uint8_t before[41];
	memcpy(before, buf, sizeof(buf));
	assert_false(vup_field_set(field(VUP_L_VRING_ADDR, "log"), p, 39, 7));
	assert_memory_equal(before, buf, sizeof(buf));
	/* A 32-bit field keeps its neighbours. */
	assert_true(vup_field_set(field(VUP_L_VRING_ADDR, "index"), p, 40,
	                          0xffffffffffull));
	assert_true(vup_field_get(field(VUP_L_VRING_ADDR, "index"), p, 40, &v));
	assert_int_equal(v, 0xffffffff);
	assert_true(vup_field_get(field(VUP_L_VRING_ADDR, "flags"), p, 40, &v));
	assert_int_equal(v, 1);
}

static void fields_packed_vring_base(void **state)
{
	(void)state;
	uint8_t p[8];
	uint32_t num = 0x1234u | 1u << 15 | 0x2345u << 16 | 0u << 31;
	put_u32(p, 0, 7);
	put_u32(p, 4, num);
	const struct vup_field *ai =
	        field(VUP_L_VRING_BASE_PACKED, "avail_idx");
	const struct vup_field *aw =
	        field(VUP_L_VRING_BASE_PACKED, "avail_wrap");
	const struct vup_field *ui = field(VUP_L_VRING_BASE_PACKED, "used_idx");
	const struct vup_field *uw =
	        field(VUP_L_VRING_BASE_PACKED, "used_wrap");
	uint64_t v;
	assert_true(vup_field_get(ai, p, 8, &v));
	assert_int_equal(v, 0x1234);
	assert_true(vup_field_get(aw, p, 8, &v));
	assert_int_equal(v, 1);
	assert_true(vup_field_get(ui, p, 8, &v));
	assert_int_equal(v, 0x2345);
	assert_true(vup_field_get(uw, p, 8, &v));
	assert_int_equal(v, 0);
	assert_true(vup_field_get(field(VUP_L_VRING_BASE_PACKED, "index"), p, 8,
	                          &v));
	assert_int_equal(v, 7);

	/* Setting one bit-field leaves the others alone. */
	assert_true(vup_field_set(uw, p, 8, 1));
	uint32_t got;
	memcpy(&got, p + 4, 4);
	assert_int_equal(got, num | 1u << 31);
	assert_true(vup_field_set(aw, p, 8, 0));
	memcpy(&got, p + 4, 4);
	assert_int_equal(got, (num | 1u << 31) & ~(1u << 15));
	/* Values wider than the field are masked to it. */
	assert_true(vup_field_set(ai, p, 8, 0xffff));
	assert_true(vup_field_get(ai, p, 8, &v));
	assert_int_equal(v, 0x7fff);
	assert_true(vup_field_get(aw, p, 8, &v));
	assert_int_equal(v, 0);
	assert_true(vup_field_get(ui, p, 8, &v));
	assert_int_equal(v, 0x2345);
	memcpy(&got, p, 4);
	assert_int_equal(got, 7);
	assert_false(vup_field_get(ui, p, 7, &v));
	assert_false(vup_field_set(ui, p, 7, 1));
}

static void fields_vring_fd(void **state)
{
	(void)state;
	uint8_t p[8];
	put_u64(p, 0, 0x1ff);
	const struct vup_field *idx = field(VUP_L_VRING_FD, "index");
	const struct vup_field *nofd = field(VUP_L_VRING_FD, "nofd");
	uint64_t v;
	assert_true(vup_field_get(idx, p, 8, &v));
	assert_int_equal(v, 0xff);
	assert_true(vup_field_get(nofd, p, 8, &v));
	assert_int_equal(v, 1);
	assert_true(vup_field_set(nofd, p, 8, 0));
	uint64_t raw;
	memcpy(&raw, p, 8);
	assert_int_equal(raw, 0xff);
	assert_true(vup_field_set(idx, p, 8, 2));
	assert_true(vup_field_set(nofd, p, 8, 1));
	memcpy(&raw, p, 8);
	assert_int_equal(raw, 0x102);
	/* The host notifier shares the encoding. */
	uint8_t hn[24] = {0};
	put_u64(hn, 0, 0x105);
	put_u64(hn, 8, 0x1000);
	assert_true(
	        vup_field_get(field(VUP_L_HOST_NOTIFIER, "index"), hn, 24, &v));
	assert_int_equal(v, 5);
	assert_true(
	        vup_field_get(field(VUP_L_HOST_NOTIFIER, "nofd"), hn, 24, &v));
	assert_int_equal(v, 1);
	assert_true(
	        vup_field_get(field(VUP_L_HOST_NOTIFIER, "size"), hn, 24, &v));
	assert_int_equal(v, 0x1000);
}

static void fields_small_and_odd(void **state)
{
	(void)state;
	uint64_t v;
	/* MAC: 6 bytes in wire order. */
	uint8_t mac[8] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xaa, 0xbb};
	const struct vup_field *m = field(VUP_L_MAC, "mac");
	assert_true(vup_field_get(m, mac, 8, &v));
	assert_int_equal(v, 0x563412005452ull);
	assert_true(vup_field_set(m, mac, 8, 0x0605040302ffull));
	const uint8_t want[8] = {0xff, 0x02, 0x03, 0x04,
	                         0x05, 0x06, 0xaa, 0xbb};
	assert_memory_equal(mac, want, 8);
	assert_false(vup_field_get(m, mac, 5, &v));
	/* u16 fields of the inflight struct. */
	uint8_t inf[24] = {0};
	inf[16] = 0x02;
	inf[18] = 0x00;
	inf[19] = 0x01;
	assert_true(vup_field_get(field(VUP_L_INFLIGHT, "num_queues"), inf, 24,
	                          &v));
	assert_int_equal(v, 2);
	assert_true(vup_field_get(field(VUP_L_INFLIGHT, "queue_size"), inf, 24,
	                          &v));
	assert_int_equal(v, 256);
	assert_true(vup_field_set(field(VUP_L_INFLIGHT, "num_queues"), inf, 24,
	                          0x12345));
	assert_int_equal(inf[16], 0x45);
	assert_int_equal(inf[17], 0x23);
	assert_int_equal(inf[18], 0x00);
	/* u8 fields of the IOTLB message. */
	uint8_t io[32] = {0};
	io[24] = 3;
	io[25] = 2;
	assert_true(vup_field_get(field(VUP_L_IOTLB, "perm"), io, 32, &v));
	assert_int_equal(v, 3);
	assert_true(vup_field_get(field(VUP_L_IOTLB, "type"), io, 32, &v));
	assert_int_equal(v, 2);
	/* UUIDs are not integers. */
	uint8_t uuid[16] = {0};
	assert_false(vup_field_get(field(VUP_L_UUID, "uuid"), uuid, 16, &v));
	assert_false(vup_field_set(field(VUP_L_UUID, "uuid"), uuid, 16, 1));
	/* ADD_MEM_REG: the region follows an 8-byte pad. */
	uint8_t reg[40] = {0};
	put_u64(reg, 8, 0x100000);
	put_u64(reg, 24, 0x7f00);
	assert_true(vup_field_get(field(VUP_L_MEM_REG, "gpa"), reg, 40, &v));
	assert_int_equal(v, 0x100000);
	assert_true(vup_field_get(field(VUP_L_MEM_REG, "uaddr"), reg, 40, &v));
	assert_int_equal(v, 0x7f00);
}

static void msg_layout(void **state)
{
	(void)state;
	struct vup_negotiated packed = {1ull << VUP_F_RING_PACKED, 0};
	struct vup_hdr h;
	const struct vup_msg_type *sb = vup_proto_lookup(VUP_CHAN_MAIN, 10);
	const struct vup_msg_type *gb = vup_proto_lookup(VUP_CHAN_MAIN, 11);
	h = hdr(10, REQ, 8);
	assert_int_equal(vup_msg_layout(sb, &h, NULL), VUP_L_VRING_BASE);
	assert_int_equal(vup_msg_layout(sb, &h, &packed),
	                 VUP_L_VRING_BASE_PACKED);
	assert_int_equal(vup_msg_layout(gb, &h, &packed), VUP_L_VRING_STATE);
	h = hdr(11, REPLY, 8);
	assert_int_equal(vup_msg_layout(gb, &h, NULL), VUP_L_VRING_BASE);
	assert_int_equal(vup_msg_layout(gb, &h, &packed),
	                 VUP_L_VRING_BASE_PACKED);
	/* A short answer to a postcopy-capable request is an ack. */
	const struct vup_msg_type *mt = vup_proto_lookup(VUP_CHAN_MAIN, 5);
	h = hdr(5, REPLY, 8);
	assert_int_equal(vup_msg_layout(mt, &h, NULL), VUP_L_ACK);
	h = hdr(5, REPLY, 40);
	assert_int_equal(vup_msg_layout(mt, &h, NULL), VUP_L_MEM_TABLE);
	h = hdr(5, REQ, 8);
	assert_int_equal(vup_msg_layout(mt, &h, NULL), VUP_L_MEM_TABLE);
	h = hdr(2, REPLY, 8);
	assert_int_equal(
	        vup_msg_layout(vup_proto_lookup(VUP_CHAN_MAIN, 2), &h, NULL),
	        VUP_L_ACK);
	h = hdr(99, REQ, 8);
	assert_int_equal(vup_msg_layout(NULL, &h, NULL), VUP_L_OPAQUE);
}

static void note_negotiation(void **state)
{
	(void)state;
	struct vup_negotiated neg = {0, 0};
	uint8_t p[8];
	put_u64(p, 0, 0x140000000ull);
	struct vup_hdr h = hdr(2, REQ, 8);
	vup_proto_note(&neg, VUP_CHAN_MAIN, VUP_FRONTEND, &h, p);
	assert_int_equal(neg.features, 0x140000000ull);
	assert_int_equal(neg.protocol_features, 0);
	put_u64(p, 0, 0x8);
	h = hdr(16, REQ | VUP_FLAG_NEED_REPLY, 8);
	vup_proto_note(&neg, VUP_CHAN_MAIN, VUP_FRONTEND, &h, p);
	assert_int_equal(neg.protocol_features, 0x8);
	assert_int_equal(neg.features, 0x140000000ull);
	/* Not from the back-end's replies (flagged or not), short payloads,
	 * other requests or the back-end channel (where 2 and 16 mean
	 * something else). */
	put_u64(p, 0, ~0ull);
	const struct vup_hdr ignored[] = {
	        hdr(2, REPLY, 8), hdr(16, REPLY, 8), hdr(2, REQ, 4),
	        hdr(16, REQ, 0),  hdr(1, REQ, 8),    hdr(15, REQ, 8),
	};
	for (size_t i = 0; i < COUNT(ignored); i++) {
		vup_proto_note(&neg, VUP_CHAN_MAIN, VUP_BACKEND, &ignored[i],
		               p);
		if (i >= 2)
			vup_proto_note(&neg, VUP_CHAN_MAIN, VUP_FRONTEND,
			               &ignored[i], p);
	}
	h = hdr(2, REQ, 8);
	vup_proto_note(&neg, VUP_CHAN_BACKEND, VUP_FRONTEND, &h, p);
	vup_proto_note(&neg, VUP_CHAN_BACKEND, VUP_BACKEND, &h, p);
	h = hdr(16, REQ, 8);
	vup_proto_note(&neg, VUP_CHAN_BACKEND, VUP_BACKEND, &h, p);
	assert_int_equal(neg.features, 0x140000000ull);
	assert_int_equal(neg.protocol_features, 0x8);
	/* The front-end's request flagged as a reply still negotiates: the
	 * back-end may well take it. */
	put_u64(p, 0, 0x100000000ull);
	h = hdr(2, REPLY, 8);
	vup_proto_note(&neg, VUP_CHAN_MAIN, VUP_FRONTEND, &h, p);
	assert_int_equal(neg.features, 0x100000000ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(fields_fit_their_messages),
	        cmocka_unit_test(fields_vring_addr),
	        cmocka_unit_test(fields_packed_vring_base),
	        cmocka_unit_test(fields_vring_fd),
	        cmocka_unit_test(fields_small_and_odd),
	        cmocka_unit_test(msg_layout),
	        cmocka_unit_test(note_negotiation),
	};
	return cmocka_run_group_tests_name("proto_fields", tests, NULL, NULL);
}
