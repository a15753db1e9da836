//! Deliveries and packages, one service: declare the files (names, sizes, declared md5, metadata,
//! and for request-based buckets the request each fulfils) in one transaction, upload each, then
//! DELIVER them together as one computed plan. Everything is checked when the delivery is declared,
//! before a single byte moves. What uploads must respect (a package's declared files, a delivered
//! upload is closed, the transfer log) are the `hooks` the upload engine calls.

pub(crate) mod arrivals;
pub(crate) mod hooks;

use std::collections::{BTreeSet, HashSet};

use axum::http::StatusCode;
use hub_domain::MAX_NAME_BYTES;
use hub_domain::access::Action;
use hub_domain::metadata::apply_patch;
use hub_domain::names::check_delivery_name;
use hub_domain::{AssetEvent, AssetState, DeliveryState, FieldError, Metadata, RequestEvent};

pub use api_types::{DeliveryView, FileView, NewDelivery, NewFile, NewMember, PackageProgress};

use super::access::{Caller, authorize, authorize_own};
use super::assets::bucket;
use super::uploads::{Place, metadata, new_upload};
use super::{AppError, AppResult, Hub};
use crate::db::{DeclarePlan, DeclaredFile, DeliverPlan, Delivery, NewAsset, PlannedAsset, PlannedRequest};
use crate::secrets::random_token;

/// Files one delivery may declare (a zipless package counts as one).
pub const MAX_FILES: usize = 10_000;
/// Files one zipless package may hold, and all the packages of one delivery together: 250,000
/// frames and their checksum.txt.
pub const MAX_PACKAGE_FILES: usize = 250_001;
/// The body of a delivery declaration may list that many package files.
pub const MAX_DECLARATION_BODY: usize = 64 << 20;

fn field(index: usize, name: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: format!("files[{index}].{name}"), message: message.into() }
}

/// Whether a declaration made a delivery, or found the one its client key made before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declared {
    New,
    Again,
}

