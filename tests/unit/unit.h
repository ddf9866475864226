/* Shared helpers of the cmocka unit tests. */
#ifndef VUP_TESTS_UNIT_H
#define VUP_TESTS_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vuproxy/proto.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define assert_contains(hay, needle)                                           \
	do {                                                                   \
		if (!strstr((hay), (needle)))                                  \
			fail_msg("\"%s\" does not contain \"%s\"", (hay),      \
			         (needle));                                    \
	} while (0)
#define assert_lacks(hay, needle)                                              \
	do {                                                                   \
		if (strstr((hay), (needle)))                                   \
			fail_msg("\"%s\" contains \"%s\"", (hay), (needle));   \
	} while (0)

/* Header flags of a request and of a reply. */
#define REQ   VUP_FLAG_VERSION
#define REPLY (VUP_FLAG_VERSION | VUP_FLAG_REPLY)

static inline struct vup_hdr hdr(uint32_t req, uint32_t flags, uint32_t size)
{
	struct vup_hdr h = {req, flags, size};
	return h;
}

/* Native-endian stores at a byte offset (payloads are unaligned). */
static inline void put_u32(uint8_t *p, uint32_t off, uint32_t v)
{
	memcpy(p + off, &v, 4);
}

static inline void put_u64(uint8_t *p, uint32_t off, uint64_t v)
{
	memcpy(p + off, &v, 8);
}

#endif
