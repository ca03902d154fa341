//! A line buffer drained by one writer thread: group commit for the audit
//! sink and the diagnostic log.
//!
//! Request tasks append whole lines to a shared, bounded buffer under a
//! short lock (a `memcpy`) and never write themselves, so no blocking I/O
//! happens on the async runtime. The writer thread takes everything pending
//! at once, writes it with one call, and then reports the outcome to every
//! task that asked to wait for that batch ([`Batch`]).
//!
//! Wake-ups are the expensive part under load, so a line only wakes the
//! writer when someone waits for it ([`Urgency::Now`]) or when the buffer
//! passes its high-water mark; other lines ([`Urgency::Linger`]) are written
//! with the next batch, and at the latest `linger` after they were appended.
//! While the writer is busy, nobody wakes it at all: it finds the new lines
//! when its write returns. On a runtime worker thread, the wake-up itself
//! waits until the thread runs out of work (see [`worker_parks`]), so that a
//! burst of requests goes out in one batch.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

mod held;

pub use held::{worker_parks, worker_stops};

/// Where a writer thread puts its batches.
pub trait Sink: Send + 'static {
    /// Writes whole lines, all of them or an error.
    fn write_batch(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Opens the destination again (log rotation); the default does nothing.
    fn reopen(&mut self) {}
}

/// How soon an appended line must reach the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// Someone waits for it: wake the writer.
    Now,
    /// With the next batch, within `linger`.
    Linger,
}

/// Sizes and times of one buffer.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes that may wait; an append that does not fit is refused.
    pub capacity: usize,
    /// Pending bytes past which the writer is woken whatever the urgency.
    pub high_water: usize,
    /// Longest time a `Linger` line waits for company.
    pub linger: Duration,
}

/// The outcome of one batch, shared by every line in it.
pub struct Batch {
    /// Set once, after `written`.
    settled: AtomicBool,
    written: AtomicBool,
    done: tokio::sync::Notify,
}

impl Batch {
    fn new() -> Arc<Batch> {
        Arc::new(Batch {
            settled: AtomicBool::new(false),
            written: AtomicBool::new(false),
            done: tokio::sync::Notify::new(),
        })
    }

    fn settle(&self, written: bool) {
        self.written.store(written, Ordering::Relaxed);
        self.settled.store(true, Ordering::Release);
        self.done.notify_waiters();
    }

    /// Waits until the batch is written (`true`) or failed (`false`).
    pub async fn written(&self) -> bool {
        loop {
            let notified = self.done.notified();
            tokio::pin!(notified);
            // Registered before the check: a settle in between still wakes us.
            notified.as_mut().enable();
            match self.settled.load(Ordering::Acquire) {
                true => return self.written.load(Ordering::Relaxed),
                false => notified.await,
            }
        }
    }
}

/// Why an append was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the buffer is full")]
    Full,
    #[error("the writer has stopped")]
    Closed,
}

struct Pending {
    bytes: Vec<u8>,
    /// The batch the pending bytes will be written in.
    batch: Arc<Batch>,
    /// Someone waits for the pending batch (a `Now` line, a flush, a reopen).
    urgent: bool,
    reopen: bool,
    /// The writer is waiting on `wake` and nobody has woken it yet (only
    /// then is a notify worth a syscall).
    writer_idle: bool,
    /// The writer found nothing for a while and stopped looking every
    /// `linger`: any append wakes it.
    writer_asleep: bool,
    /// A worker thread took the writer's wake-up and holds it ([`held`]).
    wake_held: bool,
    /// Lines appended, on any thread, that wait for that held wake-up.
    held_lines: usize,
    closed: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    /// Told each time the writer takes a batch (room again).
    room: tokio::sync::Notify,
    limits: Limits,
    refused: AtomicU64,
    /// Times the writer was woken (a `notify_one`), for tests.
    wakes: AtomicU64,
}

