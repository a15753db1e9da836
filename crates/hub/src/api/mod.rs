//! The JSON API under `/api/v1`: one module per resource, each handler translating HTTP to a call
//! of the core (`app`) and back. The endpoint table below is the single definition both the routes
//! and the OpenAPI document are made from; `server::router` nests it beside the pages.

pub mod assets;
pub mod auth;
pub mod deliveries;
pub mod download;
pub mod error;
pub mod extract;
pub mod projects;
pub mod requests;
pub mod session;
pub mod spec;
pub mod tus;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter};

use crate::app::Hub;

/// One API endpoint: the single definition both the router and the OpenAPI document are built from.
#[derive(Debug)]
pub struct Endpoint {
    pub method: Method,
    /// Below `/api/v1`.
    pub path: &'static str,
    pub summary: &'static str,
    /// Who may call it.
    pub access: &'static str,
    /// Query parameters: (name, description).
    pub query: &'static [(&'static str, &'static str)],
    /// The largest body it takes, when not the default for JSON.
    pub body_limit: Option<usize>,
    route: fn() -> MethodRouter<Hub>,
}

macro_rules! endpoint {
    ($method:ident $path:literal => $handler:path, $summary:literal, $access:expr $(, query: $query:expr)? $(, body_limit: $limit:expr)?) => {
        Endpoint {
            method: Method::$method,
            path: $path,
            summary: $summary,
            access: $access,
            query: endpoint!(@query $($query)?),
            body_limit: endpoint!(@limit $($limit)?),
            route: || axum::routing::on(MethodFilter::$method, $handler),
        }
    };
    (@query $query:expr) => { $query };
    (@query) => { &[] };
    (@limit $limit:expr) => { Some($limit) };
    (@limit) => { None };
}

const ASSET_QUERY: &[(&str, &str)] = &[
    ("state", "only assets in this state (in_progress, delivered, validating, valid, invalid, failed_delivery)"),
    ("q", "case-insensitive part of the name"),
    ("sort", "name (default) or updated"),
    ("order", "asc (default) or desc"),
    ("after", "the `next` cursor of the previous page"),
    ("limit", "page size, 1 to 500 (default 100)"),
    ("meta.FIELD", "metadata filter on a filterable field of the bucket's schema, e.g. meta.reel=3"),
];

