# Writes OUT (a C header defining VUP_VERSION) from `git describe --always
# --dirty` in SRC, or PROJECT_VERSION alone outside git.  Run at every
# build (a target, not configure time), but OUT is rewritten only when the
# text changes, so that nothing rebuilds for nothing.
set(version "${PROJECT_VERSION}")
set(date "")
find_package(Git QUIET)
if(GIT_FOUND AND EXISTS "${SRC}/.git")
  execute_process(
    COMMAND "${GIT_EXECUTABLE}" -C "${SRC}" describe --always --dirty
    OUTPUT_VARIABLE described
    RESULT_VARIABLE rc
    ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(rc EQUAL 0 AND described)
    set(version "${PROJECT_VERSION} (git ${described})")
  endif()
  # The man page's date: the commit's, so that a rebuild changes nothing.
  execute_process(
    COMMAND "${GIT_EXECUTABLE}" -C "${SRC}" log -1 --format=%cs
    OUTPUT_VARIABLE date
    ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()
set(text "#define VUP_VERSION \"${version}\"\n#define VUP_DATE \"${date}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
