//! The refused-login breaker (SPEC §4 "Refused logins"): after
//! `login_failure_threshold` refused logins in a row a profile is not sent
//! upstream for `login_failure_cooldown`, so a wrong or rotated password
//! cannot lock the HostedSuite account.
//!
//! Counting answers alone is not enough under concurrency: six requests in
//! flight with a wrong password would all be refused before the first
//! refusal is counted. So a profile whose login is not known to work (at
//! start, after a refusal, after a cooldown) admits at most
//! `threshold - refused_in_a_row` requests at a time; the others wait for
//! an outcome. Once HostedSuite accepts the login, requests flow freely.
//! State is per process and per profile name.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug, Default)]
struct State {
    refused_in_a_row: u32,
    suspended_until: Option<Instant>,
    /// HostedSuite accepted this login since the last refusal.
    trusted: bool,
    /// Requests admitted whose outcome is not known yet.
    in_flight: u32,
}

/// One profile's breaker.
#[derive(Debug, Default)]
struct Breaker {
    state: Mutex<State>,
    /// Woken whenever an outcome or a released slot may admit a waiter.
    changed: Notify,
}

impl Breaker {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The breakers of every profile: a read lock finds a profile's breaker, and
/// each has its own lock, so profiles do not contend with each other.
#[derive(Debug, Default, Clone)]
pub struct LoginBreakers {
    profiles: Arc<RwLock<HashMap<String, Arc<Breaker>>>>,
}

/// Why a request may not go upstream.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("profile suspended after refused logins")]
    Suspended,
    #[error("no probe slot for the profile before the deadline")]
    Busy,
}

/// An admitted request. Report its outcome with `refused`/`accepted`;
/// dropping it without one (connect failure, timeout) changes no count.
#[derive(Debug)]
pub struct Slot {
    breaker: Arc<Breaker>,
}

enum Admission {
    Go,
    Suspended,
    Wait,
}

impl LoginBreakers {
    fn breaker(&self, profile: &str) -> Arc<Breaker> {
        if let Some(b) = self.profiles.read().unwrap_or_else(PoisonError::into_inner).get(profile) {
            return b.clone();
        }
        let mut map = self.profiles.write().unwrap_or_else(PoisonError::into_inner);
        map.entry(profile.to_owned()).or_default().clone()
    }

    /// Forgets the profile's refusals and suspension (its password changed).
    pub fn reset(&self, profile: &str) {
        let breaker = self.breaker(profile);
        breaker.with(|s| {
            s.refused_in_a_row = 0;
            s.suspended_until = None;
            s.trusted = false;
        });
        breaker.changed.notify_waiters();
    }

    #[cfg(test)]
    fn try_admit(&self, profile: &str, threshold: u32, now: Instant) -> Admission {
        try_admit(&self.breaker(profile), threshold, now)
    }

    /// Admits a request for `profile`, waiting (until `deadline`) while the
    /// login is unproven and enough requests are already probing it.
    pub async fn admit(&self, profile: &str, threshold: u32, deadline: Instant) -> Result<Slot, Refused> {
        let breaker = self.breaker(profile);
        loop {
            let changed = breaker.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match try_admit(&breaker, threshold, Instant::now()) {
                Admission::Go => return Ok(Slot { breaker: breaker.clone() }),
                Admission::Suspended => return Err(Refused::Suspended),
                Admission::Wait => {
                    if tokio::time::timeout_at(deadline, changed).await.is_err() {
                        return Err(Refused::Busy);
                    }
                }
            }
        }
    }
}

fn try_admit(breaker: &Breaker, threshold: u32, now: Instant) -> Admission {
    breaker.with(|s| {
        match s.suspended_until {
            Some(until) if now < until => return Admission::Suspended,
            Some(_) => {
                // Cooldown over: the count starts afresh, the login is unproven again.
                s.suspended_until = None;
                s.refused_in_a_row = 0;
                s.trusted = false;
            }
            None => {}
        }
        if s.trusted || s.in_flight + s.refused_in_a_row < threshold {
            s.in_flight += 1;
            Admission::Go
        } else {
            Admission::Wait
        }
    })
}

impl Slot {
    /// HostedSuite refused the login; suspends the profile at the threshold.
    pub fn refused(&self, threshold: u32, cooldown: Duration, now: Instant) {
        self.breaker.with(|s| {
            s.trusted = false;
            s.refused_in_a_row += 1;
            if s.refused_in_a_row >= threshold {
                s.suspended_until = Some(now + cooldown);
            }
        })
    }

    /// Any answer that is not a refused login resets the count and proves the login.
    pub fn accepted(&self) {
        self.breaker.with(|s| {
            s.refused_in_a_row = 0;
            s.trusted = true;
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.breaker.with(|s| s.in_flight = s.in_flight.saturating_sub(1));
        self.breaker.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL: Duration = Duration::from_secs(60);

    fn soon() -> Instant {
        Instant::now() + Duration::from_millis(50)
    }

    #[tokio::test]
    async fn suspends_at_threshold_and_recovers_after_cooldown() {
        let b = LoginBreakers::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            b.admit("p", 3, soon()).await.unwrap().refused(3, COOL, t0);
        }
        assert_eq!(b.admit("p", 3, soon()).await.unwrap_err(), Refused::Suspended);
        assert!(b.admit("other", 3, soon()).await.is_ok());
        assert!(matches!(b.try_admit("p", 3, t0 + COOL), Admission::Go), "count starts afresh after the cooldown");
    }

    #[tokio::test]
    async fn an_accepted_answer_resets_the_count_and_lifts_the_probe_limit() {
        let b = LoginBreakers::default();
        let t0 = Instant::now();
        b.admit("p", 2, soon()).await.unwrap().refused(2, COOL, t0);
        b.admit("p", 2, soon()).await.unwrap().accepted();
        let mut slots: Vec<_> = futures_join(&b, 10).await;
        assert_eq!(slots.len(), 10, "a proven login admits any number at once");
        let last = slots.pop().unwrap();
        drop(slots);
        last.refused(2, COOL, t0);
        drop(last);
        assert!(b.admit("p", 2, soon()).await.is_ok(), "one refusal of two leaves a probe slot");
    }

    async fn futures_join(b: &LoginBreakers, n: usize) -> Vec<Slot> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(b.admit("p", 2, soon()).await.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn an_unproven_login_admits_only_threshold_probes_at_once() {
        let b = LoginBreakers::default();
        let first = b.admit("p", 2, soon()).await.unwrap();
        let second = b.admit("p", 2, soon()).await.unwrap();
        assert_eq!(b.admit("p", 2, soon()).await.unwrap_err(), Refused::Busy);

        // A waiter is admitted when a probe ends without an outcome...
        let waiter = {
            let b = b.clone();
            tokio::spawn(async move { b.admit("p", 2, Instant::now() + Duration::from_secs(5)).await.map(|_| ()) })
        };
        drop(first);
        assert_eq!(waiter.await.unwrap(), Ok(()));

        // One refusal of two leaves exactly one probe slot.
        second.refused(2, COOL, Instant::now());
        drop(second);
        let probe = b.admit("p", 2, soon()).await.unwrap();
        assert_eq!(b.admit("p", 2, soon()).await.unwrap_err(), Refused::Busy);
        drop(probe);
    }
}
