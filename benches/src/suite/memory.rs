//! Peak memory: this process's high-water mark (reset per measure), whole `msq run` child
//! processes, and bytes on disk.

use serde_json::{Map, Value};
use std::path::Path;

/// Hands freed heap back to the OS, then resets this process's peak-RSS mark (`VmHWM`) to the
/// current RSS; false where the kernel does not allow it (then peaks are process-wide).
pub fn reset_peak_rss() -> bool {
    msq_rows::memory::release_free_memory();
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Peak resident memory of this process since the last reset, from /proc (0 where unavailable).
pub fn peak_rss_mb() -> f64 {
    own_peak_rss_kib() as f64 / 1024.0
}

/// Total size of the files under `dir`.
pub(crate) fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

/// This process's peak resident memory in KiB (`VmHWM`; 0 where /proc does not tell).
pub fn own_peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Runs `msq run` (this executable) on `sql` in a fresh data dir with `context`; returns its
/// peak RSS in MB, as the child read it from its own /proc entry (a fork's rusage would
/// count this process's memory too).
pub(crate) fn child_peak_rss_mb(
    work: &Path,
    name: &str,
    sql: &str,
    context: &Map<String, Value>,
) -> Result<f64, String> {
    let dir = work.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let sql_file = dir.join("statement.sql");
    let peak_file = dir.join("peak-rss-kib");
    std::fs::write(&sql_file, sql).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let output = std::process::Command::new(exe)
        .arg("run")
        .arg("-f")
        .arg(&sql_file)
        .arg("--data-dir")
        .arg(dir.join("var"))
        .arg("--context")
        .arg(Value::Object(context.clone()).to_string())
        .arg("--peak-rss-to")
        .arg(&peak_file)
        .stdout(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot start msq run: {e}"))?;
    let peak = std::fs::read_to_string(&peak_file)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let _ = std::fs::remove_dir_all(&dir);
    if !output.status.success() {
        return Err(format!(
            "msq run ({name}) failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    match peak {
        Some(kib) if kib > 0 => Ok(kib as f64 / 1024.0),
        _ => Err("msq run did not report its peak memory".into()),
    }
}
