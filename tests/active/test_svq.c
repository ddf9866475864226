/* Unit tests for src/active/svq.c: forwarding in and out of order, drop
 * and hold, both rings' notifications, GET_VRING_BASE with un-pop, and
 * hostile rings from either side (see world.h for the fake peers). */
#include <errno.h>
#include <stdlib.h>

#include "../unit/unit.h"
#include "vuproxy/bits.h"
#include "vuproxy/ring_layout.h"
#include "world.h"

#define IND (1ull << VUP_F_INDIRECT_DESC)
#define EVI (1ull << VUP_F_EVENT_IDX)

static struct world W;
static uint8_t snap[W_SIZE];

/* Every token offered is done, with the back-end's len if it saw it
 * (once), else 0; the used callback ran for exactly those it saw. */
static void check_all_done(const struct world *w, uint32_t *wr_of)
{
	for (uint32_t t = 1; t < w->next_token; t++) {
		assert_int_equal(w->state[t], 2);
		assert_true(w->seen[t] <= 1);
		assert_int_equal(w->used_cb[t], w->seen[t]);
		if (wr_of)
			assert_int_equal(w->done_len[t],
			                 w->seen[t] ? w_len(t, wr_of[t]) : 0);
	}
	assert_int_equal(w->offered, w->completed);
}

static void drain(struct world *w)
{
	while (w->ntaken)
		w_complete(w, 0);
	assert_true(w_push(w) >= 0);
	w_reap(w);
}

static void test_forward_in_order(void **state)
{
	(void)state;
	uint32_t wr[16] = {0};
	w_init(&W, 16, IND, 0);
	static const struct {
		unsigned nseg, nwr;
		bool ind;
	} shapes[] = {{1, 0, 0}, {2, 1, 0}, {3, 2, 0},
	              {1, 1, 0}, {3, 1, 1}, {2, 2, 1}};
	for (unsigned i = 0; i < COUNT(shapes); i++) {
		uint32_t t = w_offer(&W, shapes[i].nseg, shapes[i].nwr,
		                     shapes[i].ind);
		wr[t] = shapes[i].nwr * W_SEG;
	}
	w_publish(&W);
	assert_int_equal(w_pull(&W), 6);
	/* The guest rewrites its descriptors after offering them: the
	 * back-end works on vuproxy's validated copy. */
	memset(W.mem + W_DESC, 0xff, 16 * 16);
	assert_int_equal(w_take(&W, 100), 6);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(W.taken_tok[i], i + 1);
	drain(&W);
	check_all_done(&W, wr);
	assert_int_equal(W.gw.st.writes[VUP_GW_USED_ELEM], 6);
	assert_int_equal(W.gw.st.writes[VUP_GW_USED_IDX], 1);
	assert_int_equal(W.gw.st.writes[VUP_GW_AVAIL_EVENT], 0);
	assert_int_equal(W.q.st.forwarded, 6);
	assert_int_equal(W.q.st.completed, 6);
	assert_false(W.q.stopped);
	w_free(&W);
}

static void test_out_of_order_and_log(void **state)
{
	(void)state;
	uint32_t wr[16] = {0};
	w_init(&W, 16, 0, 100);
	/* A log covering the guest region: page W_GPA / 4K onwards. */
	uint64_t first = W_GPA / VUP_LOG_PAGE;
	size_t lsize = (size_t)(first / 8 + W_SIZE / VUP_LOG_PAGE / 8);
	uint8_t *log = calloc(1, lsize);
	vup_gwrite_set_log(&W.gw, log, lsize);
	for (unsigned i = 0; i < 8; i++)
		wr[w_offer(&W, 2, 1, false)] = W_SEG;
	w_publish(&W);
	assert_int_equal(w_pull(&W), 8);
	assert_int_equal(w_take(&W, 100), 8);
	uint32_t order[8];
	for (unsigned i = 0; i < 8; i++) {
		unsigned k = (i * 5 + 3) % W.ntaken; /* any order */
		order[i] = W.taken_tok[k];
		w_complete(&W, k);
	}
	assert_int_equal(w_push(&W), 8);
	/* The guest's used ring keeps the back-end's order. */
	for (unsigned i = 0; i < 8; i++) {
		const uint8_t *e =
		        W.mem + W_USED + vup_used_slot_off((100 + i) & 15);
		assert_int_equal(W.tok_of_head[vup_le32(e)], order[i]);
	}
	w_reap(&W);
	check_all_done(&W, wr);
	/* Dirty bits: exactly the used ring's page. */
	uint64_t used_page = (W_GPA + W_USED) / VUP_LOG_PAGE;
	for (uint64_t p = first; p < first + W_SIZE / VUP_LOG_PAGE; p++)
		assert_int_equal(log[p / 8] >> (p % 8) & 1, p == used_page);
	for (size_t i = 0; i < first / 8; i++)
		assert_int_equal(log[i], 0);
	free(log);
	w_free(&W);
}

