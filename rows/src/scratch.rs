//! Per-task scratch directories on local disk: created under a base directory from one
//! validated name, bounded by a temporary-storage limit, removed when the task ends (whatever
//! the outcome: the guard removes it when dropped, so errors, cancellation and panics too),
//! and swept at start-up when a killed process left them behind.
//!
//! The limit is Druid's per-task temporary storage (`druid.indexer.task.tmpStorageBytesPerTask`):
//! every spill file msq-rs writes under a task's directory is written through [`Charged`],
//! which counts the bytes and fails the write with `NotEnoughTemporaryStorage` once the task
//! would pass its limit. The count is optimistic (files deleted in between are not subtracted
//! as they go); when it reaches the limit the directory is measured again (file sizes, not
//! following symlinks) and the count corrected, so only what is really on disk fails a task.
//! Files that are open but already unlinked (staging copies of durable shuffle files) are not
//! seen by a re-measure.
//!
//! A directory belongs to msq-rs when it holds a marker file ([`MARKER`]) naming the process
//! that created it; the sweep removes marked directories whose process is gone and, under
//! the server's own `tmp` directory, task directories (`query-*`) without a marker.

use msq_engine::ids::safe_join;
use msq_engine::{MsqError, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// File in every scratch directory msq-rs creates, holding the creating process's id.
pub const MARKER: &str = ".msq-scratch";

/// The default per-task temporary storage limit: 20 GiB.
pub const DEFAULT_MAX_TEMP_STORAGE_BYTES: u64 = 20 << 30;

/// One task's scratch directory and its temporary-storage account.
#[derive(Debug)]
pub struct TaskScratch {
    dir: PathBuf,
    /// Bytes allowed on disk under `dir` (0: no limit).
    limit: u64,
    /// Bytes counted (an upper bound of what is on disk, corrected by re-measuring).
    used: AtomicU64,
    /// Serialises re-measuring.
    measure: Mutex<()>,
}

/// Live scratch directories of this process (a task's writers find their account by path).
static REGISTRY: Mutex<Vec<(PathBuf, Weak<TaskScratch>)>> = Mutex::new(Vec::new());

fn registry() -> std::sync::MutexGuard<'static, Vec<(PathBuf, Weak<TaskScratch>)>> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

impl TaskScratch {
    /// The scratch directory `base/name` (created, with its marker), shared with any live
    /// holder of the same directory in this process. `name` must be a valid id (one path
    /// component); `limit` is the task's temporary storage in bytes (0: none).
    pub fn acquire(base: &Path, name: &str, limit: u64) -> Result<Arc<TaskScratch>> {
        let dir = safe_join(base, name)?;
        let mut reg = registry();
        reg.retain(|(_, w)| w.strong_count() > 0);
        if let Some(s) = reg.iter().find(|(d, _)| *d == dir).and_then(|(_, w)| w.upgrade()) {
            return Ok(s);
        }
        std::fs::create_dir_all(base)?;
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let meta = std::fs::symlink_metadata(&dir)?;
                if !meta.is_dir() {
                    return Err(MsqError::Unknown(format!(
                        "scratch path {} exists and is not a directory",
                        dir.display()
                    )));
                }
            }
            Err(e) => return Err(e.into()),
        }
        write_marker(&dir)?;
        let scratch = Arc::new(TaskScratch {
            dir: dir.clone(),
            limit,
            used: AtomicU64::new(0),
            measure: Mutex::new(()),
        });
        reg.push((dir, Arc::downgrade(&scratch)));
        Ok(scratch)
    }

    /// The account of the live scratch directory holding `path`, if any.
    pub fn for_path(path: &Path) -> Option<Arc<TaskScratch>> {
        registry()
            .iter()
            .filter(|(d, _)| path.starts_with(d))
            .max_by_key(|(d, _)| d.components().count())
            .and_then(|(_, w)| w.upgrade())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The limit in bytes (0: none).
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes counted so far.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// The error for a task that needs `required` bytes of temporary storage.
    pub fn exceeded(&self, required: u64) -> MsqError {
        MsqError::NotEnoughTemporaryStorage {
            suggested_minimum_storage: required,
            configured_temporary_storage: self.limit,
        }
    }

    /// Accounts for `bytes` about to be written under the directory; past the limit (after
    /// re-measuring what is really there) fails with `NotEnoughTemporaryStorage`.
    pub fn charge(&self, bytes: u64) -> Result<()> {
        let after = self.used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if self.limit == 0 || after <= self.limit {
            return Ok(());
        }
        let _g = self.measure.lock().unwrap_or_else(|p| p.into_inner());
        // Another writer may have re-measured meanwhile.
        let now = self.used.load(Ordering::Relaxed);
        if now <= self.limit {
            return Ok(());
        }
        let on_disk = dir_size(&self.dir);
        if on_disk + bytes <= self.limit {
            self.used.store(on_disk + bytes, Ordering::Relaxed);
            return Ok(());
        }
        self.used.fetch_sub(bytes, Ordering::Relaxed);
        Err(self.exceeded(on_disk + bytes))
    }
}

