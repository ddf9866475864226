/* Unit tests for src/proto/view.c and the field ids of fields.h: a
 * message decoded once, read by id, by the sender's role. */
#include <string.h>

#include "unit.h"

/* Each layout's slice of the field table is its own list, in order, and
 * the ids name the fields they say. */
static void ids_match_layout_tables(void **state)
{
	(void)state;
	size_t n;
	const struct vup_field *f = vup_layout_fields(VUP_L_VRING_ADDR, &n);
	assert_int_equal(n, 6);
	assert_ptr_equal(f, &vup_fields[VUP_FLD_VRING_ADDR_INDEX]);
	assert_string_equal(vup_fields[VUP_FLD_VRING_ADDR_DESC].name, "desc");
	assert_int_equal(vup_fields[VUP_FLD_VRING_ADDR_AVAIL].off, 24);
	assert_string_equal(vup_fields[VUP_FLD_MEM_REG_MMAP_OFFSET].name,
	                    "mmap_offset");
	assert_int_equal(vup_fields[VUP_FLD_MEM_REG_GPA].off, 8);
	assert_int_equal(vup_fields[VUP_FLD_REGION_GPA].off, 0);
	assert_string_equal(vup_mem_region_fields[3].name, "mmap_offset");
	vup_layout_fields(VUP_L_NONE, &n);
	assert_int_equal(n, 0);
	vup_layout_fields(VUP_L_OPAQUE, &n);
	assert_int_equal(n, 0);
	/* The regions are no layout's fields. */
	size_t total = 0;
	for (int l = 0; l < VUP_L_COUNT; l++) {
		vup_layout_fields(l, &n);
		total += n;
	}
	assert_int_equal(total + VUP_MEM_REGION_FIELDS, VUP_FLD_COUNT);
}

static void view_reads_by_role(void **state)
{
	(void)state;
	uint8_t p[40] = {0};
	uint32_t index = 1;
	uint64_t desc = 0x7f0000001000ull, v;
	memcpy(p, &index, 4);
	memcpy(p + 8, &desc, 8);
	/* SET_VRING_ADDR flagged as a reply by the front-end: still the
	 * request the back-end reads. */
	struct vup_hdr h = {9, VUP_FLAG_VERSION | VUP_FLAG_REPLY, 40};
	struct vup_view view;
	vup_view_decode(&view, VUP_CHAN_MAIN, VUP_FRONTEND, &h, p, NULL, 0,
	                NULL, 7);
	assert_false(view.reply);
	assert_int_equal(view.layout, VUP_L_VRING_ADDR);
	assert_true(view.fits);
	assert_non_null(view.type);
	assert_string_equal(view.type->name, "SET_VRING_ADDR");
	assert_int_equal(view.time_ns, 7);
	assert_true(vup_view_get(&view, VUP_FLD_VRING_ADDR_DESC, &v));
	assert_int_equal(v, desc);
	/* A field of another layout is not read, even where it would fit. */
	assert_false(vup_view_get(&view, VUP_FLD_VRING_STATE_NUM, &v));
	/* A short payload: the fields past it are not there. */
	h.size = 12;
	vup_view_decode(&view, VUP_CHAN_MAIN, VUP_FRONTEND, &h, p, NULL, 0,
	                NULL, 0);
	assert_false(view.fits);
	assert_true(vup_view_get(&view, VUP_FLD_VRING_ADDR_INDEX, &v));
	assert_false(vup_view_get(&view, VUP_FLD_VRING_ADDR_DESC, &v));
	/* The back-end's GET_VRING_BASE answer without the REPLY flag is a
	 * reply all the same; packed once RING_PACKED is negotiated. */
	struct vup_negotiated neg = {.features = 1ull << VUP_F_RING_PACKED};
	h = (struct vup_hdr){11, VUP_FLAG_VERSION, 8};
	vup_view_decode(&view, VUP_CHAN_MAIN, VUP_BACKEND, &h, p, NULL, 0, &neg,
	                0);
	assert_true(view.reply);
	assert_int_equal(view.layout, VUP_L_VRING_BASE_PACKED);
	/* On the back-end channel the front-end answers. */
	h = (struct vup_hdr){8, VUP_FLAG_VERSION | VUP_FLAG_REPLY, 8};
	vup_view_decode(&view, VUP_CHAN_BACKEND, VUP_FRONTEND, &h, p, NULL, 0,
	                NULL, 0);
	assert_true(view.reply);
	assert_int_equal(view.layout, VUP_L_U64);
	/* Unknown codes are opaque. */
	h = (struct vup_hdr){999, VUP_FLAG_VERSION, 4};
	vup_view_decode(&view, VUP_CHAN_MAIN, VUP_FRONTEND, &h, p, NULL, 0,
	                NULL, 0);
	assert_null(view.type);
	assert_int_equal(view.layout, VUP_L_OPAQUE);
	assert_true(view.fits);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(ids_match_layout_tables),
	        cmocka_unit_test(view_reads_by_role),
	};
	return cmocka_run_group_tests_name("proto_view", tests, NULL, NULL);
}