static void test_drop(void **state)
{
	(void)state;
	uint32_t wr[16] = {0};
	w_init(&W, 16, 0, 0);
	W.verdict[2] = W.verdict[4] = VUP_SVQ_DROP;
	for (unsigned i = 0; i < 5; i++)
		wr[w_offer(&W, 2, 1, false)] = W_SEG;
	w_publish(&W);
	assert_int_equal(w_pull(&W), 5);
	assert_int_equal(w_reap(&W), 2); /* the drops, at once */
	assert_int_equal(W.state[2], 2);
	assert_int_equal(W.done_len[2], 0);
	assert_int_equal(w_take(&W, 100), 3);
	drain(&W);
	check_all_done(&W, wr);
	assert_int_equal(W.seen[2] + W.seen[4], 0);
	assert_int_equal(W.q.st.dropped, 2);
	w_free(&W);
}

static void test_hold_release(void **state)
{
	(void)state;
	uint32_t wr[16] = {0};
	w_init(&W, 16, 0, 0);
	W.verdict[2] = W.verdict[3] = VUP_SVQ_HOLD;
	W.verdict[6] = W.verdict[7] = W.verdict[8] = VUP_SVQ_HOLD;
	for (unsigned i = 0; i < 5; i++)
		wr[w_offer(&W, 1, 1, false)] = W_SEG;
	w_publish(&W);
	assert_int_equal(w_pull(&W), 5);
	assert_int_equal(w_take(&W, 100), 3);
	assert_int_equal(W.taken_tok[1], 4);
	assert_int_equal(vup_svq_release_all(&W.q), 2);
	assert_int_equal(w_take(&W, 100), 2);
	assert_int_equal(W.taken_tok[3], 2); /* guest order */
	assert_int_equal(W.taken_tok[4], 3);
	for (unsigned i = 0; i < 3; i++)
		wr[w_offer(&W, 1, 1, false)] = W_SEG;
	w_publish(&W);
	assert_int_equal(w_pull(&W), 3);
	assert_int_equal(vup_svq_release(&W.q, (uint16_t)w_head_of(&W, 8),
	                                 VUP_SVQ_FORWARD),
	                 0);
	assert_int_equal(
	        vup_svq_release(&W.q, (uint16_t)w_head_of(&W, 7), VUP_SVQ_DROP),
	        0);
	assert_int_equal(vup_svq_release(&W.q, (uint16_t)w_head_of(&W, 1),
	                                 VUP_SVQ_FORWARD),
	                 -ENOENT);
	assert_int_equal(w_take(&W, 100), 1);
	assert_int_equal(W.taken_tok[5], 8);
	assert_int_equal(vup_svq_stop_begin(&W.q), 1); /* token 6 */
	assert_int_equal(w_take(&W, 100), 1);
	drain(&W);
	check_all_done(&W, wr);
	assert_int_equal(W.seen[7], 0);
	assert_int_equal(W.q.st.held, 5);
	w_free(&W);
}

