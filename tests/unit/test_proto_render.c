/* Unit tests for src/proto/render.c: text and JSON rendering of payloads.
 *
 * JSON output is checked by a small strict parser (RFC 8259 grammar, plus
 * no duplicate keys in an object) for every request and reply of the
 * catalogue at several payload sizes; truncation is checked byte by byte
 * against the untruncated rendering. */
#include <stdio.h>
#include <stdlib.h>

#include "unit.h"

/* ---- a strict JSON checker ---- */

struct jp {
	const char *s;
	size_t i, n;
	int depth;
};

static void jws(struct jp *j)
{
	while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' ||
	                       j->s[j->i] == '\n' || j->s[j->i] == '\r'))
		j->i++;
}

static bool jlit(struct jp *j, const char *lit)
{
	size_t l = strlen(lit);
	if (j->n - j->i < l || memcmp(j->s + j->i, lit, l) != 0)
		return false;
	j->i += l;
	return true;
}

static bool jdigits(struct jp *j)
{
	size_t start = j->i;
	while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
		j->i++;
	return j->i > start;
}

static bool jnumber(struct jp *j)
{
	if (j->i < j->n && j->s[j->i] == '-')
		j->i++;
	if (j->i < j->n && j->s[j->i] == '0')
		j->i++;
	else if (!jdigits(j))
		return false;
	if (j->i < j->n && j->s[j->i] == '.') {
		j->i++;
		if (!jdigits(j))
			return false;
	}
	if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
		j->i++;
		if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-'))
			j->i++;
		if (!jdigits(j))
			return false;
	}
	return true;
}

static bool jstring(struct jp *j, const char **start, size_t *len)
{
	if (j->i >= j->n || j->s[j->i] != '"')
		return false;
	size_t st = ++j->i;
	while (j->i < j->n) {
		unsigned char c = (unsigned char)j->s[j->i];
		if (c == '"') {
			*start = j->s + st;
			*len = j->i - st;
			j->i++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (++j->i >= j->n)
				return false;
			c = (unsigned char)j->s[j->i];
			if (c == 'u') {
				for (int k = 0; k < 4; k++) {
					if (++j->i >= j->n ||
					    !strchr("0123456789abcdefABCDEF",
					            j->s[j->i]))
						return false;
				}
			} else if (!strchr("\"\\/bfnrt", c)) {
				return false;
			}
		}
		j->i++;
	}
	return false;
}

static bool jvalue(struct jp *j);

static bool jobject(struct jp *j)
{
	const char *keys[128];
	size_t lens[128], nkeys = 0;
	j->i++; /* { */
	jws(j);
	if (j->i < j->n && j->s[j->i] == '}') {
		j->i++;
		return true;
	}
	for (;;) {
		const char *k;
		size_t kl;
		jws(j);
		if (!jstring(j, &k, &kl))
			return false;
		for (size_t x = 0; x < nkeys; x++)
			if (lens[x] == kl && memcmp(keys[x], k, kl) == 0)
				return false; /* duplicate key */
		if (nkeys < 128) {
			keys[nkeys] = k;
			lens[nkeys++] = kl;
		}
		jws(j);
		if (j->i >= j->n || j->s[j->i++] != ':')
			return false;
		if (!jvalue(j))
			return false;
		jws(j);
		if (j->i >= j->n)
			return false;
		if (j->s[j->i] == '}') {
			j->i++;
			return true;
		}
		if (j->s[j->i++] != ',')
			return false;
	}
}

static bool jarray(struct jp *j)
{
	j->i++; /* [ */
	jws(j);
	if (j->i < j->n && j->s[j->i] == ']') {
		j->i++;
		return true;
	}
	for (;;) {
		if (!jvalue(j))
			return false;
		jws(j);
		if (j->i >= j->n)
			return false;
		if (j->s[j->i] == ']') {
			j->i++;
			return true;
		}
		if (j->s[j->i++] != ',')
			return false;
	}
}

