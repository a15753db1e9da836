//! `serve --demo`: a project a newcomer can click through, with members, assets in several states
//! and open requests in the request-based buckets.

use hub::Db;
use hub::db::{JobKind, NewAsset};
use hub::secrets::{generate_password, hash_password};
use hub::store::{BlobKey, BlobStore};
use hub_domain::{AssetState, BucketKind, HistoryAction, Metadata, Role};
use serde_json::json;

pub const DEMO_PROJECT: &str = "Demo Feature";

/// How a demo asset got where it is.
#[derive(Debug, Clone, Copy)]
enum Demo {
    /// Delivered whole: the worker finds it Valid.
    Delivered,
    /// Delivered with bytes that differ from the md5 the vendor declared: the worker finds it
    /// Invalid, saying so.
    DamagedOnTheWay,
    /// A frame-sequence package (a real one, made by npack): Valid.
    Package,
    /// Declared, its upload not begun: In Progress.
    Declared,
    /// Its upload expired unfinished: Failed Delivery.
    Expired,
}

fn md5_hex(bytes: &[u8]) -> String {
    let mut state = md5_many::Md5State::new();
    state.update(bytes);
    npack::checksum::hex(&state.finalize())
}

/// A small real package of `name`'s frames, as `npack zip` makes it.
fn package(name: &str) -> anyhow::Result<Vec<u8>> {
    let dir = tempfile::tempdir()?;
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames)?;
    let stem = name.trim_end_matches(".zip");
    for i in 0..24u32 {
        std::fs::write(frames.join(format!("{stem}.{:07}.dpx", 86400 + i)), vec![(i % 251) as u8; 8192])?;
    }
    let target = dir.path().join(name);
    npack::pack_folder(&frames, &target, 1)?;
    Ok(std::fs::read(target)?)
}

