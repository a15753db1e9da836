//! Zipless packages: the member files of a package asset, in declared order. Each travels in a
//! stream (a tus upload carrying a run of files back to back, see ARCHITECTURE.md) or, for
//! packages declared before streams, in an upload of its own.

use sqlx::Row;

pub use api_types::{PackageFile, PackageMember};
use serde::{Deserialize, Serialize};

/// Where one file of a package is kept: a range of its stream's blob, or (stream `None`) a blob
/// of its own under the package's prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackedMember {
    pub name: String,
    pub size: i64,
    /// The upload of the stream that carried it, which names the stream's blob.
    pub stream: Option<String>,
    /// Where the file starts in its stream.
    pub offset: i64,
    /// Its CRC-32, once validation read it.
    #[serde(default)]
    pub crc32: Option<u32>,
}

impl PackedMember {
    /// The blob that holds this file, under the package's `prefix`.
    pub fn key(&self, prefix: &str) -> String {
        match &self.stream {
            Some(upload) => stream_key(prefix, upload),
            None => format!("{prefix}/{}", self.name),
        }
    }
}

/// Bytes per file of a package's recorded digests: read or not, md5, CRC-32.
const DIGEST_RECORD: usize = 21;

/// What validation read of each file of a package, in the package's order (as
/// [`Db::package_layout`] lists them): per file, whether it was read, its md5 and its CRC-32, in
/// the form `package_digests` keeps (21 bytes a file). Travels from the validation child as one
/// base64 string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageDigests(Vec<u8>);

impl PackageDigests {
    /// `files` files, none read yet.
    pub fn new(files: usize) -> PackageDigests {
        PackageDigests(vec![0; files * DIGEST_RECORD])
    }

    pub fn len(&self) -> usize {
        self.0.len() / DIGEST_RECORD
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// What file `i` read.
    pub fn set(&mut self, i: usize, md5: [u8; 16], crc32: u32) {
        let record = &mut self.0[i * DIGEST_RECORD..(i + 1) * DIGEST_RECORD];
        record[0] = 1;
        record[1..17].copy_from_slice(&md5);
        record[17..].copy_from_slice(&crc32.to_be_bytes());
    }

    /// How many files were read.
    pub fn count_read(&self) -> usize {
        self.0.chunks_exact(DIGEST_RECORD).filter(|record| record[0] == 1).count()
    }

    /// What file `i` read, if it was read.
    pub fn get(&self, i: usize) -> Option<([u8; 16], u32)> {
        let record = self.0.get(i * DIGEST_RECORD..(i + 1) * DIGEST_RECORD)?;
        let md5 = record[1..17].try_into().expect("16 bytes");
        (record[0] == 1).then(|| (md5, u32::from_be_bytes(record[17..].try_into().expect("4 bytes"))))
    }

    /// Takes every file `other` read, as files `at..` of these (those past the end are left out).
    pub fn merge_at(&mut self, at: usize, other: &PackageDigests) {
        for i in 0..other.len() {
            if let Some((md5, crc32)) = other.get(i)
                && at + i < self.len()
            {
                self.set(at + i, md5, crc32);
            }
        }
    }

    /// Records as kept, or `None` if they are not whole records.
    fn from_bytes(bytes: Vec<u8>) -> Option<PackageDigests> {
        bytes.len().is_multiple_of(DIGEST_RECORD).then_some(PackageDigests(bytes))
    }
}

impl FromIterator<Option<([u8; 16], u32)>> for PackageDigests {
    fn from_iter<I: IntoIterator<Item = Option<([u8; 16], u32)>>>(files: I) -> PackageDigests {
        let mut digests = PackageDigests::default();
        for file in files {
            digests.0.extend_from_slice(&[0; DIGEST_RECORD]);
            if let Some((md5, crc32)) = file {
                digests.set(digests.len() - 1, md5, crc32);
            }
        }
        digests
    }
}

impl Serialize for PackageDigests {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use base64::Engine;
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for PackageDigests {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<PackageDigests, D::Error> {
        use base64::Engine;
        let text = String::deserialize(deserializer)?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(text).map_err(serde::de::Error::custom)?;
        PackageDigests::from_bytes(bytes).ok_or_else(|| serde::de::Error::custom("package digests are 21 bytes a file"))
    }
}

/// The blob of a package's stream carried by `upload`: beside the package's prefix, not under
/// it, so that no file name can collide with it.
pub fn stream_key(prefix: &str, upload: &str) -> String {
    format!("{prefix}-stream-{upload}")
}

use super::{Db, Dialect, RepoError, RepoResult, audited, with_pool};

/// The files a package stream carries, as the hub cuts the stream's bytes into them: the package,
/// the first file's place in it (`seq`) and each file's size, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRun {
    pub asset_id: i64,
    pub first: i64,
    pub sizes: Vec<u64>,
}

/// A file's row of the layout: name, size, its stream's upload, offset in it, CRC-32.
type LayoutRow = (String, i64, Option<String>, i64, Option<i64>);

impl Db {
    /// A member's size and upload, if the package has a file of that name.
    pub async fn package_member(&self, asset_id: i64, name: &str) -> RepoResult<Option<(i64, Option<String>)>> {
        Ok(with_pool!(self, pool => sqlx::query_as(
            "SELECT size, upload_id FROM package_members WHERE asset_id = $1 AND name = $2",
        ).bind(asset_id).bind(name).fetch_optional(pool).await?))
    }