static bool jvalue(struct jp *j)
{
	jws(j);
	if (j->i >= j->n || ++j->depth > 64)
		return false;
	bool ok;
	const char *s;
	size_t l;
	switch (j->s[j->i]) {
	case '{': ok = jobject(j); break;
	case '[': ok = jarray(j); break;
	case '"': ok = jstring(j, &s, &l); break;
	case 't': ok = jlit(j, "true"); break;
	case 'f': ok = jlit(j, "false"); break;
	case 'n': ok = jlit(j, "null"); break;
	default: ok = jnumber(j); break;
	}
	j->depth--;
	return ok;
}

/* A whole document that is one JSON object. */
static bool json_object_ok(const char *s)
{
	struct jp j = {s, 0, strlen(s), 0};
	jws(&j);
	if (j.i >= j.n || s[j.i] != '{' || !jvalue(&j))
		return false;
	jws(&j);
	return j.i == j.n;
}

static void json_checker_self_test(void **state)
{
	(void)state;
	const char *good[] = {
	        "{}",
	        "{\"a\":1}",
	        (" { \"a\" : [1, -2.5e+3, \"x\\\"y\\u00e9\", true, false, "
	         "null, {}] } "),
	        "{\"a\":{\"a\":0}}",
	};
	const char *bad[] = {
	        "",
	        "{",
	        "{\"a\":1,}",
	        "{\"a\" 1}",
	        "{a:1}",
	        "{\"a\":01}",
	        "{\"a\":0x10}",
	        "{\"a\":[1,]}",
	        "{\"a\":1}x",
	        "[]",
	        "{\"a\":1,\"a\":2}",
	        "{\"a\":tru}",
	        "{\"a\":\"\n\"}",
	        "{\"a\":\"\\x\"}",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!json_object_ok(good[i]))
			fail_msg("rejected valid %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (json_object_ok(bad[i]))
			fail_msg("accepted invalid %s", bad[i]);
}

/* ---- helpers ---- */

static char text[8192], json[16384];

/* Render both ways into text/json; check lengths and JSON validity. */
static void render(uint32_t req, uint32_t flags, const uint8_t *p,
                   uint32_t size, enum vup_chan chan,
                   const struct vup_negotiated *neg)
{
	struct vup_hdr h = {req, flags, size};
	size_t n = vup_render_text(text, sizeof(text), &h, p, chan, neg);
	assert_true(n < sizeof(text));
	assert_int_equal(strlen(text), n);
	n = vup_render_json(json, sizeof(json), &h, p, chan, neg);
	assert_true(n < sizeof(json));
	assert_int_equal(strlen(json), n);
	if (!json_object_ok(json))
		fail_msg("%s %s: invalid JSON: %s", vup_proto_name(chan, req),
		         flags & VUP_FLAG_REPLY ? "reply" : "request", json);
}

/* ---- text and JSON content ---- */

static void render_vring_addr(void **state)
{
	(void)state;
	uint8_t p[40] = {0};
	put_u32(p, 0, 0);
	put_u64(p, 8, 0x7f0012345000ull);
	put_u64(p, 16, 0x7f0012346000ull);
	put_u64(p, 24, 0x7f0012347000ull);
	render(9, REQ, p, 40, VUP_CHAN_MAIN, NULL);
	assert_contains(text, "index=0");
	assert_contains(text, "desc=0x7f0012345000");
	assert_contains(text, "used=0x7f0012346000");
	assert_contains(text, "avail=0x7f0012347000");
	assert_contains(text, "log=0x0");
	assert_true(strncmp(text, "index=0 ", 8) == 0);
	assert_contains(json, "\"index\":0");
	assert_contains(json, "\"desc\":\"0x7f0012345000\"");
	assert_contains(json, "\"avail\":\"0x7f0012347000\"");
	/* A short payload renders what it holds and no more. */
	render(9, REQ, p, 12, VUP_CHAN_MAIN, NULL);
	assert_string_equal(text, "index=0 flags=0x0");
	assert_string_equal(json, "{\"index\":0,\"flags\":\"0x0\"}");
	render(9, REQ, NULL, 0, VUP_CHAN_MAIN, NULL);
	assert_string_equal(text, "");
	assert_string_equal(json, "{}");
}

static void render_features(void **state)
{
	(void)state;
	uint8_t p[8];
	put_u64(p, 0, 0x140000000ull);
	render(2, REQ, p, 8, VUP_CHAN_MAIN, NULL);
	assert_contains(text, "0x140000000");
	assert_contains(text, "VIRTIO_F_VERSION_1");
	assert_contains(text, "VHOST_USER_F_PROTOCOL_FEATURES");
	assert_contains(json, "\"features\":\"0x140000000\"");
	assert_contains(json, "\"VIRTIO_F_VERSION_1\"");
	assert_contains(json, "\"VHOST_USER_F_PROTOCOL_FEATURES\"");
	/* The GET_FEATURES reply too; unnamed bits by number. */
	put_u64(p, 0, 1ull << 32 | 1ull << 50);
	render(1, REPLY, p, 8, VUP_CHAN_MAIN, NULL);
	assert_contains(text, "VIRTIO_F_VERSION_1");
	assert_contains(text, "bit50");
	assert_lacks(text, "PROTOCOL_FEATURES");
	/* Protocol features use their own names. */
	put_u64(p, 0, 1ull << 0 | 1ull << 3 | 1ull << 17);
	render(15, REPLY, p, 8, VUP_CHAN_MAIN, NULL);
	assert_contains(text, "MQ");
	assert_contains(text, "REPLY_ACK");
	assert_contains(text, "XEN_MMAP");
	assert_lacks(text, "VIRTIO");
	render(16, REQ, p, 8, VUP_CHAN_MAIN, NULL);
	assert_contains(json, "\"REPLY_ACK\"");
	/* Status bits. */
	put_u64(p, 0, 0xf);
	render(39, REQ, p, 8, VUP_CHAN_MAIN, NULL);
	assert_contains(text, "ACKNOWLEDGE");
	assert_contains(text, "DRIVER_OK");
	assert_contains(text, "FEATURES_OK");
	put_u64(p, 0, 0x80);
	render(40, REPLY, p, 8, VUP_CHAN_MAIN, NULL);
	assert_contains(text, "FAILED");
	assert_lacks(text, "DRIVER");
}

static void render_features_standalone(void **state)
{
	(void)state;
	char b[256];
	size_t n = vup_render_features(b, sizeof(b), 0x140000000ull, false);
	assert_int_equal(n, strlen(b));
	assert_true(strncmp(b, "0x140000000", 11) == 0);
	assert_contains(b, "VIRTIO_F_VERSION_1");
	assert_contains(b, "VHOST_USER_F_PROTOCOL_FEATURES");
	n = vup_render_features(b, sizeof(b), 1ull << 3, true);
	assert_int_equal(n, strlen(b));
	assert_true(strncmp(b, "0x8", 3) == 0);
	assert_contains(b, "REPLY_ACK");
	n = vup_render_features(b, sizeof(b), 0, true);
	assert_int_equal(n, strlen(b));
	assert_true(strncmp(b, "0x0", 3) == 0);
	assert_lacks(b, "REPLY_ACK");
	/* Every bit set: every name (or bitN) appears. */
	n = vup_render_features(b, 0, ~0ull, false);
	char *big = malloc(n + 1);
	assert_non_null(big);
	assert_int_equal(vup_render_features(big, n + 1, ~0ull, false), n);
	for (unsigned bit = 0; bit < 64; bit++) {
		char name[16];
		snprintf(name, sizeof(name), "bit%u", bit);
		assert_contains(big, vup_feature_name(bit)
		                             ? vup_feature_name(bit)
		                             : name);
	}
	free(big);
}

static void render_vring_fd_and_base(void **state)
{
	(void)state;
	uint8_t p[8];
	put_u64(p, 0, 0x101);
	render(12, REQ, p, 8, VUP_CHAN_MAIN, NULL);
	assert_string_equal(text, "index=1 nofd");
	assert_string_equal(json, "{\"index\":1,\"nofd\":true}");
	put_u64(p, 0, 0x1);
	render(13, REQ, p, 8, VUP_CHAN_MAIN, NULL);
	assert_string_equal(text, "index=1");
	assert_string_equal(json, "{\"index\":1,\"nofd\":false}");

	/* Split ring: num is the avail index; packed: the bit-fields. */
	struct vup_negotiated packed = {1ull << VUP_F_RING_PACKED, 0};
	put_u32(p, 0, 2);
	put_u32(p, 4, 0x1234u | 1u << 15 | 0x2345u << 16);
	render(10, REQ, p, 8, VUP_CHAN_MAIN, NULL);
	assert_string_equal(text, "index=2 num=591761972");
	render(10, REQ, p, 8, VUP_CHAN_MAIN, &packed);
	assert_contains(text, "avail_idx=4660");
	assert_contains(text, "avail_wrap=1");
	assert_contains(text, "used_idx=9029");
	assert_contains(text, "used_wrap=0");
	render(11, REPLY, p, 8, VUP_CHAN_MAIN, &packed);
	assert_contains(json, "\"used_idx\":9029");
}

static void render_mem_table(void **state)
{
	(void)state;
	uint8_t p[8 + 2 * 40] = {0};
	put_u32(p, 0, 2);
	put_u64(p, 8, 0);
	put_u64(p, 16, 0x80000000);
	put_u64(p, 24, 0x7f0000000000ull);
	put_u64(p, 40, 0x100000000ull);
	put_u64(p, 48, 0x40000000);
	put_u64(p, 56, 0x7f0080000000ull);
	put_u64(p, 64, 0x1000);
	render(5, REQ, p, 72, VUP_CHAN_MAIN, NULL);
	assert_contains(text, "nregions=2");
	assert_contains(text, "gpa=0x0 size=0x80000000 uaddr=0x7f0000000000 "
	                      "mmap_offset=0x0");
	assert_contains(text, "gpa=0x100000000 size=0x40000000 "
	                      "uaddr=0x7f0080000000 mmap_offset=0x1000");
	assert_contains(json, "\"regions\":[{\"gpa\":\"0x0\",");
	assert_contains(json, "},{\"gpa\":\"0x100000000\",");
	/* More regions declared than present: only the present ones. */
	put_u32(p, 0, 5);
	render(5, REQ, p, 72, VUP_CHAN_MAIN, NULL);
	assert_contains(text, "gpa=0x100000000");
	/* XEN_MMAP: 40-byte regions. */
	struct vup_negotiated xen = {0, 1ull << VUP_PF_XEN_MMAP};
	memset(p, 0, sizeof(p));
	put_u32(p, 0, 2);
	put_u64(p, 8 + 40, 0x200000000ull);
	render(5, REQ, p, 88, VUP_CHAN_MAIN, &xen);
	assert_contains(text, "gpa=0x200000000");
	/* ADD_MEM_REG. */
	uint8_t r[40] = {0};
	put_u64(r, 8, 0x100000);
	put_u64(r, 24, 0x7f00);
	render(37, REQ, r, 40, VUP_CHAN_MAIN, NULL);
	assert_contains(text, "gpa=0x100000");
	assert_contains(text, "uaddr=0x7f00");
}

static void render_bytes_mac_uuid(void **state)
{
	(void)state;
	uint8_t p[12 + 20];
	put_u32(p, 0, 0);
	put_u32(p, 4, 20);
	put_u32(p, 8, 0);
	for (int i = 0; i < 20; i++)
		p[12 + i] = (uint8_t)(0xa0 + i);
	render(24, REPLY, p, 32, VUP_CHAN_MAIN, NULL);
	assert_contains(text, "size=20");
	assert_contains(text, "data=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf...");
	assert_lacks(text, "b0");
	assert_contains(json,
	                "\"data\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3"
	                "\"");

	uint8_t mac[8] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0, 0};
	render(19, REQ, mac, 8, VUP_CHAN_MAIN, NULL);
	assert_string_equal(text, "mac=52:54:00:12:34:56");
	assert_string_equal(json, "{\"mac\":\"52:54:00:12:34:56\"}");

	uint8_t uuid[16];
	for (int i = 0; i < 16; i++)
		uuid[i] = (uint8_t)(i * 0x11);
	render(41, REQ, uuid, 16, VUP_CHAN_MAIN, NULL);
	assert_string_equal(text, "uuid=00112233-4455-6677-8899-aabbccddeeff");
	render(6, REQ, uuid, 16, VUP_CHAN_BACKEND, NULL);
	assert_contains(json,
	                "\"uuid\":\"00112233-4455-6677-8899-aabbccddeeff\"");
	/* Unknown requests: raw bytes. */
	uint8_t raw[3] = {1, 2, 0xff};
	render(99, REQ, raw, 3, VUP_CHAN_MAIN, NULL);
	assert_string_equal(text, "bytes=0102ff");
	assert_string_equal(json, "{\"bytes\":\"0102ff\"}");
	/* Shared memory config. */
	static uint8_t sh[8 + 256 * 8];
	memset(sh, 0, sizeof(sh));
	put_u32(sh, 0, 2);
	put_u64(sh, 8, 0x1000);
	put_u64(sh, 16, 0x200000);
	render(44, REPLY, sh, sizeof(sh), VUP_CHAN_MAIN, NULL);
	assert_contains(text, "nregions=2");
	assert_contains(text, "0x1000");
	assert_contains(text, "0x200000");
	assert_contains(json, "\"sizes\":[\"0x1000\",\"0x200000\"]");
}

