#!/usr/bin/env bash
# NativeReload build script. Same verbs as build.ps1 (keep the two in step):
#   ./build.sh          build the native side (CMake) and the managed side (dotnet)
#   ./build.sh run      build the host and the C sample (only those; -v shows the tools' output), then run the
#                       host on it: prints "message: ..." every second, and rebuilds + reloads it whenever a file
#                       in native/greeter/ is saved
#   ./build.sh test     build, then native tests (ctest) and managed tests (dotnet test);
#                       ends with "tests: N passed, M failed, K skipped"
#   ./build.sh bench    build, then the benchmarks (bench/README.md): "--short" for a quick check,
#                       "--full" for the record; both write docs/benchmarks.md
#   ./build.sh mutate [file...]  build, then mutation testing (Stryker.NET, docs/testing.md) of the given
#                       managed/NativeReload files (default: Reloading/, Watching/, ShadowCopying/, Plugins/)
# Anything after "run" is passed to `nativereload watch` (e.g. ./build.sh run --every 250ms).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
build_dir="${NATIVERELOAD_BUILD_DIR:-$root/build}"
config="${CONFIG:-Release}"
results="$root/artifacts/test-results"

need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "build.sh: '$1' not found. $2" >&2
    exit 127
  fi
}

check_tools() {
  need cmake "Install CMake 3.20 or newer (Debian/Ubuntu: apt-get install cmake; macOS: brew install cmake)."
  need dotnet "Install the .NET 10 SDK (https://dot.net; Debian: the dotnet-sdk-10.0 package from Microsoft's feed)."
  if ! command -v cc >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1 && ! command -v clang >/dev/null 2>&1; then
    echo "build.sh: no C compiler found. Install gcc or clang (Debian/Ubuntu: apt-get install build-essential; macOS: xcode-select --install)." >&2
    exit 127
  fi
}

jobs="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)"

build_native() {
  cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE="$config" >/dev/null
  cmake --build "$build_dir" --config "$config" --parallel "$jobs"
}

# `run` builds only what it runs (the host and the C sample) and says one line per step; the tools' own output goes to
# artifacts/run-build.log and is shown when a step fails (or always with -v).
verbose=0
step() {
  local what="$1"; shift
  local log="$root/artifacts/run-build.log" started=$SECONDS
  mkdir -p "$root/artifacts"
  if [[ $verbose -eq 1 ]]; then
    echo "build.sh: $what" >&2
    "$@" >&2 || exit $?
    return
  fi
  printf 'build.sh: %s... ' "$what" >&2
  if "$@" >"$log" 2>&1; then
    echo "ok ($((SECONDS - started)) s)" >&2
  else
    local status=$?
    echo "failed (exit $status); its output:" >&2
    tail -n 60 "$log" >&2
    exit $status
  fi
}

# The published host is up to date when no managed source or build setting is newer than it.
host_up_to_date() {
  local host="$root/artifacts/nativereload/nativereload"
  [[ -x "$host" ]] && [[ -z "$(find "$root/managed" "$root/Directory.Build.props" "$root/Directory.Packages.props" \
    -newer "$host" -type f -not -path '*/obj/*' -not -path '*/bin/*' -print -quit 2>/dev/null)" ]]
}

build_for_run() {
  step "configuring CMake" cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE="$config"
  step "building the C sample (greeter)" cmake --build "$build_dir" --config "$config" --target greeter --parallel "$jobs"
  if host_up_to_date; then
    echo "build.sh: host up to date" >&2
  else
    # Analyzers and code-style checks are for `test` and CI; the edit loop only needs the host (about 6 s less cold).
    step "building the host" dotnet publish "$root/managed/NativeReload.Cli" -c "$config" --nologo -v quiet \
      -o "$root/artifacts/nativereload" -maxcpucount:"$jobs" -p:RunAnalyzers=false -p:EnforceCodeStyleInBuild=false
  fi
}

build_managed() {
  dotnet build "$root/NativeReload.sln" -c "$config" --nologo -v quiet
  dotnet publish "$root/managed/NativeReload.Cli" -c "$config" --nologo -v quiet -o "$root/artifacts/nativereload"
}

sample_library() {
  case "$(uname -s)" in
    Darwin) echo "$build_dir/lib/libgreeter.dylib" ;;
    MINGW*|MSYS*|CYGWIN*) echo "$build_dir/lib/greeter.dll" ;;
    *) echo "$build_dir/lib/libgreeter.so" ;;
  esac
}

