//! Sends one webhook: the contract's headers, Standard Webhooks signature, a per-request
//! timeout, pooled keep-alive connections, a bounded response read, and a guard against
//! requests to private networks checked on every address a connection is made to.
//!
//! Webhooks go through hyper's client directly: reqwest's layers (its redirect policy, its
//! URL bookkeeping) cost a tenth of the server's CPU in the throughput benchmark, for
//! nothing a webhook uses. The other outbound calls (dynamic actions, introspection) are
//! few and keep reqwest, behind the same resolver guard.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use hyper::Method;
use hyper_util::client::legacy::connect::dns::Name as HyperName;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Host;

use super::DeliveryConfig;
use crate::domain::signature::sign;
use crate::domain::url::{is_private, PrivateTargets};
use crate::store::Endpoint;

/// Bytes of a response read at most; the rest is not waited for.
const MAX_RESPONSE_READ: usize = 64 * 1024;
/// Characters of the response body kept in the delivery log.
const KEPT_RESPONSE_CHARS: usize = 1024;
const USER_AGENT_VALUE: &str = concat!("kenar-events/", env!("CARGO_PKG_VERSION"));
/// Standard Webhooks' headers.
const WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
#[error("could not build the outbound HTTP client")]
pub struct BuildError(#[source] reqwest::Error);

/// What one attempt found.
#[derive(Debug, Clone)]
pub struct SendResult {
    pub status: Option<u16>,
    pub body: Option<String>,
    pub error: Option<String>,
    /// The raw `Retry-After` header, if any.
    pub retry_after: Option<String>,
    pub latency: Duration,
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector<GuardedResolver>>;

pub struct Sender {
    client: Client<Connector, Full<Bytes>>,
    timeout: Duration,
    private_targets: PrivateTargets,
}

/// An endpoint ready to be sent to: its URL parsed and checked once for a whole batch of
/// deliveries, not once per request.
pub struct Target {
    pub endpoint: Endpoint,
    uri: Result<hyper::Uri, String>,
    /// The identification key as a header value, made once for the batch.
    authorization: Result<HeaderValue, String>,
}

/// The system's resolver; unless private targets are allowed, it refuses private addresses,
/// so a public name that points into the private network (or is rebound to it) cannot be
/// reached.
#[derive(Debug, Clone, Copy)]
struct GuardedResolver(PrivateTargets);

impl GuardedResolver {
    async fn lookup(self, host: String) -> Result<Vec<SocketAddr>, BoxError> {
        let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
        let addrs: Vec<SocketAddr> = match self.0 {
            PrivateTargets::Allow => found.collect(),
            PrivateTargets::Refuse => found.filter(|a| !is_private(a.ip())).collect(),
        };
        match (addrs.is_empty(), self.0) {
            (false, _) => Ok(addrs),
            (true, PrivateTargets::Refuse) => Err(format!(
                "{host} resolves only to private addresses, which webhooks may not reach"
            )
            .into()),
            (true, PrivateTargets::Allow) => Err(format!("{host} resolves to no address").into()),
        }
    }
}

/// For reqwest (dynamic actions, introspection).
impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = *self;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = this.lookup(host).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// For hyper's connector (webhooks).
impl tower_service::Service<HyperName> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: HyperName) -> Self::Future {
        let this = *self;
        let host = name.as_str().to_owned();
        Box::pin(async move { Ok(this.lookup(host).await?.into_iter()) })
    }
}

/// The client of the server's other outbound calls (dynamic actions, introspection): no
/// redirects, a timeout, pooled keep-alive connections, and unless private targets are
/// allowed, a resolver that refuses private addresses.
pub fn outbound_client(
    timeout: Duration,
    idle_per_host: usize,
    private_targets: PrivateTargets,
) -> Result<reqwest::Client, BuildError> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(idle_per_host)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .user_agent(USER_AGENT_VALUE);
    if private_targets == PrivateTargets::Refuse {
        builder = builder.dns_resolver(Arc::new(GuardedResolver(private_targets)));
    }
    builder.build().map_err(BuildError)
}

