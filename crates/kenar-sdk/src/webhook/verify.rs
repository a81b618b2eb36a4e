//! Authentication of incoming webhooks: the identification key and Standard Webhooks signatures.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Event, ParseError};

/// How far `webhook-timestamp` may be from the receiver's clock, either way, unless
/// [`Verifier::tolerance`] says otherwise: 5 minutes, as the Standard Webhooks libraries use.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// A Standard Webhooks signing secret (`whsec_` followed by base64 of the key).
///
/// Its `Debug` form does not show the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret {
    key: Arc<[u8]>,
}

impl SigningSecret {
    /// Reads a secret as the app's settings show it: `whsec_` and base64. The prefix may be
    /// left out.
    pub fn parse(secret: &str) -> Result<SigningSecret, InvalidSigningSecret> {
        let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
        let key = STANDARD
            .decode(encoded.trim())
            .map_err(|_| InvalidSigningSecret)?;
        if key.is_empty() {
            return Err(InvalidSigningSecret);
        }
        Ok(SigningSecret { key: key.into() })
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length; the error case cannot happen.
        Hmac::<Sha256>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }

    /// The raw HMAC over `id.timestamp.body`.
    fn signature(&self, webhook_id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        let mut mac = self.mac();
        mac.update(webhook_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

/// A signing secret that is not `whsec_` followed by base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a signing secret is whsec_ followed by base64")]
pub struct InvalidSigningSecret;

/// The `webhook-signature` value for a delivery: `v1,` and the base64 HMAC-SHA256 of
/// `webhook_id.timestamp.body`. Useful to test a receiver.
pub fn sign(secret: &SigningSecret, webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1,{}",
        STANDARD.encode(secret.signature(webhook_id, timestamp, body))
    )
}

/// Whether `received` (the `Authorization` header of a webhook) is the app's identification
/// key, compared in constant time (lengths included: both sides are hashed first).
pub fn verify_identification_key(received: &str, expected: &str) -> bool {
    digest(received).ct_eq(&digest(expected)).into()
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// The headers of an incoming webhook that authenticate it, for frameworks that do not use the
/// `http` crate's [`HeaderMap`].
#[derive(Debug, Clone, Copy, Default)]
pub struct WebhookHeaders<'a> {
    /// `Authorization`: the identification key.
    pub authorization: Option<&'a str>,
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`, in seconds since the Unix epoch.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`: one or more space-separated `v1,<base64>` signatures.
    pub signature: Option<&'a str>,
}

impl<'a> WebhookHeaders<'a> {
    /// The authenticating headers of a [`HeaderMap`] (values that are not text count as absent).
    pub fn from_header_map(headers: &'a HeaderMap) -> Self {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        WebhookHeaders {
            authorization: get("authorization"),
            id: get("webhook-id"),
            timestamp: get("webhook-timestamp"),
            signature: get("webhook-signature"),
        }
    }
}

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// No `Authorization` header.
    #[error("missing Authorization header")]
    MissingIdentificationKey,
    /// The `Authorization` header is not the identification key.
    #[error("the Authorization header is not the identification key")]
    WrongIdentificationKey,
    /// A signing secret is configured and this Standard Webhooks header is missing.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not a number of seconds.
    #[error("webhook-timestamp is not a number of seconds")]
    MalformedTimestamp,
    /// `webhook-timestamp` is further from now than the tolerance (a replay, or a bad clock).
    #[error("webhook-timestamp is {}s away from now, beyond the tolerance", .0.as_secs())]
    TimestampOutOfTolerance(Duration),
    /// No signature in `webhook-signature` matches the body.
    #[error("no webhook-signature matches")]
    BadSignature,
    /// Authenticated, but the body is not a webhook.
    #[error("the body is not a webhook: {0}")]
    Body(#[from] ParseError),
}

impl WebhookError {
    /// Whether the request failed authentication (answer `401`), as opposed to carrying a bad
    /// body (answer `400`).
    pub fn is_unauthenticated(&self) -> bool {
        !matches!(self, WebhookError::Body(_))
    }
}

/// Authenticates incoming webhooks and parses them.
///
/// Always checks the `Authorization` header against the identification key; with a
/// [`signing_secret`](Self::signing_secret) also requires a valid Standard Webhooks signature
/// with a recent timestamp. Cheap to clone; its `Debug` form shows no secret.
#[derive(Clone)]
pub struct Verifier {
    /// SHA-256 of the identification key: compared in constant time, and not kept in clear.
    key_digest: [u8; 32],
    signing_secret: Option<SigningSecret>,
    tolerance: Duration,
}

impl Verifier {
    /// A verifier for the app with this identification key.
    pub fn new(identification_key: impl AsRef<str>) -> Self {
        Verifier {
            key_digest: digest(identification_key.as_ref()),
            signing_secret: None,
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// Also requires a Standard Webhooks signature made with this secret.
    pub fn signing_secret(mut self, secret: SigningSecret) -> Self {
        self.signing_secret = Some(secret);
        self
    }

    /// How far `webhook-timestamp` may be from now (default [`DEFAULT_TOLERANCE`]).
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Authenticates a request and parses its body.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Event, WebhookError> {
        self.verify_at(
            WebhookHeaders::from_header_map(headers),
            body,
            SystemTime::now(),
        )
    }

    /// [`verify`](Self::verify) with the headers given one by one and the time of reception.
    pub fn verify_at(
        &self,
        headers: WebhookHeaders<'_>,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Event, WebhookError> {
        self.authenticate_at(headers, body, now)?;
        Ok(Event::parse(body)?)
    }

    /// Authenticates a request without parsing its body.
    pub fn authenticate_at(
        &self,
        headers: WebhookHeaders<'_>,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), WebhookError> {
        self.check_identification_key(headers.authorization)?;
        let Some(secret) = &self.signing_secret else {
            return Ok(());
        };
        let id = headers
            .id
            .ok_or(WebhookError::MissingHeader("webhook-id"))?;
        let timestamp = headers
            .timestamp
            .ok_or(WebhookError::MissingHeader("webhook-timestamp"))?;
        let signatures = headers
            .signature
            .ok_or(WebhookError::MissingHeader("webhook-signature"))?;
        let timestamp: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| WebhookError::MalformedTimestamp)?;
        let now = match now.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(_) => 0,
        };
        let skew = now.abs_diff(timestamp);
        if skew > self.tolerance.as_secs() {
            return Err(WebhookError::TimestampOutOfTolerance(Duration::from_secs(
                skew,
            )));
        }
        let expected = secret.signature(id, timestamp, body);
        let mut matched = false;
        for candidate in signatures.split_whitespace() {
            let Some(encoded) = candidate.strip_prefix("v1,") else {
                continue; // Another scheme (v1a, ...): not ours to check.
            };
            if let Ok(given) = STANDARD.decode(encoded) {
                matched |= bool::from(given.as_slice().ct_eq(&expected));
            }
        }
        if matched {
            Ok(())
        } else {
            Err(WebhookError::BadSignature)
        }
    }

