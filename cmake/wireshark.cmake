# Wireshark's global folders, found once for every install rule that needs
# one: VUP_WIRESHARK_EXTCAP_DIR (the extcap launcher, cmake/extcap.cmake)
# and VUP_WIRESHARK_LUA_DIR (the dissector, cmake/install.cmake).  Either
# cache variable set by hand wins (a relative one is under the prefix);
# left empty, the folder is found again at each configure, so that no
# earlier prefix's default stays in the cache.
#
# Wireshark reads its global folders only, wherever vuproxy's prefix is, so
# the default is what the installed Wireshark reports:
# 1. tshark, when found: `tshark -G folders`, lines "Global Extcap path"
#    ("Extcap path" before Wireshark 4.2) and "Global Lua Plugins";
# 2. pkg-config wireshark (libwireshark-dev): `plugindir` is the folder of
#    compiled plugins, PLUGINS/X.Y; Lua plugins are loaded from PLUGINS
#    itself (Wireshark's user guide, "Plugin folders"), so X.Y is dropped;
#    extcap has no pkg-config variable;
# 3. LIBDIR/wireshark/{extcap,plugins} under the prefix, Debian's layout
#    for a prefix of /usr (lib/x86_64-linux-gnu/wireshark/...).
include(GNUInstallDirs)
set(VUP_WIRESHARK_EXTCAP_DIR "" CACHE PATH
  "Where the Wireshark extcap launcher is installed (empty: Wireshark's global extcap folder)")
set(VUP_WIRESHARK_LUA_DIR "" CACHE PATH
  "Where the Wireshark Lua dissector is installed (empty: Wireshark's global Lua plugins folder)")

set(_vup_extcap_dir "${CMAKE_INSTALL_LIBDIR}/wireshark/extcap")
set(_vup_lua_dir "${CMAKE_INSTALL_LIBDIR}/wireshark/plugins")
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_get_variable(_vup_ws_plugindir wireshark plugindir)
  if(_vup_ws_plugindir)
    string(REGEX REPLACE "/[0-9]+\\.[0-9]+/?$" "" _vup_lua_dir
      "${_vup_ws_plugindir}")
  endif()
endif()
find_program(VUP_TSHARK tshark)
if(VUP_TSHARK)
  execute_process(COMMAND ${VUP_TSHARK} -G folders
    OUTPUT_VARIABLE _vup_folders ERROR_QUIET TIMEOUT 30)
  if(_vup_folders MATCHES "(^|\n)(Global )?Extcap path:[ \t]*([^\n]+)")
    set(_vup_extcap_dir "${CMAKE_MATCH_3}")
  endif()
  if(_vup_folders MATCHES "(^|\n)Global Lua Plugins:[ \t]*([^\n]+)")
    set(_vup_lua_dir "${CMAKE_MATCH_2}")
  endif()
endif()
if(VUP_WIRESHARK_EXTCAP_DIR)
  set(_vup_extcap_dir "${VUP_WIRESHARK_EXTCAP_DIR}")
endif()
if(VUP_WIRESHARK_LUA_DIR)
  set(_vup_lua_dir "${VUP_WIRESHARK_LUA_DIR}")
endif()
message(STATUS "Wireshark's folders: Lua ${_vup_lua_dir}, extcap ${_vup_extcap_dir}")
