//! A real HTTP receiver for webhooks, bound to a loopback port: it records
//! every request and answers as the test tells it, and checks signatures
//! with the Standard Webhooks algorithm, written here from the
//! specification rather than taken from ferry.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// The secret test servers sign with: `whsec_` and base64 of 24 bytes.
pub const WEBHOOK_SECRET: &str = "whsec_dGhlIHRlc3Qgd2ViaG9vayBzZWNyZXQh";

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A status and a JSON body.
    Status(u16, String),
    /// No answer at all, until the connection is dropped.
    Hang,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its headers, names in lower case.
    pub headers: HashMap<String, String>,
    /// Its body.
    pub body: Vec<u8>,
}

impl Received {
    /// The body as JSON, after checking its signature with `secret`.
    pub fn verified(&self, secret: &str) -> serde_json::Value {
        let id = &self.headers["webhook-id"];
        let timestamp = &self.headers["webhook-timestamp"];
        let sent_at: i64 = timestamp.parse().expect("a timestamp in seconds");
        let skew = (chrono::Utc::now().timestamp() - sent_at).abs();
        assert!(skew < 300, "the timestamp is {skew}s off");
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
            .expect("base64");
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("a key");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(&self.body);
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        let signatures = &self.headers["webhook-signature"];
        assert!(
            signatures.split(' ').any(|signature| signature == expected),
            "no valid signature in {signatures:?}"
        );
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A receiver listening on loopback.
#[derive(Clone)]
pub struct Receiver {
    /// Its URL.
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    replies: Arc<Mutex<VecDeque<Reply>>>,
    usual: Arc<Mutex<Reply>>,
    arrived: Arc<Notify>,
}

impl Receiver {
    /// A receiver that answers 200 unless told otherwise.
    pub async fn start() -> Receiver {
        Self::start_on("127.0.0.1:0").await
    }

    /// A receiver bound to `address`.
    pub async fn start_on(address: &str) -> Receiver {
        let listener = TcpListener::bind(address).await.expect("a receiver port");
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let receiver = Receiver {
            url,
            received: Arc::default(),
            replies: Arc::default(),
            usual: Arc::new(Mutex::new(Reply::Status(200, "{}".into()))),
            arrived: Arc::default(),
        };
        let serving = receiver.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serving.clone().serve(stream));
            }
        });
        receiver
    }

    /// Answers the next requests with `replies`, in order, then as usual.
    pub fn answer_next(&self, replies: impl IntoIterator<Item = Reply>) {
        self.replies.lock().unwrap().extend(replies);
    }

    /// Answers every later request with `reply`.
    pub fn answer_always(&self, reply: Reply) {
        *self.usual.lock().unwrap() = reply;
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (up to 30 s) until the requests so far satisfy `enough`;
    /// answers them.
    pub async fn wait_for(&self, enough: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let waiting = async {
            loop {
                let arrived = self.arrived.notified();
                let received = self.received();
                if enough(&received) {
                    return received;
                }
                arrived.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), waiting)
            .await
            .unwrap_or_else(|_| panic!("the receiver got only {:?}", self.bodies()))
    }

    /// Waits until an event of type `kind` arrived; answers its verified body.
    pub async fn event(&self, kind: &str) -> serde_json::Value {
        let received = self
            .wait_for(|all| all.iter().any(|request| type_of(request) == kind))
            .await;
        let request = received
            .iter()
            .find(|request| type_of(request) == kind)
            .unwrap();
        request.verified(WEBHOOK_SECRET)
    }

    fn bodies(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|request| String::from_utf8_lossy(&request.body).into_owned())
            .collect()
    }

    async fn serve(self, mut stream: TcpStream) {
        let mut read = Vec::new();
        let mut buffer = [0u8; 8192];
        let head_end = loop {
            if let Some(end) = read.windows(4).position(|window| window == b"\r\n\r\n") {
                break end;
            }
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => read.extend_from_slice(&buffer[..n]),
            }
        };
        let head = String::from_utf8_lossy(&read[..head_end]).into_owned();
        let headers: HashMap<String, String> = head
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let length: usize = headers
            .get("content-length")
            .and_then(|value| value.parse().ok())
            .unwrap_or(0);
        let mut body = read[head_end + 4..].to_vec();
        while body.len() < length {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => body.extend_from_slice(&buffer[..n]),
            }
        }
        let reply = self
            .replies
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| self.usual.lock().unwrap().clone());
        self.received
            .lock()
            .unwrap()
            .push(Received { headers, body });
        self.arrived.notify_waiters();
        match reply {
            Reply::Status(status, body) => {
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            }
            Reply::Hang => {
                let mut rest = [0u8; 64];
                while let Ok(n) = stream.read(&mut rest).await {
                    if n == 0 {
                        break;
                    }
                }
            }
        }
    }
}

/// The `type` of a webhook request's event, if it has one.
pub fn type_of(request: &Received) -> String {
    serde_json::from_slice::<serde_json::Value>(&request.body)
        .ok()
        .and_then(|event| event["type"].as_str().map(str::to_owned))
        .unwrap_or_default()
}
