/* Private to src/control: the byte-level helpers the JSON reader and
 * writer share. */
#ifndef VUP_CONTROL_JSON_UTF8_H
#define VUP_CONTROL_JSON_UTF8_H

#include <stddef.h>

/* Value of a hex digit, -1 if c is none. */
int vup__hexval(char c);
/* Length of the well-formed UTF-8 sequence at s (at most n bytes), 0 if
 * it is not one (overlong, surrogate, past U+10FFFF, cut short). */
size_t vup__utf8_seq(const char *s, size_t n);
/* Decode the inside of a JSON string (already validated by the reader)
 * into out (cap bytes with the NUL).  A lone surrogate becomes U+FFFD.
 * 0, -E2BIG, or -EILSEQ for \u0000. */
int vup__json_unescape(const char *s, size_t n, char *out, size_t cap,
                       size_t *len);

#endif
