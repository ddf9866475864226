/* wireshark-lua: the `vuproxy wireshark-lua` subcommand, which prints the
 * Wireshark Lua dissector for vuproxy traces, generated from the message
 * catalogue and the payload field tables (tools/wireshark/vuproxy.lua). */
#ifndef VUPROXY_WIRESHARK_LUA_H
#define VUPROXY_WIRESHARK_LUA_H

int vup_wireshark_lua_main(int argc, char **argv);

#endif
