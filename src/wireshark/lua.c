/* wireshark-lua: `vuproxy wireshark-lua` prints the Wireshark dissector for
 * vuproxy traces (tools/wireshark/vuproxy.lua).
 *
 * The Lua file has two parts.  The first is data printed here from the
 * tables the rest of vuproxy runs on: the request catalogue of both
 * channels, the field table of every payload layout, feature-bit, fd-kind
 * and action names, and the pseudo-header constants.  The second is a
 * fixed dissector, src/wireshark/dissector.lua, embedded at build time
 * (cmake/embed.cmake), that reads only that data: it names no request,
 * layout or field itself, except the layouts with variable parts (memory
 * regions, config bytes, shmem sizes, opaque bytes) that render.c also
 * treats specially.  Its placeholder lines say where the data goes.  A test
 * checks that the committed file is exactly what this prints, so a
 * catalogue or dissector change that is not regenerated fails the build.
 *
 * A second, small dissector at the end of dissector.lua reads the tap's blk
 * records (LINKTYPE_USER1, include/vuproxy/tapfmt.h); its constants and
 * names are printed here from tapfmt.  A third reads the checker's finding
 * records (LINKTYPE_USER3); wireshark_lua_check.c prints its constants and
 * the table of checks.
 * The tap's Ethernet interfaces need nothing: Wireshark decodes them.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "lua_internal.h"
#include "vuproxy/pcapng.h"
#include "vuproxy/proto.h"
#include "vuproxy/tapfmt.h"
#include "vuproxy/wireshark_lua.h"

#define ABBR_MAX  128
#define MAX_ABBRS 512

/* Every field abbreviation printed, to refuse duplicates. */
struct abbrs {
	char name[MAX_ABBRS][ABBR_MAX];
	size_t n;
};

static int note_abbr(struct abbrs *a, const char *abbr)
{
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->name[i], abbr) == 0) {
			fprintf(stderr,
			        "vuproxy wireshark-lua: field %s defined "
			        "twice\n",
			        abbr);
			return -1;
		}
	}
	if (a->n == MAX_ABBRS) {
		fprintf(stderr, "vuproxy wireshark-lua: too many fields\n");
		return -1;
	}
	snprintf(a->name[a->n++], ABBR_MAX, "%s", abbr);
	return 0;
}

/* A Lua string literal (names are plain ASCII, quotes UTF-8: bytes past
 * ASCII are escaped, and read back as the same bytes). */
void vup__lua_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\%03u", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static const char *fmt_name(enum vup_fmt fmt)
{
	switch (fmt) {
	case VUP_FMT_DEC: return "dec";
	case VUP_FMT_HEX: return "hex";
	case VUP_FMT_FEATURES: return "features";
	case VUP_FMT_PFEATURES: return "pfeatures";
	case VUP_FMT_STATUS: return "status";
	case VUP_FMT_BOOL: return "bool";
	case VUP_FMT_MAC: return "mac";
	case VUP_FMT_UUID: return "uuid";
	}
	return NULL;
}

static const char *fd_rule_name(enum vup_fd_rule r)
{
	switch (r) {
	case VUP_FD_NONE: return "none";
	case VUP_FD_ONE: return "one";
	case VUP_FD_OPTIONAL: return "optional";
	case VUP_FD_VRING: return "vring";
	case VUP_FD_PER_REGION: return "per_region";
	case VUP_FD_ANY: return "any";
	}
	return "any";
}

static const char *reply_rule_name(enum vup_reply_rule r)
{
	switch (r) {
	case VUP_REPLY_ACK: return "ack";
	case VUP_REPLY_ALWAYS: return "always";
	case VUP_REPLY_FEATURE: return "feature";
	case VUP_REPLY_POSTCOPY: return "postcopy";
	case VUP_REPLY_ACK_ANY: return "ack_any";
	}
	return "ack";
}

void vup__lua_names(FILE *f, const char *var, const char *comment,
                    const char *(*name)(unsigned), unsigned n)
{
	fprintf(f, "-- %s\nlocal %s = {\n", comment, var);
	for (unsigned b = 0; b < n; b++) {
		const char *s = name(b);
		if (!s)
			continue;
		fprintf(f, "\t[%u] = ", b);
		vup__lua_str(f, s);
		fputs(",\n", f);
	}
	fputs("}\n\n", f);
}

