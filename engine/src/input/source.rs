//! Druid input sources (`EXTERN`'s first argument) and the splits they list.
//!
//! JSON shapes follow Druid exactly, both when read and when printed back in task reports:
//!
//! * `{"type":"local","baseDir":"/data","filter":"*.json.gz","files":["/x.json"]}` — `baseDir` and
//!   `filter` are printed only when set, `files` only when non-empty.
//! * `{"type":"inline","data":"{\"a\":1}\n{\"a\":2}"}`
//! * `{"type":"http","uris":["http://h/a.json"],"httpAuthenticationUsername":"u",
//!   "httpAuthenticationPassword":{"type":"default","password":"p"}}` — see [`super::http`].
//!
//! * `{"type":"s3","uris":["s3://bucket/a.json"]}` (or `prefixes`, `objects`) — see [`super::s3`].
//!
//! New source types slot in as a variant here, an arm in
//! `msq_rows::input::list::splits`, a [`SplitKind`] variant and an arm in `reader::open_bytes`.

pub use super::http::{HttpInputSource, PasswordProvider};
pub use super::s3::S3InputSource;
use crate::error::{MsqError, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

/// The `type`s of input source this build can read.
pub const SUPPORTED_INPUT_SOURCES: &[&str] = &["local", "inline", "http", "s3"];

/// A Druid input source.
///
/// Deserialising an unknown or missing `type` fails with a message naming the type and the
/// supported ones; [`InputSource::from_json`] turns that into [`MsqError::Validation`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum InputSource {
    /// Files on the local file system.
    #[serde(rename = "local")]
    Local(LocalInputSource),
    /// Data given in the spec itself.
    #[serde(rename = "inline")]
    Inline(InlineInputSource),
    /// Files fetched over HTTP (boxed: it is the largest variant).
    #[serde(rename = "http")]
    Http(Box<HttpInputSource>),
    /// Objects in S3-compatible storage (boxed, like `http`).
    #[serde(rename = "s3")]
    S3(Box<S3InputSource>),
}

/// `{"type":"local", ...}`: explicit `files`, and/or the files under `baseDir` (recursively)
/// whose names match the wildcard `filter`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalInputSource {
    #[serde(rename = "baseDir", default, skip_serializing_if = "Option::is_none")]
    pub base_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

/// `{"type":"inline","data":"..."}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InlineInputSource {
    pub data: String,
}

fn null_as_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The message for an input source or format whose `type` is not supported.
pub(crate) fn unsupported_type_message(what: &str, ty: Option<&str>, supported: &[&str]) -> String {
    match ty {
        Some(t) => format!(
            "Unsupported {what} type [{t}]; supported types are [{}]",
            supported.join(", ")
        ),
        None => format!(
            "{what} must have a 'type'; supported types are [{}]",
            supported.join(", ")
        ),
    }
}

/// Splits a JSON object into its `type` and the object itself, or explains why it cannot.
pub(crate) fn tagged_object(what: &str, v: &Value, supported: &[&str]) -> std::result::Result<String, String> {
    let Value::Object(m) = v else {
        return Err(format!("{what} must be a JSON object, got [{v}]"));
    };
    match m.get("type") {
        Some(Value::String(t)) => Ok(t.clone()),
        Some(other) => Err(format!("{what} 'type' must be a string, got [{other}]")),
        None => Err(unsupported_type_message(what, None, supported)),
    }
}

impl<'de> Deserialize<'de> for InputSource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error;
        let v = Value::deserialize(d)?;
        let ty = tagged_object("inputSource", &v, SUPPORTED_INPUT_SOURCES).map_err(D::Error::custom)?;
        match ty.as_str() {
            "local" => serde_json::from_value(v)
                .map(InputSource::Local)
                .map_err(|e| D::Error::custom(format!("Invalid local inputSource: {e}"))),
            "inline" => serde_json::from_value(v)
                .map(InputSource::Inline)
                .map_err(|e| D::Error::custom(format!("Invalid inline inputSource: {e}"))),
            "http" => serde_json::from_value(v)
                .map(|h| InputSource::Http(Box::new(h)))
                .map_err(|e| D::Error::custom(format!("Invalid http inputSource: {e}"))),
            "s3" => serde_json::from_value(v)
                .map(|s| InputSource::S3(Box::new(s)))
                .map_err(|e| D::Error::custom(format!("Invalid s3 inputSource: {e}"))),
            other => Err(D::Error::custom(unsupported_type_message(
                "inputSource",
                Some(other),
                SUPPORTED_INPUT_SOURCES,
            ))),
        }
    }
}

