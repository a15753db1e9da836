//! Helpers shared by the hub's integration tests.
#![allow(dead_code)]

use hub::store::S3Settings;

/// The S3-compatible test server scripts/test.sh starts, if it did (`None`: the S3 half of a test
/// is skipped, and says so).
pub fn s3_settings() -> Option<S3Settings> {
    let Ok(endpoint) = std::env::var("CONTENTHUB_TEST_S3_ENDPOINT") else {
        eprintln!("SKIPPED on S3: set CONTENTHUB_TEST_S3_ENDPOINT (scripts/test.sh starts s3s-fs and does)");
        return None;
    };
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} must be set with the endpoint"));
    Some(S3Settings {
        bucket: var("CONTENTHUB_TEST_S3_BUCKET"),
        endpoint: Some(endpoint),
        region: Some("us-east-1".into()),
        access_key_id: Some(var("CONTENTHUB_TEST_S3_ACCESS_KEY")),
        secret_access_key: Some(var("CONTENTHUB_TEST_S3_SECRET_KEY")),
        path_style: true,
    })
}
