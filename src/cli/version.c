/* version: what --version prints, from the header the build writes
 * (cmake/version.cmake: `git describe --always --dirty` at build time,
 * the project's version outside git).  Only this file includes it, so
 * that a new commit rebuilds one object. */
#include "cli_internal.h"
#include "vup_version.h"

const char *vup__cli_version(void)
{
	return VUP_VERSION;
}

const char *vup__cli_version_date(void)
{
	return VUP_DATE;
}
