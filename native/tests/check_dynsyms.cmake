# check_dynsyms.cmake - ELF export-table checks with readelf (Linux only).
#
#   cmake -DREADELF=<readelf> -DLIBRARY=<file> -DMODE=<mode> [-DEXPECTED=a;b;c] -P check_dynsyms.cmake
#
# MODE exports   : the defined, exported symbols are exactly EXPECTED
#                  (proves hidden visibility: nothing but NR_EXPORT leaks).
# MODE unique    : at least one STB_GNU_UNIQUE symbol (glibc will never unmap it).
# MODE no-unique : no STB_GNU_UNIQUE symbol.
# Fails (non-zero exit) with the symbol table in the message otherwise.
cmake_minimum_required(VERSION 3.20)  # script mode: modern if() rules (CMP0054)
foreach(var READELF LIBRARY MODE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_dynsyms: -D${var}=... is required")
  endif()
endforeach()
if(NOT EXISTS "${LIBRARY}")
  message(FATAL_ERROR "check_dynsyms: ${LIBRARY} does not exist")
endif()

execute_process(
  COMMAND "${READELF}" --dyn-syms --wide "${LIBRARY}"
  OUTPUT_VARIABLE table
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "check_dynsyms: readelf failed (${rc}) on ${LIBRARY}")
endif()

# Rows look like:
#   "    7: 00000000000010f9    11 FUNC    GLOBAL DEFAULT   11 get_message"
set(defined "")
set(unique_syms "")
string(REPLACE "\n" ";" lines "${table}")
foreach(line IN LISTS lines)
  if(line MATCHES "^ *[0-9]+: +[0-9a-fA-F]+ +[0-9x]+ +([A-Z_]+) +([A-Z_]+) +([A-Z_]+) +([A-Z0-9]+) +([^ @]+)")
    set(type "${CMAKE_MATCH_1}")
    set(bind "${CMAKE_MATCH_2}")
    set(ndx "${CMAKE_MATCH_4}")
    set(name "${CMAKE_MATCH_5}")
    if(ndx STREQUAL "UND" OR bind STREQUAL "LOCAL" OR type STREQUAL "SECTION")
      continue()
    endif()
    list(APPEND defined "${name}")
    if(bind STREQUAL "UNIQUE")
      list(APPEND unique_syms "${name}")
    endif()
  endif()
endforeach()
list(SORT defined)
message(STATUS "${LIBRARY}: exports [${defined}], unique [${unique_syms}]")

if(MODE STREQUAL "exports")
  set(want ${EXPECTED})
  list(SORT want)
  if(NOT defined STREQUAL want)
    message(FATAL_ERROR "exports are [${defined}], expected exactly [${want}]\n${table}")
  endif()
elseif(MODE STREQUAL "unique")
  if(unique_syms STREQUAL "")
    message(FATAL_ERROR "no STB_GNU_UNIQUE symbol in ${LIBRARY}\n${table}")
  endif()
elseif(MODE STREQUAL "no-unique")
  if(NOT unique_syms STREQUAL "")
    message(FATAL_ERROR "unexpected STB_GNU_UNIQUE symbol(s) [${unique_syms}] in ${LIBRARY}")
  endif()
else()
  message(FATAL_ERROR "check_dynsyms: unknown MODE '${MODE}'")
endif()
