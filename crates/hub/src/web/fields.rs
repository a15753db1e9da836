//! Metadata fields as the pages show them, shared by the bucket, upload, requests and asset pages.

use super::*;

pub(super) struct FieldView {
    pub(super) key: &'static str,
    pub(super) label: &'static str,
    pub(super) required: bool,
    pub(super) kind: &'static str,
    pub(super) choices: Vec<&'static str>,
}

/// The bucket's metadata fields as the forms show them.
pub(super) fn field_views(bucket: BucketKind) -> Vec<FieldView> {
    bucket.schema().iter().map(field_view).collect()
}

pub(super) fn field_view(f: &FieldDef) -> FieldView {
    let (kind, choices) = match f.kind {
        FieldKind::Text { .. } => ("text", Vec::new()),
        FieldKind::Integer { .. } => ("integer", Vec::new()),
        FieldKind::Date => ("date", Vec::new()),
        FieldKind::Choice { choices } => ("choice", choices.to_vec()),
    };
    FieldView { key: f.key, label: f.label, required: f.required, kind, choices }
}

pub(super) fn display_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
