/* pcapng: block encoding and decoding, and vuproxy's pseudo-header.
 *
 * No I/O here: encoders append blocks to a caller's buffer, the decoder
 * walks blocks in a buffer.  Blocks are written in host byte order (the
 * Section Header's magic tells readers which); the vuproxy pseudo-header
 * in front of each control message is little-endian by definition.
 */
#ifndef VUPROXY_PCAPNG_H
#define VUPROXY_PCAPNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCAPNG_SHB              0x0A0D0D0Au
#define PCAPNG_IDB              0x00000001u
#define PCAPNG_EPB              0x00000006u
#define PCAPNG_ISB              0x00000005u
#define PCAPNG_BYTE_ORDER_MAGIC 0x1A2B3C4Du

#define LINKTYPE_ETHERNET 1
#define LINKTYPE_USER0    147 /* vuproxy control messages */
#define LINKTYPE_USER1    148 /* vuproxy tap records of non-net devices */
#define LINKTYPE_USER3    150 /* vuproxy findings (tracemsg.h) */

/* epb_flags direction: front-end>back-end is "outbound", the way a host
 * sends to a device; back-end>front-end "inbound". */
#define PCAPNG_DIR_INBOUND  1u
#define PCAPNG_DIR_OUTBOUND 2u

/* A growable byte buffer. */
struct vup_buf {
	uint8_t *data;
	size_t len, cap;
};
int vup_buf_reserve(struct vup_buf *b, size_t more);
void vup_buf_free(struct vup_buf *b);

int pcapng_shb(struct vup_buf *b, const char *app);
/* The same with a comment (opt_comment; NULL for none): what the file is,
 * e.g. the trigger of a flight-recorder snapshot. */
int pcapng_shb_note(struct vup_buf *b, const char *app, const char *comment);
int pcapng_idb(struct vup_buf *b, uint16_t linktype, uint32_t snaplen,
               const char *name, const char *description);
/* The same with an opt_comment (NULL for none). */
int pcapng_idb_note(struct vup_buf *b, uint16_t linktype, uint32_t snaplen,
                    const char *name, const char *description,
                    const char *comment);
/* The comment of an interface that a rotated file declares again for a
 * session still live: its set-up is in an earlier file.  Readers that
 * judge a session's order (check) know by it that the file starts in the
 * middle of the session; others show it as a comment. */
#define VUP_IDB_CONTINUED                                                      \
	"vuproxy: continued; this session began in an earlier file, its "      \
	"set-up is not in this one"
/* ts in ns since the epoch; flags = epb_flags (direction); comment may be
 * NULL. */
int pcapng_epb(struct vup_buf *b, uint32_t ifid, uint64_t ts_ns,
               const void *data, uint32_t caplen, uint32_t origlen,
               uint32_t flags, const char *comment);

/* Interface Statistics: what a tap queue saw (see ring.h for the
 * classes).  ifrecv: buffers the device consumed; usrdeliv: captured;
 * ifdrop: missed (the ring moved past them between polls); osdrop: torn
 * or malformed.  The comment spells out all five counts. */
struct pcapng_isb {
	uint64_t start_ns;
	uint64_t ifrecv, ifdrop, osdrop, usrdeliv;
};
int pcapng_isb(struct vup_buf *b, uint32_t ifid, uint64_t ts_ns,
               const struct pcapng_isb *s, const char *comment);

/* An Interface Statistics Block that holds only a note (its end time and
 * opt_comment): no counter is claimed. */
int pcapng_isb_note(struct vup_buf *b, uint32_t ifid, uint64_t ts_ns,
                    const char *comment);
/* The note a rotation leaves on each live session's control interface at
 * the end of a file: the session goes on in the next file, so a reply it
 * owes there is not missing (check). */
#define VUP_ISB_GOES_ON                                                        \
	"vuproxy: continued; this session goes on in the next file"

/* Decoding.  pcapng_next looks at buf[off..len): returns 1 with *blk set
 * when a whole block is there, 0 when more bytes are needed, -1 when the
 * bytes are not a valid block (detail in err). */
struct pcapng_block {
	uint32_t type;
	uint32_t total_len;
	const uint8_t *body; /* after type and length */
	uint32_t body_len;   /* total_len - 12 */
};
int pcapng_next(const uint8_t *buf, size_t len, bool swapped,
                struct pcapng_block *blk, char *err, size_t errlen);

/* The vuproxy pseudo-header (version 1), little-endian:
 *   0  u8[2] magic "VU"
 *   2  u8    version (1)
 *   3  u8    flags: bit0 back-end channel, bit1 from the back-end,
 *                   bit2 this is the copy as sent (after a rewrite or a
 *                   fail; action "released": the moment a delayed
 *                   message was sent, a timing note)
 *   4  u16   header length in bytes (the message starts there)
 *   6  u8    action (enum vup_trace_action)
 *   7  u8    number of fds
 *   8  u32   session
 *  12  u8    length of the rule name (0: no rule)
 *  13  u8[3] reserved, 0
 *  16  nfds x {u8 kind, u8[3] reserved, u64 size}   (12 bytes each)
 *  ..  rule name (UTF-8), then zero padding to a multiple of 4
 *  ..  extensions, up to the header length: each {u16 type, u16 length,
 *      value[length], zero padding to a multiple of 4}
 *
 * Versioning (README, "What the trace gains"): the version byte changes
 * only when a reader of the old version would misread a record.  What is
 * added goes where older readers skip it:
 *  - a new field of a message record is an extension: readers skip the
 *    types they do not know by their length, and readers older than
 *    extensions skip the whole area, since the message starts at the
 *    header length (the first reader already did);
 *  - a new kind of record is a new pcapng interface with a link type of
 *    its own (the tap's blk records are LINKTYPE_USER1; the next free is
 *    LINKTYPE_USER3, 150: Wireshark reads 149 as PKTAP): readers skip
 *    interfaces whose link type they do not know;
 *  - a new action or fd kind is a new value, which older readers show as
 *    "unknown" or "other": add one only where that reading is harmless,
 *    else use an extension.
 * tests/trace/versioning.sh checks the rule on a file ext_trace_gen.c
 * writes, and that every file in captures/ reads as it did.
 */
