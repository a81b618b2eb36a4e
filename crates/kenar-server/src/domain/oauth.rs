//! Rules of the authorization server that need no I/O: PKCE, scope requests, redirects.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::{AppKind, ScopeName, ScopeSet};

/// The `code_challenge` of a `code_verifier` by the S256 method (RFC 7636 §4.2).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
pub fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A challenge is the S256 of some verifier: 43 characters of base64url.
pub fn valid_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// Whether an app may ask users for these scopes: a test app for any, a production app only for
/// the names the operator granted it. Returns the first scope refused.
pub fn refused_scope(kind: AppKind, granted: &[ScopeName], asked: &ScopeSet) -> Option<String> {
    if kind == AppKind::Test {
        return None;
    }
    asked
        .iter()
        .find(|s| !granted.contains(&s.name()))
        .map(|s| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_the_rfc_7636_example() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(valid_verifier(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!valid_verifier("short"));
        assert!(valid_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }

    #[test]
    fn production_apps_are_held_to_their_granted_scopes() {
        let asked = ScopeSet::parse("USER_POSTS_GET SEND_EVENT").expect("scopes");
        assert_eq!(refused_scope(AppKind::Test, &[], &asked), None);
        assert_eq!(
            refused_scope(AppKind::Production, &[ScopeName::UserPostsGet], &asked).as_deref(),
            Some("SEND_EVENT")
        );
    }
}
