# nativereload_native_library(<target> OUTPUT_DIR <dir>)
#
# The settings every reloadable library in this repo shares:
#  - hidden visibility, so only NR_EXPORT symbols are exported (the host and
#    the visibility test rely on an export table of exactly the C ABI);
#  - a fixed output directory. The "$<1:...>" generator expression stops
#    multi-config generators (Visual Studio, Xcode, Ninja Multi-Config) from
#    appending a per-config subdirectory, so the file is at the same path
#    (build/lib/greeter.dll, build/fixtures/...) whatever the generator;
#  - no "lib" prefix on Windows (MinGW would write libgreeter.dll);
#  - warnings and the export header;
#  - g++ without STB_GNU_UNIQUE (-fno-gnu-unique): g++ gives vague-linkage
#    objects (a static member of a class template, a static local of an
#    inline function, an inline variable) that binding, and the loader then
#    shares each one process-wide with the first copy loaded and never unmaps
#    it, so after a reload the new code would run on the old objects. A target
#    that wants them anyway sets the target property NATIVERELOAD_GNU_UNIQUE ON.
# No VERSION/SOVERSION is ever set: one real file, no symlink chain for a
# file watcher to trip over.
include_guard(GLOBAL)
include(NativeReloadWarnings)

function(nativereload_native_library target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "OUTPUT_DIR" "")
  if(NOT ARG_OUTPUT_DIR)
    message(FATAL_ERROR "nativereload_native_library(${target}): OUTPUT_DIR is required")
  endif()
  set_target_properties(${target} PROPERTIES
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    # .so / .dylib
    LIBRARY_OUTPUT_DIRECTORY "$<1:${ARG_OUTPUT_DIR}>"
    # .dll (and its .pdb) on Windows
    RUNTIME_OUTPUT_DIRECTORY "$<1:${ARG_OUTPUT_DIR}>"
    # Windows import libraries (.lib/.exp): nobody links against these
    # libraries, so keep them out of the directory the host watches.
    ARCHIVE_OUTPUT_DIRECTORY "$<1:${CMAKE_BINARY_DIR}/implib>"
  )
  if(NOT APPLE AND NOT WIN32)
    target_compile_options(${target} PRIVATE
      "$<$<AND:$<COMPILE_LANG_AND_ID:CXX,GNU>,$<NOT:$<BOOL:$<TARGET_PROPERTY:NATIVERELOAD_GNU_UNIQUE>>>>:-fno-gnu-unique>")
  endif()
  # Windows names a DLL "greeter.dll"; MinGW's GCC would add the Unix "lib"
  # prefix (libgreeter.dll), which build.ps1, the README and the host's
  # LibraryNaming do not look for. (The import library keeps its prefix.)
  if(WIN32)
    set_target_properties(${target} PROPERTIES PREFIX "")
  endif()
  target_link_libraries(${target} PRIVATE NativeReload::headers)
  nativereload_enable_warnings(${target})
endfunction()
