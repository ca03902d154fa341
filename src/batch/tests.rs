use std::sync::mpsc;

use super::*;

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Batch(String),
    Reopen,
}

/// Reports each batch and reopen on a channel; fails when `fail` is set;
/// with a gate, each write then waits for a permit before it returns.
struct Probe {
    seen: mpsc::Sender<Seen>,
    fail: bool,
    gate: Option<mpsc::Receiver<()>>,
}

impl Sink for Probe {
    fn write_batch(&mut self, bytes: &[u8]) -> io::Result<()> {
        let _ = self.seen.send(Seen::Batch(String::from_utf8_lossy(bytes).into_owned()));
        if let Some(gate) = &self.gate {
            let _ = gate.recv();
        }
        if self.fail {
            Err(io::Error::other("disk on fire"))
        } else {
            Ok(())
        }
    }

    fn reopen(&mut self) {
        let _ = self.seen.send(Seen::Reopen);
    }
}

const WAIT: Duration = Duration::from_secs(10);

/// Until `ready` holds (polled, yielding), at most `WAIT`.
fn until(what: &str, ready: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !ready() {
        assert!(start.elapsed() < WAIT, "not {what} after {WAIT:?}");
        std::thread::yield_now();
    }
}

/// Until the writer waits for work: a line appended after this is one it has to be woken for.
fn idle(lines: &Lines) {
    until("idle", || lines.writer_state().0);
}

/// The batch's outcome, failing the test rather than hanging it.
async fn outcome(batch: Arc<Batch>) -> bool {
    tokio::time::timeout(WAIT, batch.written()).await.expect("the batch is settled in time")
}

fn limits(linger: Duration) -> Limits {
    Limits { capacity: 1024, high_water: 512, linger }
}

fn probe(fail: bool, gate: Option<mpsc::Receiver<()>>, limits: Limits) -> (Lines, Writer, mpsc::Receiver<Seen>) {
    let (tx, rx) = mpsc::channel();
    let (lines, writer) = spawn("batch-test", Probe { seen: tx, fail, gate }, limits, |_| {}).unwrap();
    (lines, writer, rx)
}

fn batches(rx: &mpsc::Receiver<Seen>) -> Vec<String> {
    rx.try_iter()
        .filter_map(|s| match s {
            Seen::Batch(b) => Some(b),
            Seen::Reopen => None,
        })
        .collect()
}

#[tokio::test]
async fn a_waited_for_line_is_written_before_its_batch_says_so() {
    let (lines, _writer, rx) = probe(false, None, limits(Duration::from_secs(3600)));
    idle(&lines);
    let batch = lines.append(b"one\n", Urgency::Now).unwrap();
    assert!(outcome(batch).await);
    assert_eq!(rx.try_recv().unwrap(), Seen::Batch("one\n".into()));
}

#[tokio::test]
async fn lingering_lines_wait_for_company_and_go_in_one_write() {
    // An hour of linger: the writer never looks on its own during the test.
    let (lines, _writer, rx) = probe(false, None, limits(Duration::from_secs(3600)));
    idle(&lines);
    for n in 0..5 {
        lines.append(format!("l{n}\n").as_bytes(), Urgency::Linger).unwrap();
    }
    let batch = lines.append(b"now\n", Urgency::Now).unwrap();
    assert!(outcome(batch).await);
    assert_eq!(batches(&rx), vec!["l0\nl1\nl2\nl3\nl4\nnow\n".to_owned()]);
}

#[test]
fn lingering_lines_get_out_on_their_own() {
    let (lines, _writer, rx) = probe(false, None, limits(Duration::from_millis(20)));
    idle(&lines);
    lines.append(b"alone\n", Urgency::Linger).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), Seen::Batch("alone\n".into()));
}

#[test]
fn an_idle_writer_stops_looking_and_an_append_wakes_it() {
    let (lines, _writer, rx) = probe(false, None, limits(Duration::from_millis(1)));
    // A hundred empty looks a millisecond apart, then no more ticks.
    until("asleep", || lines.writer_state() == (true, true));
    lines.append(b"after a quiet spell\n", Urgency::Linger).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), Seen::Batch("after a quiet spell\n".into()));
}

#[test]
fn passing_the_high_water_mark_wakes_the_writer() {
    let (lines, _writer, rx) = probe(false, None, limits(Duration::from_secs(3600)));
    idle(&lines);
    let big = vec![b'x'; 600];
    lines.append(&big, Urgency::Linger).unwrap();
    let Seen::Batch(got) = rx.recv_timeout(WAIT).unwrap() else { panic!("a batch first") };
    assert_eq!(got.len(), 600);
}

