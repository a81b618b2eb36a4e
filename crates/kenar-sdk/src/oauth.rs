//! OAuth2 helpers: the authorization URL (scopes, state, PKCE), and the token calls.
//!
//! Kenar's authorization-code flow: send the user to [`AuthorizationRequest::url`], keep its
//! `state` and PKCE verifier in the user's session, and when Kenar redirects back with
//! `?code=...&state=...`, check the state and exchange the code:
//!
//! ```no_run
//! # async fn run() -> Result<(), kenar_sdk::Error> {
//! use kenar_sdk::oauth::{state_matches, OAuthClient, Scope};
//!
//! let oauth = OAuthClient::builder("my-app", "client secret", "https://my-app.example/callback")
//!     .build()?;
//! let request = oauth.authorization_request([
//!     Scope::chat_post_conversations_read("gZd7omnS"),
//!     Scope::send_event(),
//!     Scope::offline_access(),
//! ])?;
//! // Redirect the user to request.url; keep request.state and request.pkce_verifier.
//!
//! // Later, in the redirect handler:
//! # let (returned_state, code) = ("", "");
//! assert!(state_matches(&request.state, returned_state));
//! let tokens = oauth.exchange_code(code, &request.pkce_verifier).await?;
//! if let Some(refresh_token) = &tokens.refresh_token {
//!     let renewed = oauth.refresh(refresh_token).await?;
//!     # let _ = renewed;
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use url::Url;

use crate::client::parse_base_url;
use crate::error::Error;
use crate::retry::RetryPolicy;
use crate::secret::{AccessToken, ClientSecret, RefreshToken};
use crate::transport::{Answer, HttpSettings, Idempotency, Transport};

/// Kenar's production OAuth server.
pub const DEFAULT_OAUTH_BASE_URL: &str = "https://api.divar.ir";
/// Path of the authorization endpoint (where users are sent).
pub const AUTHORIZE_PATH: &str = "/oauth2/auth";
/// Path of the token endpoint.
pub const TOKEN_PATH: &str = "/oauth2/token";

/// An OAuth scope: global (`USER_POSTS_GET`) or bound to a resource
/// (`CHAT_POST_CONVERSATIONS_READ.gZd7omnS`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope(String);

impl Scope {
    /// A global scope by name.
    pub fn global(name: impl Into<String>) -> Scope {
        Scope(name.into())
    }

    /// A scope bound to one resource (a post token): `NAME.RESOURCE`.
    pub fn on_resource(name: &str, resource_id: &str) -> Scope {
        Scope(format!("{name}.{resource_id}"))
    }

    /// `CHAT_POST_CONVERSATIONS_READ.<post>`: read (and subscribe to) the chats of one post.
    pub fn chat_post_conversations_read(post_token: &str) -> Scope {
        Scope::on_resource("CHAT_POST_CONVERSATIONS_READ", post_token)
    }

    /// `CHAT_SUPPLIER_ALL_CONVERSATIONS_READ`: the chats of all of the user's posts.
    pub fn chat_supplier_all_conversations_read() -> Scope {
        Scope::global("CHAT_SUPPLIER_ALL_CONVERSATIONS_READ")
    }

    /// `USER_POSTS_GET`: the user's posts (and `POST_UPDATE` subscriptions).
    pub fn user_posts_get() -> Scope {
        Scope::global("USER_POSTS_GET")
    }

    /// `SEND_EVENT`: send events to the user's feeds.
    pub fn send_event() -> Scope {
        Scope::global("SEND_EVENT")
    }

    /// `USER_ID`: the user's id as the app knows it.
    pub fn user_id() -> Scope {
        Scope::global("USER_ID")
    }

    /// `NOTIFICATION_ACCESS_REVOCATION`: be told when the user revokes access.
    pub fn notification_access_revocation() -> Scope {
        Scope::global("NOTIFICATION_ACCESS_REVOCATION")
    }

    /// `offline_access`: also get a refresh token.
    pub fn offline_access() -> Scope {
        Scope::global("offline_access")
    }

    /// The scope as it travels.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A PKCE code verifier (RFC 7636): kept by the app during the redirect, sent with the code.
///
/// Its `Debug` form does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct PkceVerifier(String);

impl PkceVerifier {
    /// A fresh verifier: 32 random bytes, base64url (43 characters).
    pub fn generate() -> Result<PkceVerifier, Error> {
        Ok(PkceVerifier(random_url_safe::<32>()?))
    }

