//! The OpenAPI document, generated from the endpoint table in `api/mod.rs` and from the bucket
//! catalogue, so that it cannot drift from what is routed. Request and response bodies are the
//! JSON Schema of their serde types (`schemars`, which follows their serde attributes): what a
//! request may carry as they deserialise it, what an answer holds as they serialise it. A copy
//! is kept in the repository (`crates/hub/openapi.json`); a test fails when it is out of date,
//! and schemathesis checks the live hub against it in the test suite.

use axum::response::IntoResponse;
use hub_domain::{AssetState, BucketKind, FieldKind, RequestEvent, RequestState, Role};
use serde_json::{Map, Value, json};

use super::endpoints;

pub async fn serve() -> impl IntoResponse {
    axum::Json(openapi())
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn enum_schema(values: Vec<String>) -> Value {
    json!({"type": "string", "enum": values})
}

/// One bucket's metadata schema as JSON Schema.
fn metadata_schema(bucket: BucketKind) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for field in bucket.schema() {
        let mut schema = match field.kind {
            FieldKind::Text { max } => json!({"type": "string", "maxLength": max}),
            FieldKind::Integer { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
            FieldKind::Date => json!({"type": "string", "format": "date"}),
            FieldKind::Choice { choices } => json!({"type": "string", "enum": choices}),
        };
        schema["title"] = json!(field.label);
        if field.filterable {
            schema["description"] = json!(format!("filter with meta.{}=VALUE", field.key));
        }
        properties.insert(field.key.to_owned(), schema);
        if field.required {
            required.push(field.key);
        }
    }
    json!({"title": bucket.title(), "type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

/// Where component schemas live in the document.
const COMPONENTS: &str = "/components/schemas";

pub fn openapi() -> Value {
    let mut paths = Map::new();
    // Answers as they are serialised, their types named once under components; requests as they
    // are deserialised, inlined (a type may read differently from how it is written).
    let mut answers = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .with(|s| s.definitions_path = COMPONENTS.into())
        .into_generator();
    let mut requests = schemars::generate::SchemaSettings::draft2020_12()
        .for_deserialize()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    for endpoint in endpoints() {
        let mut parameters: Vec<Value> = endpoint
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                let schema = match name {
                    "bucket" => json!({"$ref": "#/components/schemas/BucketSlug"}),
                    "upload" => json!({"type": "string"}),
                    _ => json!({"type": "integer", "format": "int64"}),
                };
                json!({"name": name, "in": "path", "required": true, "schema": schema})
            })
            .collect();
        parameters.extend(
            endpoint
                .query
                .iter()
                .map(|(name, description)| json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}})),
        );
        let mut responses = Map::new();
        let mut done = json!({"description": "done"});
        if let Some(returns) = endpoint.returns {
            done["content"] = json!({"application/json": {"schema": returns(&mut answers)}});
        } else if endpoint.path.ends_with("/content") {
            done["content"] = json!({"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}});
        }
        responses.insert(endpoint.ok.to_string(), done);
        if endpoint.path == "/session" && endpoint.method == axum::http::Method::POST {
            responses.insert("401".into(), error_response("wrong user name or password"));
        } else {
            responses.insert("401".into(), error_response("not signed in, or the token is not valid"));
        }
        if endpoint.path.contains('{') {
            responses.insert("404".into(), error_response("missing, or not visible to the caller"));
        }
        responses.insert("400".into(), error_response("malformed request"));
        responses.insert("403".into(), error_response("visible, but not allowed (or a missing CSRF token)"));
        responses.insert("409".into(), error_response("conflicts with the current state"));
        if endpoint.path.starts_with("/uploads") {
            responses.insert("410".into(), error_response("the upload expired; deliver the file again"));
            responses.insert("412".into(), error_response("send `Tus-Resumable: 1.0.0`"));
            responses
                .insert("460".into(), error_response("the body's Upload-Checksum did not match; nothing was kept"));
            responses.insert("503".into(), error_response("the storage did not take the data; retry from the offset"));
        }
        if endpoint.path.ends_with("/content") {
            responses.insert(
                "206".into(),
                json!({"description": "the requested Range", "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}),
            );
            responses.insert("416".into(), error_response("the Range is outside the file"));
        }
        if endpoint.method != axum::http::Method::GET {
            responses.insert("413".into(), error_response("the body is larger than this endpoint takes"));
            responses.insert("415".into(), error_response("the body is not of the type this endpoint takes"));
            responses.insert("422".into(), error_response("invalid fields; `fields` says which"));
        }
        if endpoint.path == "/session" {
            responses.insert("429".into(), error_response("too many failed sign-ins; wait and try again"));
        }
        let mut operation = json!({
            "summary": endpoint.summary,
            "description": format!("Who: {}.", endpoint.access),
            "parameters": parameters,
            "responses": responses,
            "security": [{"token": []}, {"session": []}],
        });
        if let Some(body) = endpoint.body {
            operation["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": body(&mut requests)}}});
        } else if endpoint.path.starts_with("/uploads/") && endpoint.method == axum::http::Method::PATCH {
            operation["requestBody"] = json!({"required": true, "content": {
                "application/offset+octet-stream": {"schema": {"type": "string", "format": "binary"}}}});
        }
        let item = paths.entry(endpoint.path.to_owned()).or_insert_with(|| json!({}));
        item[endpoint.method.as_str().to_lowercase()] = operation;
    }
    let mut schemas = answers.take_definitions(true);
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "stable, machine-readable"},
                "message": {"type": "string", "description": "what is wrong and what to do"},
                "fields": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}
            }
        }),
    );
    schemas.insert("BucketSlug".into(), enum_schema(BucketKind::ALL.iter().map(|b| b.slug().to_owned()).collect()));
    schemas.insert("AssetState".into(), enum_schema(AssetState::ALL.iter().map(|s| s.as_str().to_owned()).collect()));
    schemas
        .insert("RequestState".into(), enum_schema(RequestState::ALL.iter().map(|s| s.as_str().to_owned()).collect()));
    schemas.insert("Role".into(), enum_schema(Role::ALL.iter().map(|r| r.as_str().to_owned()).collect()));
    let events = [RequestEvent::Accept, RequestEvent::AskRedelivery, RequestEvent::Reject, RequestEvent::Reopen];
    schemas.insert(
        "RequestEvent".into(),
        enum_schema(
            events
                .iter()
                .map(|e| serde_json::to_value(e).expect("serialises").as_str().unwrap_or_default().to_owned())
                .collect(),
        ),
    );
    for bucket in BucketKind::ALL {
        schemas.insert(format!("Metadata.{}", bucket.slug()), metadata_schema(bucket));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "contenthub API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Content Hub for film and TV production deliveries. Errors are {code, message}. Browser sessions must send X-CSRF-Token on every request that changes something."
        },
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "an API token (contenthub admin create-token, or POST /tokens)"},
                "session": {"type": "apiKey", "in": "cookie", "name": "contenthub_session"}
            }
        }
    })
}
