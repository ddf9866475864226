/* tracemsg: a control record of a trace read back as a message, and what
 * the session model learns from it.  dump and check read traces through
 * this one reading. */
#ifndef VUPROXY_TRACEMSG_H
#define VUPROXY_TRACEMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/pcapng.h"
#include "vuproxy/proto.h"

struct vup_trace_msg {
	enum vup_chan chan;
	enum vup_side from;
	struct vup_hdr hdr;     /* size: the payload bytes recorded */
	uint32_t declared;      /* the header's size as it crossed the wire */
	const uint8_t *payload; /* hdr.size bytes */
	size_t len;             /* bytes of the message recorded */
};

/* Split the message part of a control record (msg, len bytes after the
 * pseudo-header th).  A message cut short keeps the bytes that are there. */
void vup_trace_msg_split(const struct vup_trace_hdr *th, const uint8_t *msg,
                         size_t len, struct vup_trace_msg *out);

/* What the model learns from the record: false when nothing (a timing
 * note, a refused message, the as-received copy of a rewrite, a reply
 * vuproxy made for a rule); else *v decoded against neg, with the fd
 * kinds the trace recorded, and *delivered whether it reached its
 * receiver (a dropped or failed request did not). */
bool vup_trace_msg_view(const struct vup_trace_hdr *th,
                        const struct vup_trace_msg *m,
                        const struct vup_negotiated *neg, uint64_t time_ns,
                        struct vup_view *v, bool *delivered);

/* Whether a record's action is a rule's fault, which changes what the
 * receiver sees (drop, delay, rewrite, fail, disconnect): a finding on
 * such a message is the rule's doing.  LOG only notes the message;
 * REFUSED and RELEASED are vuproxy's own. */
bool vup_trace_action_faults(uint8_t action);

/* A finding record: what the checker (check.h) found, written after the
 * message it is about, since a finding may be known only later (a reply
 * that never came).  Findings are a kind of record of their own, so, by
 * the versioning rule (pcapng.h), they live on an interface of their own:
 * LINKTYPE_USER3, named "vuproxy findings", one per file, declared before
 * the file's first finding.  The record, version 1, little-endian:
 *   0  u8[2] magic "VF"
 *   2  u8    version (1)
 *   3  u8    severity: 0 info, 1 warning, 2 error (the reverse of enum
 *            vup_check_severity's order: vup_check_severity_byte)
 *   4  u32   session
 *   8  u64   frame: the packet number (1-based, counting every packet of
 *            this file, as Wireshark does) of the message the finding is
 *            about; 0 when it is in no packet of this file
 *  16  u32   request code of that message
 *  20  u8    flags: bit0 back-end channel, bit1 from the back-end (as the
 *            pseudo-header's)
 *  21  u8    length of the check id ("VU012": 5)
 *  22  u8    length of the rule name (0: no rule caused it)
 *  23  u8    reserved, 0
 *  24  u16   length of the message text
 *  26  u8[2] reserved, 0
 *  28  check id (ASCII), rule name (UTF-8), message (UTF-8), then zero
 *      padding to a multiple of 4
 * The spec section and quote are not repeated: the id names the row of
 * VUP_CHECKS, which readers know.  Readers skip unknown versions. */
#define VUP_FINDING_MAGIC0  'V'
#define VUP_FINDING_MAGIC1  'F'
#define VUP_FINDING_VERSION 1
#define VUP_FINDING_FIXED   28
#define VUP_FINDING_IFACE   "vuproxy findings"

struct vup_finding_rec {
	uint8_t severity;
	uint8_t flags; /* VUP_TRACE_F_BACKEND_CHAN, VUP_TRACE_F_FROM_BACKEND */
	uint32_t session;
	uint64_t frame;
	uint32_t request;
	const char *id, *rule, *message; /* decoded: not NUL-terminated */
	size_t id_len, rule_len, message_len;
};

/* Append the record's bytes to b (lengths clipped: id 255, rule 255,
 * message 65535).  0 or -ENOMEM. */
int vup_finding_encode(struct vup_buf *b, const struct vup_finding_rec *f);
/* Read a record: false when the bytes are not a version-1 finding. */
bool vup_finding_decode(const uint8_t *p, size_t len,
                        struct vup_finding_rec *out);
/* The severity byte's name ("info", "warning", "error"), NULL past them:
 * for readers that show it (dump, the dissector's table). */
const char *vup_finding_severity_name(unsigned severity);

#endif