static const char *blk_type_name(unsigned t)
{
	return vup_blk_type_name(t);
}

static const char *blk_status_name(unsigned s)
{
	return s <= 0xff ? vup_blk_status_name((uint8_t)s) : NULL;
}

/* The blk tap record (tapfmt.h). */
static void emit_blk(FILE *f)
{
	fprintf(f,
	        "-- The tap's blk record (include/vuproxy/tapfmt.h), "
	        "little-endian, on\n"
	        "-- LINKTYPE_USER1 interfaces named \"s<session> blk\".\n"
	        "local BLK_MAGIC = \"%c%c\"\n"
	        "local BLK_VERSION = %u\n"
	        "local BLK_REC_SIZE = %u\n"
	        "local BLK_F_STATUS = 0x%x\n"
	        "local BLK_F_LATENCY = 0x%x\n"
	        "local BLK_F_RESERVED = 0x%x\n\n",
	        VUP_BLK_MAGIC0, VUP_BLK_MAGIC1, VUP_BLK_VERSION,
	        VUP_BLK_REC_SIZE, VUP_BLK_F_STATUS, VUP_BLK_F_LATENCY,
	        0xffu & ~(unsigned)(VUP_BLK_F_STATUS | VUP_BLK_F_LATENCY));
	/* Request types are small numbers (VIRTIO_BLK_T_*). */
	vup__lua_names(f, "BLK_TYPE", "virtio-blk request types.",
	               blk_type_name, 64);
	vup__lua_names(f, "BLK_STATUS", "virtio-blk request status.",
	               blk_status_name, 256);
}

static const char *fd_kind_name(unsigned k)
{
	return k < VUP_FDK_COUNT ? vup_fd_kind_name(k) : NULL;
}

static const char *action_name(unsigned a)
{
	return a < VUP_TRACE_ACT_COUNT ? vup_trace_action_name(a) : NULL;
}

/* out = prefix.name, or prefix alone when name is NULL. */
static int abbr_join(char *out, const char *prefix, const char *name)
{
	int n = name ? snprintf(out, ABBR_MAX, "%s.%s", prefix, name)
	             : snprintf(out, ABBR_MAX, "%s", prefix);
	if (n < 0 || n >= ABBR_MAX) {
		fprintf(stderr,
		        "vuproxy wireshark-lua: field name %s.%s too "
		        "long\n",
		        prefix, name ? name : "");
		return -1;
	}
	return 0;
}

/* The abbreviation of field `name` of layout `layout`: vhostuser.LAYOUT.NAME,
 * or vhostuser.LAYOUT when the field is named like its layout. */
static int field_abbr(char *out, const char *layout, const char *name)
{
	char prefix[ABBR_MAX];
	if (abbr_join(prefix, "vhostuser", layout))
		return -1;
	return abbr_join(out, prefix, strcmp(layout, name) ? name : NULL);
}

/* Check a field can be shown by Wireshark as the table describes it. */
static int check_field(const char *layout, const struct vup_field *fl)
{
	const char *why = NULL;
	bool integer = fl->size == 1 || fl->size == 2 || fl->size == 4 ||
	               fl->size == 8;
	if (!fmt_name(fl->fmt))
		why = "unknown format";
	else if (fl->fmt == VUP_FMT_MAC && fl->size != 6)
		why = "a MAC is 6 bytes";
	else if (fl->fmt == VUP_FMT_UUID && fl->size != 16)
		why = "a UUID is 16 bytes";
	else if (fl->fmt != VUP_FMT_MAC && fl->fmt != VUP_FMT_UUID && !integer)
		why = "integers are 1, 2, 4 or 8 bytes";
	else if (fl->bits &&
	         (fl->fmt == VUP_FMT_MAC || fl->fmt == VUP_FMT_UUID ||
	          fl->shift + fl->bits > 52 ||
	          fl->shift + fl->bits > fl->size * 8))
		/* Lua 5.2 numbers are doubles: masks beyond 2^52 are not. */
		why = "bit-field out of range";
	if (!why)
		return 0;
	fprintf(stderr, "vuproxy wireshark-lua: field %s of layout %s: %s\n",
	        fl->name, layout, why);
	return -1;
}

