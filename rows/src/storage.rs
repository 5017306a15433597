//! Deep storage (where segments live) and S3 client settings.
//!
//! * [`open_deep_storage`]: a local directory (`/data/segments`, `file:///data/segments`) or an
//!   S3-compatible bucket (`s3://bucket/optional/prefix`) as an [`ObjectStore`].
//! * [`s3_store`]: an S3 client for one bucket, configured from the environment (`AWS_ACCESS_KEY_ID`,
//!   `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, ...) with
//!   explicit settings (object_store's `aws_*` keys) on top. The `s3` input source uses it too.

use msq_engine::error::{MsqError, Result};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ClientConfigKey, ObjectStore};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

/// Where a deep storage URI points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeepStorageLocation {
    /// A local directory.
    Local(PathBuf),
    /// A bucket, and the key prefix (without surrounding slashes) segments go under.
    S3 { bucket: String, prefix: Option<String> },
}

impl DeepStorageLocation {
    /// Parses `s3://bucket[/prefix]`, `file://PATH` or a plain directory path.
    pub fn parse(uri: &str) -> Result<Self> {
        let bad = |why: &str| MsqError::Validation(format!("Invalid deep storage URI [{uri}]: {why}"));
        if let Some(rest) = strip_prefix_ignore_case(uri, "s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket"));
            }
            let prefix = prefix.trim_matches('/');
            return Ok(DeepStorageLocation::S3 {
                bucket: bucket.to_string(),
                prefix: (!prefix.is_empty()).then(|| prefix.to_string()),
            });
        }
        if let Some(path) = strip_prefix_ignore_case(uri, "file://") {
            if path.is_empty() {
                return Err(bad("no path"));
            }
            return Ok(DeepStorageLocation::Local(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = uri.split_once("://") {
            return Err(bad(&format!(
                "unsupported scheme [{scheme}]; use a directory, file:// or s3://"
            )));
        }
        if uri.is_empty() {
            return Err(bad("empty"));
        }
        Ok(DeepStorageLocation::Local(PathBuf::from(uri)))
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)).then(|| &s[prefix.len()..])
}

/// Opens deep storage at `uri` (see [`DeepStorageLocation::parse`]); a local directory is
/// created if missing. S3 settings come from the environment.
pub fn open_deep_storage(uri: &str) -> Result<Arc<dyn ObjectStore>> {
    open_deep_storage_with(uri, &[])
}

/// [`open_deep_storage`] with explicit S3 settings (`("aws_endpoint", "http://…")`, ...)
/// applied over the environment's; they are ignored for local storage.
pub fn open_deep_storage_with(uri: &str, s3_options: &[(String, String)]) -> Result<Arc<dyn ObjectStore>> {
    match DeepStorageLocation::parse(uri)? {
        DeepStorageLocation::Local(dir) => {
            std::fs::create_dir_all(&dir)?;
            Ok(Arc::new(LocalFileSystem::new_with_prefix(&dir)?))
        }
        DeepStorageLocation::S3 { bucket, prefix } => {
            let store = s3_store(&bucket, s3_options)?;
            Ok(match prefix {
                Some(p) => {
                    let p = ObjectPath::parse(&p).map_err(|e| {
                        MsqError::Validation(format!("Invalid deep storage URI [{uri}]: bad prefix: {e}"))
                    })?;
                    Arc::new(PrefixStore::new(store, p))
                }
                None => Arc::new(store),
            })
        }
    }
}

/// An S3 client for `bucket`: the environment's `AWS_*` settings, then `options` (object_store
/// config keys such as `aws_access_key_id`, `aws_endpoint`, `aws_region`, `aws_allow_http`).
/// An explicit `http://` endpoint allows plain HTTP unless `aws_allow_http` says otherwise.
pub fn s3_store(bucket: &str, options: &[(String, String)]) -> Result<AmazonS3> {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    for (key, value) in options {
        let k = AmazonS3ConfigKey::from_str(&key.to_ascii_lowercase())
            .map_err(|_| MsqError::Validation(format!("Unknown S3 setting [{key}]")))?;
        builder = builder.with_config(k, value);
    }
    let allow_http_set = std::env::var_os("AWS_ALLOW_HTTP").is_some()
        || options.iter().any(|(k, _)| k.eq_ignore_ascii_case("aws_allow_http"));
    let http_endpoint = builder
        .get_config_value(&AmazonS3ConfigKey::Endpoint)
        .is_some_and(|e| e.to_ascii_lowercase().starts_with("http://"));
    if http_endpoint && !allow_http_set {
        builder = builder.with_config(AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp), "true");
    }
    builder
        .build()
        .map_err(|e| MsqError::Validation(format!("Invalid S3 configuration for bucket [{bucket}]: {e}")))
}

