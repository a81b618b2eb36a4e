//! Permissions an operator grants to an API key.

use std::fmt;
use std::str::FromStr;

/// What an API key may call. Kenar names them per API; these are the ones this server serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    EventsRegisterSubscription,
    EventsSend,
}

impl Permission {
    pub const ALL: [Permission; 2] = [
        Permission::EventsRegisterSubscription,
        Permission::EventsSend,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::EventsRegisterSubscription => "EVENTS_REGISTER_SUBSCRIPTION",
            Permission::EventsSend => "EVENTS_SEND",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown permission {s:?}"))
    }
}

/// Permissions as the store keeps them: names separated by spaces.
pub fn join(perms: &[Permission]) -> String {
    perms
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The inverse of [`join`]; names the store no longer knows are dropped, never granted.
pub fn split(stored: &str) -> Vec<Permission> {
    stored
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_round_trip_through_their_stored_form() {
        let perms = Permission::ALL.to_vec();
        assert_eq!(split(&join(&perms)), perms);
        assert!("EVENTS_DELETE".parse::<Permission>().is_err());
    }
}
