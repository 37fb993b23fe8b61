# tofu_target_warnings(<target>): the project's warning set, errors when TOFU_WERROR is on.
function(tofu_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion -Wnon-virtual-dtor)
  # GCC 12 at -O3 reports impossible overflows and overlaps inside inlined libstdc++ code
  # (std::string and std::vector copies; GCC bugs 105329, 105651, 107852, fixed in GCC 13).
  # Real out-of-bounds accesses are caught at run time by the ASan+UBSan presets.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-restrict -Wno-array-bounds -Wno-stringop-overflow)
  endif()
  if(TOFU_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
