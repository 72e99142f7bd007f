//! A stub HTTP server for unit tests: it answers every request with the
//! bytes a closure picks from the request's head, then closes the
//! connection or holds it open, and keeps the heads it was sent.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

/// What the stub sends back to one request.
pub(crate) struct Reply {
    /// The whole answer: status line, headers and as much body as wanted.
    pub(crate) bytes: Vec<u8>,
    /// Keep the connection open after the bytes, sending nothing more.
    pub(crate) hold: bool,
}

impl Reply {
    /// A complete answer with `Content-Length` and `Connection: close`.
    pub(crate) fn new(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut head = format!("HTTP/1.1 {status}\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        ));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        Reply { bytes, hold: false }
    }
}

/// A running stub; it lives as long as the test's runtime.
pub(crate) struct Stub {
    /// `http://127.0.0.1:<port>/`.
    pub(crate) url: Url,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Stub {
    /// Starts a stub that answers each request head with `answer(head)`.
    pub(crate) async fn start(answer: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let heads = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(answer);
        let kept = Arc::clone(&heads);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (answer, kept) = (Arc::clone(&answer), Arc::clone(&kept));
                tokio::spawn(async move {
                    let Some((mut socket, head)) = read_request(socket).await else {
                        return;
                    };
                    let reply = answer(&head);
                    kept.lock().expect("heads lock").push(head);
                    let _ = socket.write_all(&reply.bytes).await;
                    if reply.hold {
                        std::future::pending::<()>().await;
                    }
                    let _ = socket.shutdown().await;
                });
            }
        });
        Stub {
            url: Url::parse(&format!("http://{address}/")).expect("url"),
            heads,
        }
    }

    /// The request heads received so far.
    pub(crate) fn heads(&self) -> Vec<String> {
        self.heads.lock().expect("heads lock").clone()
    }
}

/// Reads one request: its head, as text, and its body, which is dropped.
async fn read_request(mut socket: TcpStream) -> Option<(TcpStream, String)> {
    let mut bytes = Vec::new();
    let mut buffer = [0; 4096];
    let end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let read = socket.read(&mut buffer).await.ok().filter(|&n| n > 0)?;
        bytes.extend_from_slice(&buffer[..read]);
    };
    let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let length: usize = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    let mut left = length.saturating_sub(bytes.len() - end);
    while left > 0 {
        let read = socket.read(&mut buffer).await.ok().filter(|&n| n > 0)?;
        left = left.saturating_sub(read);
    }
    Some((socket, head))
}
