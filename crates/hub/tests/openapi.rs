//! The OpenAPI document kept in the repository is the one the code generates, and the server
//! serves it. After changing an endpoint:
//! `cargo run -p contenthub -- openapi > crates/hub/openapi.json`.

use std::path::Path;

#[test]
fn the_committed_openapi_document_is_up_to_date() {
    let generated = serde_json::to_string_pretty(&hub::api::spec::openapi()).unwrap() + "\n";
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        committed == generated,
        "crates/hub/openapi.json is out of date; run `cargo run -p contenthub -- openapi > crates/hub/openapi.json` \
         and commit it"
    );
}

#[test]
fn every_endpoint_is_documented_once() {
    let doc = hub::api::spec::openapi();
    let endpoints = hub::api::endpoints();
    let mut seen = std::collections::HashSet::new();
    for e in &endpoints {
        assert!(seen.insert((e.method.clone(), e.path)), "{} {} twice", e.method, e.path);
        let op = &doc["paths"][e.path][e.method.as_str().to_lowercase()];
        assert!(op["summary"].is_string(), "{} {} undocumented", e.method, e.path);
    }
    assert_eq!(doc["components"]["schemas"]["Metadata.final-sound"]["properties"]["format"]["enum"][3], "Atmos");
}
