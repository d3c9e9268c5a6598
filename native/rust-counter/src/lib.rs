//! rust_counter: native/counter/counter.c in Rust, with no crate dependencies.
//!
//! It implements the optional plugin contract of `native/include/nativereload.h`:
//! `nr_get_plugin_info`, `nr_load`, `nr_unload`, plus the sample's own exports
//! `get_message`, `get_count` and `get_version`. The count lives in the host's
//! state block, so it survives every reload.
//!
//! The state is layout 1 with exactly the C sample's `counter_state`
//! (`int64_t count; char message[128];`), so a C generation and a Rust
//! generation can follow each other on the same block and the count goes on.
//!
//! Picked at compile time from environment variables, so the CMake build can
//! make test fixtures from this one crate:
//!   COUNTER_FORMAT  (default "rust count {}")   <- edit me and rebuild
//!                   the first `{}` is replaced by the count
//!   COUNTER_VERSION (default 1)

use std::cell::UnsafeCell;
use std::fmt::Write;
use std::os::raw::c_char;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

const FORMAT: &str = match option_env!("COUNTER_FORMAT") {
    Some(f) => f,
    None => "rust count {}",
};

const VERSION: i32 = match option_env!("COUNTER_VERSION") {
    Some(v) => parse_i32(v),
    None => 1,
};

// ---- #[repr(C)] mirrors of native/include/nativereload.h -------------------
// Field for field, same order and fixed-size types; keep them in sync with the
// header (the contract_probe ctests load this library through the C header's
// definitions, and check the sizes below at compile time).

/// `NR_ABI_VERSION`
pub const NR_ABI_VERSION: u32 = 1;
/// `load_kind` values
pub const NR_FIRST_LOAD: i32 = 0;
pub const NR_RELOAD: i32 = 1;
pub const NR_ROLLBACK: i32 = 2;

/// `nr_plugin_info`
#[repr(C)]
pub struct NrPluginInfo {
    pub abi_version: u32,
    pub api_version: u32,
    pub state_layout: u32,
    pub reserved: u32,
    pub state_size: u64,
}

/// `nr_host_state`
#[repr(C)]
pub struct NrHostState {
    pub data: *mut u8,
    pub size: u64,
    pub layout: u32,
    pub load_kind: i32,
    pub generation: i64,
}

const _: () = assert!(std::mem::size_of::<NrPluginInfo>() == 24);
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<NrHostState>() == 32);

// ---- this library's state ----------------------------------------------------

/// Layout 1, the same struct as counter.c's `counter_state`.
#[repr(C)]
struct CounterState {
    count: i64,
    message: [u8; 128],
}

const COUNTER_LAYOUT: u32 = 1;
const _: () = assert!(std::mem::size_of::<CounterState>() == 136);

/// nr_load's refusals, as in counter.c.
const COUNTER_ERR_BAD_BLOCK: i32 = 1;
const COUNTER_ERR_LAYOUT: i32 = 2;

static INFO: NrPluginInfo = NrPluginInfo {
    abi_version: NR_ABI_VERSION,
    api_version: 0,
    state_layout: COUNTER_LAYOUT,
    reserved: 0,
    state_size: std::mem::size_of::<CounterState>() as u64,
};

/// The block while we hold it (between nr_load and nr_unload).
static STATE: AtomicPtr<CounterState> = AtomicPtr::new(ptr::null_mut());

/// Used when the host never calls nr_load (a host without the contract).
/// Like the C sample, calls are expected from one thread at a time.
struct Fallback(UnsafeCell<CounterState>);
unsafe impl Sync for Fallback {}
static FALLBACK: Fallback = Fallback(UnsafeCell::new(CounterState { count: 0, message: [0; 128] }));

fn state() -> *mut CounterState {
    let p = STATE.load(Ordering::Acquire);
    if p.is_null() {
        FALLBACK.0.get()
    } else {
        p
    }
}

#[no_mangle]
pub extern "C" fn nr_get_plugin_info() -> *const NrPluginInfo {
    &INFO
}

/// # Safety
/// `host` is null or points to a valid `nr_host_state` (the host's promise).
#[no_mangle]
pub unsafe extern "C" fn nr_load(host: *mut NrHostState) -> i32 {
    let Some(host) = host.as_ref() else {
        return COUNTER_ERR_BAD_BLOCK;
    };
    if host.data.is_null() || host.size < std::mem::size_of::<CounterState>() as u64 {
        return COUNTER_ERR_BAD_BLOCK;
    }
    // 0: fresh (zero-filled: count 0, empty message); 1: ours or the C sample's.
    if host.layout != 0 && host.layout != COUNTER_LAYOUT {
        return COUNTER_ERR_LAYOUT;
    }
    STATE.store(host.data.cast(), Ordering::Release);
    0
}

/// # Safety
/// As for `nr_load`; the block is not touched.
#[no_mangle]
pub unsafe extern "C" fn nr_unload(_host: *mut NrHostState) -> i32 {
    STATE.store(ptr::null_mut(), Ordering::Release);
    0
}

/// Writes into a fixed buffer, truncating, always leaving room for the NUL.
struct BufWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Write for BufWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = self.buf.len() - 1 - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Counts, and formats the message into the state block's buffer: host
/// memory, so the returned pointer outlives this library's code.
#[no_mangle]
pub extern "C" fn get_message() -> *const c_char {
    // SAFETY: the block (or the fallback) is ours between nr_load and
    // nr_unload, and calls come one at a time.
    let s = unsafe { &mut *state() };
    s.count += 1;
    let mut w = BufWriter { buf: &mut s.message, len: 0 };
    let _ = match FORMAT.find("{}") {
        Some(i) => write!(w, "{}{}{}", &FORMAT[..i], s.count, &FORMAT[i + 2..]),
        None => w.write_str(FORMAT),
    };
    let end = w.len;
    s.message[end] = 0;
    s.message.as_ptr().cast()
}

#[no_mangle]
pub extern "C" fn get_count() -> i64 {
    // SAFETY: as in get_message.
    unsafe { (*state()).count }
}

#[no_mangle]
pub extern "C" fn get_version() -> i32 {
    VERSION
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
