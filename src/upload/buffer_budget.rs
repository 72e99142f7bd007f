//! The bytes this instance holds in memory for request bodies on their way
//! to the store: each write draws the buffer it needs (a chunk, or the
//! parts of a bucket's multipart write) from one budget before it reads a
//! byte of its body, and gives it back when it ends. A write that cannot
//! have its buffer within a short wait is refused, to be sent again later.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Uploads;
use super::error::{UploadError, UploadResult};

/// How long a write waits for its buffer before it is refused.
const BUFFER_WAIT: Duration = Duration::from_secs(10);

/// When a refused write is told to ask again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The budget of body buffers, in bytes.
#[derive(Clone, Debug)]
pub(super) struct BufferBudget {
    bytes: Arc<Semaphore>,
    total: u32,
}

/// A write's buffer, drawn from the budget until it is dropped.
#[derive(Debug)]
pub(super) struct Buffer {
    _permit: OwnedSemaphorePermit,
}

impl BufferBudget {
    /// A budget of `total` bytes (at most 4 GiB).
    pub(super) fn new(total: u64) -> Self {
        let total = u32::try_from(total).unwrap_or(u32::MAX);
        BufferBudget {
            bytes: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    /// Bytes drawn now.
    pub(super) fn in_use(&self) -> u64 {
        u64::from(self.total) - self.bytes.available_permits() as u64
    }

    /// Draws `bytes` (the whole budget at most, so that a write larger
    /// than the budget still passes alone), waiting up to `wait`.
    async fn draw(&self, bytes: u64, wait: Duration) -> Option<Buffer> {
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX).min(self.total);
        let drawn = tokio::time::timeout(wait, self.bytes.clone().acquire_many_owned(bytes));
        match drawn.await {
            Ok(Ok(permit)) => Some(Buffer { _permit: permit }),
            Ok(Err(_)) | Err(_) => None,
        }
    }
}

impl Uploads {
    /// Bytes of body buffers in use now.
    pub fn body_buffers_in_use(&self) -> u64 {
        self.buffers.in_use()
    }

    /// The buffer of a write of at most `limit` bytes to the store, its
    /// bytes kept or not, or the refusal to answer when the budget stays
    /// spent.
    pub(super) async fn write_buffer(&self, limit: u64, keep: bool) -> UploadResult<Buffer> {
        let bytes = self.blobs.write_buffer(limit, keep);
        match self.buffers.draw(bytes, BUFFER_WAIT).await {
            Some(buffer) => Ok(buffer),
            None => {
                self.metrics.buffer_refused();
                tracing::info!(bytes, "write refused: the body buffers are all in use");
                Err(UploadError::Busy {
                    retry_after: RETRY_AFTER,
                })
            }
        }
    }
}
