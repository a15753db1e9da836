//! One behaviour suite for the repositories, run on SQLite and on PostgreSQL.
//!
//! PostgreSQL is the server `CONTENTHUB_TEST_POSTGRES_URL` names (default 127.0.0.1:5432); each run
//! gets a fresh database that is dropped afterwards. No server is a failure, not a skip, unless
//! `CONTENTHUB_TEST_SKIP=postgres` says so (see the `testkit` crate).

use hub::db::{AssetQuery, AssetSort, JobKind, NewAsset};
use hub::{Db, RepoError};
use hub_domain::{AssetState, BucketKind, DeliveryState, HistoryAction, Metadata, RequestState, Role};
use serde_json::json;

fn meta(value: serde_json::Value) -> Metadata {
    serde_json::from_value(value).unwrap()
}

fn new_asset(project_id: i64, bucket: BucketKind, name: &str, metadata: Metadata) -> NewAsset {
    NewAsset {
        project_id,
        bucket,
        name: name.into(),
        state: AssetState::InProgress,
        size: 10,
        md5: None,
        metadata,
        request_id: None,
        created_by: None,
    }
}

async fn suite(db: Db) {
    db.migrate().await.unwrap();
    db.migrate().await.expect("migrating twice is a no-op");
    db.ping().await.unwrap();

    // Users, sessions, tokens.
    let alice = db.create_user("alice", "Alice", "hash-a", false).await.unwrap();
    let bob = db.create_user("bob", "Bob", "hash-b", false).await.unwrap();
    let admin = db.create_user("root", "Admin", "hash-r", true).await.unwrap();
    let err = db.create_user("alice", "Again", "x", false).await.unwrap_err();
    assert!(matches!(&err, RepoError::Conflict(m) if m.contains("alice")), "{err}");
    assert_eq!(db.count_users().await.unwrap(), 3);
    let (found, hash) = db.user_for_login("alice").await.unwrap();
    assert_eq!((found.id, hash.as_str()), (alice.id, "hash-a"));
    assert!(matches!(db.user_for_login("nobody").await, Err(RepoError::NotFound)));

    let far = hub::db::now_ms() + 60_000;
    db.create_session("chs_live", alice.id, "csrf1", far).await.unwrap();
    db.create_session("chs_old", alice.id, "csrf2", 1).await.unwrap();
    assert_eq!(db.session("chs_live").await.unwrap(), (alice.clone(), "csrf1".to_owned()));
    assert!(matches!(db.session("chs_old").await, Err(RepoError::NotFound)), "expired sessions are gone");
    assert_eq!(db.purge_expired_sessions().await.unwrap(), 1, "the expired one is forgotten");
    assert_eq!(db.purge_expired_sessions().await.unwrap(), 0);
    assert_eq!(db.session("chs_live").await.unwrap().1, "csrf1", "the live one stays");
    db.set_password(alice.id, "hash-a2").await.unwrap();
    assert!(matches!(db.session("chs_live").await, Err(RepoError::NotFound)), "a new password ends sessions");

    let token = db.create_token(bob.id, "ci", "cht_secret", hub_domain::TokenScope::Deliver, None).await.unwrap();
    assert_eq!(db.user_for_token("cht_secret").await.unwrap().0.id, bob.id);
    assert!(db.tokens(bob.id).await.unwrap()[0].last_used_ms.is_some());
    assert!(matches!(db.revoke_token(alice.id, token.id).await, Err(RepoError::NotFound)), "only the owner revokes");
    db.revoke_token(bob.id, token.id).await.unwrap();
    assert!(matches!(db.user_for_token("cht_secret").await, Err(RepoError::NotFound)));

    // Projects and members.
    let film = db.create_project("Feature Film", "FF").await.unwrap();
    let series = db.create_project("Series", "SR").await.unwrap();
    assert!(matches!(db.create_project("Series", "X").await, Err(RepoError::Conflict(_))));
    db.set_member(film.id, alice.id, Role::Contributor, Some(&[BucketKind::FinalSound])).await.unwrap();
    db.set_member(series.id, bob.id, Role::Viewer, None).await.unwrap();
    assert_eq!(db.projects_for(&alice).await.unwrap(), vec![film.clone()]);
    assert_eq!(db.projects_for(&admin).await.unwrap().len(), 2);
    let member = db.member(film.id, alice.id).await.unwrap().unwrap();
    assert_eq!((member.role, member.buckets.clone()), (Role::Contributor, Some(vec![BucketKind::FinalSound])));
    assert!(db.member(film.id, bob.id).await.unwrap().is_none());
    db.set_member(film.id, alice.id, Role::Manager, None).await.unwrap();
    assert_eq!(db.member(film.id, alice.id).await.unwrap().unwrap().role, Role::Manager);
    assert_eq!(db.members(film.id).await.unwrap().len(), 1);
    db.remove_member(series.id, bob.id).await.unwrap();
    assert!(db.projects_for(&bob).await.unwrap().is_empty());

    // Assets: versions, listing, paging, filters.
    let sound = BucketKind::FinalSound;
    let first = db.create_asset(&new_asset(film.id, sound, "r1_pm.wav", meta(json!({"reel": 1})))).await.unwrap();
    let second = db.create_asset(&new_asset(film.id, sound, "r1_pm.wav", meta(json!({"reel": 1})))).await.unwrap();
    assert_eq!((first.version, second.version), (1, 2));
    let other = db.create_asset(&new_asset(series.id, sound, "r1_pm.wav", meta(json!({})))).await.unwrap();
    assert_eq!(other.version, 1, "versions count per project and bucket");
    for i in 0..250 {
        let format = if i % 2 == 0 { "5.1" } else { "2.0" };
        let m = meta(json!({"reel": i % 5, "format": format, "mix_type": "stems"}));
        db.create_asset(&new_asset(film.id, sound, &format!("cue_{i:04}.wav"), m)).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut query = AssetQuery { limit: 100, ..AssetQuery::default() };
    loop {
        let page = db.list_assets(film.id, sound, &query).await.unwrap();
        seen.extend(page.items.iter().map(|a| a.name.clone()));
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 252);
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "sorted by name");
    let filtered = db
        .list_assets(
            film.id,
            sound,
            &AssetQuery {
                fields: vec![("reel".into(), "3".into()), ("format".into(), "2.0".into())],
                limit: 500,
                ..AssetQuery::default()
            },
        )
        .await
        .unwrap();
    // i % 5 == 3 and i odd: i = 3, 13, 23, ... (25 of them).
    assert_eq!(filtered.items.len(), 25);
    assert!(filtered.items.iter().all(|a| a.metadata["reel"] == json!(3) && a.metadata["format"] == json!("2.0")));
    let named = db
        .list_assets(
            film.id,
            sound,
            &AssetQuery { name_contains: Some("CUE_01".into()), limit: 500, ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(named.items.len(), 100, "cue_0100..cue_0199, case-insensitive");
    let newest = db
        .list_assets(
            film.id,
            sound,
            &AssetQuery { sort: AssetSort::Updated, descending: true, limit: 3, ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(newest.items[0].name, "cue_0249.wav");
    assert!(newest.next.is_some());
    let bad = AssetQuery { after: Some("nonsense".into()), limit: 10, ..Default::default() };
    assert!(matches!(db.list_assets(film.id, sound, &bad).await, Err(RepoError::Conflict(_))));

    // States: compare-and-set through the domain's transitions.
    let next = first.state.next(hub_domain::AssetEvent::TransferCompleted).unwrap();
    db.transition_asset(first.id, first.state, next).await.unwrap();
    let err = db.transition_asset(first.id, AssetState::InProgress, AssetState::FailedDelivery).await.unwrap_err();
    assert!(matches!(&err, RepoError::Conflict(m) if m.contains("Delivered")), "{err}");
    let delivered = db
        .list_assets(
            film.id,
            sound,
            &AssetQuery { state: Some(AssetState::Delivered), limit: 10, ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(delivered.items.iter().map(|a| a.id).collect::<Vec<_>>(), vec![first.id]);
    db.set_asset_metadata(first.id, &meta(json!({"reel": 2}))).await.unwrap();
    assert_eq!(db.asset(first.id).await.unwrap().metadata["reel"], json!(2));
    let counts = db.bucket_counts(film.id).await.unwrap();
    let sound_counts = counts.iter().find(|c| c.bucket == sound).unwrap();
    assert_eq!(sound_counts.counts["delivered"], 1);
    assert_eq!(sound_counts.counts["in_progress"], 251);
    assert_eq!(counts.len(), BucketKind::ALL.len());

    // Requests and history.
    let request = db.create_request(film.id, sound, "Reel 1 printmaster 5.1", &meta(json!({"reel": 1}))).await.unwrap();
    assert_eq!(request.state, RequestState::Open);
    assert_eq!(db.bucket_counts(film.id).await.unwrap().iter().find(|c| c.bucket == sound).unwrap().open_requests, 1);
    db.transition_request(request.id, RequestState::Open, RequestState::Submitted, None).await.unwrap();
    assert!(matches!(
        db.transition_request(request.id, RequestState::Open, RequestState::Rejected, Some("late")).await,
        Err(RepoError::Conflict(_))
    ));
    db.transition_request(request.id, RequestState::Submitted, RequestState::Redelivery, Some("wrong loudness"))
        .await
        .unwrap();
    let stored = db.request(request.id).await.unwrap();
    assert_eq!((stored.state, stored.reason.as_deref()), (RequestState::Redelivery, Some("wrong loudness")));
    assert_eq!(db.list_requests(film.id, sound, Some(RequestState::Redelivery)).await.unwrap().len(), 1);
    assert!(db.list_requests(film.id, sound, Some(RequestState::Open)).await.unwrap().is_empty());
    db.update_request(request.id, "Reel 1 printmaster 7.1", &meta(json!({"reel": 1}))).await.unwrap();

    db.add_history(film.id, Some(first.id), None, Some(alice.id), HistoryAction::MetadataEdited, "reel 1 -> 2")
        .await
        .unwrap();
    db.add_history(film.id, Some(first.id), None, None, HistoryAction::Delivered, "Delivered").await.unwrap();
    let history = db.history(Some(first.id), None).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].username.as_deref(), Some("alice"));
    assert_eq!(history[1].username, None);

    // The job queue: each job is claimed once; failures retry later; silent workers lose theirs.
    db.enqueue_job(JobKind::Validate, first.id).await.unwrap();
    db.enqueue_job(JobKind::Validate, second.id).await.unwrap();
    let a = db.claim_job("w1").await.unwrap().expect("a job");
    let b = db.claim_job("w2").await.unwrap().expect("another job");
    assert_ne!(a.id, b.id);
    assert_eq!((a.asset_id, a.attempts), (first.id, 1));
    assert!(db.claim_job("w3").await.unwrap().is_none());
    db.fail_job(a.id, "storage down", Some(60_000)).await.unwrap();
    assert!(db.claim_job("w3").await.unwrap().is_none(), "not before its retry time");
    db.finish_job(b.id).await.unwrap();
    db.fail_job(a.id, "storage down", Some(-1)).await.unwrap();
    let again = db.claim_job("w3").await.unwrap().expect("retried");
    assert_eq!((again.id, again.attempts), (a.id, 2));
    assert_eq!(db.requeue_stale_jobs(60_000, 5).await.unwrap(), 0, "w3 is alive");
    assert_eq!(db.requeue_stale_jobs(-1_000, 5).await.unwrap(), 1, "w3 went silent");
    assert_eq!(db.claim_job("w4").await.unwrap().map(|j| j.id), Some(a.id));
    // On its third attempt and silent: with three attempts allowed it is spent (taken once).
    assert!(db.take_exhausted_jobs(-1_000, 4, "w9").await.unwrap().is_empty(), "an attempt left");
    let spent = db.take_exhausted_jobs(-1_000, 3, "w9").await.unwrap();
    assert_eq!(spent.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(), vec![(a.id, 3)]);
    assert!(db.take_exhausted_jobs(60_000, 3, "w10").await.unwrap().is_empty(), "w9 has it now");

    // A delivery's progress in one query: a file half uploaded, and a package with one of its two
    // files whole and the other under way; its uploads find their assets for the transfer log.
    let upload = |id: &str, length: i64, offset: i64| hub::db::Upload {
        id: id.into(),
        project_id: film.id,
        bucket: sound,
        created_by: Some(bob.id),
        length: Some(length),
        offset,
        metadata: String::new(),
        store_state: String::new(),
        blob_key: format!("uploads/{id}"),
        completed: offset == length,
        created_ms: 0,
        expires_ms: far,
        concat: None,
        piece_of: None,
        piece_at: None,
    };
    // Declared all at once: a file with its upload and a package with its files, or nothing.
    let declared_file = |name: &str, package: Option<(String, Vec<(String, i64)>)>, upload| hub::db::DeclaredFile {
        asset: hub::db::NewAsset { created_by: Some(bob.id), ..new_asset(film.id, sound, name, Metadata::new()) },
        package,
        upload,
    };
    let mut plan = hub::db::DeclarePlan {
        project_id: film.id,
        bucket: sound,
        user_id: bob.id,
        client_key: Some("key-1".into()),
        files: vec![
            declared_file("r1_stems.wav", None, Some(upload("up_file", 10, 4))),
            declared_file(
                "r1_frames",
                Some(("packages/r1".into(), vec![("a.dpx".into(), 100), ("b.dpx".into(), 50)])),
                None,
            ),
            declared_file("r1_broken.wav", None, None),
        ],
    };
    let err = db.declare(&plan).await.unwrap_err();
    assert!(matches!(&err, RepoError::Corrupt(m) if m.contains("r1_broken.wav")), "{err}");
    assert!(matches!(db.upload("up_file").await, Err(RepoError::NotFound)), "nothing of it was kept");
    assert!(db.asset_versions(film.id, sound, "r1_stems.wav").await.unwrap().is_empty(), "nothing of it was kept");
    assert!(db.deliveries_seen_by(bob.id, 10).await.unwrap().is_empty(), "nothing of it was kept");
    plan.files.pop();
    let delivery = db.declare(&plan).await.unwrap();
    assert_eq!((delivery.state.as_str(), delivery.created_by), ("open", Some(bob.id)));
    let files = db.delivery_files(delivery.id).await.unwrap();
    let (declared, package) = (db.asset(files[0].asset_id).await.unwrap(), db.asset(files[1].asset_id).await.unwrap());
    assert_eq!((declared.name.as_str(), declared.state, declared.version), ("r1_stems.wav", AssetState::InProgress, 1));
    assert_eq!((package.package_files, package.blob_key.as_deref()), (Some(2), Some("packages/r1")));
    assert!(db.history(Some(declared.id), None).await.unwrap()[0].detail.contains("declared in delivery"));
    let again = db
        .declare(&hub::db::DeclarePlan {
            client_key: None,
            files: vec![declared_file("r1_stems.wav", None, Some(upload("up_again", 1, 0)))],
            ..plan.clone()
        })
        .await
        .unwrap();
    let next = db.asset(db.delivery_files(again.id).await.unwrap()[0].asset_id).await.unwrap();
    assert_eq!(next.version, 2, "a name declared again is its next version");
    for (name, id, offset) in [("a.dpx", "up_a", 100), ("b.dpx", "up_b", 20)] {
        db.create_upload(&upload(id, if name == "a.dpx" { 100 } else { 50 }, offset)).await.unwrap();
        db.bind_member_upload(package.id, name, id).await.unwrap();
    }
    db.complete_member("up_a").await.unwrap();
    let progress = db.delivery_progress(delivery.id).await.unwrap();
    let summary: Vec<_> = progress.iter().map(|f| (f.asset_id, f.received, f.complete, f.package)).collect();
    assert_eq!(summary, vec![(declared.id, 4, false, None), (package.id, 120, false, Some((2, 1)))]);
    // A file sent in pieces: its progress is what its pieces received; they are listed in order of
    // where they start and live as long as any of them moves.
    for (id, at, offset) in [("piece_2", 8, 2), ("piece_1", 0, 3)] {
        let piece = hub::db::Upload {
            piece_of: Some("up_again".into()),
            piece_at: Some(at),
            expires_ms: 5,
            ..upload(id, 8, offset)
        };
        db.create_upload(&piece).await.unwrap();
    }
    let pieces = db.pieces_of("up_again").await.unwrap();
    assert_eq!(
        pieces.iter().map(|p| (p.id.as_str(), p.piece_at)).collect::<Vec<_>>(),
        vec![("piece_1", Some(0)), ("piece_2", Some(8))]
    );
    assert_eq!(db.delivery_progress(again.id).await.unwrap()[0].received, 5);
    db.touch_pieces("up_again", far - 1).await.unwrap();
    assert!(db.pieces_of("up_again").await.unwrap().iter().all(|p| p.expires_ms == far - 1));
    assert_eq!(db.upload("up_again").await.unwrap().expires_ms, far - 1);
    assert_eq!(db.transfer_target("up_b").await.unwrap().unwrap().member.as_deref(), Some("b.dpx"));
    assert_eq!(db.transfer_target("up_file").await.unwrap().unwrap().asset_id, declared.id);
    assert!(db.transfer_target("up_none").await.unwrap().is_none());
    assert_eq!(
        db.deliveries_seen_by(bob.id, 10).await.unwrap(),
        vec![again.id, delivery.id],
        "its maker, newest first"
    );
    assert_eq!(db.deliveries_seen_by(bob.id, 1).await.unwrap(), vec![again.id]);
    assert_eq!(
        db.deliveries_seen_by(alice.id, 10).await.unwrap(),
        vec![again.id, delivery.id],
        "a manager of the project"
    );
    assert!(db.deliveries_seen_by(admin.id, 10).await.unwrap().is_empty());
    db.add_history(film.id, Some(package.id), None, None, HistoryAction::TransferError, "b.dpx: refused")
        .await
        .unwrap();
    let both = db.assets_history(&[first.id, package.id]).await.unwrap();
    assert_eq!(both.len(), 4, "two of the first asset's, the package's declaration and its refused file");
    assert!(both.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    assert_eq!(db.count_history(package.id, HistoryAction::TransferError).await.unwrap(), 1);

    db.delete_asset(first.id).await.unwrap();
    assert!(matches!(db.asset(first.id).await, Err(RepoError::NotFound)));
    assert!(db.history(Some(first.id), None).await.unwrap().is_empty(), "history goes with the asset");

    // People and projects, read back one by one.
    assert_eq!(db.user(bob.id).await.unwrap(), bob);
    assert!(matches!(db.user(999_999).await, Err(RepoError::NotFound)));
    db.create_session("chs_bye", bob.id, "csrf3", far).await.unwrap();
    db.delete_session("chs_bye").await.unwrap();
    assert!(matches!(db.session("chs_bye").await, Err(RepoError::NotFound)), "signed out");
    assert!(!db.project(film.id).await.unwrap().fast_start_remux);
    db.set_fast_start_remux(film.id, true).await.unwrap();
    assert!(db.project(film.id).await.unwrap().fast_start_remux);
    assert!(matches!(db.set_fast_start_remux(999_999, true).await, Err(RepoError::NotFound)));
    assert!(matches!(db.project(999_999).await, Err(RepoError::NotFound)));
    let membership = db.member(film.id, alice.id).await.unwrap().unwrap().membership();
    assert_eq!((membership.role, membership.buckets), (Role::Manager, None));

    // Blobs of assets: set once, a remux replaces it and keeps the original, only once.
    db.set_asset_blob(second.id, "projects/1/a/v2").await.unwrap();
    assert_eq!(db.asset(second.id).await.unwrap().blob_key.as_deref(), Some("projects/1/a/v2"));
    assert!(matches!(db.set_asset_blob(999_999, "x").await, Err(RepoError::NotFound)));
    let versions = db.asset_versions(film.id, sound, "r1_pm.wav").await.unwrap();
    assert_eq!(versions.iter().map(|a| a.version).collect::<Vec<_>>(), vec![2], "newest first; v1 was deleted");
    assert!(db.asset_versions(film.id, sound, "nothing.wav").await.unwrap().is_empty());

    // Uploads: offsets move by compare-and-set, one writer at a time, expired ones are found.
    let stored = db.upload("up_file").await.unwrap();
    assert_eq!(stored, upload("up_file", 10, 4));
    assert!(matches!(db.upload("up_none").await, Err(RepoError::NotFound)));
    let moved = hub::db::Upload { offset: 7, ..stored.clone() };
    db.advance_upload(&moved, 4).await.unwrap();
    let err = db.advance_upload(&hub::db::Upload { offset: 9, ..stored.clone() }, 4).await.unwrap_err();
    assert!(matches!(&err, RepoError::Conflict(m) if m.contains("HEAD")), "{err}");
    assert_eq!(db.upload("up_file").await.unwrap().offset, 7, "the stale writer changed nothing");
    assert!(db.lease_upload("up_file", 60_000).await.unwrap());
    assert!(!db.lease_upload("up_file", 60_000).await.unwrap(), "held by the first writer");
    db.renew_upload_lease("up_file", 60_000).await.unwrap();
    assert!(!db.lease_upload("up_file", 60_000).await.unwrap(), "still held after renewing");
    db.release_upload("up_file").await.unwrap();
    assert!(db.lease_upload("up_file", -1).await.unwrap(), "free once released");
    assert!(db.lease_upload("up_file", 60_000).await.unwrap(), "a lapsed lease is taken over");
    db.release_upload("up_file").await.unwrap();
    for (id, expires) in [("up_old1", 1), ("up_old2", 2), ("up_old3", 3)] {
        db.create_upload(&hub::db::Upload { expires_ms: expires, ..upload(id, 10, 1) }).await.unwrap();
    }
    // A finished upload nothing uses is reaped when its time is up; one a delivery uses never is.
    db.create_upload(&hub::db::Upload { expires_ms: 4, completed: true, ..upload("up_done_old", 10, 10) })
        .await
        .unwrap();
    let used = db.upload("up_again").await.unwrap();
    db.advance_upload(&hub::db::Upload { offset: 1, completed: true, expires_ms: 1, ..used }, 0).await.unwrap();
    let expired: Vec<String> = db.expired_uploads(2).await.unwrap().into_iter().map(|u| u.id).collect();
    assert_eq!(expired, vec!["up_old1", "up_old2"], "oldest first, a batch at a time");
    db.delete_upload("up_old1").await.unwrap();
    assert!(matches!(db.upload("up_old1").await, Err(RepoError::NotFound)));
    let expired: Vec<String> = db.expired_uploads(10).await.unwrap().into_iter().map(|u| u.id).collect();
    assert_eq!(expired, vec!["up_old2", "up_old3", "up_done_old"], "never a finished one a delivery uses");
    // The reaper claims an expired upload once; not one a PATCH holds, not a finished one.
    assert!(db.lease_upload("up_old3", 60_000).await.unwrap());
    let free: Vec<String> = db.expired_uploads(10).await.unwrap().into_iter().map(|u| u.id).collect();
    assert_eq!(free, vec!["up_old2", "up_done_old"], "a held upload is not offered to the reaper");
    assert!(!db.claim_expired_upload("up_old3").await.unwrap(), "held by a PATCH");
    assert!(!db.claim_expired_upload("up_again").await.unwrap(), "finished, and a delivery uses it");
    assert!(db.claim_expired_upload("up_done_old").await.unwrap(), "finished, but nothing uses it");
    assert!(!db.claim_expired_upload("up_file").await.unwrap(), "not expired");
    assert!(db.claim_expired_upload("up_old2").await.unwrap());
    assert!(!db.claim_expired_upload("up_old2").await.unwrap(), "only once");
    assert!(matches!(db.upload("up_old2").await, Err(RepoError::NotFound)));
    db.release_upload("up_old3").await.unwrap();
    assert!(db.claim_expired_upload("up_old3").await.unwrap(), "free again once released");

    // Deliveries: found by id, by the client's key (its maker's only), their files and uploads.
    assert_eq!(db.delivery(delivery.id).await.unwrap().state, DeliveryState::Open);
    assert!(matches!(db.delivery(999_999).await, Err(RepoError::NotFound)));
    assert_eq!(db.delivery_by_key(bob.id, "key-1").await.unwrap().map(|d| d.id), Some(delivery.id));
    assert!(db.delivery_by_key(alice.id, "key-1").await.unwrap().is_none(), "another user's key finds nothing");
    assert!(db.delivery_by_key(bob.id, "key-2").await.unwrap().is_none());
    let files = db.delivery_files(delivery.id).await.unwrap();
    assert_eq!(
        files.iter().map(|f| (f.asset_id, f.upload_id.as_str())).collect::<Vec<_>>(),
        vec![(declared.id, "up_file"), (package.id, "")]
    );
    assert_eq!(db.asset_of_upload("up_file").await.unwrap(), Some(declared.id));
    assert_eq!(db.asset_of_upload("up_a").await.unwrap(), None, "package files are not delivery files");
    db.create_upload(&upload("up_joined", 10, 10)).await.unwrap();
    db.rebind_delivery_upload(delivery.id, declared.id, "up_joined").await.unwrap();
    assert_eq!(db.asset_of_upload("up_joined").await.unwrap(), Some(declared.id));
    assert_eq!(db.asset_of_upload("up_file").await.unwrap(), None);

    // Package files: one by name, unbound when their upload goes, paged, counted.
    assert_eq!(db.package_member(package.id, "b.dpx").await.unwrap(), Some((50, Some("up_b".to_owned()))));
    assert_eq!(db.package_member(package.id, "c.dpx").await.unwrap(), None);
    assert_eq!(db.incomplete_members(package.id).await.unwrap(), 1);
    let page = db.package_members(package.id, "", 1, false).await.unwrap();
    assert_eq!(
        page.iter().map(|m| (m.name.as_str(), m.offset, m.complete)).collect::<Vec<_>>(),
        vec![("a.dpx", 100, true)]
    );
    let rest = db.package_members(package.id, "a.dpx", 10, false).await.unwrap();
    assert_eq!(rest.iter().map(|m| (m.name.as_str(), m.offset)).collect::<Vec<_>>(), vec![("b.dpx", 20)]);
    db.unbind_member("up_b").await.unwrap();
    let open = db.package_members(package.id, "", 10, true).await.unwrap();
    assert_eq!(open.iter().map(|m| (m.name.as_str(), m.upload.clone())).collect::<Vec<_>>(), vec![("b.dpx", None)]);
    db.bind_member_upload(package.id, "b.dpx", "up_b").await.unwrap();
    db.complete_member("up_b").await.unwrap();
    assert_eq!(db.incomplete_members(package.id).await.unwrap(), 0);
    assert!(matches!(db.bind_member_upload(package.id, "c.dpx", "up_b").await, Err(RepoError::NotFound)));

    // DELIVER is all or nothing: a plan with one stale asset changes nothing at all.
    let pending_request = db.create_request(film.id, sound, "Reel 2 stems", &meta(json!({"reel": 2}))).await.unwrap();
    let planned = |id: i64, from: AssetState| hub::db::PlannedAsset {
        id,
        blob_key: format!("projects/1/assets/{id}"),
        from,
        to: AssetState::Delivered,
    };
    let stale = hub::db::DeliverPlan {
        delivery_id: delivery.id,
        project_id: film.id,
        user_id: bob.id,
        job_kind: JobKind::Validate,
        assets: vec![planned(package.id, AssetState::InProgress), planned(declared.id, AssetState::Valid)],
        requests: vec![hub::db::PlannedRequest {
            id: pending_request.id,
            from: RequestState::Open,
            to: RequestState::Submitted,
        }],
    };
    let err = db.deliver(&stale).await.unwrap_err();
    assert!(matches!(&err, RepoError::Conflict(m) if m.contains("changed while it was being delivered")), "{err}");
    assert_eq!(db.delivery(delivery.id).await.unwrap().state, DeliveryState::Open, "rolled back");
    assert_eq!(db.asset(package.id).await.unwrap().state, AssetState::InProgress, "rolled back");
    assert_eq!(db.request(pending_request.id).await.unwrap().state, RequestState::Open, "rolled back");
    assert!(db.claim_job("w5").await.unwrap().is_none(), "no job was queued");
    let stale_request = hub::db::DeliverPlan {
        assets: vec![planned(package.id, AssetState::InProgress)],
        requests: vec![hub::db::PlannedRequest {
            id: pending_request.id,
            from: RequestState::Submitted,
            to: RequestState::Processed,
        }],
        ..stale.clone()
    };
    let err = db.deliver(&stale_request).await.unwrap_err();
    assert!(matches!(&err, RepoError::Conflict(m) if m.contains("request")), "{err}");
    assert_eq!(db.asset(package.id).await.unwrap().state, AssetState::InProgress, "rolled back");
    let good = hub::db::DeliverPlan { assets: vec![planned(package.id, AssetState::InProgress)], ..stale.clone() };
    db.deliver(&good).await.unwrap();
    let delivered = db.delivery(delivery.id).await.unwrap();
    assert_eq!(delivered.state, DeliveryState::Delivered);
    assert!(delivered.delivered_ms.is_some());
    let asset = db.asset(package.id).await.unwrap();
    assert_eq!(
        (asset.state, asset.blob_key),
        (AssetState::Delivered, Some(format!("projects/1/assets/{}", package.id)))
    );
    assert_eq!(db.request(pending_request.id).await.unwrap().state, RequestState::Submitted);
    assert_eq!(db.count_history(package.id, HistoryAction::Delivered).await.unwrap(), 1);
    let err = db.deliver(&good).await.unwrap_err();
    assert!(matches!(&err, RepoError::Conflict(m) if m.contains("already delivered")), "{err}");

    // The job DELIVER queued: a heartbeat keeps it with its worker; request states follow assets.
    let job = db.claim_job("w5").await.unwrap().expect("DELIVER queued a job");
    assert_eq!((job.asset_id, job.kind), (package.id, JobKind::Validate));
    db.heartbeat_job(job.id, "w5").await.unwrap();
    assert_eq!(db.requeue_stale_jobs(60_000, 5).await.unwrap(), 0, "w5 just beat");
    db.finish_job(job.id).await.unwrap();
    db.transition_asset(package.id, AssetState::Delivered, AssetState::Validating).await.unwrap();
    db.create_asset(&NewAsset {
        state: AssetState::Valid,
        request_id: Some(pending_request.id),
        ..new_asset(film.id, sound, "r2_stems.wav", Metadata::new())
    })
    .await
    .unwrap();
    // The validation's end, in one transaction: checks, a remuxed copy, the verdict, the request,
    // the job; a stale one changes nothing.
    let check = hub::db::CheckResult {
        check: hub_domain::Check::Md5,
        passed: false,
        detail: "mismatch".into(),
        files: vec![("a".into(), "b".into())],
        at_ms: 0,
    };
    db.set_asset_blob(package.id, "projects/1/a/v2").await.unwrap();
    let verdict = hub::db::ValidationResult {
        job_id: job.id,
        asset_id: package.id,
        project_id: film.id,
        request_id: Some(pending_request.id),
        from: AssetState::Delivered,
        to: AssetState::Valid,
        checks: vec![check.clone()],
        remuxed: Some("projects/1/a/v2.remux".into()),
        detail: "all checks passed".into(),
    };
    let err = db.finish_validation(&verdict).await.unwrap_err();
    assert!(matches!(&err, RepoError::Conflict(m) if m.contains("no longer")), "{err}");
    assert!(db.checks(package.id).await.unwrap().is_empty(), "rolled back");
    assert_eq!(db.asset(package.id).await.unwrap().original_blob_key, None, "rolled back");
    let verdict = hub::db::ValidationResult { from: AssetState::Validating, ..verdict };
    db.finish_validation(&verdict).await.unwrap();
    let checks = db.checks(package.id).await.unwrap();
    assert_eq!((checks.len(), checks[0].passed, checks[0].files.clone()), (1, false, check.files.clone()));
    assert_eq!(checks[0].check, hub_domain::Check::Md5);
    let remuxed = db.asset(package.id).await.unwrap();
    assert_eq!(
        (remuxed.state, remuxed.blob_key.as_deref(), remuxed.original_blob_key.as_deref()),
        (AssetState::Valid, Some("projects/1/a/v2.remux"), Some("projects/1/a/v2"))
    );
    assert_eq!(
        db.request(pending_request.id).await.unwrap().state,
        RequestState::Processed,
        "all its assets are Valid"
    );
    assert_eq!(db.count_history(package.id, HistoryAction::Valid).await.unwrap(), 1);
    // Validated again (a revalidation): the delivered bytes stay the original.
    db.transition_asset(package.id, AssetState::Valid, AssetState::Validating).await.unwrap();
    let again = hub::db::ValidationResult {
        remuxed: Some("again".into()),
        to: AssetState::Invalid,
        detail: "md5: mismatch".into(),
        ..verdict
    };
    db.finish_validation(&again).await.unwrap();
    let asset = db.asset(package.id).await.unwrap();
    assert_eq!(asset.original_blob_key.as_deref(), Some("projects/1/a/v2"), "unchanged");
    assert_eq!(asset.blob_key.as_deref(), Some("projects/1/a/v2.remux"), "unchanged");
    assert_eq!(db.count_history(package.id, HistoryAction::Invalid).await.unwrap(), 1);
    // An asset of the request found Invalid sends the Processed request back to Submitted.
    let stems = db.asset_versions(film.id, sound, "r2_stems.wav").await.unwrap().remove(0);
    assert_eq!(stems.request_id, Some(pending_request.id));
    db.transition_asset(stems.id, AssetState::Valid, AssetState::Validating).await.unwrap();
    let stems_verdict = hub::db::ValidationResult { asset_id: stems.id, remuxed: None, checks: Vec::new(), ..again };
    db.finish_validation(&stems_verdict).await.unwrap();
    assert_eq!(db.request(pending_request.id).await.unwrap().state, RequestState::Submitted, "an asset is Invalid");

    // Package streams: a run of files in declared order, bound to one upload in one statement with
    // each file's offset in it, all or none; the layout says where each file is.
    assert_eq!(db.member_run(package.id, 0, 1).await.unwrap(), (2, 150, 2), "both carried by live uploads");
    assert_eq!(db.member_run(package.id, 1, 5).await.unwrap(), (1, 50, 1), "only b.dpx is in that run");
    db.create_upload(&upload("up_s", 150, 0)).await.unwrap();
    assert!(matches!(db.bind_stream(package.id, 0, 1, "up_s").await, Err(RepoError::Conflict(_))));
    db.delete_upload("up_a").await.unwrap();
    assert!(matches!(db.bind_stream(package.id, 0, 1, "up_s").await, Err(RepoError::Conflict(_))), "b.dpx still");
    assert_eq!(db.package_layout(package.id).await.unwrap()[0].stream, None, "nothing changed");
    db.delete_upload("up_b").await.unwrap();
    assert_eq!(db.member_run(package.id, 0, 1).await.unwrap(), (2, 150, 0));
    db.bind_stream(package.id, 0, 1, "up_s").await.unwrap();
    let layout = db.package_layout(package.id).await.unwrap();
    let places: Vec<_> = layout.iter().map(|m| (m.name.as_str(), m.stream.as_deref(), m.offset, m.crc32)).collect();
    assert_eq!(places, vec![("a.dpx", Some("up_s"), 0, None), ("b.dpx", Some("up_s"), 100, None)]);
    assert_eq!(layout[1].key("packages/r1"), hub::db::stream_key("packages/r1", "up_s"));
    assert_eq!(hub::db::stream_key("packages/r1", "up_s"), "packages/r1-stream-up_s");
    db.create_upload(&upload("up_t", 150, 0)).await.unwrap();
    assert!(matches!(db.bind_stream(package.id, 0, 1, "up_t").await, Err(RepoError::Conflict(_))), "up_s lives");
    // What validation read of each file is recorded for the ZIP download.
    db.record_member_digests(package.id, &[None, Some(([7; 16], 4_000_000_000))].into_iter().collect()).await.unwrap();
    let crcs: Vec<_> = db.package_layout(package.id).await.unwrap().iter().map(|m| m.crc32).collect();
    assert_eq!(crcs, vec![None, Some(4_000_000_000)]);
    // Recorded again (a revalidation), it replaces what was; recorded for another list of files
    // than the package has, it is not taken for theirs.
    db.record_member_digests(package.id, &[Some(([1; 16], 1)), Some(([2; 16], 2))].into_iter().collect())
        .await
        .unwrap();
    let crcs: Vec<_> = db.package_layout(package.id).await.unwrap().iter().map(|m| m.crc32).collect();
    assert_eq!(crcs, vec![Some(1), Some(2)]);
    db.record_member_digests(package.id, &[Some(([1; 16], 1))].into_iter().collect()).await.unwrap();
    let crcs: Vec<_> = db.package_layout(package.id).await.unwrap().iter().map(|m| m.crc32).collect();
    assert_eq!(crcs, vec![None, None]);
    // What a stream's PATCHes read of its files as they arrived: its run (sizes in order); rows
    // merged in the package's order, only from a stream that still carries their first file;
    // rows ending past a lower offset dropped; forgotten after validation; gone with the stream.
    let run = db.stream_run("up_s").await.unwrap().unwrap();
    assert_eq!((run.asset_id, run.first, run.sizes), (package.id, 0, vec![100, 50]));
    assert_eq!(db.stream_run("up_t").await.unwrap(), None, "up_t carries nothing");
    let one = |n: u8| -> hub::db::PackageDigests { [Some(([n; 16], n as u32))].into_iter().collect() };
    db.record_arrivals(package.id, "up_s", 0, 100, &one(1)).await.unwrap();
    db.record_arrivals(package.id, "up_s", 1, 150, &one(2)).await.unwrap();
    db.record_arrivals(package.id, "up_t", 0, 100, &one(3)).await.unwrap();
    let arrived = db.arrivals(package.id, 2).await.unwrap();
    assert_eq!((arrived.get(0), arrived.get(1)), (Some(([1; 16], 1)), Some(([2; 16], 2))), "not up_t's");
    db.drop_arrivals("up_s", 120).await.unwrap();
    let arrived = db.arrivals(package.id, 2).await.unwrap();
    assert_eq!((arrived.get(0), arrived.get(1)), (Some(([1; 16], 1)), None), "b.dpx ends past byte 120");
    db.forget_arrivals(package.id).await.unwrap();
    assert_eq!(db.arrivals(package.id, 2).await.unwrap().get(0), None, "forgotten");
    db.record_arrivals(package.id, "up_s", 0, 100, &one(1)).await.unwrap();
    db.unbind_member("up_s").await.unwrap();
    assert_eq!(db.arrivals(package.id, 2).await.unwrap().get(0), None, "gone with the stream's files");
    let mut all = hub::db::PackageDigests::new(3);
    all.merge_at(1, &one(5));
    all.merge_at(3, &one(6));
    assert_eq!((all.get(0), all.get(1), all.get(2)), (None, Some(([5; 16], 5)), None), "past the end: left out");
    // Every file of a validated package as validation found it: paged by name, replaced by the
    // next validation.
    let file = |name: &str, ok: bool| hub::db::PackageFile {
        name: name.into(),
        size: 1,
        md5: ok.then(|| "0".repeat(32)),
        ok,
        result: if ok { "ok".into() } else { "size is 2 bytes; checksum.txt says 1".into() },
    };
    assert_eq!(db.package_files(package.id, "", 10).await.unwrap(), None, "no validation listed them");
    db.record_package_files(package.id, &[file("a.dpx", true), file("b.dpx", false), file("c.dpx", true)])
        .await
        .unwrap();
    assert_eq!(db.package_files(package.id, "a.dpx", 1).await.unwrap(), Some((vec![file("b.dpx", false)], 3)));
    db.record_package_files(package.id, &[file("z.dpx", true)]).await.unwrap();
    assert_eq!(db.package_files(package.id, "", 10).await.unwrap(), Some((vec![file("z.dpx", true)], 1)));
    // Digests as the validation child sends them: a file read, one not, whole records only.
    let mut digests = hub::db::PackageDigests::new(2);
    digests.set(1, [9; 16], 7);
    assert_eq!((digests.get(0), digests.get(1), digests.get(2)), (None, Some(([9; 16], 7)), None));
    assert_eq!(digests.count_read(), 1);
    let text = serde_json::to_string(&digests).unwrap();
    assert_eq!(serde_json::from_str::<hub::db::PackageDigests>(&text).unwrap(), digests);
    assert!(serde_json::from_str::<hub::db::PackageDigests>("\"AAAA\"").is_err(), "3 bytes are no record");
}

/// Every public method of the database layer is called by the suite above (which runs on both
/// backends): a new method without a test fails here, naming it.
#[test]
fn the_suite_calls_every_public_database_method() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let suite = std::fs::read_to_string(root.join("tests/repo.rs")).unwrap();
    let mut methods = Vec::new();
    for entry in std::fs::read_dir(root.join("src/db")).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        for line in source.lines() {
            let line = line.trim_start();
            let Some(rest) = line.strip_prefix("pub async fn ").or_else(|| line.strip_prefix("pub fn ")) else {
                continue;
            };
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            methods.push((path.file_name().unwrap().to_string_lossy().into_owned(), name));
        }
    }
    assert!(methods.len() > 70, "found only {} methods: is the parser still right?", methods.len());
    let uncalled: Vec<String> = methods
        .iter()
        .filter(|(_, name)| !suite.contains(&format!(".{name}(")) && !suite.contains(&format!("::{name}(")))
        .map(|(file, name)| format!("{file}: {name}"))
        .collect();
    assert!(uncalled.is_empty(), "public database methods no repository test calls: {uncalled:#?}");
}

#[tokio::test]
async fn repository_behaviour_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("hub.db").display());
    assert_eq!(Db::connect(&url).await.unwrap().dialect(), hub::db::Dialect::Sqlite);
    suite(Db::connect(&url).await.unwrap()).await;
}

#[tokio::test]
async fn repository_behaviour_on_postgres() {
    let Some(database) = testkit::PgDatabase::create().await else { return };
    let db = Db::connect(&database.url).await.unwrap();
    assert_eq!(db.dialect(), hub::db::Dialect::Postgres);
    suite(db.clone()).await;
    db.ensure_metadata_indexes().await.expect("indexes again: a no-op");
}

#[tokio::test]
async fn an_unknown_database_url_is_refused_with_its_password_hidden() {
    let err = Db::connect("mysql://hub:s3cret@db/hub").await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("use sqlite://PATH or postgres://") && text.contains("hub:***@db"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    assert_eq!(hub::db::redact_url("postgres://hub:s3cret@db/hub"), "postgres://hub:***@db/hub");
    assert!(hub::db::now_ms() > 1_700_000_000_000);
}

/// An upload half sent before the upgrade that made an upload's storage state opaque keeps its
/// multipart parts and pending bytes (the S3 store reads them back from `store_state`), and one
/// without any keeps an empty state.
async fn upgrade_keeps_upload_state(url: &str) {
    let db = Db::connect(url).await.unwrap();
    db.migrate_until(Some("0009_delivery_key")).await.unwrap();
    let project = db.create_project("Old Film", "OF").await.unwrap();
    // Through sqlx directly: the rows an older release wrote.
    let insert = "INSERT INTO uploads (id, project_id, bucket, length, upload_offset, metadata, part_size, \
                  multipart_id, parts, pending_key, pending_size, blob_key, completed, created_ms, expires_ms) \
                  VALUES ($1, $2, 'music', 100000000, $3, '', 8388608, $4, $5, $6, $7, $8, $9, 0, 9999999999999)";
    // id, offset, multipart id, parts, pending key, pending size
    type OldUpload = (&'static str, i64, Option<&'static str>, &'static str, Option<&'static str>, i64);
    let old: [OldUpload; 2] = [
        ("up_s3", 9_000_000, Some("mp-1"), r#"["etag-1"]"#, Some("uploads/up_s3/pending-9000000"), 611_392),
        ("up_local", 500, None, "[]", None, 0),
    ];
    macro_rules! write_old {
        ($pool:expr) => {{
            let pool = $pool;
            for (id, offset, multipart, parts, pending, pending_size) in old {
                sqlx::query(insert)
                    .bind(id)
                    .bind(project.id)
                    .bind(offset)
                    .bind(multipart)
                    .bind(parts)
                    .bind(pending)
                    .bind(pending_size)
                    .bind(format!("uploads/{id}/data"))
                    .bind(false)
                    .execute(&pool)
                    .await
                    .unwrap();
            }
        }};
    }
    if url.starts_with("sqlite:") {
        write_old!(sqlx::SqlitePool::connect(url).await.unwrap());
    } else {
        write_old!(sqlx::PgPool::connect(url).await.unwrap());
    }
    db.migrate().await.unwrap();
    let s3 = db.upload("up_s3").await.unwrap();
    let state: serde_json::Value = serde_json::from_str(&s3.store_state).unwrap();
    assert_eq!(
        state,
        json!({"part_size": 8388608, "multipart": "mp-1", "parts": ["etag-1"],
               "pending": "uploads/up_s3/pending-9000000", "pending_size": 611392}),
        "{}",
        s3.store_state
    );
    assert_eq!((s3.offset, s3.length), (9_000_000, Some(100_000_000)));
    assert_eq!(db.upload("up_local").await.unwrap().store_state, "", "nothing to keep");
}

#[tokio::test]
async fn upgrading_keeps_half_sent_uploads_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    upgrade_keeps_upload_state(&format!("sqlite://{}", dir.path().join("hub.db").display())).await;
}

#[tokio::test]
async fn upgrading_keeps_half_sent_uploads_on_postgres() {
    let Some(database) = testkit::PgDatabase::create().await else { return };
    upgrade_keeps_upload_state(&database.url).await;
}
