# The fuzz targets of issue 13 part B, included by tests/fuzz/CMakeLists.txt
# (MUTORCH_FUZZ=ON): the result-log reader with both record schemas, and
# the schema check of a base's `mutorch ci` note, each parsing a buffer.
# Seeds: tests/fuzz/corpus/resultlog/ and tests/fuzz/corpus/note/.
mt_fuzz_target(NAME fuzz_resultlog SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_resultlog.c ${CMAKE_SOURCE_DIR}/runner/resultlog.c ${CMAKE_SOURCE_DIR}/runner/resultlog_schema.c LIBS mt_core PkgConfig::JANSSON ZLIB::ZLIB)
mt_fuzz_target(NAME fuzz_note SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_note.c ${CMAKE_SOURCE_DIR}/cli/ci_note_check.c LIBS PkgConfig::JANSSON)
