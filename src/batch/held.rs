//! Writer wake-ups held back on runtime worker threads until the thread
//! runs out of work.
//!
//! Waking the writer costs a `futex` call here and a context switch on the
//! writer's side, and under load a request task that appends a line is
//! followed by others that will append theirs before the worker thread has
//! nothing left to run. So on a worker thread a wake-up is held: the runtime
//! calls [`worker_parks`] just before the thread parks (tokio's
//! `on_thread_park`), and that wakes each writer held for once, with every
//! line of the burst waiting for it. A worker that never parks wakes its
//! writers itself once it holds [`MOST_HELD_LINES`] lines for them.
//!
//! Only a writer that is napping is held for: it looks at its buffer again
//! within `linger` by itself, so a held wake-up can never delay a line by
//! more than that. A writer that is asleep is woken at once.
//!
//! A thread holds wake-ups only once it has parked as a worker: other
//! threads (the blocking pool, a `block_on` caller, another runtime such as
//! a test's) never call [`worker_parks`], and wake writers at once.

use std::cell::RefCell;
use std::sync::Arc;

use super::Shared;

/// Lines a worker thread may hold wake-ups for before it wakes their writers itself.
pub const MOST_HELD_LINES: usize = 16;

#[derive(Default)]
struct Held {
    /// This thread is a runtime worker that calls [`worker_parks`].
    worker: bool,
    /// Writers to wake, each once.
    writers: Vec<Arc<Shared>>,
    /// Lines appended since the last wake-up that wait for one.
    lines: usize,
}

thread_local! {
    static HELD: RefCell<Held> = RefCell::new(Held::default());
}

/// Takes over the wake-up of `shared`'s writer, for a line that needs it;
/// false if this thread cannot hold it (the caller wakes the writer now).
pub(super) fn hold(shared: &Arc<Shared>) -> bool {
    let (held, full) = HELD.with(|held| {
        let mut held = held.borrow_mut();
        if !held.worker {
            return (false, false);
        }
        held.writers.push(shared.clone());
        held.lines += 1;
        (true, held.lines >= MOST_HELD_LINES)
    });
    if full {
        wake_held();
    }
    held
}

/// A line that waits for a wake-up someone already took (held on this
/// thread or another, or done): it counts towards [`MOST_HELD_LINES`].
pub(super) fn count_line() {
    let full = HELD.with(|held| {
        let mut held = held.borrow_mut();
        if held.worker && !held.writers.is_empty() {
            held.lines += 1;
        }
        held.lines >= MOST_HELD_LINES
    });
    if full {
        wake_held();
    }
}

/// For the runtime's `on_thread_park`: this worker thread has nothing left
/// to run; the writers held for are woken, and from now on this thread holds
/// wake-ups.
pub fn worker_parks() {
    HELD.with(|held| held.borrow_mut().worker = true);
    wake_held();
}

/// For the runtime's `on_thread_stop`: nothing stays held on a thread that ends.
pub fn worker_stops() {
    HELD.with(|held| held.borrow_mut().worker = false);
    wake_held();
}

fn wake_held() {
    let writers = HELD.with(|held| {
        let mut held = held.borrow_mut();
        held.lines = 0;
        std::mem::take(&mut held.writers)
    });
    for shared in writers {
        shared.wake_writer();
    }
}

/// Whether this thread holds wake-ups, and how many it holds (for tests).
#[cfg(test)]
pub(super) fn holding() -> (bool, usize) {
    HELD.with(|held| {
        let held = held.borrow();
        (held.worker, held.writers.len())
    })
}
