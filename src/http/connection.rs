//! A connection held to the time limits the HTTP engine leaves open: every
//! request head, not only a connection's first, must arrive within the head
//! timeout once it has begun, and a client that stops taking its response
//! for longer than the send timeout loses the connection. The refusals the
//! engine writes itself, before any route sees the request (a malformed
//! head, a slow first head, a head over its buffer), go out as the
//! contract's JSON errors instead of bare statuses.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use ferry_proto::{ErrorBody, ErrorCode};
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
    /// A JSON answer being written in place of a bare one, and how much of it is out.
    replacement: Option<(Vec<u8>, usize)>,
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
            replacement: None,
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
        if this.replacement.is_none() {
            this.replacement = json_in_place_of(bytes).map(|answer| (answer, 0));
        }
        let Some((answer, mut sent)) = this.replacement.take() else {
            let written = std::task::ready!(this.write_within_limit(cx, bytes))?;
            this.saw_write(&bytes[..written]);
            return Poll::Ready(Ok(written));
        };
        // The engine offers the same bare answer again until it is taken
        // whole: the JSON one goes out in its place, then the bare one
        // counts as written.
        while sent < answer.len() {
            match this.write_within_limit(cx, &answer[sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(written)) => sent += written,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => {
                    this.replacement = Some((answer, sent));
                    return Poll::Pending;
                }
            }
        }
        this.saw_write(bytes);
        Poll::Ready(Ok(bytes.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// The longest bare refusal the engine writes: a status line and three
/// short headers. Anything longer (every write of a body) is passed on
/// without being looked at.
const BARE_REFUSAL_MAX: usize = 1024;

/// The JSON answer to write instead of `bytes`, when they are one whole
/// bodiless refusal of the kind the engine writes itself: 400 for a
/// malformed head, 408 for a first head that came too slowly, 431 for a
/// head over its buffer. The routes' own errors always carry a body.
fn json_in_place_of(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() > BARE_REFUSAL_MAX || !bytes.starts_with(b"HTTP/1.") {
        return None;
    }
    let end = bytes.windows(4).position(|window| window == b"\r\n\r\n")?;
    if end + 4 != bytes.len() {
        return None;
    }
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    if !status_line.starts_with("HTTP/1.") {
        return None;
    }
    let (code, message) = match status_line.get(9..12)? {
        "400" => (
            ErrorCode::InvalidRequest,
            "the request is not well-formed HTTP/1.1",
        ),
        "408" => (
            ErrorCode::RequestTimeout,
            "the request head did not arrive in time",
        ),
        "431" => (
            ErrorCode::HeadersTooLarge,
            "the request head is larger than the server reads",
        ),
        _ => return None,
    };
    if !lines.any(|line| line.eq_ignore_ascii_case("content-length: 0")) {
        return None;
    }
    let body = serde_json::to_vec(&ErrorBody::new(code, message)).ok()?;
    let mut answer = format!(
        "{status_line}\r\ncontent-type: application/json\r\ncache-control: no-store\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    Some(answer)
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

    #[test]
    fn a_bare_refusal_of_the_engine_becomes_a_json_error() {
        let bare = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\ndate: x\r\n\r\n";
        let answer = String::from_utf8(json_in_place_of(bare).unwrap()).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{answer}"
        );
        assert!(
            answer.contains("content-type: application/json\r\n"),
            "{answer}"
        );
        assert!(answer.ends_with(
            r#"{"code":"invalid-request","message":"the request is not well-formed HTTP/1.1"}"#
        ));
    }

    #[test]
    fn an_answer_with_a_body_or_another_status_is_left_alone() {
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert!(json_in_place_of(with_body).is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(json_in_place_of(ok).is_none());
        let two = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\nHTTP/1.1 200 OK\r\n";
        assert!(json_in_place_of(two).is_none());
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
