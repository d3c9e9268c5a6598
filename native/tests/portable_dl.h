/*
 * portable_dl.h - the OS loader, the same way on every platform, for the native test programs:
 * dlopen/dlsym/dlerror on POSIX, LoadLibraryA/GetProcAddress/GetLastError on Windows.
 */
#ifndef NATIVERELOAD_TESTS_PORTABLE_DL_H
#define NATIVERELOAD_TESTS_PORTABLE_DL_H

#include <stdio.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
typedef HMODULE lib_handle;
#else
#include <dlfcn.h>
typedef void* lib_handle;
#endif

typedef void (*any_fn)(void);

static lib_handle open_library(const char* path)
{
#ifdef _WIN32
    return LoadLibraryA(path);
#else
    return dlopen(path, RTLD_NOW | RTLD_LOCAL);
#endif
}

static const char* last_error(void)
{
#ifdef _WIN32
    static char buf[64];
    snprintf(buf, sizeof buf, "Win32 error %lu", (unsigned long)GetLastError());
    return buf;
#else
    const char* e = dlerror();
    return e ? e : "unknown error";
#endif
}

/* Function pointers cannot portably be cast from void*; copy the bits. */
static any_fn find_symbol(lib_handle lib, const char* name)
{
    any_fn fn = NULL;
#ifdef _WIN32
    FARPROC p = GetProcAddress(lib, name);
    memcpy(&fn, &p, sizeof fn);
#else
    void* p = dlsym(lib, name);
    memcpy(&fn, &p, sizeof fn);
#endif
    return fn;
}

#endif /* NATIVERELOAD_TESTS_PORTABLE_DL_H */
