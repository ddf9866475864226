/* reader: reads a vuproxy trace (gzip or plain pcapng) block by block,
 * tolerating a truncated tail.
 *
 * By default vup_reader_next returns the packets (Enhanced Packet Blocks)
 * only.  A caller that also wants the tap's Interface Statistics Blocks
 * asks for them with vup_reader_want_stats; they come back as records of
 * kind VUP_REC_STATS, in file order among the packets. */
#ifndef VUPROXY_READER_H
#define VUPROXY_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/pcapng.h"

struct vup_reader;

enum vup_record_kind {
	VUP_REC_PACKET = 0, /* an Enhanced Packet Block */
	VUP_REC_STATS,      /* an Interface Statistics Block (opt-in) */
};

/* The options of an Interface Statistics Block; `has` says which were
 * present (a counter that is absent reads 0).  Times in ns since the
 * epoch. */
#define VUP_ISB_HAS_START        0x01u
#define VUP_ISB_HAS_END          0x02u
#define VUP_ISB_HAS_IFRECV       0x04u
#define VUP_ISB_HAS_IFDROP       0x08u
#define VUP_ISB_HAS_FILTERACCEPT 0x10u
#define VUP_ISB_HAS_OSDROP       0x20u
#define VUP_ISB_HAS_USRDELIV     0x40u
#define VUP_ISB_COMMENT_MAX      1024 /* longer comments are cut */
struct vup_isb_stats {
	uint32_t has;
	uint64_t start_ns, end_ns;
	uint64_t ifrecv, ifdrop, filteraccept, osdrop, usrdeliv;
};

/* A record of the trace: a packet, or (opt-in) an interface's statistics.
 * Pointers stay valid until the next call. */
struct vup_record {
	enum vup_record_kind kind;
	uint32_t ifid;
	uint16_t linktype;
	const char *ifname;  /* if_name of the interface, "" when none */
	uint32_t snaplen;    /* of the interface (0: no limit) */
	bool continued;      /* the interface says VUP_IDB_CONTINUED: a rotated
	                        file's re-declaration of a session begun before */
	uint64_t ts_ns;      /* packet time, or the statistics' time */
	uint32_t epb_flags;  /* 0 for statistics */
	const uint8_t *data; /* the packet: pseudo-header + message for USER0;
	                        NULL for statistics */
	uint32_t caplen, origlen; /* 0 for statistics */
	/* kind == VUP_REC_STATS: */
	struct vup_isb_stats isb;
	const char *comment; /* the first opt_comment, NUL-terminated and cut
	                        to VUP_ISB_COMMENT_MAX - 1 bytes, or NULL */
};

enum vup_read_status {
	VUP_READ_RECORD = 1, /* *rec filled */
	VUP_READ_END = 0,    /* clean end of file */
	VUP_READ_TRUNCATED = -1,
	VUP_READ_CORRUPT = -2,
};

int vup_reader_open(const char *path, struct vup_reader **out, char *err,
                    size_t errlen);
/* Also return Interface Statistics Blocks (off by default: they are
 * skipped, as unknown blocks are). */
void vup_reader_want_stats(struct vup_reader *r, bool on);
/* Next record.  On TRUNCATED/CORRUPT, err says where. */
enum vup_read_status vup_reader_next(struct vup_reader *r,
                                     struct vup_record *rec, char *err,
                                     size_t errlen);
/* Uncompressed bytes consumed so far (for messages about where a file
 * ends). */
uint64_t vup_reader_offset(const struct vup_reader *r);
/* Whether a section header named vuproxy as its writer. */
bool vup_reader_vuproxy(const struct vup_reader *r);
/* The section's comment (a flight-recorder snapshot names its trigger
 * there), once the section header is read; NULL when none. */
const char *vup_reader_section_comment(const struct vup_reader *r);
void vup_reader_close(struct vup_reader *r);

#endif