static void test_notify_flags(void **state)
{
	(void)state;
	w_init(&W, 8, 0, 0);
	struct vup_svq_addrs a = vup_svq_shadow_addrs(&W.q);
	uint8_t *su = W.shadow + (a.used - W.shadow_uaddr);
	uint8_t *sa = W.shadow + (a.avail - W.shadow_uaddr);
	assert_false(vup_svq_backend_needs_kick(&W.q)); /* nothing new */
	w_offer(&W, 1, 1, false);
	w_publish(&W);
	assert_true(vup_svq_guest_pending(&W.q));
	assert_int_equal(w_pull(&W), 1);
	assert_false(vup_svq_guest_pending(&W.q));
	assert_true(vup_svq_backend_needs_kick(&W.q));
	vup_put_le16(su, VUP_USED_F_NO_NOTIFY); /* a polling back-end */
	w_offer(&W, 1, 1, false);
	w_publish(&W);
	assert_int_equal(w_pull(&W), 1);
	assert_false(vup_svq_backend_needs_kick(&W.q));
	assert_int_equal(w_take(&W, 9), 2);
	w_complete(&W, 0);
	assert_true(vup_svq_backend_pending(&W.q));
	assert_int_equal(w_push(&W), 1);
	assert_false(vup_svq_backend_pending(&W.q));
	assert_true(vup_svq_guest_needs_call(&W.q));
	assert_false(vup_svq_guest_needs_call(&W.q)); /* nothing new */
	vup_put_le16(W.mem + W_AVAIL, VUP_AVAIL_F_NO_INTERRUPT);
	w_complete(&W, 0);
	assert_int_equal(w_push(&W), 1);
	assert_false(vup_svq_guest_needs_call(&W.q));
	/* vuproxy's own wishes. */
	assert_int_equal(vup_svq_want_guest_kicks(&W.q, false), 0);
	assert_int_equal(vup_le16(W.mem + W_USED), VUP_USED_F_NO_NOTIFY);
	assert_int_equal(vup_svq_want_guest_kicks(&W.q, false), 0);
	assert_int_equal(W.gw.st.writes[VUP_GW_USED_FLAGS], 1);
	assert_int_equal(vup_svq_want_guest_kicks(&W.q, true), 0);
	assert_int_equal(vup_le16(W.mem + W_USED), 0);
	assert_int_equal(W.gw.st.writes[VUP_GW_USED_FLAGS], 2);
	vup_svq_want_backend_calls(&W.q, false);
	assert_int_equal(vup_le16(sa), VUP_AVAIL_F_NO_INTERRUPT);
	vup_svq_want_backend_calls(&W.q, true);
	assert_int_equal(vup_le16(sa), 0);
	assert_int_equal(W.gw.st.writes[VUP_GW_AVAIL_EVENT], 0);
	w_reap(&W);
	check_all_done(&W, NULL);
	w_free(&W);
}

static void offer_pull(struct world *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		w_offer(w, 1, 1, false);
	w_publish(w);
	assert_int_equal(w_pull(w), (int)n);
}

static void test_notify_event_idx(void **state)
{
	(void)state;
	w_init(&W, 8, EVI, 0);
	struct vup_svq_addrs a = vup_svq_shadow_addrs(&W.q);
	uint8_t *su = W.shadow + (a.used - W.shadow_uaddr);
	uint8_t *sa = W.shadow + (a.avail - W.shadow_uaddr);
	uint8_t *ev = su + vup_used_avail_event_off(8);
	offer_pull(&W, 1); /* 0 -> 1, avail_event 0 */
	assert_true(vup_svq_backend_needs_kick(&W.q));
	vup_put_le16(ev, 5);
	vup_put_le16(su, VUP_USED_F_NO_NOTIFY); /* ignored with EVENT_IDX */
	offer_pull(&W, 1);                      /* 1 -> 2 */
	assert_false(vup_svq_backend_needs_kick(&W.q));
	offer_pull(&W, 3); /* 2 -> 5 */
	assert_false(vup_svq_backend_needs_kick(&W.q));
	offer_pull(&W, 1); /* 5 -> 6 crosses 5 */
	assert_true(vup_svq_backend_needs_kick(&W.q));
	/* Each pull told the guest where to kick next: avail_event. */
	assert_int_equal(vup_le16(W.mem + W_USED + vup_used_avail_event_off(8)),
	                 6);
	assert_int_equal(W.gw.st.writes[VUP_GW_AVAIL_EVENT], 4);
	assert_int_equal(W.gw.st.writes[VUP_GW_USED_FLAGS], 0);
	/* The guest's used_event. */
	uint8_t *ue = W.mem + W_AVAIL + vup_avail_used_event_off(8);
	assert_int_equal(w_take(&W, 100), 6);
	vup_put_le16(ue, 0);
	w_complete(&W, 0);
	assert_int_equal(w_push(&W), 1); /* 0 -> 1 */
	assert_true(vup_svq_guest_needs_call(&W.q));
	/* vuproxy asks the back-end for calls with used_event = s_used. */
	assert_int_equal(vup_le16(sa + vup_avail_used_event_off(8)), 1);
	vup_put_le16(ue, 3);
	w_complete(&W, 0);
	assert_int_equal(w_push(&W), 1); /* 1 -> 2 */
	assert_false(vup_svq_guest_needs_call(&W.q));
	w_complete(&W, 0);
	w_complete(&W, 0);
	assert_int_equal(w_push(&W), 2); /* 2 -> 4 crosses 3 */
	assert_true(vup_svq_guest_needs_call(&W.q));
	vup_put_le16(W.mem + W_AVAIL, VUP_AVAIL_F_NO_INTERRUPT); /* ignored */
	w_complete(&W, 0);
	assert_int_equal(w_push(&W), 1); /* 4 -> 5, used_event 3 */
	assert_false(vup_svq_guest_needs_call(&W.q));
	drain(&W);
	check_all_done(&W, NULL);
	w_free(&W);
}