#define VUP_TRACE_MAGIC0  'V'
#define VUP_TRACE_MAGIC1  'U'
#define VUP_TRACE_VERSION 1
#define VUP_TRACE_FIXED   16
#define VUP_TRACE_FD_SIZE 12
#define VUP_TRACE_EXT_HDR 4
/* Extension types. */
#define VUP_TRACE_EXT_MARK                                                     \
	1 /* UTF-8: what vuproxy found wrong with a                            \
	     message it relayed ("kind: why; ...") */
/* u64: the record is declared state, not an event.  A file that starts
 * in the middle of a session (a rotated file, a recording started at run
 * time, a flight-recorder snapshot) restates first the messages that set
 * up what is in effect, their original bytes and fd kinds; the packet's
 * time is the file's start and the value the time the message crossed
 * (ns since the epoch). */
#define VUP_TRACE_EXT_DECLARED 2

#define VUP_TRACE_F_BACKEND_CHAN 0x1
#define VUP_TRACE_F_FROM_BACKEND 0x2
#define VUP_TRACE_F_AS_SENT      0x4

#define VUP_FD_KINDS(X)                                                        \
	X(OTHER, "other")                                                      \
	X(MEMFD, "memfd")                                                      \
	X(SHM, "shm")                                                          \
	X(EVENTFD, "eventfd")                                                  \
	X(SOCKET, "socket")                                                    \
	X(PIPE, "pipe")                                                        \
	X(FILE, "file")
enum vup_fd_kind {
#define X(id, s) VUP_FDK_##id,
	VUP_FD_KINDS(X)
#undef X
	        VUP_FDK_COUNT
};
const char *vup_fd_kind_name(unsigned kind);

/* The action byte of the pseudo-header: what became of the message.  The
 * rules' verdicts (enum vup_rule_action, mapped by vup_rules_trace_action)
 * and notes of the trace's own: REFUSED (vuproxy refused the message) and
 * RELEASED (a delayed message sent).  The values are the file format's,
 * which the dissector and older readers know: append only. */
#define VUP_TRACE_ACTIONS(X)                                                   \
	X(PASS, "pass")                                                        \
	X(DROP, "drop")                                                        \
	X(DELAY, "delay")                                                      \
	X(REWRITE, "rewrite")                                                  \
	X(FAIL, "fail")                                                        \
	X(DISCONNECT, "disconnect")                                            \
	X(LOG, "log")                                                          \
	X(REFUSED, "refused")                                                  \
	X(RELEASED, "released")
enum vup_trace_action {
#define X(id, s) VUP_TRACE_ACT_##id,
	VUP_TRACE_ACTIONS(X)
#undef X
	        VUP_TRACE_ACT_COUNT
};
const char *vup_trace_action_name(unsigned action);

struct vup_fd_info {
	uint8_t kind;  /* enum vup_fd_kind */
	uint64_t size; /* bytes, from fstat; 0 when it has none */
};

#define VUP_TRACE_MAX_FDS 255
struct vup_trace_hdr {
	uint8_t flags;
	uint8_t action;
	uint32_t session;
	uint8_t nfds;
	struct vup_fd_info fds[VUP_TRACE_MAX_FDS];
	char rule[256];       /* NUL-terminated, "" when none */
	char mark[256];       /* VUP_TRACE_EXT_MARK, "" when none */
	bool declared;        /* VUP_TRACE_EXT_DECLARED */
	uint64_t declared_ns; /* its value: when the message crossed */
};

/* The most an encoded pseudo-header takes: 255 fds, a 255-byte rule name
 * and a 255-byte mark, each padded. */
#define VUP_TRACE_HDR_MAX                                                      \
	(VUP_TRACE_FIXED + VUP_TRACE_MAX_FDS * VUP_TRACE_FD_SIZE + 256 +       \
	 VUP_TRACE_EXT_HDR + 256 + VUP_TRACE_EXT_HDR + 8)
/* Bytes the encoded pseudo-header takes (at most VUP_TRACE_HDR_MAX). */
size_t vup_trace_hdr_size(const struct vup_trace_hdr *h);
/* Encode into out (room for vup_trace_hdr_size bytes). */
void vup_trace_hdr_encode(const struct vup_trace_hdr *h, uint8_t *out);
/* Decode; returns the header length, or -1 if p is not a valid v1
 * pseudo-header (err set), or -2 if it is a newer version. */
int vup_trace_hdr_decode(const uint8_t *p, size_t len, struct vup_trace_hdr *h,
                         char *err, size_t errlen);

/* Describe an fd for the trace: kind and size from fstat and /proc. */
void vup_fd_describe(int fd, struct vup_fd_info *out);

#endif
