//! Upload metadata as tus carries it (`Upload-Metadata`): comma-separated `key base64value` pairs.

use crate::app::{AppError, AppResult};

pub use api_types::upload_metadata::encode;

/// The pairs of a raw `Upload-Metadata` value, in order.
pub fn parse(raw: &str) -> AppResult<Vec<(String, String)>> {
    api_types::upload_metadata::parse(raw).map_err(AppError::bad_request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_base64_pairs() {
        let parsed = parse("filename cmVlbDEud2F2,project MQ==,empty").unwrap();
        assert_eq!(
            parsed,
            vec![
                ("filename".into(), "reel1.wav".into()),
                ("project".into(), "1".into()),
                ("empty".into(), String::new())
            ]
        );
        let err = parse("filename !!!").unwrap_err();
        assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST);
        assert!(err.body.message.contains("\"filename\" is not base64"), "{}", err.body.message);
        assert_eq!(parse(&encode(&[("filename", "reel1.wav"), ("project", "1")])).unwrap(), parsed[..2].to_vec());
    }
}
