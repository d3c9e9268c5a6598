# install(): the export header(s) and the C sample library, plus a CMake
# package (find_package(NativeReload) -> NativeReload::greeter,
# NativeReload::headers) so another project can build plugins against the
# same header. Fixtures and tests are build-tree only.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(DIRECTORY "${PROJECT_SOURCE_DIR}/native/include/"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  FILES_MATCHING PATTERN "*.h")

install(TARGETS greeter nativereload_headers
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
