/* cli_internal: what the command line's files share. */
#ifndef VUP_CLI_INTERNAL_H
#define VUP_CLI_INTERNAL_H

#include <stdio.h>

#include "options.h"

/* `vuproxy [options]`: the proxy. */
int vup__cli_proxy(int argc, char **argv);
/* `vuproxy requests`: the catalogue. */
int vup__cli_requests(int argc, char **argv);
/* The proxy with parsed options, until it stops: the exit status. */
int vup__proxy_run(struct vup_proxy_args *a);
/* The top-level usage: the proxy's options and the subcommands. */
void vup__cli_usage(FILE *f);
/* "0.1.0 (git 3c60279-dirty)", set at build time (version.c). */
const char *vup__cli_version(void);
/* The date of that commit, YYYY-MM-DD ("" outside git): the man page's. */
const char *vup__cli_version_date(void);

#endif