/* GET_VRING_BASE mid-traffic across the 16-bit wrap: what the back-end
 * took is completed, the rest offered again after the restart. */
static void test_stop_unpop(void **state)
{
	(void)state;
	uint32_t wr[16] = {0};
	uint16_t base;
	w_init(&W, 16, 0, 0xfffe);
	for (unsigned i = 0; i < 6; i++)
		wr[w_offer(&W, 2, 1, false)] = W_SEG;
	w_publish(&W);
	assert_int_equal(w_pull(&W), 6);
	assert_int_equal(w_take(&W, 4), 4);
	w_complete(&W, 2);
	w_complete(&W, 0);
	assert_int_equal(vup_svq_stop_begin(&W.q), 0);
	w_complete(&W, 1);
	w_complete(&W, 0);
	assert_int_equal(w_stop(&W, &base), 0);
	assert_int_equal(base, (uint16_t)(0xfffe + 4));
	assert_int_equal(W.q.g_used, base);
	assert_int_equal(W.q.st.unpopped, 2);
	assert_int_equal(W.q.st.stop_zeroed, 0);
	assert_int_equal(w_pull(&W), -EPROTO); /* stopped until restarted */
	assert_int_equal(w_reap(&W), 4);
	w_restart(&W, base);
	assert_int_equal(w_pull(&W), 2);
	assert_int_equal(w_take(&W, 100), 2);
	assert_int_equal(W.taken_tok[0], 5);
	drain(&W);
	check_all_done(&W, wr);
	for (uint32_t t = 1; t <= 6; t++)
		assert_int_equal(W.seen[t], 1);
	w_free(&W);
}

/* A drop between chains the back-end did not take: only the suffix
 * after it can be offered again; the one before is completed empty. */
static void test_stop_drop_in_middle(void **state)
{
	(void)state;
	uint32_t wr[16] = {0};
	uint16_t base;
	w_init(&W, 8, 0, 10);
	W.verdict[3] = VUP_SVQ_DROP;
	for (unsigned i = 0; i < 6; i++)
		wr[w_offer(&W, 1, 1, false)] = W_SEG;
	w_publish(&W);
	assert_int_equal(w_pull(&W), 6);
	assert_int_equal(w_take(&W, 1), 1);
	w_complete(&W, 0);
	assert_int_equal(w_stop(&W, &base), 0);
	assert_int_equal(base, 13); /* token 4's avail index */
	assert_int_equal(W.q.st.unpopped, 3);
	assert_int_equal(W.q.st.stop_zeroed, 1);
	assert_int_equal(w_reap(&W), 3);
	assert_int_equal(W.done_len[2], 0);
	w_restart(&W, base);
	assert_int_equal(w_pull(&W), 3);
	assert_int_equal(w_take(&W, 100), 3);
	drain(&W);
	check_all_done(&W, wr);
	assert_int_equal(W.seen[2], 0);
	w_free(&W);
}

/* ---- hostile rings ---- */

struct hdesc {
	uint16_t i;
	uint64_t addr; /* offset in the region, or absolute if huge */
	uint32_t len;
	uint16_t flags, next;
};

/* Lays out descriptors (in the table, or in the indirect area when
 * i >= 100: entry i - 100), offers head, and expects pull to stop the
 * vring with why, touching no guest memory. */
