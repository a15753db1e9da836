//! Signing in and out.

use super::*;

#[derive(Template)]
#[template(path = "login.html")]
pub(super) struct LoginPage {
    chrome: Chrome,
    error: Option<String>,
    expired: bool,
    next: String,
    username: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct LoginQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    expired: Option<String>,
}

pub(super) async fn login_page(Query(query): Query<LoginQuery>) -> Response {
    let next = same_site_path(&query.next).to_owned();
    let chrome = Chrome::anonymous();
    render(&LoginPage { chrome, error: None, expired: query.expired.is_some(), next, username: String::new() })
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

pub(super) async fn login(
    State(state): State<Hub>,
    axum::Extension(from): axum::Extension<crate::app::access::ClientAddress>,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = same_site_path(&form.next).to_owned();
    match start_session(&state, &form.username, &form.password, from).await {
        Ok((_, cookie)) => {
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Err(e) => {
            let chrome = Chrome::anonymous();
            let page = LoginPage {
                chrome,
                error: Some(e.body.message.clone()),
                expired: false,
                next,
                username: form.username,
            };
            (e.status, render(&page)).into_response()
        }
    }
}

#[derive(Deserialize)]
pub(super) struct LogoutForm {
    csrf: String,
}

pub(super) async fn logout(
    State(state): State<Hub>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> PageResult {
    if !crate::app::access::same_secret(&form.csrf, &viewer.csrf) {
        return Err(
            AppError::forbidden("this sign-out did not come from a contenthub page; reload and try again").into()
        );
    }
    let cookie = end_session(&state, &headers).await?;
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}
