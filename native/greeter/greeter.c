/*
 * greeter.c - the sample library the host reloads.
 *
 * The README tour: run the host, change the message below, rebuild
 * (`cmake --build build`), and watch the next printed line change.
 */
#include "nativereload_export.h"

/* ---- edit me and rebuild ------------------------------------------------ */
#ifndef GREETER_MESSAGE
#define GREETER_MESSAGE "Hello from C!"
#endif
/* ------------------------------------------------------------------------- */

/* The test fixtures (native/fixtures) compile this same file with these
 * overridden, so every variant is the sample plus a few -D flags. */
#ifndef GREETER_VERSION
#define GREETER_VERSION 1
#endif

#ifndef GREETER_ADD_BIAS
#define GREETER_ADD_BIAS 0
#endif

/* GREETER_OMIT_GET_MESSAGE builds a "broken" library that lacks a required
 * export, so the host's validation path can be tested. */
#ifndef GREETER_OMIT_GET_MESSAGE
/* A string literal has static storage: valid until the library is unloaded,
 * which is why the host copies it before releasing a generation. */
NR_API const char* get_message(void)
{
    return GREETER_MESSAGE;
}
#endif

NR_API int32_t add(int32_t a, int32_t b)
{
    return a + b + GREETER_ADD_BIAS;
}

NR_API int32_t get_version(void)
{
    return GREETER_VERSION;
}
