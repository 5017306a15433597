//! Export destinations (`INSERT INTO EXTERN(LOCAL(...) | S3(...)) AS CSV | PARQUET`): where the
//! server lets an export write, and the store its files go to. Nobody gets out: a LOCAL
//! export goes only inside the configured base directory (`druid.export.storage.baseDir`;
//! no `..`, no symlink leading out), an S3 export only under a configured allowed
//! `s3://bucket/prefix/` (`druid.export.storage.s3.allowedExportPaths`). Without either
//! setting that kind of export is refused, as in Druid.
//!
//! `run` writes the files while the query runs and settles them when it ends.

pub mod run;

use msq_engine::{MsqError, Result};
use msq_sql::statement::{ExportDestination, ExportSpec};
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;
use object_store::ObjectStore;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Where exports may write (the server's `--export-base-dir`, `--export-allowed-s3-paths`).
#[derive(Clone, Debug, Default)]
pub struct ExportConfig {
    /// `druid.export.storage.baseDir`: LOCAL exports go inside it (none: refused).
    pub base_dir: Option<PathBuf>,
    /// `druid.export.storage.s3.allowedExportPaths`: `s3://bucket/prefix/` an S3 export may
    /// write under (empty: refused).
    pub allowed_s3_paths: Vec<String>,
    /// object_store settings of the S3 client over the environment's (`aws_endpoint`, ...).
    pub s3_options: Vec<(String, String)>,
}

/// An export destination the server accepted: its store and how the manifest names it.
pub struct OpenDestination {
    pub store: Arc<dyn ObjectStore>,
    /// `file:/abs/dir` or `s3://bucket/prefix`: exported files are `<location>/<name>`.
    pub location: String,
}

const OUTSIDE_BASE: &str =
    "The provided destination must be within the path configured by runtime property `druid.export.storage.baseDir`";

/// Checks, before anything runs, that `spec` may be written under `config` (nothing is created).
pub fn check(spec: &ExportSpec, config: &ExportConfig) -> Result<()> {
    match &spec.destination {
        ExportDestination::Local { export_path } => {
            let (configured, base) = base_dir(config)?;
            let rel = relative_to_base(&[&configured, &base], export_path)?;
            walk_inside(&base, &rel, false).map(|_| ())
        }
        ExportDestination::S3 { bucket, prefix } => s3_prefix(bucket, prefix, &config.allowed_s3_paths).map(|_| ()),
    }
}

/// Opens `spec`'s destination, creating a LOCAL directory (one level at a time, never through
/// a symlink that leads out of the base directory).
pub fn open(spec: &ExportSpec, config: &ExportConfig) -> Result<OpenDestination> {
    match &spec.destination {
        ExportDestination::Local { export_path } => {
            let (configured, base) = base_dir(config)?;
            let rel = relative_to_base(&[&configured, &base], export_path)?;
            let dir = walk_inside(&base, &rel, true)?;
            Ok(OpenDestination {
                store: Arc::new(LocalFileSystem::new_with_prefix(&dir)?),
                location: format!("file:{}", dir.display()),
            })
        }
        ExportDestination::S3 { bucket, prefix } => {
            let prefix = s3_prefix(bucket, prefix, &config.allowed_s3_paths)?;
            let s3 = msq_rows::storage::s3_store(bucket, &config.s3_options)?;
            let path = object_store::path::Path::parse(&prefix)
                .map_err(|e| MsqError::Validation(format!("Invalid S3 export prefix [{prefix}]: {e}")))?;
            Ok(OpenDestination {
                store: Arc::new(PrefixStore::new(s3, path)),
                location: format!("s3://{bucket}/{prefix}"),
            })
        }
    }
}

/// The configured base directory as configured and canonical (created when missing: it is
/// the operator's).
fn base_dir(config: &ExportConfig) -> Result<(PathBuf, PathBuf)> {
    let Some(base) = &config.base_dir else {
        return Err(MsqError::Validation(
            "The runtime property `druid.export.storage.baseDir` must be configured for local export.".into(),
        ));
    };
    if !base.is_absolute() {
        return Err(MsqError::Validation(
            "The runtime property `druid.export.storage.baseDir` must be an absolute path.".into(),
        ));
    }
    std::fs::create_dir_all(base)?;
    Ok((base.clone(), base.canonicalize()?))
}

/// The directories of `export_path` below the base (an absolute path inside one of `bases`,
/// the base as configured or canonical, or a path relative to it); `..`, NUL and paths
/// outside are refused.
fn relative_to_base(bases: &[&Path], export_path: &str) -> Result<Vec<String>> {
    let outside = || MsqError::Validation(format!("{OUTSIDE_BASE}: [{export_path}]"));
    if export_path.trim().is_empty() || export_path.contains('\0') {
        return Err(MsqError::Validation(format!("Invalid exportPath [{export_path}]")));
    }
    let p = Path::new(export_path);
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(outside());
    }
    let rest: PathBuf = if p.is_absolute() {
        let inside = bases.iter().find_map(|b| p.strip_prefix(b).ok());
        inside.map(Path::to_path_buf).ok_or_else(outside)?
    } else {
        p.to_path_buf()
    };
    rest.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| match c {
            Component::Normal(s) => s.to_str().map(str::to_string).ok_or_else(outside),
            _ => Err(outside()),
        })
        .collect()
}

