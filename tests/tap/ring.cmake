# Ring reader tests (src/tap/ring*.c), included from tests/tap/CMakeLists.txt.
vup_unit_test(test_ring_split ${CMAKE_CURRENT_LIST_DIR}/test_ring_split.c)
vup_unit_test(test_ring_packed ${CMAKE_CURRENT_LIST_DIR}/test_ring_packed.c)
