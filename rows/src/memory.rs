//! Process memory housekeeping.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Shortest time between two throttled releases: a release walks every free chunk of the
/// heap (tens of milliseconds on a large heap), and the pages it frees fault back in when
/// reused.
const RELEASE_INTERVAL: Duration = Duration::from_secs(1);

/// Hands memory the allocator holds free back to the OS (glibc's `malloc_trim`; a no-op
/// elsewhere). glibc keeps freed chunks resident, and when a long stage frees batch after
/// batch of mixed sizes, its heaps fragment and RSS creeps up with the data read even though
/// live memory stays within the budget.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::os::raw::c_int;
        }
        // SAFETY: malloc_trim only releases free memory; it takes no pointers.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// [`release_free_memory`], at most once per [`RELEASE_INTERVAL`] in this process: for
/// callers that free a lot at once and often (a shuffle spill).
pub fn release_free_memory_throttled() {
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);
    let now = Instant::now();
    {
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| now.duration_since(t) < RELEASE_INTERVAL) {
            return;
        }
        *last = Some(now);
    }
    release_free_memory();
}