/// What one split is: a file, or inline data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum SplitKind {
    /// A local file and its size in bytes (as stored, i.e. compressed).
    File { path: PathBuf, size: u64 },
    /// Inline data.
    Inline {
        #[serde(with = "arc_str")]
        data: Arc<str>,
    },
    /// A URI read with an HTTP `GET`.
    Http {
        uri: String,
        /// The `Authorization` header to send, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        authorization: Option<String>,
        /// Extra request headers.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        headers: Vec<(String, String)>,
    },
    /// An object in S3-compatible storage and its size in bytes (as stored).
    S3 {
        bucket: String,
        key: String,
        size: u64,
        /// S3 client settings (object_store `aws_*` keys) over the reader's environment.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        options: Vec<(String, String)>,
    },
}

/// One concrete input a worker reads: a file, or a piece of inline data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSplit {
    pub kind: SplitKind,
}

impl InputSplit {
    /// A split reading the local file `path` of `size` bytes.
    pub fn file(path: impl Into<PathBuf>, size: u64) -> Self {
        InputSplit {
            kind: SplitKind::File {
                path: path.into(),
                size,
            },
        }
    }

    /// A split reading `data`.
    pub fn inline(data: impl Into<Arc<str>>) -> Self {
        InputSplit {
            kind: SplitKind::Inline { data: data.into() },
        }
    }

    /// A split reading `uri` over HTTP (no credentials).
    pub fn http(uri: impl Into<String>) -> Self {
        InputSplit {
            kind: SplitKind::Http {
                uri: uri.into(),
                authorization: None,
                headers: Vec::new(),
            },
        }
    }

    /// The split's size in bytes as stored (what split assignment balances); 0 for HTTP
    /// splits, whose size is not known before reading (they spread by count).
    pub fn size_bytes(&self) -> u64 {
        match &self.kind {
            SplitKind::File { size, .. } => *size,
            SplitKind::Inline { data } => data.len() as u64,
            SplitKind::Http { .. } => 0,
            SplitKind::S3 { size, .. } => *size,
        }
    }

    /// How errors and warnings name this split: the file path, the URI, or `inline`.
    pub fn describe(&self) -> String {
        match &self.kind {
            SplitKind::File { path, .. } => path.display().to_string(),
            SplitKind::Inline { .. } => "inline".to_string(),
            SplitKind::Http { uri, .. } => uri.clone(),
            SplitKind::S3 { bucket, key, .. } => super::s3::object_uri(bucket, key),
        }
    }

    /// The name whose extension says how the split is compressed (and for Parquet, nothing).
    pub fn name_for_extension(&self) -> Option<PathBuf> {
        match &self.kind {
            SplitKind::File { path, .. } => Some(path.clone()),
            SplitKind::Inline { .. } => None,
            SplitKind::Http { uri, .. } => {
                let no_query = uri.split(['?', '#']).next().unwrap_or(uri);
                Some(PathBuf::from(no_query))
            }
            SplitKind::S3 { key, .. } => Some(PathBuf::from(key)),
        }
    }

    /// Druid's URI of the split (`file:/abs/path`), used as `Path:` in parse errors; `None`
    /// for inline data, which Druid reports without a path.
    pub fn uri(&self) -> Option<String> {
        match &self.kind {
            SplitKind::File { path, .. } => {
                let abs = std::path::absolute(path).unwrap_or_else(|_| path.clone());
                Some(format!("file:{}", abs.display()))
            }
            SplitKind::Inline { .. } => None,
            SplitKind::Http { uri, .. } => Some(uri.clone()),
            SplitKind::S3 { bucket, key, .. } => Some(super::s3::object_uri(bucket, key)),
        }
    }
}

