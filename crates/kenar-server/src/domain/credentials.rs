//! Issued credentials (API keys, access and refresh tokens): random, stored hashed, compared in
//! constant time.
//!
//! A credential reads `<prefix><lookup>_<secret>`: `lookup` is 16 hex characters that find the
//! row by index without revealing anything, `secret` is 32 random bytes (base64url). Only
//! SHA-256 of the whole credential is stored; the plaintext is shown once, when issued.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Secret;

/// The kinds of credential the server issues, each with a prefix that makes a leaked one easy
/// to recognise (and to scan for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ApiKey,
    AccessToken,
    RefreshToken,
    /// An authorization code of the OAuth flow.
    Code,
    /// A signed-in user's session cookie.
    Session,
}

impl Kind {
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::ApiKey => "kenar_ak_",
            Kind::AccessToken => "kenar_at_",
            Kind::RefreshToken => "kenar_rt_",
            Kind::Code => "kenar_ac_",
            Kind::Session => "kenar_ss_",
        }
    }
}

/// A credential just issued: the plaintext for the caller, the lookup and hash for the store.
#[derive(Debug)]
pub struct Issued {
    pub plaintext: Secret,
    pub lookup: String,
    pub hash: String,
}

/// A credential as presented by a caller, parsed but not yet checked against the store.
#[derive(Debug)]
pub struct Presented {
    pub lookup: String,
    /// SHA-256 of the credential in hex, the form the store keeps: every call checks its
    /// credentials, so the stored hash is compared as it is rather than decoded each time.
    hash_hex: [u8; 64],
}

impl Presented {
    /// Whether `stored_hash` (hex, from the store) is this credential's hash; constant time.
    pub fn matches(&self, stored_hash: &str) -> bool {
        hex_hash_eq(stored_hash, &self.hash_hex)
    }
}

/// Fills `buf` from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS RNG failing means the machine cannot produce any credential safely; there is no
    // sensible fallback, so this is one of the few places allowed to stop the process.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut buf).expect("the operating system's random number generator failed");
    buf
}

/// `n` random characters from `[A-Za-z0-9]`, without modulo bias.
pub fn random_alphanumeric(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in random_bytes::<32>() {
            // 248 = 4 * 62: bytes at or above it would favour the first letters.
            if b < 248 && out.len() < n {
                out.push(ALPHABET[usize::from(b) % 62] as char);
            }
        }
    }
    out
}

/// A random opaque secret for settings that are sent rather than verified (identification
/// keys, generated admin tokens).
pub fn random_token(prefix: &str) -> Secret {
    Secret::new(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(random_bytes::<32>())
    ))
}

/// A Standard Webhooks signing secret: `whsec_` and base64 of 32 random bytes.
pub fn random_signing_secret() -> Secret {
    Secret::new(format!("whsec_{}", STANDARD.encode(random_bytes::<32>())))
}

pub fn issue(kind: Kind) -> Issued {
    let lookup = hex(&random_bytes::<8>());
    let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    let plaintext = format!("{}{lookup}_{secret}", kind.prefix());
    let hash = sha256_hex(&plaintext);
    Issued {
        plaintext: Secret::new(plaintext),
        lookup,
        hash,
    }
}

/// Parses a presented credential of `kind`; `None` for anything not shaped like one.
pub fn parse(kind: Kind, presented: &str) -> Option<Presented> {
    let rest = presented.strip_prefix(kind.prefix())?;
    let (lookup, secret) = rest.split_at_checked(16)?;
    let secret = secret.strip_prefix('_')?;
    if !lookup.bytes().all(|b| b.is_ascii_hexdigit()) || secret.len() != 43 {
        return None;
    }
    Some(Presented {
        lookup: lookup.to_owned(),
        hash_hex: sha256_hex_bytes(presented),
    })
}

/// Constant-time equality of two secrets of any length (hashing first hides the length too).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    let a: [u8; 32] = Sha256::digest(a.as_bytes()).into();
    let b: [u8; 32] = Sha256::digest(b.as_bytes()).into();
    bool::from(a.ct_eq(&b))
}

/// SHA-256 of a secret, hex: how secrets that are verified but never shown again are kept.
pub fn sha256_hex(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Whether `presented` hashes to `stored_hex`; constant time.
pub fn matches_hash(presented: &str, stored_hex: &str) -> bool {
    hex_hash_eq(stored_hex, &sha256_hex_bytes(presented))
}

/// [`sha256_hex`] without the `String`: what a presented credential is compared by.
fn sha256_hex_bytes(secret: &str) -> [u8; 64] {
    let mut out = [0u8; 64];
    hex_into(&Sha256::digest(secret.as_bytes()), &mut out);
    out
}

/// Whether the stored hex hash is `hash_hex`, compared as stored; constant time.
fn hex_hash_eq(stored_hex: &str, hash_hex: &[u8; 64]) -> bool {
    bool::from(stored_hex.as_bytes().ct_eq(hash_hex))
}

fn hex(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    hex_into(bytes, &mut out);
    out.into_iter().map(char::from).collect()
}

/// Lowercase hex of `bytes` into `out`, which holds two bytes for each of them.
fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_credential_parses_and_matches_its_hash() {
        let issued = issue(Kind::ApiKey);
        assert!(issued.plaintext.expose().starts_with("kenar_ak_"));
        let presented = parse(Kind::ApiKey, issued.plaintext.expose()).expect("parses");
        assert_eq!(presented.lookup, issued.lookup);
        assert!(presented.matches(&issued.hash));
    }

    #[test]
    fn a_tampered_or_foreign_credential_does_not_match() {
        let issued = issue(Kind::AccessToken);
        let mut tampered = issued.plaintext.expose().to_owned();
        let last = tampered.pop().map(|c| if c == 'A' { 'B' } else { 'A' });
        tampered.extend(last);
        let presented = parse(Kind::AccessToken, &tampered).expect("same shape");
        assert!(!presented.matches(&issued.hash));
        assert!(parse(Kind::ApiKey, issued.plaintext.expose()).is_none());
        assert!(parse(Kind::AccessToken, "kenar_at_short").is_none());
        assert!(parse(Kind::AccessToken, "").is_none());
    }

    #[test]
    fn only_the_exact_stored_hash_matches() {
        let issued = issue(Kind::ApiKey);
        let presented = parse(Kind::ApiKey, issued.plaintext.expose()).expect("parses");
        assert_eq!(issued.hash, sha256_hex(issued.plaintext.expose()));
        assert!(presented.matches(&issued.hash));
        assert!(!presented.matches(&issued.hash[..63]));
        assert!(!presented.matches(&format!("{}0", issued.hash)));
        assert!(!presented.matches(""));
    }

    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn two_issues_never_collide() {
        let a = issue(Kind::RefreshToken);
        let b = issue(Kind::RefreshToken);
        assert_ne!(a.lookup, b.lookup);
        assert_ne!(a.hash, b.hash);
    }

    #[test]
    fn secrets_compare_by_value() {
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "abcd"));
    }

    #[test]
    fn random_alphanumeric_has_the_asked_length_and_alphabet() {
        let s = random_alphanumeric(40);
        assert_eq!(s.len(), 40);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