    /// A verifier kept earlier (from a session, say): 43 to 128 characters of
    /// `[A-Za-z0-9-._~]`.
    pub fn from_string(verifier: impl Into<String>) -> Result<PkceVerifier, Error> {
        let verifier = verifier.into();
        let valid = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if valid {
            Ok(PkceVerifier(verifier))
        } else {
            Err(Error::InvalidRequest(
                "a PKCE verifier is 43 to 128 characters of [A-Za-z0-9-._~]".to_owned(),
            ))
        }
    }

    /// The verifier itself, for storing it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The `S256` challenge sent in the authorization URL: base64url of its SHA-256.
    pub fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PkceVerifier(<redacted>)")
    }
}

/// `N` random bytes from the OS, base64url without padding.
fn random_url_safe<const N: usize>() -> Result<String, Error> {
    let mut bytes = [0_u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::InvalidRequest(format!("the OS random source failed: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether the `state` a redirect came back with is the one the app sent, compared in constant
/// time.
pub fn state_matches(expected: &str, returned: &str) -> bool {
    let digest = |s: &str| -> [u8; 32] { Sha256::digest(s.as_bytes()).into() };
    digest(expected).ct_eq(&digest(returned)).into()
}

/// Where to send a user to grant access, with what to keep until they come back.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The authorization URL.
    pub url: Url,
    /// The `state` in the URL; check the redirect's against it with [`state_matches`].
    pub state: String,
    /// The PKCE verifier whose challenge is in the URL; needed by
    /// [`OAuthClient::exchange_code`].
    pub pkce_verifier: PkceVerifier,
}

/// A token endpoint's successful answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenResponse {
    /// The access token, for [`Client`](crate::Client) calls.
    pub access_token: AccessToken,
    /// `bearer`.
    pub token_type: String,
    /// Seconds the access token lives, if the server said.
    pub expires_in: Option<u64>,
    /// The granted scopes, space separated (empty if the server did not say).
    pub scope: String,
    /// A refresh token, when `offline_access` was granted.
    pub refresh_token: Option<RefreshToken>,
}

impl TokenResponse {
    /// The granted scopes, one by one.
    pub fn scopes(&self) -> impl Iterator<Item = Scope> + '_ {
        self.scope.split_whitespace().map(Scope::global)
    }

    /// How long the access token lives, if the server said.
    pub fn expires_in_duration(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }

    fn from_json(value: &Value) -> Result<TokenResponse, String> {
        let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
        let access_token = text("access_token").ok_or("access_token is missing")?;
        let expires_in = match value.get("expires_in") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(n.as_u64().ok_or("expires_in is not a count")?),
            Some(Value::String(s)) => Some(s.parse().map_err(|_| "expires_in is not a count")?),
            Some(_) => return Err("expires_in is not a count".to_owned()),
        };
        Ok(TokenResponse {
            access_token: AccessToken::new(access_token),
            token_type: text("token_type").unwrap_or_else(|| "bearer".to_owned()),
            expires_in,
            scope: text("scope").unwrap_or_default(),
            refresh_token: text("refresh_token").map(RefreshToken::new),
        })
    }
}

/// The OAuth server refused a token request (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HTTP {http_status} {error}{}", .description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
pub struct OAuthError {
    http_status: u16,
    error: String,
    description: Option<String>,
}

impl OAuthError {
    /// The HTTP status of the answer.
    pub fn http_status(&self) -> u16 {
        self.http_status
    }

    /// The `error` code (`invalid_grant`, `invalid_client`, ...).
    pub fn error(&self) -> &str {
        &self.error
    }

    /// The `error_description`, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
}

/// Settings of an [`OAuthClient`]; made by [`OAuthClient::builder`].
#[derive(Debug, Clone)]
pub struct OAuthClientBuilder {
    base_url: String,
    client_id: String,
    client_secret: ClientSecret,
    redirect_uri: String,
    http: HttpSettings,
}

