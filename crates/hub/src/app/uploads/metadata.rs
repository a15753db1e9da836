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

    /// The codec itself is tested in `api_types::upload_metadata`; here, what the core adds.
    #[test]
    fn a_bad_value_is_a_bad_request_naming_its_key() {
        assert_eq!(parse("filename cmVlbDEud2F2").unwrap(), vec![("filename".to_owned(), "reel1.wav".to_owned())]);
        let err = parse("filename !!!").unwrap_err();
        assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST);
        assert!(err.body.message.contains("\"filename\" is not base64"), "{}", err.body.message);
    }
}
