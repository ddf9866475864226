/* wireshark-lua: `vuproxy wireshark-lua` prints the Wireshark dissector for
 * vuproxy traces (tools/wireshark/vuproxy.lua).
 *
 * The Lua file has two parts.  The first is data printed from the tables
 * the rest of vuproxy runs on: the request catalogue of both channels, the
 * field table of every payload layout, feature-bit, fd-kind and action
 * names, and the pseudo-header constants.  The second is a fixed dissector
 * (engine_lua below) that reads only that data: it names no request, layout
 * or field itself, except the layouts with variable parts (memory regions,
 * config bytes, shmem sizes, opaque bytes) that render.c also treats
 * specially.  A test checks that the committed file is exactly what this
 * prints, so a catalogue change that is not regenerated fails the build.
 *
 * A second, small dissector reads the tap's blk records (LINKTYPE_USER1,
 * include/vuproxy/tapfmt.h); its constants and names come from tapfmt.
 * The tap's Ethernet interfaces need nothing: Wireshark decodes them.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

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

/* A Lua string literal (names are plain ASCII; escape anyway). */
static void lua_str(FILE *f, const char *s)
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

static void emit_names(FILE *f, const char *var, const char *comment,
                       const char *(*name)(unsigned), unsigned n)
{
	fprintf(f, "-- %s\nlocal %s = {\n", comment, var);
	for (unsigned b = 0; b < n; b++) {
		const char *s = name(b);
		if (!s)
			continue;
		fprintf(f, "\t[%u] = ", b);
		lua_str(f, s);
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
	emit_names(f, "BLK_TYPE", "virtio-blk request types.", blk_type_name,
	           64);
	emit_names(f, "BLK_STATUS", "virtio-blk request status.",
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
	lua_str(f, abbr);
	fputs(", name = ", f);
	lua_str(f, fl->name);
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
		lua_str(f, ln);
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
		lua_str(f, vup_layout_name(named[i].l));
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
	lua_str(f, base);
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
		lua_str(f, abbr);
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
			lua_str(f, t->name);
			if (t->alias) {
				fputs(", alias = ", f);
				lua_str(f, t->alias);
			}
			fputs(",\n\t\t\treq = ", f);
			lua_str(f, vup_layout_name(t->req_layout));
			fprintf(f,
			        ", req_min = %u, req_max = %u, req_fds = "
			        "\"%s\",\n\t\t\treply = \"%s\", rep = ",
			        t->req_min, t->req_max,
			        fd_rule_name(t->req_fds),
			        reply_rule_name(t->reply));
			lua_str(f, vup_layout_name(t->rep_layout));
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
				lua_str(f, gate);
			}
			fputs(" },\n", f);
		}
		fputs("\t},\n", f);
	}
	fputs("}\n\n", f);
}