    /// Records the upload that carries a member's bytes.
    pub async fn bind_member_upload(&self, asset_id: i64, name: &str, upload_id: &str) -> RepoResult<()> {
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE package_members SET upload_id = $1 WHERE asset_id = $2 AND name = $3",
        ).bind(upload_id).bind(asset_id).bind(name).execute(pool).await?.rows_affected());
        if n == 1 { Ok(()) } else { Err(RepoError::NotFound) }
    }

    /// Files `first..=last` (in declared order) of a package: how many there are, their bytes, and
    /// how many already travel in an upload that still exists.
    pub async fn member_run(&self, asset_id: i64, first: i64, last: i64) -> RepoResult<(i64, i64, i64)> {
        let row: (i64, Option<i64>, i64) = with_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*), CAST(SUM(m.size) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN u.id IS NULL THEN 0 ELSE 1 END), 0) AS BIGINT) \
             FROM package_members m LEFT JOIN uploads u ON u.id = m.upload_id \
             WHERE m.asset_id = $1 AND m.seq BETWEEN $2 AND $3",
        ).bind(asset_id).bind(first).bind(last).fetch_one(pool).await?);
        Ok((row.0, row.1.unwrap_or(0), row.2))
    }

    /// Binds files `first..=last` of a package to the stream upload that carries them, each at its
    /// offset in the stream (the sizes of the files before it in the run), in one statement. All
    /// or none: if another upload took one of them meanwhile, nothing changes (a conflict).
    pub async fn bind_stream(&self, asset_id: i64, first: i64, last: i64, upload_id: &str) -> RepoResult<()> {
        // Each file's offset in the stream is where it starts in the package less where the
        // stream's first file does; one indexed range of rows.
        let sql = "UPDATE package_members SET upload_id = $1, stream = $3, complete = 0, \
                   stream_offset = place - (SELECT f.place FROM package_members f WHERE f.asset_id = $2 AND f.seq = $3) \
                   WHERE asset_id = $2 AND seq BETWEEN $3 AND $4 \
                     AND (upload_id IS NULL OR NOT EXISTS (SELECT 1 FROM uploads u WHERE u.id = package_members.upload_id))";
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(audited(sql)).bind(upload_id).bind(asset_id).bind(first).bind(last)
                .execute(&mut *tx).await?.rows_affected();
            if n != (last - first + 1) as u64 {
                tx.rollback().await?;
                return Err(RepoError::Conflict(format!(
                    "files {first} to {last} of this package are not all free: another upload carries some of them"
                )));
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records what validation read of a package's files, in the package's order: one value for
    /// the whole package, replacing what an earlier validation recorded.
    pub async fn record_member_digests(&self, asset_id: i64, digests: &PackageDigests) -> RepoResult<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO package_digests (asset_id, digests) VALUES ($1, $2) \
             ON CONFLICT (asset_id) DO UPDATE SET digests = excluded.digests")
            .bind(asset_id).bind(&digests.0).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// Where every file of a package is, in declared order, for validation and downloads, with
    /// the CRC-32 validation read of each. Read as one JSON array the database builds (row by
    /// row, sqlx took 0.84 s for 250,000 files on SQLite; the array takes a quarter of that).
    pub async fn package_layout(&self, asset_id: i64) -> RepoResult<Vec<PackedMember>> {
        let sql = match self.dialect() {
            Dialect::Sqlite => {
                "SELECT json_group_array(json_array(name, size, CASE WHEN stream IS NULL THEN NULL ELSE upload_id END, \
                 stream_offset, crc32) ORDER BY seq, name), \
                 (SELECT digests FROM package_digests WHERE asset_id = $1) FROM package_members WHERE asset_id = $1"
            }
            Dialect::Postgres => {
                "SELECT CAST(COALESCE(json_agg(json_build_array(name, size, CASE WHEN stream IS NULL THEN NULL ELSE upload_id END, \
                 stream_offset, crc32) ORDER BY seq, name), '[]') AS TEXT), \
                 (SELECT digests FROM package_digests WHERE asset_id = $1) FROM package_members WHERE asset_id = $1"
            }
        };
        let (text, digests): (String, Option<Vec<u8>>) =
            with_pool!(self, pool => sqlx::query_as(sql).bind(asset_id).fetch_one(pool).await?);
        let rows: Vec<LayoutRow> =
            serde_json::from_str(&text).map_err(|e| RepoError::Corrupt(format!("a package's layout: {e}")))?;
        let mut layout: Vec<PackedMember> = rows
            .into_iter()
            .map(|(name, size, stream, offset, crc32)| PackedMember {
                name,
                size,
                stream,
                offset,
                crc32: crc32.map(|c| c as u32),
            })
            .collect();
        // Recorded for this very list of files, or not at all (then the rows' own, from before).
        if let Some(digests) = digests.and_then(PackageDigests::from_bytes).filter(|d| d.len() == layout.len()) {
            for (i, member) in layout.iter_mut().enumerate() {
                member.crc32 = digests.get(i).map(|(_, crc32)| crc32);
            }
        }
        Ok(layout)
    }

    /// Marks the files carried by `upload_id` complete (nothing if it carries none).
    pub async fn complete_member(&self, upload_id: &str) -> RepoResult<()> {
        with_pool!(self, pool => sqlx::query("UPDATE package_members SET complete = 1 WHERE upload_id = $1")
            .bind(upload_id).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// The upload of a package file was terminated or expired: the file needs a new one, and
    /// what was read of the upload's bytes as they arrived goes with it.
    pub async fn unbind_member(&self, upload_id: &str) -> RepoResult<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE package_members SET complete = 0, upload_id = NULL WHERE upload_id = $1")
                .bind(upload_id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM arrival_digests WHERE upload_id = $1").bind(upload_id).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The files the package stream `upload_id` carries, or `None` if it is not a stream. Sizes
    /// come as one JSON array the database builds (a stream may carry tens of thousands).
    pub async fn stream_run(&self, upload_id: &str) -> RepoResult<Option<StreamRun>> {
        let sql = match self.dialect() {
            Dialect::Sqlite => {
                "SELECT MIN(asset_id), MIN(seq), json_group_array(size ORDER BY seq) \
                 FROM package_members WHERE upload_id = $1 AND stream IS NOT NULL"
            }
            Dialect::Postgres => {
                "SELECT MIN(asset_id), MIN(seq), CAST(COALESCE(json_agg(size ORDER BY seq), '[]') AS TEXT) \
                 FROM package_members WHERE upload_id = $1 AND stream IS NOT NULL"
            }
        };
        let (asset_id, first, sizes): (Option<i64>, Option<i64>, String) =
            with_pool!(self, pool => sqlx::query_as(sql).bind(upload_id).fetch_one(pool).await?);
        let (Some(asset_id), Some(first)) = (asset_id, first) else { return Ok(None) };
        let sizes: Vec<u64> =
            serde_json::from_str(&sizes).map_err(|e| RepoError::Corrupt(format!("a stream's file sizes: {e}")))?;
        Ok(Some(StreamRun { asset_id, first, sizes }))
    }

    /// Records what a PATCH read of the files of stream `upload_id` it carried whole: `digests`
    /// are files `first..` of the package (by seq), the last of them ending at `upto` in the
    /// stream.
    pub async fn record_arrivals(
        &self,
        asset_id: i64,
        upload_id: &str,
        first: i64,
        upto: i64,
        digests: &PackageDigests,
    ) -> RepoResult<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO arrival_digests (asset_id, upload_id, first, upto, digests) VALUES ($1, $2, $3, $4, $5)")
            .bind(asset_id).bind(upload_id).bind(first).bind(upto).bind(&digests.0).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// Stream `upload_id` now holds only its first `held` bytes: what was read of files that end
    /// past them no longer says what the stream holds (its rows go whole).
    pub async fn drop_arrivals(&self, upload_id: &str, held: i64) -> RepoResult<()> {
        with_pool!(self, pool => sqlx::query("DELETE FROM arrival_digests WHERE upload_id = $1 AND upto > $2")
            .bind(upload_id).bind(held).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// What was read of a package's `files` files as they arrived, in the package's order; only
    /// from streams that still carry them.
    pub async fn arrivals(&self, asset_id: i64, files: usize) -> RepoResult<PackageDigests> {
        let rows: Vec<(i64, Vec<u8>)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT a.first, a.digests FROM arrival_digests a JOIN package_members m \
               ON m.asset_id = a.asset_id AND m.seq = a.first AND m.upload_id = a.upload_id \
             WHERE a.asset_id = $1")
            .bind(asset_id).fetch_all(pool).await?);
        let mut all = PackageDigests::new(files);
        for (first, digests) in rows {
            let digests = PackageDigests::from_bytes(digests)
                .ok_or_else(|| RepoError::Corrupt("a package's arrival digests are not whole records".into()))?;
            all.merge_at(first.max(0) as usize, &digests);
        }
        Ok(all)
    }

    /// Records every file of a validated package as validation found it, replacing what an
    /// earlier validation recorded: one JSON array, sorted by name.
    pub async fn record_package_files(&self, asset_id: i64, files: &[PackageFile]) -> RepoResult<()> {
        let rows: Vec<(&str, i64, Option<&str>, bool, &str)> =
            files.iter().map(|f| (f.name.as_str(), f.size, f.md5.as_deref(), f.ok, f.result.as_str())).collect();
        let text = serde_json::to_string(&rows).map_err(|e| RepoError::Corrupt(format!("a package's files: {e}")))?;
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO package_files (asset_id, files) VALUES ($1, $2) \
             ON CONFLICT (asset_id) DO UPDATE SET files = excluded.files")
            .bind(asset_id).bind(&text).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// A page of a validated package's files by name, after `after`, and how many it has in all;
    /// `None` if no validation listed them.
    pub async fn package_files(
        &self,
        asset_id: i64,
        after: &str,
        limit: usize,
    ) -> RepoResult<Option<(Vec<PackageFile>, usize)>> {
        let text: Option<String> = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT files FROM package_files WHERE asset_id = $1").bind(asset_id).fetch_optional(pool).await?);
        let Some(text) = text else { return Ok(None) };
        let rows: Vec<(String, i64, Option<String>, bool, String)> =
            serde_json::from_str(&text).map_err(|e| RepoError::Corrupt(format!("a package's files: {e}")))?;
        let total = rows.len();
        let start = rows.partition_point(|row| row.0.as_str() <= after);
        let page = rows
            .into_iter()
            .skip(start)
            .take(limit)
            .map(|(name, size, md5, ok, result)| PackageFile { name, size, md5, ok, result })
            .collect();
        Ok(Some((page, total)))
    }

    /// A package's first validation is done: what was read as it arrived has served.
    pub async fn forget_arrivals(&self, asset_id: i64) -> RepoResult<()> {
        with_pool!(self, pool => sqlx::query("DELETE FROM arrival_digests WHERE asset_id = $1")
            .bind(asset_id).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// How many of a package's files are not fully uploaded yet.
    pub async fn incomplete_members(&self, asset_id: i64) -> RepoResult<i64> {
        Ok(with_pool!(self, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM package_members WHERE asset_id = $1 AND complete = 0",
        ).bind(asset_id).fetch_one(pool).await?))
    }

    /// A page of a package's files by name, after `after`; only the incomplete ones if asked.
    pub async fn package_members(
        &self,
        asset_id: i64,
        after: &str,
        limit: i64,
        incomplete_only: bool,
    ) -> RepoResult<Vec<PackageMember>> {
        let sql = format!(
            "SELECT m.name, m.size, m.upload_id, m.complete, m.stream_offset, u.upload_offset FROM package_members m \
             LEFT JOIN uploads u ON u.id = m.upload_id \
             WHERE m.asset_id = $1 AND m.name > $2 {} ORDER BY m.name LIMIT $3",
            if incomplete_only { "AND m.complete = 0" } else { "" }
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(audited(&sql)).bind(asset_id).bind(after).bind(limit).fetch_all(pool).await?;
            let mut members = Vec::with_capacity(rows.len());
            for row in &rows {
                let upload: Option<String> = row.try_get("upload_id")?;
                let complete: i64 = row.try_get("complete")?;
                let size: i64 = row.try_get("size")?;
                let offset: Option<i64> = row.try_get("upload_offset")?;
                let start: i64 = row.try_get("stream_offset")?;
                members.push(PackageMember {
                    name: row.try_get("name")?,
                    size,
                    upload: upload.map(|id| format!("/api/v1/uploads/{id}")),
                    // In a stream, the bytes of it the stream's offset has passed.
                    offset: if complete != 0 { size } else { (offset.unwrap_or(0) - start).clamp(0, size) },
                    complete: complete != 0,
                });
            }
            Ok(members)
        })
    }
}
