/*
 * contract_probe - a minimal host for the plugin contract (nativereload.h):
 * does state survive a swap from one library to another?
 *
 *   contract_probe <first library> <second library> [checks...]
 *     --first <m1> <m2>       the first library's two get_message() results
 *     --second <m3>           the get_message() result after the swap (from
 *                             the second library, or from the first after a
 *                             refusal)
 *     --info <abi> <api> <layout>
 *                             the second library's nr_plugin_info
 *     --refuse-abi            the second library's abi_version is not
 *                             NR_ABI_VERSION: refused before any hook
 *     --refuse-load <code>    the second library's nr_load returns <code>:
 *                             the block must be unchanged, and the first
 *                             library is loaded again with NR_ROLLBACK
 *     --lose-state            sabotage, for the probe's own self-test: give
 *                             the second library a fresh block
 *
 * The sequence is the host's (see nativereload.h): first library: info
 * check, nr_load(NR_FIRST_LOAD) on a zero-filled 16-aligned block of its
 * state_size, get_message() twice; second library: loaded and its info
 * checked, then old nr_unload, block grown if the new one asks for more
 * (zero-filled tail), new nr_load(NR_RELOAD) -> accepted: the old library is
 * closed; refused: old nr_load(NR_ROLLBACK). Then get_message() once more.
 *
 * Every library under test is one of the counter samples, whose state starts
 * with an int64_t count (layout 1 and 2 alike): after each call the probe
 * checks that get_count(), the count in the block itself and the call number
 * agree (1, 2, then 3 across the swap), and that get_message() returned a
 * pointer into the block (host memory, valid after the library is gone).
 *
 * Exit code 0 when every check passes, 1 on a failed check, 2 on bad usage
 * or a library that does not load.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nativereload.h"

#ifdef _WIN32
#include <malloc.h>
#endif

#include "portable_dl.h"

typedef const nr_plugin_info* (*get_info_fn)(void);
typedef int32_t (*hook_fn)(nr_host_state*);
typedef const char* (*get_message_fn)(void);
typedef int64_t (*get_count_fn)(void);

typedef struct library {
    const char* path;
    lib_handle handle;
    const nr_plugin_info* info;
    hook_fn load;
    hook_fn unload;
    get_message_fn get_message;
    get_count_fn get_count;
} library;

/* The host-owned block. */
typedef struct block {
    unsigned char* data;
    uint64_t size;
    uint32_t layout;
} block;

static int g_failures;

#define CHECK(cond, ...)                 \
    do {                                 \
        if (cond) {                      \
            printf("ok: ");              \
        } else {                         \
            printf("FAIL: ");            \
            ++g_failures;                \
        }                                \
        printf(__VA_ARGS__);             \
        printf("\n");                    \
    } while (0)

static void* aligned_zeroed(uint64_t size)
{
    size_t n = (size_t)((size + 15u) & ~(uint64_t)15u);
    if (n == 0)
        n = 16;
#ifdef _WIN32
    void* p = _aligned_malloc(n, 16);
#else
    void* p = aligned_alloc(16, n);
#endif
    if (p)
        memset(p, 0, n);
    return p;
}

static void aligned_free(void* p)
{
#ifdef _WIN32
    _aligned_free(p);
#else
    free(p);
#endif
}

static void close_library(library* lib)
{
    if (!lib->handle)
        return;
#ifdef _WIN32
    FreeLibrary(lib->handle);
#else
    dlclose(lib->handle);
#endif
    lib->handle = NULL;
}

/* Loads a library and resolves the contract and the counter's exports;
 * returns 0 (and says why) when it cannot be used at all. */
static int load_library(library* lib, const char* path)
{
    memset(lib, 0, sizeof *lib);
    lib->path = path;
    lib->handle = open_library(path);
    if (!lib->handle) {
        printf("FAIL: cannot load %s: %s\n", path, last_error());
        return 0;
    }
    get_info_fn get_info = (get_info_fn)find_symbol(lib->handle, "nr_get_plugin_info");
    lib->load = (hook_fn)find_symbol(lib->handle, "nr_load");
    lib->unload = (hook_fn)find_symbol(lib->handle, "nr_unload");
    lib->get_message = (get_message_fn)find_symbol(lib->handle, "get_message");
    lib->get_count = (get_count_fn)find_symbol(lib->handle, "get_count");
    if (!get_info || !lib->load || !lib->unload || !lib->get_message || !lib->get_count) {
        printf("FAIL: %s lacks an export: nr_get_plugin_info %s, nr_load %s, nr_unload %s, "
               "get_message %s, get_count %s\n",
               path, get_info ? "ok" : "missing", lib->load ? "ok" : "missing",
               lib->unload ? "ok" : "missing", lib->get_message ? "ok" : "missing",
               lib->get_count ? "ok" : "missing");
        return 0;
    }
    lib->info = get_info();
    if (!lib->info) {
        printf("FAIL: %s: nr_get_plugin_info() returned NULL\n", path);
        return 0;
    }
    printf("loaded %s: abi %u, api %u, layout %u, state_size %llu\n", path,
           (unsigned)lib->info->abi_version, (unsigned)lib->info->api_version,
           (unsigned)lib->info->state_layout, (unsigned long long)lib->info->state_size);
    return 1;
}

