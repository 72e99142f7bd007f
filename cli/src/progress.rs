//! Progress: the byte accounting of a transfer, and the one bar per file
//! that shows it (hashing as its own phase, then bytes, rate and ETA).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

const TEMPLATE: &str = "{prefix:.bold} {msg:>11} [{wide_bar:.cyan/blue}] \
                        {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec:>12} ETA {eta}";

/// Where the bars of a command are drawn: stderr, or nowhere.
pub struct Reporter {
    multi: MultiProgress,
}

impl Reporter {
    /// Bars on stderr when `visible`, else none at all.
    pub fn new(visible: bool) -> Self {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Reporter {
            multi: MultiProgress::with_draw_target(target),
        }
    }

    /// Prints a line on stdout, above the bars.
    pub fn say(&self, line: &str) {
        self.multi.suspend(|| println!("{line}"));
    }

    /// Prints a line on stderr, above the bars.
    pub fn complain(&self, line: &str) {
        self.multi.suspend(|| eprintln!("{line}"));
    }

    /// A new bar for one file, labelled `name`.
    pub fn bar(&self, name: &str) -> FileBar {
        let style = ProgressStyle::with_template(TEMPLATE)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bar = self.multi.add(
            ProgressBar::new(0)
                .with_style(style)
                .with_prefix(name.to_owned()),
        );
        FileBar { bar }
    }
}

/// The bar of one file.
#[derive(Clone)]
pub struct FileBar {
    bar: ProgressBar,
}

impl FileBar {
    /// A bar drawn nowhere, for tests and quiet runs.
    pub fn hidden() -> Self {
        FileBar {
            bar: ProgressBar::hidden(),
        }
    }

    /// Starts a phase (`hashing`, `uploading`, …) over `total` bytes, from `position`.
    pub fn phase(&self, name: &'static str, total: u64, position: u64) {
        self.bar.set_message(name);
        self.bar.set_length(total);
        self.bar.set_position(position);
        self.bar.reset_elapsed();
        self.bar.reset_eta();
    }

    /// Moves the bar forward by `bytes`.
    pub fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    /// Puts the bar at `position`.
    pub fn set_position(&self, position: u64) {
        self.bar.set_position(position);
    }

    /// Removes the bar from the screen.
    pub fn clear(&self) {
        self.bar.finish_and_clear();
    }
}

/// The bytes of one upload: what the server had when the round began, what
/// this run sent and had confirmed, and what is on the wire right now.
pub struct Tally {
    total: u64,
    baseline: AtomicU64,
    confirmed: AtomicU64,
    confirmed_at_baseline: AtomicU64,
    in_flight: AtomicU64,
    bar: FileBar,
}

impl Tally {
    /// Accounting for `total` bytes, shown on `bar`.
    pub fn new(total: u64, bar: FileBar) -> Arc<Self> {
        Arc::new(Tally {
            total,
            baseline: AtomicU64::new(0),
            confirmed: AtomicU64::new(0),
            confirmed_at_baseline: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            bar,
        })
    }

    /// Starts a round from what the server says it holds.
    pub fn rebase(&self, server_bytes: u64) {
        self.baseline.store(server_bytes, Ordering::SeqCst);
        self.confirmed_at_baseline
            .store(self.confirmed.load(Ordering::SeqCst), Ordering::SeqCst);
        self.bar.phase("uploading", self.total, self.position());
    }

    /// Bytes this run sent that the server confirmed, over every round.
    pub fn uploaded(&self) -> u64 {
        self.confirmed.load(Ordering::SeqCst)
    }

    /// Bytes the server had that this run did not send.
    pub fn reused(&self) -> u64 {
        self.total.saturating_sub(self.uploaded())
    }

    /// Where the bar stands: the baseline, plus what was confirmed since,
    /// plus what is on the wire, never beyond the total.
    pub fn position(&self) -> u64 {
        let since = self
            .confirmed
            .load(Ordering::SeqCst)
            .saturating_sub(self.confirmed_at_baseline.load(Ordering::SeqCst));
        self.baseline
            .load(Ordering::SeqCst)
            .saturating_add(since)
            .saturating_add(self.in_flight.load(Ordering::SeqCst))
            .min(self.total)
    }

    /// Opens the accounting of one attempt to send one chunk.
    pub fn attempt(self: &Arc<Self>) -> Attempt {
        Attempt {
            inner: Arc::new(AttemptInner {
                tally: Arc::clone(self),
                sent: AtomicU64::new(0),
                settled: AtomicBool::new(false),
            }),
        }
    }

    fn refresh(&self) {
        self.bar.set_position(self.position());
    }
}

