/* dump_tap: `vuproxy dump` lines and JSON objects for the tap's records
 * (see include/vuproxy/tapfmt.h): Ethernet frames of net queues with a
 * short decode (dump_eth.c), blk requests, and the interface statistics
 * the tap writes when a queue stops. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump_tap.h"
#include "vuproxy/pcapng.h"
#include "vuproxy/tapfmt.h"

bool vup_dump_iface_session(const char *ifname, uint32_t *session,
                            const char **rest)
{
	if (!ifname || ifname[0] != 's' || ifname[1] < '0' || ifname[1] > '9')
		return false;
	uint64_t v = 0;
	const char *p = ifname + 1;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return false;
	}
	if (*p != ' ')
		return false;
	*session = (uint32_t)v;
	*rest = p + 1;
	return true;
}

bool vup_dump_is_tap(const struct vup_record *rec)
{
	return rec->kind == VUP_REC_STATS ||
	       rec->linktype == LINKTYPE_ETHERNET ||
	       rec->linktype == LINKTYPE_USER1;
}

/* ---- output helpers ---- */

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;
	uint32_t min, cp;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, min = 0x80, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, min = 0x800, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, min = 0x10000, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void vup_dump_json_str(const char *s)
{
	putchar('"');
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		size_t n = utf8_len(p);
		if (n == 0) {
			fputs("\\ufffd", stdout);
			p++;
		} else if (*p == '"' || *p == '\\') {
			printf("\\%c", *p++);
		} else if (*p < 0x20 || *p == 0x7f) {
			printf("\\u%04x", *p++);
		} else {
			fwrite(p, 1, n, stdout);
			p += n;
		}
	}
	putchar('"');
}

/* A name from the file on a text line: no control characters. */
static void text_name(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		putchar(*p < 0x20 || *p == 0x7f ? '?' : *p);
}

static void print_rel(uint64_t rel)
{
	printf("%4" PRIu64 ".%06" PRIu64 " ", rel / 1000000000u,
	       rel % 1000000000u / 1000u);
}

/* Text: "s1 net q1 tx" (the interface name; "if<N>" when it has none).
 * JSON: the first keys, "type" to "interface". */
static void head(const struct vup_record *rec, bool json, const char *type,
                 uint64_t rel)
{
	uint32_t session;
	const char *rest;
	bool has = vup_dump_iface_session(rec->ifname, &session, &rest);
	if (!json) {
		print_rel(rel);
		if (rec->ifname[0])
			text_name(rec->ifname);
		else
			printf("if%u", rec->ifid);
		return;
	}
	printf("{\"type\":\"%s\",\"ts_ns\":%" PRIu64 ",\"session\":", type,
	       rec->ts_ns);
	if (has)
		printf("%u", session);
	else
		fputs("null", stdout);
	fputs(",\"interface\":", stdout);
	vup_dump_json_str(rec->ifname);
}

static void json_u64(const char *key, bool have, uint64_t v)
{
	if (have)
		printf(",\"%s\":%" PRIu64, key, v);
	else
		printf(",\"%s\":null", key);
}

static void show_net(const struct vup_record *rec, bool json, uint64_t rel)
{
	struct vup_eth e;
	vup_dump_eth_decode(&e, rec->data, rec->caplen);
	head(rec, json, "net", rel);
	if (!json) {
		printf(" len=%u caplen=%u %s\n", rec->origlen, rec->caplen,
		       e.summary);
		return;
	}
	uint32_t session, queue;
	const char *rest;
	if (vup_dump_iface_session(rec->ifname, &session, &rest) &&
	    sscanf(rest, "net q%" SCNu32, &queue) == 1)
		printf(",\"queue\":%" PRIu32, queue);
	else
		fputs(",\"queue\":null", stdout);
	uint32_t dir = rec->epb_flags & 3;
	printf(",\"direction\":%s,\"len\":%u,\"caplen\":%u",
	       dir == PCAPNG_DIR_OUTBOUND  ? "\"tx\""
	       : dir == PCAPNG_DIR_INBOUND ? "\"rx\""
	                                   : "null",
	       rec->origlen, rec->caplen);
	if (e.dst) {
		char s[18], d[18];
		vup_dump_mac(s, e.src);
		vup_dump_mac(d, e.dst);
		printf(",\"src\":\"%s\",\"dst\":\"%s\"", s, d);
	}
	const struct {
		const char *key;
		int v; /* -1: not decoded */
	} ints[] = {
	        {"vlan", e.vlan},           {"ethertype", e.ethertype},
	        {"ip_proto", e.ip_proto},   {"icmp_type", e.icmp_type},
	        {"icmp_code", e.icmp_code}, {"sport", e.sport},
	        {"dport", e.dport},
	};
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		if (ints[i].v >= 0)
			printf(",\"%s\":%d", ints[i].key, ints[i].v);
	if (e.ip_src[0])
		printf(",\"ip_src\":\"%s\",\"ip_dst\":\"%s\"", e.ip_src,
		       e.ip_dst);
	fputs(",\"summary\":", stdout);
	vup_dump_json_str(e.summary);
	puts("}");
}

/* ---- blk ---- */

