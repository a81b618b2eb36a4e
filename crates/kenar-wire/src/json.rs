//! Lenient reading of contract JSON (contract §0), shared by every wire type.
//!
//! Wire types read themselves from a parsed [`serde_json::Value`] through [`FromJson`] rather
//! than a derived `Deserialize`: the contract asks for things derive cannot give together, namely
//! the lowerCamelCase spelling of every field, `null` read as absent, enum errors that name the
//! value, and the full path of whatever is wrong (`new_message.sender.type`), which is what a
//! `google.rpc.BadRequest` field violation needs. Every wire type's `Deserialize` goes through
//! here too, so there is a single set of parsing rules.

use std::fmt;

use serde_json::{Map, Value};

use crate::status::{FieldViolation, Status};

/// A wire type that can be read leniently from JSON, with the path of any offending field.
pub trait FromJson: Sized {
    /// Reads `value` as this type.
    fn from_json(value: &Value) -> Result<Self, ReadError>;
}

/// Why some JSON is not the wire type it should be, and at which field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    path: String,
    message: String,
}

impl ReadError {
    /// An error about the value being read itself (an empty path).
    pub fn new(message: impl Into<String>) -> Self {
        ReadError {
            path: String::new(),
            message: message.into(),
        }
    }

    /// The same error seen from the object that holds `field`.
    pub fn at(mut self, field: &str) -> Self {
        self.path = if self.path.is_empty() {
            field.to_owned()
        } else if self.path.starts_with('[') {
            format!("{field}{}", self.path)
        } else {
            format!("{field}.{}", self.path)
        };
        self
    }

    /// The same error seen from the array that holds the value at `index`.
    pub fn at_index(self, index: usize) -> Self {
        self.at(&format!("[{index}]"))
    }

    /// The offending field as a path (`buttons.items[1].action`); empty for the value itself.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong, without the path (`unknown value "FOO"`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ReadError {}

impl From<ReadError> for FieldViolation {
    fn from(e: ReadError) -> Self {
        FieldViolation {
            field: e.path,
            description: e.message,
        }
    }
}

/// An enum name that is not one of the type's values; displays as `unknown value "FOO"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    value: String,
}

impl UnknownValue {
    /// The error for the name `value`.
    pub fn new(value: impl Into<String>) -> Self {
        UnknownValue {
            value: value.into(),
        }
    }

    /// The name that was given.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Debug formatting quotes the value and escapes quotes and control characters in it.
        write!(f, "unknown value {:?}", self.value)
    }
}

impl std::error::Error for UnknownValue {}

impl From<UnknownValue> for ReadError {
    fn from(e: UnknownValue) -> Self {
        ReadError::new(e.to_string())
    }
}

/// A JSON value's kind, as error messages name it (`a string`, `an object`, `null`).
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A wire value's compact JSON text. Wire types serialize without fail (no map has non-string
/// keys); were one not to, it would read as an empty object rather than break what carries it.
pub(crate) fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

/// The error for a value of the wrong JSON type.
pub(crate) fn expected(what: &str, got: &Value) -> ReadError {
    ReadError::new(format!("expected {what}, got {}", kind_of(got)))
}

/// The lowerCamelCase spelling of a snake_case field name, when it differs.
fn camel_case(snake: &str) -> Option<String> {
    if !snake.contains('_') {
        return None;
    }
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// A JSON object being read field by field.
pub(crate) struct Object<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Object<'a> {
    pub(crate) fn new(value: &'a Value) -> Result<Self, ReadError> {
        match value {
            Value::Object(map) => Ok(Object { map }),
            other => Err(expected("an object", other)),
        }
    }

    /// The value of a field by its snake_case name or its lowerCamelCase spelling; `null` reads
    /// as absent, as in proto3 JSON.
    pub(crate) fn get(&self, name: &str) -> Option<&'a Value> {
        let present = |key: &str| self.map.get(key).filter(|v| !v.is_null());
        present(name).or_else(|| camel_case(name).and_then(|camel| present(&camel)))
    }

    /// The first of `names` that is present, with the name it was found under.
    pub(crate) fn first_of(&self, names: &[&'static str]) -> Option<(&'static str, &'a Value)> {
        names
            .iter()
            .find_map(|name| self.get(name).map(|value| (*name, value)))
    }

    pub(crate) fn required<T: FromJson>(&self, name: &str) -> Result<T, ReadError> {
        self.required_with(name, T::from_json)
    }

    /// A required field read by `read` instead of its type's [`FromJson`].
    pub(crate) fn required_with<T>(
        &self,
        name: &str,
        read: impl FnOnce(&'a Value) -> Result<T, ReadError>,
    ) -> Result<T, ReadError> {
        match self.get(name) {
            Some(value) => read(value).map_err(|e| e.at(name)),
            None => Err(ReadError::new("missing field").at(name)),
        }
    }

    pub(crate) fn optional<T: FromJson>(&self, name: &str) -> Result<Option<T>, ReadError> {
        self.get(name)
            .map(|value| T::from_json(value).map_err(|e| e.at(name)))
            .transpose()
    }

    /// A field whose absence means its empty value (lists, maps, free text), as in proto3.
    pub(crate) fn or_default<T: FromJson + Default>(&self, name: &str) -> Result<T, ReadError> {
        Ok(self.optional(name)?.unwrap_or_default())
    }
}

impl FromJson for String {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        match value {
            Value::String(s) => Ok(s.clone()),
            other => Err(expected("a string", other)),
        }
    }
}

