//! Declaring a delivery: every row it makes, in one transaction.

use hub_domain::BucketKind;
use sqlx::Row;

use super::assets::{asset_from, insert_asset_sql, metadata_text, parse_bucket, parse_metadata, parse_state};
use super::uploads::{bind_upload, insert_upload_sql};
use super::{Asset, Db, Delivery, Dialect, NewAsset, RepoError, RepoResult, Upload, audited, now_ms, with_pool};

/// A package's files recorded per statement.
const MEMBER_BATCH: usize = 25_000;

/// A declaration, made all at once: see [`Db::declare`].
#[derive(Debug, Clone)]
pub struct DeclarePlan {
    pub project_id: i64,
    pub bucket: BucketKind,
    pub user_id: i64,
    /// The client's key for finding this delivery again after a lost answer.
    pub client_key: Option<String>,
    pub files: Vec<DeclaredFile>,
}

/// One declared file: its asset, and either its upload or, for a package, its files.
#[derive(Debug, Clone)]
pub struct DeclaredFile {
    pub asset: NewAsset,
    /// A package: where its files go, and each one's (name, size). They get uploads as they start.
    pub package: Option<(String, Vec<(String, i64)>)>,
    /// The file's tus upload (a single file).
    pub upload: Option<Upload>,
}

impl Db {
    /// Records a declared delivery in one transaction: the delivery (with the client's key), each
    /// file's asset as the next version of its name, a package's files, each upload, and a history
    /// line per file. A crash leaves all of it or none of it. When another declaration of one of
    /// the names takes the same version number first, the whole declaration is tried again.
    pub async fn declare(&self, plan: &DeclarePlan) -> RepoResult<Delivery> {
        for _attempt in 0..3 {
            match self.declare_once(plan).await {
                Err(RepoError::Conflict(_)) => continue,
                other => return other,
            }
        }
        Err(RepoError::Conflict("these files are being delivered by someone else right now; try again".into()))
    }

    async fn declare_once(&self, plan: &DeclarePlan) -> RepoResult<Delivery> {
        let now = now_ms();
        let asset_sql = insert_asset_sql();
        let upload_sql = insert_upload_sql();
        let unpacked = match self.dialect() {
            Dialect::Sqlite => {
                "SELECT json_extract(value, '$[0]') AS name, json_extract(value, '$[1]') AS size, \
                 json_extract(value, '$[2]') AS seq, json_extract(value, '$[3]') AS place FROM json_each($2)"
            }
            Dialect::Postgres => {
                "SELECT j->>0 AS name, CAST(j->>1 AS BIGINT) AS size, CAST(j->>2 AS BIGINT) AS seq, \
                 CAST(j->>3 AS BIGINT) AS place FROM json_array_elements(CAST($2 AS JSON)) AS j"
            }
        };
        let member_sql = format!(
            "INSERT INTO package_members (asset_id, name, size, seq, place) SELECT $1, m.name, m.size, m.seq, m.place FROM ({unpacked}) AS m"
        );
        let history = "INSERT INTO history (project_id, asset_id, request_id, user_id, action, detail, at_ms) \
                       VALUES ($1, $2, NULL, $3, 'delivery_created', $4, $5)";
        let id: i64 = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query(
                "INSERT INTO deliveries (project_id, bucket, created_by, state, created_ms, client_key) \
                 VALUES ($1, $2, $3, 'open', $4, $5) RETURNING id",
            )
            .bind(plan.project_id).bind(plan.bucket.slug()).bind(plan.user_id).bind(now).bind(&plan.client_key)
            .fetch_one(&mut *tx).await?.try_get("id")?;
            for file in &plan.files {
                let new = &file.asset;
                let row = sqlx::query(audited(&asset_sql))
                    .bind(new.project_id).bind(new.bucket.slug()).bind(&new.name).bind(new.state.as_str())
                    .bind(new.size).bind(&new.md5).bind(metadata_text(&new.metadata)).bind(new.request_id)
                    .bind(new.created_by).bind(now)
                    .fetch_one(&mut *tx).await?;
                let asset: Asset = asset_from!(row);
                let (upload_id, detail) = match (&file.package, &file.upload) {
                    (Some((prefix, members)), _) => {
                        sqlx::query("UPDATE assets SET package_files = $1, blob_key = $2 WHERE id = $3")
                            .bind(members.len() as i64).bind(prefix).bind(asset.id).execute(&mut *tx).await?;
                        // Each file's number in the declared order, and where it starts in the
                        // package: streams carry them so. A batch of files is one JSON parameter
                        // the database unpacks (a bound value per column and file made 2,500
                        // statements of a 250,000-file package).
                        let mut place = 0i64;
                        let rows: Vec<(&str, i64, i64, i64)> = members
                            .iter()
                            .enumerate()
                            .map(|(seq, (name, size))| {
                                let row = (name.as_str(), *size, seq as i64, place);
                                place += *size;
                                row
                            })
                            .collect();
                        for batch in rows.chunks(MEMBER_BATCH) {
                            let json = serde_json::to_string(batch).map_err(|e| RepoError::Corrupt(format!("members: {e}")))?;
                            sqlx::query(audited(&member_sql)).bind(asset.id).bind(json).execute(&mut *tx).await?;
                        }
                        let detail = format!("{} v{} ({} files) declared in delivery {id}", asset.name, asset.version, members.len());
                        (String::new(), detail)
                    }
                    (None, Some(upload)) => {
                        bind_upload!(sqlx::query(audited(&upload_sql)), upload)
                            .execute(&mut *tx).await?;
                        (upload.id.clone(), format!("{} v{} declared in delivery {id}", asset.name, asset.version))
                    }
                    (None, None) => {
                        return Err(RepoError::Corrupt(format!("{} is declared with neither an upload nor files", new.name)));
                    }
                };
                sqlx::query("INSERT INTO delivery_files (delivery_id, asset_id, upload_id) VALUES ($1, $2, $3)")
                    .bind(id).bind(asset.id).bind(&upload_id).execute(&mut *tx).await?;
                sqlx::query(history)
                    .bind(plan.project_id).bind(asset.id).bind(plan.user_id).bind(&detail).bind(now)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            id
        });
        self.delivery(id).await
    }
}
