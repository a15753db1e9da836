//! Who may do what, route by route, with read-back: every actor (outsider, viewer, contributor of
//! other buckets, contributor, another contributor, manager of other buckets, manager, site admin,
//! nobody) with every credential (API token, session with its CSRF token, session without it) on
//! every route. Each case starts from fresh state; a refused write is followed by reading the state
//! back unchanged, an allowed one by reading it back changed; each refusal has its own status and
//! error code (401 unauthenticated, 403 forbidden or csrf, 404 not_found). On both backends.

use std::collections::HashMap;

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use base64::Engine;
use common::TestHub;
use hub::db::NewAsset;
use hub::store::BlobKey;
use hub_domain::{AssetState, BucketKind, Metadata, RequestState, Role};
use serde_json::{Value, json};
use testkit::Stack;

/// Who asks. The targets live in Final Sound; "scoped" people work in VFX only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    Nobody,
    Outsider,
    Viewer,
    ScopedContributor,
    /// Made the deliveries and uploads the cases aim at.
    Owner,
    /// A contributor of the same bucket who did not make them.
    OtherContributor,
    ScopedManager,
    Manager,
    Admin,
}

const EVERYONE: [Who; 9] = [
    Who::Nobody,
    Who::Outsider,
    Who::Viewer,
    Who::ScopedContributor,
    Who::Owner,
    Who::OtherContributor,
    Who::ScopedManager,
    Who::Manager,
    Who::Admin,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    Token,
    Session,
    /// A session cookie without the X-CSRF-Token header (a forged cross-site request).
    SessionWithoutCsrf,
}

/// Who a route is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    SignedIn,
    SiteAdmin,
    /// Members of the project, whatever their buckets.
    ProjectMember,
    /// Unscoped managers of the project.
    ProjectManager,
    /// Members who see Final Sound.
    BucketViewer,
    /// Contributors and managers who see Final Sound.
    BucketContributor,
    /// Managers who see Final Sound.
    BucketManager,
    /// The delivery's maker, and managers who see the bucket.
    Owned,
    /// The upload's maker, and managers who see the bucket; only contributors speak tus at all.
    OwnedUpload,
    /// Only the thing's owner (an API token): no one else, not even an admin, sees it.
    OwnerOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Allowed,
    Unauthenticated,
    Forbidden,
    Csrf,
    Hidden,
    /// Any other answer: not a decision about access at all.
    Other,
}

fn expected(access: Access, who: Who, credential: Credential, writes: bool) -> Outcome {
    use Outcome::*;
    if who == Who::Nobody {
        return Unauthenticated;
    }
    if writes && credential == Credential::SessionWithoutCsrf {
        return Csrf;
    }
    let sees_project = who != Who::Outsider;
    let sees_bucket = sees_project && !matches!(who, Who::ScopedContributor | Who::ScopedManager);
    let contributes = matches!(who, Who::Owner | Who::OtherContributor | Who::Manager | Who::Admin);
    let manages = matches!(who, Who::Manager | Who::Admin);
    match access {
        Access::SignedIn => Allowed,
        Access::SiteAdmin if who == Who::Admin => Allowed,
        Access::SiteAdmin => Forbidden,
        Access::ProjectMember if sees_project => Allowed,
        Access::ProjectManager if manages => Allowed,
        Access::ProjectManager if sees_project => Forbidden,
        Access::BucketViewer if sees_bucket => Allowed,
        Access::BucketContributor if contributes => Allowed,
        Access::BucketContributor if sees_bucket => Forbidden,
        Access::BucketManager if manages => Allowed,
        Access::BucketManager if sees_bucket => Forbidden,
        Access::OwnerOnly if who == Who::Owner => Allowed,
        Access::Owned | Access::OwnedUpload if who == Who::Owner || manages => Allowed,
        Access::OwnedUpload if who == Who::Viewer => Forbidden,
        // A viewer may not write at all; to anyone else another's delivery does not exist.
        Access::Owned if who == Who::Viewer && writes => Forbidden,
        _ => Hidden,
    }
}

struct World {
    hub: TestHub,
    project: i64,
    users: HashMap<Who, i64>,
    tokens: HashMap<Who, String>,
    sessions: HashMap<Who, (String, String)>,
}