/// What an append does about the writer's wake-up.
enum Wake {
    /// Nothing: it is not due, or someone else does it.
    Nothing,
    Now,
    /// This worker thread holds it until it parks.
    Hold,
}

impl Pending {
    /// Whether to wake the writer: only if it waits, and only once. The
    /// waker clears `writer_idle` (under the lock), so the appends that come
    /// before the writer runs again do not each make a `futex` call.
    fn take_wake(&mut self) -> bool {
        std::mem::take(&mut self.writer_idle)
    }

    /// Like [`Pending::take_wake`], and a wake-up held by a worker is taken
    /// too: for those that wait for the writer now (a flush, room).
    fn take_any_wake(&mut self) -> bool {
        self.take_wake() || std::mem::take(&mut self.wake_held)
    }

    /// The wake-up for a line that is due, appended on a worker thread or not.
    fn wake_for_line(&mut self, worker: bool) -> Wake {
        if self.wake_held {
            // Held elsewhere: past MOST_HELD_LINES this append wakes the writer itself.
            self.held_lines += 1;
            if self.held_lines < held::MOST_HELD_LINES {
                return Wake::Nothing;
            }
            self.wake_held = false;
            return Wake::Now;
        }
        match (self.take_wake(), worker, self.writer_asleep) {
            (false, _, _) => Wake::Nothing,
            // A napping writer looks again within `linger` by itself: its wake-up may be held.
            (true, true, false) => {
                self.wake_held = true;
                self.held_lines = 1;
                Wake::Hold
            }
            (true, false, _) | (true, true, true) => Wake::Now,
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // Appends and takes cannot leave the state half-changed: poison is harmless.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake_writer(&self) {
        self.wakes.fetch_add(1, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// A held wake-up, if it is still due: the writer may have looked by
    /// itself since, or another thread woken it for the lines it counted.
    fn wake_held(&self) {
        let mut p = self.lock();
        let due = std::mem::take(&mut p.wake_held);
        drop(p);
        if due {
            self.wake_writer();
        }
    }
}

/// The appending side; cheap to clone. Dropping the last one lets the writer
/// write what is pending and end.
#[derive(Clone)]
pub struct Lines {
    shared: Arc<Shared>,
    _owner: Arc<Owner>,
}

/// Closes the buffer when the last `Lines` goes.
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        close(&self.0);
    }
}

fn close(shared: &Shared) {
    let mut p = shared.lock();
    p.closed = true;
    drop(p);
    shared.wake_writer();
}

/// The writer thread, to wait for its end. Dropping it detaches the thread,
/// which still writes what is pending before it ends.
pub struct Writer {
    ended: std::sync::mpsc::Receiver<()>,
}

impl Writer {
    /// Waits for the writer thread to end (once the buffer is closed), giving
    /// up after `wait` (a sink that blocks must not hang the exit); `true` if it ended.
    pub fn join_within(self, wait: Duration) -> bool {
        use std::sync::mpsc::RecvTimeoutError;
        match self.ended.recv_timeout(wait) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
            Err(RecvTimeoutError::Timeout) => false,
        }
    }
}

/// Starts a writer thread named `name` that owns `sink`. `on_error` is told
/// of each failed batch (on the writer thread).
pub fn spawn<S: Sink>(
    name: &str,
    sink: S,
    limits: Limits,
    on_error: impl Fn(&io::Error) + Send + 'static,
) -> io::Result<(Lines, Writer)> {
    // A zero linger would have an idle writer spin.
    let limits = Limits { linger: limits.linger.max(Duration::from_millis(1)), ..limits };
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending {
            bytes: Vec::with_capacity(limits.high_water.min(limits.capacity)),
            batch: Batch::new(),
            urgent: false,
            reopen: false,
            writer_idle: false,
            writer_asleep: false,
            wake_held: false,
            held_lines: 0,
            closed: false,
        }),
        wake: Condvar::new(),
        room: tokio::sync::Notify::new(),
        limits,
        refused: AtomicU64::new(0),
        wakes: AtomicU64::new(0),
    });
    let (end, ended) = std::sync::mpsc::channel();
    std::thread::Builder::new().name(name.to_owned()).spawn({
        let shared = shared.clone();
        move || {
            run(&shared, sink, on_error);
            let _ = end.send(());
        }
    })?;
    let lines = Lines { shared: shared.clone(), _owner: Arc::new(Owner(shared)) };
    Ok((lines, Writer { ended }))
}

