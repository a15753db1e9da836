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
    /// The status of success.
    pub ok: u16,
    /// The JSON body it takes, as JSON Schema from its serde type.
    pub body: Option<SchemaOf>,
    /// The JSON body it answers with on success.
    pub returns: Option<SchemaOf>,
    route: fn() -> MethodRouter<Hub>,
}

/// Makes the JSON Schema of a serde type (with `schemars`, from its serde attributes).
pub type SchemaOf = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

fn schema_of<T: schemars::JsonSchema>(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<T>()
}

/// The status of success when the table does not say: 201 for a POST that makes something, 204
/// when nothing is answered.
const fn default_ok(method: &str, returns: bool) -> u16 {
    match (method.as_bytes(), returns) {
        (b"POST", true) => 201,
        (_, false) if !matches!(method.as_bytes(), b"GET" | b"HEAD") => 204,
        _ => 200,
    }
}

macro_rules! endpoint {
    ($method:ident $path:literal => $handler:path, $summary:literal, $access:expr
     $(, query: $query:expr)? $(, body_limit: $limit:expr)? $(, body: $body:ty)? $(, returns: $returns:ty)? $(, ok: $ok:literal)?) => {
        Endpoint {
            method: Method::$method,
            path: $path,
            summary: $summary,
            access: $access,
            query: endpoint!(@query $($query)?),
            body_limit: endpoint!(@limit $($limit)?),
            ok: endpoint!(@ok $method [$($ok)?] [$($returns)?]),
            body: endpoint!(@schema $($body)?),
            returns: endpoint!(@schema $($returns)?),
            route: || axum::routing::on(MethodFilter::$method, $handler),
        }
    };
    (@query $query:expr) => { $query };
    (@query) => { &[] };
    (@limit $limit:expr) => { Some($limit) };
    (@limit) => { None };
    (@schema $type:ty) => { Some(schema_of::<$type>) };
    (@schema) => { None };
    (@ok $method:ident [$ok:literal] [$($returns:ty)?]) => { $ok };
    (@ok $method:ident [] [$returns:ty]) => { default_ok(stringify!($method), true) };
    (@ok $method:ident [] []) => { default_ok(stringify!($method), false) };
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
        endpoint!(POST "/session" => session::login, "Sign in; sets the session cookie and returns the CSRF token", "anyone", body: session::Login, returns: crate::app::sessions::SessionInfo, ok: 200),
        endpoint!(DELETE "/session" => session::logout, "Sign out", "signed-in users"),
        endpoint!(GET "/me" => session::me, "The caller and their projects", "signed-in users", returns: api_types::Me),
        endpoint!(GET "/tokens" => session::list_tokens, "The caller's API tokens (never their secrets)", "signed-in users", returns: Vec<api_types::ApiToken>),
        endpoint!(POST "/tokens" => session::create_token, "Create an API token (scope read, deliver or manage; expires_in_days, 0 for never); the secret is shown once", "signed-in users; with a token, the manage scope", body: session::NewToken, returns: api_types::CreatedToken),
        endpoint!(DELETE "/tokens/{id}" => session::revoke_token, "Revoke one of the caller's API tokens", "the token's owner"),
        endpoint!(GET "/projects" => projects::list, "The projects the caller belongs to", "signed-in users", returns: Vec<api_types::Project>),
        endpoint!(POST "/projects" => projects::create, "Create a project", "site admins", body: projects::NewProject, returns: api_types::Project),
        endpoint!(GET "/projects/{id}" => projects::get, "A project with the caller's role and its buckets' counts", MEMBER, returns: api_types::ProjectView),
        endpoint!(PATCH "/projects/{id}" => projects::update, "Change project settings (fast_start_remux: remux proxies without fast start instead of refusing them)", MANAGER, body: projects::ProjectSettings, returns: api_types::Project),
        endpoint!(GET "/projects/{id}/buckets" => projects::buckets, "Buckets the caller sees, with asset counts per state and open requests", MEMBER, returns: Vec<api_types::BucketCounts>),
        endpoint!(GET "/projects/{id}/members" => projects::members, "Members with their roles and bucket scopes", MEMBER, returns: Vec<projects::MemberView>),
        endpoint!(POST "/projects/{id}/members" => projects::add_member, "Add a member (or change their role)", MANAGER, body: projects::MemberChange, ok: 201),
        endpoint!(PATCH "/projects/{id}/members/{user}" => projects::change_member, "Change a member's role or bucket scope", MANAGER, body: projects::MemberChange),
        endpoint!(DELETE "/projects/{id}/members/{user}" => projects::remove_member, "Remove a member", MANAGER),
        endpoint!(GET "/projects/{id}/buckets/{bucket}/assets" => assets::list, "A page of the bucket's assets: filtered, sorted, keyset-paged", MEMBER, query: ASSET_QUERY, returns: api_types::Page<api_types::Asset>),
        endpoint!(PATCH "/projects/{id}/buckets/{bucket}/assets" => assets::bulk_update, "Bulk edit: one metadata patch for many assets, all or nothing", CONTRIBUTOR, body: assets::BulkPatch, returns: Vec<api_types::Asset>, ok: 200),
        endpoint!(GET "/projects/{id}/buckets/{bucket}/requests" => requests::list, "The bucket's requests (request-based buckets)", MEMBER, query: &[("state", "only requests in this state")], returns: Vec<api_types::Request>),
        endpoint!(POST "/projects/{id}/buckets/{bucket}/requests" => requests::create, "Create a request", MANAGER, body: requests::RequestBody, returns: api_types::Request),
        endpoint!(GET "/assets/{id}" => assets::get, "One asset", MEMBER, returns: api_types::Asset),
        endpoint!(PATCH "/assets/{id}" => assets::update, "Edit an asset's metadata (null removes a field)", CONTRIBUTOR, body: assets::MetadataPatch, returns: api_types::Asset),
        endpoint!(DELETE "/assets/{id}" => assets::delete, "Delete an asset", MANAGER),
        endpoint!(GET "/assets/{id}/history" => assets::history, "Who did what to the asset, when", MEMBER, returns: Vec<api_types::HistoryEntry>),
        endpoint!(GET "/assets/{id}/content" => download::content, "The asset's bytes, as an attachment (inline=1: audio and video inline, for a player); HTTP Range for seeking and resuming", MEMBER, query: &[("inline", "1: play audio or video in place (other files are always attachments)")]),
        endpoint!(GET "/assets/{id}/zip" => download::package_zip, "A zipless package as one ZIP (stored, flat, its files in npack's order with checksum.txt), streamed; HTTP Range for resuming. Ready once validation has read every file", MEMBER),
        endpoint!(POST "/assets/{id}/revalidate" => assets::revalidate, "Validate a Valid or Invalid asset again", MANAGER, returns: api_types::Asset, ok: 200),
        endpoint!(GET "/assets/{id}/files" => assets::files, "A page of a validated package's files (a frame-sequence ZIP or a zipless package), by name, as its latest validation found each: size, md5, result", MEMBER, query: &[("after", "the last name of the previous page"), ("limit", "page size, 1 to 5000 (default 1000)")], returns: Vec<api_types::PackageFile>),
        endpoint!(GET "/assets/{id}/members" => assets::members, "A page of a package's files, by name, with each one's upload and progress", MEMBER, query: &[("after", "the last name of the previous page"), ("limit", "page size, 1 to 5000 (default 1000)"), ("incomplete", "true: only files not fully uploaded")], returns: Vec<api_types::PackageMember>),
        endpoint!(GET "/assets/{id}/validation" => assets::validation, "The validation report: each check, its result and the files it concerns", MEMBER, returns: Vec<api_types::CheckResult>),
        endpoint!(GET "/requests/{id}" => requests::get, "One request", MEMBER, returns: api_types::Request),
        endpoint!(PATCH "/requests/{id}" => requests::update, "Edit a request's title and metadata", MANAGER, body: requests::RequestBody, returns: api_types::Request),
        endpoint!(POST "/requests/{id}/transition" => requests::transition, "Accept, ask for redelivery (with a reason), reject (with a reason) or reopen", MANAGER, body: requests::Transition, returns: api_types::Request, ok: 200),
        endpoint!(GET "/requests/{id}/history" => requests::history, "Who did what to the request, when", MEMBER, returns: Vec<api_types::HistoryEntry>),
        endpoint!(POST "/projects/{id}/deliveries" => deliveries::create, "Declare a delivery: files with sizes, md5, metadata and requests, all checked before any upload", CONTRIBUTOR,
            // A declaration may list the files of packages of up to 250,000 frames.
            body_limit: crate::app::deliveries::MAX_DECLARATION_BODY, body: api_types::NewDelivery, returns: api_types::DeliveryView),
        endpoint!(GET "/deliveries/{id}" => deliveries::get, "A delivery with each file's upload progress", MEMBER, returns: api_types::DeliveryView),
        endpoint!(POST "/deliveries/{id}/deliver" => deliveries::deliver, "DELIVER: every upload complete; assets become Delivered, requests Submitted", CONTRIBUTOR, returns: api_types::DeliveryView, ok: 200),
        endpoint!(OPTIONS "/uploads" => tus::options, "tus discovery: version, extensions, maximum size, checksum algorithms", "anyone"),
        endpoint!(POST "/uploads" => tus::create, "tus creation (and creation-with-upload); Upload-Metadata names project, bucket and filename", CONTRIBUTOR, ok: 201),
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
    // Many tus clients are pointed at the creation URL with a trailing slash (tusd's default is
    // `/files/`): the same creation and discovery there.
    let creation = axum::routing::post(tus::create).options(tus::options);
    api.route("/uploads/", creation)
        .route("/openapi.json", axum::routing::get(spec::serve))
        .fallback(|| async { crate::app::AppError::not_found() })
}