#[tokio::test]
async fn a_failed_write_fails_every_line_of_its_batch_and_is_reported() {
    let (tx, rx) = mpsc::channel();
    let errors = Arc::new(AtomicU64::new(0));
    let (lines, _writer) =
        spawn("batch-test", Probe { seen: tx, fail: true, gate: None }, limits(Duration::from_secs(3600)), {
            let errors = errors.clone();
            move |e| {
                assert_eq!(e.to_string(), "disk on fire");
                errors.fetch_add(1, Ordering::Relaxed);
            }
        })
        .unwrap();
    let a = lines.append(b"a\n", Urgency::Linger).unwrap();
    let b = lines.append(b"b\n", Urgency::Now).unwrap();
    assert!(!b.written().await);
    assert!(!a.written().await, "the lingering line shared the failed batch");
    assert_eq!(errors.load(Ordering::Relaxed), 1);
    assert_eq!(batches(&rx), vec!["a\nb\n".to_owned()]);
}

#[tokio::test]
async fn a_full_buffer_refuses_then_takes_the_line_once_there_is_room() {
    let (permit, gate) = mpsc::channel();
    let (lines, _writer, rx) = probe(false, Some(gate), limits(Duration::from_secs(3600)));
    // The first batch is taken and held in its write: the writer is busy and cannot make room.
    let first = lines.append(b"first\n", Urgency::Now).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), Seen::Batch("first\n".into()));
    lines.append(&[b'y'; 1000], Urgency::Linger).unwrap_or_else(|e| panic!("room for 1000 bytes: {e}"));
    assert_eq!(lines.append(&[b'z'; 100], Urgency::Linger).err(), Some(Refused::Full));
    assert!(
        lines.append_waiting(&[b'z'; 100], Urgency::Linger, Duration::from_millis(1)).await.is_err(),
        "no room came in time"
    );
    assert_eq!(lines.refused(), 2, "each given-up append counted once");
    // This one waits for room: it comes when the writer takes the 1000 bytes.
    let waiting = tokio::spawn({
        let lines = lines.clone();
        async move { lines.append_waiting(&[b'z'; 100], Urgency::Now, WAIT).await }
    });
    // One turn of this (single-threaded) runtime: the task tries, finds no room and waits.
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished(), "it waits while the writer is held");
    for _ in 0..3 {
        permit.send(()).unwrap();
    }
    assert!(outcome(first).await);
    let late = tokio::time::timeout(WAIT, waiting).await.unwrap().unwrap().unwrap();
    assert!(outcome(late).await);
    let rest = batches(&rx).concat();
    assert_eq!(rest, format!("{}{}", "y".repeat(1000), "z".repeat(100)));
    assert_eq!(lines.refused(), 2);
}

#[test]
fn a_writer_that_dies_fails_its_batch_and_closes_the_buffer() {
    struct Panics;
    impl Sink for Panics {
        fn write_batch(&mut self, _: &[u8]) -> io::Result<()> {
            panic!("the sink broke (this panic is the test)");
        }
    }
    let (lines, writer) = spawn("batch-test", Panics, limits(Duration::from_secs(3600)), |_| {}).unwrap();
    let batch = lines.append(b"doomed\n", Urgency::Now).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    assert!(!runtime.block_on(outcome(batch)), "failed, not left waiting");
    assert!(writer.join_within(WAIT));
    assert_eq!(lines.append(b"later\n", Urgency::Now).err(), Some(Refused::Closed));
}

#[tokio::test]
async fn flush_waits_for_what_was_appended_before() {
    let (lines, _writer, rx) = probe(false, None, limits(Duration::from_secs(3600)));
    lines.append(b"x\n", Urgency::Linger).unwrap();
    assert!(outcome(lines.flush().unwrap()).await);
    assert_eq!(batches(&rx), vec!["x\n".to_owned()]);
    // Nothing pending: a flush still completes.
    assert!(outcome(lines.flush().unwrap()).await);
}

#[tokio::test]
async fn reopen_comes_after_the_lines_before_it() {
    let (lines, _writer, rx) = probe(false, None, limits(Duration::from_secs(3600)));
    lines.append(b"old\n", Urgency::Linger).unwrap();
    assert!(outcome(lines.reopen().unwrap()).await);
    // Reopened by the time the reopen is acknowledged.
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![Seen::Batch("old\n".into()), Seen::Reopen]);
    let after = lines.append(b"new\n", Urgency::Now).unwrap();
    assert!(outcome(after).await);
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![Seen::Batch("new\n".into())]);
}