/// Parses an outbound URL and, unless private targets are allowed, refuses literal private
/// addresses (which never pass through the resolver).
pub fn check_target(url: &str, private_targets: PrivateTargets) -> Result<url::Url, String> {
    let url = url::Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
    if private_targets == PrivateTargets::Refuse {
        let literal = match url.host() {
            Some(Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        };
        if literal.is_some_and(is_private) {
            return Err("the URL points at a private address".into());
        }
    }
    Ok(url)
}

impl Sender {
    /// Webhooks: no redirects (hyper's client follows none), `request_timeout` per attempt,
    /// up to `endpoint_concurrency` idle keep-alive connections per endpoint, HTTP/1.1 over
    /// TCP or TLS (Mozilla's roots).
    pub fn new(config: &DeliveryConfig) -> Sender {
        let mut http = HttpConnector::new_with_resolver(GuardedResolver(config.private_targets));
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.request_timeout.min(Duration::from_secs(5))));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_max_idle_per_host(config.endpoint_concurrency)
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Sender {
            client,
            timeout: config.request_timeout,
            private_targets: config.private_targets,
        }
    }

    /// Parses and checks the endpoint's URL; a bad one fails each of its deliveries.
    pub fn target(&self, endpoint: Endpoint) -> Target {
        let uri = check_target(&endpoint.url, self.private_targets).and_then(|url| {
            url.as_str()
                .parse::<hyper::Uri>()
                .map_err(|e| format!("invalid URL: {e}"))
        });
        let authorization = HeaderValue::from_str(endpoint.identification_key.expose())
            .map(|mut v| {
                v.set_sensitive(true);
                v
            })
            .map_err(|_| "the identification key is not a valid header value".to_owned());
        Target {
            endpoint,
            uri,
            authorization,
        }
    }

    pub async fn send(&self, target: &Target, delivery_id: i64, body: String) -> SendResult {
        let started = Instant::now();
        let failed = |error: String| SendResult {
            status: None,
            body: None,
            error: Some(error),
            retry_after: None,
            latency: started.elapsed(),
        };
        let (uri, authorization) = match (&target.uri, &target.authorization) {
            (Ok(u), Ok(a)) => (u.clone(), a.clone()),
            (Err(e), _) | (_, Err(e)) => return failed(e.clone()),
        };
        let webhook_id = format!("msg_{delivery_id}");
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let signature = target
            .endpoint
            .signing_secret
            .as_ref()
            .and_then(|secret| sign(secret, &webhook_id, timestamp, body.as_bytes()))
            .and_then(|s| HeaderValue::try_from(s).ok());
        let id = match HeaderValue::try_from(webhook_id) {
            Ok(id) => id,
            Err(e) => return failed(format!("request failed: {e}")),
        };
        // Built in place: each step of `http::request::Builder` moves the whole request, and
        // those moves were 2 % of the server's instructions in the throughput benchmark.
        let mut request = hyper::Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        headers.reserve(7);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        headers.insert(AUTHORIZATION, authorization);
        headers.insert(WEBHOOK_ID, id);
        headers.insert(WEBHOOK_TIMESTAMP, HeaderValue::from(timestamp));
        if let Some(signature) = signature {
            headers.insert(WEBHOOK_SIGNATURE, signature);
        }
        let deadline = tokio::time::Instant::from_std(started + self.timeout);
        let response = match tokio::time::timeout_at(deadline, self.client.request(request)).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return failed(describe(&e)),
            Err(_) => return failed("timed out".into()),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut incoming = response.into_body();
        let mut read = Vec::new();
        let mut error = None;
        while read.len() < MAX_RESPONSE_READ {
            match tokio::time::timeout_at(deadline, incoming.frame()).await {
                Ok(Some(Ok(frame))) => {
                    if let Some(chunk) = frame.data_ref() {
                        read.extend_from_slice(chunk);
                    }
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    error = Some(format!(
                        "reading the response failed: {}",
                        crate::error_chain(&e)
                    ));
                    break;
                }
                Err(_) => {
                    error = Some("reading the response failed: timed out".into());
                    break;
                }
            }
        }
        let text: String = String::from_utf8_lossy(&read)
            .chars()
            .take(KEPT_RESPONSE_CHARS)
            .collect();
        SendResult {
            status: Some(status),
            body: (!text.is_empty()).then_some(text),
            error,
            retry_after,
            latency: started.elapsed(),
        }
    }
}

/// A client error with its causes, without the URL (which may carry secrets in its query).
fn describe(e: &hyper_util::client::legacy::Error) -> String {
    let kind = if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    match std::error::Error::source(e) {
        Some(cause) => format!("{kind}: {}", crate::error_chain(cause)),
        None => kind.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::domain::Secret;

    fn endpoint(url: &str) -> Endpoint {
        Endpoint {
            app_id: 1,
            url: url.into(),
            identification_key: Secret::new("key"),
            signing_secret: None,
        }
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_at_connection_time() {
        let resolved = Resolve::resolve(
            &GuardedResolver(PrivateTargets::Refuse),
            Name::from_str("localhost").expect("name"),
        )
        .await;
        let error = resolved.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("private addresses"), "{error}");

        let sender = Sender::new(&DeliveryConfig::default());
        let result = sender
            .send(
                &sender.target(endpoint("http://localhost:9/hook")),
                1,
                "{}".into(),
            )
            .await;
        assert!(result.status.is_none());
        assert!(
            result
                .error
                .as_deref()
                .unwrap_or("")
                .contains("private addresses"),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn an_identification_key_that_is_no_header_value_fails_without_a_connection() {
        let sender = Sender::new(&DeliveryConfig {
            private_targets: PrivateTargets::Allow,
            ..DeliveryConfig::default()
        });
        let mut endpoint = endpoint("http://127.0.0.1:9/hook");
        endpoint.identification_key = Secret::new("key\nInjected: yes");
        let result = sender.send(&sender.target(endpoint), 1, "{}".into()).await;
        assert!(result.status.is_none());
        assert_eq!(
            result.error.as_deref(),
            Some("the identification key is not a valid header value")
        );
    }

    #[tokio::test]
    async fn literal_private_addresses_are_refused_without_a_connection() {
        let sender = Sender::new(&DeliveryConfig::default());
        for url in [
            "http://127.0.0.1:9/",
            "http://169.254.169.254/latest",
            "http://[::1]:9/",
        ] {
            let result = sender
                .send(&sender.target(endpoint(url)), 1, "{}".into())
                .await;
            assert!(
                result
                    .error
                    .as_deref()
                    .unwrap_or("")
                    .contains("private address"),
                "{url}: {result:?}"
            );
        }
    }
}
