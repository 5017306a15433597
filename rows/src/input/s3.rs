//! Listing and reading the objects of Druid's `s3` input source through `object_store`.
//!
//! Each object is one split, sized by a `HEAD` (uris, objects) or the listing (prefixes);
//! prefix listings skip empty objects, as Druid does.

pub(crate) mod io;

pub use io::{ObjectChunks, ObjectReader};

use futures::{StreamExt, TryStreamExt};
use msq_engine::error::{MsqError, Result};
use msq_engine::input::s3::{object_uri, CloudObjectLocation, ObjectGlob, S3InputSource, Targets};
use msq_engine::input::{InputSplit, SplitKind};
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;
use std::collections::HashMap;
use std::sync::Arc;

/// `HEAD` requests in flight at once while sizing listed objects.
const HEAD_CONCURRENCY: usize = 16;

/// Lists the objects `source` names, one split each, with their sizes.
pub fn splits(source: &S3InputSource) -> Result<Vec<InputSplit>> {
    source.validate()?;
    let options = source.connection_options()?;
    let glob = source.glob_pattern().map(ObjectGlob::new).transpose()?;
    let keep = |key: &str| glob.as_ref().is_none_or(|g| g.matches(key));
    let mut stores: HashMap<String, Arc<dyn ObjectStore>> = HashMap::new();
    let mut store_for = |bucket: &str| -> Result<Arc<dyn ObjectStore>> {
        if let Some(s) = stores.get(bucket) {
            return Ok(s.clone());
        }
        let s: Arc<dyn ObjectStore> = Arc::new(crate::storage::s3_store(bucket, &options)?);
        stores.insert(bucket.to_string(), s.clone());
        Ok(s)
    };
    let found: Vec<(String, String, u64)> = match source.targets()? {
        Targets::Objects(objects) => {
            let mut wanted = Vec::new();
            for o in objects.into_iter().filter(|o| keep(&o.path)) {
                wanted.push((store_for(&o.bucket)?, o));
            }
            head_all(wanted)?
        }
        Targets::Prefixes(prefixes) => {
            let mut all = Vec::new();
            for p in prefixes {
                let store = store_for(&p.bucket)?;
                for (key, size) in list_prefix(store, &p)? {
                    if size > 0 && keep(&key) {
                        all.push((p.bucket.clone(), key, size));
                    }
                }
            }
            all
        }
    };
    Ok(found
        .into_iter()
        .map(|(bucket, key, size)| InputSplit {
            kind: SplitKind::S3 {
                bucket,
                key,
                size,
                options: options.clone(),
            },
        })
        .collect())
}

fn object_path(bucket: &str, key: &str) -> Result<ObjectPath> {
    ObjectPath::parse(key).map_err(|e| MsqError::InputSource {
        message: format!("Unsupported object key [{}]: {e}", object_uri(bucket, key)),
    })
}

/// Sizes each object with a `HEAD`, a few at a time; keeps the order.
fn head_all(wanted: Vec<(Arc<dyn ObjectStore>, CloudObjectLocation)>) -> Result<Vec<(String, String, u64)>> {
    let mut requests: Vec<futures::future::BoxFuture<'static, Result<(String, String, u64)>>> =
        Vec::with_capacity(wanted.len());
    for (store, o) in wanted {
        let path = object_path(&o.bucket, &o.path)?;
        requests.push(Box::pin(async move {
            let uri = object_uri(&o.bucket, &o.path);
            let options = object_store::GetOptions {
                head: true,
                ..Default::default()
            };
            match store.get_opts(&path, options).await {
                Ok(r) => Ok((o.bucket, o.path, r.meta.size)),
                Err(object_store::Error::NotFound { .. }) => Err(MsqError::InputSource {
                    message: format!("Object [{uri}] does not exist"),
                }),
                Err(e) => Err(MsqError::InputSource {
                    message: format!("Unable to get the size of object [{uri}]: {e}"),
                }),
            }
        }));
    }
    io::run(async move {
        futures::stream::iter(requests)
            .buffered(HEAD_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await
    })?
}

/// The objects whose keys start with `prefix.path` (a plain string prefix, as S3 lists), in
/// key order, with their sizes.
fn list_prefix(store: Arc<dyn ObjectStore>, prefix: &CloudObjectLocation) -> Result<Vec<(String, u64)>> {
    // object_store lists whole path segments: list the prefix's directory, then filter.
    let raw = prefix.path.clone();
    let dir = match raw.rfind('/') {
        Some(i) => raw[..i].trim_end_matches('/').to_string(),
        None => String::new(),
    };
    let uri = object_uri(&prefix.bucket, &raw);
    let dir_path = if dir.is_empty() {
        None
    } else {
        Some(object_path(&prefix.bucket, &dir)?)
    };
    let listed = io::run(async move {
        store
            .list(dir_path.as_ref())
            .map_ok(|m| (m.location.to_string(), m.size))
            .try_collect::<Vec<_>>()
            .await
    })?
    .map_err(|e| MsqError::InputSource {
        message: format!("Unable to list objects under prefix [{uri}]: {e}"),
    })?;
    let mut out: Vec<(String, u64)> = listed.into_iter().filter(|(k, _)| k.starts_with(&raw)).collect();
    out.sort();
    Ok(out)
}

/// The S3 client a split asks for.
fn split_store(bucket: &str, options: &[(String, String)]) -> Result<Arc<dyn ObjectStore>> {
    Ok(Arc::new(crate::storage::s3_store(bucket, options)?))
}

/// Opens an object for streaming reads (see [`ObjectReader`]).
pub(crate) fn open_object(bucket: &str, key: &str, options: &[(String, String)]) -> Result<ObjectReader> {
    let uri = object_uri(bucket, key);
    ObjectReader::open(split_store(bucket, options)?, object_path(bucket, key)?, 0, |e| {
        MsqError::InputSource {
            message: match e {
                object_store::Error::NotFound { .. } => format!("Object [{uri}] does not exist"),
                e => format!("Unable to open object [{uri}]: {e}"),
            },
        }
    })
}

/// An object as a Parquet chunk reader of `size` bytes (see [`ObjectChunks`]).
pub(crate) fn object_chunks(bucket: &str, key: &str, size: u64, options: &[(String, String)]) -> Result<ObjectChunks> {
    Ok(ObjectChunks::new(
        split_store(bucket, options)?,
        object_path(bucket, key)?,
        size,
        object_uri(bucket, key),
    ))
}

#[cfg(test)]
mod tests;
