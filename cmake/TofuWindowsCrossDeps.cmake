# The test and tool dependencies of a Windows cross-build (mingw-w64), from the same Debian
# packages as the Linux build: GoogleTest from its sources (googletest ships /usr/src/googletest),
# CLI11 and nlohmann-json as the header-only libraries they are. Their Linux CMake packages cannot
# be used: they point at /usr/include, which must never reach a MinGW compile, so the headers are
# reached through links in the build tree instead.

set(tofu_googletest_source /usr/src/googletest CACHE PATH "GoogleTest sources (Debian: googletest)")
if(NOT EXISTS ${tofu_googletest_source}/CMakeLists.txt)
  message(FATAL_ERROR "Windows cross-build: no GoogleTest sources at ${tofu_googletest_source} "
                      "(apt-get install googletest)")
endif()
set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
set(gtest_force_shared_crt ON CACHE BOOL "" FORCE)
# It defines GTest::gtest and GTest::gtest_main, as find_package(GTest) would.
add_subdirectory(${tofu_googletest_source} ${PROJECT_BINARY_DIR}/googletest EXCLUDE_FROM_ALL SYSTEM)

# tofu_header_only_package(<target> <directory under /usr/include>)
function(tofu_header_only_package target directory)
  set(root ${PROJECT_BINARY_DIR}/host-headers/${target})
  string(REPLACE "::" "_" root "${root}")
  if(NOT EXISTS /usr/include/${directory})
    message(FATAL_ERROR "Windows cross-build: /usr/include/${directory} is missing")
  endif()
  file(MAKE_DIRECTORY ${root})
  file(CREATE_LINK /usr/include/${directory} ${root}/${directory} SYMBOLIC)
  add_library(${target} INTERFACE IMPORTED GLOBAL)
  target_include_directories(${target} SYSTEM INTERFACE ${root})
endfunction()
tofu_header_only_package(nlohmann_json::nlohmann_json nlohmann)
tofu_header_only_package(CLI11::CLI11 CLI)
