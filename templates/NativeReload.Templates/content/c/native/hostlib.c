/* The native library the host reloads. Change the message, save, and watch the host. */
#if defined(_WIN32)
#define NATIVEHOST_EXPORT __declspec(dllexport)
#else
#define NATIVEHOST_EXPORT __attribute__((visibility("default")))
#endif

NATIVEHOST_EXPORT const char* get_message(void)
{
    return "Hello from C!";
}
