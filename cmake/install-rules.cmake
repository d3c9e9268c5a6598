# install(): the headers (nativereload_export.h and the plugin contract
# nativereload.h) and the C sample libraries, plus a CMake package
# (find_package(NativeReload) -> NativeReload::headers, NativeReload::greeter,
# NativeReload::counter) so another project can build plugins against the
# same headers. Fixtures, tests and the Rust samples are build-tree only.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Listed by name, so a header that is not part of the API cannot slip in.
install(FILES
  "${PROJECT_SOURCE_DIR}/native/include/nativereload_export.h"
  "${PROJECT_SOURCE_DIR}/native/include/nativereload.h"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

install(TARGETS greeter counter nativereload_headers
  EXPORT NativeReloadTargets
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"   # .so / .dylib
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"   # .dll
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}")  # Windows import .lib

set(_nr_cmake_dir "${CMAKE_INSTALL_LIBDIR}/cmake/NativeReload")
install(EXPORT NativeReloadTargets
  NAMESPACE NativeReload::
  DESTINATION "${_nr_cmake_dir}")

file(WRITE "${PROJECT_BINARY_DIR}/NativeReloadConfig.cmake"
  "include(\"\${CMAKE_CURRENT_LIST_DIR}/NativeReloadTargets.cmake\")\n")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/NativeReloadConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${PROJECT_BINARY_DIR}/NativeReloadConfig.cmake"
  "${PROJECT_BINARY_DIR}/NativeReloadConfigVersion.cmake"
  DESTINATION "${_nr_cmake_dir}")
