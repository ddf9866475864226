/* guard: copies from guest memory mappings that fail instead of raising
 * SIGBUS when the file behind the mapping was cut (private to src/tap). */
#ifndef VUP_TAP_GUARD_H
#define VUP_TAP_GUARD_H

#include <stdbool.h>
#include <stddef.h>

/* Installs the SIGBUS handler (once; before the first mapping). */
void vup__guard_install(void);
/* memcpy, or false if a SIGBUS interrupted it. */
bool vup__guarded_copy(void *dst, const void *src, size_t n);

#endif