/// What one case aims at, made fresh for it.
#[derive(Debug, Default)]
struct Target {
    asset: i64,
    request: i64,
    victim: i64,
    delivery: i64,
    /// The tus upload URL (`/api/v1/uploads/ID`) of an unfinished upload.
    upload: String,
    /// Complete partial uploads of the owner, for a final concatenation.
    partials: Vec<String>,
    token: i64,
    counter: usize,
    /// Blobs under `uploads/` before the case, to tell whether a creation stored anything.
    upload_blobs: usize,
}

const WAV: &[u8] = b"RIFF and some sound";

async fn world(stack: Stack) -> World {
    let hub = TestHub::new(stack, |_| {}).await;
    let (db, project) = (hub.stack.db.clone(), hub.project);
    let other = db.create_project("Other Show", "OS").await.unwrap().id;
    let (mut users, mut tokens, mut sessions) = (HashMap::new(), HashMap::new(), HashMap::new());
    let vfx = [BucketKind::Vfx];
    for (i, who) in EVERYONE.iter().enumerate() {
        if *who == Who::Nobody {
            continue;
        }
        let name = format!("user{i}");
        let user = db.create_user(&name, &format!("{who:?}"), "hash", *who == Who::Admin).await.unwrap();
        let membership = match who {
            Who::Outsider => {
                db.set_member(other, user.id, Role::Manager, None).await.unwrap();
                None
            }
            Who::Viewer => Some((Role::Viewer, None)),
            Who::ScopedContributor => Some((Role::Contributor, Some(&vfx[..]))),
            Who::Owner | Who::OtherContributor => Some((Role::Contributor, None)),
            Who::ScopedManager => Some((Role::Manager, Some(&vfx[..]))),
            Who::Manager => Some((Role::Manager, None)),
            Who::Nobody | Who::Admin => None,
        };
        if let Some((role, buckets)) = membership {
            db.set_member(project, user.id, role, buckets).await.unwrap();
        }
        let token = format!("cht_matrix_{i}");
        db.create_token(user.id, "tests", &token, hub_domain::TokenScope::Manage, None).await.unwrap();
        let session = (format!("chs_matrix_{i}"), format!("csrf{i}"));
        db.create_session(&session.0, user.id, &session.1, hub::db::now_ms() + 3_600_000).await.unwrap();
        users.insert(*who, user.id);
        tokens.insert(*who, token);
        sessions.insert(*who, session);
    }
    World { hub, project, users, tokens, sessions }
}

type Reply = common::Answer;

impl World {
    async fn send(&self, method: Method, path: &str, headers: &[(String, String)], body: Body) -> Reply {
        common::request(&self.hub.app, method, path, headers, body).await
    }

    fn auth(&self, who: Who, credential: Credential) -> Vec<(String, String)> {
        if who == Who::Nobody {
            return Vec::new();
        }
        match credential {
            Credential::Token => vec![("authorization".into(), format!("Bearer {}", self.tokens[&who]))],
            Credential::Session | Credential::SessionWithoutCsrf => {
                let (session, csrf) = &self.sessions[&who];
                let mut headers = vec![("cookie".into(), format!("contenthub_session={session}"))];
                if credential == Credential::Session {
                    headers.push(("x-csrf-token".into(), csrf.clone()));
                }
                headers
            }
        }
    }

    /// A call as the owner, with a token, for setting up: it must succeed.
    async fn as_owner(&self, method: Method, path: &str, extra: &[(&str, String)], body: Body) -> Reply {
        let mut headers = self.auth(Who::Owner, Credential::Token);
        headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let reply = self.send(method.clone(), path, &headers, body).await;
        assert!(reply.status.is_success(), "set-up {method} {path}: {} {}", reply.status, reply.raw);
        reply
    }

    async fn asset(&self, counter: usize) -> i64 {
        let db = &self.hub.stack.db;
        let name = format!("secret_r{counter}_pm.wav");
        let key = BlobKey::new(format!("matrix/{counter}/{name}")).unwrap();
        self.hub.stack.store.put_stream(&key, &mut &WAV[..]).await.unwrap();
        let metadata: Metadata =
            serde_json::from_value(json!({"reel": 1, "mix_type": "stems", "format": "5.1"})).unwrap();
        let asset = db
            .create_asset(&NewAsset {
                project_id: self.project,
                bucket: BucketKind::FinalSound,
                name,
                state: AssetState::Valid,
                size: WAV.len() as i64,
                md5: None,
                metadata,
                request_id: None,
                created_by: Some(self.users[&Who::Owner]),
            })
            .await
            .unwrap();
        db.set_asset_blob(asset.id, key.as_str()).await.unwrap();
        asset.id
    }

