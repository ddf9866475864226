# `cmake --install`: what goes where (README, "Install").  Included last
# from the top CMakeLists.txt, so that the targets it tests (vup_man) exist.
#
#   BINDIR/vuproxy                          the program
#   MANDIR/man1/vuproxy.1.gz                its man page, when vup_man exists
#   WIRESHARK-LUA/vuproxy.lua               the dissector  } cmake/wireshark.cmake:
#   WIRESHARK-EXTCAP/vuproxy-extcap         the launcher   } Wireshark's own folders
#   DATADIR/vuproxy/rules/*.yaml            the example rules
#   SYSTEMD/vuproxy@.{service,socket}       the units (/lib/systemd/system)
#   SYSCONFDIR/vuproxy/                     empty: the units' NAME.conf go here
#   DOCDIR/examples/vuproxy.conf.example    what a NAME.conf says
#
# The example conf is documentation, not a conffile: a file in
# /etc/vuproxy would be read by `vuproxy@FILE-NAME`, and dpkg would keep an
# example the admin never edited as a conffile forever.
include(GNUInstallDirs)
include(${CMAKE_CURRENT_LIST_DIR}/extcap.cmake)

install(TARGETS vuproxy RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Debian policy 12.1: man pages compressed with `gzip -9n` (-n: no name
# or time stamp, so the package is reproducible).  man reads .gz anywhere,
# so a source install gets the same file.
if(TARGET vup_man)
  find_program(VUP_GZIP gzip REQUIRED)
  add_custom_command(
    OUTPUT ${PROJECT_BINARY_DIR}/vuproxy.1.gz
    COMMAND ${VUP_GZIP} -9nkf ${PROJECT_BINARY_DIR}/vuproxy.1
    DEPENDS vup_man ${PROJECT_BINARY_DIR}/vuproxy.1
    COMMENT "Compressing vuproxy.1"
    VERBATIM)
  add_custom_target(vup_man_gz ALL DEPENDS ${PROJECT_BINARY_DIR}/vuproxy.1.gz)
  install(FILES ${PROJECT_BINARY_DIR}/vuproxy.1.gz
    DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

# The committed dissector: tests/wireshark/lua_drift.sh fails when it is
# not what `vuproxy wireshark-lua` prints.
install(FILES ${PROJECT_SOURCE_DIR}/tools/wireshark/vuproxy.lua
  DESTINATION ${_vup_lua_dir})

install(DIRECTORY ${PROJECT_SOURCE_DIR}/rules/
  DESTINATION ${CMAKE_INSTALL_DATADIR}/vuproxy/rules
  FILES_MATCHING PATTERN "*.yaml")

# systemd units: a prefix of /usr (a package) uses systemd's own folder,
# /lib/systemd/system on Debian 12; any other prefix PREFIX/lib/systemd/system
# (systemd looks in /usr/local/lib/systemd/system too).  Found again at
# each configure unless VUP_SYSTEMD_UNIT_DIR is set, as Wireshark's.
set(VUP_SYSTEMD_UNIT_DIR "" CACHE PATH
  "Where the systemd units are installed (empty: systemd's for a prefix of /usr, else lib/systemd/system)")
set(_vup_unit_dir lib/systemd/system)
if(VUP_SYSTEMD_UNIT_DIR)
  set(_vup_unit_dir "${VUP_SYSTEMD_UNIT_DIR}")
elseif(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(_vup_unit_dir /lib/systemd/system)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_get_variable(_vup_sd_dir systemd systemdsystemunitdir)
    if(_vup_sd_dir)
      set(_vup_unit_dir "${_vup_sd_dir}")
    endif()
  endif()
endif()

# The units name /usr/bin/vuproxy and /etc/vuproxy, a package's paths; the
# installed copies name this prefix's.
file(GLOB _vup_units CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/dist/systemd/*.service
  ${PROJECT_SOURCE_DIR}/dist/systemd/*.socket)
foreach(_vup_unit IN LISTS _vup_units)
  get_filename_component(_vup_name ${_vup_unit} NAME)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_vup_unit})
  file(READ ${_vup_unit} _vup_text)
  string(REPLACE "/usr/bin/vuproxy" "${CMAKE_INSTALL_FULL_BINDIR}/vuproxy"
    _vup_text "${_vup_text}")
  string(REPLACE "/etc/vuproxy/" "${CMAKE_INSTALL_FULL_SYSCONFDIR}/vuproxy/"
    _vup_text "${_vup_text}")
  file(WRITE ${PROJECT_BINARY_DIR}/systemd/${_vup_name} "${_vup_text}")
  install(FILES ${PROJECT_BINARY_DIR}/systemd/${_vup_name}
    DESTINATION ${_vup_unit_dir})
endforeach()

if(EXISTS ${PROJECT_SOURCE_DIR}/dist/vuproxy.conf.example)
  install(FILES ${PROJECT_SOURCE_DIR}/dist/vuproxy.conf.example
    DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
endif()
install(DIRECTORY DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/vuproxy)

include(${CMAKE_CURRENT_LIST_DIR}/package.cmake)
