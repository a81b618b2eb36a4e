//! Times as users type them (`1h` ago, or RFC 3339) and as this tool prints them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{CliError, CliResult};

/// A time filter: a duration (`90s`, `15m`, `2h`, `7days`) counts back from now; anything else
/// must be an RFC 3339 time and is passed on as given.
pub fn time_param(flag: &str, value: &str) -> CliResult<String> {
    time_param_at(flag, value, SystemTime::now())
}

fn time_param_at(flag: &str, value: &str, now: SystemTime) -> CliResult<String> {
    if let Ok(ago) = humantime::parse_duration(value.trim()) {
        let at = now.checked_sub(ago).unwrap_or(UNIX_EPOCH);
        return Ok(humantime::format_rfc3339_seconds(at).to_string());
    }
    humantime::parse_rfc3339_weak(value.trim())
        .map(|_| value.trim().to_owned())
        .map_err(|_| {
            CliError::usage(format!(
                "{flag} {value:?}: expected a duration back from now (30m, 2h, 7days) or an \
                 RFC 3339 time (2024-10-20T12:00:00Z)"
            ))
        })
}

/// A lifetime in seconds: a plain number of seconds, or a duration (`1h`, `30days`).
pub fn seconds(flag: &str, value: &str) -> CliResult<i64> {
    let value = value.trim();
    if let Ok(n) = value.parse::<i64>() {
        return Ok(n);
    }
    humantime::parse_duration(value)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .ok_or_else(|| {
            CliError::usage(format!(
                "{flag} {value:?}: expected seconds or a duration (3600, 1h, 30days)"
            ))
        })
}

/// Now as `2024-10-20 12:32:06` (UTC), the first column of `listen`'s lines.
pub fn stamp_now() -> String {
    stamp(SystemTime::now())
}

fn stamp(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at)
        .to_string()
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_owned()
}

/// Now in microseconds since the Unix epoch (a chat message's `sent_at`).
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Now as RFC 3339 (seconds).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// A short human form of a duration in milliseconds.
pub fn millis(ms: u128) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", Duration::from_millis(ms as u64).as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_count_back_from_now_and_rfc3339_passes_through() {
        let now = UNIX_EPOCH + Duration::from_secs(1_729_429_926);
        assert_eq!(
            time_param_at("--since", "1h", now).expect("valid"),
            "2024-10-20T12:12:06Z"
        );
        assert_eq!(
            time_param_at("--since", "2024-10-20T12:00:00Z", now).expect("valid"),
            "2024-10-20T12:00:00Z"
        );
        let err = time_param_at("--since", "yesterday", now).expect_err("invalid");
        assert!(err.to_string().contains("--since"), "{err}");
    }

    #[test]
    fn lifetimes_read_as_seconds_or_durations() {
        assert_eq!(seconds("--expires-in", "3600").expect("valid"), 3600);
        assert_eq!(seconds("--expires-in", "2h").expect("valid"), 7200);
        assert!(seconds("--expires-in", "soon").is_err());
    }

    #[test]
    fn stamps_are_utc_without_the_t() {
        let at = UNIX_EPOCH + Duration::from_secs(1_729_429_926);
        assert_eq!(stamp(at), "2024-10-20 13:12:06");
    }
}