    /// A tus creation request body's metadata for Final Sound.
    fn tus_metadata(&self, filename: Option<&str>) -> String {
        let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
        let mut pairs =
            vec![format!("project {}", b64(&self.project.to_string())), format!("bucket {}", b64("final-sound"))];
        if let Some(name) = filename {
            pairs.push(format!("filename {}", b64(name)));
        }
        pairs.join(",")
    }

    async fn tus_create(&self, length: usize, filename: Option<&str>, partial: bool, data: Option<&[u8]>) -> String {
        let mut headers = vec![
            ("tus-resumable", "1.0.0".to_owned()),
            ("upload-length", length.to_string()),
            ("upload-metadata", self.tus_metadata(filename)),
        ];
        if partial {
            headers.push(("upload-concat", "partial".into()));
        }
        let body = match data {
            Some(data) => {
                headers.push(("content-type", "application/offset+octet-stream".into()));
                Body::from(data.to_vec())
            }
            None => Body::empty(),
        };
        let reply = self.as_owner(Method::POST, "/api/v1/uploads", &headers, body).await;
        reply.headers["location"].to_str().unwrap().to_owned()
    }

    async fn upload_offset(&self, url: &str) -> Option<i64> {
        let id = url.rsplit('/').next().unwrap();
        self.hub.stack.db.upload(id).await.ok().map(|u| u.offset)
    }

    /// The ids of `who`'s tokens that still work.
    async fn live_tokens_of(&self, who: Who) -> Vec<i64> {
        let tokens = self.hub.stack.db.tokens(self.users[&who]).await.unwrap();
        tokens.into_iter().filter(|t| t.revoked_ms.is_none()).map(|t| t.id).collect()
    }
}

/// What a route needs made before it is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    Nothing,
    Asset,
    Request,
    Victim,
    /// A user who is not a member yet.
    Newbie,
    Delivery,
    /// A delivery whose only file is complete (0 bytes), ready for DELIVER.
    ReadyDelivery,
    /// A package (a frame folder) declared by the owner.
    Package,
    /// Such a package, with the list of files a validation found.
    ValidatedPackage,
    Upload,
    Partials,
    OwnToken,
    OwnersToken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Me,
    ListTokens,
    CreateToken,
    RevokeOwnToken,
    RevokeOthersToken,
    ListProjects,
    CreateProject,
    GetProject,
    ProjectSettings,
    Buckets,
    Members,
    AddMember,
    ChangeMember,
    RemoveMember,
    ListAssets,
    BulkEdit,
    ListRequests,
    CreateRequest,
    GetAsset,
    EditAsset,
    DeleteAsset,
    AssetHistory,
    Download,
    Revalidate,
    Validation,
    PackageMembers,
    PackageFiles,
    GetRequest,
    EditRequest,
    TransitionRequest,
    RequestHistory,
    Declare,
    GetDelivery,
    Deliver,
    CreateUpload,
    HeadUpload,
    PatchUpload,
    DeleteUpload,
    Concatenate,
}

const ROUTES: [Route; 39] = [
    Route::Me,
    Route::ListTokens,
    Route::CreateToken,
    Route::RevokeOwnToken,
    Route::RevokeOthersToken,
    Route::ListProjects,
    Route::CreateProject,
    Route::GetProject,
    Route::ProjectSettings,
    Route::Buckets,
    Route::Members,
    Route::AddMember,
    Route::ChangeMember,
    Route::RemoveMember,
    Route::ListAssets,
    Route::BulkEdit,
    Route::ListRequests,
    Route::CreateRequest,
    Route::GetAsset,
    Route::EditAsset,
    Route::DeleteAsset,
    Route::AssetHistory,
    Route::Download,
    Route::Revalidate,
    Route::Validation,
    Route::PackageMembers,
    Route::PackageFiles,
    Route::GetRequest,
    Route::EditRequest,
    Route::TransitionRequest,
    Route::RequestHistory,
    Route::Declare,
    Route::GetDelivery,
    Route::Deliver,
    Route::CreateUpload,
    Route::HeadUpload,
    Route::PatchUpload,
    Route::DeleteUpload,
    Route::Concatenate,
];

