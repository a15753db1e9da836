//! Projects as a member sees them.

use super::{AppResult, Hub};
use crate::db::{BucketCounts, Member};

/// The buckets' counts a member may see (all of them for managers and site admins).
pub async fn visible_counts(state: &Hub, project_id: i64, member: Option<&Member>) -> AppResult<Vec<BucketCounts>> {
    let mut counts = state.db.bucket_counts(project_id).await?;
    if let Some(member) = member {
        counts.retain(|c| member.membership().sees_bucket(c.bucket));
    }
    Ok(counts)
}
