/*
 * nativereload_export.h - how a reloadable library marks its C ABI.
 *
 * Every native target in this repo is built with hidden visibility
 * (C_VISIBILITY_PRESET / CXX_VISIBILITY_PRESET hidden), so a symbol is only
 * exported when it carries NR_EXPORT. That keeps the export table to exactly
 * the functions the host resolves, on every platform.
 *
 * Keep ABI types fixed-size (int32_t, const char*, pointers): the managed
 * host declares the same signatures and must not guess the size of `int`
 * or `long`.
 */
#ifndef NATIVERELOAD_EXPORT_H
#define NATIVERELOAD_EXPORT_H

#include <stdint.h>

/* NR_EXPORT: put the symbol in the dynamic export table. */
#if defined(_WIN32) || defined(__CYGWIN__)
#  define NR_EXPORT __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#  define NR_EXPORT __attribute__((visibility("default")))
#else
#  define NR_EXPORT
#endif

/* NR_EXTERN_C: no C++ name mangling, so the host finds the plain name.
 * Use NR_EXTERN_C on one declaration, or wrap a block in
 * NR_EXTERN_C_BEGIN / NR_EXTERN_C_END. In C these expand to nothing. */
#ifdef __cplusplus
#  define NR_EXTERN_C extern "C"
#  define NR_EXTERN_C_BEGIN extern "C" {
#  define NR_EXTERN_C_END }
#else
#  define NR_EXTERN_C
#  define NR_EXTERN_C_BEGIN
#  define NR_EXTERN_C_END
#endif

/* NR_API: the usual combination for one exported C function. */
#define NR_API NR_EXTERN_C NR_EXPORT

#endif /* NATIVERELOAD_EXPORT_H */