static int32_t call_hook(hook_fn hook, const char* name, const library* lib, block* b,
                         int32_t load_kind, int64_t generation)
{
    nr_host_state hs;
    hs.data = b->data;
    hs.size = b->size;
    hs.layout = b->layout;
    hs.load_kind = load_kind;
    hs.generation = generation;
    int32_t rc = hook(&hs);
    printf("%s(layout %u, load_kind %d, generation %lld) = %d [%s]\n", name, (unsigned)b->layout,
           (int)load_kind, (long long)generation, (int)rc, lib->path);
    return rc;
}

/* One get_message() call, numbered `expected_count`. */
static void call_get_message(const library* lib, const block* b, int64_t expected_count,
                             const char* expected_message)
{
    const char* m = lib->get_message();
    int64_t count = lib->get_count();
    int64_t in_block;
    memcpy(&in_block, b->data, sizeof in_block);

    printf("get_message() = \"%s\"\n", m ? m : "(null)");
    CHECK(count == expected_count, "get_count() = %lld, expected %lld", (long long)count,
          (long long)expected_count);
    CHECK(in_block == expected_count, "count in the state block = %lld, expected %lld",
          (long long)in_block, (long long)expected_count);
    CHECK(m && (const unsigned char*)m >= b->data && (const unsigned char*)m < b->data + b->size,
          "get_message() points into the state block");
    if (expected_message)
        CHECK(m && strcmp(m, expected_message) == 0, "get_message() = \"%s\", expected \"%s\"",
              m ? m : "(null)", expected_message);
}

static int usage(void)
{
    fprintf(stderr, "usage: contract_probe <first library> <second library> [--first M1 M2] "
                    "[--second M3] [--info ABI API LAYOUT] [--refuse-abi] [--refuse-load CODE] "
                    "[--lose-state]\n");
    return 2;
}

static int parse_long(const char* s, long* out)
{
    char* end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0')
        return 0;
    *out = v;
    return 1;
}

