//! The native library the host reloads. Change the message, save, and watch the host.

/// `const char* get_message(void)`: a NUL-terminated string with static lifetime.
#[no_mangle]
pub extern "C" fn get_message() -> *const std::ffi::c_char {
    c"Hello from Rust!".as_ptr()
}
