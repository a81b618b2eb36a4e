//! A serde `with` module for proto3 int64 fields (`sent_at`, `size_bytes`, `cost_rials`).
//!
//! Kenar emits them as JSON numbers, but proto3 JSON encoders may emit them as decimal strings
//! (`"1729429926140000"`) to survive JavaScript's 53-bit numbers, so readers accept both
//! (contract §0). Use as `#[serde(with = "kenar_wire::int64")]`, or
//! `#[serde(default, with = "kenar_wire::int64::option")]` for an `Option<i64>`.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// Writes the integer as a JSON number.
pub fn serialize<S: Serializer>(value: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_i64(*value)
}

/// Reads a JSON number or a decimal string as an `i64`.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    deserializer.deserialize_any(Int64Visitor)
}

/// Parses the string form of an int64 (optional sign, decimal digits).
pub(crate) fn parse_decimal(s: &str) -> Result<i64, String> {
    s.parse::<i64>()
        .map_err(|_| format!("expected a 64-bit integer, got {s:?}"))
}

struct Int64Visitor;

impl Visitor<'_> for Int64Visitor {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a 64-bit integer as a JSON number or a decimal string")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom(format!("expected a 64-bit integer, got {v}")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        parse_decimal(v).map_err(E::custom)
    }
}

/// The same for `Option<i64>`: `None` is written as `null`, and `null` reads as `None`.
pub mod option {
    use std::fmt;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    /// Writes the integer as a JSON number, or `null` when absent.
    pub fn serialize<S: Serializer>(value: &Option<i64>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => serializer.serialize_i64(*v),
            None => serializer.serialize_none(),
        }
    }

    /// Reads `null`, a JSON number or a decimal string.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<i64>, D::Error> {
        deserializer.deserialize_option(OptionVisitor)
    }

    struct OptionVisitor;

    impl<'de> Visitor<'de> for OptionVisitor {
        type Value = Option<i64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("null or a 64-bit integer as a JSON number or a decimal string")
        }

        fn visit_none<E: de::Error>(self) -> Result<Option<i64>, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Option<i64>, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<i64>, D::Error> {
            super::deserialize(d).map(Some)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        #[serde(with = "crate::int64")]
        sent_at: i64,
        #[serde(default, with = "crate::int64::option")]
        size_bytes: Option<i64>,
    }

    #[test]
    fn int64_reads_a_number_or_a_decimal_string() {
        let from_number: Sample = serde_json::from_value(json!({"sent_at": 1729429926140000_i64}))
            .expect("a number parses");
        let from_string: Sample = serde_json::from_value(json!({"sent_at": "1729429926140000"}))
            .expect("a string parses");
        assert_eq!(from_number, from_string);
        assert_eq!(from_number.sent_at, 1_729_429_926_140_000);
    }

    #[test]
    fn int64_is_written_as_a_json_number() {
        let sample = Sample {
            sent_at: 7,
            size_bytes: Some(9),
        };
        assert_eq!(
            serde_json::to_value(&sample).expect("serializes"),
            json!({"sent_at": 7, "size_bytes": 9})
        );
    }

    #[test]
    fn optional_int64_reads_null_absent_and_string() {
        let parse = |v| {
            serde_json::from_value::<Sample>(v)
                .expect("parses")
                .size_bytes
        };
        assert_eq!(parse(json!({"sent_at": 1})), None);
        assert_eq!(parse(json!({"sent_at": 1, "size_bytes": null})), None);
        assert_eq!(parse(json!({"sent_at": 1, "size_bytes": "-42"})), Some(-42));
    }

    #[test]
    fn int64_rejects_garbage_and_out_of_range_values() {
        assert!(serde_json::from_value::<Sample>(json!({"sent_at": "12a"})).is_err());
        assert!(serde_json::from_value::<Sample>(json!({"sent_at": u64::MAX})).is_err());
        assert!(serde_json::from_value::<Sample>(json!({"sent_at": 1.5})).is_err());
    }
}