/* One field table entry, at the given indentation. */
static int emit_field(FILE *f, struct abbrs *a, const char *indent,
                      const char *abbr, const char *layout,
                      const struct vup_field *fl, int shift_off)
{
	if (check_field(layout, fl) || note_abbr(a, abbr))
		return -1;
	if (fl->fmt == VUP_FMT_FEATURES || fl->fmt == VUP_FMT_PFEATURES ||
	    fl->fmt == VUP_FMT_STATUS) {
		char bit[ABBR_MAX];
		if (abbr_join(bit, abbr, "bit") || note_abbr(a, bit))
			return -1;
	}
	fprintf(f, "%s{ abbr = ", indent);
	vup__lua_str(f, abbr);
	fputs(", name = ", f);
	vup__lua_str(f, fl->name);
	fprintf(f,
	        ", off = %d, size = %u, shift = %u, bits = %u, fmt = \"%s\" "
	        "},\n",
	        (int)fl->off - shift_off, fl->size, fl->shift, fl->bits,
	        fmt_name(fl->fmt));
	return 0;
}

static int emit_layouts(FILE *f, struct abbrs *a)
{
	fputs("-- Payload layouts and their fields (vup_layout_fields): byte\n"
	      "-- offset in the payload, size, bit-field shift and width (0: "
	      "the whole\n"
	      "-- integer), format.  Numbers are in the writer's byte "
	      "order.\n"
	      "local LAYOUT = {\n",
	      f);
	for (int l = 0; l < VUP_L_COUNT; l++) {
		const char *ln = vup_layout_name(l);
		size_t n;
		const struct vup_field *fl = vup_layout_fields(l, &n);
		fputs("\t[", f);
		vup__lua_str(f, ln);
		fputs("] = {\n", f);
		for (size_t i = 0; i < n; i++) {
			char abbr[ABBR_MAX];
			if (field_abbr(abbr, ln, fl[i].name) ||
			    emit_field(f, a, "\t\t", abbr, ln, &fl[i], 0))
				return -1;
		}
		fputs("\t},\n", f);
	}
	fputs("}\n\n", f);

	/* Layout names the dissector needs by name. */
	static const struct {
		const char *var;
		enum vup_layout l;
	} named[] = {
	        {"L_ACK", VUP_L_ACK},
	        {"L_VRING_BASE", VUP_L_VRING_BASE},
	        {"L_VRING_BASE_PACKED", VUP_L_VRING_BASE_PACKED},
	        {"L_MEM_TABLE", VUP_L_MEM_TABLE},
	        {"L_CONFIG", VUP_L_CONFIG},
	        {"L_SHMEM_CONFIG", VUP_L_SHMEM_CONFIG},
	        {"L_OPAQUE", VUP_L_OPAQUE},
	};
	fputs("-- Layouts the dissector treats specially (as render.c "
	      "does).\n",
	      f);
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		fprintf(f, "local %s = ", named[i].var);
		vup__lua_str(f, vup_layout_name(named[i].l));
		fputc('\n', f);
	}
	fputc('\n', f);
	return 0;
}

/* The memory regions of a mem_table are the region of mem_reg (ADD_MEM_REG)
 * without the u64 in front of it; 40 bytes instead of 32 with XEN_MMAP,
 * as ADD_MEM_REG's size bounds say. */
static int emit_regions(FILE *f, struct abbrs *a)
{
	const struct vup_msg_type *add = vup_proto_by_name("ADD_MEM_REG");
	size_t n;
	const struct vup_field *fl = vup_layout_fields(VUP_L_MEM_REG, &n);
	if (!add || add->req_layout != VUP_L_MEM_REG || !n) {
		fprintf(stderr, "vuproxy wireshark-lua: ADD_MEM_REG does not "
		                "carry a mem_reg layout\n");
		return -1;
	}
	unsigned pad = fl[0].off;
	for (size_t i = 1; i < n; i++)
		if (fl[i].off < pad)
			pad = fl[i].off;
	/* The region sizes the validator uses, with and without XEN_MMAP. */
	const struct vup_negotiated with_xen = {0, 1ull << VUP_PF_XEN_MMAP};
	unsigned plain = vup_mem_region_size(NULL);
	unsigned xen = vup_mem_region_size(&with_xen);
	const char *mt = vup_layout_name(VUP_L_MEM_TABLE);
	char base[ABBR_MAX];
	if (field_abbr(base, mt, "region") || note_abbr(a, base))
		return -1;
	fprintf(f,
	        "-- One memory region of a %s: the fields of %s without "
	        "its\n"
	        "-- leading %u bytes; %u bytes, or %u with XEN_MMAP.\n"
	        "local MEM_REGION_ABBR = ",
	        mt, vup_layout_name(VUP_L_MEM_REG), pad, plain, xen);
	vup__lua_str(f, base);
	fprintf(f,
	        "\nlocal MEM_REGION_SIZE = %u\nlocal MEM_REGION_SIZE_XEN = "
	        "%u\nlocal MEM_REGION = {\n",
	        plain, xen);
	for (size_t i = 0; i < n; i++) {
		char abbr[ABBR_MAX];
		if (abbr_join(abbr, base, fl[i].name) ||
		    emit_field(f, a, "\t", abbr, mt, &fl[i], (int)pad))
			return -1;
	}
	fputs("}\n\n", f);
	char extra[ABBR_MAX];
	if (abbr_join(extra, base, "extra"))
		return -1;
	return note_abbr(a, extra);
}

