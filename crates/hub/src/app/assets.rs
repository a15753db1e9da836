//! Reading a bucket: which bucket a slug names and the listing query its parameters ask for, each
//! checked against the bucket's schema. Shared by the API's listing and the bucket page. And
//! asking for an asset's validation again.

use hub_domain::{AssetEvent, AssetState, BucketKind, HistoryAction};

use super::access::Caller;
use super::{AppError, AppResult, Hub};
use crate::db::{Asset, AssetQuery, AssetSort, JobKind};

/// Validates a Valid or Invalid `asset` again (the caller may manage its bucket): Delivered, and
/// queued for the workers (this process's idle ones woken). The validation reads every byte
/// back from the store, and the asset's history says who asked.
pub async fn revalidate(hub: &Hub, caller: &Caller, asset: &Asset) -> AppResult<Asset> {
    let next = asset.state.next(AssetEvent::Revalidate)?;
    hub.db.transition_asset(asset.id, asset.state, next).await?;
    hub.db.enqueue_job(JobKind::Validate, asset.id).await?;
    hub.jobs_queued.notify_one();
    let detail = "validation asked for again";
    hub.db
        .add_history(asset.project_id, Some(asset.id), None, Some(caller.user.id), HistoryAction::Revalidate, detail)
        .await?;
    Ok(hub.db.asset(asset.id).await?)
}

/// The bucket a URL names; an unknown one is not found.
pub fn bucket(slug: &str) -> AppResult<BucketKind> {
    BucketKind::from_slug(slug).ok_or_else(AppError::not_found)
}

/// The listing query from `state`, `q`, `sort`, `order`, `after`, `limit` and `meta.FIELD`
/// parameters, each checked against the bucket's schema.
pub fn asset_query(bucket: BucketKind, params: Vec<(String, String)>) -> AppResult<AssetQuery> {
    let mut query = AssetQuery { limit: 100, ..AssetQuery::default() };
    for (key, value) in params {
        match key.as_str() {
            "state" if !value.is_empty() => {
                query.state = Some(AssetState::parse(&value).ok_or_else(|| {
                    let states: Vec<_> = AssetState::ALL.iter().map(|s| s.as_str()).collect();
                    AppError::bad_request(format!("state {value:?} is not one of {}", states.join(", ")))
                })?)
            }
            "state" => {}
            "q" => query.name_contains = Some(value),
            "sort" => {
                query.sort = match value.as_str() {
                    "name" => AssetSort::Name,
                    "updated" => AssetSort::Updated,
                    _ => return Err(AppError::bad_request("sort is `name` or `updated`")),
                }
            }
            "order" => query.descending = value == "desc",
            "after" => query.after = Some(value).filter(|v| !v.is_empty()),
            "limit" => {
                query.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=500).contains(n))
                    .ok_or_else(|| AppError::bad_request("limit is a number from 1 to 500"))?
            }
            _ => match key.strip_prefix("meta.") {
                Some(field) if bucket.field(field).is_some_and(|f| f.filterable) => {
                    if !value.is_empty() {
                        query.fields.push((field.to_owned(), value));
                    }
                }
                _ => {
                    let filterable: Vec<String> =
                        bucket.schema().iter().filter(|f| f.filterable).map(|f| format!("meta.{}", f.key)).collect();
                    return Err(AppError::bad_request(format!(
                        "unknown filter {key:?}; {} filters on state, q, sort, order, after, limit, {}",
                        bucket.title(),
                        filterable.join(", ")
                    )));
                }
            },
        }
    }
    if query.fields.len() > 8 {
        return Err(AppError::bad_request("at most 8 metadata filters at once"));
    }
    Ok(query)
}
