//! The retry schedule of webhook deliveries.

use std::time::Duration;

/// Delays between attempts: the first attempt is immediate, attempt `n + 1` follows attempt `n`
/// by `delays[n - 1]` (± jitter). When the schedule is exhausted the delivery has failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

/// Spread of each delay, ±20%, so that a burst of failures does not retry in lockstep.
const JITTER: f64 = 0.2;

impl RetrySchedule {
    /// 5s, 5m, 30m, 2h, 5h, 10h, 10h: eight attempts over about 27.6 hours.
    pub fn standard() -> RetrySchedule {
        let s = Duration::from_secs;
        RetrySchedule {
            delays: vec![
                s(5),
                s(5 * 60),
                s(30 * 60),
                s(2 * 3600),
                s(5 * 3600),
                s(10 * 3600),
                s(10 * 3600),
            ],
        }
    }

    pub fn new(delays: Vec<Duration>) -> RetrySchedule {
        RetrySchedule { delays }
    }

    /// Total attempts a delivery gets, the first included.
    pub fn max_attempts(&self) -> usize {
        self.delays.len() + 1
    }

    /// The delay before the attempt after step `step` (0 = after the first attempt), or `None`
    /// when no attempt is left. `unit` in [0, 1) picks the jitter.
    pub fn delay_after(&self, step: usize, unit: f64) -> Option<Duration> {
        let base = self.delays.get(step)?;
        let factor = 1.0 + JITTER * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        Some(base.mul_f64(factor))
    }

    pub fn total(&self) -> Duration {
        self.delays.iter().sum()
    }
}

impl std::str::FromStr for RetrySchedule {
    type Err = String;

    /// A comma-separated list of durations: `5s,5m,30m,2h,5h,10h,10h`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let delays = s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| humantime::parse_duration(p).map_err(|e| format!("{p:?}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        if delays.len() > 50 {
            return Err("at most 50 retries".into());
        }
        Ok(RetrySchedule { delays })
    }
}

impl std::fmt::Display for RetrySchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .delays
            .iter()
            .map(|d| humantime::format_duration(*d).to_string())
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// A `Retry-After` header: seconds, or an HTTP date relative to `now`.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_schedule_spans_more_than_a_day() {
        let s = RetrySchedule::standard();
        assert!(s.total() > Duration::from_secs(24 * 3600));
        assert_eq!(s.max_attempts(), 8);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let s = RetrySchedule::standard();
        let low = s.delay_after(0, 0.0).expect("step");
        let high = s.delay_after(0, 0.999).expect("step");
        assert!(low >= Duration::from_secs(4) && high <= Duration::from_secs(6));
        assert!(s.delay_after(7, 0.5).is_none());
    }

    #[test]
    fn schedules_parse_from_a_list_of_durations() {
        let s: RetrySchedule = "100ms, 1s,2m".parse().expect("parses");
        assert_eq!(s.max_attempts(), 4);
        assert_eq!(s.to_string(), "100ms,1s,2m");
        assert!("5 parsecs".parse::<RetrySchedule>().is_err());
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
