/*
 * nativereload.h - the optional plugin contract between a reloadable library and the NativeReload host.
 *
 * A library needs none of this to be reloaded: a plain `const char* get_message(void)` works.
 * Implement the pieces below when the library must
 *   - refuse to run against a host that speaks another version of this contract or of your own API
 *     (nr_get_plugin_info: abi_version, api_version), or
 *   - keep data across reloads (a game's world, a simulation's particles, a service's caches): the host
 *     owns a state block that survives every reload; the library borrows it in nr_load and gives it
 *     back in nr_unload.
 *
 * Lifecycle of one reload (docs/plugin-contract.md walks through it):
 *
 *   file change -> the new build is validated (loaded, exports resolved, nr_get_plugin_info checked)
 *     -> no thread is inside the library any more (new calls wait for a moment)
 *     -> old: nr_unload(state)                      (load_kind of the old generation's last load)
 *     -> new: nr_load(state)   with load_kind NR_RELOAD
 *          returns 0  -> the new generation becomes current; the old one is freed
 *          non-zero   -> old: nr_load(state) with load_kind NR_ROLLBACK; the old generation resumes,
 *                        its state untouched by the host; the new build is refused and reported
 *
 * The first load calls nr_load with NR_FIRST_LOAD and a zero-filled block. Every hook runs while no other
 * thread is inside the library. Only fixed-size types cross this boundary.
 *
 * C99; usable from C++ (the declarations are extern "C") and from Rust (#[repr(C)] mirrors, see
 * native/rust-counter).
 */
#ifndef NATIVERELOAD_H
#define NATIVERELOAD_H

#include <stdint.h>

#include "nativereload_export.h"

/* The version of this contract. The host refuses a library built against another one. */
#define NR_ABI_VERSION 1u

/* What a library tells the host about itself. Return a pointer to static storage. */
typedef struct nr_plugin_info {
    uint32_t abi_version;  /* NR_ABI_VERSION this library was compiled with */
    uint32_t api_version;  /* your own interface version; the host checks it only if it was asked to */
    uint32_t state_layout; /* version of your state struct: bump it whenever the struct changes (0: no state) */
    uint32_t reserved;     /* 0 */
    uint64_t state_size;   /* bytes of state you need (0: none); the host never shrinks the block */
} nr_plugin_info;

/* load_kind values */
#define NR_FIRST_LOAD 0 /* the block is new and zero-filled */
#define NR_RELOAD 1     /* the block holds what the previous generation left in it */
#define NR_ROLLBACK 2   /* your replacement's nr_load failed: you are loaded again, with your own state */

/* The host-owned state block, passed to nr_load and nr_unload. The struct itself is only valid during the
 * call; `data` stays valid (at the same address) until the next nr_unload, or longer if the block is not
 * resized. */
typedef struct nr_host_state {
    void* data;         /* the state block: 16-byte aligned, zero-filled when it was created or grown */
    uint64_t size;      /* its size in bytes, >= your state_size */
    uint32_t layout;    /* layout of what is in data: 0 = fresh, else the state_layout of the generation that
                           last held it. Different from yours: migrate it, reset it, or return non-zero. */
    int32_t load_kind;  /* NR_FIRST_LOAD, NR_RELOAD or NR_ROLLBACK (nr_unload: the kind of your last load) */
    int64_t generation; /* the number of the generation being loaded or unloaded (1, 2, ...) */
} nr_host_state;

NR_EXTERN_C_BEGIN

/* Optional. Describes the library; the host checks abi_version (and api_version, if asked) before any hook. */
NR_EXPORT const nr_plugin_info* nr_get_plugin_info(void);

/* Optional. Take the state block. Return 0 to accept this generation, non-zero to refuse it. */
NR_EXPORT int32_t nr_load(nr_host_state* state);

/* Optional. Give the state block back: leave in it what the next generation needs. No pointer into the
 * library's own memory (string literals, functions, statics) may stay in the block: that memory is about to be
 * unmapped. The return value is logged, not acted on. */
NR_EXPORT int32_t nr_unload(nr_host_state* state);

NR_EXTERN_C_END

/* Declares nr_get_plugin_info for a library whose state is a `state_type` of layout version `layout`:
 *     typedef struct counter_state { int64_t count; char message[128]; } counter_state;
 *     NR_DECLARE_PLUGIN(1, counter_state)
 * Use NR_DECLARE_PLUGIN_API(api, layout, state_type) to also declare your own API version. */
#define NR_DECLARE_PLUGIN_API(api, layout, state_type)                                       \
    NR_EXTERN_C NR_EXPORT const nr_plugin_info* nr_get_plugin_info(void)                   \
    {                                                                                      \
        static const nr_plugin_info info = {NR_ABI_VERSION, (api), (layout), 0u,           \
                                            (uint64_t)sizeof(state_type)};                 \
        return &info;                                                                      \
    }
#define NR_DECLARE_PLUGIN(layout, state_type) NR_DECLARE_PLUGIN_API(0u, layout, state_type)

#endif /* NATIVERELOAD_H */
