//! The contenthub API's vocabulary, shared by the hub (which sends and takes these) and its client
//! (which gets them back typed): the resources, the requests that make them, the error body, and
//! the tus `Upload-Metadata` codec. Serde only; no I/O.

pub mod cursor;
pub mod tus;
pub mod upload_metadata;

use hub_domain::{
    AssetState, BucketKind, Check, DeliveryState, FieldError, HistoryAction, Metadata, RequestState, Role, TokenScope,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Every API error: a stable code to act on, a message that says what to do, and for invalid
/// input the fields at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub site_admin: bool,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Project {
    pub id: i64,
    pub name: String,
    pub code: String,
    pub created_ms: i64,
    /// Proxies without fast start are remuxed (moov first, no re-encode) instead of refused.
    pub fast_start_remux: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub created_ms: i64,
    pub last_used_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
    /// What the token may be used for: read, deliver or manage.
    pub scope: TokenScope,
    /// When it stops working; never when absent.
    pub expires_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HistoryEntry {
    pub id: i64,
    pub asset_id: Option<i64>,
    pub request_id: Option<i64>,
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub action: HistoryAction,
    pub detail: String,
    pub at_ms: i64,
}

/// Counts of a bucket's assets per state (latest versions and older ones alike).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BucketCounts {
    pub bucket: BucketKind,
    pub counts: std::collections::BTreeMap<String, i64>,
    pub open_requests: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Delivery {
    pub id: i64,
    pub project_id: i64,
    pub bucket: BucketKind,
    pub created_by: Option<i64>,
    pub state: DeliveryState,
    pub created_ms: i64,
    pub delivered_ms: Option<i64>,
}

/// One file of a package, with its upload's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PackageMember {
    pub name: String,
    pub size: i64,
    /// The tus upload URL that carries the file (a stream of files, or its own), once created.
    pub upload: Option<String>,
    /// Bytes of this file the hub holds.
    pub offset: i64,
    pub complete: bool,
}

/// One file of a validated package (a frame-sequence ZIP or a zipless package) as validation
/// found it, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PackageFile {
    pub name: String,
    pub size: i64,
    /// The md5 of what the file holds, when validation read it.
    pub md5: Option<String>,
    /// Whether it matches checksum.txt.
    pub ok: bool,
    /// "ok", or what is wrong with it.
    pub result: String,
}

/// The outcome of one validation check of an asset, with the files it concerns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckResult {
    pub check: Check,
    pub passed: bool,
    pub detail: String,
    /// Per-file findings (name, what is wrong), for packages.
    pub files: Vec<(String, String)>,
    #[serde(default)]
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewFile {
    pub name: String,
    /// For a package: the sum of its files' sizes (may be left out).
    #[serde(default)]
    pub size: i64,
    /// A zipless package: a frame folder's files, checksum.txt among them, delivered as one asset.
    pub package: Option<Vec<NewMember>>,
    /// Hex md5 the vendor computed; the hub compares its own with it.
    pub md5: Option<String>,
    #[serde(default)]
    pub metadata: Map<String, Value>,
    pub request_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewMember {
    pub name: String,
    pub size: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewDelivery {
    pub bucket: String,
    /// The client's own key for this declaration (up to 100 characters): declaring again with the
    /// same key returns the delivery made the first time, so a retry after a lost answer is safe.
    pub client_key: Option<String>,
    pub files: Vec<NewFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FileView {
    pub asset_id: i64,
    pub name: String,
    pub version: i64,
    pub size: i64,
    pub state: AssetState,
    /// The request the file fulfils (request-based buckets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<i64>,
    /// The tus upload URL for this file; none for a package, whose files travel in streams of
    /// their own (`GET /api/v1/assets/{id}/members`).
    pub upload: Option<String>,
    /// Bytes the hub holds (for a package: of all its files).
    pub offset: i64,
    pub complete: bool,
    /// A package: how many files it holds, and how many are not fully uploaded yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<PackageProgress>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PackageProgress {
    pub files: i64,
    pub incomplete: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeliveryView {
    #[serde(flatten)]
    pub delivery: Delivery,
    pub files: Vec<FileView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Me {
    pub user: User,
    pub projects: Vec<Project>,
    pub via_token: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub token: ApiToken,
    /// Shown once; only its hash is stored.
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProjectView {
    #[serde(flatten)]
    pub project: Project,
    /// The caller's role; absent for a site admin who is not a member.
    pub role: Option<Role>,
    pub buckets: Vec<BucketCounts>,
}
