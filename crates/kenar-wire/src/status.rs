//! `google.rpc.Status`, the body of every non-2xx answer (contract §1, "Errors").

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The canonical gRPC status codes. On the wire a code is its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = i32))]
pub enum Code {
    /// 0 `OK`.
    Ok,
    /// 1 `CANCELLED`.
    Cancelled,
    /// 2 `UNKNOWN`.
    Unknown,
    /// 3 `INVALID_ARGUMENT`.
    InvalidArgument,
    /// 4 `DEADLINE_EXCEEDED`.
    DeadlineExceeded,
    /// 5 `NOT_FOUND`.
    NotFound,
    /// 6 `ALREADY_EXISTS`.
    AlreadyExists,
    /// 7 `PERMISSION_DENIED`.
    PermissionDenied,
    /// 8 `RESOURCE_EXHAUSTED`.
    ResourceExhausted,
    /// 9 `FAILED_PRECONDITION`.
    FailedPrecondition,
    /// 10 `ABORTED`.
    Aborted,
    /// 11 `OUT_OF_RANGE`.
    OutOfRange,
    /// 12 `UNIMPLEMENTED`.
    Unimplemented,
    /// 13 `INTERNAL`.
    Internal,
    /// 14 `UNAVAILABLE`.
    Unavailable,
    /// 15 `DATA_LOSS`.
    DataLoss,
    /// 16 `UNAUTHENTICATED`.
    Unauthenticated,
}

impl Code {
    const ALL: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    /// The numeric value carried in `google.rpc.Status.code`.
    pub fn as_i32(self) -> i32 {
        Self::ALL.iter().position(|c| *c == self).unwrap_or(2) as i32
    }

    /// The code for a number; numbers outside the canonical set read as `Unknown`, as gRPC does.
    pub fn from_i32(n: i32) -> Code {
        usize::try_from(n)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
            .unwrap_or(Code::Unknown)
    }

    /// The canonical upper-case name (`INVALID_ARGUMENT`).
    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// The code an answer without a `Status` body stands for, by its HTTP status: the inverse
    /// of [`Code::http_status`], taking for a status several codes share the one the contract
    /// uses (409: `ALREADY_EXISTS`; 400: `INVALID_ARGUMENT`; 500: `INTERNAL`).
    pub fn from_http_status(http_status: u16) -> Code {
        match http_status {
            200..=299 => Code::Ok,
            400 => Code::InvalidArgument,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::NotFound,
            405 | 501 => Code::Unimplemented,
            409 => Code::AlreadyExists,
            429 => Code::ResourceExhausted,
            499 => Code::Cancelled,
            503 => Code::Unavailable,
            504 => Code::DeadlineExceeded,
            500..=599 => Code::Internal,
            _ => Code::Unknown,
        }
    }

    /// The HTTP status the gRPC-gateway answers with for this code.
    pub fn http_status(self) -> u16 {
        match self {
            Code::Ok => 200,
            Code::Cancelled => 499,
            Code::Unknown => 500,
            Code::InvalidArgument => 400,
            Code::DeadlineExceeded => 504,
            Code::NotFound => 404,
            Code::AlreadyExists => 409,
            Code::PermissionDenied => 403,
            Code::ResourceExhausted => 429,
            Code::FailedPrecondition => 400,
            Code::Aborted => 409,
            Code::OutOfRange => 400,
            Code::Unimplemented => 501,
            Code::Internal => 500,
            Code::Unavailable => 503,
            Code::DataLoss => 500,
            Code::Unauthenticated => 401,
        }
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(self.as_i32())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // proto3 JSON allows an enum by number or by name.
        match Value::deserialize(d)? {
            Value::Number(n) => Ok(n
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .map(Code::from_i32)
                .unwrap_or(Code::Unknown)),
            Value::String(s) => Ok(Code::ALL
                .into_iter()
                .find(|c| c.name() == s)
                .or_else(|| s.parse::<i32>().ok().map(Code::from_i32))
                .unwrap_or(Code::Unknown)),
            other => Err(serde::de::Error::custom(format!(
                "expected a status code, got {other}"
            ))),
        }
    }
}

/// A `google.rpc.Status` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Status {
    /// The gRPC status code (a number on the wire).
    pub code: Code,
    /// A developer-facing message; never a secret.
    #[serde(default)]
    pub message: String,
    /// Typed details (`google.protobuf.Any` entries).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub details: Vec<Detail>,
}