impl Route {
    fn access(self) -> Access {
        use Route::*;
        match self {
            Me | ListTokens | CreateToken | RevokeOwnToken | ListProjects => Access::SignedIn,
            // Another user's token is not there for anyone but its owner: 404 even for an admin.
            RevokeOthersToken => Access::OwnerOnly,
            CreateProject => Access::SiteAdmin,
            GetProject | Buckets | Members => Access::ProjectMember,
            ProjectSettings | AddMember | ChangeMember | RemoveMember => Access::ProjectManager,
            ListAssets | ListRequests | GetAsset | AssetHistory | Download | Validation | PackageMembers
            | PackageFiles | GetRequest | RequestHistory => Access::BucketViewer,
            BulkEdit | EditAsset | Declare | CreateUpload => Access::BucketContributor,
            CreateRequest | DeleteAsset | Revalidate | EditRequest | TransitionRequest => Access::BucketManager,
            GetDelivery | Deliver => Access::Owned,
            HeadUpload | PatchUpload | DeleteUpload | Concatenate => Access::OwnedUpload,
        }
    }

    fn needs(self) -> Needs {
        use Route::*;
        match self {
            BulkEdit | GetAsset | EditAsset | DeleteAsset | AssetHistory | Download | Revalidate | Validation => {
                Needs::Asset
            }
            GetRequest | EditRequest | TransitionRequest | RequestHistory | Declare => Needs::Request,
            ChangeMember | RemoveMember => Needs::Victim,
            AddMember => Needs::Newbie,
            GetDelivery => Needs::Delivery,
            PackageMembers => Needs::Package,
            PackageFiles => Needs::ValidatedPackage,
            Deliver => Needs::ReadyDelivery,
            HeadUpload | PatchUpload | DeleteUpload => Needs::Upload,
            Concatenate => Needs::Partials,
            RevokeOwnToken => Needs::OwnToken,
            RevokeOthersToken => Needs::OwnersToken,
            _ => Needs::Nothing,
        }
    }

    fn method(self) -> Method {
        use Route::*;
        match self {
            Me | ListTokens | ListProjects | GetProject | Buckets | Members | ListAssets | ListRequests | GetAsset
            | AssetHistory | Download | Validation | PackageMembers | PackageFiles | GetRequest | RequestHistory
            | GetDelivery => Method::GET,
            HeadUpload => Method::HEAD,
            ProjectSettings | ChangeMember | BulkEdit | EditAsset | EditRequest | PatchUpload => Method::PATCH,
            RevokeOwnToken | RevokeOthersToken | RemoveMember | DeleteAsset | DeleteUpload => Method::DELETE,
            CreateToken | CreateProject | AddMember | CreateRequest | Revalidate | TransitionRequest | Declare
            | Deliver | CreateUpload | Concatenate => Method::POST,
        }
    }

    fn writes(self) -> bool {
        !matches!(self.method(), Method::GET | Method::HEAD)
    }

