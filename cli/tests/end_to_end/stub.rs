//! A stub HTTP origin that answers `HEAD` and `GET` with fixed bytes, for
//! servers that break the contract in ways ferryd never would. One thread
//! per connection; every answer closes its connection.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;

/// The answers of a stub, whole: status line, headers and body.
#[derive(Clone)]
pub struct Answers {
    /// What `HEAD` gets.
    pub head: Vec<u8>,
    /// What `GET` gets.
    pub get: Vec<u8>,
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

/// A running stub; its thread ends with the test process.
pub struct Stub {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Stub {
    /// Listens on a free port and answers every request from `answers`.
    pub fn start(answers: Answers) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the stub");
        let address: SocketAddr = listener.local_addr().expect("stub address");
        thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let answers = answers.clone();
                thread::spawn(move || serve(client, &answers));
            }
        });
        Stub {
            url: format!("http://{address}"),
        }
    }
}

fn serve(mut client: TcpStream, answers: &Answers) {
    let mut head = Vec::new();
    let mut buffer = [0; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match client.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(read) => head.extend_from_slice(&buffer[..read]),
        }
    }
    let reply = if head.starts_with(b"HEAD ") {
        &answers.head
    } else {
        &answers.get
    };
    let _ = client.write_all(reply);
    let _ = client.flush();
}
