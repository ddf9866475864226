# The Wireshark extcap launcher (tools/wireshark/vuproxy-extcap), installed
# into Wireshark's global extcap folder with the path of the installed
# vuproxy (BINDIR/vuproxy) written into it.
#
# The folder is VUP_WIRESHARK_EXTCAP_DIR (cmake/wireshark.cmake: by default
# the one tshark names at configure time).  A user's own folder: README,
# "Live in Wireshark".
include(${CMAKE_CURRENT_LIST_DIR}/wireshark.cmake)

set(_vup_launcher ${PROJECT_SOURCE_DIR}/tools/wireshark/vuproxy-extcap)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_vup_launcher})
file(READ ${_vup_launcher} _vup_text)
string(REGEX REPLACE "\nVUPROXY=[^\n]*"
  "\nVUPROXY='${CMAKE_INSTALL_FULL_BINDIR}/vuproxy'" _vup_text "${_vup_text}")
file(WRITE ${PROJECT_BINARY_DIR}/vuproxy-extcap "${_vup_text}")
install(PROGRAMS ${PROJECT_BINARY_DIR}/vuproxy-extcap
  DESTINATION ${_vup_extcap_dir})
