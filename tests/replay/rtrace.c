/* rtrace: see rtrace.h. */
#include <stdio.h>
#include <string.h>

#include "rtrace.h"
#include "vuproxy/trace.h"

struct rt_msg *rt_add(struct rt *t, uint32_t session, enum vup_chan chan,
                      enum vup_side from, uint32_t req, uint32_t flags,
                      const void *payload, uint32_t size)
{
	if (t->n == RT_MAX || size > sizeof(t->m[0].payload))
		return NULL;
	struct rt_msg *m = &t->m[t->n++];
	memset(m, 0, sizeof(*m));
	m->session = session;
	m->tflags =
	        (uint8_t)((chan == VUP_CHAN_BACKEND ? VUP_TRACE_F_BACKEND_CHAN
	                                            : 0) |
	                  (from == VUP_BACKEND ? VUP_TRACE_F_FROM_BACKEND : 0));
	m->action = VUP_TRACE_ACT_PASS;
	t->ts += 1000000;
	m->ts_ns = 1700000000000000000ull + t->ts;
	m->h = (struct vup_hdr){req, flags, size};
	if (size)
		memcpy(m->payload, payload, size);
	return m;
}

void rt_fd(struct rt_msg *m, unsigned kind, uint64_t size)
{
	m->fds[m->nfds].kind = (uint8_t)kind;
	m->fds[m->nfds].size = size;
	m->nfds++;
}

struct rt_msg *rt_u64(struct rt *t, uint32_t session, enum vup_chan chan,
                      enum vup_side from, uint32_t req, uint32_t flags,
                      uint64_t v)
{
	return rt_add(t, session, chan, from, req, flags, &v, 8);
}

struct rt_frame *rt_frame_add(struct rt *t, uint32_t session, uint16_t queue,
                              const void *data, uint32_t caplen,
                              uint32_t origlen)
{
	if (t->nf == RT_MAX_FRAMES || caplen > sizeof(t->f[0].data))
		return NULL;
	struct rt_frame *f = &t->f[t->nf++];
	memset(f, 0, sizeof(*f));
	f->session = session;
	f->queue = queue;
	f->after = t->n;
	f->caplen = caplen;
	f->origlen = origlen;
	memcpy(f->data, data, caplen);
	return f;
}

/* Write the frames that go after message `after`, declaring their
 * interfaces on first use. */
static int write_frames(const struct rt *t, struct vup_trace *tr, size_t after,
                        uint32_t *handles, uint32_t *keys, size_t *nh)
{
	for (size_t i = 0; i < t->nf; i++) {
		const struct rt_frame *f = &t->f[i];
		if (f->after != after)
			continue;
		uint32_t key = f->session << 16 | f->queue;
		size_t k = 0;
		while (k < *nh && keys[k] != key)
			k++;
		if (k == *nh) {
			char name[48];
			snprintf(name, sizeof(name), "s%u net q%u tx",
			         f->session, f->queue);
			if (vup_trace_add_iface(tr, f->session,
			                        LINKTYPE_ETHERNET,
			                        t->snaplen ? t->snaplen : 65535,
			                        name, "test", &handles[k]))
				return -1;
			keys[k] = key;
			(*nh)++;
		}
		if (vup_trace_packet(tr, handles[k],
		                     1700000000000000000ull + t->ts + i,
		                     PCAPNG_DIR_OUTBOUND, f->data, f->caplen,
		                     f->origlen))
			return -1;
	}
	return 0;
}

static void trace_hdr(const struct rt_msg *m, struct vup_trace_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->flags = m->tflags;
	h->action = m->action;
	h->session = m->session;
	h->nfds = (uint8_t)m->nfds;
	for (unsigned i = 0; i < m->nfds; i++)
		h->fds[i] = m->fds[i];
	h->declared = m->declared;
	h->declared_ns = m->declared_ns;
}

int rt_write_gz(const struct rt *t, const char *path)
{
	struct vup_trace_config cfg = {.path = path};
	struct vup_trace *tr;
	char err[256];
	if (vup_trace_open(&cfg, &tr, err, sizeof(err)))
		return -1;
	uint32_t declared[RT_MAX];
	size_t nd = 0;
	static uint32_t handles[RT_MAX_FRAMES], keys[RT_MAX_FRAMES];
	size_t nh = 0;
	static struct vup_trace_hdr h;
	for (size_t i = 0; i < t->n; i++) {
		const struct rt_msg *m = &t->m[i];
		size_t k = 0;
		while (k < nd && declared[k] != m->session)
			k++;
		if (k == nd) {
			char name[32];
			snprintf(name, sizeof(name), "s%u", m->session);
			vup_trace_add_session(tr, m->session, name, "test");
			declared[nd++] = m->session;
		}
		trace_hdr(m, &h);
		if (vup_trace_message(tr, m->ts_ns, &h, &m->h, m->payload))
			return -1;
		if (write_frames(t, tr, i + 1, handles, keys, &nh))
			return -1;
	}
	return vup_trace_close(tr) ? -1 : 0;
}

