/* The back-end channel (SET_BACKEND_REQ_FD) is interposed and relayed both
 * ways: the back-end gets a socket of vuproxy's, every back-end request
 * of the catalogue reaches the front-end's own socket byte for byte with
 * its fds, and the front-end's replies come back. */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "peer_test.h"

static void make_memfds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		fds[i] = memfd_create("vup-bch", MFD_CLOEXEC);
		assert_true(fds[i] >= 0);
	}
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

static void every_backend_request(void **state)
{
	struct peer_fx *fx = *state;
	const char *extra[] = {"-v", NULL};
	PEER_OK(peer_fx_start(fx, "listen", "connect", extra));
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	/* REPLY_ACK, BACKEND_REQ, BACKEND_SEND_FD and friends. */
	const struct vup_msg_type *spf =
	        vup_proto_by_name("SET_PROTOCOL_FEATURES");
	uint8_t buf[VUP_MAX_PAYLOAD];
	unsigned nfds;
	uint32_t size = peer_plausible(spf, false, buf, sizeof(buf), &nfds);
	PEER_OK(peer_relay_check(fe, be, spf->code, VUP_FLAG_VERSION, buf, size,
	                         NULL, 0));
	struct peer_bch b = peer_open_bch(fe, be, true);

	size_t n = vup_proto_count(VUP_CHAN_BACKEND);
	assert_true(n >= 10);
	for (size_t i = 0; i < n; i++) {
		const struct vup_msg_type *t =
		        vup_proto_at(VUP_CHAN_BACKEND, i);
		int fds[8];
		size = peer_plausible(t, false, buf, sizeof(buf), &nfds);
		uint32_t flags = VUP_FLAG_VERSION;
		if (t->reply != VUP_REPLY_ALWAYS)
			flags |= VUP_FLAG_NEED_REPLY;
		make_memfds(fds, nfds);
		PEER_OK(peer_relay_check(b.be, b.fe, t->code, flags, buf, size,
		                         fds, nfds));
		close_fds(fds, nfds);
		size = peer_plausible(t, true, buf, sizeof(buf), &nfds);
		make_memfds(fds, nfds);
		PEER_OK(peer_relay_check(b.fe, b.be, t->code,
		                         VUP_FLAG_VERSION | VUP_FLAG_REPLY, buf,
		                         size, fds, nfds));
		close_fds(fds, nfds);
		char word[64];
		snprintf(word, sizeof(word), " %s ", t->name);
		PEER_LOG(fx, "s1 back-end>front-end [backend-channel]", word);
		snprintf(word, sizeof(word), " %s reply", t->name);
		PEER_LOG(fx, "s1 front-end>back-end [backend-channel]", word);
	}
	/* Unknown back-end request codes pass too. */
	memset(buf, 0x3c, 16);
	PEER_OK(peer_relay_check(b.be, b.fe, 99, VUP_FLAG_VERSION, buf, 16,
	                         NULL, 0));
	PEER_LOG(fx, "s1 back-end>front-end [backend-channel] UNKNOWN(99)");

	/* The main channel is unaffected. */
	PEER_OK(peer_get_features(fe, be, 0x140000000ull));
	peer_close_bch(&b);
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 1 sessions (0 failed)");
}

/* An IOTLB miss on the back-end channel while the front-end waits for a
 * main-channel reply: neither channel waits on the other. */
static void backend_request_during_main_request(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(peer_fx_start(fx, "listen", "connect", NULL));
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	struct peer_bch b = peer_open_bch(fe, be, false);
	uint32_t gvb = peer_code("GET_VRING_BASE");
	uint32_t iotlb = peer_code("BACKEND_IOTLB_MSG");
	uint32_t state_[2] = {0, 0};
	PEER_OK(peer_relay_check(fe, be, gvb, VUP_FLAG_VERSION, state_, 8, NULL,
	                         0));
	uint8_t miss[32] = {0};
	miss[25] = 1; /* type: miss */
	for (int i = 0; i < 3; i++) {
		miss[0] = (uint8_t)i;
		PEER_OK(peer_relay_check(b.be, b.fe, iotlb,
		                         VUP_FLAG_VERSION | VUP_FLAG_NEED_REPLY,
		                         miss, sizeof(miss), NULL, 0));
		uint64_t ok = 0;
		PEER_OK(peer_relay_check(b.fe, b.be, iotlb,
		                         VUP_FLAG_VERSION | VUP_FLAG_REPLY, &ok,
		                         8, NULL, 0));
	}
	state_[1] = 42;
	PEER_OK(peer_relay_check(be, fe, gvb, VUP_FLAG_VERSION | VUP_FLAG_REPLY,
	                         state_, 8, NULL, 0));
	peer_close_bch(&b);
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 1 sessions (0 failed)");
}

