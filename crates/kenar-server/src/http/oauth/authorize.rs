//! The authorization endpoint (RFC 6749 §4.1.1): who asks (client and redirect URI, checked
//! before anything is redirected), what for (scopes, PKCE), the user's decision, and the code.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::pages;
use super::session::{csrf_ok, current, internal, login_redirect, Session};
use super::{ms, params};
use crate::domain::credentials::{self, Kind};
use crate::domain::oauth::{refused_scope, valid_challenge};
use crate::domain::time::now_ms;
use crate::domain::ScopeSet;
use crate::http::state::AppState;
use crate::store::{AppRecord, NewCode, NewSecret};

/// A request that passed the client checks: errors from here on go back to the client.
struct Checked {
    app: AppRecord,
    redirect_uri: String,
    state: Option<String>,
}

/// An error for the client, sent to its redirect URI (RFC 6749 §4.1.2.1).
struct ClientError {
    code: &'static str,
    description: String,
}

fn client_error(code: &'static str, description: impl Into<String>) -> ClientError {
    ClientError {
        code,
        description: description.into(),
    }
}

/// Appends parameters to the redirect URI, keeping its own query.
fn back_to(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
            Redirect::to(url.as_str()).into_response()
        }
        Err(_) => pages::error(
            StatusCode::BAD_REQUEST,
            "Invalid redirect URI",
            redirect_uri,
        ),
    }
}

fn redirect_error(c: &Checked, e: ClientError) -> Response {
    let mut pairs = vec![
        ("error", e.code),
        ("error_description", e.description.as_str()),
    ];
    if let Some(s) = &c.state {
        pairs.push(("state", s));
    }
    back_to(&c.redirect_uri, &pairs)
}

/// Checks the client and its redirect URI; failures are shown to the user, never redirected,
/// so the endpoint cannot be used to send users to arbitrary places.
async fn check_client(state: &AppState, p: &HashMap<String, String>) -> Result<Checked, Response> {
    let bad = |detail: &str| {
        pages::error(
            StatusCode::BAD_REQUEST,
            "Invalid authorization request",
            detail,
        )
    };
    let client_id = p
        .get("client_id")
        .ok_or_else(|| bad("client_id is missing"))?;
    let app = match state.store.app_by_slug(client_id).await {
        Ok(Some(app)) => app,
        Ok(None) => return Err(bad("unknown client_id")),
        Err(e) => return Err(internal(e)),
    };
    let redirect_uri = match p.get("redirect_uri") {
        Some(uri) if app.redirect_uris.iter().any(|r| r == uri) => uri.clone(),
        Some(_) => return Err(bad("redirect_uri is not registered for this app")),
        // RFC 6749 §3.1.2.3: without the parameter, only a single registered URI is implied.
        None if app.redirect_uris.len() == 1 => app.redirect_uris[0].clone(),
        None => return Err(bad("redirect_uri is missing")),
    };
    Ok(Checked {
        app,
        redirect_uri,
        state: p.get("state").cloned(),
    })
}

/// What the client asks for, checked.
struct Asked {
    scopes: ScopeSet,
    code_challenge: Option<String>,
}

fn check_request(c: &Checked, p: &HashMap<String, String>) -> Result<Asked, ClientError> {
    match p.get("response_type").map(String::as_str) {
        Some("code") => {}
        Some(other) => {
            return Err(client_error(
                "unsupported_response_type",
                format!("response_type {other:?} is not supported; use code"),
            ))
        }
        None => return Err(client_error("invalid_request", "response_type is missing")),
    }
    let raw = p.get("scope").map(String::as_str).unwrap_or("");
    let scopes = ScopeSet::parse(raw).map_err(|e| client_error("invalid_scope", e.to_string()))?;
    if scopes.is_empty() {
        return Err(client_error("invalid_scope", "no scope requested"));
    }
    if let Some(s) = refused_scope(c.app.kind, &c.app.granted_scopes, &scopes) {
        return Err(client_error(
            "invalid_scope",
            format!("scope {s} is not granted to this app"),
        ));
    }
    let code_challenge = match (
        p.get("code_challenge"),
        p.get("code_challenge_method").map(String::as_str),
    ) {
        (None, None) => None,
        (Some(c), Some("S256")) if valid_challenge(c) => Some(c.clone()),
        (Some(_), Some("S256")) => {
            return Err(client_error(
                "invalid_request",
                "code_challenge is not an S256 challenge",
            ))
        }
        (Some(_), None | Some("plain")) | (None, Some("plain")) => {
            return Err(client_error(
                "invalid_request",
                "only the S256 code_challenge_method is supported",
            ))
        }
        (_, Some(other)) => {
            return Err(client_error(
                "invalid_request",
                format!("unknown code_challenge_method {other:?}"),
            ))
        }
    };
    Ok(Asked {
        scopes,
        code_challenge,
    })
}

