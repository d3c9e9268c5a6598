#!/usr/bin/env bash
# Windows, proven on this Linux machine under Wine (issue 15). One line per check, "ok: ..." or "FAIL: ..."
# (details indented below), then "windows: N passed, M failed"; exits non-zero if any check failed.
#   1. installs what it needs with apt when missing: wine64, gcc-mingw-w64-x86-64, g++-mingw-w64-x86-64
#   2. cross-builds the native side with MinGW (cmake/toolchains/mingw-w64-x86_64.cmake) into artifacts/build-mingw/
#   3. publishes the CLI self-contained for win-x64 into artifacts/win-x64/nativereload (skipped when up to date)
#   4. a Wine prefix of its own (NATIVERELOAD_WINEPREFIX, default ~/.cache/nativereload/wine-prefix), booted once
#   5. end to end under Wine, as a Windows user would run it:
#      - `nativereload run greeter.dll`, the DLL replaced by rename and then in place: the new message is printed
#      - a Windows-side writer (`cmd /c copy`) is refused on the loaded shadow copy, the original stays writable
#      - the shadow folder is gone after the host exits
#      - a DLL whose dependency sits beside it (fixtures/deps: depmain.dll imports nrdep.dll) loads and reloads
#      - `watch --build` with a quoted .bat in a folder with a space (the cmd.exe quoting of issue 15 item 1)
# NATIVERELOAD_WIN_HOST=<path of nativereload.exe> runs the checks against another published host.
# Idempotent: reruns reuse the prefix, the build tree and an up-to-date publish. About 2-4 minutes on 2 cores
# from a warm state; the first run adds the apt install and the runtime pack download.
#   6. managed tests under Wine (NUnit's runner, win-x64): WindowsBuildCommandTests, LeftoverDirectoryTests and the
#      Loading, Validation and Building namespaces
# Not run under Wine here (see docs/platforms.md): the rest of the managed suite and `--isolate` (Wine 8 has no
# AF_UNIX sockets, the worker channel fails with "Unknown error (0x273f)").
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
jobs="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)"
build_dir="$root/artifacts/build-mingw"
publish_dir="$root/artifacts/win-x64/nativereload"
wine=/usr/lib/wine/wine64          # Debian: not on PATH
wineserver=/usr/lib/wine/wineserver
export WINEPREFIX="${NATIVERELOAD_WINEPREFIX:-$HOME/.cache/nativereload/wine-prefix}"
export WINEDEBUG=-all
# Without it the CLR under Wine 8 stops with "Internal CLR error 0x80131506".
export DOTNET_EnableWriteXorExecute=0
work="$(mktemp -d "${TMPDIR:-/tmp}/nativereload-windows.XXXXXX")"
log="$work/step.log"
started=$SECONDS
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
indent() { sed 's/^/  /'; }
finish() {
  echo "windows: $passed passed, $failed failed ($((SECONDS - started)) s)"
  [[ $failed -eq 0 ]] && exit 0 || exit 1
}

