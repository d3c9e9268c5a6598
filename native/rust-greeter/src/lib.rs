//! rust_greeter: the Rust version of native/greeter/greeter.c.
//!
//! Same C ABI: `get_message`, `add`, `get_version`. The message, version and
//! add() bias are picked at compile time from environment variables, so the
//! CMake build can make test fixtures from this one crate:
//!   GREETER_MESSAGE  (default "Hello from Rust!")   <- edit me and rebuild
//!   GREETER_VERSION  (default 1)
//!   GREETER_ADD_BIAS (default 0)
//!
//! `get_message` also touches a `std` `thread_local!` whose value has a `Drop`
//! impl. That registers a thread-exit destructor with glibc, which then keeps
//! the library mapped after `dlclose`: the "cannot be unloaded" case the host
//! must survive (a reload still has to bring in the new code).

use std::cell::Cell;
use std::os::raw::c_char;

const MESSAGE: &str = match option_env!("GREETER_MESSAGE") {
    Some(m) => m,
    None => "Hello from Rust!",
};

const VERSION: i32 = match option_env!("GREETER_VERSION") {
    Some(v) => parse_i32(v),
    None => 1,
};

const ADD_BIAS: i32 = match option_env!("GREETER_ADD_BIAS") {
    Some(v) => parse_i32(v),
    None => 0,
};

/// The message plus a terminating NUL, built at compile time, in static
/// memory: the pointer stays valid as long as the library is loaded.
static MESSAGE_Z: [u8; MESSAGE.len() + 1] = nul_terminated::<{ MESSAGE.len() + 1 }>(MESSAGE);

const fn nul_terminated<const N: usize>(s: &str) -> [u8; N] {
    let bytes = s.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < bytes.len() {
        assert!(bytes[i] != 0, "GREETER_MESSAGE must not contain NUL");
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// Compile-time decimal parse; a bad value fails the build, not the host.
const fn parse_i32(s: &str) -> i32 {
    let b = s.as_bytes();
    assert!(!b.is_empty(), "empty number");
    let (neg, mut i) = if b[0] == b'-' { (true, 1) } else { (false, 0) };
    assert!(i < b.len(), "no digits");
    let mut v: i32 = 0;
    while i < b.len() {
        assert!(b[i] >= b'0' && b[i] <= b'9', "not a decimal number");
        v = v * 10 + (b[i] - b'0') as i32;
        i += 1;
    }
    if neg {
        -v
    } else {
        v
    }
}

/// Per-thread call counter; its Drop impl is what makes glibc pin the library.
struct CallCounter(Cell<u64>);

impl Drop for CallCounter {
    fn drop(&mut self) {
        std::hint::black_box(self.0.get());
    }
}

thread_local! {
    static CALLS: CallCounter = const { CallCounter(Cell::new(0)) };
}

#[no_mangle]
pub extern "C" fn get_message() -> *const c_char {
    CALLS.with(|c| c.0.set(c.0.get() + 1));
    MESSAGE_Z.as_ptr() as *const c_char
}

#[no_mangle]
pub extern "C" fn add(a: i32, b: i32) -> i32 {
    a.wrapping_add(b).wrapping_add(ADD_BIAS)
}

#[no_mangle]
pub extern "C" fn get_version() -> i32 {
    VERSION
}
