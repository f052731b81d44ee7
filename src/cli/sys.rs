//! The few operating-system calls std does not offer, through the `libc` crate: signal
//! handlers for Ctrl-C and SIGTERM, and the terminal's width. Unix only; elsewhere they do
//! nothing (and the width is `COLUMNS` or 80).

use std::sync::atomic::{AtomicI32, Ordering};

/// The first SIGINT/SIGTERM received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

#[cfg(unix)]
pub const SIGTERM: i32 = libc::SIGTERM;
/// No signals elsewhere: never received.
#[cfg(not(unix))]
pub const SIGTERM: i32 = 15;

/// Async-signal-safe: one atomic store, or `_exit` on the second signal.
#[cfg(unix)]
extern "C" fn on_signal(sig: libc::c_int) {
    if RECEIVED
        .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        // A second Ctrl-C: the user does not want to wait for the clean-up.
        // SAFETY: _exit is async-signal-safe and never returns.
        unsafe { libc::_exit(128 + sig) }
    }
}

/// Route SIGINT and SIGTERM to [`received`] instead of killing the process.
pub fn catch_signals() {
    #[cfg(unix)]
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let handler: extern "C" fn(libc::c_int) = on_signal;
        // SAFETY: installs a handler that only touches an atomic (or calls _exit).
        unsafe {
            libc::signal(sig, handler as libc::sighandler_t);
        }
    }
}

/// At most two malloc arenas. glibc gives each thread that allocates its own arena (up to
/// eight a core), and a download's many short-lived workers leave each one holding freed
/// memory: capped, a whole-archive job stays some 15 MB smaller at the same speed.
pub fn cap_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
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
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes one winsize into the pointer given, which lives here.
        let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
        if ok && ws.ws_col > 0 {
            return usize::from(ws.ws_col);
        }
    }
    80
}
