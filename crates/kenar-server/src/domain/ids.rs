//! Identifiers that arrive from outside: parsed once, at the edge.

use std::fmt;

/// Why an identifier was refused; the message is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidId(pub String);

fn check(kind: &str, s: &str, max: usize, allowed: impl Fn(char) -> bool) -> Result<(), InvalidId> {
    if s.is_empty() {
        return Err(InvalidId(format!("{kind} must not be empty")));
    }
    if s.chars().count() > max {
        return Err(InvalidId(format!("{kind} is longer than {max} characters")));
    }
    if let Some(c) = s.chars().find(|c| !allowed(*c)) {
        return Err(InvalidId(format!("{kind} contains the character {c:?}")));
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:literal, $allowed:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const MAX_LEN: usize = $max;

            pub fn parse(s: &str) -> Result<Self, InvalidId> {
                check($kind, s, $max, $allowed)?;
                Ok($name(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A Divar post token (`gZd7omnS`). Divar's are 8 characters; we take up to 64 of
    /// `[A-Za-z0-9_-]` so that platforms with longer ids fit, and refuse anything else.
    PostToken,
    "post token",
    64,
    |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-'
);

id_type!(
    /// An app's slug, which is also its OAuth `client_id`: lower-case letters, digits and `-`.
    AppSlug,
    "app slug",
    64,
    |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
);

id_type!(
    /// The platform's internal id of a user (`u-123`); apps never see it (they see pseudonyms).
    UserId,
    "user id",
    128,
    |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '@')
);

impl PostToken {
    /// A fresh random 8-character token, as Divar's look.
    pub fn generate() -> Self {
        PostToken(super::credentials::random_alphanumeric(8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_tokens_accept_divar_shapes_and_refuse_absurd_ones() {
        assert!(PostToken::parse("gZd7omnS").is_ok());
        assert!(PostToken::parse("").is_err());
        assert!(PostToken::parse(&"a".repeat(65)).is_err());
        assert!(PostToken::parse("../etc").is_err());
        assert!(PostToken::parse("آگهی").is_err());
        assert_eq!(PostToken::generate().as_str().len(), 8);
    }

    #[test]
    fn slugs_are_lower_case() {
        assert!(AppSlug::parse("my-app-2").is_ok());
        assert!(AppSlug::parse("My-App").is_err());
    }
}
