/* wireshark_lua: what the parts of `vuproxy wireshark-lua` share.  Private
 * to src/wireshark/lua*.c. */
#ifndef VUPROXY_SRC_WIRESHARK_LUA_H
#define VUPROXY_SRC_WIRESHARK_LUA_H

#include <stdio.h>

/* A Lua string literal of s. */
void vup__lua_str(FILE *f, const char *s);
/* `local VAR = { [i] = "name", ... }` for the i < n that name(i) names. */
void vup__lua_names(FILE *f, const char *var, const char *comment,
                    const char *(*name)(unsigned), unsigned n);
/* The finding record's constants and the table of checks
 * (wireshark_lua_check.c). */
void vup__lua_findings(FILE *f);

#endif
