/* dump_eth: the short decode `vuproxy dump` prints for an Ethernet frame
 * of a net queue: MACs, VLAN, ethertype; ARP; IPv4 / IPv6 addresses and
 * protocol; ICMP type, TCP / UDP ports.  Bounded by the captured length:
 * a frame cut short says "[truncated]" where the decode stops. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dump_tap.h"

_Static_assert(sizeof(((struct vup_eth *)0)->ip_src) >= INET6_ADDRSTRLEN,
               "room for an IPv6 address");

static void say(struct vup_eth *e, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void say(struct vup_eth *e, const char *fmt, ...)
{
	if (e->slen >= sizeof(e->summary))
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(e->summary + e->slen, sizeof(e->summary) - e->slen,
	                  fmt, ap);
	va_end(ap);
	if (n > 0)
		e->slen += (size_t)n;
}

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

void vup_dump_mac(char out[18], const uint8_t *m)
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
	         m[3], m[4], m[5]);
}

static const char *icmp_name(bool v6, int type)
{
	if (!v6) {
		switch (type) {
		case 0: return "echo reply";
		case 3: return "unreachable";
		case 5: return "redirect";
		case 8: return "echo request";
		case 11: return "time exceeded";
		}
		return NULL;
	}
	switch (type) {
	case 1: return "unreachable";
	case 2: return "packet too big";
	case 3: return "time exceeded";
	case 128: return "echo request";
	case 129: return "echo reply";
	case 133: return "router solicitation";
	case 134: return "router advertisement";
	case 135: return "neighbor solicitation";
	case 136: return "neighbor advertisement";
	}
	return NULL;
}

/* The transport header after an IP header. */
static void l4(struct vup_eth *e, int proto, const uint8_t *p, size_t n,
               bool v6)
{
	e->ip_proto = proto;
	if (proto == (v6 ? 58 : 1)) {
		say(e, v6 ? " ICMPv6" : " ICMP");
		if (n < 2) {
			say(e, " [truncated]");
			return;
		}
		e->icmp_type = p[0];
		e->icmp_code = p[1];
		const char *name = icmp_name(v6, p[0]);
		if (name)
			say(e, " %s", name);
		else
			say(e, " type %u code %u", p[0], p[1]);
		bool echo = v6 ? p[0] == 128 || p[0] == 129
		               : p[0] == 0 || p[0] == 8;
		if (echo && n >= 8)
			say(e, " id=0x%04x seq=%u", be16(p + 4), be16(p + 6));
	} else if (proto == 6 || proto == 17) {
		say(e, proto == 6 ? " TCP" : " UDP");
		if (n < 4) {
			say(e, " [truncated]");
			return;
		}
		e->sport = (int)be16(p);
		e->dport = (int)be16(p + 2);
		say(e, " %d > %d", e->sport, e->dport);
	} else {
		say(e, " proto %d", proto);
	}
}

static void ipv4(struct vup_eth *e, const uint8_t *p, size_t n)
{
	say(e, " IPv4");
	if (n < 20) {
		say(e, " [truncated]");
		return;
	}
	size_t ihl = (size_t)(p[0] & 15) * 4;
	if (p[0] >> 4 != 4 || ihl < 20) {
		say(e, " [bad header]");
		return;
	}
	inet_ntop(AF_INET, p + 12, e->ip_src, sizeof(e->ip_src));
	inet_ntop(AF_INET, p + 16, e->ip_dst, sizeof(e->ip_dst));
	say(e, " %s > %s", e->ip_src, e->ip_dst);
	if (be16(p + 6) & 0x1fff) {
		e->ip_proto = p[9];
		say(e, " proto %u fragment", p[9]);
		return;
	}
	if (n < ihl) {
		e->ip_proto = p[9];
		say(e, " proto %u [truncated]", p[9]);
		return;
	}
	l4(e, p[9], p + ihl, n - ihl, false);
}

static void ipv6(struct vup_eth *e, const uint8_t *p, size_t n)
{
	say(e, " IPv6");
	if (n < 40) {
		say(e, " [truncated]");
		return;
	}
	inet_ntop(AF_INET6, p + 8, e->ip_src, sizeof(e->ip_src));
	inet_ntop(AF_INET6, p + 24, e->ip_dst, sizeof(e->ip_dst));
	say(e, " %s > %s", e->ip_src, e->ip_dst);
	l4(e, p[6], p + 40, n - 40, true);
}

static void arp(struct vup_eth *e, const uint8_t *p, size_t n)
{
	say(e, " ARP");
	if (n < 28) {
		say(e, " [truncated]");
		return;
	}
	if (be16(p) != 1 || be16(p + 2) != 0x0800 || p[4] != 6 || p[5] != 4) {
		say(e, " (not Ethernet/IPv4)");
		return;
	}
	char sha[18], spa[INET_ADDRSTRLEN], tpa[INET_ADDRSTRLEN];
	vup_dump_mac(sha, p + 8);
	inet_ntop(AF_INET, p + 14, spa, sizeof(spa));
	inet_ntop(AF_INET, p + 24, tpa, sizeof(tpa));
	unsigned op = be16(p + 6);
	if (op == 1)
		say(e, " who-has %s tell %s", tpa, spa);
	else if (op == 2)
		say(e, " reply %s is-at %s", spa, sha);
	else
		say(e, " op %u", op);
}

void vup_dump_eth_decode(struct vup_eth *e, const uint8_t *p, size_t n)
{
	memset(e, 0, sizeof(*e));
	e->vlan = e->ethertype = e->ip_proto = -1;
	e->icmp_type = e->icmp_code = e->sport = e->dport = -1;
	if (n < 14) {
		say(e, "[truncated: %zu bytes]", n);
		return;
	}
	char s[18], d[18];
	e->dst = p;
	e->src = p + 6;
	vup_dump_mac(d, e->dst);
	vup_dump_mac(s, e->src);
	say(e, "%s > %s", s, d);
	unsigned type = be16(p + 12);
	size_t off = 14;
	if (type == 0x8100 || type == 0x88a8) {
		if (n < 18) {
			say(e, " vlan [truncated]");
			return;
		}
		e->vlan = (int)(be16(p + 14) & 0xfff);
		say(e, " vlan %d", e->vlan);
		type = be16(p + 16);
		off = 18;
	}
	e->ethertype = (int)type;
	if (type < 0x0600)
		say(e, " 802.3 length %u", type);
	else if (type == 0x0800)
		ipv4(e, p + off, n - off);
	else if (type == 0x86dd)
		ipv6(e, p + off, n - off);
	else if (type == 0x0806)
		arp(e, p + off, n - off);
	else
		say(e, " ethertype 0x%04x", type);
}
