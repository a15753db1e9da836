//! tus `Upload-Metadata`: comma-separated `key base64(value)` pairs.

use base64::Engine;

/// `Upload-Metadata` for the given pairs.
pub fn encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k} {}", base64::engine::general_purpose::STANDARD.encode(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// The pairs of a raw `Upload-Metadata` value, in order; the error names the key whose value is
/// not base64 of UTF-8.
pub fn parse(raw: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        let value = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()
            .and_then(|v| String::from_utf8(v).ok())
            .ok_or_else(|| format!("Upload-Metadata value of {key:?} is not base64 of UTF-8"))?;
        out.push((key.to_owned(), value));
    }
    Ok(out)
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
        assert!(err.contains("\"filename\" is not base64"), "{err}");
        assert_eq!(parse(&encode(&[("filename", "reel1.wav"), ("project", "1")])).unwrap(), parsed[..2].to_vec());
    }
}
