//! Whether this instance should get traffic: it is not stopping, and both
//! stores answer within a short time.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::Uploads;

/// How long each store has to answer a readiness check.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Why an instance should not get traffic now, for a load balancer and a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady(Vec<String>);

impl fmt::Display for NotReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not ready: {}", self.0.join("; "))
    }
}

impl std::error::Error for NotReady {}

impl Uploads {
    /// Answers whether this instance should get traffic: it is not stopping,
    /// and the database and the object store each answer within
    /// [`READY_TIMEOUT`]. Store failures are logged with their cause.
    pub async fn ready(&self) -> Result<(), NotReady> {
        if self.merges.is_stopping() {
            self.metrics.readiness(false);
            return Err(NotReady(vec!["this instance is stopping".to_owned()]));
        }
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
