/* wireshark_lua_check: the part of `vuproxy wireshark-lua` that the
 * dissector of finding records reads: the record's constants (tracemsg.h)
 * and the rows of VUP_CHECKS, so that a finding shows its row's title and
 * the spec sentence it rests on without the record repeating them. */
#include "lua_internal.h"
#include "vuproxy/check.h"
#include "vuproxy/tracemsg.h"

static void field(FILE *f, const char *key, const char *value, bool last)
{
	fprintf(f, "\t\t%s = ", key);
	vup__lua_str(f, value);
	fputs(last ? "\n" : ",\n", f);
}

void vup__lua_findings(FILE *f)
{
	fprintf(f,
	        "-- The finding record (include/vuproxy/tracemsg.h), "
	        "little-endian, on the\n"
	        "-- LINKTYPE_USER3 interface named \"%s\".\n"
	        "local FINDING_MAGIC = \"%c%c\"\n"
	        "local FINDING_VERSION = %u\n"
	        "local FINDING_FIXED = %u\n\n",
	        VUP_FINDING_IFACE, VUP_FINDING_MAGIC0, VUP_FINDING_MAGIC1,
	        VUP_FINDING_VERSION, VUP_FINDING_FIXED);
	vup__lua_names(f, "FINDING_SEVERITY", "The severity byte of a finding.",
	               vup_finding_severity_name, 256);
	fputs("-- The checks (VUP_CHECKS, include/vuproxy/check.h) by id: "
	      "severity, kind,\n"
	      "-- title, and the section of docs/interop/vhost-user.rst with "
	      "the sentence\n"
	      "-- quoted from it.\n"
	      "local CHECK = {\n",
	      f);
	for (int k = 0; k < VUP_CHECK_COUNT; k++) {
		const struct vup_check_row *row = vup_check_row(k);
		fputs("\t[", f);
		vup__lua_str(f, row->code);
		fputs("] = {\n", f);
		field(f, "severity", vup_check_severity_name(row->severity),
		      false);
		field(f, "kind", vup_check_kind_name(row->kind), false);
		field(f, "title", row->title, false);
		field(f, "section", row->section, false);
		field(f, "quote", row->quote, true);
		fputs("\t},\n", f);
	}
	fputs("}\n\n", f);
}
