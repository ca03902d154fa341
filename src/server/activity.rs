//! What one connection is doing, and when it must be given up (every state
//! has a deadline):
//!
//! | state | ends it | deadline |
//! | --- | --- | --- |
//! | accepted, no request yet (protocol sniff, TLS, first head) | first request | `header_read_timeout` from accept |
//! | HTTP/1 head arriving after an idle spell | request | `header_read_timeout` from its first byte |
//! | idle: no request in progress | next request | `idle_timeout` from the last answer |
//! | a request in progress | its answer | `request_timeout` (the handler's own deadline) |
//! | an answer the client does not take | all of it taken | `write_timeout` from the answer being ready or its last piece handed over (until all of it is), or from a write that stalls (until one makes progress) |
//!
//! The state is fed by the connection's I/O ([`super::io`]), by the service
//! (a [`RequestGuard`] per request) and by the answer's body (which carries a
//! [`ResponseGuard`] until it is fully handed over); the watchdog
//! ([`Activity::expired`]) sleeps until the earliest deadline, or at most the
//! shortest limit, and is never woken by a change of state.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// The connection deadlines, from `[server]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub write_timeout: Duration,
}

impl Limits {
    /// How long the watchdog may go without looking at the state.
    fn shortest(&self) -> Duration {
        self.header_read_timeout.min(self.idle_timeout).min(self.write_timeout)
    }
}

/// Why a connection is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// No request within `header_read_timeout` of accept.
    NoRequest,
    /// An HTTP/1 head not complete within `header_read_timeout`.
    SlowHead,
    /// Idle for `idle_timeout`.
    Idle,
    /// An answer not taken within `write_timeout`.
    SlowRead,
    /// Idle while the listener is at its connection cap.
    Evicted,
}

