/* table: the rows of VUP_CHECKS, and their names. */
#include "internal.h"

static const struct vup_check_row rows[VUP_CHECK_COUNT] = {
#define X(id_, code_, sev, kind_, sec, quote_, peers_, title_)                 \
	[VUP_CHECK_##id_] = {.id = VUP_CHECK_##id_,                            \
	                     .code = code_,                                    \
	                     .severity = VUP_SEV_##sev,                        \
	                     .kind = VUP_CK_##kind_,                           \
	                     .section = sec,                                   \
	                     .quote = quote_,                                  \
	                     .peers = peers_,                                  \
	                     .title = title_},
        VUP_CHECKS(X)
#undef X
};

const struct vup_check_row *vup_check_row(enum vup_check_id id)
{
	return (unsigned)id < VUP_CHECK_COUNT ? &rows[id] : NULL;
}

const char *vup_check_severity_name(enum vup_check_severity s)
{
	static const char *const names[] = {"error", "warning", "info"};
	return (unsigned)s < VUP_SEV_COUNT ? names[s] : "?";
}

const char *vup_check_kind_name(enum vup_check_kind k)
{
	static const char *const names[] = {
	        "ordering",  "negotiation", "replies", "memory",
	        "migration", "device",      "framing",
	};
	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}
