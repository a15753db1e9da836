//! The real server on port 0, driven through the real client (`crates/client`): a studio sets up
//! a project, a vendor works in it with a token, and the boundaries hold.

mod common;

use client::{AssetQuery, Client};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_studio_and_its_vendors_through_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| common::start(dir.path(), &["--demo"], &[]));
    let base = format!("http://{}", server.addr);
    let password = common::admin_password(&server);

    let wrong = Client::login(&base, "admin", "not-it").await.unwrap_err();
    assert_eq!((wrong.status(), wrong.code()), (Some(401), Some("bad_credentials")));
    let admin = Client::login(&base, "admin", &password).await.unwrap();
    assert!(admin.me().await.unwrap().user.site_admin);

    // The demo project exists; a new one is made for this test.
    let demo = admin.projects().await.unwrap();
    assert!(demo.iter().any(|p| p.name == "Demo Feature"));
    let project = admin.create_project("Client Test Film").await.unwrap().id;
    admin.add_member(project, "soundhouse", "contributor", Some(&["final-sound"])).await.unwrap();
    admin.add_member(project, "exec", "viewer", None).await.unwrap();
    let err = admin.add_member(project, "nobody", "viewer", None).await.unwrap_err();
    assert_eq!(err.code(), Some("invalid"));

    let request = admin
        .create_request(project, "final-sound", "Reel 1 printmaster 5.1", json!({"reel": 1, "format": "5.1"}))
        .await
        .unwrap();
    assert_eq!(request.state, hub_domain::RequestState::Open);

    // The demo vendor works with an API token, made the way an operator makes one.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_contenthub"))
        .args(["admin", "create-token", "soundhouse", "--name", "ci", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let vendor = Client::new(&base).with_token(&token);
    let mine = vendor.projects().await.unwrap();
    assert_eq!(mine.iter().filter(|p| p.id == project).count(), 1);
    let requests = vendor.requests(project, "final-sound").await.unwrap();
    assert_eq!(requests.len(), 1);
    // Scoped to Final Sound: VFX does not exist for this vendor.
    let hidden = vendor.assets(project, "vfx", &AssetQuery::default()).await.unwrap_err();
    assert_eq!(hidden.code(), Some("not_found"));
    // A vendor cannot manage requests.
    let refused = vendor.transition_request(request.id, "reject", Some("no")).await.unwrap_err();
    assert_eq!(refused.code(), Some("forbidden"));

    // Listing through the client, with a metadata filter, on the demo project.
    let demo_id = demo.iter().find(|p| p.name == "Demo Feature").unwrap().id;
    let page = admin
        .assets(demo_id, "final-sound", &AssetQuery { meta: vec![("reel".into(), "2".into())], ..Default::default() })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let id = page.items[0].id;
    let edited = admin.update_metadata(id, json!({"language": "de"})).await.unwrap();
    assert_eq!(edited.metadata["language"], "de");
    let invalid = admin.update_metadata(id, json!({"format": "9.1"})).await.unwrap_err();
    match invalid {
        client::ClientError::Api { status: 422, fields, .. } => assert_eq!(fields[0].field, "format"),
        other => panic!("{other}"),
    }

    admin.logout().await.unwrap();
    assert_eq!(admin.me().await.unwrap_err().status(), Some(401));
    tokio::task::block_in_place(|| common::stop(server));
}
