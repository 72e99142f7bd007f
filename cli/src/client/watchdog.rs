//! Deadlines of transfers that may be slow but must not stall.
//!
//! A chunk upload has two phases. While its body is being pulled into the
//! connection, the pulled count must keep moving. Once the last piece is
//! pulled, nothing visible moves while the kernel's buffer drains over the
//! uplink and the server stores the chunk, so the answer gets a deadline of
//! its own, sized for the slowest uplink worth serving.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use reqwest::Response;

use super::ClientError;
use super::error::network;

/// Longest time a transfer may make no progress before it is given up.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Wait for the answer to a chunk beyond the time its bytes take on the slowest uplink.
const ANSWER_BASE: Duration = Duration::from_secs(60);
/// The slowest uplink a whole chunk is given time to drain over, in bytes a second.
const SLOWEST_UPLINK: u64 = 64 << 10;

/// How long an upload may stall, and then wait for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Patience {
    /// Longest time the pulled count may stay put while the body is pulled.
    pub(super) stall: Duration,
    /// Longest wait for the answer once the whole body is pulled.
    pub(super) answer: Duration,
}

impl Patience {
    /// The patience for a chunk of `length` bytes.
    pub(super) fn for_chunk(length: u64) -> Self {
        Patience {
            stall: STALL_TIMEOUT,
            answer: answer_timeout(length),
        }
    }
}

/// The wait for the answer to a chunk of `length` bytes once all of it was
/// handed over: 60 s plus its time on a 64 KiB/s uplink (it may all still sit
/// in the kernel's send buffer).
pub(super) fn answer_timeout(length: u64) -> Duration {
    let draining = Duration::from_millis(length.saturating_mul(1000) / SLOWEST_UPLINK);
    ANSWER_BASE.saturating_add(draining)
}

/// Waits for `request`, whose body of `length` bytes is pulled as `pulled`
/// counts. While the body is being pulled, it is given up once `pulled`
/// stays put for `patience.stall`; once the body is all pulled (as seen at
/// the next check), the answer gets `patience.answer` more.
pub(super) async fn watch<T>(
    request: impl Future<Output = T>,
    pulled: &AtomicU64,
    length: u64,
    patience: Patience,
) -> Result<T, ClientError> {
    tokio::pin!(request);
    let mut seen = pulled.load(Ordering::SeqCst);
    while seen < length {
        tokio::select! {
            answer = &mut request => return Ok(answer),
            () = tokio::time::sleep(patience.stall) => {
                let now = pulled.load(Ordering::SeqCst);
                if now == seen {
                    return Err(ClientError::Network(format!(
                        "the upload made no progress for {:?}",
                        patience.stall
                    )));
                }
                seen = now;
            }
        }
    }
    tokio::time::timeout(patience.answer, request)
        .await
        .map_err(|_| {
            ClientError::Network(format!(
                "no answer within {:?} after the whole body was sent",
                patience.answer
            ))
        })
}

/// Reads the next piece of a body, giving up after [`STALL_TIMEOUT`] without one.
pub async fn next_piece(response: &mut Response) -> Result<Option<Bytes>, ClientError> {
    match tokio::time::timeout(STALL_TIMEOUT, response.chunk()).await {
        Ok(piece) => piece.map_err(network),
        Err(_) => Err(ClientError::Network(format!(
            "no data for {STALL_TIMEOUT:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const SHORT: Patience = Patience {
        stall: Duration::from_millis(150),
        answer: Duration::from_millis(500),
    };

    async fn answer_after(wait: Duration) -> u8 {
        tokio::time::sleep(wait).await;
        7
    }

    #[test]
    fn the_answer_may_take_a_minute_plus_the_chunk_at_64_kib_a_second() {
        assert_eq!(answer_timeout(0), Duration::from_secs(60));
        assert_eq!(answer_timeout(8 << 20), Duration::from_secs(60 + 128));
        assert!(answer_timeout(u64::MAX) > Duration::from_secs(1 << 30));
    }

    #[tokio::test]
    async fn a_body_handed_over_whole_may_wait_past_the_stall_timeout_for_its_answer() {
        let pulled = AtomicU64::new(10);
        let answer = watch(answer_after(Duration::from_millis(300)), &pulled, 10, SHORT).await;
        assert_eq!(answer.ok(), Some(7));
    }

    #[tokio::test]
    async fn a_body_that_stops_being_pulled_is_a_stall() {
        let pulled = AtomicU64::new(3);
        let answer = watch(std::future::pending::<u8>(), &pulled, 10, SHORT).await;
        let error = answer.expect_err("a stall");
        assert!(error.to_string().contains("no progress"), "{error}");
    }

    #[tokio::test]
    async fn an_answer_that_never_comes_after_the_body_is_given_up() {
        let pulled = AtomicU64::new(10);
        let started = std::time::Instant::now();
        let answer = watch(std::future::pending::<u8>(), &pulled, 10, SHORT).await;
        let error = answer.expect_err("no answer");
        assert!(error.to_string().contains("no answer"), "{error}");
        assert!(started.elapsed() >= SHORT.answer);
    }

    #[tokio::test]
    async fn a_body_pulled_slowly_then_answered_late_is_not_a_stall() {
        let pulled = Arc::new(AtomicU64::new(0));
        let feeder = Arc::clone(&pulled);
        tokio::spawn(async move {
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(40)).await;
                feeder.fetch_add(1, Ordering::SeqCst);
            }
        });
        let answer = watch(answer_after(Duration::from_millis(700)), &pulled, 10, SHORT).await;
        assert_eq!(answer.ok(), Some(7));
    }
}
