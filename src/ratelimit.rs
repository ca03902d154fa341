//! Per-grant rate limits (`grant.rate_limit`, SPEC §4): a GCRA limiter from
//! governor, burst equal to the count. Limiters live for the process, keyed
//! by grant name and rate, so a reload that keeps both keeps the state.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// `N/s`, `N/m` or `N/h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    pub count: NonZeroU32,
    pub per: Per,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Per {
    Second,
    Minute,
    Hour,
}

impl Rate {
    /// Parses `"20/s"`, `"600/m"`, `"1000/h"` (also `sec`/`min`/`hour` spelled out).
    pub fn parse(text: &str) -> Result<Rate, String> {
        let (count, per) = text.split_once('/').ok_or_else(|| format!("{text:?} is not like \"20/s\" or \"600/m\""))?;
        let count: u32 = count.trim().parse().map_err(|_| format!("{count:?} is not a whole number"))?;
        let count = NonZeroU32::new(count).ok_or("the count must be at least 1")?;
        let per = match per.trim() {
            "s" | "sec" | "second" => Per::Second,
            "m" | "min" | "minute" => Per::Minute,
            "h" | "hour" => Per::Hour,
            other => return Err(format!("unit {other:?} is not s, m or h")),
        };
        Ok(Rate { count, per })
    }

    fn quota(self) -> Quota {
        match self.per {
            Per::Second => Quota::per_second(self.count),
            Per::Minute => Quota::per_minute(self.count),
            Per::Hour => Quota::per_hour(self.count),
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per {
            Per::Second => "s",
            Per::Minute => "m",
            Per::Hour => "h",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// One grant's limiter.
pub struct Limiter {
    limiter: DefaultDirectRateLimiter,
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Limiter")
    }
}

impl Limiter {
    fn new(rate: Rate) -> Limiter {
        Limiter { limiter: RateLimiter::direct(rate.quota()) }
    }

    /// `Ok` if a request may pass now; else how long until one may (`Retry-After`).
    pub fn check(&self) -> Result<(), Duration> {
        self.limiter.check().map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The process's limiters by (grant, rate).
#[derive(Debug, Default)]
pub struct RateLimits {
    by_grant: Mutex<HashMap<(String, Rate), Arc<Limiter>>>,
}

impl RateLimits {
    /// The limiter for `grant` at `rate`: the existing one when both are unchanged.
    pub fn limiter(&self, grant: &str, rate: Rate) -> Arc<Limiter> {
        let mut map = self.by_grant.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry((grant.to_owned(), rate)).or_insert_with(|| Arc::new(Limiter::new(rate))).clone()
    }

    /// Forgets limiters no grant of the config in force uses.
    pub fn retain(&self, keep: &[(String, Rate)]) {
        let mut map = self.by_grant.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|k, _| keep.contains(k));
    }
}

/// Whole seconds for `Retry-After`, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_print() {
        for (text, shown) in [("20/s", "20/s"), ("600/m", "600/m"), (" 5 / min ", "5/m"), ("1000/hour", "1000/h")] {
            assert_eq!(Rate::parse(text).map(|r| r.to_string()), Ok(shown.to_owned()), "{text}");
        }
        for bad in ["20", "0/s", "-1/s", "x/s", "5/d", "5/", "/s", "1.5/s"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn burst_is_the_count_then_refused_with_a_wait() {
        let limits = RateLimits::default();
        let l = limits.limiter("g", Rate::parse("3/m").unwrap());
        for _ in 0..3 {
            assert!(l.check().is_ok());
        }
        let wait = l.check().unwrap_err();
        assert!(wait > Duration::from_secs(1) && wait <= Duration::from_secs(20), "{wait:?}");
        assert!((1..=20).contains(&retry_after_secs(wait)));
    }

    #[test]
    fn the_same_grant_and_rate_keep_their_state() {
        let limits = RateLimits::default();
        let rate = Rate::parse("1/m").unwrap();
        assert!(limits.limiter("g", rate).check().is_ok());
        assert!(limits.limiter("g", rate).check().is_err(), "same limiter");
        assert!(limits.limiter("g", Rate::parse("2/m").unwrap()).check().is_ok(), "a new rate starts afresh");
        assert!(limits.limiter("other", rate).check().is_ok(), "per grant");
        limits.retain(&[]);
        assert!(limits.limiter("g", rate).check().is_ok(), "forgotten");
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }
}