#[test]
fn dropping_the_last_handle_writes_what_is_pending_and_ends_the_writer() {
    let (lines, writer, rx) = probe(false, None, limits(Duration::from_secs(3600)));
    let clone = lines.clone();
    lines.append(b"a\n", Urgency::Linger).unwrap();
    drop(lines);
    clone.append(b"b\n", Urgency::Linger).unwrap();
    drop(clone);
    assert!(writer.join_within(WAIT));
    assert_eq!(batches(&rx).concat(), "a\nb\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_appenders_all_get_their_lines_written_whole_and_once() {
    let (tx, rx) = mpsc::channel();
    let big = Limits { capacity: 1 << 20, high_water: 1 << 16, linger: Duration::from_millis(5) };
    let (lines, writer) = spawn("batch-test", Probe { seen: tx, fail: false, gate: None }, big, |_| {}).unwrap();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let lines = lines.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..200 {
                let urgency = if n % 2 == 0 { Urgency::Now } else { Urgency::Linger };
                let batch = lines.append(format!("{t}:{n}\n").as_bytes(), urgency).unwrap();
                if urgency == Urgency::Now {
                    assert!(outcome(batch).await);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    drop(lines);
    assert!(writer.join_within(WAIT));
    let text = batches(&rx).concat();
    let mut got: Vec<&str> = text.lines().collect();
    assert_eq!(got.len(), 1600);
    got.sort_unstable();
    got.dedup();
    assert_eq!(got.len(), 1600, "no line twice");
    // Each task's lines keep their order.
    for t in 0..8 {
        let mine: Vec<u32> =
            text.lines().filter_map(|l| l.strip_prefix(&format!("{t}:"))).map(|n| n.parse().unwrap()).collect();
        assert_eq!(mine, (0..200).collect::<Vec<_>>());
    }
}

#[test]
fn a_waiting_writer_is_woken_once_until_it_waits_again() {
    let mut p = Pending {
        bytes: Vec::new(),
        batch: Batch::new(),
        urgent: true,
        reopen: false,
        writer_idle: true,
        writer_asleep: false,
        wake_held: false,
        held_lines: 0,
        closed: false,
    };
    assert!(p.take_wake(), "the first append wakes a waiting writer");
    assert!(!p.take_wake(), "later appends leave the woken writer alone");
    assert!(!p.writer_idle);
    // What `take` does when it waits again.
    p.writer_idle = true;
    assert!(p.take_wake());
}

#[tokio::test]
async fn appends_while_the_writer_is_being_woken_all_go_out() {
    let (lines, _writer, seen) = probe(false, None, limits(Duration::from_secs(60)));
    idle(&lines);
    // A burst of waited-for lines: only the first one wakes the writer, and
    // every one of them is still written and acknowledged.
    let waited: Vec<_> = (0..50).map(|i| lines.append(format!("n{i}\n").as_bytes(), Urgency::Now).unwrap()).collect();
    for batch in waited {
        assert!(outcome(batch).await);
    }
    let written: String = batches(&seen).concat();
    let expected: String = (0..50).map(|i| format!("n{i}\n")).collect();
    assert_eq!(written, expected);
}

/// Runs `test` on a thread of its own: what it makes the thread hold stays there.
fn on_own_thread(test: impl FnOnce() + Send + 'static) {
    std::thread::spawn(test).join().expect("the test thread passed");
}

#[test]
fn a_worker_thread_holds_the_wake_up_until_it_parks() {
    on_own_thread(|| {
        let (lines, _writer, rx) = probe(false, None, limits(Duration::from_secs(3600)));
        idle(&lines);
        held::worker_parks();
        let batch = lines.append(b"first\n", Urgency::Now).unwrap();
        lines.append(b"second\n", Urgency::Now).unwrap();
        assert_eq!(lines.wakes(), 0, "held, not woken");
        assert_eq!(held::holding(), (true, 1), "one wake-up held for both lines");
        held::worker_parks();
        assert_eq!(lines.wakes(), 1);
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), Seen::Batch("first\nsecond\n".into()));
        until("settled", || batch.settled.load(Ordering::Acquire));
        assert!(batch.written.load(Ordering::Acquire));
        assert_eq!(held::holding(), (true, 0));
    });
}

#[test]
fn a_worker_that_never_parks_wakes_its_writer_once_it_holds_enough_lines() {
    on_own_thread(|| {
        let (lines, _writer, rx) = probe(false, None, limits(Duration::from_secs(3600)));
        idle(&lines);
        held::worker_parks();
        for n in 0..held::MOST_HELD_LINES - 1 {
            lines.append(format!("{n}\n").as_bytes(), Urgency::Now).unwrap();
        }
        assert_eq!(lines.wakes(), 0);
        lines.append(b"last\n", Urgency::Now).unwrap();
        assert_eq!(lines.wakes(), 1, "woken by the line that filled the hold");
        let mut expected: String = (0..held::MOST_HELD_LINES - 1).map(|n| format!("{n}\n")).collect();
        expected.push_str("last\n");
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), Seen::Batch(expected));
        // The wake-up still on this thread's list is not due any more.
        held::worker_parks();
        assert_eq!(lines.wakes(), 1);
    });
}