impl Lines {
    /// Appends one or more whole lines; with `Urgency::Now` the returned
    /// batch tells when they are written. A refusal for want of room is counted.
    pub fn append(&self, line: &[u8], urgency: Urgency) -> Result<Arc<Batch>, Refused> {
        let appended = self.try_append(line, urgency);
        if appended.as_ref().err() == Some(&Refused::Full) {
            self.shared.refused.fetch_add(1, Ordering::Relaxed);
        }
        appended
    }

    fn try_append(&self, line: &[u8], urgency: Urgency) -> Result<Arc<Batch>, Refused> {
        let limits = &self.shared.limits;
        let worker = held::on_worker();
        let mut p = self.shared.lock();
        if p.closed {
            return Err(Refused::Closed);
        }
        if p.bytes.len() + line.len() > limits.capacity {
            // Someone waits for room: the writer should make it now.
            p.urgent = true;
            let wake = p.take_any_wake();
            drop(p);
            if wake {
                self.shared.wake_writer();
            }
            return Err(Refused::Full);
        }
        p.bytes.extend_from_slice(line);
        p.urgent |= urgency == Urgency::Now;
        let batch = p.batch.clone();
        let due = p.urgent || p.writer_asleep || p.bytes.len() >= limits.high_water;
        let wake = if due { p.wake_for_line(worker) } else { Wake::Nothing };
        drop(p);
        match wake {
            Wake::Nothing => {}
            Wake::Now => self.shared.wake_writer(),
            Wake::Hold => held::hold(&self.shared),
        }
        Ok(batch)
    }

    /// Like `append`, but waits up to `wait` for room in a full buffer.
    pub async fn append_waiting(&self, line: &[u8], urgency: Urgency, wait: Duration) -> Result<Arc<Batch>, Refused> {
        if line.len() > self.shared.limits.capacity {
            return self.append(line, urgency);
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let room = self.shared.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.try_append(line, urgency) {
                Err(Refused::Full) => {
                    if tokio::time::timeout_at(deadline, room).await.is_err() {
                        self.shared.refused.fetch_add(1, Ordering::Relaxed);
                        return Err(Refused::Full);
                    }
                }
                done => return done,
            }
        }
    }

    /// The batch holding everything appended so far, written next.
    pub fn flush(&self) -> Result<Arc<Batch>, Refused> {
        self.mark(false)
    }

    /// Has the sink reopened once what was appended so far is written.
    pub fn reopen(&self) -> Result<Arc<Batch>, Refused> {
        self.mark(true)
    }

    fn mark(&self, reopen: bool) -> Result<Arc<Batch>, Refused> {
        let mut p = self.shared.lock();
        if p.closed {
            return Err(Refused::Closed);
        }
        p.urgent = true;
        p.reopen |= reopen;
        let batch = p.batch.clone();
        let wake = p.take_any_wake();
        drop(p);
        if wake {
            self.shared.wake_writer();
        }
        Ok(batch)
    }

    /// Closes the buffer for every handle: later appends are refused, and the
    /// writer ends once what is pending is written.
    pub fn close(&self) {
        close(&self.shared);
    }

    /// Whether the writer waits for work (and, second, has stopped looking every `linger`).
    #[cfg(test)]
    fn writer_state(&self) -> (bool, bool) {
        let p = self.shared.lock();
        (p.writer_idle, p.writer_asleep)
    }

    /// Times the writer was woken, since the start.
    #[cfg(test)]
    fn wakes(&self) -> u64 {
        self.shared.wakes.load(Ordering::Relaxed)
    }