/// Declares a delivery: all its files are checked, then made in one transaction (all or none).
pub async fn declare(
    state: &Hub,
    caller: &Caller,
    project_id: i64,
    new: NewDelivery,
) -> AppResult<(Declared, DeliveryView)> {
    let bucket = bucket(&new.bucket)?;
    authorize(state, caller, project_id, Action::Deliver(bucket)).await?;
    let key = new.client_key.as_deref().map(str::trim).filter(|k| !k.is_empty());
    if key.is_some_and(|k| k.len() > 100) {
        return Err(AppError::bad_request("client_key has at most 100 characters"));
    }
    if let Some(key) = key
        && let Some(made) = state.db.delivery_by_key(caller.user.id, key).await?
    {
        if made.project_id != project_id || made.bucket != bucket {
            return Err(AppError::conflict("this client_key was used for another delivery; use a new one"));
        }
        return Ok((Declared::Again, view(state, made).await?));
    }
    if new.files.is_empty() {
        return Err(AppError::bad_request("a delivery needs at least one file"));
    }
    if new.files.len() > MAX_FILES {
        return Err(AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_files",
            format!("a delivery takes at most {MAX_FILES} files; split it"),
        ));
    }
    // Check everything first: nothing is created unless every file is acceptable.
    let mut errors = Vec::new();
    let mut names = HashSet::new();
    let mut planned: Vec<Metadata> = Vec::with_capacity(new.files.len());
    let mut package_files = 0;
    let max = state.config.max_upload;
    for (i, file) in new.files.iter().enumerate() {
        if let Err(issue) = check_delivery_name(&file.name) {
            errors.push(field(i, "name", format!("{}: {issue}", file.name)));
        } else if file.name.len() > MAX_NAME_BYTES {
            errors.push(field(
                i,
                "name",
                format!("a name has at most {MAX_NAME_BYTES} bytes, not {}", file.name.len()),
            ));
        } else if file.name.is_empty() {
            errors.push(field(i, "name", "a file needs a name"));
        }
        if !names.insert(file.name.as_str()) {
            errors.push(field(i, "name", format!("{} is in this delivery twice", file.name)));
        }
        if let Some(members) = &file.package {
            package_files += members.len();
            check_package(i, file, members, max, &mut errors);
        } else if !(0..=max).contains(&file.size) {
            errors.push(field(i, "size", format!("size must be between 0 and {max} bytes")));
        }
        if let Some(md5) = &file.md5
            && (md5.len() != 32 || !md5.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            errors.push(field(i, "md5", "md5 is 32 hexadecimal digits"));
        }
        match apply_patch(bucket, &Metadata::new(), &file.metadata) {
            Ok(metadata) => planned.push(metadata),
            Err(fields) => {
                planned.push(Metadata::new());
                errors.extend(fields.into_iter().map(|f| field(i, &format!("metadata.{}", f.field), f.message)));
            }
        }
        match (bucket.request_based(), file.request_id) {
            (true, None) => {
                errors.push(field(i, "request_id", format!("{} files fulfil a request: choose one", bucket.title())))
            }
            (false, Some(_)) => errors.push(field(i, "request_id", format!("{} takes no requests", bucket.title()))),
            (true, Some(id)) => match state.db.request(id).await {
                Ok(r) if r.project_id == project_id && r.bucket == bucket && r.state.accepts_deliveries() => {}
                Ok(r) if r.project_id == project_id && r.bucket == bucket => {
                    errors.push(field(i, "request_id", format!("request {id} is {} and takes no more files", r.state)))
                }
                Ok(_) | Err(crate::db::RepoError::NotFound) => {
                    errors.push(field(i, "request_id", format!("there is no request {id} in this bucket")))
                }
                Err(e) => return Err(e.into()),
            },
            (false, None) => {}
        }
    }
    if package_files > MAX_PACKAGE_FILES {
        errors.push(FieldError {
            field: "files".into(),
            message: format!("the packages hold {package_files} files; one delivery takes at most {MAX_PACKAGE_FILES}"),
        });
    }
    if !errors.is_empty() {
        return Err(AppError::invalid("nothing was created: some files are not acceptable", errors));
    }

    // Everything the declaration makes goes in at once: a crash leaves all of it or none.
    let place = Place { project_id, bucket, user_id: caller.user.id };
    let mut files = Vec::with_capacity(new.files.len());
    for (file, metadata) in new.files.iter().zip(planned) {
        let asset = NewAsset {
            project_id,
            bucket,
            name: file.name.clone(),
            state: AssetState::InProgress,
            size: match &file.package {
                Some(members) => members.iter().map(|m| m.size).sum(),
                None => file.size,
            },
            md5: file.md5.as_ref().map(|m| m.to_lowercase()),
            metadata,
            request_id: file.request_id,
            created_by: Some(caller.user.id),
        };
        if let Some(members) = &file.package {
            // The files go under a prefix of their own; each gets its upload when it starts.
            let prefix = format!("packages/{}", random_token("", 16));
            let members = members.iter().map(|m| (m.name.clone(), m.size)).collect();
            files.push(DeclaredFile { asset, package: Some((prefix, members)), upload: None });
            continue;
        }
        let raw = metadata::encode(&[
            ("project", &project_id.to_string()),
            ("bucket", bucket.slug()),
            ("filename", &file.name),
        ]);
        let mut upload = new_upload(state, place, Some(file.size), raw, None, None);
        if file.size == 0 {
            // Nothing to send: complete at once, with its (empty) bytes stored before it is recorded.
            let key = crate::store::BlobKey::new(upload.blob_key.clone()).expect("upload keys are valid");
            state.store.put_stream(&key, &mut tokio::io::empty()).await.map_err(|e| {
                tracing::error!(error = %e, "blob storage failed during a declaration");
                AppError::from(super::uploads::UploadError::Storage)
            })?;
            upload.completed = true;
        }
        files.push(DeclaredFile { asset, package: None, upload: Some(upload) });
    }
    let plan = DeclarePlan { project_id, bucket, user_id: caller.user.id, client_key: key.map(str::to_owned), files };
    let delivery = state.db.declare(&plan).await?;
    Ok((Declared::New, view(state, delivery).await?))
}

/// A delivery with each file's progress.
pub async fn view(state: &Hub, delivery: Delivery) -> AppResult<DeliveryView> {
    let files = state
        .db
        .delivery_progress(delivery.id)
        .await?
        .into_iter()
        .map(|f| FileView {
            asset_id: f.asset_id,
            name: f.name,
            version: f.version,
            size: f.size,
            state: f.state,
            request_id: f.request_id,
            upload: f.package.is_none().then(|| format!("/api/v1/uploads/{}", f.upload_id)),
            offset: f.received,
            complete: f.complete,
            package: f.package.map(|(files, incomplete)| PackageProgress { files, incomplete }),
        })
        .collect();
    Ok(DeliveryView { delivery, files })
}

/// A delivery is its maker's (and the project's managers'): to other members it does not exist.
async fn load(state: &Hub, caller: &Caller, id: i64, write: bool) -> AppResult<Delivery> {
    let delivery = state.db.delivery(id).await?;
    let action = if write { Action::Deliver } else { Action::ViewBucket };
    authorize_own(state, caller, delivery.project_id, action(delivery.bucket), delivery.created_by).await?;
    Ok(delivery)
}

/// A delivery the caller made (or manages).
pub async fn get(state: &Hub, caller: &Caller, id: i64) -> AppResult<DeliveryView> {
    let delivery = load(state, caller, id, false).await?;
    view(state, delivery).await
}

