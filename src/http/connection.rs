//! A connection held to the time limits the HTTP engine leaves open: every
//! request head, not only a connection's first, must arrive within the head
//! timeout once it has begun, and a client that stops taking its response
//! for longer than the send timeout loses the connection. What the server
//! writes passes through untouched: the wrapper counts bytes, it never reads
//! or rewrites them, so a file's bytes reach the client exactly as stored.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Sleep, sleep};

/// The interim answer to `Expect: 100-continue`, after which the request's
/// body follows, not a new request.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
/// The end of a request head.
const HEAD_END: &[u8; 4] = b"\r\n\r\n";

/// The time limits of one connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// From a request's first byte to the end of its head.
    pub head: Duration,
    /// How long a response may wait for the client to take more of it.
    pub send: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between requests: the engine's keep-alive timeout applies.
    Idle,
    /// A head has begun; `matched` bytes of its end have been seen.
    Head { matched: usize },
    /// The head is complete: the body and the answer follow.
    Request,
}

/// A connection `IO` held to [`ConnectionLimits`].
pub struct Watched<IO> {
    io: IO,
    limits: ConnectionLimits,
    phase: Phase,
    head_deadline: Option<Pin<Box<Sleep>>>,
    send_deadline: Option<Pin<Box<Sleep>>>,
}

impl<IO> Watched<IO> {
    /// Watches `io`, a connection just accepted.
    pub fn new(io: IO, limits: ConnectionLimits) -> Self {
        Watched {
            io,
            limits,
            phase: Phase::Idle,
            head_deadline: None,
            send_deadline: None,
        }
    }

    /// Follows the request framing through bytes the client sent.
    fn saw_read(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.phase == Phase::Idle {
            self.phase = Phase::Head { matched: 0 };
            self.head_deadline = Some(Box::pin(sleep(self.limits.head)));
        }
        if let Phase::Head { mut matched } = self.phase {
            for byte in bytes {
                matched = match (*byte == HEAD_END[matched], *byte == b'\r') {
                    (true, _) => matched + 1,
                    (false, true) => 1,
                    (false, false) => 0,
                };
                if matched == HEAD_END.len() {
                    self.phase = Phase::Request;
                    self.head_deadline = None;
                    return;
                }
            }
            self.phase = Phase::Head { matched };
        }
    }

    /// Follows the request framing through bytes the server answered.
    fn saw_write(&mut self, bytes: &[u8]) {
        if self.phase == Phase::Request && !bytes.starts_with(CONTINUE) {
            self.phase = Phase::Idle;
        }
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
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.saw_read(&buf.filled()[before..]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                let expired = this
                    .head_deadline
                    .as_mut()
                    .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
                if expired {
                    return Poll::Ready(Err(timed_out("the request head did not arrive in time")));
                }
                Poll::Pending
            }
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
mod tests {
    use super::*;

    fn watched() -> Watched<()> {
        Watched::new(
            (),
            ConnectionLimits {
                head: Duration::from_secs(10),
                send: Duration::from_secs(10),
            },
        )
    }

    #[tokio::test]
    async fn a_head_ends_at_its_empty_line_whatever_the_pieces() {
        let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        for size in 1..head.len() {
            let mut connection = watched();
            for piece in head.chunks(size) {
                assert_ne!(connection.phase, Phase::Request, "pieces of {size}");
                connection.saw_read(piece);
            }
            assert_eq!(connection.phase, Phase::Request, "pieces of {size}");
            assert!(connection.head_deadline.is_none());
        }
    }

    #[tokio::test]
    async fn bytes_that_look_like_a_bare_refusal_are_written_as_they_are() {
        use tokio::io::AsyncWriteExt;
        let limits = ConnectionLimits {
            head: Duration::from_secs(10),
            send: Duration::from_secs(10),
        };
        for piece in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n",
        ] {
            let mut connection = Watched::new(Vec::new(), limits);
            connection.write_all(piece).await.unwrap();
            assert_eq!(connection.io, piece);
        }
    }

    #[tokio::test]
    async fn a_body_is_not_taken_for_a_head_and_an_answer_ends_the_request() {
        let mut connection = watched();
        connection.saw_read(b"PUT /x HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
        connection.saw_write(CONTINUE);
        connection.saw_read(b"\r\n\r\r\n body bytes");
        assert_eq!(connection.phase, Phase::Request);
        connection.saw_write(b"HTTP/1.1 200 OK\r\n");
        assert_eq!(connection.phase, Phase::Idle);
        connection.saw_read(b"G");
        assert_eq!(connection.phase, Phase::Head { matched: 0 });
        assert!(connection.head_deadline.is_some());
    }
}
