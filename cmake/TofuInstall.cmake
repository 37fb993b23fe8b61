# Install rules: headers, library, an exported CMake package (find_package(tofu CONFIG)), a
# pkg-config file, and the license text (MIT) in share/doc/tofu/, which both package files name in
# a comment line.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS tofu EXPORT tofuTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/tofu
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/include/tofu/version.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tofu)
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(tofu_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/tofu)
install(EXPORT tofuTargets NAMESPACE tofu:: DESTINATION ${tofu_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/tofuConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tofuConfig.cmake
  INSTALL_DESTINATION ${tofu_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tofuConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tofuConfig.cmake ${PROJECT_BINARY_DIR}/tofuConfigVersion.cmake
  DESTINATION ${tofu_cmake_dir})

# The .pc file finds its prefix relative to itself, so any --prefix given at install time works.
file(RELATIVE_PATH TOFU_PC_PREFIX_FROM_PCFILEDIR
  "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
# The library is static: what it links privately, its users link too.
set(TOFU_PC_SYSTEM_LIBS "")
if(WIN32)
  string(APPEND TOFU_PC_SYSTEM_LIBS " -lws2_32")  # Winsock
endif()
if(TOFU_POLLER STREQUAL "io_uring")
  string(APPEND TOFU_PC_SYSTEM_LIBS " -luring")
endif()
set(TOFU_PC_REQUIRES "")
if(TOFU_TLS)
  set(TOFU_PC_REQUIRES "libssl libcrypto")  # OpenSSL 3's own .pc files
endif()
if(TOFU_POLLER STREQUAL "kqueue" AND TOFU_KQUEUE_LIBRARY)
  # libkqueue on Linux, from a prefix of its own: the run-time path goes with it.
  get_filename_component(tofu_kqueue_dir ${TOFU_KQUEUE_LIBRARY} DIRECTORY)
  string(APPEND TOFU_PC_SYSTEM_LIBS " ${TOFU_KQUEUE_LIBRARY} -Wl,-rpath,${tofu_kqueue_dir}")
endif()
# The license is a comment line, not a `License:` field: pkgconf reads that field from 1.9 on, and
# Debian 12's 1.8.1 passes over it unread.
configure_file(${PROJECT_SOURCE_DIR}/cmake/tofu.pc.in ${PROJECT_BINARY_DIR}/tofu.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/tofu.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
