//! The built-in OAuth2 authorization server (contract 3.2; RFC 6749, RFC 7636 PKCE with S256,
//! RFC 7009 revocation), with a dev login and a consent page for the embedded identity store.

pub mod authorize;
pub mod pages;
pub mod session;
pub mod token;

use std::collections::HashMap;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;

use super::state::AppState;

pub use authorize::{authorize_get, authorize_post};
pub use session::{connected_apps, login_form, login_submit, revoke_app};
pub use token::{revoke, token};

/// Lifetimes of what the authorization server issues.
#[derive(Debug, Clone, Copy)]
pub struct OAuthConfig {
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// Authorization codes are single use and short-lived (RFC 6749 §4.1.2).
    pub code_ttl: Duration,
    /// How long the previous access token keeps working after a refresh (Kenar: 2 minutes).
    pub refresh_grace: Duration,
    pub session_ttl: Duration,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            access_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(60 * 24 * 3600),
            code_ttl: Duration::from_secs(60),
            refresh_grace: Duration::from_secs(120),
            session_ttl: Duration::from_secs(12 * 3600),
        }
    }
}

pub fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth2/auth", get(authorize_get).post(authorize_post))
        .route("/oauth2/token", post(token))
        .route("/oauth2/revoke", post(revoke))
        .route("/oauth2/login", get(login_form).post(login_submit))
        .route("/oauth2/apps", get(connected_apps))
        .route("/oauth2/apps/{slug}/revoke", post(revoke_app))
}

/// Form or query parameters; a parameter given twice is an error (RFC 6749 §3.1, §3.2).
pub fn params(raw: &str) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
        if out.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(format!("parameter {k} is repeated"));
        }
    }
    Ok(out)
}
