/*
 * unload_probe - does the OS loader really unmap a library after dlclose?
 * (Linux/glibc only: it reads /proc/self/maps.)
 *
 *   unload_probe <library> mapped|unmapped [--thread-exits-first]
 *
 * Loads the library, calls get_message() on a second thread, dlcloses it and
 * counts the library's mappings in /proc/self/maps. By default the calling
 * thread is still alive at dlclose, as a .NET thread-pool or test thread
 * would be. With --thread-exits-first the thread is joined before dlclose.
 *
 * Measured on glibc 2.36: a C++ thread_local with a destructor or a Rust std
 * thread_local! with Drop pins the library only when the thread that touched
 * it is still alive at dlclose (the pin then lasts after that thread exits);
 * if that thread already exited, they unload like plain C. STB_GNU_UNIQUE and
 * -z nodelete pin the library in every case.
 *
 * Exit 0: as expected; 1: not as expected; 2: usage/load error; 77: skipped.
 */
#define _DEFAULT_SOURCE /* realpath() even under -std=c11 */
#include <stdio.h>         /* first, so __GLIBC__ is defined when glibc is used */

#if !defined(__linux__) || !defined(__GLIBC__)
int main(void)
{
    puts("skipped: needs Linux with glibc");
    return 77;
}
#else
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef const char* (*get_message_fn)(void);

static get_message_fn g_get_message;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static int g_called, g_release;

static void* worker(void* arg)
{
    (void)arg;
    printf("thread: get_message() = \"%s\"\n", g_get_message());
    pthread_mutex_lock(&g_lock);
    g_called = 1;
    pthread_cond_broadcast(&g_cond);
    while (!g_release)
        pthread_cond_wait(&g_cond, &g_lock);
    pthread_mutex_unlock(&g_lock);
    return NULL;
}

static void release_worker(void)
{
    pthread_mutex_lock(&g_lock);
    g_release = 1;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
}

static int count_mappings(const char* path)
{
    FILE* f = fopen("/proc/self/maps", "r");
    char line[PATH_MAX + 256];
    int n = 0;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strstr(line, path))
            ++n;
    fclose(f);
    return n;
}

int main(int argc, char** argv)
{
    if (argc < 3 || (strcmp(argv[2], "mapped") != 0 && strcmp(argv[2], "unmapped") != 0)) {
        fprintf(stderr, "usage: unload_probe <library> mapped|unmapped [--thread-exits-first]\n");
        return 2;
    }
    int expect_mapped = strcmp(argv[2], "mapped") == 0;
    int thread_exits_first = argc > 3 && strcmp(argv[3], "--thread-exits-first") == 0;

    char path[PATH_MAX]; /* /proc/self/maps shows the resolved path */
    if (!realpath(argv[1], path)) {
        perror(argv[1]);
        return 2;
    }
    void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "cannot load %s: %s\n", path, dlerror());
        return 2;
    }
    void* sym = dlsym(lib, "get_message");
    if (!sym) {
        fprintf(stderr, "%s has no get_message\n", path);
        return 2;
    }
    memcpy(&g_get_message, &sym, sizeof g_get_message);

    pthread_t thread;
    pthread_create(&thread, NULL, worker, NULL);
    pthread_mutex_lock(&g_lock);
    while (!g_called)
        pthread_cond_wait(&g_cond, &g_lock);
    pthread_mutex_unlock(&g_lock);
    if (thread_exits_first) {
        release_worker();
        pthread_join(thread, NULL);
    }

    int before = count_mappings(path);
    dlclose(lib);
    int after_close = count_mappings(path);
    if (!thread_exits_first) {
        release_worker();
        pthread_join(thread, NULL);
    }
    int after_exit = count_mappings(path);

    printf("%s: %d mappings before dlclose, %d after, %d after the thread exited\n",
           path, before, after_close, after_exit);
    int is_mapped = after_close > 0 && after_exit > 0;
    if (is_mapped != expect_mapped) {
        printf("FAIL: expected %s, but it is %s\n", argv[2], is_mapped ? "mapped" : "unmapped");
        return 1;
    }
    printf("ok: %s\n", argv[2]);
    return 0;
}
#endif