/* The other variable parts: config bytes after the fixed fields, shmem
 * region sizes, opaque payloads. */
static int emit_variable(FILE *f, struct abbrs *a)
{
	size_t n;
	const struct vup_field *fl = vup_layout_fields(VUP_L_CONFIG, &n);
	unsigned end = 0;
	for (size_t i = 0; i < n; i++)
		if (fl[i].off + fl[i].size > end)
			end = fl[i].off + fl[i].size;
	static const struct {
		const char *var;
		enum vup_layout l;
		const char *name;
	} parts[] = {
	        {"CONFIG_DATA_ABBR", VUP_L_CONFIG, "data"},
	        {"SHMEM_SIZE_ABBR", VUP_L_SHMEM_CONFIG, "size"},
	        {"OPAQUE_ABBR", VUP_L_OPAQUE, "bytes"},
	};
	fputs("-- Variable parts of payloads.\n", f);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		char abbr[ABBR_MAX];
		if (field_abbr(abbr, vup_layout_name(parts[i].l),
		               parts[i].name) ||
		    note_abbr(a, abbr))
			return -1;
		fprintf(f, "local %s = ", parts[i].var);
		vup__lua_str(f, abbr);
		fputc('\n', f);
	}
	fprintf(f, "local CONFIG_DATA_OFF = %u\n\n", end);
	return 0;
}

/* Bit 8 of the u64 of SET_VRING_KICK/CALL/ERR: the vring_fd nofd field. */
static int nofd_bit(void)
{
	size_t n;
	const struct vup_field *fl = vup_layout_fields(VUP_L_VRING_FD, &n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(fl[i].name, "nofd") == 0 && fl[i].bits == 1 &&
		    fl[i].off == 0 && fl[i].shift < 32)
			return fl[i].shift;
	fprintf(stderr, "vuproxy wireshark-lua: vring_fd has no nofd bit\n");
	return -1;
}

static void emit_requests(FILE *f)
{
	fputs("-- The catalogue: requests by channel (0 main, 1 back-end) and "
	      "code.\n"
	      "-- req/rep: payload layout of the request and of its reply; "
	      "*_min/*_max:\n"
	      "-- payload bytes; *_fds: how many fds it carries; reply: when "
	      "an answer\n"
	      "-- comes; gate: the protocol feature that enables it.\n"
	      "local REQUEST = {\n",
	      f);
	for (int ch = VUP_CHAN_MAIN; ch <= VUP_CHAN_BACKEND; ch++) {
		fprintf(f, "\t[%d] = { -- %s channel\n", ch, vup_chan_name(ch));
		for (size_t i = 0; i < vup_proto_count(ch); i++) {
			const struct vup_msg_type *t = vup_proto_at(ch, i);
			fprintf(f, "\t\t[%u] = { name = ", t->code);
			vup__lua_str(f, t->name);
			if (t->alias) {
				fputs(", alias = ", f);
				vup__lua_str(f, t->alias);
			}
			fputs(",\n\t\t\treq = ", f);
			vup__lua_str(f, vup_layout_name(t->req_layout));
			fprintf(f,
			        ", req_min = %u, req_max = %u, req_fds = "
			        "\"%s\",\n\t\t\treply = \"%s\", rep = ",
			        t->req_min, t->req_max,
			        fd_rule_name(t->req_fds),
			        reply_rule_name(t->reply));
			vup__lua_str(f, vup_layout_name(t->rep_layout));
			fprintf(f,
			        ", rep_min = %u, rep_max = %u, rep_fds = "
			        "\"%s\"",
			        t->rep_min, t->rep_max,
			        fd_rule_name(t->rep_fds));
			const char *gate = t->gate >= 0
			                           ? vup_protocol_feature_name(
			                                     (unsigned)t->gate)
			                           : NULL;
			if (gate) {
				fputs(",\n\t\t\tgate = ", f);
				vup__lua_str(f, gate);
			}
			fputs(" },\n", f);
		}
		fputs("\t},\n", f);
	}
	fputs("}\n\n", f);
}

