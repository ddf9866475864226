# The Wireshark extcap launcher (tools/wireshark/vuproxy-extcap), installed
# into Wireshark's global extcap folder with the path of the installed
# vuproxy (BINDIR/vuproxy) written into it.
#
# The folder is VUP_WIRESHARK_EXTCAP_DIR: by default the one tshark names
# when it is found at configure time ("Global Extcap path", "Extcap path"
# before Wireshark 4.2), else LIBDIR/wireshark/extcap under the prefix
# (lib/x86_64-linux-gnu/wireshark/extcap for a Debian prefix of /usr).
# Wireshark has no pkg-config variable for it.  A user's own folder:
# README, "Live in Wireshark".
include(GNUInstallDirs)
set(_vup_extcap_dir "${CMAKE_INSTALL_LIBDIR}/wireshark/extcap")
find_program(VUP_TSHARK tshark)
if(VUP_TSHARK AND NOT DEFINED CACHE{VUP_WIRESHARK_EXTCAP_DIR})
  execute_process(COMMAND ${VUP_TSHARK} -G folders
    OUTPUT_VARIABLE _vup_folders ERROR_QUIET TIMEOUT 30)
  if(_vup_folders MATCHES "(^|\n)(Global )?Extcap path:[ \t]*([^\n]+)")
    set(_vup_extcap_dir "${CMAKE_MATCH_3}")
  endif()
endif()
set(VUP_WIRESHARK_EXTCAP_DIR "${_vup_extcap_dir}" CACHE PATH
  "Where the Wireshark extcap launcher is installed (relative: under the prefix)")

set(_vup_launcher ${PROJECT_SOURCE_DIR}/tools/wireshark/vuproxy-extcap)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_vup_launcher})
file(READ ${_vup_launcher} _vup_text)
string(REGEX REPLACE "\nVUPROXY=[^\n]*"
  "\nVUPROXY='${CMAKE_INSTALL_FULL_BINDIR}/vuproxy'" _vup_text "${_vup_text}")
file(WRITE ${PROJECT_BINARY_DIR}/vuproxy-extcap "${_vup_text}")
install(PROGRAMS ${PROJECT_BINARY_DIR}/vuproxy-extcap
  DESTINATION ${VUP_WIRESHARK_EXTCAP_DIR})
