//! Wire types of the Kenar Events contract (`/work/shared/contract/README.md`), shared by the
//! server and the SDK.
//!
//! - [`events`]: the public Events API (Part 1) and the dynamic-action call.
//! - [`webhook`]: what apps receive (Part 2).
//! - [`platform`]: the platform's ingestion endpoint (Part 3.3).
//! - [`status`]: `google.rpc.Status`, the body of every error.
//! - [`int64`]: a serde `with` module for proto3 int64 fields.
//! - [`json`]: the lenient reading rules every type above follows.
//!
//! Reading follows proto3 JSON as the contract asks (§0): snake_case and lowerCamelCase field
//! names, unknown fields ignored, `null` read as absent, enum values by name (an unknown one is
//! an error saying `unknown value "X"`), int64 as a number or a decimal string. Writing emits
//! snake_case only and omits absent optional fields.

#![warn(missing_docs)]

pub mod events;
pub mod int64;
pub mod json;
pub mod platform;
pub mod status;
pub mod webhook;

pub use json::{FromJson, ReadError, UnknownValue};
pub use status::{Code, Detail, FieldViolation, Status};
