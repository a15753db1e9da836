//! Assets: versions, keyset-paged listing with metadata filters, state changes, history.

use std::collections::BTreeMap;

use hub_domain::{AssetState, BucketKind, HistoryAction, Metadata, RequestState};
use sqlx::Row;

use super::{
    Arg, Asset, AssetQuery, AssetSort, BucketCounts, Db, HistoryEntry, NewAsset, Page, RepoError, RepoResult, audited,
    bind_args, now_ms, with_pool,
};

const ASSET_COLUMNS: &str = "id, project_id, bucket, name, version, state, size, md5, metadata, request_id, \
                             created_by, created_ms, updated_ms, blob_key, original_blob_key, package_files";

/// The most a page may hold.
pub const MAX_PAGE: u32 = 500;

macro_rules! asset_from {
    ($row:expr) => {{
        let bucket: String = $row.try_get("bucket")?;
        let state: String = $row.try_get("state")?;
        let metadata: String = $row.try_get("metadata")?;
        Asset {
            id: $row.try_get("id")?,
            project_id: $row.try_get("project_id")?,
            bucket: parse_bucket(&bucket)?,
            name: $row.try_get("name")?,
            version: $row.try_get("version")?,
            state: parse_state(&state)?,
            size: $row.try_get("size")?,
            md5: $row.try_get("md5")?,
            metadata: parse_metadata(&metadata)?,
            request_id: $row.try_get("request_id")?,
            created_by: $row.try_get("created_by")?,
            created_ms: $row.try_get("created_ms")?,
            updated_ms: $row.try_get("updated_ms")?,
            blob_key: $row.try_get("blob_key")?,
            original_blob_key: $row.try_get("original_blob_key")?,
            package_files: $row.try_get("package_files")?,
        }
    }};
}

pub(super) use asset_from;

/// Inserts an asset as the next version of its name ($1 project, $2 bucket, $3 name, $4 state,
/// $5 size, $6 md5, $7 metadata, $8 request, $9 created by, $10 now), returning it.
pub(super) fn insert_asset_sql() -> String {
    format!(
        "INSERT INTO assets (project_id, bucket, name, version, state, size, md5, metadata, request_id, \
         created_by, created_ms, updated_ms) \
         SELECT $1, $2, $3, COALESCE(MAX(version), 0) + 1, $4, $5, $6, $7, $8, $9, $10, $10 \
         FROM assets WHERE project_id = $1 AND bucket = $2 AND name = $3 RETURNING {ASSET_COLUMNS}"
    )
}

pub(crate) fn parse_bucket(text: &str) -> RepoResult<BucketKind> {
    BucketKind::from_slug(text).ok_or_else(|| RepoError::Corrupt(format!("unknown bucket {text:?}")))
}
pub(super) fn parse_state(text: &str) -> RepoResult<AssetState> {
    AssetState::parse(text).ok_or_else(|| RepoError::Corrupt(format!("unknown asset state {text:?}")))
}
pub(crate) fn parse_metadata(text: &str) -> RepoResult<Metadata> {
    serde_json::from_str(text).map_err(|e| RepoError::Corrupt(format!("metadata: {e}")))
}
pub(crate) fn metadata_text(metadata: &Metadata) -> String {
    serde_json::to_string(metadata).expect("metadata serialises")
}

/// Opaque keyset cursor: the sort key and id of the last row of a page (`api_types::cursor`).
fn encode_cursor(key: &str, id: i64) -> String {
    api_types::cursor::encode(key, id)
}

fn decode_cursor(cursor: &str) -> RepoResult<(String, i64)> {
    api_types::cursor::decode(cursor)
        .ok_or_else(|| RepoError::Conflict("the paging cursor is not valid; start again from the first page".into()))
}

/// Builds a query with numbered parameters; the same text runs on both backends.
struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    fn new(text: &str) -> Self {
        Sql { text: text.to_owned(), args: Vec::new() }
    }
    /// Adds an argument and returns its placeholder number.
    fn arg(&mut self, arg: Arg) -> usize {
        self.args.push(arg);
        self.args.len()
    }
}

