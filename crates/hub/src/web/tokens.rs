//! API tokens: the person's own, made here with a scope and an expiry, the secret shown once,
//! revoked with a button. Plain forms (with the session's CSRF token), no script.

use hub_domain::TokenScope;

use super::*;
use crate::app::tokens;

pub(super) struct TokenRow {
    id: i64,
    name: String,
    scope: &'static str,
    created: String,
    expires: String,
    last_used: String,
    /// Revoked, or past its expiry.
    dead: Option<&'static str>,
}

/// A token just made: shown once, here.
pub(super) struct Made {
    name: String,
    scope: &'static str,
    secret: String,
}

#[derive(Template)]
#[template(path = "tokens.html")]
pub(super) struct TokensPage {
    chrome: Chrome,
    tokens: Vec<TokenRow>,
    scopes: Vec<(&'static str, &'static str)>,
    made: Option<Made>,
    problem: Option<String>,
    default_days: u32,
}

async fn page(state: &Hub, viewer: &Viewer, made: Option<Made>, problem: Option<String>) -> PageResult {
    let now = crate::db::now_ms();
    let tokens = state
        .db
        .tokens(viewer.user().id)
        .await?
        .into_iter()
        .rev()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            scope: t.scope.as_str(),
            created: when(t.created_ms),
            expires: t.expires_ms.map_or_else(|| "never".to_owned(), when_exact),
            last_used: t.last_used_ms.map_or_else(|| "never".to_owned(), when),
            dead: if t.revoked_ms.is_some() {
                Some("revoked")
            } else if t.expires_ms.is_some_and(|e| e <= now) {
                Some("expired")
            } else {
                None
            },
        })
        .collect();
    let scopes = TokenScope::ALL.iter().map(|s| (s.as_str(), s.describe())).collect();
    let chrome = viewer.chrome(vec![crumb("API tokens", "/tokens")]);
    let status = if problem.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let body = render(&TokensPage { chrome, tokens, scopes, made, problem, default_days: tokens::DEFAULT_DAYS });
    Ok((status, body).into_response())
}

pub(super) async fn list(State(state): State<Hub>, viewer: Viewer) -> PageResult {
    page(&state, &viewer, None, None).await
}

#[derive(Deserialize)]
pub(super) struct NewTokenForm {
    csrf: String,
    name: String,
    scope: String,
    days: u32,
}

fn same_page(form_csrf: &str, viewer: &Viewer) -> Result<(), PageError> {
    if crate::app::access::same_secret(form_csrf, &viewer.csrf) {
        Ok(())
    } else {
        Err(AppError::forbidden("this form did not come from a contenthub page; reload and try again").into())
    }
}

pub(super) async fn create(State(state): State<Hub>, viewer: Viewer, Form(form): Form<NewTokenForm>) -> PageResult {
    same_page(&form.csrf, &viewer)?;
    let Some(scope) = TokenScope::parse(&form.scope) else {
        return page(&state, &viewer, None, Some("choose what the token may do: read, deliver or manage".into())).await;
    };
    match tokens::create(&state, &viewer.caller, &form.name, scope, Some(form.days)).await {
        Ok((token, secret)) => {
            let made = Made { name: token.name, scope: token.scope.as_str(), secret };
            page(&state, &viewer, Some(made), None).await
        }
        Err(e) if e.status.is_client_error() => page(&state, &viewer, None, Some(e.body.message)).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub(super) struct RevokeForm {
    csrf: String,
}

pub(super) async fn revoke(
    State(state): State<Hub>,
    viewer: Viewer,
    axum::extract::Path(id): axum::extract::Path<i64>,
    Form(form): Form<RevokeForm>,
) -> PageResult {
    same_page(&form.csrf, &viewer)?;
    match state.db.revoke_token(viewer.user().id, id).await {
        Ok(()) | Err(RepoError::NotFound) => Ok(Redirect::to("/tokens").into_response()),
        Err(e) => Err(e.into()),
    }
}
