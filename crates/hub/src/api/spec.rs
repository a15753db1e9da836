//! The OpenAPI document, generated from the endpoint table in `api/mod.rs` and from the bucket
//! catalogue, so that it cannot drift from what is routed. A copy is kept in the repository
//! (`crates/hub/openapi.json`); a test fails when it is out of date.

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

pub fn openapi() -> Value {
    let mut paths = Map::new();
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
        let ok = match endpoint.method.as_str() {
            "POST" if endpoint.path.ends_with("/transition") || endpoint.path == "/session" => "200",
            "POST" => "201",
            "DELETE" | "OPTIONS" => "204",
            "PATCH" if endpoint.path.starts_with("/uploads") => "204",
            _ => "200",
        };
        responses.insert(ok.into(), json!({"description": "done"}));
        if endpoint.path != "/session" || endpoint.method != axum::http::Method::POST {
            responses.insert("401".into(), error_response("not signed in, or the token is not valid"));
        }
        if endpoint.path.contains('{') {
            responses.insert("404".into(), error_response("missing, or not visible to the caller"));
        }
        if endpoint.method != axum::http::Method::GET {
            responses.insert("400".into(), error_response("malformed request"));
            responses.insert("403".into(), error_response("visible, but not allowed (or a missing CSRF token)"));
            responses.insert("409".into(), error_response("conflicts with the current state"));
            responses.insert("422".into(), error_response("invalid fields; `fields` says which"));
        }
        let operation = json!({
            "summary": endpoint.summary,
            "description": format!("Who: {}.", endpoint.access),
            "parameters": parameters,
            "responses": responses,
            "security": [{"token": []}, {"session": []}],
        });
        let item = paths.entry(endpoint.path.to_owned()).or_insert_with(|| json!({}));
        item[endpoint.method.as_str().to_lowercase()] = operation;
    }
    let mut schemas = Map::new();
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