/* Every request and reply of both channels, at sizes from 0 to past the
 * bound, with several byte patterns and negotiated states, renders valid
 * JSON, and between them every layout is exercised.  The payload is a heap
 * block of exactly the message size, so ASan sees any over-read. */
static void render_json_valid_everywhere(void **state)
{
	(void)state;
	static const uint8_t fill[] = {0x00, 0xff, 0x01, 0x80};
	const struct vup_negotiated negs[] = {
	        {0, 0},
	        {1ull << VUP_F_RING_PACKED, 1ull << VUP_PF_XEN_MMAP},
	        {~0ull, ~0ull},
	};
	bool seen[VUP_L_COUNT] = {false};
	for (int ch = VUP_CHAN_MAIN; ch <= VUP_CHAN_BACKEND; ch++) {
		size_t rows = vup_proto_count(ch);
		for (size_t i = 0; i <= rows; i++) {
			const struct vup_msg_type *t = vup_proto_at(ch, i);
			uint32_t code = t ? t->code : 77; /* and unknown */
			for (int rep = 0; rep < 2; rep++) {
				unsigned max = !t    ? 64
				               : rep ? t->rep_max
				                     : t->req_max;
				uint32_t sizes[] = {0,  1,  4,   7,
				                    8,  12, 16,  24,
				                    40, 48, max, max + 1};
				for (size_t s = 0; s < 12; s++)
					for (size_t f = 0; f < 4; f++)
						for (size_t k = 0; k < 3; k++) {
							uint32_t size =
							        sizes[s];
							uint8_t *p =
							        size ? malloc(size)
							             : NULL;
							if (size)
								memset(p,
								       fill[f],
								       size);
							struct vup_hdr h = {
							        code,
							        rep ? REPLY
							            : REQ,
							        size};
							seen[vup_msg_layout(
							        t, &h,
							        &negs[k])] =
							        true;
							render(code, h.flags, p,
							       size, ch,
							       &negs[k]);
							free(p);
						}
			}
		}
	}
	for (int l = 0; l < VUP_L_COUNT; l++)
		if (!seen[l])
			fail_msg("layout %s never rendered",
			         vup_layout_name(l));
}