impl OAuthClientBuilder {
    /// Where the OAuth server is (default [`DEFAULT_OAUTH_BASE_URL`]); the endpoints are
    /// [`AUTHORIZE_PATH`] and [`TOKEN_PATH`] under it.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The longest a token request may take (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.http.timeout = timeout;
        self
    }

    /// The longest connecting may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.http.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` header (default `kenar-sdk-rust/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.http.user_agent = user_agent.into();
        self
    }

    /// How failed token requests are retried; they are never idempotent, so only failures the
    /// server cannot have acted on are retried.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.http.retry = policy;
        self
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<OAuthClient, Error> {
        Url::parse(&self.redirect_uri).map_err(|e| {
            Error::Config(format!("invalid redirect URI {:?}: {e}", self.redirect_uri))
        })?;
        Ok(OAuthClient {
            base_url: parse_base_url(&self.base_url)?,
            client_id: self.client_id,
            client_secret: self.client_secret,
            redirect_uri: self.redirect_uri,
            transport: self.http.build()?,
        })
    }
}

/// The app's side of Kenar's OAuth2 authorization-code flow.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    base_url: String,
    client_id: String,
    client_secret: ClientSecret,
    redirect_uri: String,
    transport: Transport,
}

impl OAuthClient {
    /// A builder for the app `client_id` (its slug) with its client secret and the redirect
    /// URI registered for it.
    pub fn builder(
        client_id: impl Into<String>,
        client_secret: impl Into<ClientSecret>,
        redirect_uri: impl Into<String>,
    ) -> OAuthClientBuilder {
        OAuthClientBuilder {
            base_url: DEFAULT_OAUTH_BASE_URL.to_owned(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            redirect_uri: redirect_uri.into(),
            http: HttpSettings::default(),
        }
    }

    /// An authorization URL for `scopes` with a fresh random `state` and PKCE verifier.
    pub fn authorization_request(
        &self,
        scopes: impl IntoIterator<Item = Scope>,
    ) -> Result<AuthorizationRequest, Error> {
        let state = random_url_safe::<16>()?;
        let pkce_verifier = PkceVerifier::generate()?;
        let url = self.authorization_url(scopes, &state, &pkce_verifier)?;
        Ok(AuthorizationRequest {
            url,
            state,
            pkce_verifier,
        })
    }

    /// The authorization URL for `scopes` with the given `state` and PKCE verifier:
    /// `GET /oauth2/auth?response_type=code&client_id=...&redirect_uri=...&scope=...&state=...
    /// &code_challenge=...&code_challenge_method=S256`.
    pub fn authorization_url(
        &self,
        scopes: impl IntoIterator<Item = Scope>,
        state: &str,
        pkce_verifier: &PkceVerifier,
    ) -> Result<Url, Error> {
        let scope = scopes
            .into_iter()
            .map(|s| s.0)
            .collect::<Vec<_>>()
            .join(" ");
        let mut url = Url::parse(&format!("{}{AUTHORIZE_PATH}", self.base_url))
            .map_err(|e| Error::Config(format!("invalid authorization URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", &scope)
            .append_pair("state", state)
            .append_pair("code_challenge", &pkce_verifier.challenge())
            .append_pair("code_challenge_method", "S256");
        Ok(url)
    }

    /// Exchanges the `code` a redirect brought for tokens (`grant_type=authorization_code`).
    pub async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &PkceVerifier,
    ) -> Result<TokenResponse, Error> {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.redirect_uri),
            ("client_id", &self.client_id),
            ("client_secret", self.client_secret.expose()),
            ("code_verifier", pkce_verifier.expose()),
        ])
        .await
    }

    /// Exchanges a refresh token for a new access token (`grant_type=refresh_token`). Refresh
    /// tokens rotate: keep the new one the answer carries.
    pub async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenResponse, Error> {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
            ("client_id", &self.client_id),
            ("client_secret", self.client_secret.expose()),
        ])
        .await
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenResponse, Error> {
        let url = format!("{}{TOKEN_PATH}", self.base_url);
        let answer = self
            .transport
            .execute(Idempotency::NotIdempotent, |http| {
                http.post(&url)
                    .header(reqwest::header::ACCEPT, "application/json")
                    .form(form)
            })
            .await?;
        token_answer(answer)
    }
}