/// Creates the demo project unless it exists; returns the demo users' passwords (shown once).
pub async fn seed(db: &Db, store: &dyn BlobStore) -> anyhow::Result<Option<Vec<(String, Role, String)>>> {
    let admin = db.user_for_login("admin").await.map(|(u, _)| u).ok();
    if let Some(admin) = &admin
        && db.projects_for(admin).await?.iter().any(|p| p.name == DEMO_PROJECT)
    {
        return Ok(None);
    }
    let project = db.create_project(DEMO_PROJECT, "DEMO").await?;
    let mut people = Vec::new();
    for (name, display, role, buckets) in [
        ("studio", "Studio Manager", Role::Manager, None),
        (
            "soundhouse",
            "Sound House (vendor)",
            Role::Contributor,
            Some(vec![BucketKind::FinalSound, BucketKind::SoundMaterials]),
        ),
        (
            "lab",
            "DI Lab (vendor)",
            Role::Contributor,
            Some(vec![BucketKind::PictureDeliverables, BucketKind::NonDistributionMasters, BucketKind::DailiesBins]),
        ),
        ("exec", "Executive (viewer)", Role::Viewer, None),
    ] {
        let password = generate_password();
        let user = match db.create_user(name, display, &hash_password(&password), false).await {
            Ok(user) => user,
            Err(hub::RepoError::Conflict(_)) => db.user_for_login(name).await?.0,
            Err(e) => return Err(e.into()),
        };
        db.set_member(project.id, user.id, role, buckets.as_deref()).await?;
        people.push((name.to_owned(), role, password));
    }
    let meta = |v: serde_json::Value| -> Metadata { serde_json::from_value(v).expect("demo metadata") };
    let vendor_of = |bucket: BucketKind| match bucket {
        BucketKind::FinalSound => "soundhouse",
        BucketKind::PictureDeliverables | BucketKind::DailiesBins => "lab",
        _ => "studio",
    };
    // Every demo asset is one a real delivery could have made: its bytes are in the store, its
    // history says how it got where it is, and the delivered ones are validated by the worker
    // like any other (a few seconds after start: Valid, or Invalid with the reason).
    let assets = [
        (
            BucketKind::FinalSound,
            "DEMO_R1_PM51_EN.wav",
            Demo::Delivered,
            json!({"reel": 1, "mix_type": "printmaster", "format": "5.1", "language": "en"}),
        ),
        (
            BucketKind::FinalSound,
            "DEMO_R2_PM51_EN.wav",
            Demo::Delivered,
            json!({"reel": 2, "mix_type": "printmaster", "format": "5.1", "language": "en"}),
        ),
        (
            BucketKind::FinalSound,
            "DEMO_R3_STEMS.wav",
            Demo::DamagedOnTheWay,
            json!({"reel": 3, "mix_type": "stems", "format": "7.1"}),
        ),
        (
            BucketKind::PictureDeliverables,
            "DEMO_R1_VDM.zip",
            Demo::Package,
            json!({"reel": 1, "deliverable_type": "frame sequence", "colour_space": "P3-D65"}),
        ),
        (
            BucketKind::PictureDeliverables,
            "DEMO_R2_VDM.zip",
            Demo::Declared,
            json!({"reel": 2, "deliverable_type": "frame sequence", "colour_space": "P3-D65"}),
        ),
        (
            BucketKind::Vfx,
            "sh010_comp_v003.exr",
            Demo::Delivered,
            json!({"shot": "sh010", "version": 3, "vendor": "Demo VFX"}),
        ),
        (BucketKind::Vfx, "sh020_comp_v001.mov", Demo::Expired, json!({"shot": "sh020", "version": 1})),
        (BucketKind::DailiesBins, "D001_bin.zip", Demo::Package, json!({"shoot_day": "2026-10-05", "bin": "D001"})),
        (
            BucketKind::Footage,
            "A001C003_261005.ari",
            Demo::Delivered,
            json!({"shoot_day": "2026-10-05", "type": "camera RAW", "camera_roll": "A001", "scene": "12", "take": "3"}),
        ),
    ];
    for (bucket, name, how, metadata) in assets {
        let by = db.user_for_login(vendor_of(bucket)).await?.0;
        let bytes = match how {
            Demo::Package => package(name)?,
            Demo::Declared | Demo::Expired => Vec::new(),
            Demo::Delivered | Demo::DamagedOnTheWay => {
                // Some recognisable bytes of the file's own (a demo is not a real recording).
                let line = format!("contenthub demo file {name}\n");
                line.repeat(4096).into_bytes()
            }
        };
        let declared_size = if bytes.is_empty() { 48 << 20 } else { bytes.len() as i64 };
        let md5 = match how {
            Demo::Delivered => Some(md5_hex(&bytes)),
            // What the vendor's own hash said before the file was damaged on the way.
            Demo::DamagedOnTheWay => Some(md5_hex(b"the file as it left the vendor")),
            _ => None,
        };
        let state = match how {
            Demo::Declared => AssetState::InProgress,
            Demo::Expired => AssetState::FailedDelivery,
            _ => AssetState::Delivered,
        };
        let asset = db
            .create_asset(&NewAsset {
                project_id: project.id,
                bucket,
                name: name.into(),
                state,
                size: declared_size,
                md5,
                metadata: meta(metadata),
                request_id: None,
                created_by: Some(by.id),
            })
            .await?;
        let history = |action: HistoryAction, detail: String| async move {
            db.add_history(project.id, Some(asset.id), None, Some(by.id), action, &detail).await
        };
        match how {
            Demo::Declared => {
                history(
                    HistoryAction::DeliveryCreated,
                    format!("declared by {} (demo): waiting for its upload", by.username),
                )
                .await?;
            }
            Demo::Expired => {
                history(HistoryAction::DeliveryCreated, format!("declared by {} (demo)", by.username)).await?;
                history(
                    HistoryAction::TransferFailed,
                    "the upload stopped at 0 bytes and expired after 24 hours; deliver the file again".into(),
                )
                .await?;
            }
            _ => {
                let key = BlobKey::new(format!("demo/{}/{name}", asset.id))?;
                store.put_stream(&key, &mut &bytes[..]).await?;
                db.set_asset_blob(asset.id, key.as_str()).await?;
                history(HistoryAction::Delivered, format!("delivered by {} (demo)", by.username)).await?;
                db.enqueue_job(JobKind::Validate, asset.id).await?;
            }
        }
    }
    for (bucket, title, metadata) in [
        (
            BucketKind::FinalSound,
            "Reel 4 printmaster 5.1 (English)",
            json!({"reel": 4, "mix_type": "printmaster", "format": "5.1", "language": "en"}),
        ),
        (BucketKind::FinalSound, "Reel 4 M&E 5.1", json!({"reel": 4, "mix_type": "M&E", "format": "5.1"})),
        (
            BucketKind::PictureDeliverables,
            "Reel 3 VDM, P3-D65",
            json!({"reel": 3, "deliverable_type": "VDM", "colour_space": "P3-D65"}),
        ),
        (BucketKind::NonDistributionMasters, "Reel 1 textless master", json!({"reel": 1, "master_type": "textless"})),
    ] {
        db.create_request(project.id, bucket, title, &meta(metadata)).await?;
    }
    Ok(Some(people))
}