int rt_write_plain(const struct rt *t, const char *path, unsigned version)
{
	struct vup_buf b = {0};
	static struct vup_trace_hdr h;
	static uint8_t pkt[4096];
	pcapng_shb(&b, "vuproxy test");
	pcapng_idb_note(&b, LINKTYPE_USER0, 65535, "s1", NULL,
	                t->continued ? VUP_IDB_CONTINUED : NULL);
	for (size_t i = 0; i < t->n; i++) {
		const struct rt_msg *m = &t->m[i];
		trace_hdr(m, &h);
		size_t hl = vup_trace_hdr_size(&h);
		vup_trace_hdr_encode(&h, pkt);
		pkt[2] = (uint8_t)version;
		memcpy(pkt + hl, &m->h, VUP_HDR_SIZE);
		if (m->lie_size)
			memcpy(pkt + hl + 8, &m->lie_size, 4);
		memcpy(pkt + hl + VUP_HDR_SIZE, m->payload, m->h.size);
		uint32_t len = (uint32_t)(hl + VUP_HDR_SIZE + m->h.size);
		pcapng_epb(&b, 0, m->ts_ns, pkt, len, len,
		           (m->tflags & VUP_TRACE_F_FROM_BACKEND)
		                   ? PCAPNG_DIR_INBOUND
		                   : PCAPNG_DIR_OUTBOUND,
		           NULL);
	}
	FILE *f = fopen(path, "wb");
	int rc = f && fwrite(b.data, 1, b.len, f) == b.len ? 0 : -1;
	if (f)
		fclose(f);
	vup_buf_free(&b);
	return rc;
}

int rt_write(const struct rt *t, const char *path)
{
	return t->continued ? rt_write_plain(t, path, VUP_TRACE_VERSION)
	                    : rt_write_gz(t, path);
}

void rt_declare(struct rt *t, size_t n)
{
	uint64_t start = n < t->n ? t->m[n].ts_ns - 500000
	                          : t->m[t->n - 1].ts_ns + 500000;
	for (size_t i = 0; i < n && i < t->n; i++) {
		t->m[i].declared = true;
		t->m[i].declared_ns = t->m[i].ts_ns;
		t->m[i].ts_ns = start;
	}
}

void rt_session(struct rt *t, uint32_t s)
{
	const enum vup_chan M = VUP_CHAN_MAIN;
	const uint32_t RQ = VUP_FLAG_VERSION, NR = RQ | VUP_FLAG_NEED_REPLY;
	const uint32_t RP = VUP_FLAG_VERSION | VUP_FLAG_REPLY;
	rt_add(t, s, M, VUP_FRONTEND, 3, RQ, NULL, 0); /* SET_OWNER */
	rt_add(t, s, M, VUP_FRONTEND, 1, RQ, NULL, 0); /* GET_FEATURES */
	rt_u64(t, s, M, VUP_BACKEND, 1, RP,
	       (1ull << 32) | (1ull << 34) | (1ull << 30));
	rt_add(t, s, M, VUP_FRONTEND, 15, RQ, NULL, 0);
	rt_u64(t, s, M, VUP_BACKEND, 15, RP, (1ull << 3) | (1ull << 5));
	rt_u64(t, s, M, VUP_FRONTEND, 16, RQ, (1ull << 3) | (1ull << 5));
	rt_u64(t, s, M, VUP_FRONTEND, 2, RQ, (1ull << 32) | (1ull << 30));
	uint8_t mt[40] = {0};
	uint32_t one = 1;
	uint64_t gpa = 0x100000, size = 0x100000, uaddr = 0x7f0000100000;
	memcpy(mt, &one, 4);
	memcpy(mt + 8, &gpa, 8);
	memcpy(mt + 16, &size, 8);
	memcpy(mt + 24, &uaddr, 8);
	struct rt_msg *m = rt_add(t, s, M, VUP_FRONTEND, 5, NR, mt, 40);
	rt_fd(m, VUP_FDK_MEMFD, 2 * 0x100000);
	rt_u64(t, s, M, VUP_BACKEND, 5, RP, 0);
	uint64_t vs = 256ull << 32; /* index 0, num 256 */
	rt_u64(t, s, M, VUP_FRONTEND, 8, RQ, vs);
	uint8_t addr[40] = {0};
	uint64_t desc = 0x7f0000100000;
	memcpy(addr + 8, &desc, 8);
	rt_add(t, s, M, VUP_FRONTEND, 9, RQ, addr, 40);
	m = rt_u64(t, s, M, VUP_FRONTEND, 12, RQ, 0); /* SET_VRING_KICK 0 */
	rt_fd(m, VUP_FDK_EVENTFD, 0);
	m = rt_u64(t, s, M, VUP_FRONTEND, 13, RQ, 0); /* SET_VRING_CALL 0 */
	rt_fd(m, VUP_FDK_EVENTFD, 0);
	rt_add(t, s, M, VUP_FRONTEND, 11, RQ, &vs, 8); /* GET_VRING_BASE */
	rt_u64(t, s, M, VUP_BACKEND, 11, RP, 0);
}

