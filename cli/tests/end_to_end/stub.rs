//! A stub HTTP server for servers that break the contract in ways ferryd
//! never would: it answers each request with canned bytes picked from the
//! request's head, possibly followed by a body that never ends. One thread
//! per connection; every answer closes its connection.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// The answers of a stub to downloads, whole: status line, headers and body.
#[derive(Clone)]
pub struct Answers {
    /// What `HEAD` gets.
    pub head: Vec<u8>,
    /// What `GET` gets.
    pub get: Vec<u8>,
}

/// What the stub sends back to one request.
pub enum Reply {
    /// These bytes, then the connection closes.
    Bytes(Vec<u8>),
    /// These bytes, then `piece` again and again until the client leaves.
    Endless {
        /// Status line and headers.
        head: Vec<u8>,
        /// What is sent over and over after the head.
        piece: Vec<u8>,
    },
}

/// An HTTP answer with `Content-Length` and `Connection: close`; `length`
/// is the declared length, `body` what follows (nothing, for `HEAD`).
pub fn answer(status: &str, headers: &[(&str, &str)], length: usize, body: &[u8]) -> Vec<u8> {
    let mut text = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(&format!(
        "content-length: {length}\r\nconnection: close\r\n\r\n"
    ));
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A JSON answer of `status` holding `body`.
pub fn json(status: &str, body: &str) -> Reply {
    Reply::Bytes(answer(
        status,
        &[("content-type", "application/json")],
        body.len(),
        body.as_bytes(),
    ))
}

/// A running stub; its thread ends with the test process.
pub struct Stub {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    requests: Arc<AtomicUsize>,
}

impl Stub {
    /// Listens on a free port and answers `HEAD` and `GET` from `answers`.
    pub fn start(answers: Answers) -> Stub {
        Stub::serving(move |head| {
            if head.starts_with("HEAD ") {
                Reply::Bytes(answers.head.clone())
            } else {
                Reply::Bytes(answers.get.clone())
            }
        })
    }

    /// Listens on a free port and answers every request with what `reply`
    /// picks from its head (request line and headers).
    pub fn serving(reply: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the stub");
        let address: SocketAddr = listener.local_addr().expect("stub address");
        let reply = Arc::new(reply);
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let (reply, counter) = (Arc::clone(&reply), Arc::clone(&counter));
                thread::spawn(move || serve(client, &*reply, &counter));
            }
        });
        Stub {
            url: format!("http://{address}"),
            requests,
        }
    }

    /// How many requests the stub was sent.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn serve(mut client: TcpStream, reply: &dyn Fn(&str) -> Reply, requests: &AtomicUsize) {
    let mut head = Vec::new();
    let mut buffer = [0; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match client.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(read) => head.extend_from_slice(&buffer[..read]),
        }
    }
    requests.fetch_add(1, Ordering::SeqCst);
    match reply(&String::from_utf8_lossy(&head)) {
        Reply::Bytes(bytes) => {
            let _ = client.write_all(&bytes);
        }
        Reply::Endless { head, piece } => {
            let _ = client.write_all(&head);
            while client.write_all(&piece).is_ok() {}
        }
    }
    let _ = client.flush();
}