/// DELIVER: every upload must be complete. Assets become Delivered, their requests Submitted.
pub async fn deliver(state: &Hub, caller: &Caller, id: i64) -> AppResult<DeliveryView> {
    let delivery = load(state, caller, id, true).await?;
    if delivery.state != DeliveryState::Open {
        return Err(AppError::conflict("this delivery was already delivered"));
    }
    let files = state.db.delivery_files(id).await?;
    let mut incomplete = Vec::new();
    // Each file's asset and where its bytes are.
    let mut delivered = Vec::with_capacity(files.len());
    for file in &files {
        let asset = state.db.asset(file.asset_id).await?;
        if let Some(count) = asset.package_files {
            let missing = state.db.incomplete_members(asset.id).await?;
            if missing > 0 {
                incomplete.push(format!("{} ({missing} of {count} files not fully uploaded)", asset.name));
            }
            let prefix = asset.blob_key.clone().unwrap_or_default();
            delivered.push((asset, prefix));
            continue;
        }
        let upload = match state.db.upload(&file.upload_id).await {
            Ok(upload) => upload,
            Err(crate::db::RepoError::NotFound) => {
                return Err(AppError::conflict(format!(
                    "{} is {}: its upload expired before it was complete; declare it again in a new delivery",
                    asset.name, asset.state
                )));
            }
            Err(e) => return Err(e.into()),
        };
        if !upload.completed {
            incomplete.push(format!("{} ({} of {} bytes)", asset.name, upload.offset, asset.size));
        }
        delivered.push((asset, upload.blob_key));
    }
    if !incomplete.is_empty() {
        return Err(AppError::conflict(format!(
            "{} file(s) are not fully uploaded yet: {}",
            incomplete.len(),
            incomplete.join(", ")
        )));
    }
    let mut plan = DeliverPlan {
        delivery_id: id,
        project_id: delivery.project_id,
        user_id: caller.user.id,
        job_kind: crate::db::JobKind::Validate,
        assets: Vec::with_capacity(files.len()),
        requests: Vec::new(),
    };
    let mut requests = BTreeSet::new();
    for (asset, blob_key) in delivered {
        let next = asset.state.next(AssetEvent::TransferCompleted)?;
        plan.assets.push(PlannedAsset { id: asset.id, blob_key, from: asset.state, to: next });
        requests.extend(asset.request_id);
    }
    for request_id in requests {
        let request = state.db.request(request_id).await?;
        let next = request.state.next(RequestEvent::FilesDelivered)?;
        plan.requests.push(PlannedRequest { id: request_id, from: request.state, to: next });
    }
    state.db.deliver(&plan).await?;
    state.jobs_queued.notify_one();
    let delivery = state.db.delivery(id).await?;
    view(state, delivery).await
}

/// A package's files: flat names under the delivery rule, no hidden files, no duplicates,
/// checksum.txt among them, sizes in range, and no md5 of its own (checksum.txt has them).
fn check_package(i: usize, file: &NewFile, members: &[NewMember], max: i64, errors: &mut Vec<FieldError>) {
    if members.len() > MAX_PACKAGE_FILES {
        errors.push(field(i, "package", format!("a package holds at most {MAX_PACKAGE_FILES} files")));
        return;
    }
    if file.md5.is_some() {
        errors.push(field(i, "md5", "a package has no md5 of its own: its checksum.txt lists every file's"));
    }
    let mut seen = HashSet::with_capacity(members.len());
    let before = errors.len();
    for (j, member) in members.iter().enumerate() {
        let at = format!("package[{j}]");
        if let Err(issue) = check_delivery_name(&member.name) {
            errors.push(field(i, &at, format!("{}: {issue}", member.name)));
        } else if member.name.len() > MAX_NAME_BYTES {
            let length = member.name.len();
            errors.push(field(i, &at, format!("a file name has at most {MAX_NAME_BYTES} bytes, not {length}")));
        } else if member.name.is_empty() || member.name.starts_with('.') {
            errors.push(field(i, &at, format!("{:?}: a package file needs a name that is not hidden", member.name)));
        } else if !seen.insert(member.name.as_str()) {
            errors.push(field(i, &at, format!("{} is in the package twice", member.name)));
        }
        if !(0..=max).contains(&member.size) {
            errors.push(field(i, &at, format!("{}: size must be between 0 and {max} bytes", member.name)));
        }
        if errors.len() - before >= 20 {
            errors.push(field(i, "package", "more problems follow; fix these first"));
            return;
        }
    }
    if !seen.contains(npack::CHECKSUM_TXT) {
        errors.push(field(
            i,
            "package",
            "a package needs its checksum.txt beside the files; make it with `npack checksum -s FOLDER`",
        ));
    }
}
