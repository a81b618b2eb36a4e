//! When and how long to wait before trying a call again.
//!
//! A call is tried again only when doing so cannot apply it twice:
//!
//! | what happened | idempotent call (registration) | other calls (send, token requests) |
//! |---|---|---|
//! | `429 Too Many Requests` | retried | retried (the server did not apply it) |
//! | `503 Service Unavailable` | retried | retried (the server did not apply it) |
//! | connecting failed (refused, DNS, TLS, connect timeout) | retried | retried (nothing was sent) |
//! | the connection broke or timed out after the request was sent | retried | **not** retried |
//! | any other answer | returned | returned |
//!
//! Waits grow exponentially from [`RetryPolicy::initial_backoff`] up to
//! [`RetryPolicy::max_backoff`], each drawn at random between half and all of its step (so
//! clients that failed together do not come back together). A `Retry-After` header (seconds or
//! an HTTP date) replaces the computed wait; one longer than [`RetryPolicy::max_retry_after`] is
//! not waited for: the error is returned at once, carrying
//! [`ApiError::retry_after`](crate::ApiError::retry_after).

use std::time::{Duration, SystemTime};

/// How a client retries failed calls. See the [module docs](self) for which failures count.
///
/// ```
/// use std::time::Duration;
/// use kenar_sdk::RetryPolicy;
///
/// let patient = RetryPolicy::default()
///     .max_retries(5)
///     .initial_backoff(Duration::from_millis(500));
/// let never = RetryPolicy::none();
/// # let _ = (patient, never);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 turns retrying off.
    max_retries: u32,
    /// The wait before the first retry when the server gave no `Retry-After`.
    initial_backoff: Duration,
    /// The longest computed wait.
    max_backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one ends the call with the error.
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 3 retries, waits from 250 ms up to 8 s, `Retry-After` honoured up to 60 s.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// Sets how many times a call is retried after its first attempt.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Sets the wait before the first retry (doubled for each further one).
    pub fn initial_backoff(mut self, wait: Duration) -> Self {
        self.initial_backoff = wait;
        self
    }

    /// Sets the longest computed wait between two attempts.
    pub fn max_backoff(mut self, wait: Duration) -> Self {
        self.max_backoff = wait;
        self
    }

    /// Sets the longest `Retry-After` the client waits for; beyond it the call fails at once.
    pub fn max_retry_after(mut self, wait: Duration) -> Self {
        self.max_retry_after = wait;
        self
    }

    /// How many retries a call may make.
    pub fn retries(&self) -> u32 {
        self.max_retries
    }

    /// The wait before retry number `retry` (0 for the first), or `None` if the call should
    /// stop: retries used up, or the server asked for a longer wait than this policy accepts.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        if let Some(asked) = retry_after {
            return (asked <= self.max_retry_after).then_some(asked);
        }
        let step = self
            .initial_backoff
            .saturating_mul(2_u32.saturating_pow(retry))
            .min(self.max_backoff);
        // Between half and all of the step.
        let half = step / 2;
        Some(half + half.mul_f64(random_fraction()))
    }
}

/// A number in `[0, 1)` from the OS's random source; 0.5 if it is unavailable (jitter is a
/// nicety, not a safety property).
fn random_fraction() -> f64 {
    let mut bytes = [0_u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

/// Reads a `Retry-After` value: delay-seconds or an HTTP date (a date in the past means now).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let policy = RetryPolicy::default()
            .max_retries(10)
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_millis(500));
        for (retry, step) in [(0, 100), (1, 200), (2, 400), (3, 500), (9, 500)] {
            let wait = policy.delay(retry, None).expect("retries left");
            let step = Duration::from_millis(step);
            assert!(wait >= step / 2 && wait <= step, "retry {retry}: {wait:?}");
        }
        assert_eq!(policy.delay(10, None), None);
    }

    #[test]
    fn retry_after_replaces_the_backoff_unless_too_long() {
        let policy = RetryPolicy::default().max_retry_after(Duration::from_secs(10));
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(4))),
            Some(Duration::from_secs(4))
        );
        assert_eq!(policy.delay(0, Some(Duration::from_secs(11))), None);
        assert_eq!(
            RetryPolicy::none().delay(0, Some(Duration::ZERO)),
            None,
            "no retries at all"
        );
    }
}