/// Object-store settings for the moto S3 server the tests start (`MSQ_TEST_S3_ENDPOINT`):
/// its endpoint and moto's dummy credentials.
#[cfg(any(test, feature = "test-support"))]
pub fn moto_settings(endpoint: &str) -> Vec<(String, String)> {
    [
        ("aws_endpoint", endpoint),
        ("aws_access_key_id", "testing"),
        ("aws_secret_access_key", "testing"),
        ("aws_region", "us-east-1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;
    use object_store::{ObjectStoreExt, PutPayload};

    #[test]
    fn uris_parse() {
        let s3 = |b: &str, p: Option<&str>| DeepStorageLocation::S3 {
            bucket: b.into(),
            prefix: p.map(str::to_string),
        };
        assert_eq!(DeepStorageLocation::parse("s3://b").unwrap(), s3("b", None));
        assert_eq!(DeepStorageLocation::parse("s3://b/").unwrap(), s3("b", None));
        assert_eq!(DeepStorageLocation::parse("S3://b/x/y/").unwrap(), s3("b", Some("x/y")));
        assert_eq!(
            DeepStorageLocation::parse("/var/segs").unwrap(),
            DeepStorageLocation::Local("/var/segs".into())
        );
        assert_eq!(
            DeepStorageLocation::parse("file:///var/segs").unwrap(),
            DeepStorageLocation::Local("/var/segs".into())
        );
        assert_eq!(
            DeepStorageLocation::parse("rel/dir").unwrap(),
            DeepStorageLocation::Local("rel/dir".into())
        );
        for bad in ["s3://", "s3:///x", "gs://b/x", "", "file://"] {
            assert!(
                matches!(DeepStorageLocation::parse(bad), Err(MsqError::Validation(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_s3_settings_are_refused() {
        let err = s3_store("b", &[("aws_no_such_thing".into(), "1".into())]).unwrap_err();
        assert_eq!(
            err.to_string(),
            MsqError::Validation("Unknown S3 setting [aws_no_such_thing]".into()).to_string()
        );
    }

    #[tokio::test]
    async fn local_deep_storage_is_created_and_rooted_at_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("deep").join("segments");
        let store = open_deep_storage(&format!("file://{}", root.display())).unwrap();
        assert!(root.is_dir());
        store
            .put(&ObjectPath::from("ds/1/x.parquet"), PutPayload::from_static(b"abc"))
            .await
            .unwrap();
        assert_eq!(std::fs::read(root.join("ds/1/x.parquet")).unwrap(), b"abc");
    }

    /// The moto server from scripts/ci-services.sh, or `None` (printing why).
    fn moto_endpoint() -> Option<String> {
        match std::env::var("MSQ_TEST_S3_ENDPOINT") {
            Ok(e) => Some(e),
            Err(_) => {
                println!(
                    "skipping S3 deep storage test: MSQ_TEST_S3_ENDPOINT not set (scripts/ci-services.sh starts one)"
                );
                None
            }
        }
    }

    /// Creates a bucket on moto with a plain `PUT /bucket` (moto accepts unsigned requests).
    async fn create_bucket(endpoint: &str, bucket: &str) {
        let resp = reqwest::Client::new()
            .put(format!("{endpoint}/{bucket}"))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "create bucket: {}", resp.status());
    }

    #[tokio::test]
    async fn s3_deep_storage_with_prefix_round_trips_on_moto() {
        let Some(endpoint) = moto_endpoint() else { return };
        let bucket = format!("deep-{}", uuid::Uuid::new_v4().simple());
        create_bucket(&endpoint, &bucket).await;
        let opts = moto_settings(&endpoint);
        let store = open_deep_storage_with(&format!("s3://{bucket}/msq/segments/"), &opts).unwrap();
        let path = ObjectPath::from("wiki/2015-09-12/v1/0.parquet");
        store
            .put(&path, PutPayload::from_static(b"segment bytes"))
            .await
            .unwrap();
        assert_eq!(
            store.get(&path).await.unwrap().bytes().await.unwrap().as_ref(),
            b"segment bytes"
        );
        // The object sits under the prefix in the bucket itself.
        let raw = open_deep_storage_with(&format!("s3://{bucket}"), &opts).unwrap();
        let keys: Vec<String> = raw
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(keys, vec!["msq/segments/wiki/2015-09-12/v1/0.parquet".to_string()]);
        let listed: Vec<String> = store
            .list(Some(&ObjectPath::from("wiki")))
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(listed, vec![path.to_string()]);
        store.delete(&path).await.unwrap();
        assert!(matches!(
            store.head(&path).await,
            Err(object_store::Error::NotFound { .. })
        ));
    }
}