int main(int argc, char** argv)
{
    if (argc < 3)
        return usage();

    const char* first_messages[2] = {NULL, NULL};
    const char* second_message = NULL;
    int check_info = 0, refuse_abi = 0, refuse_load = 0, lose_state = 0;
    long info[3] = {0, 0, 0}, refuse_code = 0;
    for (int i = 3; i < argc; ++i) {
        const char* opt = argv[i];
        if (strcmp(opt, "--first") == 0 && i + 2 < argc) {
            first_messages[0] = argv[++i];
            first_messages[1] = argv[++i];
        } else if (strcmp(opt, "--second") == 0 && i + 1 < argc) {
            second_message = argv[++i];
        } else if (strcmp(opt, "--info") == 0 && i + 3 < argc) {
            check_info = 1;
            for (int k = 0; k < 3; ++k)
                if (!parse_long(argv[++i], &info[k]))
                    return usage();
        } else if (strcmp(opt, "--refuse-abi") == 0) {
            refuse_abi = 1;
        } else if (strcmp(opt, "--refuse-load") == 0 && i + 1 < argc) {
            refuse_load = 1;
            if (!parse_long(argv[++i], &refuse_code) || refuse_code == 0)
                return usage();
        } else if (strcmp(opt, "--lose-state") == 0) {
            lose_state = 1;
        } else {
            return usage();
        }
    }

    /* ---- generation 1 ---------------------------------------------------- */
    library a, b;
    if (!load_library(&a, argv[1]))
        return 2;
    CHECK(a.info->abi_version == NR_ABI_VERSION, "first: abi_version %u == NR_ABI_VERSION %u",
          (unsigned)a.info->abi_version, (unsigned)NR_ABI_VERSION);
    CHECK(a.info->state_size >= sizeof(int64_t) + 1,
          "first: state_size %llu holds a count and a message", (unsigned long long)a.info->state_size);
    if (g_failures)
        return 1;

    block blk;
    blk.size = a.info->state_size;
    blk.layout = 0;
    blk.data = aligned_zeroed(blk.size);
    if (!blk.data) {
        printf("FAIL: out of memory\n");
        return 2;
    }
    CHECK(call_hook(a.load, "first: nr_load", &a, &blk, NR_FIRST_LOAD, 1) == 0,
          "first: nr_load accepted a fresh block");
    if (g_failures)
        return 1;
    blk.layout = a.info->state_layout;
    call_get_message(&a, &blk, 1, first_messages[0]);
    call_get_message(&a, &blk, 2, first_messages[1]);

    /* ---- the swap -------------------------------------------------------- */
    if (!load_library(&b, argv[2]))
        return 2;
    if (check_info)
        CHECK(b.info->abi_version == (uint32_t)info[0] && b.info->api_version == (uint32_t)info[1] &&
                  b.info->state_layout == (uint32_t)info[2],
              "second: abi %u, api %u, layout %u; expected %ld, %ld, %ld",
              (unsigned)b.info->abi_version, (unsigned)b.info->api_version,
              (unsigned)b.info->state_layout, info[0], info[1], info[2]);

    const library* current = &a;
    int32_t current_kind = NR_FIRST_LOAD; /* how `current` was last loaded */
    if (b.info->abi_version != NR_ABI_VERSION) {
        /* Refused before any hook: the first library never noticed. */
        printf("second: refused, abi_version %u != NR_ABI_VERSION %u\n",
               (unsigned)b.info->abi_version, (unsigned)NR_ABI_VERSION);
        CHECK(refuse_abi, "second library refused for its ABI version%s",
              refuse_abi ? "" : " (expected it to be accepted)");
        close_library(&b);
    } else {
        CHECK(!refuse_abi, "second: abi_version %u == NR_ABI_VERSION%s",
              (unsigned)b.info->abi_version, refuse_abi ? " (expected a refusal)" : "");
        call_hook(a.unload, "first: nr_unload", &a, &blk, NR_FIRST_LOAD, 1);

        if (lose_state) {
            printf("(--lose-state: the second library gets a fresh block)\n");
            aligned_free(blk.data);
            blk.size = 0;
            blk.layout = 0;
            blk.data = NULL;
        }
        if (b.info->state_size > blk.size) {
            unsigned char* grown = aligned_zeroed(b.info->state_size);
            if (!grown) {
                printf("FAIL: out of memory\n");
                return 2;
            }
            if (blk.data)
                memcpy(grown, blk.data, (size_t)blk.size);
            aligned_free(blk.data);
            blk.data = grown;
            blk.size = b.info->state_size;
        }

        unsigned char* before = malloc((size_t)blk.size);
        if (!before) {
            printf("FAIL: out of memory\n");
            return 2;
        }
        memcpy(before, blk.data, (size_t)blk.size);
        int32_t rc = call_hook(b.load, "second: nr_load", &b, &blk, NR_RELOAD, 2);
        if (refuse_load) {
            CHECK(rc == (int32_t)refuse_code, "second: nr_load = %d, expected %ld (a refusal)", (int)rc,
                  refuse_code);
            CHECK(memcmp(before, blk.data, (size_t)blk.size) == 0,
                  "second: the refusing nr_load left the block unchanged");
            CHECK(call_hook(a.load, "first: nr_load", &a, &blk, NR_ROLLBACK, 1) == 0,
                  "first: nr_load accepted the rollback");
            current_kind = NR_ROLLBACK;
            close_library(&b);
        } else {
            CHECK(rc == 0, "second: nr_load = %d, expected 0 (accepted)", (int)rc);
            if (rc == 0) {
                blk.layout = b.info->state_layout;
                current = &b;
                current_kind = NR_RELOAD;
                close_library(&a);
            } else {
                /* Keep going as the host would, so the output shows the rest. */
                call_hook(a.load, "first: nr_load", &a, &blk, NR_ROLLBACK, 1);
                current_kind = NR_ROLLBACK;
                close_library(&b);
            }
        }
        free(before);
    }

    /* ---- after the swap -------------------------------------------------- */
    call_get_message(current, &blk, 3, second_message);

    call_hook(current->unload, "last: nr_unload", current, &blk, current_kind, current == &a ? 1 : 2);
    close_library(&a);
    close_library(&b);
    aligned_free(blk.data);

    if (g_failures)
        printf("%d check(s) failed: %s -> %s\n", g_failures, argv[1], argv[2]);
    return g_failures ? 1 : 0;
}
