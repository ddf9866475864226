/* Names of the bits in include/vuproxy/bits.h, and what the negotiated
 * features say about the virtio-net header.
 *
 * The name arrays are the X-macros expanded by bit number: a bit beyond
 * its word does not compile, and a bit listed twice is a -Woverride-init
 * warning (an error under WERROR).
 */
#include <stddef.h>
#include <strings.h>

#include "vuproxy/bits.h"

static const char *const virtio_names[VUP_FEATURE_WORD_BITS] = {
#define X(id, bit, name) [bit] = name,
        VUP_VIRTIO_FEATURES(X)
#undef X
};

static const char *const blk_names[VUP_FEATURE_WORD_BITS] = {
#define X(id, bit, name) [bit] = name,
        VUP_VIRTIO_BLK_FEATURES(X)
#undef X
};

static const char *const protocol_names[VUP_FEATURE_WORD_BITS] = {
#define X(id, bit) [bit] = #id,
        VUP_PROTOCOL_FEATURES(X)
#undef X
};

static const char *const status_names[VUP_STATUS_WORD_BITS] = {
#define X(id, bit) [bit] = #id,
        VUP_STATUS_BITS(X)
#undef X
};

const char *vup_feature_name(unsigned bit)
{
	return bit < VUP_FEATURE_WORD_BITS ? virtio_names[bit] : NULL;
}

const char *vup_protocol_feature_name(unsigned bit)
{
	return bit < VUP_FEATURE_WORD_BITS ? protocol_names[bit] : NULL;
}

const char *vup_status_name(unsigned bit)
{
	return bit < VUP_STATUS_WORD_BITS ? status_names[bit] : NULL;
}

static int find_name(const char *const *names, const char *name)
{
	for (unsigned i = 0; i < VUP_FEATURE_WORD_BITS; i++)
		if (names[i] && strcasecmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

int vup_feature_bit(const char *name, bool *protocol)
{
	static const char pprefix[] = "VHOST_USER_PROTOCOL_F_";
	int bit = find_name(virtio_names, name);
	if (bit < 0)
		bit = find_name(blk_names, name);
	if (bit >= 0) {
		*protocol = false;
		return bit;
	}
	if (strncasecmp(name, pprefix, sizeof(pprefix) - 1) == 0)
		name += sizeof(pprefix) - 1;
	bit = find_name(protocol_names, name);
	/* the names before the "slave" rename */
	if (bit < 0 && strcasecmp(name, "SLAVE_REQ") == 0)
		bit = VUP_PF_BACKEND_REQ;
	if (bit < 0 && strcasecmp(name, "SLAVE_SEND_FD") == 0)
		bit = VUP_PF_BACKEND_SEND_FD;
	if (bit >= 0)
		*protocol = true;
	return bit;
}

uint32_t vup_net_hdr_len(uint64_t features)
{
	if (features >> VUP_F_NET_HASH_REPORT & 1)
		return 20;
	if ((features >> VUP_F_NET_MRG_RXBUF & 1) ||
	    (features >> VUP_F_VERSION_1 & 1))
		return 12;
	return 10;
}
