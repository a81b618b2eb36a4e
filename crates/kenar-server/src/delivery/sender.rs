//! Sends one webhook: the contract's headers, Standard Webhooks signature, a per-request
//! timeout, pooled keep-alive connections, a bounded response read, and a guard against
//! requests to private networks checked on every address a connection is made to.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

#[derive(Debug, thiserror::Error)]
#[error("could not build the webhook HTTP client")]
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

pub struct Sender {
    client: reqwest::Client,
    private_targets: PrivateTargets,
}

/// An endpoint ready to be sent to: its URL parsed and checked once for a whole batch of
/// deliveries, not once per request.
pub struct Target {
    pub endpoint: Endpoint,
    url: Result<url::Url, String>,
}

/// Resolves names and refuses private addresses, so a public name that points into the
/// private network (or is rebound to it) cannot be reached.
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !is_private(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!(
                    "{host} resolves only to private addresses, which webhooks may not reach"
                )
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The one way the server calls out (webhooks, dynamic actions): no redirects, a timeout,
/// pooled keep-alive connections, and unless private targets are allowed, a resolver that
/// refuses private addresses.
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
        .user_agent(concat!("kenar-events/", env!("CARGO_PKG_VERSION")));
    if private_targets == PrivateTargets::Refuse {
        builder = builder.dns_resolver(Arc::new(GuardedResolver));
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
    pub fn new(config: &DeliveryConfig) -> Result<Sender, BuildError> {
        Ok(Sender {
            client: outbound_client(
                config.request_timeout,
                config.endpoint_concurrency,
                config.private_targets,
            )?,
            private_targets: config.private_targets,
        })
    }

    /// Parses and checks the endpoint's URL; a bad one fails each of its deliveries.
    pub fn target(&self, endpoint: Endpoint) -> Target {
        let url = check_target(&endpoint.url, self.private_targets);
        Target { endpoint, url }
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
        let endpoint = &target.endpoint;
        let url = match &target.url {
            Ok(u) => u.clone(),
            Err(e) => return failed(e.clone()),
        };
        let webhook_id = format!("msg_{delivery_id}");
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("authorization", endpoint.identification_key.expose())
            .header("webhook-id", &webhook_id)
            .header("webhook-timestamp", timestamp.to_string());
        if let Some(secret) = &endpoint.signing_secret {
            if let Some(signature) = sign(secret, &webhook_id, timestamp, body.as_bytes()) {
                request = request.header("webhook-signature", signature);
            }
        }
        let mut response = match request.body(body).send().await {
            Ok(r) => r,
            Err(e) => return failed(describe(&e)),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut read = Vec::new();
        let mut error = None;
        while read.len() < MAX_RESPONSE_READ {
            match response.chunk().await {
                Ok(Some(chunk)) => read.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => {
                    error = Some(format!("reading the response failed: {}", describe(&e)));
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

/// A reqwest error with its causes, without the URL (which may carry secrets in its query).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut out = kind.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
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
        let resolved = GuardedResolver
            .resolve(Name::from_str("localhost").expect("name"))
            .await;
        let error = resolved.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("private addresses"), "{error}");

        let sender = Sender::new(&DeliveryConfig::default()).expect("client");
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
    async fn literal_private_addresses_are_refused_without_a_connection() {
        let sender = Sender::new(&DeliveryConfig::default()).expect("client");
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