/* The fields dissector.lua defines itself. */
static const char *const lua_abbrs[] = {
        "vhostuser.request",        "vhostuser.request_name",
        "vhostuser.flags",          "vhostuser.flags.version",
        "vhostuser.flags.reply",    "vhostuser.flags.need_reply",
        "vhostuser.flags.reserved", "vhostuser.size",
        "vhostuser.layout",         "vhostuser.gate",
        "vhostuser.payload",
};

static int emit_data(FILE *f)
{
	static struct abbrs a;
	a.n = 0;
	for (size_t i = 0; i < sizeof(lua_abbrs) / sizeof(lua_abbrs[0]); i++)
		if (note_abbr(&a, lua_abbrs[i]))
			return -1;
	const struct vup_msg_type *set_features =
	        vup_proto_by_name("SET_FEATURES");
	const struct vup_msg_type *set_pf =
	        vup_proto_by_name("SET_PROTOCOL_FEATURES");
	int nofd = nofd_bit();
	if (!set_features || !set_pf || nofd < 0) {
		fprintf(stderr, "vuproxy wireshark-lua: SET_FEATURES or "
		                "SET_PROTOCOL_FEATURES missing\n");
		return -1;
	}

	fprintf(f,
	        "-- The pseudo-header in front of each message "
	        "(include/vuproxy/pcapng.h),\n"
	        "-- little-endian.\n"
	        "local TRACE_MAGIC = \"%c%c\"\n"
	        "local TRACE_VERSION = %u\n"
	        "local TRACE_FIXED = %u\n"
	        "local TRACE_FD_SIZE = %u\n"
	        "local TRACE_EXT_HDR = %u\n"
	        "local TRACE_EXT_MARK = %u\n"
	        "local TRACE_EXT_DECLARED = %u\n"
	        "local TRACE_F_BACKEND_CHAN = 0x%x\n"
	        "local TRACE_F_FROM_BACKEND = 0x%x\n"
	        "local TRACE_F_AS_SENT = 0x%x\n"
	        "local TRACE_F_RESERVED = 0x%x\n\n",
	        VUP_TRACE_MAGIC0, VUP_TRACE_MAGIC1, VUP_TRACE_VERSION,
	        VUP_TRACE_FIXED, VUP_TRACE_FD_SIZE, VUP_TRACE_EXT_HDR,
	        VUP_TRACE_EXT_MARK, VUP_TRACE_EXT_DECLARED,
	        VUP_TRACE_F_BACKEND_CHAN, VUP_TRACE_F_FROM_BACKEND,
	        VUP_TRACE_F_AS_SENT,
	        0xffu & ~(unsigned)(VUP_TRACE_F_BACKEND_CHAN |
	                            VUP_TRACE_F_FROM_BACKEND |
	                            VUP_TRACE_F_AS_SENT));
	vup__lua_names(f, "FD_KIND", "Kinds of the fds a message carries.",
	               fd_kind_name, VUP_FDK_COUNT);
	vup__lua_names(f, "ACTION", "What vuproxy did with the message.",
	               action_name, VUP_TRACE_ACT_COUNT);

	fprintf(f,
	        "-- The vhost-user header (include/vuproxy/proto.h).\n"
	        "local HDR_SIZE = %u\n"
	        "local FLAG_VERSION_MASK = 0x%x\n"
	        "local FLAG_VERSION = 0x%x\n"
	        "local FLAG_REPLY = 0x%x\n"
	        "local FLAG_NEED_REPLY = 0x%x\n"
	        "local FLAG_RESERVED = 0x%x\n"
	        "local CHAN_NAME = { [0] = \"%s\", [1] = \"%s\" }\n"
	        "local SIDE_NAME = { [0] = \"%s\", [1] = \"%s\" }\n\n",
	        VUP_HDR_SIZE, VUP_FLAG_VERSION_MASK, VUP_FLAG_VERSION,
	        VUP_FLAG_REPLY, VUP_FLAG_NEED_REPLY, ~VUP_FLAG_KNOWN,
	        vup_chan_name(VUP_CHAN_MAIN), vup_chan_name(VUP_CHAN_BACKEND),
	        vup_side_name(VUP_FRONTEND), vup_side_name(VUP_BACKEND));

	fprintf(f,
	        "-- What changes how later payloads read (vup_proto_note).\n"
	        "local REQ_SET_FEATURES = %u\n"
	        "local REQ_SET_PROTOCOL_FEATURES = %u\n"
	        "local F_RING_PACKED = %u\n"
	        "local PF_XEN_MMAP = %u\n"
	        "-- SET_VRING_KICK/CALL/ERR: the bit that says no fd comes.\n"
	        "local VRING_NOFD_BIT = %d\n\n",
	        set_features->code, set_pf->code, VUP_F_RING_PACKED,
	        VUP_PF_XEN_MMAP, nofd);

	vup__lua_names(f, "FEATURE_NAME",
	               "Virtio feature bits (device-specific bits named after "
	               "virtio-net).",
	               vup_feature_name, VUP_FEATURE_WORD_BITS);
	vup__lua_names(f, "PROTOCOL_FEATURE_NAME",
	               "vhost-user protocol features.",
	               vup_protocol_feature_name, VUP_FEATURE_WORD_BITS);
	vup__lua_names(f, "STATUS_NAME", "Virtio device status bits.",
	               vup_status_name, VUP_STATUS_WORD_BITS);
	fputs("-- Bit names by field format.\n"
	      "local BIT_NAMES = {\n"
	      "\tfeatures = FEATURE_NAME,\n"
	      "\tpfeatures = PROTOCOL_FEATURE_NAME,\n"
	      "\tstatus = STATUS_NAME,\n"
	      "}\n\n",
	      f);

	if (emit_layouts(f, &a) || emit_regions(f, &a) || emit_variable(f, &a))
		return -1;
	emit_requests(f);
	emit_blk(f);
	vup__lua_findings(f);
	return 0;
}

