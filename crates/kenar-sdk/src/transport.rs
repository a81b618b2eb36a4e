//! The one place requests are made: HTTP client settings, and the retry loop of
//! [`crate::retry`].

use std::time::{Duration, SystemTime};

use reqwest::header::RETRY_AFTER;

use crate::error::{Error, TransportError};
use crate::retry::{parse_retry_after, RetryPolicy};

/// The `User-Agent` sent unless another is configured.
pub const DEFAULT_USER_AGENT: &str = concat!("kenar-sdk-rust/", env!("CARGO_PKG_VERSION"));

/// Settings of the underlying HTTP client, shared by the builders of both clients.
#[derive(Debug, Clone)]
pub(crate) struct HttpSettings {
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) user_agent: String,
    pub(crate) retry: RetryPolicy,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            retry: RetryPolicy::default(),
        }
    }
}

impl HttpSettings {
    pub(crate) fn build(self) -> Result<Transport, Error> {
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent)
            // An API answer never redirects; following one could send credentials elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Transport {
            http,
            retry: self.retry,
        })
    }
}

/// Whether sending a request twice is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// The call can be repeated: any failure without an answer may be retried.
    Idempotent,
    /// The call must not be applied twice: retry only when the server cannot have applied it.
    NotIdempotent,
}

/// An HTTP client and the retry policy its calls follow.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    http: reqwest::Client,
    retry: RetryPolicy,
}

/// The final answer of a call, whatever its status.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: Vec<u8>,
    pub(crate) attempts: u32,
}

impl Answer {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl Transport {
    /// Sends the request `build` makes (once per attempt), retrying as the policy and the
    /// call's idempotency allow.
    pub(crate) async fn execute(
        &self,
        idempotency: Idempotency,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answer, Error> {
        let mut attempts = 0_u32;
        loop {
            let request = build(&self.http)
                .build()
                .map_err(|e| Error::InvalidRequest(format!("cannot build the request: {e}")))?;
            let retry = attempts;
            attempts += 1;
            match self.http.execute(request).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, SystemTime::now()));
                    // 429 and 503 mean the request was not applied: safe to send again.
                    if matches!(status, 429 | 503) {
                        if let Some(wait) = self.retry.delay(retry, retry_after) {
                            // Read the answer so the connection can be reused.
                            let _ = response.bytes().await;
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                    }
                    let body = response
                        .bytes()
                        .await
                        .map_err(|e| TransportError::new(e, attempts))?;
                    return Ok(Answer {
                        status,
                        retry_after,
                        body: body.to_vec(),
                        attempts,
                    });
                }
                Err(e) => {
                    // A failure while connecting means nothing was sent.
                    let unsent = e.is_connect();
                    if unsent || idempotency == Idempotency::Idempotent {
                        if let Some(wait) = self.retry.delay(retry, None) {
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                    }
                    return Err(TransportError::new(e, attempts).into());
                }
            }
        }
    }
}
