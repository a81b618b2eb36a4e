//! Access tokens validated by an external authorization server (RFC 7662 introspection)
//! instead of the built-in one, with a short cache of positive answers.
//!
//! An active token is mirrored into the store (a grant and an access-token row keyed by the
//! token's hash), so that subscriptions can live by it exactly as by a built-in token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::domain::credentials::sha256_hex;
use crate::domain::{Scope, ScopeSet};
use crate::store::{AccessTokenRecord, Store, StoreError};

/// Where and how to introspect.
#[derive(Debug, Clone)]
pub struct IntrospectionConfig {
    pub url: String,
    pub client_id: String,
    pub client_secret: crate::domain::Secret,
    /// How long a positive answer is trusted (never beyond the token's own expiry).
    pub cache_ttl: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum IntrospectionError {
    #[error("the token is not active")]
    Inactive,
    #[error("the authorization server could not be asked: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The fields of an introspection answer this server uses (RFC 7662 §2.2).
#[derive(Debug, Deserialize)]
struct Answer {
    active: bool,
    client_id: Option<String>,
    sub: Option<String>,
    scope: Option<String>,
    exp: Option<i64>,
}

/// Most cached tokens; the cache is emptied when full rather than growing without bound.
const CACHE_MAX: usize = 10_000;

pub struct Introspector {
    config: IntrospectionConfig,
    client: reqwest::Client,
    cache: Mutex<HashMap<String, (AccessTokenRecord, Instant)>>,
}

impl std::fmt::Debug for Introspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspector")
            .field("url", &self.config.url)
            .finish()
    }
}

impl Introspector {
    pub fn new(config: IntrospectionConfig, client: reqwest::Client) -> Introspector {
        Introspector {
            config,
            client,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The token's record: from the cache, or asked of the authorization server and mirrored.
    pub async fn authenticate(
        &self,
        store: &Store,
        token: &str,
        now: i64,
    ) -> Result<AccessTokenRecord, IntrospectionError> {
        let key = sha256_hex(token);
        if let Some((record, at)) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            if at.elapsed() < self.config.cache_ttl && now < record.expires_at {
                return Ok(record.clone());
            }
        }
        let answer: Answer = self
            .client
            .post(&self.config.url)
            .basic_auth(
                &self.config.client_id,
                Some(self.config.client_secret.expose()),
            )
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| IntrospectionError::Unavailable(e.without_url().to_string()))?
            .json()
            .await
            .map_err(|e| IntrospectionError::Unavailable(format!("unreadable answer: {e}")))?;
        let lookup = format!("ext_{key}");
        let (true, Some(client_id), Some(sub)) = (answer.active, answer.client_id, answer.sub)
        else {
            store.revoke_external_token(&lookup, now).await?;
            self.cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
            return Err(IntrospectionError::Inactive);
        };
        // Scopes this server does not know grant nothing here; they are dropped.
        let scopes = ScopeSet::new(
            answer
                .scope
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|s| Scope::parse(s).ok())
                .collect(),
        );
        let expires_at = answer
            .exp
            .map(|s| s.saturating_mul(1000))
            .unwrap_or(now + i64::try_from(self.config.cache_ttl.as_millis()).unwrap_or(0));
        if now >= expires_at {
            return Err(IntrospectionError::Inactive);
        }
        let record = store
            .mirror_external_token(&client_id, &sub, &scopes, &lookup, expires_at, now)
            .await?
            .ok_or(IntrospectionError::Inactive)?;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, (record.clone(), Instant::now()));
        Ok(record)
    }
}
