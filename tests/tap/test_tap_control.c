/* `vuproxy ctl show` with guest memory mapped by the tap: each split
 * ring's avail and used indices are read live from guest memory, and
 * move as the driver offers and the device uses buffers ("is the ring
 * stuck?" in one command).  Our scripted peers play driver and device
 * (tap_world.h). */
#include <string.h>

#include "../unit/unit.h"
#include "tap_world.h"

static char ctl_path[256];

/* vring `index`'s live indices from `show 1 --json`. */
static void live(unsigned index, int64_t *avail, int64_t *used)
{
	char why[256] = "";
	if (!show_live(ctl_path, index, avail, used, why, sizeof(why)))
		fail_msg("no live indices: %s", why);
}

static void test_live_indices(void **state)
{
	struct peer_fx *fx = *state;
	snprintf(ctl_path, sizeof(ctl_path), "--control=%s/v.ctl", fx->dir);
	struct tt *t = start_opt(state, "net", "128", NET_FEATURES, ctl_path);
	snprintf(ctl_path, sizeof(ctl_path), "%s/v.ctl", fx->dir);
	static char out[65536];
	/* before a memory table: why there are no indices */
	assert_int_equal(vproc_ctl(ctl_path, out, sizeof(out), "show", "1",
	                           "--json", NULL),
	                 0);
	guest_one(t, REG_SIZE);
	set_mem_table(t, true);
	struct vq *tx = setup_queue(t, 1);
	PEER_OK(vproc_wait_line(&t->fx->vp, PEER_TIMEOUT_MS,
	                        "s1 tap q1: following a split ring of 16",
	                        NULL));
	int64_t avail, used;
	live(1, &avail, &used);
	assert_int_equal(avail, 0);
	assert_int_equal(used, 0);
	uint8_t f[3][128];
	for (uint16_t i = 0; i < 3; i++) {
		make_frame(f[i], 60, i + 1);
		split_tx(t, tx, i, f[i], 60, false);
	}
	split_offer(t, tx, (const uint16_t[]){0, 1, 2}, 3);
	tap_sync(t);
	live(1, &avail, &used);
	assert_int_equal(avail, 3);
	assert_int_equal(used, 0); /* stuck, as far as anyone can tell */
	split_use(t, tx, 0, 0);
	split_use(t, tx, 1, 0);
	live(1, &avail, &used);
	assert_int_equal(avail, 3);
	assert_int_equal(used, 2);
	/* the human table has them too */
	assert_int_equal(
	        vproc_ctl(ctl_path, out, sizeof(out), "show", "1", NULL), 0);
	assert_contains(out, "AVAIL_IDX  USED_IDX");
	split_use(t, tx, 2, 0);
	get_vring_base(t, tx);
	stop(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        TAP_TEST(test_live_indices),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
