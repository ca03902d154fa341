//! Writer wake-ups held back on runtime worker threads until the thread
//! runs out of work.
//!
//! Waking the writer costs a `futex` call here and a context switch on the
//! writer's side, and under load a request task that appends a line is
//! followed by others that append theirs before the worker thread has
//! nothing left to run. So on a worker thread a wake-up is held: the runtime
//! calls [`worker_parks`] just before the thread parks (tokio's
//! `on_thread_park`), and that wakes each writer held for, with every line
//! of the burst waiting for it. Lines appended meanwhile, on any thread,
//! are counted (in the buffer's state, under its lock); the one that makes
//! [`MOST_HELD_LINES`] wakes the writer itself, so a worker that does not
//! park soon does not hold a burst back.
//!
//! Only a writer that is napping is held for: it looks at its buffer again
//! within `linger` by itself, so a held wake-up can never delay a line by
//! more than that (a worker thread busy for longer than `linger` without
//! parking, or one whose thread tokio hands to the blocking pool, which
//! hsgate does not ask for, is that worst case). A writer that is asleep is
//! woken at once.
//!
//! A thread holds wake-ups only once it has parked as a worker: other
//! threads (the blocking pool, a `block_on` caller, another runtime such as
//! a test's) never call [`worker_parks`], and wake writers at once.

use std::cell::RefCell;
use std::sync::Arc;

use super::Shared;

/// Lines that may wait for one held wake-up before one of them wakes the writer.
pub(super) const MOST_HELD_LINES: usize = 16;

#[derive(Default)]
struct Held {
    /// This thread is a runtime worker that calls [`worker_parks`].
    worker: bool,
    /// Writers whose wake-up this thread holds, each once.
    writers: Vec<Arc<Shared>>,
}

thread_local! {
    static HELD: RefCell<Held> = RefCell::new(Held::default());
}

/// Whether this thread may hold a wake-up (false while the thread ends).
pub(super) fn on_worker() -> bool {
    HELD.try_with(|held| held.borrow().worker).unwrap_or(false)
}

/// Holds the wake-up of `shared`'s writer until this worker thread parks.
pub(super) fn hold(shared: &Arc<Shared>) {
    let kept = HELD.try_with(|held| {
        let mut held = held.borrow_mut();
        if !held.writers.iter().any(|w| Arc::ptr_eq(w, shared)) {
            held.writers.push(shared.clone());
        }
    });
    if kept.is_err() {
        shared.wake_held();
    }
}

/// For the runtime's `on_thread_park`: this worker thread has nothing left
/// to run; the writers held for are woken, and from now on this thread holds
/// wake-ups.
pub fn worker_parks() {
    let_go(true);
}

/// For the runtime's `on_thread_stop`: nothing stays held on a thread that ends.
pub fn worker_stops() {
    let_go(false);
}

/// Wakes every writer this thread holds for; from now on it holds wake-ups if `worker`.
fn let_go(worker: bool) {
    let writers = HELD.try_with(|held| {
        let mut held = held.borrow_mut();
        held.worker = worker;
        std::mem::take(&mut held.writers)
    });
    for shared in writers.unwrap_or_default() {
        shared.wake_held();
    }
}

/// Whether this thread holds wake-ups, and for how many writers (for tests).
#[cfg(test)]
pub(super) fn holding() -> (bool, usize) {
    HELD.with(|held| {
        let held = held.borrow();
        (held.worker, held.writers.len())
    })
}