# The value of attribute $2 in the XML start tag $1, or 0.
attribute() {
  local value
  value=$(printf '%s' "$1" | grep -o " $2=\"[0-9]*\"" | grep -o '[0-9][0-9]*' | head -1 || true)
  echo "${value:-0}"
}

# Counts come from the runners' own result files, never from their console text.
count_results() {
  local passed=0 failed=0 skipped_total=0 n
  local junit="$results/ctest.xml"
  if [[ -f "$junit" ]]; then
    local suite tests failures skipped
    # ctest writes one attribute per line: join the file before reading the <testsuite> element.
    suite=$(tr '\n\t' '  ' < "$junit" | grep -o '<testsuite [^>]*' | head -1 || true)
    tests=$(attribute "$suite" tests); failures=$(attribute "$suite" failures); skipped=$(attribute "$suite" skipped)
    passed=$((passed + ${tests:-0} - ${failures:-0} - ${skipped:-0}))
    failed=$((failed + ${failures:-0}))
    skipped_total=$((skipped_total + ${skipped:-0}))
  fi
  for trx in "$results"/*.trx; do
    [[ -f "$trx" ]] || continue
    local counters
    counters=$(tr '\n\t' '  ' < "$trx" | grep -o '<Counters [^>]*' | head -1 || true)
    n=$(attribute "$counters" passed); passed=$((passed + n))
    n=$(attribute "$counters" failed); failed=$((failed + n))
    n=$(attribute "$counters" error); failed=$((failed + n))
    n=$(attribute "$counters" notExecuted); skipped_total=$((skipped_total + n))
  done
  echo "tests: $passed passed, $failed failed, $skipped_total skipped"
}

run_tests() {
  rm -rf "$results" && mkdir -p "$results"
  local status=0
  ctest --test-dir "$build_dir" -C "$config" --output-on-failure --output-junit "$results/ctest.xml" || status=1
  dotnet test "$root/tests/NativeReload.Tests" -c "$config" --no-build --nologo \
    --logger "trx;LogFileName=managed.trx" --logger "console;verbosity=normal" \
    --results-directory "$results" || status=1
  dotnet test "$root/tests/NativeReload.Generators.Tests" -c "$config" --no-build --nologo \
    --logger "trx;LogFileName=generators.trx" --logger "console;verbosity=normal" \
    --results-directory "$results" || status=1
  if [[ ! -f "$results/ctest.xml" && ! -f "$results/managed.trx" ]]; then
    echo "build.sh: no test results were written" >&2
    status=1
  fi
  count_results
  return $status
}

# Stryker.NET from the tool manifest (dotnet-tools.json), scoped to the given files; the filter in
# tests/NativeReload.Tests/stryker-config.json leaves out the tests that drive the published CLI.
run_mutation() {
  dotnet tool restore >/dev/null
  local patterns=("$@") args=()
  [[ ${#patterns[@]} -eq 0 ]] && patterns=("Reloading/*.cs" "Watching/*.cs" "ShadowCopying/*.cs" "Plugins/*.cs")
  for p in "${patterns[@]}"; do args+=(--mutate "**/${p#managed/NativeReload/}"); done
  (cd "$root/tests/NativeReload.Tests" && dotnet stryker --config-file stryker-config.json \
     --output "$root/artifacts/mutation" "${args[@]}")
}

verb="${1:-build}"
[[ $# -gt 0 ]] && shift
case "$verb" in
  build)
    check_tools; build_native; build_managed
    echo "built: host $root/artifacts/nativereload/nativereload, sample $(sample_library)" ;;
  run)
    if [[ "${1:-}" == "-v" ]]; then verbose=1; shift; fi
    check_tools; build_for_run
    # The full loop: edit native/greeter/greeter.c, save, and the host rebuilds it and shows the new message.
    exec "$root/artifacts/nativereload/nativereload" watch "$(sample_library)" \
      --build "cmake --build \"$build_dir\" --config $config --target greeter" \
      --source "$root/native/greeter" "$@" ;;
  test)
    check_tools; build_native; build_managed; run_tests ;;
  bench)
    check_tools; build_native; build_managed
    exec dotnet run --project "$root/bench/NativeReload.Benchmarks" -c Release -- "$@" ;;
  mutate)
    check_tools; build_native; build_managed; run_mutation "$@" ;;
  -h|--help|help)
    sed -n '2,12p' "$0" ;;
  *)
    echo "build.sh: unknown verb '$verb' (use: build, run, test, bench, mutate)" >&2; exit 2 ;;
esac
