/*
 * counter.c - the sample for the plugin contract (native/include/nativereload.h).
 *
 * The README's counter demo: run
 *     nativereload run build/lib/libcounter.so --call get_message
 * change COUNTER_FORMAT below, rebuild (`cmake --build build`), and the count
 * carries on from where it was: it lives in the host's state block, not in
 * this library, so it survives every reload.
 *
 * What it shows:
 *   - NR_DECLARE_PLUGIN: the library asks for a block of sizeof(counter_state)
 *     and says its layout is 1;
 *   - nr_load / nr_unload: borrow the block, refuse one it cannot read;
 *   - a returned string that outlives the library: get_message formats into
 *     the block's buffer (host memory), so the pointer stays valid after this
 *     generation is unmapped, unlike a string literal.
 *
 * Loaded by a host without the contract (nr_load never called), it counts in
 * a static fallback instead, so it never crashes; that count is lost on reload.
 *
 * Not thread-safe: calls are expected from one thread at a time, like the
 * CLI's loop (concurrent callers would need an atomic count and their own
 * buffers).
 */
#include <stdio.h>

#include "nativereload.h"

/* ---- edit me and rebuild ------------------------------------------------ */
#ifndef COUNTER_FORMAT
#define COUNTER_FORMAT "count: %lld"
#endif
/* ------------------------------------------------------------------------- */

/* The test fixtures (native/fixtures) compile this same file with these
 * overridden, like the greeter's. */
#ifndef COUNTER_VERSION
#define COUNTER_VERSION 1
#endif

/* The state the host keeps for us. Change it and you must bump the layout
 * (and, in the new version, migrate or refuse the old layout in nr_load):
 * native/fixtures/counter_layout2.c is that next version. A block is
 * zero-filled when it is new, so an all-zero counter_state must be valid. */
typedef struct counter_state {
    int64_t count;
    char message[128];
} counter_state;

#define COUNTER_LAYOUT 1

/* nr_load's refusals (any non-zero value refuses; these say why in the log). */
#define COUNTER_ERR_BAD_BLOCK 1 /* no block, or smaller than counter_state */
#define COUNTER_ERR_LAYOUT 2    /* the block holds a layout we cannot read */

#if defined(COUNTER_FIXTURE_ABI_VERSION)
/* Fixture only (counter_abi2): what NR_DECLARE_PLUGIN expands to, written out
 * by hand with a wrong abi_version, so the host's ABI check has something to
 * refuse. A real library always uses NR_ABI_VERSION. */
NR_API const nr_plugin_info* nr_get_plugin_info(void)
{
    static const nr_plugin_info info = {
        COUNTER_FIXTURE_ABI_VERSION, /* abi_version: not NR_ABI_VERSION */
        0u,                          /* api_version */
        COUNTER_LAYOUT,              /* state_layout */
        0u,                          /* reserved */
        (uint64_t)sizeof(counter_state),
    };
    return &info;
}
#elif defined(COUNTER_API_VERSION)
/* Our own API version too (counter_api5), for a host that checks it. */
NR_DECLARE_PLUGIN_API(COUNTER_API_VERSION, COUNTER_LAYOUT, counter_state)
#else
NR_DECLARE_PLUGIN(COUNTER_LAYOUT, counter_state)
#endif

/* The block while we hold it (between nr_load and nr_unload); the fallback
 * for a host that never calls nr_load. */
static counter_state* g_state;
static counter_state g_fallback;

static counter_state* state(void)
{
    return g_state ? g_state : &g_fallback;
}

NR_API int32_t nr_load(nr_host_state* host)
{
    if (!host || !host->data || host->size < sizeof(counter_state))
        return COUNTER_ERR_BAD_BLOCK;
    /* 0: fresh (zero-filled, i.e. count 0 and an empty message); 1: ours, or
     * another build with the same struct (the Rust sample's, for one). */
    if (host->layout != 0 && host->layout != COUNTER_LAYOUT)
        return COUNTER_ERR_LAYOUT;
#ifdef COUNTER_FIXTURE_FAIL_RELOAD
    /* Fixture only (counter_failload): refuse every reload, after the checks
     * and before touching the block, so a rollback finds it as it was. */
    if (host->load_kind == NR_RELOAD)
        return COUNTER_FIXTURE_FAIL_RELOAD;
#endif
    g_state = (counter_state*)host->data;
    return 0;
}

NR_API int32_t nr_unload(nr_host_state* host)
{
    (void)host; /* everything we keep is already in the block */
    g_state = NULL;
    return 0;
}

/* The text lives in the state block (or the fallback), not in this library:
 * the pointer stays valid until the next call, whatever gets reloaded. */
NR_API const char* get_message(void)
{
    counter_state* s = state();
    s->count += 1;
    snprintf(s->message, sizeof s->message, COUNTER_FORMAT, (long long)s->count);
    return s->message;
}

NR_API int64_t get_count(void)
{
    return state()->count;
}

NR_API int32_t get_version(void)
{
    return COUNTER_VERSION;
}