/// Post-bound scopes name the user's own posts.
/// Parses and checks an authorization request (the query of the GET, the form of the POST):
/// a bad client or redirect URI gets an error page, anything else wrong goes back to the client.
async fn authorization_request(
    state: &AppState,
    raw: &str,
) -> Result<(HashMap<String, String>, Checked, Asked), Response> {
    let p = params(raw)
        .map_err(|e| pages::error(StatusCode::BAD_REQUEST, "Invalid authorization request", &e))?;
    let checked = check_client(state, &p).await?;
    let asked = check_request(&checked, &p).map_err(|e| redirect_error(&checked, e))?;
    Ok((p, checked, asked))
}

async fn check_posts(
    state: &AppState,
    user: &str,
    scopes: &ScopeSet,
) -> Result<Result<(), ClientError>, Response> {
    for s in scopes.iter() {
        if let Some(post) = s.resource() {
            match state.store.post(post.as_str()).await {
                Ok(Some(p)) if p.owner_id == user => {}
                Ok(_) => {
                    return Ok(Err(client_error(
                        "invalid_scope",
                        format!("post {post} is not one of the user's posts"),
                    )))
                }
                Err(e) => return Err(internal(e)),
            }
        }
    }
    Ok(Ok(()))
}

/// `GET /oauth2/auth`: the consent page for a signed-in user (the dev login first otherwise).
#[utoipa::path(get, path = "/oauth2/auth", tag = "oauth",
    params(
        ("response_type" = String, Query, description = "code"),
        ("client_id" = String, Query, description = "The app's slug"),
        ("redirect_uri" = Option<String>, Query, description = "One of the app's registered redirect URIs, exactly"),
        ("scope" = String, Query, description = "Space-separated scopes, global or resource-bound (NAME.post_token)"),
        ("state" = Option<String>, Query, description = "Echoed back to the redirect URI"),
        ("code_challenge" = Option<String>, Query, description = "PKCE challenge"),
        ("code_challenge_method" = Option<String>, Query, description = "S256"),
    ),
    responses(
        (status = 200, description = "The consent page (HTML)", content_type = "text/html"),
        (status = 303, description = "To the dev login, or back to the app with an error"),
        (status = 400, description = "Unknown client or redirect URI (HTML, never redirected)", content_type = "text/html"),
    ))]
pub async fn authorize_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let (_, checked, asked) = match authorization_request(&state, &query).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let session = match current(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return login_redirect(&format!("/oauth2/auth?{query}")),
        Err(e) => return internal(e),
    };
    let mut fields: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &checked.app.slug),
        ("redirect_uri", &checked.redirect_uri),
        ("csrf", &session.csrf),
    ];
    let scope = asked.scopes.to_string();
    fields.push(("scope", &scope));
    if let Some(s) = &checked.state {
        fields.push(("state", s));
    }
    if let Some(c) = &asked.code_challenge {
        fields.push(("code_challenge", c));
        fields.push(("code_challenge_method", "S256"));
    }
    let scopes: Vec<String> = asked.scopes.iter().map(|s| s.to_string()).collect();
    pages::consent(&checked.app.name, &session.user_id, &scopes, &fields).into_response()
}

/// `POST /oauth2/auth`: the user's decision. Approval issues a single-use code bound to the
/// client, the redirect URI, the scopes and the PKCE challenge.
#[utoipa::path(post, path = "/oauth2/auth", tag = "oauth",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
                 description = "The consent form: the authorization request's parameters, csrf, and decision=approve|deny"),
    responses((status = 303, description = "Back to the app with code and state, or with error=access_denied")))]
pub async fn authorize_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (p, checked, asked) =
        match authorization_request(&state, &String::from_utf8_lossy(&body)).await {
            Ok(r) => r,
            Err(page) => return page,
        };
    let session: Session = match current(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return login_redirect("/oauth2/apps"),
        Err(e) => return internal(e),
    };
    if !csrf_ok(&session, p.get("csrf")) {
        return pages::error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "The form has expired; start again.",
        );
    }
    if p.get("decision").map(String::as_str) != Some("approve") {
        return redirect_error(
            &checked,
            client_error("access_denied", "the user denied access"),
        );
    }
    match check_posts(&state, &session.user_id, &asked.scopes).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return redirect_error(&checked, e),
        Err(page) => return page,
    }
    let issued = credentials::issue(Kind::Code);
    let now = now_ms();
    let stored = state
        .store
        .create_code(NewCode {
            app_id: checked.app.id,
            user_id: &session.user_id,
            redirect_uri: &checked.redirect_uri,
            scopes: &asked.scopes,
            code_challenge: asked.code_challenge.as_deref(),
            secret: NewSecret {
                lookup: &issued.lookup,
                hash: &issued.hash,
                expires_at: now + ms(state.oauth.code_ttl),
            },
            now,
        })
        .await;
    if let Err(e) = stored {
        return internal(e);
    }
    let mut pairs = vec![("code", issued.plaintext.expose())];
    if let Some(s) = &checked.state {
        pairs.push(("state", s));
    }
    back_to(&checked.redirect_uri, &pairs)
}