#[test]
fn lines_from_other_threads_count_towards_the_held_wake_up() {
    let (lines, _writer, rx) = probe(false, None, limits(Duration::from_secs(3600)));
    idle(&lines);
    let holder = lines.clone();
    on_own_thread(move || {
        held::worker_parks();
        holder.append(b"held\n", Urgency::Now).unwrap();
        // This worker goes on with other work and does not park.
        assert_eq!((holder.wakes(), held::holding()), (0, (true, 1)));
    });
    for n in 1..held::MOST_HELD_LINES {
        assert_eq!(lines.wakes(), 0, "line {n}");
        lines.append(format!("{n}\n").as_bytes(), Urgency::Now).unwrap();
    }
    assert_eq!(lines.wakes(), 1, "the line that made the count woke the writer");
    let Seen::Batch(got) = rx.recv_timeout(WAIT).unwrap() else { panic!("a batch first") };
    assert_eq!(got.lines().count(), held::MOST_HELD_LINES);
}

/// A buffer whose writer naps for `linger`, and on this thread, now a
/// worker, a waited-for line "held" whose wake-up it holds.
fn one_held_line(linger: Duration) -> (Lines, Writer, mpsc::Receiver<Seen>) {
    let (lines, writer, rx) = probe(false, None, limits(linger));
    idle(&lines);
    held::worker_parks();
    lines.append(b"held\n", Urgency::Now).unwrap();
    assert_eq!(lines.wakes(), 0);
    (lines, writer, rx)
}

#[test]
fn a_flush_does_not_wait_for_a_held_wake_up() {
    on_own_thread(|| {
        let (lines, _writer, rx) = one_held_line(Duration::from_secs(3600));
        let flushed = lines.flush().unwrap();
        assert_eq!(lines.wakes(), 1, "the flush woke the writer");
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), Seen::Batch("held\n".into()));
        until("flushed", || flushed.settled.load(Ordering::Acquire));
    });
}

#[test]
fn a_held_line_still_goes_out_within_linger() {
    on_own_thread(|| {
        let (lines, _writer, rx) = one_held_line(Duration::from_millis(20));
        // This thread neither parks again nor appends: the napping writer finds the line itself.
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), Seen::Batch("held\n".into()));
        assert_eq!(lines.wakes(), 0);
    });
}

#[test]
fn an_asleep_writer_is_woken_at_once_even_from_a_worker() {
    on_own_thread(|| {
        let (lines, _writer, rx) = probe(false, None, limits(Duration::from_millis(1)));
        until("asleep", || lines.writer_state() == (true, true));
        held::worker_parks();
        lines.append(b"after a quiet spell\n", Urgency::Now).unwrap();
        assert_eq!((lines.wakes(), held::holding()), (1, (true, 0)));
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), Seen::Batch("after a quiet spell\n".into()));
    });
}

#[test]
fn threads_that_never_parked_as_workers_wake_at_once_and_a_stopping_worker_lets_go() {
    on_own_thread(|| {
        let (lines, _writer, rx) = probe(false, None, limits(Duration::from_secs(3600)));
        idle(&lines);
        lines.append(b"not a worker\n", Urgency::Now).unwrap();
        assert_eq!((lines.wakes(), held::holding()), (1, (false, 0)));
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), Seen::Batch("not a worker\n".into()));

        idle(&lines);
        held::worker_parks();
        lines.append(b"held at the stop\n", Urgency::Now).unwrap();
        assert_eq!(lines.wakes(), 1);
        held::worker_stops();
        assert_eq!((lines.wakes(), held::holding()), (2, (false, 0)));
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), Seen::Batch("held at the stop\n".into()));
    });
}

#[test]
fn on_a_runtime_that_calls_worker_parks_a_task_s_line_is_held_then_written_when_the_worker_idles() {
    let parks = Arc::new(AtomicU64::new(0));
    let counted = parks.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .on_thread_park(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            worker_parks();
        })
        .on_thread_stop(worker_stops)
        .enable_all()
        .build()
        .unwrap();
    // An hour of linger: only a wake-up gets the line out within the test.
    let (lines, _writer, rx) = probe(false, None, limits(Duration::from_secs(3600)));
    idle(&lines);
    until("the worker parked once", || parks.load(Ordering::SeqCst) > 0);
    let task = runtime.spawn({
        let lines = lines.clone();
        async move {
            let batch = lines.append(b"from a task\n", Urgency::Now).unwrap();
            let held = lines.wakes();
            (held, outcome(batch).await)
        }
    });
    let (wakes_right_after_the_append, written) = runtime.block_on(task).unwrap();
    assert_eq!(wakes_right_after_the_append, 0, "the append held the wake-up");
    assert!(written, "the worker woke the writer when it ran out of work");
    assert_eq!(lines.wakes(), 1);
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), Seen::Batch("from a task\n".into()));
}
