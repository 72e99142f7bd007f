//! The bytes this instance holds in memory for request bodies on their way
//! to the store: each write draws the buffer it needs (a chunk, or the
//! parts of a bucket's multipart write) from one budget before it reads a
//! byte of its body, and gives it back when it ends. A write that cannot
//! have its buffer within its wait (`FERRY_BUFFER_WAIT`) is refused, to be
//! sent again later; while it waits, its connection has read at most a few
//! KiB of its body.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::{UploadError, UploadResult};
use super::{MemoryBounds, Uploads};

/// When a refused write is told to ask again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The budget of body buffers, in bytes.
#[derive(Clone, Debug)]
pub(super) struct BufferBudget {
    bytes: Arc<Semaphore>,
    total: u32,
    wait: Duration,
}

/// A write's buffer, drawn from the budget until it is dropped.
#[derive(Debug)]
pub(super) struct Buffer {
    _permit: OwnedSemaphorePermit,
}

impl BufferBudget {
    /// The budget `bounds` name (at most 4 GiB), and its wait.
    pub(super) fn new(bounds: &MemoryBounds) -> Self {
        let total = u32::try_from(bounds.body_buffers).unwrap_or(u32::MAX);
        BufferBudget {
            bytes: Arc::new(Semaphore::new(total as usize)),
            total,
            wait: bounds.buffer_wait,
        }
    }

    /// Bytes drawn now.
    pub(super) fn in_use(&self) -> u64 {
        u64::from(self.total) - self.bytes.available_permits() as u64
    }

    /// Draws `bytes` (the whole budget at most, so that a write larger
    /// than the budget still passes alone), waiting up to the budget's wait.
    async fn draw(&self, bytes: u64) -> Option<Buffer> {
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX).min(self.total);
        let drawn = tokio::time::timeout(self.wait, self.bytes.clone().acquire_many_owned(bytes));
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
        match self.buffers.draw(bytes).await {
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