static void hostile_guest(uint64_t features, const struct hdesc *d, unsigned n,
                          uint16_t head, uint16_t idx, const char *why,
                          size_t counter)
{
	w_init(&W, 16, features, 0);
	for (unsigned k = 0; k < n; k++) {
		uint64_t a = d[k].addr >= 16ull * W_SIZE ? d[k].addr
		                                         : W_GPA + d[k].addr;
		uint8_t *slot = d[k].i >= 100
		                        ? W.mem + W_IND + 16u * (d[k].i - 100)
		                        : W.mem + W_DESC + 16u * d[k].i;
		vup_sdesc_put(slot, a, d[k].len, d[k].flags, d[k].next);
	}
	vup_put_le16(W.mem + W_AVAIL + 4, head);
	vup_put_le16(W.mem + W_AVAIL + 2, idx);
	memcpy(snap, W.mem, W_SIZE);
	assert_int_equal(w_pull(&W), -EPROTO);
	assert_true(W.q.stopped);
	assert_contains(W.q.why, "vring 0: ");
	assert_contains(W.q.why, why);
	assert_int_equal(*(uint64_t *)((char *)&W.q + counter), 1);
	assert_memory_equal(snap, W.mem, W_SIZE);
	assert_int_equal(w_take(&W, 100), 0);
	assert_int_equal(w_pull(&W), -EPROTO);
	assert_int_equal(w_push(&W), -EPROTO);
	assert_int_equal(W.q.st.forwarded, 0);
	w_free(&W);
}

#define QOFF(f) offsetof(struct vup_svq, st.f)
#define DATA    W_DATA
#define NX      VUP_DESC_F_NEXT
#define WR      VUP_DESC_F_WRITE

static void test_hostile_guest(void **state)
{
	(void)state;
	struct hdesc loop[] = {{0, DATA, 64, NX, 1}, {1, DATA, 64, NX, 0}};
	hostile_guest(0, loop, 2, 0, 1,
	              "avail 0 head 0: loop in the descriptor",
	              QOFF(bad_chain));
	struct hdesc far[] = {{0, DATA, 64, NX, 16}};
	hostile_guest(0, far, 1, 0, 1, "next past the descriptor table",
	              QOFF(bad_chain));
	hostile_guest(0, far, 1, 16, 1, "head 16: head index past the ring",
	              QOFF(bad_chain));
	hostile_guest(0, far, 1, 0, 17, "avail index jumped from 0 to 17",
	              QOFF(bad_index));
	struct hdesc out[] = {{0, W_SIZE - 10, 64, 0, 0}};
	hostile_guest(0, out, 1, 0, 1, "buffer outside guest memory",
	              QOFF(bad_chain));
	struct hdesc wrap[] = {{0, UINT64_MAX - 8, 64, 0, 0}};
	hostile_guest(0, wrap, 1, 0, 1, "wraps the address space",
	              QOFF(bad_chain));
	struct hdesc zero[] = {{0, DATA, 0, 0, 0}};
	hostile_guest(0, zero, 1, 0, 1, "zero-length", QOFF(bad_chain));
	struct hdesc order[] = {{0, DATA, 64, WR | NX, 1}, {1, DATA, 64, 0, 0}};
	hostile_guest(0, order, 2, 0, 1, "readable descriptor after a writable",
	              QOFF(bad_chain));
	struct hdesc ind[] = {{0, W_IND, 32, VUP_DESC_F_INDIRECT, 0},
	                      {100, DATA, 64, NX, 1},
	                      {101, W_IND, 16, VUP_DESC_F_INDIRECT, 0}};
	hostile_guest(IND, ind, 3, 0, 1, "indirect descriptor inside",
	              QOFF(bad_chain));
	hostile_guest(0, ind, 3, 0, 1, "without INDIRECT_DESC",
	              QOFF(bad_chain));
	struct hdesc iloop[] = {{0, W_IND, 32, VUP_DESC_F_INDIRECT, 0},
	                        {100, DATA, 64, NX, 1},
	                        {101, DATA, 64, NX, 0}};
	hostile_guest(IND, iloop, 3, 0, 1, "loop in the indirect table",
	              QOFF(bad_chain));
	struct hdesc inx[] = {{0, W_IND, 32, VUP_DESC_F_INDIRECT, 0},
	                      {100, DATA, 64, NX, 2}};
	hostile_guest(IND, inx, 2, 0, 1, "next past the indirect table",
	              QOFF(bad_chain));
	struct hdesc ilen[] = {{0, W_IND, 20, VUP_DESC_F_INDIRECT, 0}};
	hostile_guest(IND, ilen, 1, 0, 1, "not a multiple of 16",
	              QOFF(bad_chain));
	struct hdesc iout[] = {{0, W_SIZE - 16, 32, VUP_DESC_F_INDIRECT, 0}};
	hostile_guest(IND, iout, 1, 0, 1, "indirect table outside guest memory",
	              QOFF(bad_chain));
	struct hdesc inext[] = {{0, W_IND, 32, VUP_DESC_F_INDIRECT | NX, 1},
	                        {1, DATA, 64, 0, 0}};
	hostile_guest(IND, inext, 2, 0, 1, "not alone in its chain",
	              QOFF(bad_chain));
}

