/* table: the rows of VUP_CHECKS, their names, and the table as markdown
 * for README. */
#include <stdio.h>

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

uint8_t vup_check_severity_byte(enum vup_check_severity s)
{
	return s == VUP_SEV_ERROR ? 2 : s == VUP_SEV_WARNING ? 1 : 0;
}

const char *vup_check_kind_name(enum vup_check_kind k)
{
	static const char *const names[] = {
	        "ordering",  "negotiation", "replies", "memory",
	        "migration", "device",      "framing",
	};
	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

/* A cell: '|' would end it, a line break the row. */
static void cell(FILE *f, const char *s)
{
	fputs(" ", f);
	for (; *s; s++)
		if (*s == '|')
			fputs("\\|", f);
		else
			fputc(*s == '\n' ? ' ' : *s, f);
	fputs(" |", f);
}

int vup_check_table_markdown(FILE *f)
{
	fputs("| id | severity | kind | check | spec section | the spec "
	      "says |\n|---|---|---|---|---|---|\n",
	      f);
	for (int i = 0; i < VUP_CHECK_COUNT; i++) {
		const struct vup_check_row *r = &rows[i];
		fprintf(f, "| %s | %s | %s |", r->code,
		        vup_check_severity_name(r->severity),
		        vup_check_kind_name(r->kind));
		cell(f, r->title);
		cell(f, r->section);
		cell(f, r->quote);
		fputc('\n', f);
	}
	return fflush(f) || ferror(f) ? -1 : 0;
}