    /// The request: path, extra headers, body.
    fn request(self, w: &World, t: &Target) -> (String, Vec<(String, String)>, Body) {
        use Route::*;
        let p = w.project;
        let json_body = |v: Value| Body::from(v.to_string());
        let tus = |extra: &[(&str, String)]| {
            let mut headers = vec![("tus-resumable".to_owned(), "1.0.0".to_owned())];
            headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
            headers
        };
        let (path, headers, body) = match self {
            Me => ("/api/v1/me".into(), vec![], Body::empty()),
            ListTokens => ("/api/v1/tokens".into(), vec![], Body::empty()),
            CreateToken => {
                ("/api/v1/tokens".into(), vec![], json_body(json!({"name": format!("matrix{}", t.counter)})))
            }
            RevokeOwnToken | RevokeOthersToken => (format!("/api/v1/tokens/{}", t.token), vec![], Body::empty()),
            ListProjects => ("/api/v1/projects".into(), vec![], Body::empty()),
            CreateProject => {
                ("/api/v1/projects".into(), vec![], json_body(json!({"name": format!("New Show {}", t.counter)})))
            }
            GetProject => (format!("/api/v1/projects/{p}"), vec![], Body::empty()),
            ProjectSettings => (format!("/api/v1/projects/{p}"), vec![], json_body(json!({"fast_start_remux": true}))),
            Buckets => (format!("/api/v1/projects/{p}/buckets"), vec![], Body::empty()),
            Members => (format!("/api/v1/projects/{p}/members"), vec![], Body::empty()),
            AddMember => (
                format!("/api/v1/projects/{p}/members"),
                vec![],
                json_body(json!({"username": format!("newbie{}", t.counter), "role": "viewer"})),
            ),
            ChangeMember => {
                (format!("/api/v1/projects/{p}/members/{}", t.victim), vec![], json_body(json!({"role": "viewer"})))
            }
            RemoveMember => (format!("/api/v1/projects/{p}/members/{}", t.victim), vec![], Body::empty()),
            ListAssets => (format!("/api/v1/projects/{p}/buckets/final-sound/assets"), vec![], Body::empty()),
            BulkEdit => (
                format!("/api/v1/projects/{p}/buckets/final-sound/assets"),
                vec![],
                json_body(json!({"ids": [t.asset], "metadata": {"language": "en"}})),
            ),
            ListRequests => (format!("/api/v1/projects/{p}/buckets/final-sound/requests"), vec![], Body::empty()),
            CreateRequest => (
                format!("/api/v1/projects/{p}/buckets/final-sound/requests"),
                vec![],
                json_body(json!({"title": format!("Secret reel {}", t.counter), "metadata": {"reel": 9}})),
            ),
            GetAsset | DeleteAsset => (format!("/api/v1/assets/{}", t.asset), vec![], Body::empty()),
            EditAsset => {
                (format!("/api/v1/assets/{}", t.asset), vec![], json_body(json!({"metadata": {"language": "fr"}})))
            }
            AssetHistory => (format!("/api/v1/assets/{}/history", t.asset), vec![], Body::empty()),
            Download => (format!("/api/v1/assets/{}/content", t.asset), vec![], Body::empty()),
            Revalidate => (format!("/api/v1/assets/{}/revalidate", t.asset), vec![], Body::empty()),
            Validation => (format!("/api/v1/assets/{}/validation", t.asset), vec![], Body::empty()),
            PackageMembers => (format!("/api/v1/assets/{}/members", t.asset), vec![], Body::empty()),
            PackageFiles => (format!("/api/v1/assets/{}/files", t.asset), vec![], Body::empty()),
            GetRequest => (format!("/api/v1/requests/{}", t.request), vec![], Body::empty()),
            EditRequest => (format!("/api/v1/requests/{}", t.request), vec![], json_body(json!({"title": "Renamed"}))),
            TransitionRequest => (
                format!("/api/v1/requests/{}/transition", t.request),
                vec![],
                json_body(json!({"event": "reject", "reason": "not needed"})),
            ),
            RequestHistory => (format!("/api/v1/requests/{}/history", t.request), vec![], Body::empty()),
            Declare => (
                format!("/api/v1/projects/{p}/deliveries"),
                vec![],
                json_body(json!({"bucket": "final-sound", "files": [{"name": format!("decl_{}.wav", t.counter),
                    "size": 5, "metadata": {"reel": 1, "mix_type": "stems", "format": "5.1"}, "request_id": t.request}]})),
            ),
            GetDelivery => (format!("/api/v1/deliveries/{}", t.delivery), vec![], Body::empty()),
            Deliver => (format!("/api/v1/deliveries/{}/deliver", t.delivery), vec![], Body::empty()),
            CreateUpload => (
                "/api/v1/uploads".into(),
                tus(&[
                    ("upload-length", "3".into()),
                    ("upload-metadata", w.tus_metadata(Some(&format!("up_{}.wav", t.counter)))),
                    ("content-type", "application/offset+octet-stream".into()),
                ]),
                Body::from(b"abc".to_vec()),
            ),
            HeadUpload | DeleteUpload => (t.upload.clone(), tus(&[]), Body::empty()),
            PatchUpload => (
                t.upload.clone(),
                tus(&[("upload-offset", "0".into()), ("content-type", "application/offset+octet-stream".into())]),
                Body::from(b"12345".to_vec()),
            ),
            Concatenate => (
                "/api/v1/uploads".into(),
                tus(&[
                    ("upload-metadata", w.tus_metadata(Some(&format!("joined_{}.wav", t.counter)))),
                    ("upload-concat", format!("final;{}", t.partials.join(" "))),
                ]),
                Body::empty(),
            ),
        };
        let mut headers = headers;
        if !matches!(self, CreateUpload | HeadUpload | PatchUpload | DeleteUpload | Concatenate)
            && self.writes()
            && !matches!(self, RevokeOwnToken | RevokeOthersToken | RemoveMember | DeleteAsset | Revalidate | Deliver)
        {
            headers.push((header::CONTENT_TYPE.to_string(), "application/json".into()));
        }
        (path, headers, body)
    }
}