/* The fields engine_lua defines itself. */
static const char *const engine_abbrs[] = {
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
	for (size_t i = 0; i < sizeof(engine_abbrs) / sizeof(engine_abbrs[0]);
	     i++)
		if (note_abbr(&a, engine_abbrs[i]))
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
	        "local TRACE_F_BACKEND_CHAN = 0x%x\n"
	        "local TRACE_F_FROM_BACKEND = 0x%x\n"
	        "local TRACE_F_AS_SENT = 0x%x\n"
	        "local TRACE_F_RESERVED = 0x%x\n\n",
	        VUP_TRACE_MAGIC0, VUP_TRACE_MAGIC1, VUP_TRACE_VERSION,
	        VUP_TRACE_FIXED, VUP_TRACE_FD_SIZE, VUP_TRACE_EXT_HDR,
	        VUP_TRACE_EXT_MARK, VUP_TRACE_F_BACKEND_CHAN,
	        VUP_TRACE_F_FROM_BACKEND, VUP_TRACE_F_AS_SENT,
	        0xffu & ~(unsigned)(VUP_TRACE_F_BACKEND_CHAN |
	                            VUP_TRACE_F_FROM_BACKEND |
	                            VUP_TRACE_F_AS_SENT));
	emit_names(f, "FD_KIND", "Kinds of the fds a message carries.",
	           fd_kind_name, VUP_FDK_COUNT);
	emit_names(f, "ACTION", "What vuproxy did with the message.",
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

	emit_names(f, "FEATURE_NAME",
	           "Virtio feature bits (device-specific bits named after "
	           "virtio-net).",
	           vup_feature_name, VUP_FEATURE_WORD_BITS);
	emit_names(f, "PROTOCOL_FEATURE_NAME", "vhost-user protocol features.",
	           vup_protocol_feature_name, VUP_FEATURE_WORD_BITS);
	emit_names(f, "STATUS_NAME", "Virtio device status bits.",
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
	return 0;
}

static const char header_lua[] =
        "-- Generated by `vuproxy wireshark-lua` from the message "
        "catalogue. DO NOT EDIT.\n"
        "--\n"
        "-- Wireshark dissector for vuproxy traces (vuproxy -w "
        "FILE.pcapng.gz).  Each\n"
        "-- session's control channel is an interface of link type USER0 "
        "(147); each\n"
        "-- packet is vuproxy's pseudo-header followed by one vhost-user "
        "message.\n"
        "--\n"
        "--   tshark -X lua_script:vuproxy.lua -r trace.pcapng.gz\n"
        "--   wireshark -X lua_script:vuproxy.lua trace.pcapng.gz\n"
        "--\n"
        "-- or copy it to your personal Lua plugins folder (Help > About "
        "Wireshark >\n"
        "-- Folders), e.g. ~/.local/lib/wireshark/plugins/.  It takes over "
        "USER0 from\n"
        "-- the user_dlts table.\n"
        "--\n"
        "-- The tap's records: Ethernet interfaces (\"s1 net q1 tx\") are "
        "Wireshark's own;\n"
        "-- blk requests (\"s1 blk\", link type USER1, 148) are decoded "
        "here as\n"
        "-- vuproxy.blk.* (vuproxy.blk.type, .type_name, .sector, .len, "
        ".status,\n"
        "-- .status_name, .latency in ns, .queue, .id, .used_len, .data), "
        "e.g.\n"
        "--   tshark ... -Y 'vuproxy.blk.status != 0' -T fields -e "
        "vuproxy.blk.sector\n"
        "--\n"
        "-- Fields: vuproxy.* for the pseudo-header (vuproxy.session, "
        "vuproxy.channel,\n"
        "-- vuproxy.direction, vuproxy.fd.kind, vuproxy.action, "
        "vuproxy.rule, ...),\n"
        "-- vhostuser.* for the message: vhostuser.request (code), "
        "vhostuser.request_name,\n"
        "-- vhostuser.flags.reply, vhostuser.size, and one field per "
        "payload field named\n"
        "-- vhostuser.LAYOUT.FIELD (vhostuser.LAYOUT when the field is "
        "named like its\n"
        "-- layout), e.g. vhostuser.vring_addr.desc, vhostuser.features; "
        "feature words\n"
        "-- add FIELD.bit once per bit that is set, e.g.\n"
        "--   tshark ... -Y 'vhostuser.features.bit == "
        "\"VIRTIO_F_RING_PACKED\"'\n"
        "--\n"
        "-- Regenerate after changing src/proto/catalogue.c or "
        "src/proto/fields.c:\n"
        "--   vuproxy wireshark-lua > tools/wireshark/vuproxy.lua\n"
        "\n";

/* clang-format off */
static const char engine_lua[] =
	"-- The dissector.  Everything above this line is data from the catalogue;\n"
	"-- what follows reads it and knows no request, layout or field by itself.\n"
	"\n"
	"local vuproxy = Proto(\"vuproxy\", \"vuproxy trace pseudo-header\")\n"
	"local vhostuser = Proto(\"vhostuser\", \"vhost-user\")\n"
	"\n"
	"-- Pseudo-header fields (vuproxy.*).\n"
	"local pf = {\n"
	"\tmagic = ProtoField.string(\"vuproxy.magic\", \"Magic\"),\n"
	"\tversion = ProtoField.uint8(\"vuproxy.version\", \"Version\"),\n"
	"\tflags = ProtoField.uint8(\"vuproxy.flags\", \"Flags\", base.HEX),\n"
	"\tbackend_channel = ProtoField.bool(\"vuproxy.flags.backend_channel\",\n"
	"\t\t\"Back-end channel\", 8, nil, TRACE_F_BACKEND_CHAN),\n"
	"\tfrom_backend = ProtoField.bool(\"vuproxy.flags.from_backend\",\n"
	"\t\t\"From the back-end\", 8, nil, TRACE_F_FROM_BACKEND),\n"
	"\tas_sent = ProtoField.bool(\"vuproxy.flags.as_sent\",\n"
	"\t\t\"Copy as sent (rewrite, fail, release)\", 8, nil, TRACE_F_AS_SENT),\n"
	"\tflags_reserved = ProtoField.uint8(\"vuproxy.flags.reserved\",\n"
	"\t\t\"Reserved\", base.HEX, nil, TRACE_F_RESERVED),\n"
	"\thdr_len = ProtoField.uint16(\"vuproxy.hdr_len\", \"Header length\"),\n"
	"\taction = ProtoField.uint8(\"vuproxy.action\", \"Action\", base.DEC,\n"
	"\t\tACTION),\n"
	"\taction_name = ProtoField.string(\"vuproxy.action_name\", \"Action name\"),\n"
	"\tnfds = ProtoField.uint8(\"vuproxy.nfds\", \"Number of fds\"),\n"
	"\tsession = ProtoField.uint32(\"vuproxy.session\", \"Session\"),\n"
	"\trule_len = ProtoField.uint8(\"vuproxy.rule_len\", \"Rule name length\"),\n"
	"\treserved = ProtoField.bytes(\"vuproxy.reserved\", \"Reserved\"),\n"
	"\tfd = ProtoField.none(\"vuproxy.fd\", \"fd\"),\n"
	"\tfd_kind = ProtoField.uint8(\"vuproxy.fd.kind\", \"Kind\", base.DEC,\n"
	"\t\tFD_KIND),\n"
	"\tfd_kind_name = ProtoField.string(\"vuproxy.fd.kind_name\", \"Kind name\"),\n"
	"\tfd_reserved = ProtoField.bytes(\"vuproxy.fd.reserved\", \"Reserved\"),\n"
	"\tfd_size = ProtoField.uint64(\"vuproxy.fd.size\", \"Size\"),\n"
	"\trule = ProtoField.string(\"vuproxy.rule\", \"Rule\", base.UNICODE),\n"
	"\tpadding = ProtoField.bytes(\"vuproxy.padding\", \"Padding\"),\n"
	"\text = ProtoField.bytes(\"vuproxy.ext\", \"Extension\"),\n"
	"\text_type = ProtoField.uint16(\"vuproxy.ext.type\", \"Type\"),\n"
	"\text_len = ProtoField.uint16(\"vuproxy.ext.len\", \"Length\"),\n"
	"\tmark = ProtoField.string(\"vuproxy.mark\", \"Problem\",\n"
	"\t\tbase.UNICODE),\n"
	"\tchannel = ProtoField.string(\"vuproxy.channel\", \"Channel\"),\n"
	"\tfrom = ProtoField.string(\"vuproxy.from\", \"From\"),\n"
	"\tdirection = ProtoField.string(\"vuproxy.direction\", \"Direction\"),\n"
	"}\n"
	"local pe = {\n"
	"\tversion = ProtoExpert.new(\"vuproxy.version.unsupported\",\n"
	"\t\t\"Pseudo-header version not supported\",\n"
	"\t\texpert.group.UNDECODED, expert.severity.WARN),\n"
	"\thdr_len = ProtoExpert.new(\"vuproxy.hdr_len.bad\",\n"
	"\t\t\"Pseudo-header length does not fit its fds and rule name\",\n"
	"\t\texpert.group.MALFORMED, expert.severity.ERROR),\n"
	"\tmark = ProtoExpert.new(\"vuproxy.mark.relayed\",\n"
	"\t\t\"vuproxy relayed what the receiver judges\",\n"
	"\t\texpert.group.PROTOCOL, expert.severity.WARN),\n"
	"\tempty = ProtoExpert.new(\"vuproxy.empty\",\n"
	"\t\t\"No message after the pseudo-header\",\n"
	"\t\texpert.group.MALFORMED, expert.severity.ERROR),\n"
	"}\n"
	"\n"
	"-- Message fields (vhostuser.*): the header, then one per layout field.\n"
	"local hf = {\n"
	"\trequest = ProtoField.uint32(\"vhostuser.request\", \"Request\"),\n"
	"\trequest_name = ProtoField.string(\"vhostuser.request_name\",\n"
	"\t\t\"Request name\"),\n"
	"\tflags = ProtoField.uint32(\"vhostuser.flags\", \"Flags\", base.HEX),\n"
	"\tversion = ProtoField.uint32(\"vhostuser.flags.version\", \"Version\",\n"
	"\t\tbase.DEC, nil, FLAG_VERSION_MASK),\n"
	"\treply = ProtoField.bool(\"vhostuser.flags.reply\", \"Reply\", 32, nil,\n"
	"\t\tFLAG_REPLY),\n"
	"\tneed_reply = ProtoField.bool(\"vhostuser.flags.need_reply\",\n"
	"\t\t\"Need reply\", 32, nil, FLAG_NEED_REPLY),\n"
	"\tflags_reserved = ProtoField.uint32(\"vhostuser.flags.reserved\",\n"
	"\t\t\"Reserved\", base.HEX, nil, FLAG_RESERVED),\n"
	"\tsize = ProtoField.uint32(\"vhostuser.size\", \"Size\"),\n"
	"\tlayout = ProtoField.string(\"vhostuser.layout\", \"Payload layout\"),\n"
	"\tgate = ProtoField.string(\"vhostuser.gate\", \"Protocol feature gate\"),\n"
	"\tpayload = ProtoField.bytes(\"vhostuser.payload\", \"Payload\"),\n"
	"\tregion = ProtoField.none(MEM_REGION_ABBR, \"Region\"),\n"
	"\tregion_extra = ProtoField.bytes(MEM_REGION_ABBR .. \".extra\",\n"
	"\t\t\"Region bytes past the common fields\"),\n"
	"\tconfig_data = ProtoField.bytes(CONFIG_DATA_ABBR, \"data\"),\n"
	"\tshmem_size = ProtoField.uint64(SHMEM_SIZE_ABBR, \"size\", base.HEX),\n"
	"\topaque = ProtoField.bytes(OPAQUE_ABBR, \"bytes\"),\n"
	"}\n"
	"local he = {\n"
	"\tunknown = ProtoExpert.new(\"vhostuser.request.unknown\",\n"
	"\t\t\"Request code not in the catalogue\",\n"
	"\t\texpert.group.UNDECODED, expert.severity.WARN),\n"
	"\tflags = ProtoExpert.new(\"vhostuser.flags.bad\",\n"
	"\t\t\"Bad version or reserved bits set in the flags\",\n"
	"\t\texpert.group.PROTOCOL, expert.severity.WARN),\n"
	"\tcut = ProtoExpert.new(\"vhostuser.cut\",\n"
	"\t\t\"Message cut short in the trace\",\n"
	"\t\texpert.group.MALFORMED, expert.severity.WARN),\n"
	"\ttrailing = ProtoExpert.new(\"vhostuser.trailing\",\n"
	"\t\t\"Bytes after the message\",\n"
	"\t\texpert.group.MALFORMED, expert.severity.WARN),\n"
	"\tsize = ProtoExpert.new(\"vhostuser.size.bad\",\n"
	"\t\t\"Payload size outside the catalogue's bounds\",\n"
	"\t\texpert.group.PROTOCOL, expert.severity.WARN),\n"
	"\tfds = ProtoExpert.new(\"vhostuser.fds.bad\",\n"
	"\t\t\"Number of fds not as the catalogue says\",\n"
	"\t\texpert.group.PROTOCOL, expert.severity.WARN),\n"
	"}\n"
	"\n"
	"-- Payload fields: lf[layout][i] is the ProtoField of LAYOUT[layout][i],\n"
	"-- region_f[i] the one of MEM_REGION[i].  Bit-fields get a mask, so\n"
	"-- Wireshark draws the bits; feature words get a string field ABBR.bit,\n"
	"-- added once per bit that is set.\n"
	"local lf, region_f, bitf = {}, {}, {}\n"
	"\n"
	"local function make_field(f)\n"
	"\tlocal mask = nil\n"
	"\tif f.bits > 0 then\n"
	"\t\tmask = (2 ^ f.bits - 1) * 2 ^ f.shift\n"
	"\tend\n"
	"\tif f.fmt == \"mac\" then\n"
	"\t\treturn ProtoField.ether(f.abbr, f.name)\n"
	"\telseif f.fmt == \"uuid\" then\n"
	"\t\treturn ProtoField.guid(f.abbr, f.name)\n"
	"\telseif f.fmt == \"bool\" then\n"
	"\t\tif mask then\n"
	"\t\t\treturn ProtoField.bool(f.abbr, f.name, f.size * 8, nil,\n"
	"\t\t\t\tmask)\n"
	"\t\tend\n"
	"\t\treturn ProtoField.bool(f.abbr, f.name, base.NONE)\n"
	"\tend\n"
	"\tlocal b = f.fmt == \"dec\" and base.DEC or base.HEX\n"
	"\tlocal ctor = ({ProtoField.uint8, ProtoField.uint16, nil,\n"
	"\t\tProtoField.uint32, nil, nil, nil, ProtoField.uint64})[f.size]\n"
	"\treturn ctor(f.abbr, f.name, b, nil, mask)\n"
	"end\n"
	"\n"
	"local all = {}\n"
	"for _, field in pairs(pf) do all[#all + 1] = field end\n"
	"vuproxy.fields = all\n"
	"vuproxy.experts = {pe.version, pe.hdr_len, pe.mark, pe.empty}\n"
	"\n"
	"all = {}\n"
	"for _, field in pairs(hf) do all[#all + 1] = field end\n"
	"for lname, fields in pairs(LAYOUT) do\n"
	"\tlf[lname] = {}\n"
	"\tfor i, f in ipairs(fields) do\n"
	"\t\tlf[lname][i] = make_field(f)\n"
	"\t\tall[#all + 1] = lf[lname][i]\n"
	"\t\tif BIT_NAMES[f.fmt] then\n"
	"\t\t\tbitf[f.abbr] = ProtoField.string(f.abbr .. \".bit\",\n"
	"\t\t\t\tf.name .. \" bit\")\n"
	"\t\t\tall[#all + 1] = bitf[f.abbr]\n"
	"\t\tend\n"
	"\tend\n"
	"end\n"
	"for i, f in ipairs(MEM_REGION) do\n"
	"\tregion_f[i] = make_field(f)\n"
	"\tall[#all + 1] = region_f[i]\n"
	"end\n"
	"vhostuser.fields = all\n"
	"vhostuser.experts = {he.unknown, he.flags, he.cut, he.trailing, he.size,\n"
	"\the.fds}\n"
	"\n"
	"-- vhost-user numbers are in the byte order of the machine that wrote the\n"
	"-- trace (the pcapng section's order, which Lua cannot see): little-endian\n"
	"-- unless the flags only make sense big-endian.\n"
	"local LE = true\n"
	"\n"
	"local function add_num(tree, field, range)\n"
	"\tif LE then\n"
	"\t\treturn tree:add_le(field, range)\n"
	"\tend\n"
	"\treturn tree:add(field, range)\n"
	"end\n"
	"\n"
	"-- An unsigned integer of 1 to 4 bytes.\n"
	"local function u32(range)\n"
	"\treturn LE and range:le_uint() or range:uint()\n"
	"end\n"
	"\n"
	"local function u64(range)\n"
	"\treturn LE and range:le_uint64() or range:uint64()\n"
	"end\n"
	"\n"
	"local function hex64(v)\n"
	"\tlocal s = v:tohex():gsub(\"^0+\", \"\")\n"
	"\treturn \"0x\" .. (s == \"\" and \"0\" or s)\n"
	"end\n"
	"\n"
	"-- A field's value: a number, or a UInt64 for whole 8-byte integers.\n"
	"local function field_value(range, f)\n"
	"\tif f.fmt == \"mac\" or f.fmt == \"uuid\" then\n"
	"\t\tlocal t = {}\n"
	"\t\tfor i = 0, f.size - 1 do\n"
	"\t\t\tt[#t + 1] = string.format(\"%02x\", range(i, 1):uint())\n"
	"\t\tend\n"
	"\t\tif f.fmt == \"mac\" then\n"
	"\t\t\treturn table.concat(t, \":\")\n"
	"\t\tend\n"
	"\t\tlocal s = table.concat(t)\n"
	"\t\treturn string.format(\"%s-%s-%s-%s-%s\", s:sub(1, 8),\n"
	"\t\t\ts:sub(9, 12), s:sub(13, 16), s:sub(17, 20), s:sub(21))\n"
	"\tend\n"
	"\tif f.size == 8 then\n"
	"\t\tlocal v = u64(range)\n"
	"\t\tif f.bits > 0 then\n"
	"\t\t\tv = v:rshift(f.shift):band(2 ^ f.bits - 1):tonumber()\n"
	"\t\tend\n"
	"\t\treturn v\n"
	"\tend\n"
	"\tlocal v = u32(range)\n"
	"\tif f.bits > 0 then\n"
	"\t\tv = math.floor(v / 2 ^ f.shift) % 2 ^ f.bits\n"
	"\tend\n"
	"\treturn v\n"
	"end\n"
	"\n"
	"local function show_value(v, fmt)\n"
	"\tif type(v) == \"string\" then\n"
	"\t\treturn v\n"
	"\telseif type(v) == \"number\" then\n"
	"\t\tif fmt == \"dec\" or fmt == \"bool\" then\n"
	"\t\t\treturn string.format(\"%d\", v)\n"
	"\t\tend\n"
	"\t\treturn string.format(\"0x%x\", v)\n"
	"\telseif fmt == \"dec\" or fmt == \"bool\" then\n"
	"\t\treturn tostring(v)\n"
	"\tend\n"
	"\treturn hex64(v)\n"
	"end\n"
	"\n"
	"-- Add the fields of a field table at `base` (payload offset) that lie\n"
	"-- within the psize payload bytes; words of \"name=value\" go to `words`.\n"
	"local function add_fields(tree, tvb, fields, protofields, base, psize,\n"
	"\twords)\n"
	"\tfor i, f in ipairs(fields) do\n"
	"\t\tif f.off + f.size <= psize then\n"
	"\t\t\tlocal range = tvb(HDR_SIZE + base + f.off, f.size)\n"
	"\t\t\tlocal item\n"
	"\t\t\tif f.fmt == \"mac\" or f.fmt == \"uuid\" then\n"
	"\t\t\t\titem = tree:add(protofields[i], range)\n"
	"\t\t\telse\n"
	"\t\t\t\titem = add_num(tree, protofields[i], range)\n"
	"\t\t\tend\n"
	"\t\t\tlocal v = field_value(range, f)\n"
	"\t\t\tlocal word = f.name .. \"=\" .. show_value(v, f.fmt)\n"
	"\t\t\tif f.fmt == \"bool\" then\n"
	"\t\t\t\tword = v ~= 0 and f.name or nil\n"
	"\t\t\tend\n"
	"\t\t\tlocal names = BIT_NAMES[f.fmt]\n"
	"\t\t\tif names then\n"
	"\t\t\t\tlocal lo, hi = v, 0\n"
	"\t\t\t\tif type(v) ~= \"number\" then\n"
	"\t\t\t\t\tlo, hi = v:lower(), v:higher()\n"
	"\t\t\t\tend\n"
	"\t\t\t\tlocal set = {}\n"
	"\t\t\t\tfor b = 0, f.size * 8 - 1 do\n"
	"\t\t\t\t\tlocal w = b < 32 and lo or hi\n"
	"\t\t\t\t\tif bit32.extract(w, b % 32) == 1 then\n"
	"\t\t\t\t\t\tlocal n = names[b] or\n"
	"\t\t\t\t\t\t\t(\"bit\" .. b)\n"
	"\t\t\t\t\t\titem:add(bitf[f.abbr], range, n):\n"
	"\t\t\t\t\t\t\tset_text(string.format(\n"
	"\t\t\t\t\t\t\t\"bit %d: %s\", b, n))\n"
	"\t\t\t\t\t\tset[#set + 1] = n\n"
	"\t\t\t\t\tend\n"
	"\t\t\t\tend\n"
	"\t\t\t\tword = word .. \" <\" .. table.concat(set, \"|\") ..\n"
	"\t\t\t\t\t\">\"\n"
	"\t\t\tend\n"
	"\t\t\twords[#words + 1] = word\n"
	"\t\tend\n"
	"\tend\n"
	"end\n"
	"\n"
	"-- Up to 16 bytes in hex, for the Info column.\n"
	"local function short_hex(range)\n"
	"\tif range:len() > 16 then\n"
	"\t\treturn range(0, 16):bytes():tohex(true) .. \"...\"\n"
	"\tend\n"
	"\treturn range:bytes():tohex(true)\n"
	"end\n"
	"\n"
	"-- The variable parts after a layout's fixed fields.\n"
	"local function add_variable(tree, tvb, lname, psize, xen, words)\n"
	"\tif lname == L_MEM_TABLE then\n"
	"\t\tlocal n = psize >= 4 and u32(tvb(HDR_SIZE, 4)) or 0\n"
	"\t\tlocal rsz = xen and MEM_REGION_SIZE_XEN or MEM_REGION_SIZE\n"
	"\t\tlocal i = 0\n"
	"\t\twhile i < n and 8 + (i + 1) * rsz <= psize do\n"
	"\t\t\tlocal off = 8 + i * rsz\n"
	"\t\t\tlocal rt = tree:add(hf.region, tvb(HDR_SIZE + off, rsz))\n"
	"\t\t\trt:append_text(\" \" .. i)\n"
	"\t\t\tlocal rw = {}\n"
	"\t\t\tadd_fields(rt, tvb, MEM_REGION, region_f, off,\n"
	"\t\t\t\tpsize, rw)\n"
	"\t\t\tif rsz > MEM_REGION_SIZE then\n"
	"\t\t\t\trt:add(hf.region_extra,\n"
	"\t\t\t\t\ttvb(HDR_SIZE + off + MEM_REGION_SIZE,\n"
	"\t\t\t\t\t\trsz - MEM_REGION_SIZE))\n"
	"\t\t\tend\n"
	"\t\t\trt:append_text(\": \" .. table.concat(rw, \" \"))\n"
	"\t\t\twords[#words + 1] = \"[\" .. table.concat(rw, \" \") .. \"]\"\n"
	"\t\t\ti = i + 1\n"
	"\t\tend\n"
	"\telseif lname == L_CONFIG then\n"
	"\t\tif psize > CONFIG_DATA_OFF then\n"
	"\t\t\tlocal r = tvb(HDR_SIZE + CONFIG_DATA_OFF,\n"
	"\t\t\t\tpsize - CONFIG_DATA_OFF)\n"
	"\t\t\ttree:add(hf.config_data, r)\n"
	"\t\t\twords[#words + 1] = \"data=\" .. short_hex(r)\n"
	"\t\tend\n"
	"\telseif lname == L_SHMEM_CONFIG then\n"
	"\t\tlocal n = psize >= 4 and u32(tvb(HDR_SIZE, 4)) or 0\n"
	"\t\tlocal sizes = {}\n"
	"\t\tlocal i = 0\n"
	"\t\twhile i < n and 8 + 8 * (i + 1) <= psize do\n"
	"\t\t\tlocal r = tvb(HDR_SIZE + 8 + 8 * i, 8)\n"
	"\t\t\tadd_num(tree, hf.shmem_size, r)\n"
	"\t\t\tsizes[#sizes + 1] = hex64(u64(r))\n"
	"\t\t\ti = i + 1\n"
	"\t\tend\n"
	"\t\twords[#words + 1] = \"sizes=\" .. table.concat(sizes, \",\")\n"
	"\telseif lname == L_OPAQUE then\n"
	"\t\tif psize > 0 then\n"
	"\t\t\tlocal r = tvb(HDR_SIZE, psize)\n"
	"\t\t\ttree:add(hf.opaque, r)\n"
	"\t\t\twords[#words + 1] = \"bytes=\" .. short_hex(r)\n"
	"\t\tend\n"
	"\tend\n"
	"end\n"
	"\n"
	"-- The layout of a payload: the catalogue's request or reply layout (an\n"
	"-- answer of at most 8 bytes to a postcopy-capable request is an ack, and\n"
	"-- so is QEMU's 8-byte ADD_MEM_REG after the back-end's postcopy echo),\n"
	"-- and the packed-ring variant of vring_base once RING_PACKED is\n"
	"-- negotiated.\n"
	"local function msg_layout(row, is_reply, psize, neg)\n"
	"\tif not row then\n"
	"\t\treturn L_OPAQUE\n"
	"\tend\n"
	"\tif is_reply and row.reply == \"postcopy\" and psize <= 8 then\n"
	"\t\treturn L_ACK\n"
	"\tend\n"
	"\tif not is_reply and row.req == L_MEM_REG and\n"
	"\t\t\trow.reply == \"postcopy\" and psize == 8 then\n"
	"\t\treturn L_ACK\n"
	"\tend\n"
	"\tlocal l = is_reply and row.rep or row.req\n"
	"\tif l == L_VRING_BASE and neg.packed then\n"
	"\t\tl = L_VRING_BASE_PACKED\n"
	"\tend\n"
	"\treturn l\n"
	"end\n"
	"\n"
	"-- How many fds a message of this rule carries: min, max (nil: any).\n"
	"local function fds_wanted(rule, tvb, psize)\n"
	"\tif rule == \"none\" then\n"
	"\t\treturn 0, 0\n"
	"\telseif rule == \"one\" then\n"
	"\t\treturn 1, 1\n"
	"\telseif rule == \"optional\" then\n"
	"\t\treturn 0, 1\n"
	"\telseif rule == \"vring\" then\n"
	"\t\tlocal nofd = psize >= 8 and\n"
	"\t\t\tbit32.extract(u32(tvb(HDR_SIZE, 4)), VRING_NOFD_BIT) == 1\n"
	"\t\treturn nofd and 0 or 1, nofd and 0 or 1\n"
	"\telseif rule == \"per_region\" then\n"
	"\t\tlocal n = psize >= 8 and u32(tvb(HDR_SIZE, 4)) or 0\n"
	"\t\treturn n, n\n"
	"\tend\n"
	"\treturn nil, nil\n"
	"end\n"
	"\n"
	"-- What a session has negotiated, from SET_FEATURES and\n"
	"-- SET_PROTOCOL_FEATURES on the first, in-order pass: neg_at[frame] keeps\n"
	"-- what was in force for each frame, so later random access (the GUI)\n"
	"-- decodes the same.  A trace that starts after the negotiation (a rotated\n"
	"-- file) decodes vring_base as split ring and regions as 32 bytes, as\n"
	"-- `vuproxy dump` does.\n"
	"local neg_by_session, neg_at = {}, {}\n"
	"\n"
	"function vuproxy.init()\n"
	"\tneg_by_session, neg_at = {}, {}\n"
	"end\n"
	"\n"
	"local function note(session, chan, code, is_reply, tvb, psize)\n"
	"\tif chan ~= 0 or is_reply or psize < 8 then\n"
	"\t\treturn\n"
	"\tend\n"
	"\tlocal n = neg_by_session[session]\n"
	"\tlocal v = u64(tvb(HDR_SIZE, 8))\n"
	"\tif code == REQ_SET_FEATURES then\n"
	"\t\tn.packed = v:rshift(F_RING_PACKED):band(1):tonumber() == 1\n"
	"\telseif code == REQ_SET_PROTOCOL_FEATURES then\n"
	"\t\tn.xen = v:rshift(PF_XEN_MMAP):band(1):tonumber() == 1\n"
	"\tend\n"
	"end\n"
	"\n"
	"-- The message of the current frame: ctx comes from the pseudo-header, or\n"
	"-- is nil when another dissector calls \"vhostuser\" by name (then the main\n"
	"-- channel is assumed).\n"
	"local ctx = nil\n"
	"local message -- the \"vhostuser\" dissector handle\n"
	"\n"
	"local function dissect_message(tvb, pinfo, tree, c)\n"
	"\tlocal len = tvb:len()\n"
	"\tlocal root = tree:add(vhostuser, tvb())\n"
	"\tpinfo.cols.protocol:set(\"VHOST-USER\")\n"
	"\tif len < HDR_SIZE then\n"
	"\t\troot:add_proto_expert_info(he.cut, string.format(\n"
	"\t\t\t\"Message cut: %d of %d header bytes recorded\", len,\n"
	"\t\t\tHDR_SIZE))\n"
	"\t\treturn len\n"
	"\tend\n"
	"\tLE = true\n"
	"\tif bit32.band(tvb(4, 4):le_uint(), FLAG_VERSION_MASK) ~=\n"
	"\t\t\tFLAG_VERSION and\n"
	"\t\tbit32.band(tvb(4, 4):uint(), FLAG_VERSION_MASK) ==\n"
	"\t\t\tFLAG_VERSION then\n"
	"\t\tLE = false\n"
	"\tend\n"
	"\tlocal chan = c and c.chan or 0\n"
	"\tlocal code, flags, size = u32(tvb(0, 4)), u32(tvb(4, 4)),\n"
	"\t\tu32(tvb(8, 4))\n"
	"\tlocal row = REQUEST[chan][code]\n"
	"\tlocal name = row and row.name or \"UNKNOWN\"\n"
	"\tlocal is_reply = bit32.band(flags, FLAG_REPLY) ~= 0\n"
	"\tlocal psize = math.min(size, len - HDR_SIZE)\n"
	"\n"
	"\tlocal neg = {}\n"
	"\tif c then\n"
	"\t\tif not pinfo.visited then\n"
	"\t\t\tlocal n = neg_by_session[c.session] or {}\n"
	"\t\t\tneg_by_session[c.session] = n\n"
	"\t\t\tneg_at[pinfo.number] = {packed = n.packed, xen = n.xen}\n"
	"\t\tend\n"
	"\t\tneg = neg_at[pinfo.number] or {}\n"
	"\tend\n"
	"\tlocal lname = msg_layout(row, is_reply, psize, neg)\n"
	"\n"
	"\troot:append_text(\": \" .. name .. (is_reply and \" reply\" or \"\"))\n"
	"\tlocal ri = add_num(root, hf.request, tvb(0, 4))\n"
	"\tri:append_text(\" (\" .. name .. \")\")\n"
	"\tif row and row.alias then\n"
	"\t\tri:append_text(\", formerly \" .. row.alias)\n"
	"\tend\n"
	"\tif not row then\n"
	"\t\tri:add_proto_expert_info(he.unknown, string.format(\n"
	"\t\t\t\"Request code %d is not in the catalogue for the %s \" ..\n"
	"\t\t\t\"channel\", code, CHAN_NAME[chan]))\n"
	"\tend\n"
	"\troot:add(hf.request_name, tvb(0, 4), name):set_generated()\n"
	"\tlocal fi = add_num(root, hf.flags, tvb(4, 4))\n"
	"\tadd_num(fi, hf.version, tvb(4, 4))\n"
	"\tadd_num(fi, hf.reply, tvb(4, 4))\n"
	"\tadd_num(fi, hf.need_reply, tvb(4, 4))\n"
	"\tadd_num(fi, hf.flags_reserved, tvb(4, 4))\n"
	"\tif is_reply then\n"
	"\t\tfi:append_text(\" (reply)\")\n"
	"\telseif bit32.band(flags, FLAG_NEED_REPLY) ~= 0 then\n"
	"\t\tfi:append_text(\" (need_reply)\")\n"
	"\tend\n"
	"\tif bit32.band(flags, FLAG_VERSION_MASK) ~= FLAG_VERSION or\n"
	"\t\tbit32.band(flags, FLAG_RESERVED) ~= 0 then\n"
	"\t\tfi:add_proto_expert_info(he.flags)\n"
	"\tend\n"
	"\tlocal si = add_num(root, hf.size, tvb(8, 4))\n"
	"\tif row then\n"
	"\t\tlocal min = is_reply and row.rep_min or row.req_min\n"
	"\t\tlocal max = is_reply and row.rep_max or row.req_max\n"
	"\t\tif size < min or size > max then\n"
	"\t\t\tsi:add_proto_expert_info(he.size, string.format(\n"
	"\t\t\t\t\"Payload size %d outside %d..%d for this %s\",\n"
	"\t\t\t\tsize, min, max, is_reply and \"reply\" or\n"
	"\t\t\t\t\"request\"))\n"
	"\t\tend\n"
	"\t\tif row.gate then\n"
	"\t\t\troot:add(hf.gate, row.gate):set_generated()\n"
	"\t\tend\n"
	"\tend\n"
	"\tif size > len - HDR_SIZE then\n"
	"\t\tsi:add_proto_expert_info(he.cut, string.format(\n"
	"\t\t\t\"Message cut: %d of %d payload bytes recorded\",\n"
	"\t\t\tlen - HDR_SIZE, size))\n"
	"\tend\n"
	"\troot:add(hf.layout, lname):set_generated()\n"
	"\n"
	"\tlocal words = {}\n"
	"\tif psize > 0 then\n"
	"\t\tlocal pt = root:add(hf.payload, tvb(HDR_SIZE, psize))\n"
	"\t\tadd_fields(pt, tvb, LAYOUT[lname] or {}, lf[lname] or {}, 0,\n"
	"\t\t\tpsize, words)\n"
	"\t\tadd_variable(pt, tvb, lname, psize, neg.xen, words)\n"
	"\tend\n"
	"\tif len > HDR_SIZE + size then\n"
	"\t\troot:add_proto_expert_info(he.trailing, string.format(\n"
	"\t\t\t\"%d bytes after the %d-byte message\",\n"
	"\t\t\tlen - HDR_SIZE - size, HDR_SIZE + size))\n"
	"\tend\n"
	"\tif row and c then\n"
	"\t\t-- An ack in place of a request (postcopy) carries no fd.\n"
	"\t\tlocal rule = is_reply and row.rep_fds or\n"
	"\t\t\t(lname == L_ACK and \"none\" or row.req_fds)\n"
	"\t\tlocal min, max = fds_wanted(rule, tvb, psize)\n"
	"\t\tif min and (c.nfds < min or c.nfds > max) then\n"
	"\t\t\troot:add_proto_expert_info(he.fds, string.format(\n"
	"\t\t\t\t\"%d fds; the catalogue wants %s\", c.nfds,\n"
	"\t\t\t\tmin == max and tostring(min) or\n"
	"\t\t\t\t(min .. \" to \" .. max)))\n"
	"\t\tend\n"
	"\tend\n"
	"\n"
	"\t-- Info: the line `vuproxy dump` prints, without the time, the\n"
	"\t-- \"(N B, N fds...)\" part and the action \"pass\".\n"
	"\tlocal info = {}\n"
	"\tif c then\n"
	"\t\tinfo[#info + 1] = \"s\" .. c.session\n"
	"\t\tinfo[#info + 1] = SIDE_NAME[c.from] .. \">\" ..\n"
	"\t\t\tSIDE_NAME[1 - c.from]\n"
	"\tend\n"
	"\tinfo[#info + 1] = (chan == 1 and \"backend \" or \"\") .. name ..\n"
	"\t\t(row and \"\" or (\"(\" .. code .. \")\"))\n"
	"\tif is_reply then\n"
	"\t\tinfo[#info + 1] = \"reply\"\n"
	"\tend\n"
	"\tif bit32.band(flags, FLAG_NEED_REPLY) ~= 0 then\n"
	"\t\tinfo[#info + 1] = \"need_reply\"\n"
	"\tend\n"
	"\tfor _, w in ipairs(words) do\n"
	"\t\tinfo[#info + 1] = w\n"
	"\tend\n"
	"\tif c and c.action ~= 0 then\n"
	"\t\tinfo[#info + 1] = ACTION[c.action] or \"unknown\"\n"
	"\tend\n"
	"\tif c and c.rule ~= \"\" then\n"
	"\t\tinfo[#info + 1] = \"rule=\" .. c.rule\n"
	"\tend\n"
	"\tif c and c.as_sent then\n"
	"\t\tinfo[#info + 1] = \"(as sent)\"\n"
	"\tend\n"
	"\tif c and c.mark ~= \"\" then\n"
	"\t\tinfo[#info + 1] = \"[problem: \" .. c.mark .. \"]\"\n"
	"\tend\n"
	"\tif size > len - HDR_SIZE then\n"
	"\t\tinfo[#info + 1] = string.format(\n"
	"\t\t\t\"[cut: %d of %d bytes recorded]\", len - HDR_SIZE, size)\n"
	"\tend\n"
	"\tpinfo.cols.info:set(table.concat(info, \" \"))\n"
	"\n"
	"\tif c and not pinfo.visited then\n"
	"\t\tnote(c.session, chan, code, is_reply, tvb, psize)\n"
	"\tend\n"
	"\treturn len\n"
	"end\n"
	"\n"
	"function vhostuser.dissector(tvb, pinfo, tree)\n"
	"\tlocal c = ctx\n"
	"\tctx = nil\n"
	"\tif c and c.frame ~= pinfo.number then\n"
	"\t\tc = nil\n"
	"\tend\n"
	"\treturn dissect_message(tvb, pinfo, tree, c)\n"
	"end\n"
	"\n"
	"function vuproxy.dissector(tvb, pinfo, tree)\n"
	"\tlocal len = tvb:len()\n"
	"\tif len < TRACE_FIXED or tvb(0, 2):string() ~= TRACE_MAGIC then\n"
	"\t\treturn 0\n"
	"\tend\n"
	"\tpinfo.cols.protocol:set(\"VHOST-USER\")\n"
	"\tlocal version = tvb(2, 1):uint()\n"
	"\tlocal flags = tvb(3, 1):uint()\n"
	"\tlocal hl = tvb(4, 2):le_uint()\n"
	"\tlocal nfds = tvb(7, 1):uint()\n"
	"\tlocal session = tvb(8, 4):le_uint()\n"
	"\tlocal rl = tvb(12, 1):uint()\n"
	"\tlocal chan = bit32.band(flags, TRACE_F_BACKEND_CHAN) ~= 0 and 1 or 0\n"
	"\tlocal from = bit32.band(flags, TRACE_F_FROM_BACKEND) ~= 0 and 1 or 0\n"
	"\n"
	"\tlocal t = tree:add(vuproxy, tvb(0, math.min(hl, len)))\n"
	"\tt:add(pf.magic, tvb(0, 2))\n"
	"\tlocal vi = t:add(pf.version, tvb(2, 1))\n"
	"\tif version ~= TRACE_VERSION then\n"
	"\t\tvi:add_proto_expert_info(pe.version, string.format(\n"
	"\t\t\t\"Pseudo-header version %d; this dissector reads \" ..\n"
	"\t\t\t\"version %d (written by a newer vuproxy?)\", version,\n"
	"\t\t\tTRACE_VERSION))\n"
	"\t\tpinfo.cols.info:set(\"vuproxy pseudo-header version \" ..\n"
	"\t\t\tversion)\n"
	"\t\treturn len\n"
	"\tend\n"
	"\tt:append_text(string.format(\", session %d, %s channel, %s>%s\",\n"
	"\t\tsession, CHAN_NAME[chan], SIDE_NAME[from], SIDE_NAME[1 - from]))\n"
	"\tlocal fi = t:add(pf.flags, tvb(3, 1))\n"
	"\tfi:add(pf.backend_channel, tvb(3, 1))\n"
	"\tfi:add(pf.from_backend, tvb(3, 1))\n"
	"\tfi:add(pf.as_sent, tvb(3, 1))\n"
	"\tfi:add(pf.flags_reserved, tvb(3, 1))\n"
	"\tlocal hi = t:add_le(pf.hdr_len, tvb(4, 2))\n"
	"\tlocal action = tvb(6, 1):uint()\n"
	"\tt:add(pf.action, tvb(6, 1))\n"
	"\tt:add(pf.action_name, tvb(6, 1), ACTION[action] or \"unknown\"):\n"
	"\t\tset_generated()\n"
	"\tt:add(pf.nfds, tvb(7, 1))\n"
	"\tt:add_le(pf.session, tvb(8, 4))\n"
	"\tt:add(pf.rule_len, tvb(12, 1))\n"
	"\tt:add(pf.reserved, tvb(13, 3))\n"
	"\tt:add(pf.channel, tvb(3, 1), CHAN_NAME[chan]):set_generated()\n"
	"\tt:add(pf.from, tvb(3, 1), SIDE_NAME[from]):set_generated()\n"
	"\tt:add(pf.direction, tvb(3, 1), SIDE_NAME[from] .. \">\" ..\n"
	"\t\tSIDE_NAME[1 - from]):set_generated()\n"
	"\tlocal need = TRACE_FIXED + nfds * TRACE_FD_SIZE + rl\n"
	"\tif hl < need or hl > len then\n"
	"\t\thi:add_proto_expert_info(pe.hdr_len, string.format(\n"
	"\t\t\t\"Header length %d does not fit %d fds and a %d-byte \" ..\n"
	"\t\t\t\"rule name in %d bytes\", hl, nfds, rl, len))\n"
	"\t\treturn len\n"
	"\tend\n"
	"\tfor i = 0, nfds - 1 do\n"
	"\t\tlocal off = TRACE_FIXED + i * TRACE_FD_SIZE\n"
	"\t\tlocal kind = tvb(off, 1):uint()\n"
	"\t\tlocal size = tvb(off + 4, 8):le_uint64()\n"
	"\t\tlocal ft = t:add(pf.fd, tvb(off, TRACE_FD_SIZE))\n"
	"\t\tft:append_text(string.format(\" %d: %s\", i,\n"
	"\t\t\tFD_KIND[kind] or FD_KIND[0]))\n"
	"\t\tif size:tonumber() ~= 0 then\n"
	"\t\t\tft:append_text(\", \" .. tostring(size) .. \" bytes\")\n"
	"\t\tend\n"
	"\t\tft:add(pf.fd_kind, tvb(off, 1))\n"
	"\t\tft:add(pf.fd_kind_name, tvb(off, 1), FD_KIND[kind] or FD_KIND[0]):\n"
	"\t\t\tset_generated()\n"
	"\t\tft:add(pf.fd_reserved, tvb(off + 1, 3))\n"
	"\t\tft:add_le(pf.fd_size, tvb(off + 4, 8))\n"
	"\tend\n"
	"\tlocal rule = \"\"\n"
	"\tlocal roff = TRACE_FIXED + nfds * TRACE_FD_SIZE\n"
	"\tif rl > 0 then\n"
	"\t\trule = tvb(roff, rl):string(ENC_UTF_8)\n"
	"\t\tt:add(pf.rule, tvb(roff, rl), rule)\n"
	"\tend\n"
	"\t-- Extensions: {u16 type, u16 length, value, padding to 4} up to\n"
	"\t-- the header length; types this dissector does not know are shown\n"
	"\t-- as bytes and skipped.\n"
	"\tlocal eoff = roff + rl + (4 - (roff + rl) % 4) % 4\n"
	"\tif eoff > roff + rl and eoff <= hl then\n"
	"\t\tt:add(pf.padding, tvb(roff + rl, eoff - roff - rl))\n"
	"\tend\n"
	"\tlocal mark = \"\"\n"
	"\twhile eoff + TRACE_EXT_HDR <= hl do\n"
	"\t\tlocal etype = tvb(eoff, 2):le_uint()\n"
	"\t\tlocal elen = tvb(eoff + 2, 2):le_uint()\n"
	"\t\tif eoff + TRACE_EXT_HDR + elen > hl then\n"
	"\t\t\tbreak\n"
	"\t\tend\n"
	"\t\tlocal whole = TRACE_EXT_HDR + elen + (4 - elen % 4) % 4\n"
	"\t\tlocal et = t:add(pf.ext, tvb(eoff, math.min(whole, hl - eoff)))\n"
	"\t\tet:add_le(pf.ext_type, tvb(eoff, 2))\n"
	"\t\tet:add_le(pf.ext_len, tvb(eoff + 2, 2))\n"
	"\t\tif etype == TRACE_EXT_MARK and elen > 0 then\n"
	"\t\t\tmark = tvb(eoff + TRACE_EXT_HDR, elen):string(ENC_UTF_8)\n"
	"\t\t\tet:add(pf.mark, tvb(eoff + TRACE_EXT_HDR, elen), mark)\n"
	"\t\t\tet:add_proto_expert_info(pe.mark, mark)\n"
	"\t\tend\n"
	"\t\teoff = eoff + whole\n"
	"\tend\n"
	"\n"
	"\tif hl == len then\n"
	"\t\tt:add_proto_expert_info(pe.empty)\n"
	"\t\treturn len\n"
	"\tend\n"
	"\tctx = {\n"
	"\t\tframe = pinfo.number, session = session, chan = chan, from = from, nfds = nfds,\n"
	"\t\taction = action, rule = rule, mark = mark,\n"
	"\t\tas_sent = bit32.band(flags, TRACE_F_AS_SENT) ~= 0,\n"
	"\t}\n"
	"\treturn hl + message:call(tvb(hl):tvb(), pinfo, tree)\n"
	"end\n"
	"\n"
	"message = Dissector.get(\"vhostuser\")\n"
	"DissectorTable.get(\"wtap_encap\"):add(wtap_encaps.USER0, vuproxy)\n"
	"\n"
	"-- The tap's blk records (USER1): one completed virtio-blk request each.\n"
	"local vuproxy_blk = Proto(\"vuproxy.blk\", \"vuproxy virtio-blk tap record\")\n"
	"local bf = {\n"
	"\tmagic = ProtoField.string(\"vuproxy.blk.magic\", \"Magic\"),\n"
	"\tversion = ProtoField.uint8(\"vuproxy.blk.version\", \"Version\"),\n"
	"\tflags = ProtoField.uint8(\"vuproxy.blk.flags\", \"Flags\", base.HEX),\n"
	"\tstatus_known = ProtoField.bool(\"vuproxy.blk.flags.status_known\",\n"
	"\t\t\"Status known\", 8, nil, BLK_F_STATUS),\n"
	"\tlatency_known = ProtoField.bool(\"vuproxy.blk.flags.latency_known\",\n"
	"\t\t\"Latency known\", 8, nil, BLK_F_LATENCY),\n"
	"\tflags_reserved = ProtoField.uint8(\"vuproxy.blk.flags.reserved\",\n"
	"\t\t\"Reserved\", base.HEX, nil, BLK_F_RESERVED),\n"
	"\tqueue = ProtoField.uint16(\"vuproxy.blk.queue\", \"Virtqueue\"),\n"
	"\tid = ProtoField.uint16(\"vuproxy.blk.id\", \"Descriptor id\"),\n"
	"\ttype = ProtoField.uint32(\"vuproxy.blk.type\", \"Type\", base.DEC,\n"
	"\t\tBLK_TYPE),\n"
	"\ttype_name = ProtoField.string(\"vuproxy.blk.type_name\", \"Type name\"),\n"
	"\tlen = ProtoField.uint32(\"vuproxy.blk.len\", \"Data length\"),\n"
	"\tsector = ProtoField.uint64(\"vuproxy.blk.sector\", \"Sector\"),\n"
	"\tstatus = ProtoField.uint8(\"vuproxy.blk.status\", \"Status\", base.DEC,\n"
	"\t\tBLK_STATUS),\n"
	"\tstatus_name = ProtoField.string(\"vuproxy.blk.status_name\",\n"
	"\t\t\"Status name\"),\n"
	"\treserved = ProtoField.bytes(\"vuproxy.blk.reserved\", \"Reserved\"),\n"
	"\tused_len = ProtoField.uint32(\"vuproxy.blk.used_len\", \"Used length\"),\n"
	"\tlatency = ProtoField.uint64(\"vuproxy.blk.latency\", \"Latency (ns)\"),\n"
	"\tdata = ProtoField.bytes(\"vuproxy.blk.data\", \"Data\"),\n"
	"}\n"
	"local bx = {\n"
	"\tbad = ProtoExpert.new(\"vuproxy.blk.bad\",\n"
	"\t\t\"Not a vuproxy blk record\",\n"
	"\t\texpert.group.MALFORMED, expert.severity.ERROR),\n"
	"\tversion = ProtoExpert.new(\"vuproxy.blk.version.unsupported\",\n"
	"\t\t\"blk record version not supported\",\n"
	"\t\texpert.group.UNDECODED, expert.severity.WARN),\n"
	"\tfailed = ProtoExpert.new(\"vuproxy.blk.failed\",\n"
	"\t\t\"Request failed\",\n"
	"\t\texpert.group.RESPONSE_CODE, expert.severity.NOTE),\n"
	"}\n"
	"all = {}\n"
	"for _, field in pairs(bf) do all[#all + 1] = field end\n"
	"vuproxy_blk.fields = all\n"
	"vuproxy_blk.experts = {bx.bad, bx.version, bx.failed}\n"
	"\n"
	"-- The session, from the interface name \"s<session> blk\".\n"
	"local f_ifname = Field.new(\"frame.interface_name\")\n"
	"\n"
	"function vuproxy_blk.dissector(tvb, pinfo, tree)\n"
	"\tlocal len = tvb:len()\n"
	"\tpinfo.cols.protocol:set(\"VUPROXY-BLK\")\n"
	"\tlocal t = tree:add(vuproxy_blk, tvb())\n"
	"\tif len < 3 or tvb(0, 2):string() ~= BLK_MAGIC then\n"
	"\t\tt:add_proto_expert_info(bx.bad)\n"
	"\t\tpinfo.cols.info:set(\"not a vuproxy blk record\")\n"
	"\t\treturn len\n"
	"\tend\n"
	"\tt:add(bf.magic, tvb(0, 2))\n"
	"\tlocal version = tvb(2, 1):uint()\n"
	"\tlocal vi = t:add(bf.version, tvb(2, 1))\n"
	"\tif version ~= BLK_VERSION or len < BLK_REC_SIZE then\n"
	"\t\tvi:add_proto_expert_info(bx.version, string.format(\n"
	"\t\t\t\"blk record version %d in %d bytes; this dissector \" ..\n"
	"\t\t\t\"reads version %d of %d bytes\", version, len,\n"
	"\t\t\tBLK_VERSION, BLK_REC_SIZE))\n"
	"\t\tpinfo.cols.info:set(\"vuproxy blk record version \" .. version)\n"
	"\t\treturn len\n"
	"\tend\n"
	"\tlocal flags = tvb(3, 1):uint()\n"
	"\tlocal fi = t:add(bf.flags, tvb(3, 1))\n"
	"\tfi:add(bf.status_known, tvb(3, 1))\n"
	"\tfi:add(bf.latency_known, tvb(3, 1))\n"
	"\tfi:add(bf.flags_reserved, tvb(3, 1))\n"
	"\tt:add_le(bf.queue, tvb(4, 2))\n"
	"\tt:add_le(bf.id, tvb(6, 2))\n"
	"\tlocal typ = tvb(8, 4):le_uint()\n"
	"\tlocal tname = BLK_TYPE[typ] or (\"type \" .. typ)\n"
	"\tt:add_le(bf.type, tvb(8, 4))\n"
	"\tt:add(bf.type_name, tvb(8, 4), tname):set_generated()\n"
	"\tt:add_le(bf.len, tvb(12, 4))\n"
	"\tt:add_le(bf.sector, tvb(16, 8))\n"
	"\tlocal words = {\"q\" .. tvb(4, 2):le_uint(), tname,\n"
	"\t\t\"id=\" .. tvb(6, 2):le_uint(),\n"
	"\t\t\"sector=\" .. tostring(tvb(16, 8):le_uint64()),\n"
	"\t\t\"len=\" .. tvb(12, 4):le_uint()}\n"
	"\tlocal status = tvb(24, 1):uint()\n"
	"\tif bit32.band(flags, BLK_F_STATUS) ~= 0 then\n"
	"\t\tlocal si = t:add(bf.status, tvb(24, 1))\n"
	"\t\tlocal sname = BLK_STATUS[status] or tostring(status)\n"
	"\t\tt:add(bf.status_name, tvb(24, 1), sname):set_generated()\n"
	"\t\tif status ~= 0 then\n"
	"\t\t\tsi:add_proto_expert_info(bx.failed, \"Request failed: \" ..\n"
	"\t\t\t\tsname)\n"
	"\t\tend\n"
	"\t\twords[#words + 1] = \"status=\" .. sname\n"
	"\telse\n"
	"\t\twords[#words + 1] = \"status=?\"\n"
	"\tend\n"
	"\tt:add(bf.reserved, tvb(25, 3))\n"
	"\tt:add_le(bf.used_len, tvb(28, 4))\n"
	"\tif bit32.band(flags, BLK_F_LATENCY) ~= 0 then\n"
	"\t\tt:add_le(bf.latency, tvb(32, 8))\n"
	"\t\tlocal ns = tvb(32, 8):le_uint64()\n"
	"\t\twords[#words + 1] = \"latency=\" ..\n"
	"\t\t\ttostring((ns + 500) / 1000) .. \"us\"\n"
	"\telse\n"
	"\t\twords[#words + 1] = \"latency=?\"\n"
	"\tend\n"
	"\tif len > BLK_REC_SIZE then\n"
	"\t\tt:add(bf.data, tvb(BLK_REC_SIZE, len - BLK_REC_SIZE))\n"
	"\tend\n"
	"\tt:append_text(\": \" .. table.concat(words, \" \"))\n"
	"\tlocal ifname = f_ifname()\n"
	"\tlocal session = ifname and tostring(ifname.value):match(\"^(s%d+) \")\n"
	"\tif session then\n"
	"\t\ttable.insert(words, 1, session .. \" blk\")\n"
	"\tend\n"
	"\tpinfo.cols.info:set(table.concat(words, \" \"))\n"
	"\treturn len\n"
	"end\n"
	"\n"
	"DissectorTable.get(\"wtap_encap\"):add(wtap_encaps.USER1, vuproxy_blk)\n";
/* clang-format on */

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
	fputs(header_lua, stdout);
	if (emit_data(stdout))
		return 1;
	fputs(engine_lua, stdout);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "vuproxy wireshark-lua: write error\n");
		return 1;
	}
	return 0;
}
