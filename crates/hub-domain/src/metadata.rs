//! Metadata validation against a bucket's schema, with an error per field that says what is wrong.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::catalogue::{BucketKind, FieldDef, FieldKind};

/// Validated metadata: canonical values (trimmed text, choices spelt as listed, integers as numbers).
pub type Metadata = BTreeMap<String, Value>;

/// One field's problem. `field` is the schema key (or the unknown key that was sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.to_owned(), message: message.into() }
}

/// Validates a complete set of metadata for `bucket`.
pub fn validate(bucket: BucketKind, input: &Map<String, Value>) -> Result<Metadata, Vec<FieldError>> {
    apply_patch(bucket, &Metadata::new(), input)
}

/// Applies `patch` to `existing` and validates the result: a `null` removes a field, other values
/// replace it. This is the bulk edit: the same patch applied to many assets, each checked in full.
pub fn apply_patch(
    bucket: BucketKind,
    existing: &Metadata,
    patch: &Map<String, Value>,
) -> Result<Metadata, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut merged = existing.clone();
    for (key, value) in patch {
        let Some(field) = bucket.field(key) else {
            let known: Vec<&str> = bucket.schema().iter().map(|f| f.key).collect();
            errors.push(error(
                key,
                format!("is not a field of {}; its fields are: {}", bucket.title(), known.join(", ")),
            ));
            continue;
        };
        if value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty()) {
            merged.remove(key);
            continue;
        }
        match canonical(field, value) {
            Ok(value) => {
                merged.insert(key.clone(), value);
            }
            Err(message) => errors.push(error(key, message)),
        }
    }
    for field in bucket.schema() {
        if field.required && !merged.contains_key(field.key) && !errors.iter().any(|e| e.field == field.key) {
            errors.push(error(field.key, format!("{} is required", field.label)));
        }
    }
    if errors.is_empty() { Ok(merged) } else { Err(errors) }
}

/// The canonical form of one value, or why it does not fit the field.
pub fn canonical(field: &FieldDef, value: &Value) -> Result<Value, String> {
    match field.kind {
        FieldKind::Text { max } => {
            let text = match value {
                Value::String(s) => s.trim().to_owned(),
                Value::Number(n) => n.to_string(),
                _ => return Err(format!("{} must be text", field.label)),
            };
            if text.chars().count() > max {
                return Err(format!("{} is longer than {max} characters", field.label));
            }
            if text.chars().any(char::is_control) {
                return Err(format!("{} must not contain control characters", field.label));
            }
            Ok(Value::String(text))
        }
        FieldKind::Integer { min, max } => {
            let number = match value {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
            .ok_or_else(|| format!("{} must be a whole number", field.label))?;
            if !(min..=max).contains(&number) {
                return Err(format!("{} must be between {min} and {max}", field.label));
            }
            Ok(Value::from(number))
        }
        FieldKind::Date => {
            let text = value.as_str().map(str::trim).unwrap_or_default();
            if is_date(text) {
                Ok(Value::String(text.to_owned()))
            } else {
                Err(format!("{} must be a date written YYYY-MM-DD", field.label))
            }
        }
        FieldKind::Choice { choices } => {
            let text = match value {
                Value::String(s) => s.trim().to_owned(),
                Value::Number(n) => n.to_string(),
                _ => String::new(),
            };
            choices
                .iter()
                .find(|c| c.eq_ignore_ascii_case(&text))
                .map(|c| Value::String((*c).to_owned()))
                .ok_or_else(|| format!("{} must be one of: {}", field.label, choices.join(", ")))
        }
    }
}

/// A real calendar date `YYYY-MM-DD` (leap years included).
fn is_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts[..] else { return false };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return false;
    }
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<u32>(), m.parse::<u32>(), d.parse::<u32>()) else { return false };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn accepts_and_canonicalises() {
        let meta = validate(
            BucketKind::FinalSound,
            &map(json!({"reel": "3", "mix_type": "PRINTMASTER", "format": "5.1", "language": " en "})),
        )
        .unwrap();
        assert_eq!(meta["reel"], json!(3));
        assert_eq!(meta["mix_type"], json!("printmaster"));
        assert_eq!(meta["language"], json!("en"));
    }

    #[test]
    fn reports_every_field_error() {
        let errors = validate(
            BucketKind::FinalSound,
            &map(json!({"reel": 0, "format": "9.1", "colour": "red", "mix_type": null})),
        )
        .unwrap_err();
        let by_field: BTreeMap<_, _> = errors.iter().map(|e| (e.field.as_str(), e.message.as_str())).collect();
        assert_eq!(by_field["reel"], "Reel must be between 1 and 99");
        assert!(by_field["format"].starts_with("Format must be one of: 2.0, 5.1"));
        assert!(by_field["colour"].contains("is not a field of Final Sound"));
        assert_eq!(by_field["mix_type"], "Mix type is required");
        assert_eq!(errors.len(), 4);
    }

    #[test]
    fn patches_merge_remove_and_recheck() {
        let base = validate(BucketKind::Vfx, &map(json!({"shot": "sh010", "version": 3}))).unwrap();
        let patched = apply_patch(BucketKind::Vfx, &base, &map(json!({"vendor": "DNEG", "version": "4"}))).unwrap();
        assert_eq!(patched["version"], json!(4));
        assert_eq!(patched["shot"], json!("sh010"));
        let errors = apply_patch(BucketKind::Vfx, &base, &map(json!({"shot": null}))).unwrap_err();
        assert_eq!(errors, vec![error("shot", "Shot is required")]);
    }

    #[test]
    fn dates_are_real_dates() {
        for good in ["2026-02-28", "2024-02-29", "2000-02-29"] {
            assert!(is_date(good), "{good}");
        }
        for bad in ["2026-02-29", "1900-02-29", "2026-13-01", "2026-1-01", "26-01-01", "2026-01-32", "x"] {
            assert!(!is_date(bad), "{bad}");
        }
    }

    #[test]
    fn text_limits() {
        let field = BucketKind::Vfx.field("shot").unwrap();
        let label = field.label;
        assert_eq!(canonical(field, &json!("a".repeat(201))), Err(format!("{label} is longer than 200 characters")));
        assert_eq!(canonical(field, &json!("a\nb")), Err(format!("{label} must not contain control characters")));
        assert_eq!(canonical(field, &json!(["x"])), Err(format!("{label} must be text")));
        assert_eq!(canonical(field, &json!(" sh010 ")), Ok(json!("sh010")));
    }
}
