/* fuzz_input: reading a libFuzzer input as a stream of values.  Past
 * its end every value reads as zeros, so a harness never has to check. */
#ifndef VUP_FUZZ_INPUT_H
#define VUP_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct in {
	const uint8_t *p;
	size_t left;
};

/* n bytes into dst: what is left of the input, then zeros. */
static inline void take(struct in *in, void *dst, size_t n)
{
	size_t k = n < in->left ? n : in->left;
	memset(dst, 0, n);
	memcpy(dst, in->p, k);
	in->p += k;
	in->left -= k;
}

static inline unsigned byte(struct in *in)
{
	uint8_t b;
	take(in, &b, 1);
	return b;
}

/* An n-byte (1..8) little-endian value. */
static inline uint64_t le(struct in *in, int n)
{
	uint8_t b[8];
	take(in, b, (size_t)n);
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

#endif
