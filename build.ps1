#!/usr/bin/env pwsh
# NativeReload build script for PowerShell 7 (pwsh) on Windows, Linux and macOS.
# Same verbs and behaviour as build.sh (keep the two in step; tools/check-scripts.sh checks the verbs).
<#
.SYNOPSIS
NativeReload build script: build, run, test, bench, mutate.

.DESCRIPTION
  ./build.ps1          build the native side (CMake) and the managed side (dotnet)
  ./build.ps1 run      build, then run the host on the sample: prints "message: ..." every second,
                       and rebuilds + reloads it whenever a file in native/greeter/ is saved
  ./build.ps1 test     build, then native tests (ctest) and managed tests (dotnet test);
                       ends with "tests: N passed, M failed, K skipped"
  ./build.ps1 bench    build, then the benchmarks (bench/README.md): "--short" for a quick check,
                       "--full" for the record; both write docs/benchmarks.md
  ./build.ps1 mutate [file...]  build, then mutation testing (Stryker.NET, docs/testing.md) of the given
                       managed/NativeReload files (default: Reloading/, Watching/, ShadowCopying/, Plugins/)
Anything after the verb is passed on (run: to `nativereload watch`, e.g. ./build.ps1 run --every 250ms;
bench: to the benchmark program). -Config Debug (or $env:CONFIG) picks the configuration (default Release);
$env:NATIVERELOAD_BUILD_DIR moves the CMake build directory (default build/).
#>
[CmdletBinding(PositionalBinding = $false)]
param(
    # build (default), run, test, bench, mutate or help.
    [Parameter(Position = 0)]
    [string] $Verb = 'build',

    # CMake and dotnet configuration.
    [string] $Config = $(if ($env:CONFIG) { $env:CONFIG } else { 'Release' }),

    # Passed on to `nativereload watch` (run) or to the benchmark program (bench).
    [Parameter(ValueFromRemainingArguments = $true)]
    [string[]] $Rest = @()
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

# `./build.ps1 --help` (or any first argument that looks like an option) lands in $Rest: treat it as the verb,
# as build.sh does with its first argument.
if (-not $PSBoundParameters.ContainsKey('Verb') -and $Rest.Count -gt 0) {
    $Verb = $Rest[0]
    $Rest = @($Rest | Select-Object -Skip 1)
}

$root = $PSScriptRoot
Set-Location -LiteralPath $root
$buildDir = if ($env:NATIVERELOAD_BUILD_DIR) { $env:NATIVERELOAD_BUILD_DIR } else { Join-Path $root 'build' }
$results = Join-Path $root 'artifacts/test-results'
$hostExe = Join-Path $root ('artifacts/nativereload/' + $(if ($IsWindows) { 'nativereload.exe' } else { 'nativereload' }))

$usage = @'
Usage: ./build.ps1 [build|run|test|bench|mutate|help] [-Config Release|Debug] [args...]
  build   (default) build the native side (CMake) and the managed side (dotnet)
  run     build, then run the host on the sample: prints "message: ..." every second
          (args go to `nativereload watch`, e.g. ./build.ps1 run --every 250ms)
  test    build, then native tests (ctest) and managed tests (dotnet test);
          ends with "tests: N passed, M failed, K skipped"
  bench   build, then the benchmarks (bench/README.md): "--short" for a quick check,
          "--full" for the record; both write docs/benchmarks.md
  mutate  build, then mutation testing (Stryker.NET) of the given managed/NativeReload files
          (default: Reloading/, Watching/, ShadowCopying/, Plugins/); see docs/testing.md
  help    this text (also -h, --help)
'@

function Write-Failure([string] $Message) {
    [Console]::Error.WriteLine("build.ps1: $Message")
}

# Runs a native command and stops the script with its exit code if it fails.
function Invoke-Native {
    param(
        [Parameter(Mandatory = $true)] [string] $Command,
        [string[]] $Arguments = @(),
        [switch] $Quiet
    )
    if ($Quiet) {
        & $Command @Arguments | Out-Null
    }
    else {
        & $Command @Arguments
    }
    if ($LASTEXITCODE -ne 0) {
        Write-Failure "'$Command $($Arguments -join ' ')' failed with exit code $LASTEXITCODE"
        exit $LASTEXITCODE
    }
}

function Test-Command([string] $Name) {
    return [bool](Get-Command -Name $Name -CommandType Application -ErrorAction SilentlyContinue)
}

function Assert-Command([string] $Name, [string] $Hint) {
    if (-not (Test-Command $Name)) {
        Write-Failure "'$Name' not found. $Hint"
        exit 127
    }
}

# On Windows CMake finds MSVC by itself (Visual Studio generator), so cl.exe need not be on PATH:
# a Visual Studio or Build Tools install with the C++ tools is enough.
function Test-VisualCpp {
    $programFilesX86 = [Environment]::GetFolderPath('ProgramFilesX86')
    if (-not $programFilesX86) { return $false }
    $vswhere = Join-Path $programFilesX86 'Microsoft Visual Studio/Installer/vswhere.exe'
    if (-not (Test-Path -LiteralPath $vswhere)) { return $false }
    $found = & $vswhere -latest -products '*' -requires 'Microsoft.VisualStudio.Component.VC.Tools.x86.x64' -property installationPath
    return ($LASTEXITCODE -eq 0 -and [bool]$found)
}

function Assert-Tools {
    if ($IsWindows) {
        Assert-Command 'cmake' 'Install CMake 3.20 or newer (winget install Kitware.CMake).'
        Assert-Command 'dotnet' 'Install the .NET 10 SDK (winget install Microsoft.DotNet.SDK.10).'
        if (-not ((Test-Command 'cl') -or (Test-Command 'gcc') -or (Test-Command 'clang') -or (Test-VisualCpp))) {
            Write-Failure ('no C compiler found. Install Visual Studio Build Tools with the C++ workload ' +
                '(winget install Microsoft.VisualStudio.2022.BuildTools --override "--add Microsoft.VisualStudio.Workload.VCTools --includeRecommended --passive"), ' +
                'or run from a Developer PowerShell, or put gcc/clang on PATH.')
            exit 127
        }
    }
    else {
        $cmakeHint = if ($IsMacOS) { 'brew install cmake' } else { 'Debian/Ubuntu: apt-get install cmake' }
        Assert-Command 'cmake' "Install CMake 3.20 or newer ($cmakeHint)."
        Assert-Command 'dotnet' "Install the .NET 10 SDK (https://dot.net; Debian: the dotnet-sdk-10.0 package from Microsoft's feed; macOS: brew install --cask dotnet-sdk)."
        if (-not ((Test-Command 'cc') -or (Test-Command 'gcc') -or (Test-Command 'clang'))) {
            $ccHint = if ($IsMacOS) { 'xcode-select --install' } else { 'Debian/Ubuntu: apt-get install build-essential' }
            Write-Failure "no C compiler found. Install gcc or clang ($ccHint)."
            exit 127
        }
    }
}

function Build-Native {
    Invoke-Native 'cmake' @('-S', $root, '-B', $buildDir, "-DCMAKE_BUILD_TYPE=$Config") -Quiet
    Invoke-Native 'cmake' @('--build', $buildDir, '--config', $Config, '--parallel')
}

function Build-Managed {
    Invoke-Native 'dotnet' @('build', (Join-Path $root 'NativeReload.sln'), '-c', $Config, '--nologo', '-v', 'quiet')
    Invoke-Native 'dotnet' @('publish', (Join-Path $root 'managed/NativeReload.Cli'), '-c', $Config, '--nologo', '-v', 'quiet',
        '-o', (Join-Path $root 'artifacts/nativereload'))
}

function Get-SampleLibrary {
    if ($IsWindows) { return Join-Path $buildDir 'lib/greeter.dll' }
    if ($IsMacOS) { return Join-Path $buildDir 'lib/libgreeter.dylib' }
    return Join-Path $buildDir 'lib/libgreeter.so'
}

function Get-IntAttribute([System.Xml.XmlNode] $Node, [string] $Name) {
    if ($null -eq $Node) { return 0 }
    $value = $Node.Attributes.GetNamedItem($Name)
    if ($null -eq $value -or [string]::IsNullOrWhiteSpace($value.Value)) { return 0 }
    return [int]$value.Value
}

# Counts come from the runners' own result files, never from their console text.
function Get-TestCounts {
    $passed = 0
    $failed = 0
    $skippedTotal = 0
    $junit = Join-Path $results 'ctest.xml'
    if (Test-Path -LiteralPath $junit) {
        [xml] $doc = Get-Content -LiteralPath $junit -Raw
        $suite = $doc.SelectSingleNode('//testsuite')
        $tests = Get-IntAttribute $suite 'tests'
        $failures = Get-IntAttribute $suite 'failures'
        $skipped = Get-IntAttribute $suite 'skipped'
        $passed += $tests - $failures - $skipped
        $failed += $failures
        $skippedTotal += $skipped
    }
    foreach ($trx in @(Get-ChildItem -LiteralPath $results -Filter '*.trx' -File -ErrorAction SilentlyContinue)) {
        [xml] $doc = Get-Content -LiteralPath $trx.FullName -Raw
        # TRX has a default namespace: match on the local name.
        $counters = $doc.SelectSingleNode("//*[local-name()='ResultSummary']/*[local-name()='Counters']")
        $passed += Get-IntAttribute $counters 'passed'
        $failed += (Get-IntAttribute $counters 'failed') + (Get-IntAttribute $counters 'error')
        $skippedTotal += Get-IntAttribute $counters 'notExecuted'
    }
    return [pscustomobject]@{ Passed = $passed; Failed = $failed; Skipped = $skippedTotal }
}

# Runs both test suites, prints the counts and exits: non-zero on any failure or when no results were written.
function Invoke-Tests {
    if (Test-Path -LiteralPath $results) { Remove-Item -LiteralPath $results -Recurse -Force }
    New-Item -ItemType Directory -Path $results -Force | Out-Null
    $status = 0
    & ctest --test-dir $buildDir -C $Config --output-on-failure --output-junit (Join-Path $results 'ctest.xml')
    if ($LASTEXITCODE -ne 0) { $status = 1 }
    & dotnet test (Join-Path $root 'tests/NativeReload.Tests') -c $Config --no-build --nologo `
        --logger 'trx;LogFileName=managed.trx' --logger 'console;verbosity=normal' `
        --results-directory $results
    if ($LASTEXITCODE -ne 0) { $status = 1 }
    & dotnet test (Join-Path $root 'tests/NativeReload.Generators.Tests') -c $Config --no-build --nologo `
        --logger 'trx;LogFileName=generators.trx' --logger 'console;verbosity=normal' `
        --results-directory $results
    if ($LASTEXITCODE -ne 0) { $status = 1 }
    if (-not (Test-Path -LiteralPath (Join-Path $results 'ctest.xml')) -and
        -not (Test-Path -LiteralPath (Join-Path $results 'managed.trx'))) {
        Write-Failure 'no test results were written'
        $status = 1
    }
    $counts = Get-TestCounts
    if ($counts.Failed -gt 0) { $status = 1 }
    Write-Output "tests: $($counts.Passed) passed, $($counts.Failed) failed, $($counts.Skipped) skipped"
    exit $status
}

switch -CaseSensitive ($Verb) {
    'build' {
        Assert-Tools; Build-Native; Build-Managed
        Write-Output "built: host $hostExe, sample $(Get-SampleLibrary)"
        exit 0
    }
    'run' {
        # Only what it runs: the C sample and the host (analyzers are for `test` and CI).
        Assert-Tools
        Invoke-Native 'cmake' @('-S', $root, '-B', $buildDir, "-DCMAKE_BUILD_TYPE=$Config") -Quiet
        Invoke-Native 'cmake' @('--build', $buildDir, '--config', $Config, '--target', 'greeter', '--parallel') -Quiet
        Invoke-Native 'dotnet' @('publish', (Join-Path $root 'managed/NativeReload.Cli'), '-c', $Config, '--nologo', '-v', 'quiet',
            '-o', (Join-Path $root 'artifacts/nativereload'), '-p:RunAnalyzers=false', '-p:EnforceCodeStyleInBuild=false') -Quiet
        # The full loop: edit native/greeter/greeter.c, save, and the host rebuilds it and shows the new message.
        & $hostExe watch (Get-SampleLibrary) `
            --build "cmake --build `"$buildDir`" --config $Config --target greeter" `
            --source (Join-Path $root 'native/greeter') @Rest
        exit $LASTEXITCODE
    }
    'test' {
        Assert-Tools; Build-Native; Build-Managed; Invoke-Tests
    }
    'bench' {
        Assert-Tools; Build-Native; Build-Managed
        & dotnet run --project (Join-Path $root 'bench/NativeReload.Benchmarks') -c Release '--' @Rest
        exit $LASTEXITCODE
    }
    'mutate' {
        Assert-Tools; Build-Native; Build-Managed
        Invoke-Native 'dotnet' @('tool', 'restore') -Quiet
        $patterns = if ($Rest.Count -gt 0) { $Rest } else { @('Reloading/*.cs', 'Watching/*.cs', 'ShadowCopying/*.cs', 'Plugins/*.cs') }
        $mutateArgs = @($patterns | ForEach-Object { '--mutate'; '**/' + ($_ -replace '^managed/NativeReload/', '') })
        Push-Location (Join-Path $root 'tests/NativeReload.Tests')
        try {
            & dotnet stryker --config-file stryker-config.json --output (Join-Path $root 'artifacts/mutation') @mutateArgs
            exit $LASTEXITCODE
        }
        finally { Pop-Location }
    }
    { $_ -in @('-h', '--help', 'help') } {
        Write-Output $usage
        exit 0
    }
    default {
        Write-Failure "unknown verb '$Verb' (use: build, run, test, bench, mutate)"
        exit 2
    }
}