/* Truncated output is the prefix of the full output, NUL-terminated in
 * cap, with the full length returned and nothing written past cap. */
typedef size_t (*render_fn)(char *, size_t, const struct vup_hdr *,
                            const uint8_t *, enum vup_chan,
                            const struct vup_negotiated *);

static void check_truncation(render_fn fn, const struct vup_hdr *h,
                             const uint8_t *p, enum vup_chan chan,
                             const struct vup_negotiated *neg)
{
	static char full[16384], buf[16384 + 64];
	size_t n = fn(full, sizeof(full), h, p, chan, neg);
	assert_true(n > 0 && n < sizeof(full));
	assert_int_equal(strlen(full), n);
	assert_int_equal(fn(NULL, 0, h, p, chan, neg), n);
	for (size_t cap = 0; cap <= n + 2; cap++) {
		memset(buf, 0x5a, cap + 64);
		assert_int_equal(fn(buf, cap, h, p, chan, neg), n);
		for (size_t i = cap; i < cap + 64; i++)
			if (buf[i] != 0x5a)
				fail_msg("cap %zu: byte %zu written", cap, i);
		if (cap == 0)
			continue;
		size_t want = n < cap ? n : cap - 1;
		assert_int_equal(buf[want], '\0');
		assert_int_equal(strlen(buf), want);
		assert_memory_equal(buf, full, want);
	}
}

