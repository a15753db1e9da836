//! What the repositories store and return.

use hub_domain::{AssetState, BucketKind, Membership, Metadata, RequestState, Role};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub site_admin: bool,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Project {
    pub id: i64,
    pub name: String,
    pub code: String,
    pub created_ms: i64,
    /// Proxies without fast start are remuxed (moov first, no re-encode) instead of refused.
    pub fast_start_remux: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub user: User,
    pub role: Role,
    pub buckets: Option<Vec<BucketKind>>,
}

impl Member {
    pub fn membership(&self) -> Membership {
        Membership { role: self.role, buckets: self.buckets.clone() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub created_ms: i64,
    pub last_used_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Asset {
    pub id: i64,
    pub project_id: i64,
    pub bucket: BucketKind,
    pub name: String,
    pub version: i64,
    pub state: AssetState,
    pub size: i64,
    pub md5: Option<String>,
    pub metadata: Metadata,
    pub request_id: Option<i64>,
    pub created_by: Option<i64>,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Where the bytes are in the blob store, once delivered; internal.
    #[serde(skip)]
    pub blob_key: Option<String>,
    /// The delivered bytes, when `blob_key` holds a fast-start remux of them; internal.
    #[serde(skip)]
    pub original_blob_key: Option<String>,
    /// A zipless package: how many files it holds (checksum.txt included); none for a single file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_files: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewAsset {
    pub project_id: i64,
    pub bucket: BucketKind,
    pub name: String,
    pub state: AssetState,
    pub size: i64,
    pub md5: Option<String>,
    pub metadata: Metadata,
    pub request_id: Option<i64>,
    pub created_by: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetSort {
    #[default]
    Name,
    Updated,
}

/// A filtered, sorted page of one bucket's assets.
#[derive(Debug, Clone, Default)]
pub struct AssetQuery {
    pub state: Option<AssetState>,
    /// Case-insensitive substring of the name.
    pub name_contains: Option<String>,
    /// Metadata `field = value`, compared as text, all of which must hold.
    pub fields: Vec<(String, String)>,
    pub sort: AssetSort,
    pub descending: bool,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    pub id: i64,
    pub project_id: i64,
    pub bucket: BucketKind,
    pub title: String,
    pub state: RequestState,
    pub metadata: Metadata,
    pub reason: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub id: i64,
    pub asset_id: Option<i64>,
    pub request_id: Option<i64>,
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub action: hub_domain::HistoryAction,
    pub detail: String,
    pub at_ms: i64,
}

/// Counts of a bucket's assets per state (latest versions and older ones alike).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BucketCounts {
    pub bucket: BucketKind,
    pub counts: std::collections::BTreeMap<&'static str, i64>,
    pub open_requests: i64,
}
