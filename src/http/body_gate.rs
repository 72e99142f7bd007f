//! How much of a request's body a connection reads before a handler asks
//! for it. The HTTP engine reads ahead into its own buffers (up to about a
//! quarter of a megabyte per connection) whether or not anyone reads the
//! body; a request waiting for a database connection or for its body
//! buffer would hold that much for as long as it waits, and thousands of
//! such requests hold gigabytes. Until the handler first asks for the body,
//! the connection reads at most [`READ_AHEAD`] bytes of it; the rest waits
//! in the kernel's socket buffer, where TCP holds the client back. Once
//! asked, the body flows at the engine's own pace.

use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Waker;

use futures::task::AtomicWaker;

/// Bytes of a body read before its handler asks for it.
pub(super) const READ_AHEAD: u64 = 16 << 10;

/// Shared between one connection and the handlers of its requests.
#[derive(Debug, Default)]
pub struct BodyGate {
    request: AtomicU64,
    opened: AtomicU64,
    reader: AtomicWaker,
}

impl BodyGate {
    /// The request in progress on the connection, by its number.
    pub fn request(&self) -> u64 {
        self.request.load(Ordering::Acquire)
    }

    /// Lets the body of request `request` flow: its handler asked for it.
    pub fn open(&self, request: u64) {
        if self.opened.fetch_max(request, Ordering::AcqRel) < request {
            self.reader.wake();
        }
    }

    /// Notes that request `request` began on the connection.
    pub(super) fn began(&self, request: u64) {
        self.request.store(request, Ordering::Release);
    }

    /// Whether the body of request `request` may be read past
    /// [`READ_AHEAD`]; if not, `waker` is woken once it may.
    pub(super) fn is_open(&self, request: u64, waker: &Waker) -> bool {
        if self.opened.load(Ordering::Acquire) >= request {
            return true;
        }
        self.reader.register(waker);
        self.opened.load(Ordering::Acquire) >= request
    }
}
