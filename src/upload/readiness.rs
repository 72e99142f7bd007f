//! Whether this instance should get traffic: it is not stopping, and both
//! stores answer within a short time. The stores' answer is kept for a
//! moment, so that asking often, or many at once, costs them one check.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::Uploads;

/// How long each store has to answer a readiness check.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the stores' answer stands before they are asked again.
pub const READY_KEPT: Duration = Duration::from_secs(1);

/// Why an instance should not get traffic now, for a load balancer and a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady(Vec<String>);

impl fmt::Display for NotReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not ready: {}", self.0.join("; "))
    }
}

impl std::error::Error for NotReady {}

/// An answer of the stores, and when it was given.
type Answered = (Instant, Result<(), NotReady>);

/// The last answer of the stores; one check runs at a time, and those who
/// ask meanwhile wait for its answer.
#[derive(Debug, Clone, Default)]
pub(super) struct LastCheck(Arc<Mutex<Option<Answered>>>);

impl LastCheck {
    /// The answer given less than `kept` before `now`, or else the answer
    /// of `check`, run once however many ask at the same time.
    async fn answer<F>(&self, now: Instant, kept: Duration, check: F) -> Result<(), NotReady>
    where
        F: Future<Output = Result<(), NotReady>>,
    {
        let mut last = self.0.lock().await;
        if let Some((at, answer)) = last.as_ref()
            && now.saturating_duration_since(*at) < kept
        {
            return answer.clone();
        }
        let answer = check.await;
        *last = Some((Instant::now(), answer.clone()));
        answer
    }
}

impl Uploads {
    /// Answers whether this instance should get traffic: it is not stopping,
    /// and the database and the object store each answered within
    /// [`READY_TIMEOUT`] in the last [`READY_KEPT`]. Store failures are
    /// logged with their cause.
    pub async fn ready(&self) -> Result<(), NotReady> {
        if self.merges.is_stopping() {
            self.metrics.readiness(false);
            return Err(NotReady(vec!["this instance is stopping".to_owned()]));
        }
        self.last_check
            .answer(Instant::now(), READY_KEPT, self.check_stores())
            .await
    }

    async fn check_stores(&self) -> Result<(), NotReady> {
        let (database, objects) = tokio::join!(
            answers("the database", self.meta.ping()),
            answers("the object store", self.blobs.ping()),
        );
        let reasons: Vec<String> = [database, objects].into_iter().flatten().collect();
        self.metrics.readiness(reasons.is_empty());
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(NotReady(reasons))
        }
    }
}

/// `None` when `check` succeeds in time; otherwise what went wrong.
async fn answers<E: fmt::Display>(
    store: &str,
    check: impl Future<Output = Result<(), E>>,
) -> Option<String> {
    match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(())) => None,
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: {store} failed");
            Some(format!("{store} failed"))
        }
        Err(_) => {
            tracing::warn!("readiness: {store} did not answer within {READY_TIMEOUT:?}");
            Some(format!(
                "{store} did not answer within {} s",
                READY_TIMEOUT.as_secs()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A check that counts its runs and answers once `release` lets it.
    async fn counted(runs: &AtomicUsize, release: &tokio::sync::Notify) -> Result<(), NotReady> {
        runs.fetch_add(1, Ordering::SeqCst);
        release.notified().await;
        Ok(())
    }

    #[tokio::test]
    async fn those_who_ask_during_a_check_share_its_answer() {
        let last = LastCheck::default();
        let runs = AtomicUsize::new(0);
        let release = tokio::sync::Notify::new();
        let now = Instant::now();
        let asking = futures::future::join_all(
            (0..20).map(|_| last.answer(now, READY_KEPT, counted(&runs, &release))),
        );
        let answers = tokio::join!(asking, async {
            while runs.load(Ordering::SeqCst) == 0 {
                tokio::task::yield_now().await;
            }
            release.notify_one();
        })
        .0;
        assert!(answers.iter().all(Result::is_ok));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_answer_stands_for_a_moment_then_the_stores_are_asked_again() {
        let last = LastCheck::default();
        let runs = AtomicUsize::new(0);
        let check = || async {
            runs.fetch_add(1, Ordering::SeqCst);
            Err(NotReady(vec!["the database failed".to_owned()]))
        };
        let now = Instant::now();
        let first = last.answer(now, READY_KEPT, check()).await;
        let soon = last.answer(now, READY_KEPT, check()).await;
        assert_eq!(first, soon);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        last.answer(now + READY_KEPT * 2, READY_KEPT, check())
            .await
            .unwrap_err();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