mod arc_str {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::sync::Arc;

    pub fn serialize<S: Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
        Ok(Arc::from(String::deserialize(d)?))
    }
}

impl InputSource {
    /// Parses Druid's input source JSON text; bad JSON, unknown types and bad fields are
    /// [`MsqError::Validation`] errors.
    pub fn from_json(text: &str) -> Result<Self> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| MsqError::Validation(format!("Invalid inputSource JSON: {e}")))?;
        Self::from_value(&v)
    }

    /// Parses an input source from a JSON value (see [`InputSource::from_json`]).
    pub fn from_value(v: &Value) -> Result<Self> {
        let s = InputSource::deserialize(v).map_err(|e| MsqError::Validation(e.to_string()))?;
        s.validate()?;
        Ok(s)
    }

    /// Druid's `type` of this source.
    pub fn type_name(&self) -> &'static str {
        match self {
            InputSource::Local(_) => "local",
            InputSource::Inline(_) => "inline",
            InputSource::Http(_) => "http",
            InputSource::S3(_) => "s3",
        }
    }

    /// Checks the spec's own consistency (not whether files exist).
    pub fn validate(&self) -> Result<()> {
        match self {
            InputSource::Local(l) => {
                if l.base_dir.is_none() && l.files.is_empty() {
                    return Err(MsqError::Validation(
                        "At least one of baseDir or files should be specified for a local inputSource".into(),
                    ));
                }
                if l.base_dir.is_some() && l.filter.as_deref().is_none_or(str::is_empty) {
                    return Err(MsqError::Validation(
                        "filter must be specified when baseDir is specified for a local inputSource".into(),
                    ));
                }
                if let Some(f) = &l.filter {
                    glob::Pattern::new(f)
                        .map_err(|e| MsqError::Validation(format!("Invalid filter [{f}] of local inputSource: {e}")))?;
                }
                Ok(())
            }
            InputSource::Inline(_) => Ok(()),
            InputSource::Http(h) => h.validate(),
            InputSource::S3(s) => s.validate(),
        }
    }
}

/// Distributes splits over `workers` workers, balancing bytes: the largest split first goes to
/// the least-loaded worker (ties to the lowest worker number), like Druid's static slicing.
///
/// With `max_files_per_worker`, a worker already holding that many splits is skipped while
/// another has room; when all are full the cap is exceeded rather than dropping input (the
/// caller can compare slice lengths with the cap to raise Druid's `TooManyInputFiles`).
/// Each worker's splits keep their original relative order. The result always has `workers`
/// slices (at least one); with fewer splits than workers some are empty. Deterministic.
pub fn assign_splits(
    splits: Vec<InputSplit>,
    workers: usize,
    max_files_per_worker: Option<usize>,
) -> Vec<Vec<InputSplit>> {
    let workers = workers.max(1);
    let mut order: Vec<(usize, InputSplit)> = splits.into_iter().enumerate().collect();
    // Stable: equal sizes keep their listing order.
    order.sort_by_key(|(_, s)| std::cmp::Reverse(s.size_bytes()));
    let mut loads = vec![0u64; workers];
    let mut assigned: Vec<Vec<(usize, InputSplit)>> = (0..workers).map(|_| Vec::new()).collect();
    for (idx, split) in order {
        let pick = |allow_full: bool| {
            (0..workers)
                .filter(|&w| allow_full || max_files_per_worker.is_none_or(|m| assigned[w].len() < m))
                .min_by_key(|&w| (loads[w], assigned[w].len(), w))
        };
        let w = pick(false).or_else(|| pick(true)).expect("at least one worker");
        loads[w] += split.size_bytes();
        assigned[w].push((idx, split));
    }
    assigned
        .into_iter()
        .map(|mut v| {
            v.sort_by_key(|(i, _)| *i);
            v.into_iter().map(|(_, s)| s).collect()
        })
        .collect()
}
