# `docs` target: the API reference from the public headers, with Doxygen. Doxygen warnings (an
# undocumented public symbol, a broken reference) fail the target.
find_package(Doxygen QUIET)
if(DOXYGEN_FOUND)
  set(TOFU_DOCS_OUTPUT ${PROJECT_BINARY_DIR}/docs)
  configure_file(${PROJECT_SOURCE_DIR}/docs/Doxyfile.in ${PROJECT_BINARY_DIR}/Doxyfile @ONLY)
  add_custom_target(docs
    COMMAND ${DOXYGEN_EXECUTABLE} ${PROJECT_BINARY_DIR}/Doxyfile
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR}
    COMMENT "API reference (Doxygen) in ${TOFU_DOCS_OUTPUT}/html"
    VERBATIM)
else()
  message(STATUS "Doxygen not found: no 'docs' target")
endif()