impl Db {
    /// Stores a new asset; a second asset of the same name in the same bucket becomes its next version.
    pub async fn create_asset(&self, new: &NewAsset) -> RepoResult<Asset> {
        for _attempt in 0..3 {
            let now = now_ms();
            let sql = insert_asset_sql();
            let result: RepoResult<Asset> = async {
                with_pool!(self, pool => {
                    let row = sqlx::query(audited(&sql))
                        .bind(new.project_id)
                        .bind(new.bucket.slug())
                        .bind(&new.name)
                        .bind(new.state.as_str())
                        .bind(new.size)
                        .bind(&new.md5)
                        .bind(metadata_text(&new.metadata))
                        .bind(new.request_id)
                        .bind(new.created_by)
                        .bind(now)
                        .fetch_one(pool)
                        .await?;
                    Ok(asset_from!(row))
                })
            }
            .await;
            match result {
                // Another delivery of the same name took this version number first: take the next.
                Err(RepoError::Conflict(_)) => continue,
                other => return other,
            }
        }
        Err(RepoError::Conflict(format!("{} is being delivered by someone else right now; try again", new.name)))
    }

    pub async fn asset(&self, id: i64) -> RepoResult<Asset> {
        let sql = format!("SELECT {ASSET_COLUMNS} FROM assets WHERE id = $1");
        with_pool!(self, pool => {
            let row = sqlx::query(audited(&sql)).bind(id).fetch_one(pool).await?;
            Ok(asset_from!(row))
        })
    }

    /// One page of a bucket's assets, filtered and sorted, keyset-paged on (sort key, id).
    pub async fn list_assets(
        &self,
        project_id: i64,
        bucket: BucketKind,
        query: &AssetQuery,
    ) -> RepoResult<Page<Asset>> {
        let dialect = self.dialect();
        let limit = query.limit.clamp(1, MAX_PAGE);
        let mut sql = Sql::new(&format!("SELECT {ASSET_COLUMNS} FROM assets WHERE project_id = $1 AND bucket = $2"));
        sql.arg(Arg::I64(project_id));
        sql.arg(Arg::Text(bucket.slug().to_owned()));
        if let Some(state) = query.state {
            let n = sql.arg(Arg::Text(state.as_str().to_owned()));
            sql.text += &format!(" AND state = ${n}");
        }
        if let Some(text) = query.name_contains.as_deref().filter(|t| !t.is_empty()) {
            let n = sql.arg(Arg::Text(text.to_owned()));
            sql.text += &format!(" AND {}", dialect.contains("name", n));
        }
        for (field, value) in &query.fields {
            if !bucket.field(field).is_some_and(|f| f.filterable) {
                return Err(RepoError::Conflict(format!("{field} is not a filterable field of {}", bucket.title())));
            }
            let v = sql.arg(Arg::Text(value.clone()));
            sql.text += &format!(" AND {} = ${v}", dialect.meta_text(field));
        }
        let (key_column, cmp, order) = match (query.sort, query.descending) {
            (AssetSort::Name, false) => ("name", ">", "ASC"),
            (AssetSort::Name, true) => ("name", "<", "DESC"),
            (AssetSort::Updated, false) => ("updated_ms", ">", "ASC"),
            (AssetSort::Updated, true) => ("updated_ms", "<", "DESC"),
        };
        if let Some(cursor) = &query.after {
            let (key, id) = decode_cursor(cursor)?;
            let key_arg = match query.sort {
                AssetSort::Name => Arg::Text(key),
                AssetSort::Updated => Arg::I64(key.parse().map_err(|_| decode_cursor("x").unwrap_err())?),
            };
            let k = sql.arg(key_arg);
            let i = sql.arg(Arg::I64(id));
            sql.text += &format!(" AND ({key_column} {cmp} ${k} OR ({key_column} = ${k} AND id {cmp} ${i}))");
        }
        let n = sql.arg(Arg::I64(i64::from(limit) + 1));
        sql.text += &format!(" ORDER BY {key_column} {order}, id {order} LIMIT ${n}");
        let mut items: Vec<Asset> = with_pool!(self, pool => {
            let rows = bind_args!(sqlx::query(audited(&sql.text)), sql.args).fetch_all(pool).await?;
            let mut items = Vec::with_capacity(rows.len());
            for row in &rows {
                items.push(asset_from!(row));
            }
            items
        });
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|last| match query.sort {
                AssetSort::Name => encode_cursor(&last.name, last.id),
                AssetSort::Updated => encode_cursor(&last.updated_ms.to_string(), last.id),
            })
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// Replaces an asset's metadata (already validated against its bucket's schema).
    pub async fn set_asset_metadata(&self, id: i64, metadata: &Metadata) -> RepoResult<()> {
        let n = with_pool!(self, pool => sqlx::query("UPDATE assets SET metadata = $1, updated_ms = $2 WHERE id = $3")
            .bind(metadata_text(metadata)).bind(now_ms()).bind(id).execute(pool).await?.rows_affected());
        if n == 0 { Err(RepoError::NotFound) } else { Ok(()) }
    }

