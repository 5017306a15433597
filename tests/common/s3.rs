//! Buckets on the moto S3 server that scripts/ci-services.sh starts (`MSQ_TEST_S3_ENDPOINT`).

pub use msq_rows::storage::moto_settings;
use msq_rows::storage::open_deep_storage_with;
use object_store::ObjectStore;
use std::sync::Arc;

/// Creates a new bucket on moto and returns its name and a store over it.
pub async fn new_bucket(endpoint: &str, label: &str) -> (String, Arc<dyn ObjectStore>) {
    let bucket = format!("{label}-{}", uuid::Uuid::new_v4().simple());
    let status = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "create bucket {bucket}: {status}");
    let store = open_deep_storage_with(&format!("s3://{bucket}"), &moto_settings(endpoint)).unwrap();
    (bucket, store)
}
