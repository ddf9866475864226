/* declared: the set-up in effect in one session, kept as the trace
 * records that made it.
 *
 * A file that begins in the middle of a session (a rotated file, a
 * recording started at run time, a flight-recorder snapshot) starts with
 * these records, flagged declared (VUP_TRACE_EXT_DECLARED): the original
 * bytes and fd kinds of the last request of each key the catalogue names
 * (vup_proto_declares), each with the reply that answered it, in their
 * original order.  Fed the session's control records as the trace writes
 * them, it reads each through the same reading as dump and check
 * (vup_trace_msg_view) and pairs replies with a session model of its own:
 * the flight recorder keeps one for the oldest moment it still holds,
 * which is not the relay's.
 */
#ifndef VUPROXY_DECLARED_H
#define VUPROXY_DECLARED_H

#include <stddef.h>
#include <stdint.h>

#include "vuproxy/pcapng.h"

/* At most this many records are kept; a session past it (thousands of
 * distinct vrings or regions) restates only the first ones, and says so
 * (vup_declared_complete). */
#define VUP_DECLARED_MAX 4096

struct vup_declared;

struct vup_declared *vup_declared_new(void); /* NULL: out of memory */
void vup_declared_free(struct vup_declared *d);

/* One control record of the session: th its decoded pseudo-header, rec
 * the record as written (pseudo-header then message, len bytes), hlen
 * the pseudo-header's length, ts_ns its time. */
void vup_declared_feed(struct vup_declared *d, uint64_t ts_ns,
                       const struct vup_trace_hdr *th, const uint8_t *rec,
                       size_t len, size_t hlen);

/* The records in effect, oldest first: a request, then its reply if one
 * came.  fn's non-zero return stops the walk and is returned. */
typedef int (*vup_declared_fn)(void *ctx, uint64_t ts_ns, const uint8_t *rec,
                               size_t len);
int vup_declared_each(const struct vup_declared *d, vup_declared_fn fn,
                      void *ctx);
size_t vup_declared_count(const struct vup_declared *d); /* records */
/* False once a record could not be kept (VUP_DECLARED_MAX, memory). */
bool vup_declared_complete(const struct vup_declared *d);

#endif