    /// Moves an asset from `from` to `to` only if it is still in `from` (the caller decided the
    /// transition with `AssetState::next`); a concurrent change is a conflict, not a lost update.
    pub async fn transition_asset(&self, id: i64, from: AssetState, to: AssetState) -> RepoResult<()> {
        let n = with_pool!(self, pool => sqlx::query("UPDATE assets SET state = $1, updated_ms = $2 WHERE id = $3 AND state = $4")
            .bind(to.as_str()).bind(now_ms()).bind(id).bind(from.as_str()).execute(pool).await?.rows_affected());
        if n == 1 {
            return Ok(());
        }
        let current = self.asset(id).await?;
        Err(RepoError::Conflict(format!("the asset is {} now, not {from}", current.state)))
    }

    /// Records where an asset's bytes are once its transfer is complete.
    pub async fn set_asset_blob(&self, id: i64, blob_key: &str) -> RepoResult<()> {
        let n = with_pool!(self, pool => sqlx::query("UPDATE assets SET blob_key = $1 WHERE id = $2")
            .bind(blob_key).bind(id).execute(pool).await?.rows_affected());
        if n == 0 { Err(RepoError::NotFound) } else { Ok(()) }
    }

    /// Every version of the asset named `name` in a bucket, newest first.
    pub async fn asset_versions(&self, project_id: i64, bucket: BucketKind, name: &str) -> RepoResult<Vec<Asset>> {
        let sql = format!(
            "SELECT {ASSET_COLUMNS} FROM assets WHERE project_id = $1 AND bucket = $2 AND name = $3 ORDER BY version DESC LIMIT 100"
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(audited(&sql)).bind(project_id).bind(bucket.slug()).bind(name).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(asset_from!(row));
            }
            Ok(out)
        })
    }

    pub async fn delete_asset(&self, id: i64) -> RepoResult<()> {
        let n = with_pool!(self, pool => sqlx::query("DELETE FROM assets WHERE id = $1").bind(id).execute(pool).await?.rows_affected());
        if n == 0 { Err(RepoError::NotFound) } else { Ok(()) }
    }

    /// Per bucket of the project: asset counts per state, and open requests.
    pub async fn bucket_counts(&self, project_id: i64) -> RepoResult<Vec<BucketCounts>> {
        let mut counts: BTreeMap<BucketKind, BucketCounts> = BucketKind::ALL
            .into_iter()
            .map(|b| {
                let zero = AssetState::ALL.into_iter().map(|s| (s.as_str().to_owned(), 0)).collect();
                (b, BucketCounts { bucket: b, counts: zero, open_requests: 0 })
            })
            .collect();
        let rows: Vec<(String, String, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT bucket, state, COUNT(*) FROM assets WHERE project_id = $1 GROUP BY bucket, state",
        ).bind(project_id).fetch_all(pool).await?);
        for (bucket, state, n) in rows {
            let entry = counts.get_mut(&super::assets::parse_bucket(&bucket)?).expect("every bucket is listed");
            entry.counts.insert(parse_state(&state)?.as_str().to_owned(), n);
        }
        let open: Vec<(String, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT bucket, COUNT(*) FROM requests WHERE project_id = $1 AND state IN ($2, $3) GROUP BY bucket",
        ).bind(project_id).bind(RequestState::Open.as_str()).bind(RequestState::Redelivery.as_str()).fetch_all(pool).await?);
        for (bucket, n) in open {
            counts.get_mut(&parse_bucket(&bucket)?).expect("every bucket is listed").open_requests = n;
        }
        Ok(counts.into_values().collect())
    }

    /// Records who did what to an asset or request.
    pub async fn add_history(
        &self,
        project_id: i64,
        asset_id: Option<i64>,
        request_id: Option<i64>,
        user_id: Option<i64>,
        action: HistoryAction,
        detail: &str,
    ) -> RepoResult<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO history (project_id, asset_id, request_id, user_id, action, detail, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        ).bind(project_id).bind(asset_id).bind(request_id).bind(user_id).bind(action.as_str()).bind(detail).bind(now_ms()).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// How many history lines of `action` an asset has (to bound what a noisy upload may log).
    pub async fn count_history(&self, asset_id: i64, action: HistoryAction) -> RepoResult<i64> {
        Ok(with_pool!(self, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM history WHERE asset_id = $1 AND action = $2",
        ).bind(asset_id).bind(action.as_str()).fetch_one(pool).await?))
    }

    /// An asset's or a request's history, oldest first.
    pub async fn history(&self, asset_id: Option<i64>, request_id: Option<i64>) -> RepoResult<Vec<HistoryEntry>> {
        let sql = format!("{HISTORY_SELECT} WHERE h.asset_id = $1 OR h.request_id = $2 ORDER BY h.id");
        with_pool!(self, pool => {
            let rows = sqlx::query(audited(&sql)).bind(asset_id.unwrap_or(-1)).bind(request_id.unwrap_or(-1)).fetch_all(pool).await?;
            rows.iter().map(history_entry).collect()
        })
    }

    /// The histories of many assets at once, oldest first (each entry names its asset).
    pub async fn assets_history(&self, asset_ids: &[i64]) -> RepoResult<Vec<HistoryEntry>> {
        let mut entries = Vec::new();
        // Well under the bound-value limits of SQLite and PostgreSQL.
        for batch in asset_ids.chunks(500) {
            let marks: Vec<String> = (1..=batch.len()).map(|i| format!("${i}")).collect();
            let sql = format!("{HISTORY_SELECT} WHERE h.asset_id IN ({}) ORDER BY h.id", marks.join(", "));
            with_pool!(self, pool => {
                let mut query = sqlx::query(audited(&sql));
                for id in batch {
                    query = query.bind(*id);
                }
                for row in &query.fetch_all(pool).await? {
                    entries.push(history_entry(row)?);
                }
            });
        }
        entries.sort_by_key(|e| e.id);
        Ok(entries)
    }
}

