//! Credentials as types whose `Debug` never shows them.

use std::fmt;

/// Declares a credential newtype: built from a `String` or `&str`, read back with `expose()`,
/// and redacted in `Debug`. There is deliberately no `Display`, so a credential cannot end up
/// in a log line or an error message by accident.
macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps a credential.
            pub fn new(value: impl Into<String>) -> Self {
                $name(value.into())
            }

            /// The credential itself, for sending it or storing it.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                $name(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                $name(value.to_owned())
            }
        }

        impl From<&String> for $name {
            fn from(value: &String) -> Self {
                $name(value.clone())
            }
        }
    };
}

secret_type!(
    /// An app's API key, sent as `X-API-Key`; it identifies the app.
    ApiKey
);
secret_type!(
    /// An OAuth2 access token a user granted the app, sent as `Authorization: Bearer`.
    AccessToken
);
secret_type!(
    /// An OAuth2 refresh token, exchanged for a new access token with
    /// [`OAuthClient::refresh`](crate::oauth::OAuthClient::refresh).
    RefreshToken
);
secret_type!(
    /// The app's OAuth client secret.
    ClientSecret
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_credential() {
        let shown = format!(
            "{:?} {:?} {:?} {:?}",
            ApiKey::new("k-123"),
            AccessToken::new("t-123"),
            RefreshToken::new("r-123"),
            ClientSecret::new("s-123")
        );
        assert!(!shown.contains("123"), "{shown}");
        assert!(shown.contains("AccessToken(<redacted>)"), "{shown}");
    }
}