cleanup() {
  # Only the host processes this script started (their pids are recorded), never by name.
  local pid
  for pid in $(cat "$work"/*.pid 2>/dev/null); do kill "$pid" 2>/dev/null; done
  # The prefix is this script's own: stop its server (started below with -p) and whatever still runs in it.
  [[ -n ${wine_started:-} ]] && WINEPREFIX="$WINEPREFIX" "$wineserver" -k >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# Windows path (Z:\...) of a Linux path, for what runs inside Wine.
winpath() { local p; p="$(readlink -f "$1")"; printf 'Z:%s' "${p//\//\\}"; }

# wait_for <file> <text> <seconds> [<after line>]: true once a line of <file> (after line N) contains <text>.
wait_for() {
  local file="$1" text="$2" deadline=$((SECONDS + $3)) after="${4:-0}"
  while (( SECONDS < deadline )); do
    tail -n "+$((after + 1))" "$file" 2>/dev/null | grep -qF -- "$text" && return 0
    sleep 0.2
  done
  return 1
}
lines() { wc -l <"$1"; }

# --- 1. tools --------------------------------------------------------------------------------------------
missing=()
for package in wine64 gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  t=$SECONDS
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  if { "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"; } >"$log" 2>&1; then
    ok "installed ${missing[*]} ($((SECONDS - t)) s)"
  else
    fail "apt-get install ${missing[*]}"; tail -n 20 "$log" | indent; finish
  fi
fi
if [[ ! -x $wine ]]; then fail "$wine not found (Debian's wine64 package puts it there)"; finish; fi

# --- 2. native side, cross-built with MinGW ----------------------------------------------------------------
t=$SECONDS
targets=(greeter greeter_v1 greeter_v2 depmain_v1 depmain_v2 nrdep_build1 nrdep_build2)
if cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DNATIVERELOAD_BUILD_RUST=OFF \
     -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/mingw-w64-x86_64.cmake" >"$log" 2>&1 \
   && cmake --build "$build_dir" --parallel "$jobs" --target "${targets[@]}" >>"$log" 2>&1; then
  if [[ -f $build_dir/lib/greeter.dll && ! -e $build_dir/lib/libgreeter.dll ]]; then
    ok "MinGW cross-build: lib/greeter.dll, fixtures/deps/{depmain_v1,nrdep}.dll ($((SECONDS - t)) s)"
  else
    fail "MinGW cross-build named the sample $(ls "$build_dir/lib" | tr '\n' ' ')(expected greeter.dll)"
  fi
else
  fail "MinGW cross-build"; tail -n 30 "$log" | indent; finish
fi
fixtures="$build_dir/fixtures"

# --- 3. the CLI, self-contained for win-x64 ----------------------------------------------------------------
t=$SECONDS
host="$publish_dir/nativereload.exe"
if [[ -n ${NATIVERELOAD_WIN_HOST:-} ]]; then
  # Another published host (e.g. an older commit's, to see a check fail without a fix).
  host="$NATIVERELOAD_WIN_HOST"
  ok "using the win-x64 host $host (NATIVERELOAD_WIN_HOST)"
elif [[ -f $host ]] && [[ -z "$(find "$root/managed" "$root/Directory.Build.props" "$root/Directory.Packages.props" \
      -newer "$host" -type f -not -path '*/obj/*' -not -path '*/bin/*' -print -quit 2>/dev/null)" ]]; then
  ok "win-x64 CLI up to date ($publish_dir)"
elif dotnet publish "$root/managed/NativeReload.Cli" -c Release -r win-x64 --self-contained --nologo -v q -o "$publish_dir" >"$log" 2>&1; then
  ok "published the CLI for win-x64, self-contained ($((SECONDS - t)) s)"
else
  fail "dotnet publish -r win-x64"; tail -n 30 "$log" | indent; finish
fi

# --- 4. Wine prefix ----------------------------------------------------------------------------------------
t=$SECONDS
mkdir -p "$WINEPREFIX"
# A persistent server, and wineboot with stdio on /dev/null: otherwise Wine's services inherit the first
# program's output pipe and whoever reads it never sees the end. mscoree= only here: Wine's own Mono must not
# be installed, and must not be disabled while .NET runs.
"$wineserver" -p >/dev/null 2>&1
wine_started=1
if WINEDLLOVERRIDES=mscoree= timeout 300 "$wine" wineboot -i </dev/null >"$log" 2>&1; then
  ok "Wine prefix $WINEPREFIX ready ($((SECONDS - t)) s)"
else
  fail "wineboot"; tail -n 20 "$log" | indent; finish
fi
# %TEMP% under Wine (C:\users\<Unix user>\Temp), where the host makes its shadow folders.
wine_temp="$WINEPREFIX/drive_c/users/$(id -un)/Temp"
mkdir -p "$wine_temp"

# start_host <name> <dir> <library> [args...]: runs the host under Wine in the background, output in $work/<name>.out.
# The working directory is $work, not the library's folder, so the DLL search cannot find a dependency there by luck.
start_host() {
  local name="$1" dir="$2" library="$3"; shift 3
  (cd "$work" && exec "$wine" "$host" "$@" </dev/null >"$work/$name.out" 2>&1) &
  echo $! >"$work/$name.pid"
}

# stop_host <name>: waits for a host started with a --count to exit (bounded), then kills it. A host that had to be
# killed could not clean up, so it is reported as what it is, not as a cleanup failure.
stop_host() {
  local pid deadline=$((SECONDS + 60))
  pid="$(cat "$work/$1.pid")"
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
  if kill "$pid" 2>/dev/null; then
    fail "$1: the host did not exit by itself within 60 s of its last step (killed)"; tail -n 5 "$work/$1.out" | indent
  fi
  wait "$pid" 2>/dev/null
  rm -f "$work/$1.pid"
}

# check_cleanup <name> <shadow copy>: the host's own shadow folder (the one holding the copy it loaded) is gone.
check_cleanup() {
  local folder
  if [[ -z $2 ]]; then
    fail "$1: the shadow folder cleanup could not be checked: no shadow copy was seen"; return
  fi
  folder="$(dirname "$2")"
  if [[ ! -e $folder ]]; then
    ok "$1: the host's shadow folder is removed when it exits"
  else
    fail "$1: shadow folder $folder left after exit: $(ls -A "$folder" | tr '\n' ' ')"; tail -n 5 "$work/$1.out" | indent
  fi
}

# Folders earlier runs left in this prefix (a killed host cannot clean up; before the fix a freed DLL Wine had not yet
# unmapped could leave one without its lock file, which no sweep removes) would only blur what this run shows.
leftovers="$(ls -d "$wine_temp"/nativereload-* 2>/dev/null | wc -l)"
if (( leftovers > 0 )); then
  rm -rf "$wine_temp"/nativereload-*
  echo "note: removed $leftovers shadow folders left in this Wine prefix by earlier runs"
fi

# --- 5a. run: reload by rename and in place; locks; cleanup --------------------------------------------------
app="$work/app"; mkdir -p "$app"
cp "$fixtures/greeter_v1.dll" "$app/greeter.dll"
start_host reload "$app" "$app/greeter.dll" run "$(winpath "$app/greeter.dll")" --every 200ms --count 150
if wait_for "$work/reload.out" "message: Hello from v1" 60; then
  ok "run greeter.dll under Wine prints the v1 message"
else
  fail "run greeter.dll under Wine: no 'message: Hello from v1'"; indent <"$work/reload.out"
fi

# The loaded copy refuses a Windows-side writer; the original does not.
copy="$(ls "$wine_temp"/nativereload-*/greeter.g1.*.dll 2>/dev/null | head -n 1)"
if [[ -n $copy ]]; then
  out="$(cd "$work" && "$wine" cmd /c copy /y "$(winpath "$fixtures/greeter_v2.dll")" "$(winpath "$copy")" </dev/null 2>&1)"
  if cmp -s "$copy" "$fixtures/greeter_v1.dll"; then
    ok "a Windows-side copy over the loaded shadow copy is refused ($(echo "$out" | tr -d '\r' | grep -v '^$' | head -n 1))"
  else
    fail "a Windows-side copy overwrote the loaded shadow copy $copy"; echo "$out" | indent
  fi
else
  fail "no shadow copy greeter.g1.*.dll under $wine_temp"
fi

out="$(cd "$work" && "$wine" cmd /c copy /y "$(winpath "$fixtures/greeter_v2.dll")" "$(winpath "$app/greeter.dll")" </dev/null 2>&1)"
if wait_for "$work/reload.out" "message: Hello from v2" 30; then
  ok "a Windows-side copy /y over the original is allowed and reloads: v2 message"
else
  fail "copy /y over the original: no v2 message"; echo "$out" | indent; tail -n 10 "$work/reload.out" | indent
fi

mark="$(lines "$work/reload.out")"
cp "$fixtures/greeter_v1.dll" "$app/greeter.tmp" && mv -f "$app/greeter.tmp" "$app/greeter.dll"
if wait_for "$work/reload.out" "message: Hello from v1" 30 "$mark"; then
  ok "replaced by rename: back to the v1 message"
else
  fail "replaced by rename: the v1 message did not come back"; tail -n 10 "$work/reload.out" | indent
fi

stop_host reload
check_cleanup reload "$copy"

# --- 5b. a DLL with its dependency beside it ---------------------------------------------------------------
deps="$work/deps"; mkdir -p "$deps"
cp "$fixtures/deps/nrdep.dll" "$deps/nrdep.dll"
cp "$fixtures/deps/depmain_v1.dll" "$deps/depmain.dll"
start_host deps "$deps" "$deps/depmain.dll" run "$(winpath "$deps/depmain.dll")" --every 200ms --count 100
if wait_for "$work/deps.out" "message: main v1 + dep v1" 60; then
  ok "a DLL whose dependency sits beside it loads under Wine (main v1 + dep v1)"
  deps_copy="$(ls -t "$wine_temp"/nativereload-*/depmain.g1.*.dll 2>/dev/null | head -n 1)"
else
  fail "depmain.dll with nrdep.dll beside it did not load"; indent <"$work/deps.out"
fi
cp "$fixtures/deps/depmain_v2.dll" "$deps/depmain.tmp" && mv -f "$deps/depmain.tmp" "$deps/depmain.dll"
if wait_for "$work/deps.out" "message: main v2 + dep v1" 30; then
  ok "and reloads with it (main v2 + dep v1)"
else
  fail "depmain.dll reload with its dependency"; tail -n 10 "$work/deps.out" | indent
fi
stop_host deps
check_cleanup deps "${deps_copy:-}"

# --- 5c. watch --build with a quoted .bat in a folder with a space ------------------------------------------
project="$work/my project"; mkdir -p "$project/src"
echo "/* edited */" >"$project/src/greeter.c"
cp "$fixtures/greeter_v1.dll" "$project/next.dll"
# The build runs Windows-side (Wine's cmd does not wait for Linux programs): copy next.dll over greeter.dll.
printf '@copy /y "%%~dp0next.dll" "%%~dp0greeter.dll" >nul\r\n' >"$project/build.bat"
build_line="\"$(winpath "$project/build.bat")\""
start_host watch "$project" "$project/greeter.dll" watch "$(winpath "$project/greeter.dll")" \
  --build "$build_line" --source "$(winpath "$project/src")" --every 200ms --count 150
if wait_for "$work/watch.out" "message: Hello from v1" 90; then
  ok "watch --build '$build_line' (quoted, folder with a space) builds and runs"
  cp "$fixtures/greeter_v2.dll" "$project/next.dll"
  echo "/* edited again */" >>"$project/src/greeter.c"
  if wait_for "$work/watch.out" "message: Hello from v2" 60; then
    ok "a source save under watch rebuilds with the .bat and reloads: v2 message"
  else
    fail "watch: a source save did not rebuild and reload"; tail -n 15 "$work/watch.out" | indent
  fi
else
  fail "watch --build with a quoted .bat in a folder with a space"; tail -n 15 "$work/watch.out" | indent
fi
stop_host watch

# --- 6. managed tests under Wine ----------------------------------------------------------------------------
# The test sources as a win-x64 program with NUnit's runner (tools/windows/NativeReload.WindowsTests.csproj), one
# class per process, each bounded. The fixtures are the MinGW build (all of it: fixtures.txt says what exists).
t=$SECONDS
if cmake --build "$build_dir" --parallel "$jobs" >"$log" 2>&1 \
   && dotnet publish "$root/tools/windows/NativeReload.WindowsTests.csproj" -c Release -r win-x64 --self-contained --nologo -v q \
        -o "$root/artifacts/win-x64/tests" >>"$log" 2>&1; then
  ok "MinGW fixtures and the win-x64 test program built ($((SECONDS - t)) s)"
  export NATIVERELOAD_BUILD_DIR; NATIVERELOAD_BUILD_DIR="$(winpath "$build_dir")"
  # MinGW's C++ runtime (libstdc++-6.dll, libgcc_s_seh-1.dll) for the C++ fixtures.
  export WINEPATH; WINEPATH="$(winpath "$(dirname "$(x86_64-w64-mingw32-g++ -print-file-name=libstdc++-6.dll)")")"
  # Namespaces or classes; not yet: the rest of ShadowCopying (hangs under Wine), the rest (docs/platforms.md).
  # Left out under Wine, like ShadowCopying: classes whose tests are all skipped here (Linux-only mechanisms, ELF-only
  # fixtures); a run of them hangs or ends with exit 9 in NUnit's runner under Wine, with nothing of ours running.
  unix_only='&FullyQualifiedName!~CoreRuntimeLibrariesTests&FullyQualifiedName!~GenerationWarningsTests&FullyQualifiedName!~ElfDynamicReaderTests&FullyQualifiedName!~ItaniumDemanglerTests&FullyQualifiedName!~MappingBudgetTests'
  for class in Platforms.WindowsBuildCommandTests ShadowCopying.LeftoverDirectoryTests Loading Validation Building; do
    (cd "$work" && timeout 180 "$wine" "$(winpath "$root/artifacts/win-x64/tests/NativeReload.Tests.exe")" \
       --filter "FullyQualifiedName~NativeReload.Tests.$class$unix_only" --no-ansi --progress off </dev/null >"$work/$class.out" 2>&1)
    status=$?
    summary="$(grep -E '^\s+(total|failed|succeeded|skipped):' "$work/$class.out" | tr -d ' ' | tr '\n' ' ')"
    if [[ $status -eq 0 ]]; then
      ok "managed tests under Wine: $class ($summary)"
    else
      fail "managed tests under Wine: $class (exit $status${summary:+, $summary})"
      grep -vE '^\s*$' "$work/$class.out" | grep -v '^    at ' | tail -n 20 | indent
    fi
  done
else
  fail "building the MinGW fixtures or the win-x64 test program"; tail -n 30 "$log" | indent
fi

finish