impl Expiry {
    /// Metric label.
    pub fn label(self) -> &'static str {
        match self {
            Expiry::NoRequest => "no_request",
            Expiry::SlowHead => "slow_head",
            Expiry::Idle => "idle",
            Expiry::SlowRead => "slow_read",
            Expiry::Evicted => "evicted",
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Expiry::NoRequest => "no request before header_read_timeout",
            Expiry::SlowHead => "request head not complete before header_read_timeout",
            Expiry::Idle => "idle for idle_timeout",
            Expiry::SlowRead => "answer not taken before write_timeout",
            Expiry::Evicted => "idle while the connection cap is reached",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Accepted; no request seen yet.
    First { since: Instant },
    /// No request in progress.
    Idle { since: Instant },
    /// HTTP/1 bytes arrived while idle: a head is on its way.
    Head { since: Instant },
    /// At least one request in progress.
    Busy,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// Requests whose answer is not fully handed over yet.
    active: usize,
    /// The connection speaks HTTP/2 (its idle reads are pings and settings, not a head).
    h2: bool,
    /// A write that could not proceed, since the last complete flush.
    stalled_since: Option<Instant>,
    /// Answers ready but not yet fully taken, by id: since when each has handed nothing over.
    pending: BTreeMap<u64, Instant>,
    next_id: u64,
}

/// One connection's activity, shared by its I/O, its requests and its watchdog.
#[derive(Debug)]
pub struct Activity {
    state: Mutex<State>,
}

impl Activity {
    pub fn new(accepted: Instant) -> Arc<Activity> {
        Arc::new(Activity {
            state: Mutex::new(State {
                phase: Phase::First { since: accepted },
                active: 0,
                h2: false,
                stalled_since: None,
                pending: BTreeMap::new(),
                next_id: 0,
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes were read from the client.
    pub fn on_read(&self, now: Instant) {
        let mut s = self.state();
        if let Phase::Idle { .. } = s.phase {
            if !s.h2 {
                s.phase = Phase::Head { since: now };
            }
        }
    }

    /// A write could not proceed (the client is not reading); `write_timeout`
    /// runs from the first such write until one makes progress again.
    pub fn on_write_blocked(&self, now: Instant) {
        let mut s = self.state();
        if s.stalled_since.is_none() {
            s.stalled_since = Some(now);
        }
    }

    /// Everything written so far has been handed to the socket.
    pub fn on_flushed(&self) {
        self.state().stalled_since = None;
    }

    /// A request arrived; the guard follows it until its answer is taken.
    pub fn request(self: &Arc<Self>, h2: bool) -> RequestGuard {
        let mut s = self.state();
        s.active += 1;
        s.h2 |= h2;
        s.phase = Phase::Busy;
        drop(s);
        RequestGuard { activity: self.clone(), pending: None }
    }

    fn finish(&self, pending: Option<u64>, now: Instant) {
        let mut s = self.state();
        if let Some(id) = pending {
            s.pending.remove(&id);
        }
        s.active = s.active.saturating_sub(1);
        if s.active == 0 {
            s.phase = Phase::Idle { since: now };
        }
    }

    /// The earliest deadline and what it is for; `None` while only the
    /// handlers' own deadlines apply.
    fn deadline(&self, limits: &Limits) -> Option<(Instant, Expiry)> {
        let s = self.state();
        let mut at = match s.phase {
            Phase::First { since } => Some((since + limits.header_read_timeout, Expiry::NoRequest)),
            Phase::Head { since } => Some((since + limits.header_read_timeout, Expiry::SlowHead)),
            // Between requests with an answer still stuck in the socket, the
            // connection is not idle: the client is not taking that answer,
            // which `write_timeout` (below) bounds.
            Phase::Idle { since } if s.stalled_since.is_none() => Some((since + limits.idle_timeout, Expiry::Idle)),
            Phase::Idle { .. } | Phase::Busy => None,
        };
        let write = s.pending.values().copied().chain(s.stalled_since).min();
        if let Some(since) = write {
            let candidate = (since + limits.write_timeout, Expiry::SlowRead);
            at = Some(at.map_or(candidate, |current| if candidate.0 < current.0 { candidate } else { current }));
        }
        at
    }

    /// A write made progress: a stall, if any, is over.
    pub fn on_write_progress(&self) {
        let mut s = self.state();
        if s.stalled_since.is_some() {
            s.stalled_since = None;
        }
    }

    pub fn is_idle(&self) -> bool {
        let s = self.state();
        matches!(s.phase, Phase::Idle { .. }) && s.stalled_since.is_none()
    }

    /// Resolves when the connection must be given up. `evict` changes when
    /// the listener is at its cap: an idle connection then gives up at once.
    ///
    /// A change of state does not wake it (that would cost every request a
    /// poll of its connection or two more). It need not: each deadline is the
    /// time of an event plus one of the limits, so one that appears after the
    /// watchdog last looked is no earlier than its next look, which is at most
    /// the shortest limit later. Every deadline is met on time, give or take
    /// the moment between an event reading the clock and taking the state's
    /// lock (an HTTP/2 stream's events come from its own task). The price:
    /// each connection is looked at at least once per shortest limit.
    pub async fn expired(&self, limits: Limits, mut evict: watch::Receiver<u64>) -> Expiry {
        let look_every = limits.shortest();
        let sleep = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(sleep);
        let mut listening = true;
        loop {
            let now = Instant::now();
            let next_look = now + look_every;
            match self.deadline(&limits) {
                Some((at, why)) if at <= now => return why,
                Some((at, _)) => sleep.as_mut().reset(at.min(next_look)),
                None => sleep.as_mut().reset(next_look),
            }
            tokio::select! {
                () = &mut sleep => {}
                changed = evict.changed(), if listening => {
                    if changed.is_err() {
                        // The listener is gone; only the deadlines remain.
                        listening = false;
                    } else if self.is_idle() {
                        return Expiry::Evicted;
                    }
                }
            }
        }
    }
}

/// One request in progress on the connection.
#[derive(Debug)]
pub struct RequestGuard {
    activity: Arc<Activity>,
    pending: Option<u64>,
}

impl RequestGuard {
    /// The answer is ready: from now the client has `write_timeout` to take it.
    pub fn answered(mut self, now: Instant) -> ResponseGuard {
        let mut s = self.activity.state();
        let id = s.next_id;
        s.next_id += 1;
        s.pending.insert(id, now);
        drop(s);
        self.pending = Some(id);
        ResponseGuard { request: self }
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.activity.finish(self.pending.take(), Instant::now());
    }
}

/// An answer being handed to the client; dropped once it is.
#[derive(Debug)]
pub struct ResponseGuard {
    request: RequestGuard,
}

impl ResponseGuard {
    /// A piece of the answer was handed over: its `write_timeout` starts again.
    pub fn progress(&self, now: Instant) {
        if let Some(id) = self.request.pending {
            if let Some(since) = self.request.activity.state().pending.get_mut(&id) {
                *since = now;
            }
        }
    }
}

#[cfg(test)]
mod tests;
