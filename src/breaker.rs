//! The refused-login breaker (SPEC §4 "Refused logins"): after
//! `login_failure_threshold` refused logins in a row a profile is not sent
//! upstream for `login_failure_cooldown`, so a wrong or rotated password
//! cannot lock the HostedSuite account. State is per process and per
//! profile name; it outlives config reloads.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Default)]
struct State {
    refused_in_a_row: u32,
    suspended_until: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct LoginBreakers {
    profiles: Mutex<HashMap<String, State>>,
}

impl LoginBreakers {
    fn with<R>(&self, profile: &str, f: impl FnOnce(&mut State) -> R) -> R {
        let mut map = self.profiles.lock().unwrap_or_else(PoisonError::into_inner);
        f(map.entry(profile.to_owned()).or_default())
    }

    /// True if the profile may be sent upstream now. A finished cooldown starts the count afresh.
    pub fn allows(&self, profile: &str, now: Instant) -> bool {
        self.with(profile, |s| match s.suspended_until {
            Some(until) if now < until => false,
            Some(_) => {
                *s = State::default();
                true
            }
            None => true,
        })
    }

    /// HostedSuite refused the login; suspends the profile at the threshold.
    pub fn refused(&self, profile: &str, threshold: u32, cooldown: Duration, now: Instant) {
        self.with(profile, |s| {
            s.refused_in_a_row += 1;
            if s.refused_in_a_row >= threshold {
                s.suspended_until = Some(now + cooldown);
            }
        })
    }

    /// Any answer that is not a refused login resets the count.
    pub fn accepted(&self, profile: &str) {
        self.with(profile, |s| *s = State::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspends_at_threshold_and_recovers_after_cooldown() {
        let b = LoginBreakers::default();
        let t0 = Instant::now();
        let cool = Duration::from_secs(60);
        b.refused("p", 3, cool, t0);
        b.refused("p", 3, cool, t0);
        assert!(b.allows("p", t0));
        b.refused("p", 3, cool, t0);
        assert!(!b.allows("p", t0 + Duration::from_secs(59)));
        assert!(b.allows("other", t0));
        assert!(b.allows("p", t0 + cool));
        b.refused("p", 3, cool, t0 + cool);
        assert!(b.allows("p", t0 + cool), "count starts afresh after the cooldown");
    }

    #[test]
    fn an_accepted_answer_resets_the_count() {
        let b = LoginBreakers::default();
        let t0 = Instant::now();
        let cool = Duration::from_secs(60);
        b.refused("p", 2, cool, t0);
        b.accepted("p");
        b.refused("p", 2, cool, t0);
        assert!(b.allows("p", t0));
    }
}
