//! Rate limits of the public API: a per-minute limit and a daily quota per app, in fixed
//! windows (UTC minutes and days).

/// Milliseconds in a minute and in a day.
pub const MINUTE_MS: i64 = 60_000;
pub const DAY_MS: i64 = 86_400_000;

/// The limits that apply to one app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_minute: i64,
    pub per_day: i64,
}

/// Which limit a request exceeded, and for how long it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    /// `per-minute` or `daily`.
    pub limit: &'static str,
    pub allowed: i64,
    /// Seconds until the window ends.
    pub retry_after: u64,
}

/// The windows `now` falls in: (minute start, day start).
pub fn windows(now: i64) -> (i64, i64) {
    (
        now - now.rem_euclid(MINUTE_MS),
        now - now.rem_euclid(DAY_MS),
    )
}

/// Checks the counts of the current windows (this request included) against the limits.
pub fn check(limits: Limits, now: i64, minute_count: i64, day_count: i64) -> Result<(), Exceeded> {
    let (minute_start, day_start) = windows(now);
    let seconds_left = |end: i64| u64::try_from((end - now + 999) / 1000).unwrap_or(1).max(1);
    if day_count > limits.per_day {
        return Err(Exceeded {
            limit: "daily",
            allowed: limits.per_day,
            retry_after: seconds_left(day_start + DAY_MS),
        });
    }
    if minute_count > limits.per_minute {
        return Err(Exceeded {
            limit: "per-minute",
            allowed: limits.per_minute,
            retry_after: seconds_left(minute_start + MINUTE_MS),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        per_minute: 10,
        per_day: 100,
    };

    #[test]
    fn windows_are_utc_minutes_and_days() {
        let now = 1_729_429_926_140;
        let (m, d) = windows(now);
        assert_eq!(m % MINUTE_MS, 0);
        assert_eq!(d % DAY_MS, 0);
        assert!(now - m < MINUTE_MS && now - d < DAY_MS);
    }

    #[test]
    fn the_limit_is_inclusive_and_retry_after_reaches_the_window_end() {
        let now = 10 * MINUTE_MS + 59_500;
        assert!(check(LIMITS, now, 10, 10).is_ok());
        let e = check(LIMITS, now, 11, 11).expect_err("over");
        assert_eq!((e.limit, e.retry_after), ("per-minute", 1));
        let e = check(LIMITS, now, 1, 101).expect_err("over quota");
        assert_eq!(e.limit, "daily");
        assert!(e.retry_after > 60);
    }
}