/* Either side closing the back-end channel closes the other end and
 * leaves the session running. */
static void backend_channel_close(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(peer_fx_start(fx, "listen", "connect", NULL));
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));

	struct peer_bch b = peer_open_bch(fe, be, false);
	peer_free(b.fe);
	PEER_OK(peer_expect_eof(b.be, PEER_TIMEOUT_MS));
	peer_free(b.be);
	PEER_OK(peer_get_features(fe, be, 1));

	b = peer_open_bch(fe, be, false);
	peer_free(b.be);
	PEER_OK(peer_expect_eof(b.fe, PEER_TIMEOUT_MS));
	peer_free(b.fe);
	PEER_OK(peer_get_features(fe, be, 2));

	/* A new SET_BACKEND_REQ_FD replaces the channel. */
	struct peer_bch old = peer_open_bch(fe, be, true);
	b = peer_open_bch(fe, be, true);
	PEER_OK(peer_expect_eof(old.be, PEER_TIMEOUT_MS));
	peer_close_bch(&old);
	uint32_t cc = peer_code("BACKEND_CONFIG_CHANGE_MSG");
	PEER_OK(peer_relay_check(b.be, b.fe, cc, VUP_FLAG_VERSION, NULL, 0,
	                         NULL, 0));
	peer_close_bch(&b);
	PEER_OK(peer_get_features(fe, be, 3));
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 1 sessions (0 failed)");
}

/* With REPLY_ACK, the back-end asks on a channel the front-end then
 * drops (closes, or replaces by a new SET_BACKEND_REQ_FD) without
 * answering.  The answer can never come on the new channel: replies there
 * must not be matched against the old channel's question. */
static void owed_reply_forgotten(struct peer_fx *fx, bool replace)
{
	PEER_OK(peer_fx_start(fx, "listen", "connect", NULL));
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	const struct vup_msg_type *spf =
	        vup_proto_by_name("SET_PROTOCOL_FEATURES");
	uint8_t buf[VUP_MAX_PAYLOAD];
	unsigned nfds;
	uint32_t size = peer_plausible(spf, false, buf, sizeof(buf), &nfds);
	PEER_OK(peer_relay_check(fe, be, spf->code, VUP_FLAG_VERSION, buf, size,
	                         NULL, 0));
	struct peer_bch old = peer_open_bch(fe, be, true);
	uint8_t miss[32] = {0};
	miss[25] = 1;
	PEER_OK(peer_relay_check(old.be, old.fe, peer_code("BACKEND_IOTLB_MSG"),
	                         VUP_FLAG_VERSION | VUP_FLAG_NEED_REPLY, miss,
	                         sizeof(miss), NULL, 0));
	struct peer_bch b;
	if (replace) {
		b = peer_open_bch(fe, be, true);
		PEER_OK(peer_expect_eof(old.be, PEER_TIMEOUT_MS));
		peer_close_bch(&old);
	} else {
		peer_free(old.fe);
		PEER_OK(peer_expect_eof(old.be, PEER_TIMEOUT_MS));
		peer_free(old.be);
		b = peer_open_bch(fe, be, true);
	}
	uint32_t cc = peer_code("BACKEND_CONFIG_CHANGE_MSG");
	PEER_OK(peer_relay_check(b.be, b.fe, cc,
	                         VUP_FLAG_VERSION | VUP_FLAG_NEED_REPLY, NULL,
	                         0, NULL, 0));
	uint64_t ack = 0;
	int rc = peer_relay_check(b.fe, b.be, cc,
	                          VUP_FLAG_VERSION | VUP_FLAG_REPLY, &ack, 8,
	                          NULL, 0);
	if (rc < 0)
		fail_msg(
		        "the front-end's reply on the new back-end channel was "
		        "not relayed (%s)\n--- log ---\n%s",
		        peer_error(), vproc_log_tail(&fx->vp));
	PEER_OK(peer_get_features(fe, be, 1));
	peer_close_bch(&b);
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 1 sessions (0 failed)");
}

static void owed_reply_forgotten_on_close(void **state)
{
	owed_reply_forgotten(*state, false);
}

static void owed_reply_forgotten_on_replace(void **state)
{
	owed_reply_forgotten(*state, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        PEER_TEST(every_backend_request),
	        PEER_TEST(backend_request_during_main_request),
	        PEER_TEST(backend_channel_close),
	        PEER_TEST(owed_reply_forgotten_on_close),
	        PEER_TEST(owed_reply_forgotten_on_replace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