impl Drop for TaskScratch {
    fn drop(&mut self) {
        let me: *const TaskScratch = self;
        let mut reg = registry();
        reg.retain(|(_, w)| w.as_ptr() != me && w.strong_count() > 0);
        // Removed under the registry lock, so a new holder of the same directory cannot be
        // created (and lose its directory) meanwhile.
        if !reg.iter().any(|(d, _)| *d == self.dir) {
            remove_dir_no_follow(&self.dir);
        }
    }
}

/// Removes a directory tree unless the path is a symlink (then only the link goes). The
/// standard library's `remove_dir_all` does not follow symlinks inside the tree.
fn remove_dir_no_follow(dir: &Path) {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => {
            let _ = std::fs::remove_file(dir);
        }
        Ok(m) if m.is_dir() => {
            let _ = std::fs::remove_dir_all(dir);
        }
        _ => {}
    }
}

fn write_marker(dir: &Path) -> Result<()> {
    std::fs::write(dir.join(MARKER), std::process::id().to_string())?;
    Ok(())
}

/// Bytes of the regular files under `dir` (not following symlinks).
pub fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

/// A writer that charges every byte to a task's scratch account before writing it, and turns
/// a full disk (`ENOSPC`) into `NotEnoughTemporaryStorage` too. Errors carry the `MsqError`
/// inside the `io::Error`, which `MsqError`'s conversions unwrap.
pub struct Charged<W> {
    inner: W,
    scratch: Option<Arc<TaskScratch>>,
}

impl<W: Write> Charged<W> {
    /// Charges writes of `inner` to the scratch directory holding `path` (none: uncounted).
    pub fn for_path(inner: W, path: &Path) -> Self {
        Charged {
            inner,
            scratch: TaskScratch::for_path(path),
        }
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// ENOSPC on Linux and macOS.
const NO_SPACE: i32 = 28;

impl<W: Write> Write for Charged<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(s) = &self.scratch {
            s.charge(buf.len() as u64).map_err(std::io::Error::other)?;
        }
        self.inner
            .write(buf)
            .map_err(|e| match (&self.scratch, e.raw_os_error()) {
                (Some(s), Some(NO_SPACE)) => std::io::Error::other(s.exceeded(s.used())),
                _ => e,
            })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The `NotEnoughTemporaryStorage` error for a DataFusion spill that passed the disk limit
/// of its runtime (set from the task's limit), or `e` unchanged.
pub fn from_datafusion_disk_limit(e: MsqError, limit: u64) -> MsqError {
    const DATAFUSION_DISK_LIMIT: &str = "The used disk space during the spilling process has exceeded";
    match &e {
        MsqError::Unknown(m) | MsqError::Io(m) if limit > 0 && m.contains(DATAFUSION_DISK_LIMIT) => {
            MsqError::NotEnoughTemporaryStorage {
                suggested_minimum_storage: limit + 1,
                configured_temporary_storage: limit,
            }
        }
        _ => e,
    }
}

/// What a start-up sweep removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Directories removed.
    pub removed: Vec<PathBuf>,
    /// Bytes they held.
    pub bytes: u64,
}

/// Whether process `pid` is running (Linux `/proc`; elsewhere only this process counts). A
/// killed process that is not yet reaped (a zombie) is not running.
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let Ok(stat) = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")) else {
        return false;
    };
    // `<pid> (<comm>) <state> ...`: the state follows the last `)`.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z') | Some('X') | None)
}

