//! A connection held to the time limits the HTTP engine leaves open: every
//! request head, not only a connection's first, must arrive within the head
//! timeout once it has begun; a body must keep arriving, whether or not a
//! handler reads it, until its declared end; and a client that stops taking
//! its response for longer than the send timeout loses the connection. What
//! the server writes passes through untouched: the wrapper counts bytes, it
//! never reads or rewrites them, so a file's bytes reach the client exactly
//! as stored. Of a body no handler has asked for yet, the connection reads
//! only what its [`BodyGate`] allows.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Sleep, sleep};

use super::body_gate::{BodyGate, READ_AHEAD};
use super::framing::{Framing, Stage};

/// The time limits of one connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// From a request's first byte to the end of its head.
    pub head: Duration,
    /// How long a body may pause while the engine waits for it, whoever
    /// reads it; a backstop behind the handlers' own idle timeout.
    pub body: Duration,
    /// How long a response may wait for the client to take more of it.
    pub send: Duration,
}

/// A connection `IO` held to [`ConnectionLimits`].
pub struct Watched<IO> {
    io: IO,
    limits: ConnectionLimits,
    framing: Framing,
    gate: Arc<BodyGate>,
    head_deadline: Option<Pin<Box<Sleep>>>,
    body_deadline: Option<Pin<Box<Sleep>>>,
    send_deadline: Option<Pin<Box<Sleep>>>,
}

impl<IO> Watched<IO> {
    /// Watches `io`, a connection just accepted.
    pub fn new(io: IO, limits: ConnectionLimits) -> Self {
        Watched {
            io,
            limits,
            framing: Framing::default(),
            gate: Arc::default(),
            head_deadline: None,
            body_deadline: None,
            send_deadline: None,
        }
    }

    /// The gate of this connection's request bodies, for their handlers.
    pub fn gate(&self) -> Arc<BodyGate> {
        self.gate.clone()
    }

    /// Follows the requests through bytes the client sent.
    fn saw_read(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let before = self.framing.stage();
        let begun = self.framing.requests_begun();
        self.framing.read(bytes);
        if self.framing.requests_begun() != begun {
            self.gate.began(self.framing.requests_begun());
        }
        self.body_deadline = None;
        match self.framing.stage() {
            Stage::Head if before != Stage::Head => {
                self.head_deadline = Some(Box::pin(sleep(self.limits.head)));
            }
            Stage::Head => {}
            Stage::Idle | Stage::Body | Stage::Answering => self.head_deadline = None,
        }
    }

    /// Follows the requests through bytes the server answered.
    fn saw_write(&mut self, bytes: &[u8]) {
        self.framing.wrote(bytes);
    }

    /// Whether a deadline of the request in progress has passed, as the
    /// engine waits for more of it.
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        let passed = |deadline: &mut Option<Pin<Box<Sleep>>>, cx: &mut Context<'_>| {
            deadline
                .as_mut()
                .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready())
        };
        if passed(&mut self.head_deadline, cx) {
            return Some(timed_out("the request head did not arrive in time"));
        }
        if self.framing.stage() != Stage::Body {
            self.body_deadline = None;
            return None;
        }
        let body = self.limits.body;
        self.body_deadline
            .get_or_insert_with(|| Box::pin(sleep(body)));
        passed(&mut self.body_deadline, cx).then(|| timed_out("the request body stopped arriving"))
    }
}

impl<IO: AsyncRead + Unpin> Watched<IO> {
    /// How many bytes the next read may take: all it can (`None`), or,
    /// while the body of the request in progress has not been asked for,
    /// what is left of [`READ_AHEAD`].
    fn read_allowance(&mut self, cx: &mut Context<'_>) -> Option<usize> {
        if self.framing.stage() != Stage::Body
            || self.gate.is_open(self.framing.requests_begun(), cx.waker())
        {
            return None;
        }
        let left = READ_AHEAD.saturating_sub(self.framing.body_read());
        Some(usize::try_from(left).unwrap_or(usize::MAX))
    }

    /// Reads at most `allowed` bytes into `buf`.
    fn read_at_most(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
        allowed: usize,
    ) -> Poll<io::Result<()>> {
        let mut room = [0u8; READ_AHEAD as usize];
        let len = allowed.min(buf.remaining()).min(room.len());
        let mut limited = ReadBuf::new(&mut room[..len]);
        let polled = Pin::new(&mut self.io).poll_read(cx, &mut limited);
        buf.put_slice(limited.filled());
        polled
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_owned())
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = match this.read_allowance(cx) {
            None => Pin::new(&mut this.io).poll_read(cx, buf),
            Some(0) => {
                this.body_deadline = None;
                return Poll::Pending;
            }
            Some(allowed) => this.read_at_most(cx, buf, allowed),
        };
        match polled {
            Poll::Ready(Ok(())) => {
                this.saw_read(&buf.filled()[before..]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => match this.expired(cx) {
                Some(error) => Poll::Ready(Err(error)),
                None => Poll::Pending,
            },
        }
    }
}

impl<IO: AsyncWrite + Unpin> Watched<IO> {
    /// Writes to the connection, closing it once the client has taken
    /// nothing for the send timeout.
    fn write_within_limit(
        &mut self,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.io).poll_write(cx, bytes) {
            Poll::Ready(Ok(written)) => {
                self.send_deadline = None;
                Poll::Ready(Ok(written))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                let send = self.limits.send;
                let deadline = self
                    .send_deadline
                    .get_or_insert_with(|| Box::pin(sleep(send)));
                if deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(timed_out("the client stopped taking the response")));
                }
                Poll::Pending
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = std::task::ready!(this.write_within_limit(cx, bytes))?;
        this.saw_write(&bytes[..written]);
        Poll::Ready(Ok(written))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
