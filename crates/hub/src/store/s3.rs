//! Any S3-compatible store (AWS S3, MinIO, Ceph RGW, Garage, s3s) through `object_store`.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::resumable::memory_for;
use super::{BlobKey, BlobStore, PartRef, StoreError, StoreResult, check_range};

/// Where and how to reach the store. The secret is never printed (see `Debug`); it is serialised
/// only to hand the settings to a validation child through a pipe.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct S3Settings {
    pub bucket: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// `http://host/bucket/key` rather than `http://bucket.host/key`; what self-hosted stores want.
    pub path_style: bool,
    /// Keys are stored under this folder of the bucket (`s3://BUCKET/PREFIX`), so that several hubs
    /// (or test runs) can share one bucket. Empty: the bucket's root.
    pub prefix: String,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "***"))
            .field("path_style", &self.path_style)
            .field("prefix", &self.prefix)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct S3Store {
    store: Arc<AmazonS3>,
    settings: S3Settings,
}

/// Parts of a streamed put; S3's minimum part size is 5 MiB.
const STREAM_PART: usize = 8 << 20;

fn backend(e: object_store::Error) -> StoreError {
    match e {
        object_store::Error::NotFound { path, .. } => StoreError::NotFound(path),
        other => StoreError::Backend(other.to_string()),
    }
}

impl S3Store {
    pub fn new(mut settings: S3Settings) -> StoreResult<S3Store> {
        let prefix = settings.prefix.trim_matches('/').to_owned();
        if !prefix.is_empty() {
            BlobKey::new(prefix.clone())?;
            settings.prefix = format!("{prefix}/");
        } else {
            settings.prefix = String::new();
        }
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(settings.region.clone().unwrap_or_else(|| "us-east-1".into()))
            .with_virtual_hosted_style_request(!settings.path_style);
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
        }
        if let (Some(id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            builder = builder.with_access_key_id(id).with_secret_access_key(secret);
        }
        let store = builder.build().map_err(backend)?;
        Ok(S3Store { store: Arc::new(store), settings })
    }

    fn path(&self, key: &BlobKey) -> Path {
        Path::from(format!("{}{}", self.settings.prefix, key.as_str()))
    }
}

#[async_trait]
impl BlobStore for S3Store {
    fn spec(&self) -> Option<super::StoreSpec> {
        Some(super::StoreSpec::S3(self.settings.clone()))
    }

    fn describe(&self) -> String {
        let url = format!("s3://{}", self.settings.bucket);
        let url = if self.settings.prefix.is_empty() { url } else { format!("{url}/{}", self.settings.prefix) };
        match &self.settings.endpoint {
            Some(endpoint) => format!("{url} at {endpoint}"),
            None => url,
        }
    }

    /// Parts of 8 MiB, one at a time, each in memory only with its share of the process's
    /// transfer budget (`resumable::PART_MEMORY`).
    async fn put_stream(&self, key: &BlobKey, reader: &mut (dyn AsyncRead + Unpin + Send)) -> StoreResult<u64> {
        let mut total = 0u64;
        let mut multipart: Option<(String, Vec<PartRef>)> = None;
        let result = async {
            loop {
                let memory = memory_for(STREAM_PART as u64).await;
                let mut buf = Vec::with_capacity(STREAM_PART);
                (&mut *reader).take(STREAM_PART as u64).read_to_end(&mut buf).await?;
                let last = buf.len() < STREAM_PART;
                total += buf.len() as u64;
                match &mut multipart {
                    None if last => {
                        self.store.put(&self.path(key), PutPayload::from(buf)).await.map_err(backend)?;
                        return Ok(());
                    }
                    None => {
                        let id = self.create_multipart(key).await?;
                        let part = self.put_part(key, &id, 0, Bytes::from(buf)).await;
                        multipart = Some((id, Vec::new()));
                        multipart.as_mut().expect("just set").1.push(part?);
                    }
                    Some((id, parts)) => {
                        if !buf.is_empty() {
                            parts.push(self.put_part(key, id, parts.len(), Bytes::from(buf)).await?);
                        }
                        if last {
                            return self.complete_multipart(key, id, std::mem::take(parts)).await;
                        }
                    }
                }
                drop(memory);
            }
        }
        .await;
        match result {
            Ok(()) => Ok(total),
            Err(e) => {
                if let Some((id, _)) = &multipart {
                    let _ = self.abort_multipart(key, id).await;
                }
                Err(e)
            }
        }
    }

    async fn get_range(&self, key: &BlobKey, range: Range<u64>) -> StoreResult<Bytes> {
        let size = self.size(key).await?;
        check_range(&range, size)?;
        if range.start == range.end {
            return Ok(Bytes::new());
        }
        self.store.get_range(&self.path(key), range).await.map_err(backend)
    }

    async fn size(&self, key: &BlobKey) -> StoreResult<u64> {
        Ok(self.store.head(&self.path(key)).await.map_err(backend)?.size)
    }

    async fn delete(&self, key: &BlobKey) -> StoreResult<()> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }

    async fn list(&self, prefix: &str) -> StoreResult<Vec<(String, u64)>> {
        use futures_util::TryStreamExt;
        let ours = &self.settings.prefix;
        let prefix_path = format!("{ours}{prefix}");
        let prefix_path = prefix_path.trim_end_matches('/');
        let prefix_path = (!prefix_path.is_empty()).then(|| Path::from(prefix_path));
        let mut out: Vec<(String, u64)> = self
            .store
            .list(prefix_path.as_ref())
            .map_ok(|meta| (meta.location.to_string(), meta.size))
            .try_collect()
            .await
            .map_err(backend)?;
        out.retain_mut(|(key, _)| match key.strip_prefix(ours.as_str()) {
            Some(rest) if rest.starts_with(prefix) => {
                *key = rest.to_owned();
                true
            }
            _ => false,
        });
        out.sort();
        Ok(out)
    }

    async fn create_multipart(&self, key: &BlobKey) -> StoreResult<String> {
        self.store.create_multipart(&self.path(key)).await.map_err(backend)
    }

    async fn put_part(&self, key: &BlobKey, upload: &str, index: usize, data: Bytes) -> StoreResult<PartRef> {
        let part =
            self.store.put_part(&self.path(key), &upload.to_owned(), index, PutPayload::from(data)).await.map_err(
                |e| match e {
                    // S3 says 404 NoSuchUpload for a multipart upload it does not know; s3s-fs says 403.
                    object_store::Error::PermissionDenied { .. } => {
                        StoreError::NotFound(format!("multipart upload {upload} (the store denied it: {e})"))
                    }
                    other => backend(other),
                },
            )?;
        Ok(PartRef(part.content_id))
    }

    async fn complete_multipart(&self, key: &BlobKey, upload: &str, parts: Vec<PartRef>) -> StoreResult<()> {
        let parts = parts.into_iter().map(|p| PartId { content_id: p.0 }).collect();
        self.store.complete_multipart(&self.path(key), &upload.to_owned(), parts).await.map_err(backend)?;
        Ok(())
    }

    async fn abort_multipart(&self, key: &BlobKey, upload: &str) -> StoreResult<()> {
        self.store.abort_multipart(&self.path(key), &upload.to_owned()).await.map_err(backend)
    }
}
