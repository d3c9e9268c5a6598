#!/usr/bin/env bash
# Packs the library and the CLI tool into artifacts/packages, then installs the tool from that folder into a
# temporary tool path, as a user would, and runs it. Prints one ok/FAIL line per step; exits non-zero on failure.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
packages="$root/artifacts/packages"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0
step() { local name="$1"; shift; if "$@" >"$work/log" 2>&1; then echo "ok: $name"; else echo "FAIL: $name"; sed 's/^/  | /' "$work/log" | tail -20; status=1; fi; }

rm -rf "$packages"
step "pack NativeReload" dotnet pack "$root/managed/NativeReload" -c Release -o "$packages" --nologo
step "pack NativeReload.Tool" dotnet pack "$root/managed/NativeReload.Cli" -c Release -o "$packages" --nologo
step "library package has README, XML docs and nativereload.h" bash -c "
  unzip -l '$packages'/NativeReload.1.*.nupkg | grep -q 'README.md' &&
  unzip -l '$packages'/NativeReload.1.*.nupkg | grep -q 'lib/net10.0/NativeReload.xml' &&
  unzip -l '$packages'/NativeReload.1.*.nupkg | grep -q 'native/include/nativereload.h'"
# From a directory outside the repository, so nothing but the local folder (and the registry) is used.
step "dotnet tool install --add-source artifacts/packages NativeReload.Tool" \
  bash -c "cd '$work' && dotnet tool install --tool-path '$work/tools' --add-source '$packages' NativeReload.Tool"
step "installed nativereload --help lists run and watch" bash -c "'$work/tools/nativereload' --help | grep -q 'run' && '$work/tools/nativereload' --help | grep -q 'watch'"
step "installed nativereload exits 2 on bad arguments" bash -c "'$work/tools/nativereload' run >/dev/null 2>&1; test \$? -eq 2"
exit $status
