# Cross-compiles tofu for 64-bit Windows with Debian's mingw-w64 (g++-mingw-w64-x86-64) and runs
# what it builds under Wine (wine64): CTest starts every test through the emulator.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

# The posix thread model: GCC 12's win32 model has no std::thread.
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)

list(APPEND CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Self-contained executables: no MinGW runtime DLLs to place beside them for Wine.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

find_program(TOFU_WINE NAMES wine64 wine)
if(TOFU_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${TOFU_WINE})
endif()
