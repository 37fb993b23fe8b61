# Run by CTest: install tofu into WORK_DIR/prefix (the license text included), then build and run
# the consumer through find_package(tofu CONFIG) and through pkg-config, which must read the
# installed tofu.pc without a word on stderr; the pkg-config build twice: in C++20, and in a later
# standard that tofu.pc must not force back to C++20.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()

run(${CMAKE_COMMAND} --install ${TOFU_BUILD_DIR} --prefix ${prefix})

# The license text goes with the package.
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${LICENSE_FILE} ${prefix}/${DOCDIR}/LICENSE
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the install has no ${DOCDIR}/LICENSE, or not the source tree's")
endif()

# A cross-build's consumer is cross-built too, and runs through the same emulator (Wine).
set(cross)
if(TOOLCHAIN_FILE)
  set(cross -DCMAKE_TOOLCHAIN_FILE=${TOOLCHAIN_FILE} -DCMAKE_FIND_ROOT_PATH=${prefix})
endif()
run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/cmake-build -G Ninja
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CXX_COMPILER} ${cross}
    "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${EXE_LINKER_FLAGS}")
run(${CMAKE_COMMAND} --build ${WORK_DIR}/cmake-build)
run(${EMULATOR} ${WORK_DIR}/cmake-build/consumer${EXE_SUFFIX})

file(GLOB_RECURSE pc_files ${prefix}/*/tofu.pc)
list(GET pc_files 0 pc_file)
get_filename_component(pc_dir ${pc_file} DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pc_dir})
execute_process(COMMAND pkg-config --cflags --libs tofu OUTPUT_VARIABLE pc_flags ERROR_VARIABLE pc_err
                RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config does not find tofu in ${pc_dir}\n${pc_err}")
endif()
if(NOT pc_err STREQUAL "")
  message(FATAL_ERROR "pkg-config warns about ${pc_file}:\n${pc_err}")
endif()
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
separate_arguments(extra UNIX_COMMAND "${CXX_FLAGS} ${EXE_LINKER_FLAGS}")
run(${CXX_COMPILER} ${extra} -std=c++20 ${CONSUMER_SOURCE_DIR}/main.cpp ${pc_flags}
    -o ${WORK_DIR}/consumer-pc${EXE_SUFFIX})
run(${EMULATOR} ${WORK_DIR}/consumer-pc${EXE_SUFFIX})
# C++23 (spelled c++2b, which GCC 11+ and clang 14 both take); the pkg-config flags come last, as
# they would after a user's own, and the consumer checks the standard it was compiled in.
run(${CXX_COMPILER} ${extra} -std=c++2b -DTOFU_CONSUMER_EXPECTS_AFTER_CXX20 ${CONSUMER_SOURCE_DIR}/main.cpp
    ${pc_flags} -o ${WORK_DIR}/consumer-pc23${EXE_SUFFIX})
run(${EMULATOR} ${WORK_DIR}/consumer-pc23${EXE_SUFFIX})

# <tofu/asio.hpp> is installed with the rest and needs only standalone Asio's headers besides
# tofu's own flags (checked where Asio is installed, on the build machine itself).
if(NOT TOOLCHAIN_FILE AND EXISTS /usr/include/asio.hpp)
  run(${CXX_COMPILER} ${extra} -std=c++20 ${CONSUMER_SOURCE_DIR}/asio_main.cpp ${pc_flags} -pthread
      -o ${WORK_DIR}/consumer-asio${EXE_SUFFIX})
  run(${WORK_DIR}/consumer-asio${EXE_SUFFIX})
endif()
