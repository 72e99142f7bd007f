//! A TCP proxy that misbehaves on purpose, between the CLI and ferryd: it
//! drops connections, cuts them after some bytes, or holds traffic once a
//! byte budget is spent, and it can put one string in place of another in
//! the requests, as a client that lies about a hash would send them. It
//! also witnesses what passed: every request's head and body length, and
//! the bytes that went each way. Plain threads, one pair per connection.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

mod rewrite;

use rewrite::{Replacement, Rewriter};

/// Which way bytes flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the client to the server (requests, uploads).
    Up,
    /// From the server to the client (answers, downloads).
    Down,
}

/// What goes wrong, and how often.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Every nth connection is closed as soon as it is accepted.
    pub drop_every: Option<usize>,
    /// Every nth connection is cut after so many bytes, both ways together.
    pub cut_every: Option<(usize, u64)>,
    /// Bytes let through one way, over all connections, before that way is held.
    pub gate: Option<(Direction, u64)>,
}

struct Gate {
    left: u64,
    open: bool,
    closed: bool,
}

struct Shared {
    upstream: Mutex<SocketAddr>,
    faults: Faults,
    accepted: AtomicUsize,
    cuts: AtomicUsize,
    gate: Mutex<Gate>,
    gate_moved: Condvar,
    stopping: AtomicBool,
    requests: Mutex<Vec<Request>>,
    replacement: Mutex<Option<Replacement>>,
    forwarded_up: AtomicU64,
    forwarded_down: AtomicU64,
}

/// One request a client sent through the proxy.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `PUT`, …
    pub method: String,
    /// The path and query, as sent.
    pub target: String,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Body bytes the client sent (by `Content-Length`; bodies are never chunked here).
    pub body_bytes: u64,
}

impl Request {
    /// The value of header `name` (lower case), if sent once or more.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(have, _)| have == name)
            .map(|(_, value)| value.as_str())
    }

    fn parse(head: &str) -> Request {
        let mut lines = head.split("\r\n");
        let mut words = lines.next().unwrap_or("").split(' ');
        let method = words.next().unwrap_or("").to_owned();
        let target = words.next().unwrap_or("").to_owned();
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        Request {
            method,
            target,
            headers,
            body_bytes: 0,
        }
    }
}

/// A running proxy; it stops when dropped.
pub struct Proxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    address: SocketAddr,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Listens on a free port and forwards to `upstream` (`http://host:port`).
    pub fn start(upstream: &str, faults: Faults) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let address = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream: Mutex::new(socket_address(upstream)),
            faults,
            accepted: AtomicUsize::new(0),
            cuts: AtomicUsize::new(0),
            gate: Mutex::new(Gate {
                left: faults.gate.map_or(0, |(_, budget)| budget),
                open: faults.gate.is_none(),
                closed: false,
            }),
            gate_moved: Condvar::new(),
            stopping: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
            replacement: Mutex::new(None),
            forwarded_up: AtomicU64::new(0),
            forwarded_down: AtomicU64::new(0),
        });
        let accepting = Arc::clone(&shared);
        thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(client) = client {
                    let number = accepting.accepted.fetch_add(1, Ordering::SeqCst) + 1;
                    let shared = Arc::clone(&accepting);
                    thread::spawn(move || connect(client, shared, number));
                }
            }
        });
        Proxy {
            url: format!("http://{address}"),
            address,
            shared,
        }
    }

    /// Forwards new connections to another server from now on.
    pub fn set_upstream(&self, upstream: &str) {
        *self.shared.upstream.lock().expect("upstream lock") = socket_address(upstream);
    }

    /// On connections made from now on, puts `to` in place of every `from`
    /// in what clients send: request targets, headers and bodies. Each
    /// request is held until it is whole, and is witnessed as passed on.
    /// The two are of one length, so that `Content-Length` still holds.
    pub fn replace_in_requests(&self, from: &str, to: &str) {
        *self.shared.replacement.lock().expect("replacement lock") =
            Some(Replacement::new(from, to));
    }

    /// Lets every held and future byte through.
    pub fn open_gate(&self) {
        self.shared.gate.lock().expect("gate lock").open = true;
        self.shared.gate_moved.notify_all();
    }

    /// Connections dropped or cut so far.
    pub fn faults_met(&self) -> usize {
        self.shared.cuts.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// The requests clients sent so far, in the order their heads arrived.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().expect("requests lock").clone()
    }

    /// Bytes passed on one way so far, heads included.
    pub fn forwarded(&self, direction: Direction) -> u64 {
        match direction {
            Direction::Up => self.shared.forwarded_up.load(Ordering::SeqCst),
            Direction::Down => self.shared.forwarded_down.load(Ordering::SeqCst),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.gate.lock().expect("gate lock").closed = true;
        self.shared.gate_moved.notify_all();
        let _ = TcpStream::connect(self.address);
    }
}

fn socket_address(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("an http://ip:port URL")
}