    /// Appends refused because the buffer was full, since the start.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }
}

/// What the writer took from the buffer in one go.
struct Taken {
    bytes: Vec<u8>,
    batch: Arc<Batch>,
    reopen: bool,
}

/// Idle looks in a row after which the writer stops looking every `linger`.
const LOOKS_BEFORE_SLEEP: u32 = 100;

/// Waits until there is a batch to write, then takes it; `None` once the
/// buffer is closed and empty. An idle writer looks at the buffer every
/// `linger` (that is how `Linger` lines get out without waking it), until it
/// has found nothing `LOOKS_BEFORE_SLEEP` times: then it sleeps until an
/// append wakes it.
fn take(shared: &Shared, spare: Vec<u8>) -> Option<Taken> {
    let mut p = shared.lock();
    let mut timed_out = false;
    let mut empty_looks = 0;
    while !(p.urgent || p.closed || p.bytes.len() >= shared.limits.high_water || (timed_out && !p.bytes.is_empty())) {
        p.writer_idle = true;
        if empty_looks >= LOOKS_BEFORE_SLEEP {
            p.writer_asleep = true;
            p = shared.wake.wait(p).unwrap_or_else(PoisonError::into_inner);
            // Woken by an append: its line lingers no longer than it would have.
            timed_out = true;
        } else {
            let (guard, wait) =
                shared.wake.wait_timeout(p, shared.limits.linger).unwrap_or_else(PoisonError::into_inner);
            p = guard;
            timed_out = wait.timed_out();
        }
        p.writer_idle = false;
        p.writer_asleep = false;
        // Awake now, however it was woken: a wake-up still held is not due any more.
        p.wake_held = false;
        p.held_lines = 0;
        empty_looks = if p.bytes.is_empty() { empty_looks + 1 } else { 0 };
    }
    if p.closed && p.bytes.is_empty() && !p.urgent {
        return None;
    }
    let bytes = std::mem::replace(&mut p.bytes, spare);
    let batch = std::mem::replace(&mut p.batch, Batch::new());
    let reopen = std::mem::take(&mut p.reopen);
    p.urgent = false;
    drop(p);
    shared.room.notify_waiters();
    Some(Taken { bytes, batch, reopen })
}

/// Ends the buffer if the writer thread does, however it does (a panic
/// included): appends are refused from then on and the batch being written
/// and the pending one are settled as failed, so no one waits for them.
struct EndGuard<'a> {
    shared: &'a Shared,
    in_flight: Option<Arc<Batch>>,
}

impl Drop for EndGuard<'_> {
    fn drop(&mut self) {
        let mut p = self.shared.lock();
        p.closed = true;
        let pending = std::mem::replace(&mut p.batch, Batch::new());
        drop(p);
        if let Some(batch) = self.in_flight.take() {
            batch.settle(false);
        }
        // A normal end took everything: nothing waits for the pending batch then.
        pending.settle(false);
        self.shared.room.notify_waiters();
    }
}

fn run<S: Sink>(shared: &Shared, mut sink: S, on_error: impl Fn(&io::Error)) {
    let mut guard = EndGuard { shared, in_flight: None };
    let mut spare = Vec::with_capacity(shared.limits.high_water.min(shared.limits.capacity));
    // An empty batch (a flush, a reopen) reports how the write before it went.
    let mut last_written = true;
    while let Some(Taken { mut bytes, batch, reopen }) = take(shared, spare) {
        guard.in_flight = Some(batch);
        if !bytes.is_empty() {
            last_written = sink.write_batch(&bytes).map_err(|e| on_error(&e)).is_ok();
        }
        if reopen {
            sink.reopen();
        }
        if let Some(batch) = guard.in_flight.take() {
            batch.settle(last_written);
        }
        bytes.clear();
        // A burst's buffer is not kept for ever: back to the usual size.
        bytes.shrink_to(shared.limits.high_water.min(shared.limits.capacity));
        spare = bytes;
    }
}

#[cfg(test)]
mod tests;
