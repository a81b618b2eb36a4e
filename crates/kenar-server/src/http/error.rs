//! The one mapping from failures to `google.rpc.Status` answers.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kenar_wire::status::{Code, Detail, FieldViolation, Status};

use crate::group::GroupFailed;
use crate::store::StoreError;

/// A failed request. Client errors carry their code and a message safe to show; internal ones
/// keep their cause for the log and show the client only that something failed.
#[derive(Debug)]
pub struct ApiError {
    status: Status,
    /// Set where the gateway answers with a status other than the code's usual one (405).
    http_status: Option<StatusCode>,
    /// Seconds, for `Retry-After`.
    retry_after: Option<u64>,
    cause: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

/// The cause of an internal error, left in the response's extensions for the logging
/// middleware: building a response stays free of side effects.
#[derive(Clone)]
pub struct InternalCause(pub Arc<dyn std::error::Error + Send + Sync>);

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            status: Status::new(code, message),
            http_status: None,
            retry_after: None,
            cause: None,
        }
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidArgument, message)
    }

    /// INVALID_ARGUMENT listing every offending field in a `BadRequest` detail.
    pub fn bad_request(violations: Vec<FieldViolation>) -> Self {
        let message = violations
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect::<Vec<_>>()
            .join("; ");
        Self::new(Code::InvalidArgument, message).with_detail(Detail::BadRequest {
            field_violations: violations,
        })
    }

    /// INVALID_ARGUMENT for one field.
    pub fn field(field: &str, description: impl Into<String>) -> Self {
        Self::bad_request(vec![FieldViolation {
            field: field.to_owned(),
            description: description.into(),
        }])
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(Code::Unauthenticated, message)
    }

    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(Code::PermissionDenied, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Code::NotFound, message)
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(Code::AlreadyExists, message)
    }

    pub fn failed_precondition(message: impl Into<String>) -> Self {
        Self::new(Code::FailedPrecondition, message)
    }

    pub fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        let mut e = Self::new(Code::Internal, "internal error");
        e.cause = Some(Arc::new(cause));
        e
    }

    /// The database is out of reach for now: 503 / UNAVAILABLE, which clients retry, with
    /// the cause kept for the log as for an internal error.
    pub fn database_unavailable(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        let mut e = Self::new(
            Code::Unavailable,
            "the database is unavailable; retry shortly",
        )
        .with_retry_after(1);
        e.cause = Some(Arc::new(cause));
        e
    }

    /// The gateway's answer to a known path called with the wrong method.
    pub fn method_not_allowed() -> Self {
        let mut e = Self::new(Code::Unimplemented, "Method Not Allowed");
        e.http_status = Some(StatusCode::METHOD_NOT_ALLOWED);
        e
    }

    pub fn with_detail(mut self, detail: Detail) -> Self {
        self.status.details.push(detail);
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn code(&self) -> Code {
        self.status.code
    }
}

impl ApiError {
    /// A failed store operation: 503 when the database was out of reach, else 500.
    fn store_failure(
        unavailable: bool,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        if unavailable {
            Self::database_unavailable(cause)
        } else {
            Self::internal(cause)
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::store_failure(e.is_unavailable(), e)
    }
}

impl From<GroupFailed> for ApiError {
    fn from(e: GroupFailed) -> Self {
        Self::store_failure(e.is_unavailable(), e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.http_status.unwrap_or_else(|| {
            StatusCode::from_u16(self.status.code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        });
        let mut response = (status, axum::Json(&self.status)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(seconds));
        }
        if let Some(cause) = self.cause {
            response.extensions_mut().insert(InternalCause(cause));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_never_show_their_cause() {
        let e = ApiError::internal(std::io::Error::other("password=hunter2"));
        let response = e.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.extensions().get::<InternalCause>().is_some());
    }

    #[test]
    fn bad_request_lists_every_field() {
        let e = ApiError::bad_request(vec![
            FieldViolation {
                field: "a".into(),
                description: "x".into(),
            },
            FieldViolation {
                field: "b".into(),
                description: "y".into(),
            },
        ]);
        assert_eq!(e.status.message, "a: x; b: y");
        assert_eq!(e.status.field_violations().len(), 2);
    }
}
