# `cpack -G DEB` in a build directory configured with
# -DCMAKE_INSTALL_PREFIX=/usr makes vuproxy_VERSION_ARCH.deb from the
# install rules (cmake/install.cmake).  scripts/ci-package.sh checks it.
#
# Maintainer scripts: only `systemctl daemon-reload` after install,
# upgrade and removal (dist/debian/, as dh_installsystemd does).  The
# package ships no conffile, creates no user and enables nothing: the admin
# writes /etc/vuproxy/NAME.conf and enables vuproxy@NAME (README, "Install").

# The version: VUP_VERSION_STRING when the build defines it (git
# describe), else the project's.  A Debian version starts with a digit and
# has no '-' without a Debian revision: "0.1.0-3-gabc-dirty" becomes
# "0.1.0+3+gabc+dirty" and a bare commit "abc1234" becomes
# "0.1.0+gabc1234".
# In git, the commit count orders builds of one project version for apt
# (0.1.0+git812.3c60279 is newer than 0.1.0+git799.abcdef0).
if(NOT DEFINED VUP_VERSION_STRING)
  set(VUP_VERSION_STRING "${PROJECT_VERSION}")
  find_package(Git QUIET)
  if(GIT_FOUND AND EXISTS "${PROJECT_SOURCE_DIR}/.git")
    execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${PROJECT_SOURCE_DIR}"
                    rev-list --count HEAD
                    OUTPUT_VARIABLE _vup_count RESULT_VARIABLE _rc1
                    ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
    execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${PROJECT_SOURCE_DIR}"
                    rev-parse --short HEAD
                    OUTPUT_VARIABLE _vup_hash RESULT_VARIABLE _rc2
                    ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(_rc1 EQUAL 0 AND _rc2 EQUAL 0 AND _vup_count AND _vup_hash)
      set(VUP_VERSION_STRING
          "${PROJECT_VERSION}+git${_vup_count}.${_vup_hash}")
    endif()
  endif()
endif()
string(REGEX REPLACE "^v" "" _vup_deb_version "${VUP_VERSION_STRING}")
string(REPLACE "-" "+" _vup_deb_version "${_vup_deb_version}")
if(NOT _vup_deb_version MATCHES "^[0-9]")
  set(_vup_deb_version "${PROJECT_VERSION}+g${_vup_deb_version}")
endif()

set(CPACK_PACKAGE_NAME vuproxy)
set(CPACK_PACKAGE_VERSION "${_vup_deb_version}")
set(CPACK_PACKAGE_VENDOR "vuproxy")
set(CPACK_PACKAGE_CONTACT
  "vuproxy maintainers <maintainers@users.noreply.r-seed-6880f858.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "vhost-user proxy: record, check, change and replay vhost-user sessions")
# The long description; cpack puts the summary above it.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "vuproxy sits between a vhost-user front-end (QEMU, DPDK virtio-user) and a
back-end (DPDK vhost, SPDK, qemu-storage-daemon, virtiofsd) and relays every
message with its file descriptors. It records the session as pcapng (a
Wireshark dissector and extcap launcher are included), applies YAML fault
injection rules, checks recorded sessions against the protocol, and replays
them against a new front-end or back-end.")
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
# Wireshark's folders and the units' folder are absolute paths: installed
# under DESTDIR, they land in the package, not on the building machine.
set(CPACK_SET_DESTDIR ON)
# As Debian's own packages (dh_strip): the symbols go, not the code.
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends from the binary's libraries (dpkg-shlibdeps, in dpkg-dev).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Depends beyond the libraries: what the units run (ExecReload=/bin/kill
# is procps's; a minimal Debian has no /bin/kill).  cpack adds the
# libraries' to these.
set(_vup_deps "")
foreach(_vup_unit IN LISTS _vup_units)
  file(READ ${_vup_unit} _vup_text)
  if(_vup_text MATCHES "\nExec[A-Za-z]*=[-@:+!]*/bin/kill[ \n]")
    list(APPEND _vup_deps procps)
  endif()
endforeach()
list(REMOVE_DUPLICATES _vup_deps)
string(REPLACE ";" ", " CPACK_DEBIAN_PACKAGE_DEPENDS "${_vup_deps}")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/dist/debian/postinst
  ${PROJECT_SOURCE_DIR}/dist/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# The dissector and the extcap launcher are loaded by Wireshark.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "tshark | wireshark")

# cpack fails, instead of making a package for /usr/local: Debian packages
# install under /usr, and the launcher and units name the configured paths.
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_BINARY_DIR}/vup_cpack_config.cmake)
file(WRITE ${CPACK_PROJECT_CONFIG_FILE} "
if(CPACK_GENERATOR STREQUAL \"DEB\" AND NOT \"${CMAKE_INSTALL_PREFIX}\" STREQUAL \"/usr\")
  message(FATAL_ERROR \"vuproxy: this build's prefix is ${CMAKE_INSTALL_PREFIX}; \"
    \"a .deb needs -DCMAKE_INSTALL_PREFIX=/usr (README, Install)\")
endif()
")
include(CPack)