/// Walks `rel` down from `base`: a symlink must lead inside `base`, anything but a directory
/// is refused, and a missing directory is created (`create`) or ends the walk. Returns the
/// canonical directory.
fn walk_inside(base: &Path, rel: &[String], create: bool) -> Result<PathBuf> {
    let outside = || MsqError::Validation(OUTSIDE_BASE.to_string());
    let mut cur = base.to_path_buf();
    for part in rel {
        let next = cur.join(part);
        match std::fs::symlink_metadata(&next) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = next.canonicalize().map_err(|_| outside())?;
                if !target.starts_with(base) || !target.is_dir() {
                    return Err(outside());
                }
                cur = target;
            }
            Ok(m) if m.is_dir() => cur = next,
            Ok(_) => {
                return Err(MsqError::Validation(format!(
                    "The export destination [{}] is not a directory",
                    next.display()
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !create {
                    return Ok(next);
                }
                match std::fs::create_dir(&next) {
                    Ok(()) => cur = next,
                    // Made by a concurrent export meanwhile: look again.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        return walk_inside(base, rel, create);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    let canonical = cur.canonicalize()?;
    if !canonical.starts_with(base) {
        return Err(outside());
    }
    Ok(canonical)
}

/// The prefix of an S3 destination, if an allowed `s3://bucket/prefix/` encloses it.
fn s3_prefix(bucket: &str, prefix: &str, allowed: &[String]) -> Result<String> {
    let refused = || {
        MsqError::Validation(format!(
            "None of the allowed prefixes matched the input path [s3://{bucket}/{prefix}]. Please reach out to the cluster admin for the whitelisted paths for export. The paths are controlled via the property `druid.export.storage.s3.allowedExportPaths`."
        ))
    };
    let bucket_ok = !bucket.is_empty()
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let parts: Vec<&str> = prefix.trim_matches('/').split('/').collect();
    let parts_ok = parts
        .iter()
        .all(|p| !p.is_empty() && *p != "." && *p != ".." && !p.contains('\0'));
    if !bucket_ok || !parts_ok {
        return Err(refused());
    }
    let matches = allowed.iter().any(|a| {
        let Some(rest) = a.strip_prefix("s3://") else {
            return false;
        };
        let mut it = rest.trim_end_matches('/').split('/');
        it.next() == Some(bucket) && {
            let want: Vec<&str> = it.filter(|s| !s.is_empty()).collect();
            want.len() <= parts.len() && want.iter().zip(&parts).all(|(w, p)| w == p)
        }
    });
    if !matches {
        return Err(refused());
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_prefixes_must_be_allowed() {
        let allowed = vec!["s3://exports/team-a/".to_string()];
        assert_eq!(s3_prefix("exports", "team-a/q1", &allowed).unwrap(), "team-a/q1");
        assert_eq!(s3_prefix("exports", "/team-a/", &allowed).unwrap(), "team-a");
        for (b, p) in [
            ("exports", "team-b"),
            ("exports", "team-a/../team-b"),
            ("exports", "team-ab"),
            ("other", "team-a"),
            ("exports", "team-a//x"),
            ("Exports", "team-a"),
        ] {
            assert!(s3_prefix(b, p, &allowed).is_err(), "{b}/{p}");
        }
        assert!(s3_prefix("exports", "team-a", &[]).is_err());
    }

    #[test]
    fn local_paths_stay_inside_the_base() {
        let base: &[&Path] = &[Path::new("/srv/exports")];
        assert_eq!(relative_to_base(base, "/srv/exports/a/b").unwrap(), vec!["a", "b"]);
        assert_eq!(relative_to_base(base, "a/./b").unwrap(), vec!["a", "b"]);
        assert!(relative_to_base(base, "/srv/exports").unwrap().is_empty());
        for bad in [
            "/srv/exports/../etc",
            "../x",
            "/etc/x",
            "/srv/exportsx/y",
            "a/../../b",
            "",
        ] {
            assert!(relative_to_base(base, bad).is_err(), "{bad}");
        }
    }
}
