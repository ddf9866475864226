/* Private to src/control: the client's printers (ctl_print.c, prom.c). */
#ifndef VUP_CONTROL_CTL_H
#define VUP_CONTROL_CTL_H

#include <stdio.h>

#include "vuproxy/json.h"

/* A reply's result (node res of d) as a human table for command cmd
 * ("sessions", "show", ...); anything else is printed as JSON. */
void vup__ctl_print(FILE *f, const char *cmd, const struct vup_json_doc *d,
                    int res);
/* One event line as a human line. */
void vup__ctl_print_event(FILE *f, const struct vup_json_doc *d);
/* The result of "stats" in the Prometheus text exposition format
 * (version 0.0.4): prefix vuproxy_, a HELP and a TYPE line per metric,
 * counters named *_total.  0, or -EINVAL if res is not an object. */
int vup__prom_write(FILE *f, const struct vup_json_doc *d, int res);

#endif
