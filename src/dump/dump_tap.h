/* dump_tap: what `vuproxy dump` shows of the tap's records (the Ethernet
 * frames of net queues, blk requests, interface statistics), and the
 * classic pcap file --ethernet-out writes.  Private to dump. */
#ifndef VUPROXY_DUMP_TAP_H
#define VUPROXY_DUMP_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/reader.h"

/* The session of an interface named "s<N> ...": true with *session = N
 * and *rest the name after "s<N> " (tap names are "s1 net q1 tx",
 * "s1 blk"; control interfaces "s1 <sockets>"). */
bool vup_dump_iface_session(const char *ifname, uint32_t *session,
                            const char **rest);

/* Whether dump shows rec as a tap record: statistics, or a packet of an
 * Ethernet (net queue) or USER1 (blk) interface. */
bool vup_dump_is_tap(const struct vup_record *rec);

/* Print a tap record: one text line (rel_ns: time since the first record
 * shown) or one JSON object. */
void vup_dump_tap(const struct vup_record *rec, bool json, uint64_t rel_ns);

/* The decode of an Ethernet frame (dump_eth.c): the fields found (-1 /
 * NULL / "" when the frame does not have them) and a one-line summary. */
struct vup_eth {
	const uint8_t *dst, *src; /* NULL: the frame is shorter than that */
	int vlan, ethertype, ip_proto, icmp_type, icmp_code, sport, dport;
	char ip_src[46], ip_dst[46]; /* INET6_ADDRSTRLEN */
	char summary[320];
	size_t slen;
};
void vup_dump_eth_decode(struct vup_eth *e, const uint8_t *p, size_t n);
/* "52:54:00:12:34:56" */
void vup_dump_mac(char out[18], const uint8_t *m);

/* Print s as a JSON string: quotes, escapes, invalid UTF-8 as U+FFFD. */
void vup_dump_json_str(const char *s);

/* --ethernet-out: a classic libpcap file (LINKTYPE_ETHERNET, nanosecond
 * timestamps) of the Ethernet frames. */
struct vup_pcap_out;
/* Create or truncate path ("-": stdout), mode 0600.  Refuses the file
 * `input` itself.  0 or -errno (err says why). */
int vup_pcap_out_open(const char *path, const char *input,
                      struct vup_pcap_out **out, char *err, size_t errlen);
/* Append an Ethernet frame record.  0 or -errno. */
int vup_pcap_out_frame(struct vup_pcap_out *o, const struct vup_record *rec);
uint64_t vup_pcap_out_frames(const struct vup_pcap_out *o);
/* Finish the file (header snap length: the largest of the interfaces
 * whose frames were written) and close it.  0 or -errno; frees o. */
int vup_pcap_out_close(struct vup_pcap_out *o, char *err, size_t errlen);

#endif
