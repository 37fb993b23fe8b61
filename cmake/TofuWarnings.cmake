# tofu_target_warnings(<target>): the project's warning set, errors when TOFU_WERROR is on.
function(tofu_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion -Wnon-virtual-dtor)
  if(TOFU_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
