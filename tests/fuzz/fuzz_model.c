/* libFuzzer target for the session model, src/model.
 *
 * Input: a sequence of records, each
 *   1 byte   control: bit 0 = channel (0 main, 1 back-end channel),
 *            bit 1 = sender (0 front-end, 1 back-end),
 *            bits 2-6 = number of fds the message carries,
 *            bit 7 = not delivered (dropped or failed by a rule)
 *   12 bytes header: request, flags, size (native endian)
 *   payload: min(size, bytes left) bytes, copied into a block of exactly
 *            that size; the header's size is set to what is present.
 * (The codec target's records, with its fd count's top bit read as
 * "not delivered".)  A header announcing more than VUP_MAX_PAYLOAD bytes
 * is skipped: the channel refuses it before the model sees it.
 *
 * Each message is decoded with the model's negotiated state, paired, fed
 * and its payload given to the memory parsers.  Checked besides memory
 * safety: events are known kinds, at most VUP_MODEL_EVENTS_MAX; the
 * pairing agrees with the feed (a reply pays unless it was unsolicited,
 * a request past the bound forgets one); the replies owed grow by one
 * per delivered request that expects a reply and stay within
 * VUP_MODEL_OWED_MAX; a parsed table is exactly its declared regions.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vuproxy/model.h"
#include "vuproxy/proto.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			        __LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

static bool has_event(const struct vup_model_events *ev,
                      enum vup_model_event_kind k)
{
	for (unsigned i = 0; i < ev->n; i++)
		if (ev->e[i].kind == k)
			return true;
	return false;
}

static void check_why(enum vup_problem p, const char *why, size_t len)
{
	CHECK(p == VUP_PROBLEM_NONE || p == VUP_PROBLEM_REPLY_ORDER ||
	      p == VUP_PROBLEM_UNSOLICITED || p == VUP_PROBLEM_OWED_REPLIES);
	if (p != VUP_PROBLEM_NONE)
		CHECK(why[0] != '\0' && memchr(why, '\0', len));
}

/* The memory parsers on any payload: a table they accept is exactly its
 * regions. */
static void parse(const uint8_t *p, uint32_t size, bool xen)
{
	static struct vup_model_region out[VUP_MEM_TABLE_MAX_REGIONS];
	struct vup_model_region one;
	char why[160];
	unsigned n = 0;
	uint32_t rsz = xen ? 40 : 32;
	if (vup_model_parse_table(p, size, xen, VUP_MEM_TABLE_MAX_REGIONS, out,
	                          &n, why, sizeof(why)) == 0)
		CHECK(n <= VUP_MEM_TABLE_MAX_REGIONS && size == 8 + n * rsz);
	else
		CHECK(why[0] != '\0');
	if (vup_model_parse_mem_reg("ADD_MEM_REG", p, size, xen, &one, why,
	                            sizeof(why)) == 0)
		CHECK(size == 8 + rsz);
	else
		CHECK(why[0] != '\0');
}

static void one_message(struct vup_model *m, uint8_t ctl,
                        const struct vup_hdr *h, const uint8_t *data)
{
	enum vup_chan chan = ctl & 1 ? VUP_CHAN_BACKEND : VUP_CHAN_MAIN;
	enum vup_side from = ctl & 2 ? VUP_BACKEND : VUP_FRONTEND;
	unsigned nfds = (ctl >> 2) & 31;
	bool delivered = !(ctl & 0x80);
	uint8_t *p = malloc(h->size ? h->size : 1);
	CHECK(p);
	memcpy(p, data, h->size);

	struct vup_view v;
	vup_view_decode(&v, chan, from, h, p, NULL, nfds, vup_model_neg(m), 0);
	char why[256];
	memset(why, 'x', sizeof(why));
	why[0] = '\0';
	enum vup_problem pr = vup_model_pairing(m, &v, why, sizeof(why));
	check_why(pr, why, sizeof(why));
	enum vup_expect want =
	        vup_proto_reply_expected(h, chan, vup_model_neg(m));
	unsigned before = vup_model_owed_count(m, chan);
	unsigned other = vup_model_owed_count(m, !chan);

	struct vup_model_events ev;
	vup_model_feed(m, &v, delivered, &ev);
	CHECK(ev.n <= VUP_MODEL_EVENTS_MAX);
	for (unsigned i = 0; i < ev.n; i++) {
		CHECK((unsigned)ev.e[i].kind < VUP_EV_COUNT);
		CHECK(strcmp(vup_model_event_name(ev.e[i].kind), "?") != 0);
	}
	unsigned after = vup_model_owed_count(m, chan);
	CHECK(after <= VUP_MODEL_OWED_MAX);
	CHECK(vup_model_owed_count(m, !chan) == other);
	if (v.reply) {
		bool paid = has_event(&ev, VUP_EV_REPLY_PAID);
		CHECK(paid == (pr != VUP_PROBLEM_UNSOLICITED));
		CHECK(paid ? after < before : after == before);
	} else if (!delivered || want == VUP_EXPECT_NONE) {
		CHECK(after == before);
		CHECK(!has_event(&ev, VUP_EV_REPLY_OWED));
	} else {
		CHECK(has_event(&ev, VUP_EV_REPLY_OWED));
		CHECK(after ==
		      (before < VUP_MODEL_OWED_MAX ? before + 1 : before));
		CHECK(has_event(&ev, VUP_EV_REPLY_FORGOTTEN) ==
		      (before == VUP_MODEL_OWED_MAX));
		if (pr == VUP_PROBLEM_OWED_REPLIES)
			CHECK(has_event(&ev, VUP_EV_REPLY_FORGOTTEN));
	}
	for (unsigned i = 0; i < after; i++)
		CHECK(vup_model_owed_at(m, chan, i) != NULL);
	CHECK(vup_model_owed_at(m, chan, after) == NULL);
	const struct vup_model_region *r;
	CHECK(vup_model_regions(m, &r) <= VUP_MODEL_REGIONS);

	parse(p, h->size, false);
	parse(p, h->size, true);
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vup_model *m = vup_model_new();
	CHECK(m);
	size_t at = 0;
	while (size - at >= 1 + VUP_HDR_SIZE) {
		uint8_t ctl = data[at++];
		struct vup_hdr h;
		memcpy(&h, data + at, VUP_HDR_SIZE);
		at += VUP_HDR_SIZE;
		if (h.size > VUP_MAX_PAYLOAD)
			continue;
		if (h.size > size - at)
			h.size = (uint32_t)(size - at);
		one_message(m, ctl, &h, data + at);
		at += h.size;
		if (ctl == 0xff)
			vup_model_forget_owed(m, VUP_CHAN_MAIN);
	}
	vup_model_free(m);
	return 0;
}
