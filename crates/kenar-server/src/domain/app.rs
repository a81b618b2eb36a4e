//! Apps as the operator configures them.

use std::fmt;
use std::str::FromStr;

/// A test app may ask users for any scope; a production app only for the scopes the operator
/// granted it (as in Kenar's panel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppKind {
    Test,
    Production,
}

impl AppKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AppKind::Test => "TEST",
            AppKind::Production => "PRODUCTION",
        }
    }
}

impl fmt::Display for AppKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AppKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "TEST" => Ok(AppKind::Test),
            "PRODUCTION" => Ok(AppKind::Production),
            other => Err(format!(
                "unknown value {other:?} (expected TEST or PRODUCTION)"
            )),
        }
    }
}
