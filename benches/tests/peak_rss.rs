//! The peak-RSS reset `msq bench` relies on, alone in its own process (other tests
//! allocating at the same time would move the high-water mark).

use msq_benches::suite::{peak_rss_mb, reset_peak_rss};

#[test]
fn peak_rss_resets() {
    if !reset_peak_rss() {
        return; // not allowed here
    }
    let before = peak_rss_mb();
    let big = vec![1u8; 64 << 20];
    assert!(big.iter().map(|b| *b as u64).sum::<u64>() > 0);
    assert!(peak_rss_mb() >= before + 60.0);
    drop(big);
    assert!(reset_peak_rss());
    // After a reset the peak is the current size.
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()))
        })
        .unwrap_or(0.0)
        / 1024.0;
    assert!(
        peak_rss_mb() <= rss + 16.0,
        "peak {} MB vs current {rss} MB",
        peak_rss_mb()
    );
}