/* The hand-written part: src/wireshark/dissector.lua, embedded by
 * cmake/embed.cmake. */
extern const unsigned char vup__wireshark_dissector_lua[];
extern const size_t vup__wireshark_dissector_lua_len;

#define GEN_MARK "-- @GENERATED@"
#define TAB_MARK "-- @TABLES@"
#define STAMP                                                                  \
	"-- Generated by `vuproxy wireshark-lua` from the message "            \
	"catalogue. DO NOT EDIT.\n"

/* Whether the line s (len bytes) starts with mark. */
static bool line_is(const char *s, size_t len, const char *mark)
{
	size_t n = strlen(mark);
	return len >= n && memcmp(s, mark, n) == 0;
}

/* Print the dissector source with each of its two placeholder lines, the
 * ones that start with a mark, replaced as a whole. */
static int emit_lua(FILE *f)
{
	const char *s = (const char *)vup__wireshark_dissector_lua;
	const char *end = s + vup__wireshark_dissector_lua_len;
	int gens = 0, tabs = 0;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl ? (size_t)(nl + 1 - s) : (size_t)(end - s);
		if (line_is(s, len, GEN_MARK)) {
			fputs(STAMP, f);
			gens++;
		} else if (line_is(s, len, TAB_MARK)) {
			if (emit_data(f))
				return -1;
			tabs++;
		} else {
			fwrite(s, 1, len, f);
		}
		s += len;
	}
	if (gens == 1 && tabs == 1)
		return 0;
	fprintf(stderr,
	        "vuproxy wireshark-lua: src/wireshark/dissector.lua has %d "
	        "%s and %d %s lines, not one of each\n",
	        gens, GEN_MARK, tabs, TAB_MARK);
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vuproxy wireshark-lua\n"
	           "Print the Wireshark Lua dissector for vuproxy traces, "
	           "generated from the\nmessage catalogue.  Use it with\n"
	           "  tshark -X lua_script:vuproxy.lua -r FILE.pcapng.gz\n"
	           "or install it as a Wireshark Lua plugin.\n");
}

int vup_wireshark_lua_main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (emit_lua(stdout))
		return 1;
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "vuproxy wireshark-lua: write error\n");
		return 1;
	}
	return 0;
}
