/* every_request: write a trace holding every request of the catalogue.
 *
 *   every_request OUT.pcapng.gz
 *
 * Real peers send a few dozen of the requests; this writes all of them,
 * on both channels, through the same trace writer vuproxy -w uses, so the
 * Wireshark dissector can be compared with `vuproxy dump` on every payload
 * layout.  For each catalogue row: the request, with deterministic
 * pseudo-random payload bytes (structural fields made consistent: region
 * counts, config sizes) and the fds its row asks for, then its reply (a
 * body for rows that always answer, a u64 ack for NEED_REPLY).  Then what
 * changes how payloads read: a session that negotiates the packed ring
 * (vring_base has wrap counters) and one with XEN_MMAP (40-byte memory
 * regions), unknown request codes on both channels, a message longer than
 * the trace keeps (cut), and pseudo-headers with every action, fd kind, a
 * rule name and the as-sent flag.  Prints the number of messages written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vuproxy/pcapng.h"
#include "vuproxy/proto.h"
#include "vuproxy/trace.h"

static struct vup_trace *trace;
static uint64_t ts_ns = UINT64_C(1700000000000000000);
static unsigned written;
static uint32_t rng = 0x12345678u;

__attribute__((noreturn)) static void die(const char *what, int rc)
{
	fprintf(stderr, "every_request: %s failed (%d)\n", what, rc);
	exit(1);
}

static uint8_t next_byte(void)
{
	rng = rng * 1103515245u + 12345u;
	return (uint8_t)(rng >> 16);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

struct msg {
	uint32_t session;
	enum vup_chan chan;
	enum vup_side from;
	uint32_t code, flags, size;
	uint8_t payload[8192];
	unsigned nfds;
	uint8_t action;
	const char *rule;
	bool as_sent;
};

static void record(const struct msg *m)
{
	static unsigned kind;
	struct vup_trace_hdr th = {0};
	th.session = m->session;
	th.flags =
	        (m->chan == VUP_CHAN_BACKEND ? VUP_TRACE_F_BACKEND_CHAN : 0) |
	        (m->from == VUP_BACKEND ? VUP_TRACE_F_FROM_BACKEND : 0) |
	        (m->as_sent ? VUP_TRACE_F_AS_SENT : 0);
	th.action = m->action;
	th.nfds = (uint8_t)m->nfds;
	for (unsigned i = 0; i < m->nfds; i++) {
		th.fds[i].kind = (uint8_t)(kind++ % VUP_FDK_COUNT);
		th.fds[i].size = th.fds[i].kind == VUP_FDK_EVENTFD
		                         ? 0
		                         : UINT64_C(4096) << (i % 20);
	}
	if (m->rule)
		snprintf(th.rule, sizeof(th.rule), "%s", m->rule);
	struct vup_hdr h = {m->code, m->flags, m->size};
	ts_ns += 1000;
	int rc = vup_trace_message(trace, ts_ns, &th, &h, m->payload);
	if (rc)
		die("vup_trace_message", rc);
	written++;
}

/* Payload bytes for a layout: random, with the structure made consistent.
 * Returns the size; *nregions receives the region count (for fds). */
static uint32_t fill(uint8_t *p, enum vup_layout l, unsigned min, unsigned max,
                     unsigned region_size, unsigned *nregions)
{
	uint32_t size = min ? min : (max >= 8 ? 8 : max);
	for (size_t i = 0; i < 8192; i++)
		p[i] = next_byte();
	*nregions = 0;
	switch (l) {
	case VUP_L_NONE: return 0;
	case VUP_L_ACK: put64(p, p[0] % 2); return 8;
	case VUP_L_MEM_TABLE:
		*nregions = 3;
		put32(p, 3);
		put32(p + 4, 0);
		return 8 + 3 * region_size;
	case VUP_L_MEM_REG: put64(p, 0); return 8 + region_size;
	case VUP_L_CONFIG:
		put32(p + 4, 20); /* 20 config bytes: more than dump shows */
		return 12 + 20;
	case VUP_L_SHMEM_CONFIG:
		put32(p, 3);
		put32(p + 4, 0);
		return 8 + 3 * 8;
	case VUP_L_OPAQUE: return 24;
	default: return size;
	}
}

static unsigned fds_for(enum vup_fd_rule r, unsigned nregions)
{
	switch (r) {
	case VUP_FD_ONE:
	case VUP_FD_OPTIONAL:
	case VUP_FD_VRING: return 1;
	case VUP_FD_PER_REGION: return nregions;
	default: return 0;
	}
}

/* What a session negotiates: the random feature words of its
 * SET_FEATURES and SET_PROTOCOL_FEATURES get these bits set or clear. */
struct want {
	bool packed, xen;
};

static void set_bit(uint8_t *p, unsigned bit, bool on)
{
	uint64_t v;
	memcpy(&v, p, 8);
	v = on ? v | UINT64_C(1) << bit : v & ~(UINT64_C(1) << bit);
	put64(p, v);
}