/// One attempt to send one chunk. Its bytes count as in flight until it is
/// confirmed; an attempt dropped unconfirmed (failed, cancelled) gives them back.
#[derive(Clone)]
pub struct Attempt {
    inner: Arc<AttemptInner>,
}

struct AttemptInner {
    tally: Arc<Tally>,
    sent: AtomicU64,
    settled: AtomicBool,
}

impl Attempt {
    /// Counts `bytes` more handed to the connection.
    pub fn sent(&self, bytes: u64) {
        if self.inner.settled.load(Ordering::SeqCst) {
            return;
        }
        self.inner.sent.fetch_add(bytes, Ordering::SeqCst);
        self.inner
            .tally
            .in_flight
            .fetch_add(bytes, Ordering::SeqCst);
        self.inner.tally.refresh();
    }

    /// The server accepted the chunk: its `length` bytes count once as sent.
    pub fn confirm(self, length: u64) {
        self.inner.settled.store(true, Ordering::SeqCst);
        self.inner
            .tally
            .confirmed
            .fetch_add(length, Ordering::SeqCst);
        self.inner.release();
    }
}

impl AttemptInner {
    fn release(&self) {
        let sent = self.sent.swap(0, Ordering::SeqCst);
        self.tally.in_flight.fetch_sub(sent, Ordering::SeqCst);
        self.tally.refresh();
    }
}

impl Drop for AttemptInner {
    fn drop(&mut self) {
        self.settled.store(true, Ordering::SeqCst);
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(total: u64) -> Arc<Tally> {
        Tally::new(total, FileBar::hidden())
    }

    #[test]
    fn a_round_starts_from_what_the_server_holds() {
        let tally = tally(100);
        tally.rebase(40);
        assert_eq!(tally.position(), 40);
        assert_eq!(tally.uploaded(), 0);
        assert_eq!(tally.reused(), 100);
    }

    #[test]
    fn bytes_on_the_wire_move_the_bar_before_they_are_confirmed() {
        let tally = tally(100);
        tally.rebase(40);
        let attempt = tally.attempt();
        attempt.sent(7);
        assert_eq!(tally.position(), 47);
        assert_eq!(tally.uploaded(), 0);
    }

    #[test]
    fn a_position_near_the_limits_of_u64_stays_at_the_total() {
        let tally = tally(100);
        tally.rebase(u64::MAX);
        tally.attempt().sent(u64::MAX);
        assert_eq!(tally.position(), 100);
    }

    #[test]
    fn a_failed_attempt_gives_its_bytes_back() {
        let tally = tally(100);
        tally.rebase(40);
        let attempt = tally.attempt();
        attempt.sent(10);
        drop(attempt);
        assert_eq!(tally.position(), 40);
        assert_eq!(tally.uploaded(), 0);
    }

    #[test]
    fn a_chunk_sent_twice_counts_once() {
        let tally = tally(100);
        tally.rebase(0);
        let first = tally.attempt();
        first.sent(30);
        drop(first);
        let second = tally.attempt();
        second.sent(30);
        second.confirm(30);
        assert_eq!(tally.position(), 30);
        assert_eq!((tally.uploaded(), tally.reused()), (30, 70));
    }

    #[test]
    fn a_clone_held_by_the_body_keeps_the_bytes_until_both_are_gone() {
        let tally = tally(100);
        tally.rebase(0);
        let attempt = tally.attempt();
        let body_side = attempt.clone();
        body_side.sent(20);
        drop(attempt);
        assert_eq!(tally.position(), 20);
        drop(body_side);
        assert_eq!(tally.position(), 0);
    }

    #[test]
    fn bytes_counted_after_confirmation_are_ignored() {
        let tally = tally(100);
        tally.rebase(0);
        let attempt = tally.attempt();
        let body_side = attempt.clone();
        body_side.sent(25);
        attempt.confirm(25);
        body_side.sent(5);
        assert_eq!(tally.position(), 25);
    }

    #[test]
    fn a_new_round_counts_earlier_confirmations_in_the_servers_bytes() {
        let tally = tally(100);
        tally.rebase(10);
        tally.attempt().confirm(30);
        assert_eq!(tally.position(), 40);
        tally.rebase(40);
        assert_eq!(tally.position(), 40);
        tally.attempt().confirm(60);
        assert_eq!(tally.position(), 100);
        assert_eq!((tally.uploaded(), tally.reused()), (90, 10));
    }

    #[test]
    fn the_position_never_passes_the_total() {
        let tally = tally(10);
        tally.rebase(8);
        let attempt = tally.attempt();
        attempt.sent(5);
        assert_eq!(tally.position(), 10);
    }
}