fn connect(client: TcpStream, shared: Arc<Shared>, number: usize) {
    let faults = shared.faults;
    if faults
        .drop_every
        .is_some_and(|every| number.is_multiple_of(every))
    {
        shared.cuts.fetch_add(1, Ordering::SeqCst);
        return;
    }
    let upstream = *shared.upstream.lock().expect("upstream lock");
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    let cut_after = faults
        .cut_every
        .filter(|(every, _)| number.is_multiple_of(*every))
        .map(|(_, after)| after);
    let replacement = shared.replacement.lock().expect("replacement lock").clone();
    let moved = Arc::new(AtomicU64::new(0));
    let (Ok(client_reader), Ok(server_reader)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let link = Link {
        shared: Arc::clone(&shared),
        cut_after,
        moved: Arc::clone(&moved),
        replacement,
    };
    let down = Link {
        shared,
        cut_after,
        moved,
        replacement: None,
    };
    thread::spawn(move || down.pump(server_reader, client, Direction::Down));
    link.pump(client_reader, server, Direction::Up);
}

struct Link {
    shared: Arc<Shared>,
    cut_after: Option<u64>,
    moved: Arc<AtomicU64>,
    /// Made in whole requests; on the way up only.
    replacement: Option<Replacement>,
}

impl Link {
    fn pump(&self, mut from: TcpStream, mut to: TcpStream, direction: Direction) {
        let mut buffer = vec![0; 16 << 10];
        let mut reader = RequestReader::default();
        let mut rewriter = self.replacement.clone().map(Rewriter::new);
        loop {
            let read = match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            let rewritten;
            let mut piece = &buffer[..read];
            if let Some(rewriter) = rewriter.as_mut() {
                rewritten = rewriter.feed(piece);
                piece = &rewritten;
            }
            if direction == Direction::Up {
                reader.feed(piece, &self.shared.requests);
            }
            if let Some(limit) = self.cut_after {
                let before = self.moved.fetch_add(piece.len() as u64, Ordering::SeqCst);
                if before + piece.len() as u64 >= limit {
                    let keep = usize::try_from(limit.saturating_sub(before)).unwrap_or(0);
                    self.shared.cuts.fetch_add(1, Ordering::SeqCst);
                    let kept = &piece[..keep.min(piece.len())];
                    if to.write_all(kept).is_ok() {
                        self.count(direction, kept.len());
                    }
                    let _ = from.shutdown(Shutdown::Both);
                    let _ = to.shutdown(Shutdown::Both);
                    return;
                }
            }
            while !piece.is_empty() {
                let Some(allowed) = self.allow(direction, piece.len()) else {
                    return;
                };
                if to.write_all(&piece[..allowed]).is_err() {
                    let _ = from.shutdown(Shutdown::Both);
                    return;
                }
                self.count(direction, allowed);
                piece = &piece[allowed..];
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    }

    fn count(&self, direction: Direction, bytes: usize) {
        let counter = match direction {
            Direction::Up => &self.shared.forwarded_up,
            Direction::Down => &self.shared.forwarded_down,
        };
        counter.fetch_add(bytes as u64, Ordering::SeqCst);
    }

    /// How many of `wanted` bytes may pass now, waiting while the gate is
    /// shut; `None` once the proxy stops.
    fn allow(&self, direction: Direction, wanted: usize) -> Option<usize> {
        if self.shared.faults.gate.map(|(gated, _)| gated) != Some(direction) {
            return Some(wanted);
        }
        let mut gate = self.shared.gate.lock().expect("gate lock");
        loop {
            if gate.closed {
                return None;
            }
            if gate.open {
                return Some(wanted);
            }
            if gate.left > 0 {
                let allowed = wanted.min(usize::try_from(gate.left).unwrap_or(usize::MAX));
                gate.left -= allowed as u64;
                return Some(allowed);
            }
            gate = self.shared.gate_moved.wait(gate).expect("gate lock");
        }
    }
}

/// Splits what a client sends on one connection into requests: a head up
/// to the blank line, then `Content-Length` bytes of body.
#[derive(Default)]
struct RequestReader {
    pending: Vec<u8>,
    body_left: u64,
    current: Option<usize>,
}

impl RequestReader {
    fn feed(&mut self, bytes: &[u8], log: &Mutex<Vec<Request>>) {
        self.pending.extend_from_slice(bytes);
        loop {
            if self.body_left > 0 {
                let taken = self.body_left.min(self.pending.len() as u64);
                if taken == 0 {
                    return;
                }
                self.pending.drain(..taken as usize);
                self.body_left -= taken;
                if let Some(index) = self.current {
                    log.lock().expect("requests lock")[index].body_bytes += taken;
                }
                continue;
            }
            let Some(end) = self.pending.windows(4).position(|w| w == b"\r\n\r\n") else {
                return;
            };
            let head = String::from_utf8_lossy(&self.pending[..end]).into_owned();
            self.pending.drain(..end + 4);
            let request = Request::parse(&head);
            self.body_left = request
                .header("content-length")
                .and_then(|length| length.parse().ok())
                .unwrap_or(0);
            let mut log = log.lock().expect("requests lock");
            log.push(request);
            self.current = Some(log.len() - 1);
        }
    }
}
