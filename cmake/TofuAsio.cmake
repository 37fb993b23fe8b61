# Standalone Asio, for <tofu/asio.hpp>'s tests, examples and bench (the library itself never needs
# it): the target Asio::asio when Debian's libasio-dev is installed, none otherwise. A Windows
# cross-build reaches the headers through links in the build tree, never /usr/include itself (as
# TofuWindowsCrossDeps.cmake does for the test dependencies).
if(WIN32 AND CMAKE_CROSSCOMPILING)
  if(EXISTS /usr/include/asio.hpp)
    set(tofu_asio_root ${PROJECT_BINARY_DIR}/host-headers/asio)
    file(MAKE_DIRECTORY ${tofu_asio_root})
    file(CREATE_LINK /usr/include/asio ${tofu_asio_root}/asio SYMBOLIC)
    file(CREATE_LINK /usr/include/asio.hpp ${tofu_asio_root}/asio.hpp SYMBOLIC)
    add_library(Asio::asio INTERFACE IMPORTED GLOBAL)
    target_include_directories(Asio::asio SYSTEM INTERFACE ${tofu_asio_root})
    target_link_libraries(Asio::asio INTERFACE ws2_32 mswsock)
    # Windows 10, as the library: Asio asks for a version.
    target_compile_definitions(Asio::asio INTERFACE _WIN32_WINNT=0x0A00)
  endif()
else()
  find_path(TOFU_ASIO_INCLUDE_DIR asio.hpp DOC "Standalone Asio's headers (Debian: libasio-dev)")
  if(TOFU_ASIO_INCLUDE_DIR)
    find_package(Threads REQUIRED)
    add_library(Asio::asio INTERFACE IMPORTED GLOBAL)
    target_include_directories(Asio::asio SYSTEM INTERFACE ${TOFU_ASIO_INCLUDE_DIR})
    target_link_libraries(Asio::asio INTERFACE Threads::Threads)
  endif()
endif()
if(TARGET Asio::asio)
  # Asio 1.22 looks for clang's coroutines in <experimental/coroutine> (libc++ before 14) only, so
  # clang and clang-tidy would leave co_await out; every compiler tofu supports has C++20's.
  target_compile_definitions(Asio::asio INTERFACE ASIO_NO_DEPRECATED ASIO_HAS_CO_AWAIT=1)
  message(STATUS "tofu: standalone Asio found: <tofu/asio.hpp>'s tests, example and bench mode are built")
else()
  message(STATUS "tofu: no standalone Asio (libasio-dev): <tofu/asio.hpp>'s tests, example and bench mode are left out")
endif()
# GCC warns that ThreadSanitizer does not model Asio's fences (its fenced_block); the mutexes around
# every hand-off of Asio's scheduler are what TSan checks, and they order the same accesses.
if(TARGET Asio::asio AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_FLAGS MATCHES "-fsanitize=thread")
  target_compile_options(Asio::asio INTERFACE -Wno-tsan)
endif()