async fn prepare(w: &World, route: Route, who: Who, counter: usize) -> Target {
    let db = &w.hub.stack.db;
    let upload_blobs = w.hub.stack.store.list("uploads/").await.unwrap().len();
    let mut t = Target { counter, upload_blobs, ..Target::default() };
    match route.needs() {
        Needs::Nothing => {}
        Needs::Asset => t.asset = w.asset(counter).await,
        Needs::Request => {
            let meta: Metadata = serde_json::from_value(json!({"reel": 1})).unwrap();
            t.request = db.create_request(w.project, BucketKind::FinalSound, "Secret reel", &meta).await.unwrap().id;
        }
        Needs::Victim => {
            let victim = db.create_user(&format!("victim{counter}"), "Victim", "hash", false).await.unwrap();
            db.set_member(w.project, victim.id, Role::Contributor, None).await.unwrap();
            t.victim = victim.id;
        }
        Needs::Newbie => {
            db.create_user(&format!("newbie{counter}"), "Newbie", "hash", false).await.unwrap();
        }
        Needs::Package | Needs::ValidatedPackage => {
            let meta: Metadata = serde_json::from_value(json!({"reel": 1})).unwrap();
            let request = db.create_request(w.project, BucketKind::FinalSound, "Secret reel", &meta).await.unwrap();
            let members = json!([{"name": "f.0001.dpx", "size": 3}, {"name": "checksum.txt", "size": 40}]);
            let body = json!({"bucket": "final-sound", "files": [{"name": format!("secret_frames{counter}"), "package": members,
                "metadata": {"reel": 1, "mix_type": "stems", "format": "5.1"}, "request_id": request.id}]});
            let path = format!("/api/v1/projects/{}/deliveries", w.project);
            let json_type = [("content-type", "application/json".to_owned())];
            let reply = w.as_owner(Method::POST, &path, &json_type, Body::from(body.to_string())).await;
            t.asset = reply.body["files"][0]["asset_id"].as_i64().unwrap();
            if route.needs() == Needs::ValidatedPackage {
                let found = |name: &str, size| hub::db::PackageFile {
                    name: name.into(),
                    size,
                    md5: None,
                    ok: false,
                    result: "listed in checksum.txt but missing from the package".into(),
                };
                db.record_package_files(t.asset, &[found("checksum.txt", 40), found("f.0001.dpx", 3)]).await.unwrap();
            }
        }
        Needs::Delivery | Needs::ReadyDelivery => {
            let size = if route.needs() == Needs::ReadyDelivery { 0 } else { 5 };
            let meta: Metadata = serde_json::from_value(json!({"reel": 1})).unwrap();
            let request = db.create_request(w.project, BucketKind::FinalSound, "Secret reel", &meta).await.unwrap();
            let body = json!({"bucket": "final-sound", "files": [{"name": format!("secret_d{counter}.wav"), "size": size,
                "metadata": {"reel": 1, "mix_type": "stems", "format": "5.1"}, "request_id": request.id}]});
            let path = format!("/api/v1/projects/{}/deliveries", w.project);
            let json_type = [("content-type", "application/json".to_owned())];
            let reply = w.as_owner(Method::POST, &path, &json_type, Body::from(body.to_string())).await;
            t.delivery = reply.body["id"].as_i64().unwrap();
        }
        Needs::Upload => t.upload = w.tus_create(5, Some(&format!("secret_u{counter}.wav")), false, None).await,
        Needs::Partials => {
            for piece in [&b"first"[..], &b"second"[..]] {
                t.partials.push(w.tus_create(piece.len(), None, true, Some(piece)).await);
            }
        }
        Needs::OwnToken => {
            let user = w.users.get(&who).copied();
            if let Some(user) = user {
                t.token = db
                    .create_token(user, "spare", &format!("cht_spare_{counter}"), hub_domain::TokenScope::Manage, None)
                    .await
                    .unwrap()
                    .id;
            } else {
                t.token = 1;
            }
        }
        Needs::OwnersToken => {
            t.token = db
                .create_token(
                    w.users[&Who::Owner],
                    "owner's",
                    &format!("cht_owners_{counter}"),
                    hub_domain::TokenScope::Manage,
                    None,
                )
                .await
                .unwrap()
                .id;
        }
    }
    t
}

