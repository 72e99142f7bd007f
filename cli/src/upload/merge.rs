//! Waiting out the merge: `complete` until the server publishes the file,
//! backing off while it answers 202, and giving up at a deadline sized for
//! the file, since a merge that keeps failing on the server would otherwise
//! be waited for forever.

use std::time::{Duration, Instant};

use crate::client::{COMPLETE_TIMEOUT, Client, Completion};
use crate::error::CliError;
use crate::retry::RetryPolicy;
use ferry_proto::{ErrorCode, Upload};

/// Pauses between `complete` calls while the server answers 202: 1 s,
/// doubling, at most 10 s (only the ceiling of the policy is used).
const PENDING_PAUSES: RetryPolicy = RetryPolicy {
    base: Duration::from_secs(1),
    factor: 2,
    cap: Duration::from_secs(10),
    max_attempts: u32::MAX,
};
/// Shortest wait for a merge to be published.
const MIN_MERGE_PATIENCE: Duration = Duration::from_secs(10 * 60);
/// The slowest merge waited for, in bytes a second.
const SLOWEST_MERGE: u64 = 20 << 20;

/// How completing ended.
pub(super) enum Finished {
    /// Published.
    Published(Box<Upload>),
    /// The server lacks chunks, or the session: start a new round.
    Resend,
}

/// Completes the session and waits out a merge that outlasts one call:
/// while the server answers 202, asks again after growing pauses, and gives
/// up (exit 4) once `patience` is spent. A call still running at the
/// deadline is let finish, for at most [`COMPLETE_TIMEOUT`] more.
pub(super) async fn finish(
    client: &Client,
    sha256: &str,
    patience: Duration,
) -> Result<Finished, CliError> {
    let started = Instant::now();
    let last_call = started + patience + COMPLETE_TIMEOUT;
    let mut pending = 0;
    loop {
        let call = client.retrying(|| client.complete(sha256));
        let Ok(answer) = tokio::time::timeout_at(last_call.into(), call).await else {
            return Err(still_merging(sha256, started.elapsed()));
        };
        match answer {
            Ok(Completion::Done(upload)) => return Ok(Finished::Published(Box::new(upload))),
            Ok(Completion::Pending(_)) => {
                pending += 1;
                match next_poll(pending, started.elapsed(), patience) {
                    Some(pause) => tokio::time::sleep(pause).await,
                    None => return Err(still_merging(sha256, started.elapsed())),
                }
            }
            Err(error) => {
                return match error.code() {
                    Some(ErrorCode::ChunksMissing | ErrorCode::UploadNotFound) => {
                        Ok(Finished::Resend)
                    }
                    Some(ErrorCode::HashMismatch) => Err(CliError::Integrity(format!(
                        "the server's merge of the chunks does not hash to {sha256}: \
                         the file changed during the upload; run the command again"
                    ))),
                    _ => Err(error.into()),
                };
            }
        }
    }
}

/// How long to wait for the merge of a `size`-byte file: 10 minutes, or its
/// time at 20 MiB/s when that is longer.
pub(super) fn merge_patience(size: u64) -> Duration {
    MIN_MERGE_PATIENCE.max(Duration::from_secs(size / SLOWEST_MERGE))
}

/// The pause before asking `complete` again after `pending` answers of 202,
/// `waited` into a wait of at most `patience`; `None` once it is spent. The
/// last pause ends at the deadline, so that the last question is asked there.
fn next_poll(pending: u32, waited: Duration, patience: Duration) -> Option<Duration> {
    let left = patience
        .checked_sub(waited)
        .filter(|left| !left.is_zero())?;
    Some(PENDING_PAUSES.ceiling(pending).min(left))
}

/// The failure of a merge that outlasted the wait, in one line.
fn still_merging(sha256: &str, waited: Duration) -> CliError {
    CliError::GaveUp(format!(
        "the server was still merging {sha256} after {}s; it goes on without this command: \
         check later with `ferry status {sha256}`, or run the command again",
        waited.as_secs()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stub::{Reply, Stub};

    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn a_merge_is_waited_for_ten_minutes_or_its_time_at_20_mib_a_second() {
        assert_eq!(merge_patience(0), Duration::from_secs(600));
        assert_eq!(merge_patience(10 << 30), Duration::from_secs(600));
        assert_eq!(merge_patience(20 << 30), Duration::from_secs(1024));
        assert_eq!(
            merge_patience(u64::MAX),
            Duration::from_secs(u64::MAX / (20 << 20))
        );
    }

    #[test]
    fn polls_of_a_pending_merge_back_off_from_one_second_to_ten() {
        let patience = Duration::from_secs(600);
        let pauses: Vec<u64> = (1..=7)
            .map(|pending| next_poll(pending, Duration::ZERO, patience).map(|p| p.as_secs()))
            .map(|pause| pause.expect("time is left"))
            .collect();
        assert_eq!(pauses, [1, 2, 4, 8, 10, 10, 10]);
    }

    #[test]
    fn the_last_pause_ends_at_the_deadline_and_then_polling_stops() {
        let patience = Duration::from_secs(600);
        let at = |secs| Duration::from_secs(secs);
        assert_eq!(next_poll(9, at(597), patience), Some(at(3)));
        assert_eq!(next_poll(9, at(600), patience), None);
        assert_eq!(next_poll(9, at(9_999), patience), None);
    }

    #[tokio::test]
    async fn a_merge_that_stays_pending_is_given_up_at_the_deadline() {
        let merging = serde_json::json!({
            "sha256": SHA, "size": 10, "chunk_size": 10, "chunk_count": 1,
            "status": "merging", "received_chunks": [[0, 0]], "received_bytes": 10,
            "filename": null, "content_type": null,
            "expires_at": "2026-11-22T22:00:00Z", "file": null
        })
        .to_string();
        let stub = Stub::start(move |_| {
            Reply::new(
                "202 Accepted",
                &[("content-type", "application/json")],
                merging.as_bytes(),
            )
        })
        .await;
        let client = Client::new(&stub.url, RetryPolicy::default()).expect("client");
        let patience = Duration::from_millis(1_500);
        let started = Instant::now();

        let outcome = finish(&client, SHA, patience).await;

        let waited = started.elapsed();
        let Err(error) = outcome else {
            panic!("a merge that never ends is not waited for forever");
        };
        assert_eq!(error.status(), 4);
        let line = error.to_string();
        assert!(
            line.contains(&format!("ferry status {SHA}")) && !line.contains('\n'),
            "{line}"
        );
        assert!(waited >= patience && waited < patience + Duration::from_secs(2));
        let asked = stub.heads().len();
        assert!((2..=4).contains(&asked), "complete asked {asked} times");
    }
}
