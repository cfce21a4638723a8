//! A stop requested from outside (Ctrl-C, SIGTERM): `apply` and `run` finish the step in
//! flight (a MySQL statement that is already running is waited for and its row counts are
//! checked), start no other, and say what was done and what was not.

use std::sync::atomic::{AtomicI32, Ordering};

/// The signal that asked for a stop, 0 while none did.
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Ask running work to stop, as if `signal` had arrived.
pub fn request(signal: i32) {
    let _ = SIGNAL.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    SIGNAL.load(Ordering::SeqCst) != 0
}

/// The signal that asked for the stop.
pub fn signal() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// The exit status for a stop by `signal`: 128 + its number (130 for SIGINT, 143 for SIGTERM).
pub fn exit_status(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(1)
}

/// Install the handlers for SIGINT and SIGTERM (a second signal ends the process at once).
pub fn install() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for sig in [SIGINT, SIGTERM] {
        // A second signal while a stop is pending terminates at once.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, STOPPING.clone())?;
        // SAFETY: the handler only stores into atomics.
        unsafe {
            signal_hook::low_level::register(sig, move || {
                request(sig);
                STOPPING.store(true, Ordering::SeqCst);
            })?;
        }
    }
    Ok(())
}

static STOPPING: std::sync::LazyLock<std::sync::Arc<std::sync::atomic::AtomicBool>> =
    std::sync::LazyLock::new(|| std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)));

/// Sleep for `d`, waking early when a stop is requested. `false`: interrupted.
pub fn sleep(d: std::time::Duration) -> bool {
    let until = std::time::Instant::now() + d;
    while std::time::Instant::now() < until {
        if requested() {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50).min(d));
    }
    !requested()
}
