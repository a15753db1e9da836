//! The browser interface: server-rendered pages (askama templates compiled into the binary) and
//! small static files, on top of the same database and access rules as the API. Pages use the
//! session cookie; a page that changes something sends the session's CSRF token.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use hub_domain::access::Action;
use hub_domain::{AssetState, BucketKind, DeliveryState, FieldDef, FieldKind};
use serde::Deserialize;

use crate::app::AppError;
use crate::app::Hub;
use crate::app::access::{Caller, allows, authorize, authorize_own, session_caller};
use crate::app::sessions::{SESSION_COOKIE, cookie, end_session, start_session};
use crate::db::{Asset, CheckResult, RepoError, User};
use crate::validate::is_movie;

mod asset;
mod bucket;
mod fields;
mod format;
mod members;
mod projects;
mod requests;
mod signin;
mod tokens;
mod transfers;
mod upload;

use fields::{FieldView, display_value, field_view, field_views};
use format::{human_bytes, when, when_exact};

/// The page routes, merged into the service's router.
pub fn routes() -> Router<Hub> {
    Router::new()
        .route("/", get(projects::projects))
        .route("/login", get(signin::login_page).post(signin::login))
        .route("/logout", post(signin::logout))
        .route("/projects/{id}", get(projects::project))
        .route("/projects/{id}/buckets/{bucket}", get(bucket::bucket))
        .route("/projects/{id}/buckets/{bucket}/upload", get(upload::upload))
        .route("/projects/{id}/buckets/{bucket}/requests", get(requests::requests))
        .route("/transfers", get(transfers::transfers))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}/revoke", post(tokens::revoke))
        .route("/projects/{id}/members", get(members::members))
        .route("/assets/{id}", get(asset::asset))
        .route("/static/{file}", get(static_file))
}

/// The signed-in person looking at a page; without a session, the page sends them to sign in
/// and brings them back afterwards.
#[derive(Debug)]
pub struct Viewer {
    caller: Caller,
    csrf: String,
}

impl FromRequestParts<Hub> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Hub) -> Result<Self, Self::Rejection> {
        let here = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let to_login = |expired: bool| {
            let flag = if expired { "&expired=1" } else { "" };
            Redirect::to(&format!("/login?{}{flag}", query_string(&[("next", here)]))).into_response()
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else { return Err(to_login(false)) };
        match session_caller(state, token).await {
            Ok((caller, csrf)) => Ok(Viewer { caller, csrf }),
            Err(RepoError::NotFound) => Err(to_login(true)),
            Err(e) => Err(PageError(e.into()).into_response()),
        }
    }
}

/// What every page shows around its content.
#[derive(Debug)]
pub struct Chrome {
    user_name: Option<String>,
    csrf: String,
    crumbs: Vec<Crumb>,
}

#[derive(Debug)]
pub struct Crumb {
    label: String,
    href: String,
}

impl Chrome {
    /// Around a page for someone not signed in.
    fn anonymous() -> Chrome {
        Chrome { user_name: None, csrf: String::new(), crumbs: Vec::new() }
    }
}

impl Viewer {
    fn chrome(&self, crumbs: Vec<Crumb>) -> Chrome {
        Chrome { user_name: Some(self.caller.user.display_name.clone()), csrf: self.csrf.clone(), crumbs }
    }
    fn user(&self) -> &User {
        &self.caller.user
    }
}

/// The same person as if they called with an API token of the deliver scope: what they could do
/// from the command line (the pages say how, where only a token may).
fn with_token(caller: &Caller) -> Caller {
    let mut caller = caller.clone();
    caller.principal.token = Some(hub_domain::TokenScope::Deliver);
    caller
}

fn crumb(label: impl Into<String>, href: impl Into<String>) -> Crumb {
    Crumb { label: label.into(), href: href.into() }
}

/// An API error shown as a page: what went wrong and where to go from there. Everything a viewer
/// may not see is "not found", exactly as in the API.
#[derive(Debug)]
pub struct PageError(AppError);

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        PageError(e)
    }
}

