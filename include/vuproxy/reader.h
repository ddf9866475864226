/* reader: reads a vuproxy trace (gzip or plain pcapng) block by block,
 * tolerating a truncated tail. */
#ifndef VUPROXY_READER_H
#define VUPROXY_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/pcapng.h"

struct vup_reader;

/* A packet of the trace.  Pointers stay valid until the next call. */
struct vup_record {
	uint32_t ifid;
	uint16_t linktype;
	const char *ifname;
	uint64_t ts_ns;
	uint32_t epb_flags;
	const uint8_t *data; /* the packet: pseudo-header + message for USER0 */
	uint32_t caplen, origlen;
};

enum vup_read_status {
	VUP_READ_RECORD = 1, /* *rec filled */
	VUP_READ_END = 0,    /* clean end of file */
	VUP_READ_TRUNCATED = -1,
	VUP_READ_CORRUPT = -2,
};

int vup_reader_open(const char *path, struct vup_reader **out, char *err,
                    size_t errlen);
/* Next packet.  On TRUNCATED/CORRUPT, err says where. */
enum vup_read_status vup_reader_next(struct vup_reader *r,
                                     struct vup_record *rec, char *err,
                                     size_t errlen);
/* Uncompressed bytes consumed so far (for messages about where a file
 * ends). */
uint64_t vup_reader_offset(const struct vup_reader *r);
/* Whether a section header named vuproxy as its writer. */
bool vup_reader_vuproxy(const struct vup_reader *r);
void vup_reader_close(struct vup_reader *r);

#endif
