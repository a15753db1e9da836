//! `serve --demo`: a project a newcomer can click through, with members, assets in several states
//! and open requests in the request-based buckets.

use hub::Db;
use hub::db::NewAsset;
use hub::secrets::{generate_password, hash_password};
use hub_domain::{AssetState, BucketKind, Metadata, Role};
use serde_json::json;

pub const DEMO_PROJECT: &str = "Demo Feature";

/// Creates the demo project unless it exists; returns the demo users' passwords (shown once).
pub async fn seed(db: &Db) -> anyhow::Result<Option<Vec<(String, Role, String)>>> {
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
    let assets = [
        (
            BucketKind::FinalSound,
            "DEMO_R1_PM51_EN.wav",
            AssetState::Valid,
            json!({"reel": 1, "mix_type": "printmaster", "format": "5.1", "language": "en"}),
        ),
        (
            BucketKind::FinalSound,
            "DEMO_R2_PM51_EN.wav",
            AssetState::Validating,
            json!({"reel": 2, "mix_type": "printmaster", "format": "5.1", "language": "en"}),
        ),
        (
            BucketKind::FinalSound,
            "DEMO_R3_STEMS.wav",
            AssetState::Invalid,
            json!({"reel": 3, "mix_type": "stems", "format": "7.1"}),
        ),
        (
            BucketKind::PictureDeliverables,
            "DEMO_R1_VDM.zip",
            AssetState::Delivered,
            json!({"reel": 1, "deliverable_type": "frame sequence", "colour_space": "P3-D65"}),
        ),
        (
            BucketKind::PictureDeliverables,
            "DEMO_R2_VDM.zip",
            AssetState::InProgress,
            json!({"reel": 2, "deliverable_type": "frame sequence", "colour_space": "P3-D65"}),
        ),
        (
            BucketKind::Vfx,
            "sh010_comp_v003.mov",
            AssetState::Valid,
            json!({"shot": "sh010", "version": 3, "vendor": "Demo VFX"}),
        ),
        (BucketKind::Vfx, "sh020_comp_v001.mov", AssetState::FailedDelivery, json!({"shot": "sh020", "version": 1})),
        (BucketKind::DailiesBins, "D001_bin.zip", AssetState::Valid, json!({"shoot_day": "2026-10-05", "bin": "D001"})),
        (
            BucketKind::Footage,
            "A001C003_261005.mov",
            AssetState::Valid,
            json!({"shoot_day": "2026-10-05", "type": "proxy", "camera_roll": "A001", "scene": "12", "take": "3"}),
        ),
    ];
    for (bucket, name, state, metadata) in assets {
        db.create_asset(&NewAsset {
            project_id: project.id,
            bucket,
            name: name.into(),
            state,
            size: 0,
            md5: None,
            metadata: meta(metadata),
            request_id: None,
            created_by: None,
        })
        .await?;
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
