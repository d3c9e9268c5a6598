/*
 * loader_smoke - load a library the way the host does and check its exports.
 *
 *   loader_smoke <library path> [checks...]
 *     --message <text>      get_message() returns <text>
 *     --add <a> <b> <sum>   add(a, b) == sum
 *     --version <n>         get_version() == n
 *     --missing <symbol>    <symbol> is NOT exported
 *
 * Exit code 0 when every check passes, 1 on a failed check, 2 on bad usage
 * or a library that does not load. Uses only the OS loader (dlopen/dlsym,
 * LoadLibraryA/GetProcAddress), so it tests the built file, not our host.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portable_dl.h"

typedef const char* (*get_message_fn)(void);
typedef int32_t (*add_fn)(int32_t, int32_t);
typedef int32_t (*get_version_fn)(void);

static int parse_i32(const char* s, int32_t* out)
{
    char* end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < INT32_MIN || v > INT32_MAX)
        return 0;
    *out = (int32_t)v;
    return 1;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: loader_smoke <library> [--message TEXT] [--add A B SUM] "
            "[--version N] [--missing SYMBOL]...\n");
    return 2;
}

int main(int argc, char** argv)
{
    if (argc < 2)
        return usage();

    const char* path = argv[1];
    lib_handle lib = open_library(path);
    if (!lib) {
        fprintf(stderr, "FAIL: cannot load %s: %s\n", path, last_error());
        return 2;
    }
    printf("loaded %s\n", path);

    int failures = 0;
    for (int i = 2; i < argc; ++i) {
        const char* opt = argv[i];
        if (strcmp(opt, "--message") == 0 && i + 1 < argc) {
            const char* want = argv[++i];
            get_message_fn fn = (get_message_fn)find_symbol(lib, "get_message");
            const char* got = fn ? fn() : NULL;
            if (!fn) {
                printf("FAIL: get_message not exported\n");
                ++failures;
            } else if (!got || strcmp(got, want) != 0) {
                printf("FAIL: get_message() = \"%s\", expected \"%s\"\n", got ? got : "(null)", want);
                ++failures;
            } else {
                printf("ok: get_message() = \"%s\"\n", got);
            }
        } else if (strcmp(opt, "--add") == 0 && i + 3 < argc) {
            int32_t a, b, want;
            if (!parse_i32(argv[i + 1], &a) || !parse_i32(argv[i + 2], &b) || !parse_i32(argv[i + 3], &want))
                return usage();
            i += 3;
            add_fn fn = (add_fn)find_symbol(lib, "add");
            if (!fn) {
                printf("FAIL: add not exported\n");
                ++failures;
            } else if (fn(a, b) != want) {
                printf("FAIL: add(%d, %d) = %d, expected %d\n", (int)a, (int)b, (int)fn(a, b), (int)want);
                ++failures;
            } else {
                printf("ok: add(%d, %d) = %d\n", (int)a, (int)b, (int)want);
            }
        } else if (strcmp(opt, "--version") == 0 && i + 1 < argc) {
            int32_t want;
            if (!parse_i32(argv[++i], &want))
                return usage();
            get_version_fn fn = (get_version_fn)find_symbol(lib, "get_version");
            if (!fn) {
                printf("FAIL: get_version not exported\n");
                ++failures;
            } else if (fn() != want) {
                printf("FAIL: get_version() = %d, expected %d\n", (int)fn(), (int)want);
                ++failures;
            } else {
                printf("ok: get_version() = %d\n", (int)want);
            }
        } else if (strcmp(opt, "--missing") == 0 && i + 1 < argc) {
            const char* name = argv[++i];
            if (find_symbol(lib, name)) {
                printf("FAIL: %s is exported, expected it to be missing\n", name);
                ++failures;
            } else {
                printf("ok: %s is not exported\n", name);
            }
        } else {
            return usage();
        }
    }

    /* Deliberately no dlclose/FreeLibrary: whether a library unloads is not
     * what this checks, and some fixtures are designed never to. */
    if (failures)
        printf("%d check(s) failed for %s\n", failures, path);
    return failures ? 1 : 0;
}
