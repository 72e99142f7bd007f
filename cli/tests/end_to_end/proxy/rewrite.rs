//! Requests rewritten on their way to the server: one string put in place
//! of another wherever it occurs, once each request is whole.

use super::Request;

/// One string put in place of another of the same length.
#[derive(Clone)]
pub(super) struct Replacement {
    from: Vec<u8>,
    to: Vec<u8>,
}

impl Replacement {
    /// `to` in place of `from`; of one length, so that `Content-Length` holds.
    pub(super) fn new(from: &str, to: &str) -> Replacement {
        assert!(!from.is_empty(), "a replacement of nothing");
        assert_eq!(from.len(), to.len(), "a replacement of another length");
        Replacement {
            from: from.as_bytes().to_vec(),
            to: to.as_bytes().to_vec(),
        }
    }

    fn apply(&self, bytes: &[u8]) -> Vec<u8> {
        let mut replaced = Vec::with_capacity(bytes.len());
        let mut rest = bytes;
        while let Some(at) = rest
            .windows(self.from.len())
            .position(|window| window == self.from)
        {
            replaced.extend_from_slice(&rest[..at]);
            replaced.extend_from_slice(&self.to);
            rest = &rest[at + self.from.len()..];
        }
        replaced.extend_from_slice(rest);
        replaced
    }
}

/// Holds back what a client sends until a request is whole (its head and
/// `Content-Length` bytes of body), so that no occurrence is split between
/// reads, and passes each one on with the replacement made.
pub(super) struct Rewriter {
    replacement: Replacement,
    pending: Vec<u8>,
}

impl Rewriter {
    pub(super) fn new(replacement: Replacement) -> Rewriter {
        Rewriter {
            replacement,
            pending: Vec::new(),
        }
    }

    /// The whole requests `bytes` completed, rewritten.
    pub(super) fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(bytes);
        let mut whole = Vec::new();
        while let Some(end) = request_end(&self.pending) {
            whole.extend(self.replacement.apply(&self.pending[..end]));
            self.pending.drain(..end);
        }
        whole
    }
}

/// Where the first request in `bytes` ends, once it is all there.
fn request_end(bytes: &[u8]) -> Option<usize> {
    let head = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let body: usize = Request::parse(&String::from_utf8_lossy(&bytes[..head]))
        .header("content-length")
        .and_then(|length| length.parse().ok())
        .unwrap_or(0);
    let end = head + 4 + body;
    (bytes.len() >= end).then_some(end)
}
