//! The connection state machine, on tokio's paused clock.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::*;

const LIMITS: Limits = Limits {
    header_read_timeout: Duration::from_secs(10),
    idle_timeout: Duration::from_secs(60),
    write_timeout: Duration::from_secs(30),
};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// What `expired` says, and how long after `from` it said it.
async fn expiry(a: &Activity, from: Instant) -> (Expiry, Duration) {
    let (_tx, rx) = watch::channel(0);
    let why = a.expired(LIMITS, rx).await;
    (why, Instant::now() - from)
}

#[tokio::test(start_paused = true)]
async fn a_connection_without_a_request_expires_after_the_head_timeout() {
    let t0 = Instant::now();
    let a = Activity::new(t0);
    assert_eq!(expiry(&a, t0).await, (Expiry::NoRequest, secs(10)));
}

#[tokio::test(start_paused = true)]
async fn bytes_alone_do_not_extend_the_first_head() {
    let t0 = Instant::now();
    let a = Activity::new(t0);
    a.on_read(t0 + secs(5));
    assert_eq!(expiry(&a, t0).await, (Expiry::NoRequest, secs(10)));
}

#[tokio::test(start_paused = true)]
async fn idle_after_an_answer_then_a_slow_head() {
    let t0 = Instant::now();
    let a = Activity::new(t0);
    let guard = a.request(false).answered(t0);
    assert_eq!(a.deadline(&LIMITS), Some((t0 + secs(30), Expiry::SlowRead)), "answer pending");
    drop(guard);
    assert_eq!(a.deadline(&LIMITS), Some((t0 + secs(60), Expiry::Idle)));
    // An HTTP/1 head starts arriving 20 s later: it has header_read_timeout from its first byte.
    a.on_read(t0 + secs(20));
    assert_eq!(a.deadline(&LIMITS), Some((t0 + secs(30), Expiry::SlowHead)));
    assert_eq!(expiry(&a, t0).await, (Expiry::SlowHead, secs(30)));
}

#[tokio::test(start_paused = true)]
async fn http2_reads_while_idle_are_not_a_head() {
    let t0 = Instant::now();
    let a = Activity::new(t0);
    drop(a.request(true));
    a.on_read(t0 + secs(1)); // a PING
    assert_eq!(expiry(&a, t0).await, (Expiry::Idle, secs(60)));
}

#[tokio::test(start_paused = true)]
async fn a_request_in_progress_has_no_connection_deadline_until_its_answer() {
    let t0 = Instant::now();
    let a = Activity::new(t0);
    let request = a.request(false);
    assert_eq!(a.deadline(&LIMITS), None);
    let answered = request.answered(t0 + secs(100));
    assert_eq!(a.deadline(&LIMITS), Some((t0 + secs(130), Expiry::SlowRead)));
    drop(answered);
    assert_eq!(a.deadline(&LIMITS).map(|d| d.1), Some(Expiry::Idle));
}

#[tokio::test(start_paused = true)]
async fn a_stalled_write_counts_from_the_first_stall_until_a_flush() {
    let t0 = Instant::now();
    let a = Activity::new(t0);
    drop(a.request(false).answered(t0));
    a.on_write_blocked(t0 + secs(1));
    a.on_write_blocked(t0 + secs(20)); // still the same stall
    assert_eq!(a.deadline(&LIMITS), Some((t0 + secs(31), Expiry::SlowRead)));
    assert!(!a.is_idle(), "a stalled connection is not idle");
    a.on_flushed();
    assert_eq!(a.deadline(&LIMITS).map(|d| d.1), Some(Expiry::Idle));
}

#[tokio::test(start_paused = true)]
async fn an_answer_stuck_in_the_socket_keeps_its_write_deadline_when_idle_timeout_is_shorter() {
    let limits = Limits { idle_timeout: secs(5), ..LIMITS };
    let t0 = Instant::now();
    let a = Activity::new(t0);
    // The answer was handed over whole, then the socket stopped taking it.
    drop(a.request(false).answered(t0));
    a.on_write_blocked(t0 + secs(1));
    assert_eq!(a.deadline(&limits), Some((t0 + secs(31), Expiry::SlowRead)), "not idle: an answer is stuck");
    a.on_flushed();
    assert_eq!(a.deadline(&limits), Some((t0 + secs(5), Expiry::Idle)), "idle since the answer once it is out");
}

