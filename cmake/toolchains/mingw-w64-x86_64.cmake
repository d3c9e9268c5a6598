# Cross-compile the native side for 64-bit Windows with MinGW-w64 (Debian/Ubuntu:
# apt-get install gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64):
#
#   cmake -S . -B build-mingw -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/mingw-w64-x86_64.cmake
#   cmake --build build-mingw --parallel
#
# The DLLs come out as build-mingw/lib/greeter.dll, build-mingw/fixtures/... (no
# "lib" prefix: see cmake/NativeReloadNativeTarget.cmake). tools/check-windows.sh
# runs them under Wine. The compiler prefix can be changed with MINGW_PREFIX.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

if(NOT MINGW_PREFIX)
  set(MINGW_PREFIX x86_64-w64-mingw32)
endif()
set(CMAKE_C_COMPILER ${MINGW_PREFIX}-gcc)
set(CMAKE_CXX_COMPILER ${MINGW_PREFIX}-g++)
set(CMAKE_RC_COMPILER ${MINGW_PREFIX}-windres)

# Libraries and headers from the target's sysroot only; programs from the host.
set(CMAKE_FIND_ROOT_PATH /usr/${MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
