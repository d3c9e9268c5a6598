# nativereload_enable_warnings(<target>)
#
# Turns on the usual warnings for our own sources. NATIVERELOAD_WARNINGS_AS_ERRORS
# (set by the ci-* presets) makes them fatal, so CI catches what a local build
# only prints. Our own option rather than COMPILE_WARNING_AS_ERROR because that
# property needs CMake 3.24 and we support 3.20.
include_guard(GLOBAL)

option(NATIVERELOAD_WARNINGS_AS_ERRORS "Treat compiler warnings in NativeReload targets as errors" OFF)

function(nativereload_enable_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4)
    if(NATIVERELOAD_WARNINGS_AS_ERRORS)
      target_compile_options(${target} PRIVATE /WX)
    endif()
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra)
    if(NATIVERELOAD_WARNINGS_AS_ERRORS)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
endfunction()