/* The back-end writes a used ring entry (or index) of its own. */
static void hostile_used(uint32_t id, uint16_t idx_add, const char *why,
                         size_t counter, unsigned reaped)
{
	w_init(&W, 8, 0, 0);
	offer_pull(&W, 2);
	assert_int_equal(w_take(&W, 100), 2);
	uint16_t first = W.taken[0];
	w_complete(&W, 0);
	struct vup_svq_addrs a = vup_svq_shadow_addrs(&W.q);
	uint8_t *u = W.shadow + (a.used - W.shadow_uaddr);
	uint8_t *e = u + vup_used_slot_off(W.b_used & 7);
	vup_put_le32(e, id == UINT32_MAX ? first : id);
	vup_put_le32(e + 4, 1);
	vup_put_le16(u + 2, (uint16_t)(W.b_used + idx_add));
	memcpy(snap, W.mem, W_SIZE);
	assert_int_equal(w_push(&W), -EPROTO);
	assert_true(W.q.stopped);
	assert_contains(W.q.why, "vring 0: ");
	assert_contains(W.q.why, why);
	assert_int_equal(*(uint64_t *)((char *)&W.q + counter), 1);
	/* Only the used ring changed, by what completed before. */
	memcpy(snap + W_USED, W.mem + W_USED, vup_used_size(8));
	assert_memory_equal(snap, W.mem, W_SIZE);
	assert_int_equal(w_reap(&W), reaped);
	assert_int_equal(w_push(&W), -EPROTO);
	w_free(&W);
}

static void test_hostile_backend(void **state)
{
	(void)state;
	hostile_used(UINT32_MAX, 1, "id 0 was completed already",
	             offsetof(struct vup_svq, st.bad_used), 1);
	hostile_used(5, 1, "id 5 names no chain in flight",
	             offsetof(struct vup_svq, st.bad_used), 1);
	hostile_used(100, 1, "id 100 is past the ring",
	             offsetof(struct vup_svq, st.bad_used), 1);
	hostile_used(1, 50, "used index jumped from 0 to 51",
	             offsetof(struct vup_svq, st.bad_index), 0);
}

/* The guest used ring outside guest memory: the write is refused and the
 * vring stops; nothing else is written. */
static void test_used_ring_unwritable(void **state)
{
	(void)state;
	w_init(&W, 8, 0, 0);
	W.q.cfg.used = W_UADDR + W_SIZE - 8;
	W.verdict[1] = VUP_SVQ_DROP;
	w_offer(&W, 1, 1, false);
	w_publish(&W);
	memcpy(snap, W.mem, W_SIZE);
	assert_int_equal(w_pull(&W), -EPROTO);
	assert_contains(W.q.why, "guest used ring not writable");
	assert_int_equal(W.q.st.bad_access, 1);
	assert_int_equal(W.gw.st.refused, 1);
	assert_memory_equal(snap, W.mem, W_SIZE);
	w_free(&W);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_forward_in_order),
	        cmocka_unit_test(test_out_of_order_and_log),
	        cmocka_unit_test(test_drop),
	        cmocka_unit_test(test_hold_release),
	        cmocka_unit_test(test_notify_flags),
	        cmocka_unit_test(test_notify_event_idx),
	        cmocka_unit_test(test_stop_unpop),
	        cmocka_unit_test(test_stop_drop_in_middle),
	        cmocka_unit_test(test_hostile_guest),
	        cmocka_unit_test(test_hostile_backend),
	        cmocka_unit_test(test_used_ring_unwritable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
