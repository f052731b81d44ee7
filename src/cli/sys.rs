//! The few operating-system calls std does not offer: signal handlers for Ctrl-C and
//! SIGTERM, and the terminal's width. Unix only; elsewhere they do nothing.

use std::sync::atomic::{AtomicI32, Ordering};

/// The first SIGINT/SIGTERM received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

pub const SIGINT: i32 = 2;
pub const SIGTERM: i32 = 15;

#[cfg(unix)]
mod ffi {
    #[repr(C)]
    pub struct WinSize {
        pub rows: u16,
        pub cols: u16,
        pub xpixel: u16,
        pub ypixel: u16,
    }
    extern "C" {
        pub fn signal(signum: i32, handler: usize) -> usize;
        pub fn _exit(code: i32) -> !;
        pub fn ioctl(fd: i32, request: u64, ...) -> i32;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub const TIOCGWINSZ: u64 = 0x5413;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub const TIOCGWINSZ: u64 = 0x4008_7468;
}

/// Async-signal-safe: one atomic store, or `_exit` on the second signal.
#[cfg(unix)]
extern "C" fn on_signal(sig: i32) {
    if RECEIVED
        .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        // A second Ctrl-C: the user does not want to wait for the clean-up.
        // SAFETY: _exit is async-signal-safe and never returns.
        unsafe { ffi::_exit(128 + sig) }
    }
}

/// Route SIGINT and SIGTERM to [`received`] instead of killing the process.
pub fn catch_signals() {
    #[cfg(unix)]
    for sig in [SIGINT, SIGTERM] {
        // SAFETY: installs a handler that only touches an atomic (or calls _exit).
        unsafe {
            ffi::signal(sig, on_signal as extern "C" fn(i32) as usize);
        }
    }
}

/// The signal received so far, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Columns of the terminal on stderr (`COLUMNS` when set; 80 when unknown).
pub fn terminal_width() -> usize {
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
    {
        return c;
    }
    #[cfg(unix)]
    {
        let mut ws = ffi::WinSize {
            rows: 0,
            cols: 0,
            xpixel: 0,
            ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes one WinSize into the pointer given.
        let ok = unsafe { ffi::ioctl(2, ffi::TIOCGWINSZ, &mut ws as *mut ffi::WinSize) } == 0;
        if ok && ws.cols > 0 {
            return usize::from(ws.cols);
        }
    }
    80
}
