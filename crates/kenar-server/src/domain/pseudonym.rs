//! Per-app user ids: what an app sees instead of the platform's user id.
//!
//! `base64(HMAC-SHA256(instance key, app id ‖ user id))`: stable for an (app, user) pair, and
//! unlinkable across apps without the instance key. The shape (44 characters of standard
//! base64) is that of the ids in Kenar's own examples.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::UserId;

/// The instance's pseudonym key, created once per database and kept in it.
#[derive(Clone)]
pub struct PseudonymKey([u8; 32]);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey([redacted])")
    }
}

impl PseudonymKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        PseudonymKey(bytes)
    }

    /// The id app `app_id` knows user `user` by.
    pub fn user_id_for_app(&self, app_id: i64, user: &UserId) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        #[allow(clippy::expect_used)]
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(&app_id.to_be_bytes());
        mac.update(user.as_str().as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_per_app_and_differ_across_apps() {
        let key = PseudonymKey::from_bytes([7; 32]);
        let user = UserId::parse("u-123").expect("valid");
        let a1 = key.user_id_for_app(1, &user);
        assert_eq!(a1, key.user_id_for_app(1, &user));
        assert_ne!(a1, key.user_id_for_app(2, &user));
        assert_eq!(a1.len(), 44);
        let other_key = PseudonymKey::from_bytes([8; 32]);
        assert_ne!(a1, other_key.user_id_for_app(1, &user));
    }
}
