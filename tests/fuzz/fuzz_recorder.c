/* libFuzzer target for the trace recorder's own state: the declared
 * state each session keeps (src/trace/declared.c), the flight recorder's
 * ring (src/trace/ring.c) and snapshots of it (src/trace/snapshot.c).
 *
 * Input: a sequence of operations, each one byte then its arguments:
 *   op % 8 == 0..4  a message of session 1 + (op >> 3) % 3:
 *            1 byte   trace flags (bits 0-2: back-end channel, from the
 *                     back-end, as sent), 1 byte action, 1 byte fd count
 *                     (% 4, memfds), 12 bytes header (native endian),
 *                     payload: min(size, 512, bytes left)
 *   5        a tap packet of up to 255 bytes on session 1's tap
 *   6        end a session and open it again (new interfaces)
 *   7        a snapshot into a memfd, read back whole
 * The ring is 64 KiB, so that it turns.  Checked besides memory safety:
 * every snapshot reads back as a complete pcapng file whose declared
 * records all come before the first event of their session and each
 * decode; a session's declared records never outnumber
 * VUP_DECLARED_MAX + their replies.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "vuproxy/reader.h"
#include "vuproxy/trace.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			        __LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

static uint32_t tap_handle;

static void open_session(struct vup_trace *t, uint32_t s)
{
	char name[32];
	snprintf(name, sizeof(name), "s%u a>b", s);
	CHECK(vup_trace_add_session(t, s, name, "fuzz") == 0);
	if (s == 1)
		CHECK(vup_trace_add_iface(t, 1, LINKTYPE_ETHERNET, 256, "s1 q0",
		                          "tap", &tap_handle) == 0);
}

static void message(struct vup_trace *t, struct in *in, uint32_t s, uint64_t ts)
{
	struct vup_trace_hdr th = {.session = s};
	th.flags = (uint8_t)(byte(in) & 7);
	th.action = (uint8_t)(byte(in) % VUP_TRACE_ACT_COUNT);
	th.nfds = (uint8_t)(byte(in) % 4);
	for (unsigned i = 0; i < th.nfds; i++)
		th.fds[i] = (struct vup_fd_info){VUP_FDK_MEMFD, 1 << 20};
	struct vup_hdr h;
	take(in, &h, sizeof(h));
	if (h.size > 512)
		h.size = 512;
	if (h.size > in->left)
		h.size = (uint32_t)in->left;
	uint8_t payload[512];
	take(in, payload, h.size);
	vup_trace_message(t, ts, &th, &h, payload);
}

/* The snapshot reads back whole; a session's declared records all come
 * before its first event. */
static void snapshot(struct vup_trace *t)
{
	int fd = memfd_create("snap", MFD_CLOEXEC);
	CHECK(fd >= 0);
	int given = dup(fd); /* the recorder's: closed by vup_trace_stop */
	CHECK(given >= 0);
	char err[256];
	int id = vup_trace_snapshot(t, given, "fuzz", err, sizeof(err));
	CHECK(id > 0); /* the ring is on, no snapshot runs */
	CHECK(vup_trace_stop(t, id, NULL) == 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct vup_reader *r;
	CHECK(vup_reader_open(path, &r, err, sizeof(err)) == 0);
	bool event_seen[4] = {false};
	struct vup_record rec;
	enum vup_read_status st;
	while ((st = vup_reader_next(r, &rec, err, sizeof(err))) ==
	       VUP_READ_RECORD) {
		if (rec.linktype != LINKTYPE_USER0)
			continue;
		struct vup_trace_hdr th;
		CHECK(vup_trace_hdr_decode(rec.data, rec.caplen, &th, err,
		                           sizeof(err)) > 0);
		CHECK(th.session >= 1 && th.session <= 3);
		if (th.declared)
			CHECK(!event_seen[th.session]);
		else
			event_seen[th.session] = true;
	}
	CHECK(st == VUP_READ_END);
	vup_reader_close(r);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vup_trace_config cfg = {0};
	struct vup_trace *t;
	char err[256];
	CHECK(vup_trace_open(&cfg, &t, err, sizeof(err)) == 0);
	CHECK(vup_trace_ring(t, 64 * 1024) == 0);
	for (uint32_t s = 1; s <= 3; s++)
		open_session(t, s);
	struct in in = {data, size};
	uint64_t ts = 1700000000000000000ull;
	uint8_t frame[255] = {0};
	for (unsigned ops = 0; in.left && ops < 4096; ops++) {
		unsigned op = byte(&in);
		uint32_t s = 1 + (op >> 3) % 3;
		ts += 1000;
		switch (op % 8) {
		case 5: {
			unsigned len = byte(&in);
			take(&in, frame, len);
			vup_trace_packet(t, tap_handle, ts, 0, frame, len, len);
			break;
		}
		case 6:
			vup_trace_end_session(t, s);
			open_session(t, s);
			break;
		case 7: snapshot(t); break;
		default: message(t, &in, s, ts); break;
		}
	}
	snapshot(t);
	CHECK(vup_trace_close(t) == 0);
	return 0;
}
