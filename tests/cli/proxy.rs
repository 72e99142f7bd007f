//! A TCP proxy that misbehaves on purpose, between the CLI and ferryd: it
//! drops connections, cuts them after some bytes, or holds traffic once a
//! byte budget is spent. Plain threads, one pair per connection.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

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
    requests: Mutex<Vec<u8>>,
}

/// A running proxy; it stops when dropped.
pub struct Proxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    address: SocketAddr,
    shared: Arc<Shared>,
}

/// Request bytes kept for [`Proxy::requests`].
const KEEP_REQUEST_BYTES: usize = 1 << 20;

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

    /// Lets every held and future byte through.
    pub fn open_gate(&self) {
        self.shared.gate.lock().expect("gate lock").open = true;
        self.shared.gate_moved.notify_all();
    }

    /// Connections dropped or cut so far.
    pub fn faults_met(&self) -> usize {
        self.shared.cuts.load(Ordering::SeqCst)
    }

    /// The first bytes clients sent, as text, to look for headers in.
    pub fn requests(&self) -> String {
        String::from_utf8_lossy(&self.shared.requests.lock().expect("requests lock")).into_owned()
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
    if faults.drop_every.is_some_and(|every| number % every == 0) {
        shared.cuts.fetch_add(1, Ordering::SeqCst);
        return;
    }
    let upstream = *shared.upstream.lock().expect("upstream lock");
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    let cut_after = faults
        .cut_every
        .filter(|(every, _)| number % every == 0)
        .map(|(_, after)| after);
    let moved = Arc::new(AtomicU64::new(0));
    let (Ok(client_reader), Ok(server_reader)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let link = Link {
        shared: Arc::clone(&shared),
        cut_after,
        moved: Arc::clone(&moved),
    };
    let down = Link {
        shared,
        cut_after,
        moved,
    };
    thread::spawn(move || down.pump(server_reader, client, Direction::Down));
    link.pump(client_reader, server, Direction::Up);
}

struct Link {
    shared: Arc<Shared>,
    cut_after: Option<u64>,
    moved: Arc<AtomicU64>,
}

impl Link {
    fn pump(&self, mut from: TcpStream, mut to: TcpStream, direction: Direction) {
        let mut buffer = vec![0; 16 << 10];
        loop {
            let read = match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            let mut piece = &buffer[..read];
            if direction == Direction::Up {
                let mut kept = self.shared.requests.lock().expect("requests lock");
                let room = KEEP_REQUEST_BYTES
                    .saturating_sub(kept.len())
                    .min(piece.len());
                kept.extend_from_slice(&piece[..room]);
            }
            if let Some(limit) = self.cut_after {
                let before = self.moved.fetch_add(piece.len() as u64, Ordering::SeqCst);
                if before + piece.len() as u64 >= limit {
                    let keep = usize::try_from(limit.saturating_sub(before)).unwrap_or(0);
                    self.shared.cuts.fetch_add(1, Ordering::SeqCst);
                    let _ = to.write_all(&piece[..keep.min(piece.len())]);
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
                piece = &piece[allowed..];
            }
        }
        let _ = to.shutdown(Shutdown::Write);
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