impl FromJson for bool {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        match value {
            Value::Bool(b) => Ok(*b),
            other => Err(expected("a boolean", other)),
        }
    }
}

impl FromJson for i64 {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        match value {
            Value::Number(n) => n
                .as_i64()
                .ok_or_else(|| ReadError::new(format!("expected a 64-bit integer, got {n}"))),
            Value::String(s) => crate::int64::parse_decimal(s).map_err(ReadError::new),
            other => Err(expected("an integer", other)),
        }
    }
}

impl FromJson for i32 {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let wide = i64::from_json(value)?;
        i32::try_from(wide)
            .map_err(|_| ReadError::new(format!("expected a 32-bit integer, got {wide}")))
    }
}

impl FromJson for f64 {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let parsed = match value {
            Value::Number(n) => n.as_f64(),
            // proto3 JSON also allows a double as a string.
            Value::String(s) => s.trim().parse::<f64>().ok(),
            other => return Err(expected("a number", other)),
        };
        parsed
            .filter(|f| f.is_finite())
            .ok_or_else(|| ReadError::new(format!("expected a finite number, got {value}")))
    }
}

impl FromJson for Map<String, Value> {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        match value {
            Value::Object(map) => Ok(map.clone()),
            other => Err(expected("an object", other)),
        }
    }
}

impl FromJson for Value {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        Ok(value.clone())
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| T::from_json(item).map_err(|e| e.at_index(i)))
                .collect(),
            other => Err(expected("an array", other)),
        }
    }
}

impl FromJson for Status {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        serde_json::from_value(value.clone()).map_err(|e| ReadError::new(e.to_string()))
    }
}

/// Implements `Deserialize` for wire types by way of their [`FromJson`] impl.
macro_rules! deserialize_via_from_json {
    ($($ty:ty),+ $(,)?) => {$(
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
                <$ty as $crate::json::FromJson>::from_json(&value)
                    .map_err(serde::de::Error::custom)
            }
        }
    )+};
}
pub(crate) use deserialize_via_from_json;

/// Declares a proto enum that travels as its upper-case name: `as_str`, `ALL`, `FromStr`,
/// `Display`, serde and [`FromJson`], and, with the `openapi` feature, a string-enum schema.
/// `Variant = "NAME" | "OTHER"` also reads `OTHER` as that variant (it is never emitted).
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name this value has on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $wire ),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::json::UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $wire $(| $alias)* => Ok($name::$variant), )+
                    other => Err($crate::json::UnknownValue::new(other)),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl $crate::json::FromJson for $name {
            fn from_json(value: &serde_json::Value) -> Result<Self, $crate::json::ReadError> {
                match value {
                    serde_json::Value::String(s) => Ok(s.parse::<$name>()?),
                    other => Err($crate::json::expected("an enum value name", other)),
                }
            }
        }

        $crate::json::deserialize_via_from_json!($name);

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some($name::ALL.iter().map(|v| v.as_str())))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }
    };
}
pub(crate) use wire_enum;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn camel_case_spelling_is_derived_from_the_snake_case_name() {
        assert_eq!(camel_case("size_bytes").as_deref(), Some("sizeBytes"));
        assert_eq!(
            camel_case("new_chatbot_message").as_deref(),
            Some("newChatbotMessage")
        );
        assert_eq!(camel_case("id"), None);
    }

    #[test]
    fn snake_case_wins_over_camel_case_and_null_reads_as_absent() {
        let value = json!({"post_token": "a", "postToken": "b", "event_type": null});
        let object = Object::new(&value).expect("an object");
        assert_eq!(object.get("post_token"), Some(&json!("a")));
        assert_eq!(object.get("event_type"), None);
    }

    #[test]
    fn paths_compose_from_fields_and_indices() {
        let e = ReadError::new("bad").at("action").at_index(1).at("items");
        assert_eq!(e.path(), "items[1].action");
        assert_eq!(e.to_string(), "items[1].action: bad");
    }

    #[test]
    fn integers_read_from_numbers_and_decimal_strings() {
        assert_eq!(
            i64::from_json(&json!("1729429926140000")),
            Ok(1_729_429_926_140_000)
        );
        assert_eq!(i64::from_json(&json!(-5)), Ok(-5));
        assert!(i64::from_json(&json!(1.5)).is_err());
        assert!(i32::from_json(&json!(1_i64 << 40)).is_err());
    }

    #[test]
    fn unknown_value_quotes_the_name() {
        assert_eq!(
            UnknownValue::new("FOO").to_string(),
            r#"unknown value "FOO""#
        );
    }
}
