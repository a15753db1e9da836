//! What the repositories store and return.

pub use api_types::{ApiToken, Asset, BucketCounts, HistoryEntry, Page, Project, Request, User};
use hub_domain::{AssetState, BucketKind, Membership, Metadata, Role};
use serde::Serialize;

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