/// Whether the route's write took effect (read back through the repositories and the store).
async fn changed(w: &World, route: Route, who: Who, t: &Target) -> bool {
    use Route::*;
    let db = &w.hub.stack.db;
    match route {
        CreateToken => match w.users.get(&who) {
            Some(user) => db.tokens(*user).await.unwrap().iter().any(|k| k.name == format!("matrix{}", t.counter)),
            None => false,
        },
        RevokeOwnToken => who != Who::Nobody && !w.live_tokens_of(who).await.contains(&t.token),
        RevokeOthersToken => !w.live_tokens_of(Who::Owner).await.contains(&t.token),
        CreateProject => db
            .projects_for(&db.user(w.users[&Who::Admin]).await.unwrap())
            .await
            .unwrap()
            .iter()
            .any(|p| p.name == format!("New Show {}", t.counter)),
        ProjectSettings => {
            let on = db.project(w.project).await.unwrap().fast_start_remux;
            if on {
                db.set_fast_start_remux(w.project, false).await.unwrap(); // back, for the next case
            }
            on
        }
        AddMember => match db.user_for_login(&format!("newbie{}", t.counter)).await {
            Ok((user, _)) => db.member(w.project, user.id).await.unwrap().is_some(),
            Err(_) => false,
        },
        ChangeMember => db.member(w.project, t.victim).await.unwrap().unwrap().role == Role::Viewer,
        RemoveMember => db.member(w.project, t.victim).await.unwrap().is_none(),
        BulkEdit => db.asset(t.asset).await.unwrap().metadata.get("language") == Some(&json!("en")),
        EditAsset => db.asset(t.asset).await.unwrap().metadata.get("language") == Some(&json!("fr")),
        DeleteAsset => db.asset(t.asset).await.is_err(),
        Revalidate => db.asset(t.asset).await.unwrap().state != AssetState::Valid,
        CreateRequest => db
            .list_requests(w.project, BucketKind::FinalSound, None)
            .await
            .unwrap()
            .iter()
            .any(|r| r.title == format!("Secret reel {}", t.counter)),
        EditRequest => db.request(t.request).await.unwrap().title == "Renamed",
        TransitionRequest => db.request(t.request).await.unwrap().state == RequestState::Rejected,
        Declare => {
            let page = db
                .list_assets(
                    w.project,
                    BucketKind::FinalSound,
                    &hub::db::AssetQuery {
                        name_contains: Some(format!("decl_{}.", t.counter)),
                        limit: 10,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            !page.items.is_empty()
        }
        Deliver => db.delivery(t.delivery).await.unwrap().state == hub_domain::DeliveryState::Delivered,
        CreateUpload => w.hub.stack.store.list("uploads/").await.unwrap().len() > t.upload_blobs,
        PatchUpload => w.upload_offset(&t.upload).await != Some(0),
        DeleteUpload => w.upload_offset(&t.upload).await.is_none(),
        Concatenate => {
            let mut gone = true;
            for partial in &t.partials {
                gone &= w.upload_offset(partial).await.is_none();
            }
            gone
        }
        _ => unreachable!("{route:?} does not write"),
    }
}

/// What a reply says happened; every refusal has its own status and error code.
fn outcome(route: Route, reply: &Reply) -> Outcome {
    let code = reply.body["code"].as_str().unwrap_or_default();
    let head = route.method() == Method::HEAD; // no body to read a code from
    match reply.status {
        s if s.is_success() => Outcome::Allowed,
        StatusCode::UNAUTHORIZED if head || code == "unauthenticated" => Outcome::Unauthenticated,
        StatusCode::FORBIDDEN if !head && code == "csrf" => Outcome::Csrf,
        StatusCode::FORBIDDEN if head || code == "forbidden" => Outcome::Forbidden,
        StatusCode::NOT_FOUND if head || code == "not_found" => Outcome::Hidden,
        _ => Outcome::Other,
    }
}

async fn every_route_for_everyone(stack: Stack) {
    let w = world(stack).await;
    let mut counter = 0;
    let mut wrong = Vec::new();
    for route in ROUTES {
        for who in EVERYONE {
            for credential in [Credential::Token, Credential::Session, Credential::SessionWithoutCsrf] {
                if (credential == Credential::SessionWithoutCsrf && !route.writes())
                    || (who == Who::Nobody && credential != Credential::Token)
                {
                    continue;
                }
                counter += 1;
                let t = prepare(&w, route, who, counter).await;
                let (path, mut headers, body) = route.request(&w, &t);
                headers.extend(w.auth(who, credential));
                let reply = w.send(route.method(), &path, &headers, body).await;
                let want = expected(route.access(), who, credential, route.writes());
                let got = outcome(route, &reply);
                let case = format!("{route:?} as {who:?} with {credential:?}");
                if got != want {
                    wrong.push(format!("{case}: expected {want:?}, got {got:?} ({} {})", reply.status, reply.raw));
                    continue;
                }
                if got != Outcome::Allowed {
                    for secret in ["Secret", "secret_", "\"SF\""] {
                        assert!(!reply.raw.contains(secret), "{case} leaked {secret}: {}", reply.raw);
                    }
                }
                if route.writes() {
                    let did = changed(&w, route, who, &t).await;
                    if did != (got == Outcome::Allowed) {
                        wrong.push(format!(
                            "{case}: answered {got:?} but the write {} happen",
                            if did { "did" } else { "did not" }
                        ));
                    }
                } else if got == Outcome::Allowed && route == Route::Download {
                    assert_eq!(reply.raw.as_bytes(), WAV, "{case}");
                } else if got == Outcome::Allowed && matches!(route, Route::PackageMembers | Route::PackageFiles) {
                    let names: Vec<&str> =
                        reply.body.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
                    assert_eq!(names, ["checksum.txt", "f.0001.dpx"], "{case}");
                }
            }
        }
    }
    assert!(counter > 700, "only {counter} cases ran");
    assert!(wrong.is_empty(), "{} of {counter} cases went wrong:\n{}", wrong.len(), wrong.join("\n"));
}

testkit::on_every_backend!(every_route_for_everyone);

/// After DELIVER an upload is closed: its bytes are the asset's, so neither its maker nor a manager
/// may append to it or delete it, and the asset's bytes stay whole.
async fn delivered_uploads_are_closed(stack: Stack) {
    let w = world(stack).await;
    let request = prepare(&w, Route::GetRequest, Who::Owner, 1).await.request;
    let body = json!({"bucket": "final-sound", "files": [{"name": "secret_closed.wav", "size": WAV.len(),
        "metadata": {"reel": 1, "mix_type": "stems", "format": "5.1"}, "request_id": request}]});
    let json_type = [("content-type", "application/json".to_owned())];
    let path = format!("/api/v1/projects/{}/deliveries", w.project);
    let delivery = w.as_owner(Method::POST, &path, &json_type, Body::from(body.to_string())).await.body;
    let upload = delivery["files"][0]["upload"].as_str().unwrap().to_owned();
    let octets = [
        ("tus-resumable", "1.0.0".to_owned()),
        ("upload-offset", "0".to_owned()),
        ("content-type", "application/offset+octet-stream".to_owned()),
    ];
    w.as_owner(Method::PATCH, &upload, &octets, Body::from(WAV.to_vec())).await;
    w.as_owner(Method::POST, &format!("/api/v1/deliveries/{}/deliver", delivery["id"]), &[], Body::empty()).await;
    let asset = w.hub.stack.db.asset(delivery["files"][0]["asset_id"].as_i64().unwrap()).await.unwrap();
    for who in [Who::Owner, Who::Manager, Who::Admin] {
        let mut headers = w.auth(who, Credential::Token);
        headers.push(("tus-resumable".into(), "1.0.0".into()));
        let reply = w.send(Method::DELETE, &upload, &headers, Body::empty()).await;
        assert_eq!((reply.status, reply.body["code"].as_str()), (StatusCode::CONFLICT, Some("delivered")), "{who:?}");
        headers.push(("upload-offset".into(), WAV.len().to_string()));
        headers.push(("content-type".into(), "application/offset+octet-stream".into()));
        let reply = w.send(Method::PATCH, &upload, &headers, Body::from(b"more".to_vec())).await;
        assert_eq!((reply.status, reply.body["code"].as_str()), (StatusCode::CONFLICT, Some("delivered")), "{who:?}");
    }
    let key = BlobKey::new(asset.blob_key.unwrap()).unwrap();
    assert_eq!(&w.hub.stack.store.get_range(&key, 0..WAV.len() as u64).await.unwrap()[..], WAV, "the asset's bytes");
    assert_eq!(w.hub.stack.store.size(&key).await.unwrap(), WAV.len() as u64);
}

testkit::on_every_backend!(delivered_uploads_are_closed);
