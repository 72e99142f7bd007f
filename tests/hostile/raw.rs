//! HTTP/1.1 spoken by hand over a TCP socket, so that a request can be as
//! wrong as a hostile client makes it: bad framing, lying lengths, bodies
//! cut off, heads that never end. Every exchange is bounded in time.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest an exchange may take before the test calls the server hung.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(30);
/// Longest wait for the server to close a connection after an answer that
/// closes it: well under the keep-alive timeout, so that a connection kept
/// open is told apart from one closed.
const CLOSE_LIMIT: Duration = Duration::from_secs(10);

/// Bytes to send, and whether to close the sending half afterwards, as a
/// client does that gives up in the middle of a body.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub bytes: Vec<u8>,
    pub close_write: bool,
}

/// What came back.
#[derive(Debug)]
pub enum Outcome {
    /// A whole response.
    Answer(Answer),
    /// The server closed the connection without a response.
    Closed,
}

/// A response as read off the socket.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The head, lower-cased.
    pub head: String,
    pub body: Vec<u8>,
    /// What arrived after the body, in the same reads.
    pub after: Vec<u8>,
}

impl Answer {
    /// The value of header `name` (lower case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (field, value) = line.split_once(':')?;
            (field.trim() == name).then(|| value.trim())
        })
    }

    /// The body as JSON, if it is some.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// A request with `Host`, `Connection: close` and, unless `headers` frame
/// the body themselves, a `Content-Length` for `body`.
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> RawRequest {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: ferry\r\nConnection: close\r\n");
    let framed = headers.iter().any(|(name, _)| {
        name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
    });
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !framed {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    RawRequest {
        bytes,
        close_write: false,
    }
}

/// A JSON `POST` to `path`.
pub fn post_json(path: &str, body: &str) -> RawRequest {
    request(
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

/// The same request, its sending half closed after the bytes.
pub fn then_close(mut request: RawRequest) -> RawRequest {
    request.close_write = true;
    request
}

/// `body` in HTTP/1.1 chunked framing, in pieces of at most `piece` bytes.
pub fn chunked(body: &[u8], piece: usize) -> Vec<u8> {
    let mut framed = Vec::new();
    for part in body.chunks(piece) {
        framed.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        framed.extend_from_slice(part);
        framed.extend_from_slice(b"\r\n");
    }
    framed.extend_from_slice(b"0\r\n\r\n");
    framed
}

/// Sends `request` to the server at `address` (`http://host:port`) and
/// reads one response, or sees the connection closed; hands the connection
/// back for what follows. Panics if neither happens within
/// [`EXCHANGE_LIMIT`].
pub async fn exchange(address: &str, request: &RawRequest) -> (Outcome, TcpStream) {
    let address = address.trim_start_matches("http://").to_owned();
    let request = request.clone();
    tokio::time::timeout(EXCHANGE_LIMIT, async move {
        let mut stream = TcpStream::connect(&address).await.expect("a connection");
        // The server may answer and close before taking every byte: what it
        // answered is still read below.
        if stream.write_all(&request.bytes).await.is_ok() && request.close_write {
            let _ = stream.shutdown().await;
        }
        (read_outcome(&mut stream).await, stream)
    })
    .await
    .unwrap_or_else(|_| panic!("no answer and no close within {EXCHANGE_LIMIT:?}"))
}

/// Waits until the server closes `stream`, failing if it sends anything
/// more first or keeps the connection open past [`CLOSE_LIMIT`].
pub async fn closed_without_more(stream: &mut TcpStream) -> Result<(), String> {
    let mut piece = [0u8; 4096];
    match tokio::time::timeout(CLOSE_LIMIT, stream.read(&mut piece)).await {
        Ok(Ok(0) | Err(_)) => Ok(()),
        Ok(Ok(read)) => Err(format!(
            "more bytes after the answer: {:?}",
            String::from_utf8_lossy(&piece[..read])
        )),
        Err(_) => Err(format!(
            "the connection stayed open {CLOSE_LIMIT:?} after the answer"
        )),
    }
}

/// Reads one response from `stream`, or sees it closed first.
pub async fn read_outcome(stream: &mut (impl AsyncRead + Unpin)) -> Outcome {
    let mut received = Vec::new();
    let mut piece = vec![0u8; 64 << 10];
    loop {
        if let Some(answer) = complete_answer(&received) {
            return Outcome::Answer(answer);
        }
        match stream.read(&mut piece).await {
            Ok(0) | Err(_) if received.is_empty() => return Outcome::Closed,
            Ok(0) | Err(_) => {
                return Outcome::Answer(
                    finished_by_close(&received)
                        .unwrap_or_else(|| panic!("a cut-off response: {received:?}")),
                );
            }
            Ok(read) => received.extend_from_slice(&piece[..read]),
        }
    }
}

fn split_head(received: &[u8]) -> Option<(u16, String, &[u8])> {
    let end = received.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
    let status = head.get(9..12)?.parse().ok()?;
    Some((status, head, &received[end + 4..]))
}

/// A response whose body is complete by its own framing.
fn complete_answer(received: &[u8]) -> Option<Answer> {
    let (status, head, rest) = split_head(received)?;
    let answer = |(body, after): (Vec<u8>, &[u8])| Answer {
        status,
        head: head.clone(),
        body,
        after: after.to_vec(),
    };
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map(|value| value.trim().parse::<usize>().expect("a length"));
    if let Some(length) = length {
        return (rest.len() >= length).then(|| answer((rest[..length].to_vec(), &rest[length..])));
    }
    if head.contains("transfer-encoding: chunked") {
        return dechunk(rest).map(answer);
    }
    None
}

/// A response without length, ended by the close of the connection.
fn finished_by_close(received: &[u8]) -> Option<Answer> {
    let (status, head, rest) = split_head(received)?;
    Some(Answer {
        status,
        head,
        body: rest.to_vec(),
        after: Vec::new(),
    })
}

/// The body of chunked framing, once its last chunk has arrived, and what
/// follows its end.
fn dechunk(mut framed: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut body = Vec::new();
    loop {
        let line_end = framed.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&framed[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        framed = &framed[line_end + 2..];
        if size == 0 {
            return Some((body, framed.strip_prefix(b"\r\n").unwrap_or(framed)));
        }
        if framed.len() < size + 2 {
            return None;
        }
        body.extend_from_slice(&framed[..size]);
        framed = &framed[size + 2..];
    }
}