fn token_answer(answer: Answer) -> Result<TokenResponse, Error> {
    let value = serde_json::from_slice::<Value>(&answer.body).ok();
    if answer.is_success() {
        let value = value.ok_or_else(|| Error::UnexpectedResponse {
            http_status: answer.status,
            reason: "the token response is not JSON".to_owned(),
        })?;
        return TokenResponse::from_json(&value).map_err(|reason| Error::UnexpectedResponse {
            http_status: answer.status,
            reason,
        });
    }
    let error = value
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(Value::as_str);
    match error {
        Some(error) => Err(OAuthError {
            http_status: answer.status,
            error: error.to_owned(),
            description: value
                .as_ref()
                .and_then(|v| v.get("error_description"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
        .into()),
        None => Err(Error::UnexpectedResponse {
            http_status: answer.status,
            reason: "an error answer without an OAuth error body".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> OAuthClient {
        OAuthClient::builder("my-app", "s3cret", "https://app.example/cb?x=1")
            .base_url("https://auth.example/")
            .build()
            .expect("builds")
    }

    #[test]
    fn the_pkce_challenge_is_the_rfc_7636_example() {
        // RFC 7636, appendix B.
        let verifier = PkceVerifier::from_string("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
            .expect("valid");
        assert_eq!(
            verifier.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(PkceVerifier::from_string("short").is_err());
        let fresh = PkceVerifier::generate().expect("random");
        assert_eq!(fresh.expose().len(), 43);
        assert!(PkceVerifier::from_string(fresh.expose()).is_ok());
        assert_eq!(format!("{fresh:?}"), "PkceVerifier(<redacted>)");
    }

    #[test]
    fn the_authorization_url_carries_every_parameter() {
        let oauth = client();
        let request = oauth
            .authorization_request([
                Scope::chat_post_conversations_read("gZd7omnS"),
                Scope::send_event(),
            ])
            .expect("built");
        let url = &request.url;
        assert_eq!(url.scheme(), "https");
        assert_eq!(url.host_str(), Some("auth.example"));
        assert_eq!(url.path(), "/oauth2/auth");
        let pairs: std::collections::HashMap<String, String> =
            url.query_pairs().into_owned().collect();
        assert_eq!(pairs["response_type"], "code");
        assert_eq!(pairs["client_id"], "my-app");
        assert_eq!(pairs["redirect_uri"], "https://app.example/cb?x=1");
        assert_eq!(
            pairs["scope"],
            "CHAT_POST_CONVERSATIONS_READ.gZd7omnS SEND_EVENT"
        );
        assert_eq!(pairs["state"], request.state);
        assert_eq!(pairs["code_challenge"], request.pkce_verifier.challenge());
        assert_eq!(pairs["code_challenge_method"], "S256");
        assert_eq!(pairs.len(), 7);
        let again = oauth.authorization_request([]).expect("built");
        assert_ne!(again.state, request.state, "a fresh state each time");
    }

    #[test]
    fn states_are_compared_whole() {
        assert!(state_matches("abc", "abc"));
        assert!(!state_matches("abc", "ab"));
        assert!(!state_matches("abc", "abd"));
    }

    #[test]
    fn token_answers_are_read_leniently_and_errors_per_rfc_6749() {
        let ok = |body: &str| Answer {
            status: 200,
            retry_after: None,
            body: body.as_bytes().to_vec(),
            attempts: 1,
        };
        let tokens = token_answer(ok(
            r#"{"access_token": "a", "expires_in": "3600", "scope": "USER_ID SEND_EVENT", "token_type": "bearer"}"#,
        ))
        .expect("reads");
        assert_eq!(tokens.access_token.expose(), "a");
        assert_eq!(
            tokens.expires_in_duration(),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(tokens.scopes().count(), 2);
        assert_eq!(tokens.refresh_token, None);
        let err = token_answer(ok(r#"{"token_type": "bearer"}"#)).expect_err("no token");
        assert!(err.to_string().contains("access_token is missing"), "{err}");
        let refused = token_answer(Answer {
            status: 400,
            body: br#"{"error": "invalid_grant", "error_description": "code used"}"#.to_vec(),
            ..ok("")
        })
        .expect_err("refused");
        let Error::OAuth(e) = &refused else {
            panic!("{refused:?}")
        };
        assert_eq!(e.error(), "invalid_grant");
        assert_eq!(e.description(), Some("code used"));
        assert_eq!(refused.to_string(), "HTTP 400 invalid_grant: code used");
    }
}
