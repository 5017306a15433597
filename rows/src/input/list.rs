//! Listing the concrete inputs (splits) of an input source: files under a local directory,
//! inline data, HTTP URIs and S3 objects.

use msq_engine::error::{MsqError, Result};
use msq_engine::input::{InputSource, InputSplit, LocalInputSource, S3InputSource, SplitKind};
use std::path::{Path, PathBuf};

/// Lists the splits of an input source (I/O: directory walks, S3 listings).
pub trait ListSplits {
    /// Lists the concrete inputs of this source.
    ///
    /// For `local`, the files under `baseDir` matching `filter` come first (sorted by path), then
    /// the listed `files` (in the given order); a listed file whose name a baseDir match already
    /// has is not read twice (Druid's rule). Empty files are skipped, as Druid does. A listed file
    /// that does not exist, or a `baseDir` + `filter` matching nothing, is an
    /// [`MsqError::InputSource`] error naming the path.
    fn splits(&self) -> Result<Vec<InputSplit>>;
}

impl ListSplits for InputSource {
    fn splits(&self) -> Result<Vec<InputSplit>> {
        self.validate()?;
        match self {
            InputSource::Local(l) => local_splits(l),
            InputSource::Inline(i) => Ok(vec![InputSplit::inline(i.data.as_str())]),
            InputSource::Http(h) => {
                super::http::check_fetchable(h)?;
                let authorization = h.authorization()?;
                let headers: Vec<(String, String)> =
                    h.request_headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                Ok(h.uris
                    .iter()
                    .map(|uri| InputSplit {
                        kind: SplitKind::Http {
                            uri: uri.clone(),
                            authorization: authorization.clone(),
                            headers: headers.clone(),
                        },
                    })
                    .collect())
            }
            InputSource::S3(s) => super::s3::splits(s),
        }
    }
}

impl ListSplits for S3InputSource {
    fn splits(&self) -> Result<Vec<InputSplit>> {
        super::s3::splits(self)
    }
}

fn local_splits(l: &LocalInputSource) -> Result<Vec<InputSplit>> {
    let mut found: Vec<(PathBuf, u64)> = Vec::new();
    if let Some(base) = &l.base_dir {
        let filter = l.filter.as_deref().unwrap_or("*");
        let pattern = glob::Pattern::new(filter)
            .map_err(|e| MsqError::Validation(format!("Invalid filter [{filter}] of local inputSource: {e}")))?;
        let base_path = Path::new(base);
        let meta = std::fs::metadata(base_path).map_err(|e| MsqError::InputSource {
            message: format!("Unable to read baseDir [{base}]: {e}"),
        })?;
        if !meta.is_dir() {
            return Err(MsqError::InputSource {
                message: format!("baseDir [{base}] is not a directory"),
            });
        }
        let listed_names: Vec<&std::ffi::OsStr> = l.files.iter().filter_map(|f| Path::new(f).file_name()).collect();
        let mut matched = Vec::new();
        walk_dir(base_path, &pattern, &listed_names, &mut matched)?;
        if matched.is_empty() {
            return Err(MsqError::InputSource {
                message: format!("No files found for baseDir[{base}] and filter[{filter}]"),
            });
        }
        matched.sort();
        found.extend(matched);
    }
    for f in &l.files {
        let path = PathBuf::from(f);
        let meta = std::fs::metadata(&path).map_err(|e| MsqError::InputSource {
            message: if e.kind() == std::io::ErrorKind::NotFound {
                format!("Unable to find file [{f}]")
            } else {
                format!("Unable to read file [{f}]: {e}")
            },
        })?;
        if meta.is_dir() {
            return Err(MsqError::InputSource {
                message: format!("Input file [{f}] is a directory; use baseDir and filter to read a directory"),
            });
        }
        found.push((path, meta.len()));
    }
    Ok(found
        .into_iter()
        .filter(|(_, size)| *size > 0)
        .map(|(path, size)| InputSplit::file(path, size))
        .collect())
}

/// Collects the regular files under `dir` (recursively) whose names match `pattern`, except
/// those named in `exclude_names`.
fn walk_dir(
    dir: &Path,
    pattern: &glob::Pattern,
    exclude_names: &[&std::ffi::OsStr],
    out: &mut Vec<(PathBuf, u64)>,
) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| MsqError::InputSource {
        message: format!("Unable to list directory [{}]: {e}", dir.display()),
    })?;
    for entry in entries {
        let entry = entry.map_err(|e| MsqError::InputSource {
            message: format!("Unable to list directory [{}]: {e}", dir.display()),
        })?;
        let path = entry.path();
        // Follow symlinks, as Java's File API does.
        let meta = std::fs::metadata(&path).map_err(|e| MsqError::InputSource {
            message: format!("Unable to read file [{}]: {e}", path.display()),
        })?;
        if meta.is_dir() {
            walk_dir(&path, pattern, exclude_names, out)?;
        } else if meta.is_file() {
            let name = entry.file_name();
            let matches = name.to_str().is_some_and(|n| pattern.matches(n));
            if matches && !exclude_names.contains(&name.as_os_str()) {
                out.push((path, meta.len()));
            }
        }
    }
    Ok(())
}