/// The process id in a directory's marker: `Some(None)` when it is marked but unreadable.
fn marker_pid(dir: &Path) -> Option<Option<u32>> {
    let m = dir.join(MARKER);
    match std::fs::symlink_metadata(&m) {
        Ok(meta) if meta.is_file() => Some(std::fs::read_to_string(&m).ok().and_then(|t| t.trim().parse().ok())),
        _ => None,
    }
}

/// Whether the sweep removes `dir` (a real directory directly under a swept base): marked by
/// a process that is gone, or, when `task_dirs` is set (the server's own tmp directory), an
/// unmarked task directory (`query-*`, recreated by a writer that outlived its task).
pub fn is_leftover(dir: &Path, task_dirs: bool) -> bool {
    match marker_pid(dir) {
        Some(Some(pid)) => !process_alive(pid),
        // Being written (or damaged): left alone rather than risk a live task's directory.
        Some(None) => false,
        None => {
            task_dirs
                && dir
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("query-"))
        }
    }
}

/// Removes leftover scratch directories directly under `base` (see [`is_leftover`]); never
/// follows symlinks and never touches files or unmarked directories of other names.
pub fn sweep(base: &Path, task_dirs: bool) -> SweepReport {
    let mut report = SweepReport::default();
    let Ok(entries) = std::fs::read_dir(base) else {
        return report;
    };
    for e in entries.flatten() {
        let path = e.path();
        let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if !is_dir || !is_leftover(&path, task_dirs) {
            continue;
        }
        let bytes = dir_size(&path);
        if std::fs::remove_dir_all(&path).is_ok() {
            report.bytes += bytes;
            report.removed.push(path);
        }
    }
    report
}

/// Marks `dir` as msq-rs scratch space of this process when this call creates it (a worker
/// process's `--tmp-dir`); an existing directory is marked only when it already was.
pub fn claim_root(dir: &Path) -> Result<()> {
    let existed = dir.exists();
    std::fs::create_dir_all(dir)?;
    if !existed || marker_pid(dir).is_some() {
        write_marker(dir)?;
    }
    Ok(())
}