static void show_blk(const struct vup_record *rec, bool json, uint64_t rel)
{
	struct vup_blk_rec b;
	int rc = vup_blk_rec_decode(rec->data, rec->caplen, &b);
	head(rec, json, "blk", rel);
	if (rc < 0) {
		const char *why = rc == -2 ? "a newer blk record version"
		                           : "not a blk record";
		if (json) {
			printf(",\"caplen\":%u,\"error\":\"%s\"}\n",
			       rec->caplen, why);
		} else {
			printf(" [%s: %u bytes]\n", why, rec->caplen);
		}
		return;
	}
	const char *type = vup_blk_type_name(b.type);
	bool has_status = b.flags & VUP_BLK_F_STATUS;
	bool has_latency = b.flags & VUP_BLK_F_LATENCY;
	const char *status = has_status ? vup_blk_status_name(b.status) : NULL;
	uint32_t data = rec->caplen - VUP_BLK_REC_SIZE;
	if (!json) {
		printf(" q%u ", b.queue);
		if (type)
			fputs(type, stdout);
		else
			printf("type=%" PRIu32, b.type);
		printf(" id=%u sector=%" PRIu64 " len=%" PRIu32, b.id, b.sector,
		       b.data_len);
		if (status)
			printf(" status=%s", status);
		else if (has_status)
			printf(" status=%u", b.status);
		else
			fputs(" status=?", stdout);
		if (has_latency)
			printf(" latency=%" PRIu64 "us",
			       (b.latency_ns + 500) / 1000);
		else
			fputs(" latency=?", stdout);
		putchar('\n');
		return;
	}
	printf(",\"queue\":%u,\"id\":%u,\"op\":", b.queue, b.id);
	if (type)
		printf("\"%s\"", type);
	else
		fputs("null", stdout);
	printf(",\"op_code\":%" PRIu32 ",\"sector\":%" PRIu64
	       ",\"len\":%" PRIu32 ",\"status\":",
	       b.type, b.sector, b.data_len);
	if (status)
		printf("\"%s\"", status);
	else
		fputs("null", stdout);
	json_u64("status_code", has_status, b.status);
	printf(",\"used_len\":%" PRIu32, b.used_len);
	json_u64("latency_ns", has_latency, b.latency_ns);
	printf(",\"caplen\":%u,\"data_caplen\":%" PRIu32 "}\n", rec->caplen,
	       data);
}

/* ---- interface statistics ---- */

/* The tap's comment "consumed=N captured=N missed=N torn=N malformed=N".
 */
struct counts {
	uint64_t v[5];
};
static const char *const count_name[5] = {"consumed", "captured", "missed",
                                          "torn", "malformed"};

static bool parse_counts(const char *s, struct counts *c)
{
	unsigned seen = 0;
	while (s && *s) {
		while (*s == ' ')
			s++;
		const char *eq = strchr(s, '=');
		if (!eq)
			break;
		for (unsigned i = 0; i < 5; i++) {
			size_t kl = strlen(count_name[i]);
			if ((size_t)(eq - s) != kl ||
			    strncmp(s, count_name[i], kl))
				continue;
			char *end;
			if (eq[1] < '0' || eq[1] > '9')
				return false;
			c->v[i] = strtoull(eq + 1, &end, 10);
			if (*end && *end != ' ')
				return false;
			seen |= 1u << i;
		}
		s = strchr(eq, ' ');
	}
	return seen == 0x1f;
}

static void show_stats(const struct vup_record *rec, bool json, uint64_t rel)
{
	const struct vup_isb_stats *st = &rec->isb;
	struct counts c;
	bool parsed = rec->comment && parse_counts(rec->comment, &c);
	head(rec, json, "stats", rel);
	if (!json) {
		fputs(" stats", stdout);
		if (parsed) {
			for (unsigned i = 0; i < 5; i++)
				printf(" %s=%" PRIu64, count_name[i], c.v[i]);
			uint64_t sum = c.v[1] + c.v[2] + c.v[3] + c.v[4];
			if (sum != c.v[0])
				printf(" (captured+missed+torn+malformed="
				       "%" PRIu64 ")",
				       sum);
		} else {
			printf(" consumed=%" PRIu64 " captured=%" PRIu64
			       " missed=%" PRIu64 " torn+malformed=%" PRIu64,
			       st->ifrecv, st->usrdeliv, st->ifdrop,
			       st->osdrop);
		}
		putchar('\n');
		return;
	}
	json_u64("start_ns", st->has & VUP_ISB_HAS_START, st->start_ns);
	json_u64("end_ns", st->has & VUP_ISB_HAS_END, st->end_ns);
	/* The five classes: from the comment, or what the counters say. */
	json_u64("consumed", parsed || (st->has & VUP_ISB_HAS_IFRECV),
	         parsed ? c.v[0] : st->ifrecv);
	json_u64("captured", parsed || (st->has & VUP_ISB_HAS_USRDELIV),
	         parsed ? c.v[1] : st->usrdeliv);
	json_u64("missed", parsed || (st->has & VUP_ISB_HAS_IFDROP),
	         parsed ? c.v[2] : st->ifdrop);
	json_u64("torn", parsed, parsed ? c.v[3] : 0);
	json_u64("malformed", parsed, parsed ? c.v[4] : 0);
	json_u64("ifrecv", st->has & VUP_ISB_HAS_IFRECV, st->ifrecv);
	json_u64("ifdrop", st->has & VUP_ISB_HAS_IFDROP, st->ifdrop);
	json_u64("osdrop", st->has & VUP_ISB_HAS_OSDROP, st->osdrop);
	json_u64("usrdeliv", st->has & VUP_ISB_HAS_USRDELIV, st->usrdeliv);
	fputs(",\"comment\":", stdout);
	if (rec->comment)
		vup_dump_json_str(rec->comment);
	else
		fputs("null", stdout);
	puts("}");
}

void vup_dump_tap(const struct vup_record *rec, bool json, uint64_t rel_ns)
{
	if (rec->kind == VUP_REC_STATS)
		show_stats(rec, json, rel_ns);
	else if (rec->linktype == LINKTYPE_ETHERNET)
		show_net(rec, json, rel_ns);
	else if (rec->linktype == LINKTYPE_USER1)
		show_blk(rec, json, rel_ns);
}