#[tokio::test(start_paused = true)]
async fn the_oldest_pending_answer_sets_the_write_deadline() {
    let t0 = Instant::now();
    let a = Activity::new(t0);
    let first = a.request(true).answered(t0);
    let second = a.request(true).answered(t0 + secs(10));
    assert_eq!(a.deadline(&LIMITS), Some((t0 + secs(30), Expiry::SlowRead)));
    drop(first);
    assert_eq!(a.deadline(&LIMITS), Some((t0 + secs(40), Expiry::SlowRead)));
    drop(second);
    assert_eq!(a.deadline(&LIMITS).map(|d| d.1), Some(Expiry::Idle));
}

#[tokio::test(start_paused = true)]
async fn a_deadline_that_appears_while_the_watchdog_sleeps_is_met_on_time() {
    let t0 = Instant::now();
    let a = Activity::new(t0);
    let request = a.request(false);
    let (_tx, rx) = watch::channel(0);
    let watchdog = a.expired(LIMITS, rx);
    tokio::pin!(watchdog);
    // Busy: nothing expires, however long the handler takes.
    assert!(tokio::time::timeout(secs(3600), &mut watchdog).await.is_err());
    let answered = request.answered(Instant::now());
    let started = Instant::now();
    assert_eq!(watchdog.await, Expiry::SlowRead);
    assert_eq!(Instant::now() - started, secs(30));
    drop(answered);
}

#[tokio::test(start_paused = true)]
async fn at_the_cap_idle_connections_are_evicted_and_busy_ones_are_not() {
    let t0 = Instant::now();
    let idle = Activity::new(t0);
    drop(idle.request(false));
    let busy = Activity::new(t0);
    let _request = busy.request(false);
    let (tx, rx) = watch::channel(0u64);
    let idle_watch = idle.expired(LIMITS, rx.clone());
    let busy_watch = busy.expired(LIMITS, rx);
    tokio::pin!(idle_watch, busy_watch);
    tx.send_modify(|n| *n += 1);
    assert_eq!((&mut idle_watch).await, Expiry::Evicted);
    assert_eq!(Instant::now(), t0, "at once");
    assert!(tokio::time::timeout(secs(3600), &mut busy_watch).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn an_answer_handing_pieces_over_keeps_its_write_deadline_moving() {
    let t0 = Instant::now();
    let a = Activity::new(t0);
    let slow = a.request(true).answered(t0);
    let stuck = a.request(true).answered(t0 + secs(5));
    assert_eq!(a.deadline(&LIMITS), Some((t0 + secs(30), Expiry::SlowRead)));
    // The first answer goes on piece by piece; the second stops at once.
    slow.progress(t0 + secs(20));
    assert_eq!(a.deadline(&LIMITS), Some((t0 + secs(35), Expiry::SlowRead)), "the stuck one is now the oldest");
    drop(stuck);
    assert_eq!(a.deadline(&LIMITS), Some((t0 + secs(50), Expiry::SlowRead)));
    assert_eq!(expiry(&a, t0).await, (Expiry::SlowRead, secs(50)));
    drop(slow);
}

/// Counts the wake-ups of whatever it is the waker of.
#[derive(Default)]
struct Wakes(AtomicUsize);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn requests_and_their_io_do_not_wake_the_watchdog() {
    let t0 = Instant::now();
    let a = Activity::new(t0);
    drop(a.request(false).answered(t0)); // idle from here: 60 s to the idle deadline
    let (_tx, rx) = watch::channel(0);
    let watchdog = a.expired(LIMITS, rx);
    tokio::pin!(watchdog);
    let wakes = Arc::new(Wakes::default());
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(watchdog.as_mut().poll(&mut cx).is_pending());
    // Keep-alive requests, as the connection's I/O and service report them.
    for _ in 0..3 {
        a.on_read(Instant::now());
        let request = a.request(false);
        let answered = request.answered(Instant::now());
        a.on_write_blocked(Instant::now());
        a.on_flushed();
        drop(answered);
    }
    assert_eq!(wakes.0.load(Ordering::SeqCst), 0, "wake-ups of the connection's task");
    // Idle since t0. A head starting at t0 + 5, while the watchdog sleeps,
    // still gets exactly its header_read_timeout (the shortest limit).
    tokio::time::advance(secs(5)).await;
    a.on_read(Instant::now());
    assert_eq!(watchdog.await, Expiry::SlowHead);
    assert_eq!(Instant::now() - t0, secs(15));
}