void rt_net_setup(struct rt *t, uint32_t s, unsigned rings)
{
	const enum vup_chan M = VUP_CHAN_MAIN;
	const enum vup_side FE = VUP_FRONTEND, BE = VUP_BACKEND;
	const uint32_t RQ = VUP_FLAG_VERSION, NR = RQ | VUP_FLAG_NEED_REPLY;
	const uint32_t RP = VUP_FLAG_VERSION | VUP_FLAG_REPLY;
	const uint64_t feat = 1ull << 32 | 1ull << 30 | 1ull << 15;
	const uint64_t pfeat = 1ull << 3; /* REPLY_ACK */
	rt_add(t, s, M, FE, VUP_REQ_SET_OWNER, RQ, NULL, 0);
	rt_add(t, s, M, FE, VUP_REQ_GET_FEATURES, RQ, NULL, 0);
	rt_u64(t, s, M, BE, VUP_REQ_GET_FEATURES, RP, feat);
	rt_add(t, s, M, FE, VUP_REQ_GET_PROTOCOL_FEATURES, RQ, NULL, 0);
	rt_u64(t, s, M, BE, VUP_REQ_GET_PROTOCOL_FEATURES, RP, pfeat);
	rt_u64(t, s, M, FE, VUP_REQ_SET_PROTOCOL_FEATURES, RQ, pfeat);
	rt_u64(t, s, M, FE, VUP_REQ_SET_FEATURES, RQ, feat);
	uint8_t mt[40] = {0};
	uint32_t one = 1;
	uint64_t gpa = 0x100000, size = 0x100000, uaddr = 0x7f0000100000;
	memcpy(mt, &one, 4);
	memcpy(mt + 8, &gpa, 8);
	memcpy(mt + 16, &size, 8);
	memcpy(mt + 24, &uaddr, 8);
	struct rt_msg *m =
	        rt_add(t, s, M, FE, VUP_REQ_SET_MEM_TABLE, NR, mt, sizeof(mt));
	rt_fd(m, VUP_FDK_MEMFD, size);
	rt_u64(t, s, M, BE, VUP_REQ_SET_MEM_TABLE, RP, 0);
	for (uint32_t i = 0; i < rings; i++) {
		uint64_t state = (uint64_t)256 << 32 | i; /* {index, num} */
		rt_u64(t, s, M, FE, VUP_REQ_SET_VRING_NUM, RQ, state);
		uint8_t addr[40] = {0};
		uint64_t desc = uaddr + i * 0x4000, avail = desc + 0x1000,
		         used = desc + 0x2000;
		memcpy(addr, &i, 4);
		memcpy(addr + 8, &desc, 8);
		memcpy(addr + 16, &used, 8);
		memcpy(addr + 24, &avail, 8);
		rt_add(t, s, M, FE, VUP_REQ_SET_VRING_ADDR, RQ, addr,
		       sizeof(addr));
		rt_u64(t, s, M, FE, VUP_REQ_SET_VRING_BASE, RQ, i);
		m = rt_u64(t, s, M, FE, VUP_REQ_SET_VRING_KICK, RQ, i);
		rt_fd(m, VUP_FDK_EVENTFD, 0);
		m = rt_u64(t, s, M, FE, VUP_REQ_SET_VRING_CALL, RQ, i);
		rt_fd(m, VUP_FDK_EVENTFD, 0);
	}
	for (uint32_t i = 0; i < rings; i++)
		rt_u64(t, s, M, FE, VUP_REQ_SET_VRING_ENABLE, RQ,
		       (uint64_t)1 << 32 | i);
}

void rt_net_teardown(struct rt *t, uint32_t s, unsigned rings, uint32_t base)
{
	const uint32_t RQ = VUP_FLAG_VERSION;
	const uint32_t RP = VUP_FLAG_VERSION | VUP_FLAG_REPLY;
	for (uint32_t i = 0; i < rings; i++) {
		uint64_t state = i;
		rt_u64(t, s, VUP_CHAN_MAIN, VUP_FRONTEND,
		       VUP_REQ_GET_VRING_BASE, RQ, state);
		rt_u64(t, s, VUP_CHAN_MAIN, VUP_BACKEND, VUP_REQ_GET_VRING_BASE,
		       RP, (uint64_t)base << 32 | i);
	}
}
