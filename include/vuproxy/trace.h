/* trace: the compressed, crash-safe trace file (-w).
 *
 * A pcapng section inside a gzip stream.  Each session's control channel
 * is one interface (LINKTYPE_USER0); each message is one packet: the
 * vuproxy pseudo-header (see pcapng.h) and the raw message.  Every control
 * message is sync-flushed to the file before it is forwarded, so a proxy
 * killed with SIGKILL leaves every forwarded message readable.  Rotation
 * (-C/-W) starts a new gzip file that re-declares the live sessions.
 */
#ifndef VUPROXY_TRACE_H
#define VUPROXY_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/pcapng.h"
#include "vuproxy/proto.h"

struct vup_trace_config {
	const char *path;      /* FILE.pcapng.gz */
	uint64_t rotate_bytes; /* -C: start a new file past this; 0 never */
	unsigned max_files;    /* -W: keep at most this many; 0 no limit */
};

struct vup_trace;

int vup_trace_open(const struct vup_trace_config *cfg, struct vup_trace **out,
                   char *err, size_t errlen);
/* Declare a session's control interface (name names both sockets). */
int vup_trace_add_session(struct vup_trace *t, uint32_t session,
                          const char *name, const char *description);
/* A tap interface of a session (one per net queue, one per blk device):
 * declared now and in every later file until the session ends; *handle
 * names it below. */
int vup_trace_add_iface(struct vup_trace *t, uint32_t session,
                        uint16_t linktype, uint32_t snaplen, const char *name,
                        const char *description, uint32_t *handle);
/* Forget the session's interfaces (a later file does not declare them). */
void vup_trace_end_session(struct vup_trace *t, uint32_t session);
/* One tap packet, flags = epb_flags.  Not flushed: tap packets are
 * written at the next vup_trace_flush or control message. */
int vup_trace_packet(struct vup_trace *t, uint32_t handle, uint64_t ts_ns,
                     uint32_t flags, const void *data, uint32_t caplen,
                     uint32_t origlen);
/* The same with a packet comment (opt_comment; NULL for none). */
int vup_trace_packet_note(struct vup_trace *t, uint32_t handle, uint64_t ts_ns,
                          uint32_t flags, const void *data, uint32_t caplen,
                          uint32_t origlen, const char *comment);
/* An Interface Statistics Block for a tap interface; flushed. */
int vup_trace_stats(struct vup_trace *t, uint32_t handle, uint64_t ts_ns,
                    const struct pcapng_isb *st, const char *comment);
/* Sync-flush what was buffered (tap packets). */
int vup_trace_flush(struct vup_trace *t);
/* Tap packets recorded so far. */
uint64_t vup_trace_packets(const struct vup_trace *t);
/* Record one message (its header and payload); flushed to the file
 * before returning. */
int vup_trace_message(struct vup_trace *t, uint64_t ts_ns,
                      const struct vup_trace_hdr *h,
                      const struct vup_hdr *msg_hdr, const uint8_t *payload);
/* Where the last packet written is: its number among every packet of
 * every file (1-based; 0 none yet).  Keep it to name a record in a
 * finding written later. */
uint64_t vup_trace_seq(const struct vup_trace *t);
/* The frame, as Wireshark numbers it in the open file, of the packet
 * numbered seq by vup_trace_seq: 0 when it is in an earlier file (or
 * seq is 0). */
uint64_t vup_trace_frame(const struct vup_trace *t, uint64_t seq);
/* A finding record (tracemsg.h) about the packet numbered about by
 * vup_trace_seq (0: none): its frame is that packet's number in the open
 * file, 0 when it is in an earlier file.  The file's "vuproxy findings"
 * interface (LINKTYPE_USER3) is declared before its first finding.
 * Flushed, as control messages are. */
struct vup_finding_rec;
int vup_trace_finding(struct vup_trace *t, uint64_t ts_ns,
                      const struct vup_finding_rec *f, uint64_t about);
/* Finish the gzip stream and close.  Returns 0 or the first error. */
int vup_trace_close(struct vup_trace *t);
/* Messages recorded so far (all files). */
uint64_t vup_trace_count(const struct vup_trace *t);
/* The name of file number k of a rotation (0 is the -w name itself):
 * vm1.pcapng.gz, vm1.1.pcapng.gz, vm1.2.pcapng.gz, ... */
int vup_trace_file_name(const char *path, unsigned k, char *out, size_t len);

#endif
