//! The errors of every call: what the server answered, or why there was no answer.

use std::fmt;
use std::time::Duration;

use kenar_wire::json::FromJson;
use kenar_wire::status::{Code, FieldViolation, Status};

use crate::oauth::OAuthError;

/// Why a call failed.
///
/// Match on the variant to tell a refusal by the server ([`Error::Api`], [`Error::OAuth`]) from a
/// failure to get an answer at all ([`Error::Transport`]). The shortcuts [`Error::code`] and
/// [`Error::http_status`] cover the common checks:
///
/// ```
/// # use kenar_sdk::{Code, Error};
/// fn is_missing_scope(e: &Error) -> bool {
///     e.code() == Some(Code::PermissionDenied)
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Events API answered with an error status and a `google.rpc.Status` body.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The OAuth server refused a token request (an RFC 6749 error).
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// No answer: the connection failed, broke, or timed out (after any retries).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A success status whose body is not what the call returns.
    #[error("unexpected response (HTTP {http_status}): {reason}")]
    UnexpectedResponse {
        /// The HTTP status of the answer.
        http_status: u16,
        /// What is wrong with the body (never the body itself, which may hold tokens).
        reason: String,
    },
    /// The request was not sent because it cannot be: metadata that is not a JSON object, a
    /// call that needs an access token without one, an access token that cannot travel in a
    /// header.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A client could not be built from its settings (a malformed base URL, say).
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl Error {
    /// The gRPC code of an [`Error::Api`] error.
    pub fn code(&self) -> Option<Code> {
        self.api().map(ApiError::code)
    }

    /// The HTTP status of an answer the server gave ([`Error::Api`], [`Error::OAuth`],
    /// [`Error::UnexpectedResponse`]).
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.http_status()),
            Error::OAuth(e) => Some(e.http_status()),
            Error::UnexpectedResponse { http_status, .. } => Some(*http_status),
            Error::Transport(_) | Error::InvalidRequest(_) | Error::Config(_) => None,
        }
    }

    /// The details of an [`Error::Api`] error.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }
}

/// The Events API refused a call: the HTTP status and the `google.rpc.Status` it sent.
///
/// Its `Display` reads like `HTTP 400 INVALID_ARGUMENT: event_resource_id: ... [event_resource_id:
/// must be 1 to 64 characters]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status of the answer.
    http_status: u16,
    /// The body, or one made up from the HTTP status when the body was not a `Status`.
    status: Status,
    /// `Retry-After` of the answer, when it had one.
    retry_after: Option<Duration>,
    /// How many requests the call made, retries included.
    attempts: u32,
}

impl ApiError {
    /// Reads an error answer. A body that is not a `google.rpc.Status` (a proxy's error page,
    /// say) gives a status with the code the HTTP status maps to.
    pub(crate) fn from_response(
        http_status: u16,
        retry_after: Option<Duration>,
        body: &[u8],
        attempts: u32,
    ) -> Self {
        let parsed = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| Status::from_json(&v).ok());
        let status = parsed.unwrap_or_else(|| {
            let excerpt: String = String::from_utf8_lossy(body).chars().take(200).collect();
            Status::new(
                Code::from_http_status(http_status),
                format!("HTTP {http_status} without a google.rpc.Status body: {excerpt}"),
            )
        });
        ApiError {
            http_status,
            status,
            retry_after,
            attempts,
        }
    }

    /// The HTTP status of the answer (400, 401, 403, 404, 429, 503, ...).
    pub fn http_status(&self) -> u16 {
        self.http_status
    }

    /// The gRPC status code (`Code::InvalidArgument`, `Code::Unauthenticated`, ...).
    pub fn code(&self) -> Code {
        self.status.code
    }

    /// The server's message, meant for developers.
    pub fn message(&self) -> &str {
        &self.status.message
    }

    /// The offending fields of a request the server found invalid (from the
    /// `google.rpc.BadRequest` detail); empty otherwise.
    pub fn field_violations(&self) -> &[FieldViolation] {
        self.status.field_violations()
    }

    /// The whole `google.rpc.Status`, details included.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// How long the server asked to wait before trying again (`Retry-After`), if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// How many requests the call made, retries included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP {} {}: {}",
            self.http_status,
            self.status.code.name(),
            self.status.message
        )?;
        let violations = self.field_violations();
        if !violations.is_empty() {
            f.write_str(" [")?;
            for (i, v) in violations.iter().enumerate() {
                if i > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{}: {}", v.field, v.description)?;
            }
            f.write_str("]")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// No answer came: connecting failed, the connection broke, or the call timed out.
///
/// The underlying cause is this error's [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[error("{} (after {attempts} attempt{})", describe(.source), if *.attempts == 1 { "" } else { "s" })]
pub struct TransportError {
    /// What failed, from the HTTP client.
    #[source]
    source: reqwest::Error,
    /// How many requests the call made, retries included.
    attempts: u32,
}

fn describe(e: &reqwest::Error) -> &'static str {
    if e.is_connect() {
        "could not connect to the server"
    } else if e.is_timeout() {
        "the request timed out"
    } else {
        "the request failed without an answer"
    }
}

impl TransportError {
    pub(crate) fn new(source: reqwest::Error, attempts: u32) -> Self {
        TransportError { source, attempts }
    }

    /// Whether the failure happened while connecting, so the server never saw the request.
    pub fn is_connect(&self) -> bool {
        self.source.is_connect()
    }

    /// Whether the call timed out (while connecting or waiting for the answer).
    pub fn is_timeout(&self) -> bool {
        self.source.is_timeout()
    }

    /// How many requests the call made, retries included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_error_reads_the_status_body_and_lists_violations() {
        let body = br#"{"code": 3, "message": "invalid request", "details": [
            {"@type": "type.googleapis.com/google.rpc.BadRequest",
             "field_violations": [{"field": "event_type", "description": "required"}]}]}"#;
        let e = ApiError::from_response(400, None, body, 1);
        assert_eq!(e.code(), Code::InvalidArgument);
        assert_eq!(e.field_violations()[0].field, "event_type");
        assert_eq!(
            e.to_string(),
            "HTTP 400 INVALID_ARGUMENT: invalid request [event_type: required]"
        );
    }

    #[test]
    fn a_body_that_is_not_a_status_gives_the_code_of_the_http_status() {
        let e = ApiError::from_response(502, None, b"<html>bad gateway</html>", 1);
        assert_eq!(e.code(), Code::Internal);
        assert!(e.message().contains("bad gateway"), "{}", e.message());
        let e = ApiError::from_response(429, Some(Duration::from_secs(3)), b"", 2);
        assert_eq!(e.code(), Code::ResourceExhausted);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(e.attempts(), 2);
    }
}
