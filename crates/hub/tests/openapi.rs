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

/// Every JSON body an endpoint takes or answers with is described, from its serde type (issue
/// 12): the shapes schemathesis checks the live hub against in the test suite.
#[test]
fn every_json_body_is_described() {
    let doc = hub::api::spec::openapi();
    for e in hub::api::endpoints() {
        let op = &doc["paths"][e.path][e.method.as_str().to_lowercase()];
        let what = format!("{} {}", e.method, e.path);
        let done = &op["responses"][e.ok.to_string()];
        assert!(done.is_object(), "{what}: no {} answer", e.ok);
        // Everything answers JSON but tus, downloads (a file, a package's ZIP), 204s and adding a
        // member (a bare 201).
        let answers_json = e.ok != 204
            && !e.path.starts_with("/uploads")
            && !e.path.ends_with("/content")
            && !e.path.ends_with("/zip")
            && (e.method.as_str(), e.path) != ("POST", "/projects/{id}/members");
        assert_eq!(done["content"]["application/json"]["schema"].is_object(), answers_json, "{what}: answer");
        // Writes with a body: every POST and PATCH but the ones that act on what the path names.
        let takes_body = matches!(e.method.as_str(), "POST" | "PATCH")
            && !e.path.starts_with("/uploads")
            && !e.path.ends_with("/deliver")
            && !e.path.ends_with("/revalidate");
        assert_eq!(op["requestBody"]["content"]["application/json"]["schema"].is_object(), takes_body, "{what}: body");
    }
    // Generated from the serde types: an asset's internal storage keys are not part of it, and a
    // token's scope is one of the three.
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["Asset"]["properties"]["blob_key"].is_null());
    assert!(schemas["Asset"]["required"].as_array().unwrap().contains(&serde_json::json!("state")));
    assert!(doc.to_string().contains(r#""const":"deliver""#));
}