const HISTORY_SELECT: &str = "SELECT h.id, h.asset_id, h.request_id, h.user_id, u.username, h.action, h.detail, h.at_ms \
                              FROM history h LEFT JOIN users u ON u.id = h.user_id";

fn history_entry<R: Row>(row: &R) -> RepoResult<HistoryEntry>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(HistoryEntry {
        id: row.try_get("id")?,
        asset_id: row.try_get("asset_id")?,
        request_id: row.try_get("request_id")?,
        user_id: row.try_get("user_id")?,
        username: row.try_get("username")?,
        action: {
            let action: String = row.try_get("action")?;
            HistoryAction::parse(&action)
                .ok_or_else(|| RepoError::Corrupt(format!("unknown history action {action:?}")))?
        },
        detail: row.try_get("detail")?,
        at_ms: row.try_get("at_ms")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = encode_cursor("shot 010.dpx", 42);
        assert_eq!(decode_cursor(&c).unwrap(), ("shot 010.dpx".to_owned(), 42));
        // Not hex, odd, empty, no separator, and text whose byte 2 is inside a character.
        for bad in ["zz", "abc", "", "00", "aé", "éa", "€€"] {
            let err = decode_cursor(bad).unwrap_err();
            assert!(matches!(&err, RepoError::Conflict(m) if m.contains("cursor is not valid")), "{bad}: {err}");
        }
    }
}
