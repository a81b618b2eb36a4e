//! [`Client`], the Events API client, and its builder.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use url::Url;

use crate::error::Error;
use crate::events::Events;
use crate::retry::RetryPolicy;
use crate::secret::{AccessToken, ApiKey};
use crate::transport::{HttpSettings, Transport};

/// Kenar's production Events API.
pub const DEFAULT_BASE_URL: &str = "https://open-api.divar.ir";

/// A client of Kenar's Events API.
///
/// Cheap to clone (clones share one connection pool); build one per app and keep it. Calls
/// authenticate the app with its API key and the user with an access token: the client's
/// default one ([`ClientBuilder::access_token`], [`Client::with_access_token`]) or one given per
/// call ([`RegisterSubscription::access_token`](crate::RegisterSubscription::access_token)).
///
/// ```no_run
/// # async fn run() -> Result<(), kenar_sdk::Error> {
/// use std::time::Duration;
/// use kenar_sdk::{Client, RetryPolicy};
///
/// let client = Client::builder("the app's API key")
///     .base_url("http://127.0.0.1:8080")
///     .timeout(Duration::from_secs(10))
///     .retry_policy(RetryPolicy::default().max_retries(5))
///     .build()?;
/// // The same client acting for one user.
/// let for_user = client.with_access_token("the user's access token");
/// # let _ = for_user; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    /// What every clone shares.
    inner: Arc<Inner>,
    /// The access token calls use when they do not name one.
    access_token: Option<AccessToken>,
}

#[derive(Debug)]
struct Inner {
    transport: Transport,
    /// Without a trailing `/`; paths are appended to it.
    base_url: String,
    /// Ready to send, marked sensitive so the HTTP stack never logs it.
    api_key: HeaderValue,
}

impl Client {
    /// A builder for a client of the app with this API key, against Kenar's production API
    /// ([`DEFAULT_BASE_URL`]) unless [`ClientBuilder::base_url`] says otherwise.
    pub fn builder(api_key: impl Into<ApiKey>) -> ClientBuilder {
        ClientBuilder {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: api_key.into(),
            access_token: None,
            http: HttpSettings::default(),
        }
    }

    /// A client with the default settings.
    pub fn new(api_key: impl Into<ApiKey>) -> Result<Client, Error> {
        Client::builder(api_key).build()
    }

    /// The same client (sharing its connections) with a different default access token.
    pub fn with_access_token(&self, token: impl Into<AccessToken>) -> Client {
        Client {
            inner: Arc::clone(&self.inner),
            access_token: Some(token.into()),
        }
    }

    /// The Events API: subscriptions and sent events.
    pub fn events(&self) -> Events<'_> {
        Events::new(self)
    }

    /// The base URL calls go to, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.base_url)
    }

    /// `X-API-Key` and `Authorization: Bearer` with the call's token, or the client's.
    pub(crate) fn auth_headers(&self, per_call: Option<&AccessToken>) -> Result<HeaderMap, Error> {
        let token = per_call.or(self.access_token.as_ref()).ok_or_else(|| {
            Error::InvalidRequest(
                "no access token: set one on the client or on the request".to_owned(),
            )
        })?;
        let mut bearer =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                Error::InvalidRequest("the access token is not a valid header value".to_owned())
            })?;
        bearer.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", self.inner.api_key.clone());
        headers.insert(AUTHORIZATION, bearer);
        Ok(headers)
    }
}

/// Settings of a [`Client`]; made by [`Client::builder`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    api_key: ApiKey,
    access_token: Option<AccessToken>,
    http: HttpSettings,
}

impl ClientBuilder {
    /// Where the Events API is (default [`DEFAULT_BASE_URL`]); may include a path prefix.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The access token calls use unless they name their own.
    pub fn access_token(mut self, token: impl Into<AccessToken>) -> Self {
        self.access_token = Some(token.into());
        self
    }

    /// The longest a request may take, from connecting to the end of the answer (default
    /// 30 s). Each retry gets its own.
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

    /// How failed calls are retried (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.http.retry = policy;
        self
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let base_url = parse_base_url(&self.base_url)?;
        let mut api_key = HeaderValue::from_str(self.api_key.expose())
            .map_err(|_| Error::Config("the API key is not a valid header value".to_owned()))?;
        api_key.set_sensitive(true);
        Ok(Client {
            inner: Arc::new(Inner {
                transport: self.http.build()?,
                base_url,
                api_key,
            }),
            access_token: self.access_token,
        })
    }

    /// Builds a [`blocking::Client`](crate::blocking::Client) with these settings.
    #[cfg(feature = "blocking")]
    pub fn build_blocking(self) -> Result<crate::blocking::Client, Error> {
        crate::blocking::Client::from_async(self.build()?)
    }
}

/// An `http` or `https` URL without query or fragment, returned without its trailing `/`.
pub(crate) fn parse_base_url(raw: &str) -> Result<String, Error> {
    let url =
        Url::parse(raw).map_err(|e| Error::Config(format!("invalid base URL {raw:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(Error::Config(format!(
            "invalid base URL {raw:?}: expected http(s)://host[:port][/path]"
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_lose_their_trailing_slash_and_must_be_http() {
        assert_eq!(
            parse_base_url("https://open-api.divar.ir/").expect("valid"),
            "https://open-api.divar.ir"
        );
        assert_eq!(
            parse_base_url("http://127.0.0.1:8080/kenar/").expect("valid"),
            "http://127.0.0.1:8080/kenar"
        );
        assert!(parse_base_url("ftp://example.com").is_err());
        assert!(parse_base_url("http://example.com/?a=1").is_err());
        assert!(parse_base_url("not a url").is_err());
    }

    #[test]
    fn a_call_without_any_access_token_is_refused_before_sending() {
        let client = Client::new("key").expect("builds");
        let err = client.auth_headers(None).expect_err("no token");
        assert!(matches!(err, Error::InvalidRequest(_)), "{err}");
        let headers = client
            .with_access_token("t")
            .auth_headers(None)
            .expect("a token");
        assert_eq!(headers["authorization"], "Bearer t");
        assert_eq!(headers["x-api-key"], "key");
        let per_call = AccessToken::new("other");
        let headers = client
            .with_access_token("t")
            .auth_headers(Some(&per_call))
            .expect("a token");
        assert_eq!(headers["authorization"], "Bearer other");
    }

    #[test]
    fn the_debug_form_of_a_client_hides_its_credentials() {
        let client = Client::builder("secret-key-1")
            .access_token("secret-token-1")
            .build()
            .expect("builds");
        let shown = format!("{client:?}");
        assert!(!shown.contains("secret-key-1"), "{shown}");
        assert!(!shown.contains("secret-token-1"), "{shown}");
    }
}
