# Under Wine a program that crashes still exits with 0: Wine prints "wine: Unhandled page fault
# ..." (or "Unhandled exception"), its debugger prints a backtrace, and the exit status is lost.
# tofu_wine_crash_fails_tests() makes that line fail every test defined so far in the calling
# directory. It does nothing outside a Windows cross-build.
function(tofu_wine_crash_fails_tests)
  if(NOT (WIN32 AND CMAKE_CROSSCOMPILING))
    return()
  endif()
  get_property(tests DIRECTORY PROPERTY TESTS)
  if(tests)
    set_tests_properties(${tests} PROPERTIES FAIL_REGULAR_EXPRESSION "wine: Unhandled")
  endif()
endfunction()