impl Status {
    /// A status with no details.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Status {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// The same status with one more detail.
    pub fn with_detail(mut self, detail: Detail) -> Self {
        self.details.push(detail);
        self
    }

    /// The field violations of the first `BadRequest` detail, if any.
    pub fn field_violations(&self) -> &[FieldViolation] {
        self.details
            .iter()
            .find_map(|d| match d {
                Detail::BadRequest { field_violations } => Some(field_violations.as_slice()),
                _ => None,
            })
            .unwrap_or(&[])
    }
}

/// One `BadRequest.FieldViolation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldViolation {
    /// The path of the offending field (`buttons.items[0].title`).
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

/// One `QuotaFailure.Violation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuotaViolation {
    /// What the quota applies to.
    pub subject: String,
    /// How it was exceeded.
    pub description: String,
}

const BAD_REQUEST: &str = "type.googleapis.com/google.rpc.BadRequest";
const QUOTA_FAILURE: &str = "type.googleapis.com/google.rpc.QuotaFailure";

/// An entry of `google.rpc.Status.details` (a `google.protobuf.Any` in JSON form).
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    /// `google.rpc.BadRequest`: the offending fields of a request.
    BadRequest {
        /// One entry per offending field.
        field_violations: Vec<FieldViolation>,
    },
    /// `google.rpc.QuotaFailure`: which quota was exceeded.
    QuotaFailure {
        /// One entry per exceeded quota.
        violations: Vec<QuotaViolation>,
    },
    /// Any other detail type, kept as it came.
    Other(Value),
}

impl Serialize for Detail {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Detail::BadRequest { field_violations } => serde_json::json!({
                "@type": BAD_REQUEST,
                "field_violations": field_violations,
            })
            .serialize(s),
            Detail::QuotaFailure { violations } => serde_json::json!({
                "@type": QUOTA_FAILURE,
                "violations": violations,
            })
            .serialize(s),
            Detail::Other(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Detail {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let field = |snake: &str, camel: &str| {
            value
                .get(snake)
                .or_else(|| value.get(camel))
                .cloned()
                .unwrap_or(Value::Array(Vec::new()))
        };
        let parsed = match value.get("@type").and_then(Value::as_str) {
            Some(BAD_REQUEST) => {
                serde_json::from_value(field("field_violations", "fieldViolations"))
                    .map(|field_violations| Detail::BadRequest { field_violations })
            }
            Some(QUOTA_FAILURE) => serde_json::from_value(field("violations", "violations"))
                .map(|violations| Detail::QuotaFailure { violations }),
            _ => return Ok(Detail::Other(value)),
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_its_number_and_back() {
        for (i, code) in Code::ALL.iter().enumerate() {
            assert_eq!(code.as_i32(), i as i32);
            assert_eq!(Code::from_i32(i as i32), *code);
        }
        assert_eq!(Code::from_i32(99), Code::Unknown);
    }

    #[test]
    fn a_bare_http_status_reads_as_a_code_of_that_status() {
        for code in Code::ALL {
            let status = code.http_status();
            assert_eq!(
                Code::from_http_status(status).http_status(),
                status,
                "{code:?}"
            );
        }
        assert_eq!(Code::from_http_status(405), Code::Unimplemented);
        assert_eq!(Code::from_http_status(418), Code::Unknown);
    }

    #[test]
    fn the_gateway_mapping_of_the_contract_holds() {
        let table = [
            (Code::InvalidArgument, 400),
            (Code::FailedPrecondition, 400),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::PermissionDenied, 403),
            (Code::Unauthenticated, 401),
            (Code::ResourceExhausted, 429),
            (Code::Internal, 500),
            (Code::Unavailable, 503),
        ];
        for (code, http) in table {
            assert_eq!(code.http_status(), http, "{code:?}");
        }
    }

    #[test]
    fn a_status_reads_codes_by_name_and_camel_case_details() {
        let s: Status = serde_json::from_str(
            r#"{"code":"PERMISSION_DENIED","message":"m","details":[
                {"@type":"type.googleapis.com/google.rpc.BadRequest",
                 "fieldViolations":[{"field":"f","description":"d"}]},
                {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1s"}]}"#,
        )
        .expect("parses");
        assert_eq!(s.code, Code::PermissionDenied);
        assert_eq!(s.field_violations()[0].field, "f");
        assert!(matches!(s.details[1], Detail::Other(_)));
    }
}