/// Removes `base/name` if it is a marked scratch directory (a finished worker process's
/// `--tmp-dir`); names that are not single valid components are ignored.
pub fn remove_marked(base: &Path, name: &str) {
    if let Ok(dir) = safe_join(base, name) {
        if marker_pid(&dir).is_some() && std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// Parses a byte size: a number with an optional unit (`k`/`KiB`, `m`/`MiB`, `g`/`GiB`,
/// `t`/`TiB` in powers of 1024; `KB`, `MB`, `GB`, `TB` in powers of 1000). `0` means no limit.
pub fn parse_bytes(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size [{s}]: expected a number of bytes, e.g. 512MiB or 20GiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(format!("invalid size [{s}]: unknown unit [{unit}]")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("invalid size [{s}]: too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_creates_marks_shares_and_removes() {
        let base = tempfile::tempdir().unwrap();
        let a = TaskScratch::acquire(base.path(), "query-a", 0).unwrap();
        assert!(a.dir().join(MARKER).is_file());
        let b = TaskScratch::acquire(base.path(), "query-a", 0).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "one account per directory");
        std::fs::write(a.dir().join("x.arrow"), b"data").unwrap();
        assert!(TaskScratch::for_path(&a.dir().join("fetch/y")).is_some());
        drop(a);
        assert!(base.path().join("query-a").exists(), "still held");
        drop(b);
        assert!(!base.path().join("query-a").exists());
        assert!(TaskScratch::for_path(&base.path().join("query-a/x")).is_none());
        assert!(TaskScratch::acquire(base.path(), "../escape", 0).is_err());
    }

    #[test]
    fn charged_writes_fail_past_the_limit_after_remeasuring() {
        let base = tempfile::tempdir().unwrap();
        let s = TaskScratch::acquire(base.path(), "query-limit", 1000).unwrap();
        let path = s.dir().join("run-1.arrow");
        let mut w = Charged::for_path(std::fs::File::create(&path).unwrap(), &path);
        w.write_all(&[0u8; 600]).unwrap();
        // The file is deleted: re-measuring finds the room again.
        drop(w);
        std::fs::remove_file(&path).unwrap();
        let path = s.dir().join("run-2.arrow");
        let mut w = Charged::for_path(std::fs::File::create(&path).unwrap(), &path);
        w.write_all(&[0u8; 600]).unwrap();
        let err = w.write_all(&[0u8; 600]).unwrap_err();
        let inner = err.get_ref().and_then(|e| e.downcast_ref::<MsqError>()).cloned();
        // The marker file counts too (a few bytes).
        match inner {
            Some(MsqError::NotEnoughTemporaryStorage {
                suggested_minimum_storage,
                configured_temporary_storage: 1000,
            }) => assert!((1200..1300).contains(&suggested_minimum_storage)),
            other => panic!("{other:?}"),
        }
        assert_eq!(MsqError::from(err).error_code(), "NotEnoughTemporaryStorageFault");
    }

    #[test]
    fn sweep_removes_only_leftovers() {
        let base = tempfile::tempdir().unwrap();
        let b = base.path();
        // A dead process's directory (pid 0 is never a user process).
        std::fs::create_dir(b.join("query-dead")).unwrap();
        std::fs::write(b.join("query-dead").join(MARKER), "0").unwrap();
        std::fs::write(b.join("query-dead").join("run.arrow"), [0u8; 100]).unwrap();
        // A live one (this process).
        let live = TaskScratch::acquire(b, "query-live", 0).unwrap();
        // An unmarked task directory, an unmarked other directory, a file, a symlink.
        std::fs::create_dir(b.join("query-straggler")).unwrap();
        std::fs::create_dir(b.join("keep-me")).unwrap();
        std::fs::write(b.join("notes.txt"), "x").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join(MARKER), "0").unwrap();
        std::os::unix::fs::symlink(outside.path(), b.join("query-link")).unwrap();

        let r = sweep(b, true);
        let mut names: Vec<String> = r
            .removed
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, vec!["query-dead", "query-straggler"]);
        assert!(r.bytes >= 100);
        assert!(live.dir().exists());
        assert!(b.join("keep-me").exists() && b.join("notes.txt").exists());
        assert!(outside.path().join(MARKER).exists(), "symlinks are not followed");

        // Without task-directory names (a worker's --tmp-dir), unmarked directories stay.
        std::fs::create_dir(b.join("query-other")).unwrap();
        assert!(sweep(b, false).removed.is_empty());
    }

    #[test]
    fn killed_processes_are_gone_even_before_they_are_reaped() {
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(0));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        // Exited but not waited for: a zombie until `wait`.
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!process_alive(child.id()));
        child.wait().unwrap();
        let mut sleeper = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        assert!(process_alive(sleeper.id()));
        sleeper.kill().unwrap();
        sleeper.wait().unwrap();
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("0"), Ok(0));
        assert_eq!(parse_bytes("1048576"), Ok(1 << 20));
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("20g"), Ok(20 << 30));
        assert_eq!(parse_bytes("2GB"), Ok(2_000_000_000));
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("5 parsecs").is_err());
    }

    #[test]
    fn datafusion_disk_errors_become_not_enough_temporary_storage() {
        let e = MsqError::Unknown(
            "IO error: The used disk space during the spilling process has exceeded the allowable limit of 1.0 KB."
                .into(),
        );
        assert_eq!(
            from_datafusion_disk_limit(e, 1024),
            MsqError::NotEnoughTemporaryStorage {
                suggested_minimum_storage: 1025,
                configured_temporary_storage: 1024
            }
        );
        let other = MsqError::Unknown("x".into());
        assert_eq!(from_datafusion_disk_limit(other.clone(), 1024), other);
    }
}