impl From<RepoError> for PageError {
    fn from(e: RepoError) -> Self {
        PageError(e.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    heading: String,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status;
        let heading = match status {
            StatusCode::NOT_FOUND => "Not found".to_owned(),
            StatusCode::FORBIDDEN => "Not allowed".to_owned(),
            s if s.is_server_error() => "Something went wrong".to_owned(),
            s => s.canonical_reason().unwrap_or("Error").to_owned(),
        };
        let message = if status == StatusCode::NOT_FOUND {
            "There is nothing here, or it belongs to a project you are not a member of.".to_owned()
        } else {
            self.0.body.message.clone()
        };
        (status, render(&ErrorPage { chrome: Chrome::anonymous(), heading, message })).into_response()
    }
}

type PageResult = Result<Response, PageError>;

fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be shown").into_response()
        }
    }
}

struct HistoryView {
    at: String,
    action: String,
    who: String,
    detail: String,
}

impl HistoryView {
    fn new(h: crate::db::HistoryEntry, at: fn(i64) -> String) -> Self {
        HistoryView {
            at: at(h.at_ms),
            action: h.action.as_str().replace('_', " "),
            who: h.username.unwrap_or_else(|| "contenthub".into()),
            detail: h.detail,
        }
    }
    /// To the second: a transfer's log lines are often seconds apart.
    fn exact(h: crate::db::HistoryEntry) -> Self {
        Self::new(h, when_exact)
    }
}

/// A URL query string (without `?`) of these pairs.
fn query_string<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// This page's query with the `drop` keys removed and `set` added (links to the next page, or to
/// another view of the same listing).
fn requery(params: &[(String, String)], drop: &[&str], set: (&str, &str)) -> String {
    let mut pairs: Vec<(&str, &str)> =
        params.iter().filter(|(k, _)| !drop.contains(&k.as_str())).map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pairs.push(set);
    format!("?{}", query_string(&pairs))
}

/// A delivery id passed back to a page after DELIVER, if it is one.
fn delivered_id(value: &str) -> Option<String> {
    Some(value.to_owned()).filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Only a path on this site may be a place to come back to after signing in. No whitespace or
/// control character either: browsers drop tabs and newlines from a URL, so `/\t/evil.example`
/// would lead off the site.
fn same_site_path(next: &str) -> &str {
    let plain = next.chars().all(|c| !c.is_whitespace() && !c.is_control());
    if plain && next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') { next } else { "/" }
}

// ---- static files ----

async fn static_file(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (body, kind): (&'static [u8], &str) = match file.as_str() {
        "app.css" => (include_bytes!("../../static/app.css"), "text/css; charset=utf-8"),
        "player.js" => (include_bytes!("../../static/player.js"), "text/javascript; charset=utf-8"),
        "hub.js" => (include_bytes!("../../static/hub.js"), "text/javascript; charset=utf-8"),
        "browse.js" => (include_bytes!("../../static/browse.js"), "text/javascript; charset=utf-8"),
        "dropto.js" => (include_bytes!("../../static/dropto.js"), "text/javascript; charset=utf-8"),
        "project.js" => (include_bytes!("../../static/project.js"), "text/javascript; charset=utf-8"),
        "upload.js" => (include_bytes!("../../static/upload.js"), "text/javascript; charset=utf-8"),
        "transfers.js" => (include_bytes!("../../static/transfers.js"), "text/javascript; charset=utf-8"),
        "members.js" => (include_bytes!("../../static/members.js"), "text/javascript; charset=utf-8"),
        "requests.js" => (include_bytes!("../../static/requests.js"), "text/javascript; charset=utf-8"),
        "tus.min.js" => (include_bytes!("../../static/tus.min.js"), "text/javascript; charset=utf-8"),
        "tus-js-client.LICENSE" => (include_bytes!("../../static/tus-js-client.LICENSE"), "text/plain; charset=utf-8"),
        _ => return PageError(AppError::not_found()).into_response(),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(kind).expect("ASCII"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_site_paths_are_places_to_return_to() {
        assert_eq!(same_site_path("/projects/1?state=valid"), "/projects/1?state=valid");
        for outside in [
            "//evil.example/x",
            "https://evil.example/",
            "/\\evil.example",
            "",
            "javascript:alert(1)",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/ /evil.example",
        ] {
            assert_eq!(same_site_path(outside), "/", "{outside}");
        }
        assert_eq!(query_string(&[("next", "/a b?c=d&e")]), "next=%2Fa+b%3Fc%3Dd%26e");
    }
}