    /// Checks only the `Authorization` header (before reading a body, say).
    pub fn check_identification_key(
        &self,
        authorization: Option<&str>,
    ) -> Result<(), WebhookError> {
        let received = authorization.ok_or(WebhookError::MissingIdentificationKey)?;
        if bool::from(digest(received).ct_eq(&self.key_digest)) {
            Ok(())
        } else {
            Err(WebhookError::WrongIdentificationKey)
        }
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("identification_key", &"<redacted>")
            .field("signing_secret", &self.signing_secret)
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1614265330;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn at(seconds: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).expect("positive"))
    }

    fn spec_verifier() -> Verifier {
        Verifier::new("key").signing_secret(SigningSecret::parse(SPEC_SECRET).expect("valid"))
    }

    fn headers(signature: &str) -> WebhookHeaders<'_> {
        WebhookHeaders {
            authorization: Some("key"),
            id: Some(SPEC_ID),
            timestamp: Some("1614265330"),
            signature: Some(signature),
        }
    }

    #[test]
    fn signs_the_standard_webhooks_example() {
        let secret = SigningSecret::parse(SPEC_SECRET).expect("valid");
        assert_eq!(sign(&secret, SPEC_ID, SPEC_TS, SPEC_BODY), SPEC_SIGNATURE);
        let unprefixed = SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid");
        assert_eq!(unprefixed, secret);
        assert!(SigningSecret::parse("whsec_not base64!").is_err());
        assert!(SigningSecret::parse("whsec_").is_err());
    }

    #[test]
    fn the_spec_example_verifies_and_any_change_breaks_it() {
        let v = spec_verifier();
        v.authenticate_at(headers(SPEC_SIGNATURE), SPEC_BODY, at(SPEC_TS))
            .expect("valid");
        assert_eq!(
            v.authenticate_at(headers(SPEC_SIGNATURE), br#"{"test": 1}"#, at(SPEC_TS)),
            Err(WebhookError::BadSignature)
        );
        let other_id = WebhookHeaders {
            id: Some("msg_other"),
            ..headers(SPEC_SIGNATURE)
        };
        assert_eq!(
            v.authenticate_at(other_id, SPEC_BODY, at(SPEC_TS)),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn one_matching_signature_among_several_is_enough() {
        let v = spec_verifier();
        let several = format!("v1a,ignored v1,AAAA {SPEC_SIGNATURE}");
        v.authenticate_at(headers(&several), SPEC_BODY, at(SPEC_TS))
            .expect("the second v1 matches");
        assert_eq!(
            v.authenticate_at(headers("v1,AAAA v2,xyz"), SPEC_BODY, at(SPEC_TS)),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn timestamps_outside_the_tolerance_are_refused_both_ways() {
        let v = spec_verifier().tolerance(Duration::from_secs(60));
        v.authenticate_at(headers(SPEC_SIGNATURE), SPEC_BODY, at(SPEC_TS + 60))
            .expect("at the edge");
        assert_eq!(
            v.authenticate_at(headers(SPEC_SIGNATURE), SPEC_BODY, at(SPEC_TS + 61)),
            Err(WebhookError::TimestampOutOfTolerance(Duration::from_secs(
                61
            )))
        );
        assert!(v
            .authenticate_at(headers(SPEC_SIGNATURE), SPEC_BODY, at(SPEC_TS - 61))
            .is_err());
        let garbled = WebhookHeaders {
            timestamp: Some("yesterday"),
            ..headers(SPEC_SIGNATURE)
        };
        assert_eq!(
            v.authenticate_at(garbled, SPEC_BODY, at(SPEC_TS)),
            Err(WebhookError::MalformedTimestamp)
        );
    }

    #[test]
    fn the_identification_key_is_always_checked() {
        let v = spec_verifier();
        let wrong = WebhookHeaders {
            authorization: Some("nope"),
            ..headers(SPEC_SIGNATURE)
        };
        assert_eq!(
            v.authenticate_at(wrong, SPEC_BODY, at(SPEC_TS)),
            Err(WebhookError::WrongIdentificationKey)
        );
        let missing = WebhookHeaders {
            authorization: None,
            ..headers(SPEC_SIGNATURE)
        };
        assert_eq!(
            v.authenticate_at(missing, SPEC_BODY, at(SPEC_TS)),
            Err(WebhookError::MissingIdentificationKey)
        );
        assert!(verify_identification_key("abc", "abc"));
        assert!(!verify_identification_key("abc", "abcd"));
    }

    #[test]
    fn with_a_secret_an_unsigned_request_is_refused() {
        let v = spec_verifier();
        let unsigned = WebhookHeaders {
            signature: None,
            ..headers(SPEC_SIGNATURE)
        };
        assert_eq!(
            v.authenticate_at(unsigned, SPEC_BODY, at(SPEC_TS)),
            Err(WebhookError::MissingHeader("webhook-signature"))
        );
        // Without a secret, the key alone authenticates.
        Verifier::new("key")
            .authenticate_at(unsigned, SPEC_BODY, at(SPEC_TS))
            .expect("key only");
    }

    #[test]
    fn the_debug_form_of_a_verifier_hides_its_secrets() {
        let shown = format!(
            "{:?}",
            Verifier::new("my-id-key")
                .signing_secret(SigningSecret::parse(SPEC_SECRET).expect("valid"),)
        );
        assert!(
            !shown.contains("my-id-key") && !shown.contains("MfKQ"),
            "{shown}"
        );
    }
}
