//! The same calls without async (the `blocking` feature), for programs that do not run an
//! async runtime.
//!
//! Each client owns a small runtime (one worker thread) and blocks the calling thread on it.
//! Do not use these clients from inside an async runtime: call the async ones there.
//!
//! ```no_run
//! use kenar_sdk::{Client, RegisterSubscription};
//!
//! let client = Client::builder("api key")
//!     .access_token("access token")
//!     .build_blocking()?;
//! client
//!     .events()
//!     .register_subscription(RegisterSubscription::post_updates())?;
//! # Ok::<(), kenar_sdk::Error>(())
//! ```

use std::future::Future;
use std::sync::Arc;

use kenar_wire::events::{RegisterSubscriptionResponse, SendEventResponse};
use tokio::runtime::Runtime;

use crate::error::Error;
use crate::events::{RegisterSubscription, SendEvent};
use crate::oauth::{PkceVerifier, TokenResponse};
use crate::secret::{AccessToken, RefreshToken};

/// A runtime shared by a blocking client and its clones.
#[derive(Debug, Clone)]
struct Blocker {
    runtime: Arc<Runtime>,
}

impl Blocker {
    fn new() -> Result<Blocker, Error> {
        // One worker keeps pooled connections alive between calls.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kenar-sdk-blocking")
            .enable_all()
            .build()
            .map_err(|e| Error::Config(format!("cannot start a runtime: {e}")))?;
        Ok(Blocker {
            runtime: Arc::new(runtime),
        })
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

/// A blocking [`crate::Client`]; made by
/// [`ClientBuilder::build_blocking`](crate::ClientBuilder::build_blocking) or
/// [`Client::from_async`].
#[derive(Debug, Clone)]
pub struct Client {
    inner: crate::Client,
    blocker: Blocker,
}

impl Client {
    /// Wraps an async client. It should be used only through this wrapper from then on.
    pub fn from_async(client: crate::Client) -> Result<Client, Error> {
        Ok(Client {
            inner: client,
            blocker: Blocker::new()?,
        })
    }

    /// The same client (sharing its connections) with a different default access token.
    pub fn with_access_token(&self, token: impl Into<AccessToken>) -> Client {
        Client {
            inner: self.inner.with_access_token(token),
            blocker: self.blocker.clone(),
        }
    }

    /// The Events API: subscriptions and sent events.
    pub fn events(&self) -> Events<'_> {
        Events { client: self }
    }
}

/// The Events API calls of a blocking [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct Events<'a> {
    client: &'a Client,
}

impl Events<'_> {
    /// Blocking [`crate::Events::register_subscription`].
    pub fn register_subscription(
        &self,
        request: RegisterSubscription,
    ) -> Result<RegisterSubscriptionResponse, Error> {
        let events = self.client.inner.events();
        self.client
            .blocker
            .block_on(events.register_subscription(request))
    }

    /// Blocking [`crate::Events::send`].
    pub fn send(&self, request: SendEvent) -> Result<SendEventResponse, Error> {
        let events = self.client.inner.events();
        self.client.blocker.block_on(events.send(request))
    }
}

/// A blocking [`crate::oauth::OAuthClient`].
#[derive(Debug, Clone)]
pub struct OAuthClient {
    inner: crate::oauth::OAuthClient,
    blocker: Blocker,
}

impl OAuthClient {
    /// Wraps an async OAuth client.
    pub fn from_async(client: crate::oauth::OAuthClient) -> Result<OAuthClient, Error> {
        Ok(OAuthClient {
            inner: client,
            blocker: Blocker::new()?,
        })
    }

    /// The async client, for building authorization URLs (which needs no I/O).
    pub fn as_async(&self) -> &crate::oauth::OAuthClient {
        &self.inner
    }

    /// Blocking [`crate::oauth::OAuthClient::exchange_code`].
    pub fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &PkceVerifier,
    ) -> Result<TokenResponse, Error> {
        self.blocker
            .block_on(self.inner.exchange_code(code, pkce_verifier))
    }

    /// Blocking [`crate::oauth::OAuthClient::refresh`].
    pub fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenResponse, Error> {
        self.blocker.block_on(self.inner.refresh(refresh_token))
    }
}