static size_t features_adapter(char *b, size_t cap, const struct vup_hdr *h,
                               const uint8_t *p, enum vup_chan chan,
                               const struct vup_negotiated *neg)
{
	(void)h, (void)chan, (void)neg;
	uint64_t v;
	memcpy(&v, p, 8);
	return vup_render_features(b, cap, v, false);
}

static void render_truncation(void **state)
{
	(void)state;
	uint8_t mt[8 + 8 * 32];
	memset(mt, 0x11, sizeof(mt));
	put_u32(mt, 0, 8);
	put_u32(mt, 4, 0);
	struct vup_hdr h = {5, REQ, sizeof(mt)};
	check_truncation(vup_render_text, &h, mt, VUP_CHAN_MAIN, NULL);
	check_truncation(vup_render_json, &h, mt, VUP_CHAN_MAIN, NULL);

	uint8_t f[8];
	put_u64(f, 0, ~0ull);
	h = (struct vup_hdr){1, REPLY, 8};
	check_truncation(vup_render_text, &h, f, VUP_CHAN_MAIN, NULL);
	check_truncation(vup_render_json, &h, f, VUP_CHAN_MAIN, NULL);
	check_truncation(features_adapter, &h, f, VUP_CHAN_MAIN, NULL);
	h = (struct vup_hdr){15, REPLY, 8};
	check_truncation(vup_render_json, &h, f, VUP_CHAN_MAIN, NULL);

	uint8_t cfg[12 + 256];
	memset(cfg, 0xab, sizeof(cfg));
	put_u32(cfg, 4, 256);
	h = (struct vup_hdr){24, REPLY, sizeof(cfg)};
	check_truncation(vup_render_text, &h, cfg, VUP_CHAN_MAIN, NULL);
	check_truncation(vup_render_json, &h, cfg, VUP_CHAN_MAIN, NULL);

	uint8_t uuid[16] = {1, 2, 3};
	h = (struct vup_hdr){8, REQ, 16};
	check_truncation(vup_render_text, &h, uuid, VUP_CHAN_BACKEND, NULL);
	check_truncation(vup_render_json, &h, uuid, VUP_CHAN_BACKEND, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(json_checker_self_test),
	        cmocka_unit_test(render_vring_addr),
	        cmocka_unit_test(render_features),
	        cmocka_unit_test(render_features_standalone),
	        cmocka_unit_test(render_vring_fd_and_base),
	        cmocka_unit_test(render_mem_table),
	        cmocka_unit_test(render_bytes_mac_uuid),
	        cmocka_unit_test(render_json_valid_everywhere),
	        cmocka_unit_test(render_truncation),
	};
	return cmocka_run_group_tests_name("proto_render", tests, NULL, NULL);
}
