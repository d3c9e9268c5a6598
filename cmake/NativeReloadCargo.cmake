# Rust support: find cargo, and nativereload_add_cargo_library() to build a
# cdylib crate and place a copy of it next to the C libraries.
#
# Sets NATIVERELOAD_RUST_ENABLED (ON when NATIVERELOAD_BUILD_RUST and cargo
# was found). Without cargo the Rust sample and fixtures are skipped, and
# fixtures.txt does not list "rust", so the managed tests skip with a reason.
include_guard(GLOBAL)

option(NATIVERELOAD_BUILD_RUST "Build the Rust sample and fixtures (needs cargo)" ON)

set(NATIVERELOAD_RUST_ENABLED OFF)
if(NATIVERELOAD_BUILD_RUST)
  find_program(CARGO cargo)
  if(CARGO)
    set(NATIVERELOAD_RUST_ENABLED ON)
    message(STATUS "cargo: ${CARGO}")
  else()
    message(STATUS "cargo not found: Rust sample and fixtures skipped")
  endif()
else()
  message(STATUS "NATIVERELOAD_BUILD_RUST is OFF: Rust sample and fixtures skipped")
endif()

# nativereload_add_cargo_library(<target>
#     MANIFEST_DIR <crate dir> CRATE_NAME <lib name> OUTPUT_DIR <dir>
#     [OUTPUT_NAME <name>] [ENV NAME=VALUE...])
#
# Runs `cargo build --offline --release` with its own CARGO_TARGET_DIR under
# the build tree (so variants built with different ENV do not rebuild each
# other), then copies the cdylib to
#   <OUTPUT_DIR>/<platform prefix><OUTPUT_NAME><platform suffix>
# (OUTPUT_NAME defaults to <target>). The copy is a real copy: cargo's
# target/release file is a hard link into deps/, and glibc identifies a
# loaded library by inode. It is written to a temporary name and renamed
# into place, so the output gets a new inode and is never half-written.
#
# The crate reads GREETER_MESSAGE / GREETER_VERSION / GREETER_ADD_BIAS at
# compile time; they are cleared from the caller's environment first so
# only ENV decides them.
function(nativereload_add_cargo_library target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "MANIFEST_DIR;CRATE_NAME;OUTPUT_DIR;OUTPUT_NAME" "ENV")
  if(NOT ARG_OUTPUT_NAME)
    set(ARG_OUTPUT_NAME ${target})
  endif()

  set(cargo_target_dir "${CMAKE_BINARY_DIR}/cargo/${target}")
  # cargo's own naming: no "lib" prefix on Windows (msvc and gnu targets).
  if(WIN32)
    set(built "${cargo_target_dir}/release/${ARG_CRATE_NAME}.dll")
  else()
    set(built "${cargo_target_dir}/release/lib${ARG_CRATE_NAME}${CMAKE_SHARED_LIBRARY_SUFFIX}")
  endif()
  set(out "${ARG_OUTPUT_DIR}/${CMAKE_SHARED_LIBRARY_PREFIX}${ARG_OUTPUT_NAME}${CMAKE_SHARED_LIBRARY_SUFFIX}")

  # Re-run cargo when the crate changes; cargo itself decides what to rebuild.
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS "${ARG_MANIFEST_DIR}/src/*.rs")
  set(depends ${sources} "${ARG_MANIFEST_DIR}/Cargo.toml")
  if(EXISTS "${ARG_MANIFEST_DIR}/Cargo.lock")
    list(APPEND depends "${ARG_MANIFEST_DIR}/Cargo.lock")
  endif()

  add_custom_command(
    OUTPUT "${out}"
    COMMAND "${CMAKE_COMMAND}" -E env
            --unset=GREETER_MESSAGE --unset=GREETER_VERSION --unset=GREETER_ADD_BIAS
            "CARGO_TARGET_DIR=${cargo_target_dir}" ${ARG_ENV}
            "${CARGO}" build --offline --release --quiet
            --manifest-path "${ARG_MANIFEST_DIR}/Cargo.toml"
    COMMAND "${CMAKE_COMMAND}" -E copy "${built}" "${out}.tmp"
    COMMAND "${CMAKE_COMMAND}" -E rename "${out}.tmp" "${out}"
    DEPENDS ${depends}
    COMMENT "cargo build ${ARG_CRATE_NAME} -> ${out}"
    VERBATIM
  )
  add_custom_target(${target} ALL DEPENDS "${out}")
  # Where the library ends up, for tests: $<TARGET_PROPERTY:t,NATIVERELOAD_FILE>.
  set_target_properties(${target} PROPERTIES NATIVERELOAD_FILE "${out}")
endfunction()