const MEMBER: &str = "members of the project (site admins too)";
const CONTRIBUTOR: &str = "contributors and managers of the project with the bucket in scope; with a token, the deliver scope; Footage: API tokens only";
const MANAGER: &str = "managers of the project; with a token, the manage scope";

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint!(POST "/session" => session::login, "Sign in; sets the session cookie and returns the CSRF token", "anyone"),
        endpoint!(DELETE "/session" => session::logout, "Sign out", "signed-in users"),
        endpoint!(GET "/me" => session::me, "The caller and their projects", "signed-in users"),
        endpoint!(GET "/tokens" => session::list_tokens, "The caller's API tokens (never their secrets)", "signed-in users"),
        endpoint!(POST "/tokens" => session::create_token, "Create an API token (scope read, deliver or manage; expires_in_days, 0 for never); the secret is shown once", "signed-in users; with a token, the manage scope"),
        endpoint!(DELETE "/tokens/{id}" => session::revoke_token, "Revoke one of the caller's API tokens", "the token's owner"),
        endpoint!(GET "/projects" => projects::list, "The projects the caller belongs to", "signed-in users"),
        endpoint!(POST "/projects" => projects::create, "Create a project", "site admins"),
        endpoint!(GET "/projects/{id}" => projects::get, "A project with the caller's role and its buckets' counts", MEMBER),
        endpoint!(PATCH "/projects/{id}" => projects::update, "Change project settings (fast_start_remux: remux proxies without fast start instead of refusing them)", MANAGER),
        endpoint!(GET "/projects/{id}/buckets" => projects::buckets, "Buckets the caller sees, with asset counts per state and open requests", MEMBER),
        endpoint!(GET "/projects/{id}/members" => projects::members, "Members with their roles and bucket scopes", MEMBER),
        endpoint!(POST "/projects/{id}/members" => projects::add_member, "Add a member (or change their role)", MANAGER),
        endpoint!(PATCH "/projects/{id}/members/{user}" => projects::change_member, "Change a member's role or bucket scope", MANAGER),
        endpoint!(DELETE "/projects/{id}/members/{user}" => projects::remove_member, "Remove a member", MANAGER),
        endpoint!(GET "/projects/{id}/buckets/{bucket}/assets" => assets::list, "A page of the bucket's assets: filtered, sorted, keyset-paged", MEMBER, query: ASSET_QUERY),
        endpoint!(PATCH "/projects/{id}/buckets/{bucket}/assets" => assets::bulk_update, "Bulk edit: one metadata patch for many assets, all or nothing", CONTRIBUTOR),
        endpoint!(GET "/projects/{id}/buckets/{bucket}/requests" => requests::list, "The bucket's requests (request-based buckets)", MEMBER, query: &[("state", "only requests in this state")]),
        endpoint!(POST "/projects/{id}/buckets/{bucket}/requests" => requests::create, "Create a request", MANAGER),
        endpoint!(GET "/assets/{id}" => assets::get, "One asset", MEMBER),
        endpoint!(PATCH "/assets/{id}" => assets::update, "Edit an asset's metadata (null removes a field)", CONTRIBUTOR),
        endpoint!(DELETE "/assets/{id}" => assets::delete, "Delete an asset", MANAGER),
        endpoint!(GET "/assets/{id}/history" => assets::history, "Who did what to the asset, when", MEMBER),
        endpoint!(GET "/assets/{id}/content" => download::content, "The asset's bytes, as an attachment (inline=1: audio and video inline, for a player); HTTP Range for seeking and resuming", MEMBER, query: &[("inline", "1: play audio or video in place (other files are always attachments)")]),
        endpoint!(POST "/assets/{id}/revalidate" => assets::revalidate, "Validate a Valid or Invalid asset again", MANAGER),
        endpoint!(GET "/assets/{id}/members" => assets::members, "A page of a package's files, by name, with each one's upload and progress", MEMBER, query: &[("after", "the last name of the previous page"), ("limit", "page size, 1 to 5000 (default 1000)"), ("incomplete", "true: only files not fully uploaded")]),
        endpoint!(GET "/assets/{id}/validation" => assets::validation, "The validation report: each check, its result and the files it concerns", MEMBER),
        endpoint!(GET "/requests/{id}" => requests::get, "One request", MEMBER),
        endpoint!(PATCH "/requests/{id}" => requests::update, "Edit a request's title and metadata", MANAGER),
        endpoint!(POST "/requests/{id}/transition" => requests::transition, "Accept, ask for redelivery (with a reason), reject (with a reason) or reopen", MANAGER),
        endpoint!(GET "/requests/{id}/history" => requests::history, "Who did what to the request, when", MEMBER),
        endpoint!(POST "/projects/{id}/deliveries" => deliveries::create, "Declare a delivery: files with sizes, md5, metadata and requests, all checked before any upload", CONTRIBUTOR,
            // A declaration may list the files of packages of up to 250,000 frames.
            body_limit: crate::app::deliveries::MAX_DECLARATION_BODY),
        endpoint!(GET "/deliveries/{id}" => deliveries::get, "A delivery with each file's upload progress", MEMBER),
        endpoint!(POST "/deliveries/{id}/deliver" => deliveries::deliver, "DELIVER: every upload complete; assets become Delivered, requests Submitted", CONTRIBUTOR),
        endpoint!(OPTIONS "/uploads" => tus::options, "tus discovery: version, extensions, maximum size, checksum algorithms", "anyone"),
        endpoint!(POST "/uploads" => tus::create, "tus creation (and creation-with-upload); Upload-Metadata names project, bucket and filename", CONTRIBUTOR),
        endpoint!(HEAD "/uploads/{upload}" => tus::head, "tus: the upload's offset and length", CONTRIBUTOR),
        endpoint!(PATCH "/uploads/{upload}" => tus::patch, "tus: append at Upload-Offset (optionally with Upload-Checksum md5 or sha1)", CONTRIBUTOR),
        endpoint!(DELETE "/uploads/{upload}" => tus::delete, "tus termination: discard the upload", CONTRIBUTOR),
    ]
}

/// The API's routes, to be nested under `/api/v1` (see `server::router`).
pub fn routes() -> Router<Hub> {
    let mut api = Router::new();
    for endpoint in endpoints() {
        let mut route = (endpoint.route)();
        if let Some(limit) = endpoint.body_limit {
            route = route.layer(DefaultBodyLimit::max(limit));
        }
        api = api.route(endpoint.path, route);
    }
    api.route("/openapi.json", axum::routing::get(spec::serve)).fallback(|| async { crate::app::AppError::not_found() })
}