/* One catalogue row: its request and its reply. */
static void row(uint32_t session, const struct vup_msg_type *t,
                const struct want *w)
{
	unsigned region_size = w->xen ? 40 : 32;
	static struct msg m;
	unsigned nregions;
	memset(&m, 0, sizeof(m));
	m.session = session;
	m.chan = t->chan;
	m.from = t->chan == VUP_CHAN_MAIN ? VUP_FRONTEND : VUP_BACKEND;
	m.code = t->code;
	bool body =
	        t->reply == VUP_REPLY_ALWAYS || t->reply == VUP_REPLY_FEATURE;
	m.flags = VUP_FLAG_VERSION | (body ? 0 : VUP_FLAG_NEED_REPLY);
	m.size = fill(m.payload, t->req_layout, t->req_min, t->req_max,
	              region_size, &nregions);
	m.nfds = fds_for(t->req_fds, nregions);
	if (t->req_fds == VUP_FD_VRING)
		m.payload[1] &= 0xfe; /* NOFD (bit 8) clear: the fd comes */
	if (t == vup_proto_by_name("SET_FEATURES"))
		set_bit(m.payload, VUP_F_RING_PACKED, w->packed);
	if (t == vup_proto_by_name("SET_PROTOCOL_FEATURES"))
		set_bit(m.payload, VUP_PF_XEN_MMAP, w->xen);
	record(&m);

	m.from = m.from == VUP_FRONTEND ? VUP_BACKEND : VUP_FRONTEND;
	m.flags = VUP_FLAG_VERSION | VUP_FLAG_REPLY;
	enum vup_layout l = body ? t->rep_layout : VUP_L_ACK;
	m.size = fill(m.payload, l, body ? t->rep_min : 8,
	              body ? t->rep_max : 8, region_size, &nregions);
	m.nfds = body ? fds_for(t->rep_fds, nregions) : 0;
	record(&m);
	/* Postcopy rows: the back-end may echo the body instead. */
	if (t->reply == VUP_REPLY_POSTCOPY) {
		m.size = fill(m.payload, t->rep_layout, t->req_min, t->req_max,
		              region_size, &nregions);
		m.nfds = 0;
		record(&m);
	}
}

static void every_row(uint32_t session, bool packed, bool xen)
{
	struct want w = {packed, xen};
	for (int ch = VUP_CHAN_MAIN; ch <= VUP_CHAN_BACKEND; ch++)
		for (size_t i = 0; i < vup_proto_count(ch); i++)
			row(session, vup_proto_at(ch, i), &w);
}

/* A front-end request of the main channel with a u64 payload. */
static void set_u64(uint32_t session, const char *name, uint64_t v)
{
	static struct msg m;
	memset(&m, 0, sizeof(m));
	m.session = session;
	m.code = vup_proto_by_name(name)->code;
	m.flags = VUP_FLAG_VERSION;
	m.size = 8;
	put64(m.payload, v);
	record(&m);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: every_request OUT.pcapng.gz\n");
		return 2;
	}
	char err[256];
	struct vup_trace_config cfg = {.path = argv[1]};
	int rc = vup_trace_open(&cfg, &trace, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "every_request: %s\n", err);
		return 1;
	}
	for (uint32_t s = 1; s <= 4; s++) {
		char name[32];
		snprintf(name, sizeof(name), "s%u", s);
		rc = vup_trace_add_session(trace, s, name, "every request");
		if (rc)
			die("vup_trace_add_session", rc);
	}

	/* Session 1: split ring, 32-byte regions. */
	every_row(1, false, false);
	/* Session 2: the packed ring (from its SET_FEATURES on). */
	every_row(2, true, false);
	/* Session 3: XEN_MMAP, 40-byte regions, negotiated before its
	 * SET_MEM_TABLE. */
	set_u64(3, "SET_PROTOCOL_FEATURES", UINT64_C(1) << VUP_PF_XEN_MMAP);
	every_row(3, false, true);

	/* Session 4: what the pseudo-header can say, unknown codes, a cut
	 * message. */
	static struct msg m;
	static const char *const rules[] = {NULL, "drop-kick", "slow",
	                                    "ä-rewrite"};
	for (unsigned a = 0; a < VUP_TRACE_ACT_COUNT; a++) {
		memset(&m, 0, sizeof(m));
		m.session = 4;
		m.code = vup_proto_by_name("SET_VRING_NUM")->code;
		m.flags = VUP_FLAG_VERSION;
		m.size = 8;
		put32(m.payload, a);
		put32(m.payload + 4, 256);
		m.action = (uint8_t)a;
		m.rule = rules[a % 4];
		record(&m);
		if (a == VUP_TRACE_ACT_REWRITE) {
			put32(m.payload + 4, 128);
			m.as_sent = true;
			record(&m);
		}
	}
	memset(&m, 0, sizeof(m));
	m.session = 4;
	m.code = vup_proto_by_name("SET_MEM_TABLE")->code;
	m.flags = VUP_FLAG_VERSION;
	m.size = fill(m.payload, VUP_L_MEM_TABLE, 0, 0, 32, &m.nfds);
	m.nfds = 8; /* every fd kind, and more fds than regions */
	record(&m);

	memset(&m, 0, sizeof(m));
	m.session = 4;
	m.code = 99; /* unknown on the main channel */
	m.flags = VUP_FLAG_VERSION;
	for (unsigned i = 0; i < 24; i++)
		m.payload[i] = next_byte();
	m.size = 24;
	record(&m);
	m.chan = VUP_CHAN_BACKEND;
	m.from = VUP_BACKEND;
	m.code = 77;
	m.size = 3;
	record(&m);
	m.chan = VUP_CHAN_MAIN;
	m.from = VUP_FRONTEND;
	m.code = vup_proto_by_name("CREATE_CRYPTO_SESSION")->code;
	m.size = VUP_MAX_PAYLOAD + 100; /* the trace keeps 4096 bytes */
	record(&m);

	rc = vup_trace_close(trace);
	if (rc)
		die("vup_trace_close", rc);
	printf("%u\n", written);
	return 0;
}
