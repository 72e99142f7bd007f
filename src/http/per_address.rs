//! How many connections one client may hold at once, counted by its address
//! (an IPv6 client by its /64, which one host usually holds whole): a
//! connection over the limit is answered a bare 503 as it is accepted and
//! closed, so that one client cannot take every connection the server
//! serves. Behind a proxy every connection comes from the proxy's address.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ferry_proto::{ErrorBody, ErrorCode};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Connections held now, by client.
type Held = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// The per-address limit of one listener, shared by its workers.
#[derive(Debug, Clone)]
pub struct PerAddress {
    limit: usize,
    held: Held,
}

impl PerAddress {
    /// At most `limit` connections per client; `0` sets no limit.
    pub fn new(limit: usize) -> Self {
        PerAddress {
            limit,
            held: Held::default(),
        }
    }

    /// Admits `stream`, just accepted, if its client holds fewer connections
    /// than the limit; otherwise answers it 503 and closes it.
    pub fn admit(&self, stream: TcpStream) -> Option<Admitted<TcpStream>> {
        if self.limit == 0 {
            return Some(Admitted {
                io: stream,
                _place: None,
            });
        }
        let Ok(peer) = stream.peer_addr() else {
            return None;
        };
        let client = client_of(peer.ip());
        let mut held = self.held.lock();
        let count = held.entry(client).or_default();
        if *count >= self.limit {
            drop(held);
            tracing::debug!(%client, limit = self.limit, "a connection over the per-address limit refused");
            refuse(stream, self.limit);
            return None;
        }
        *count += 1;
        Some(Admitted {
            io: stream,
            _place: Some(Place {
                client,
                held: self.held.clone(),
            }),
        })
    }

    /// Connections `client` holds now.
    #[cfg(test)]
    fn holds(&self, client: IpAddr) -> usize {
        let held = self.held.lock();
        held.get(&client_of(client)).copied().unwrap_or_default()
    }
}

/// The client an address belongs to: itself for IPv4 (also when mapped
/// into IPv6), its /64 for IPv6.
fn client_of(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & (u128::MAX << 64);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

/// Writes the refusal to `stream`, whose send buffer is still empty, and
/// closes it.
fn refuse(stream: TcpStream, limit: usize) {
    let written = stream
        .into_std()
        .and_then(|mut stream| stream.write_all(&refusal(limit)));
    if let Err(error) = written {
        tracing::debug!(%error, "the refusal could not be written");
    }
}

/// The whole answer to a connection over `limit`, JSON like every error.
fn refusal(limit: usize) -> Vec<u8> {
    let body = ErrorBody::new(
        ErrorCode::Unavailable,
        format!("this address holds {limit} connections already; close one and try again"),
    );
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let mut answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    answer
}

/// One connection counted against its client until it closes.
#[derive(Debug)]
struct Place {
    client: IpAddr,
    held: Held,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut held = self.held.lock();
        if let Some(count) = held.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.client);
            }
        }
    }
}

/// An admitted connection, counted against its client while it lives.
#[derive(Debug)]
pub struct Admitted<IO> {
    io: IO,
    _place: Option<Place>,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Admitted<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Admitted<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, bytes)
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
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;

    /// A connection to `listener`: the client's end and the accepted end.
    async fn pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
        let address = listener.local_addr().unwrap();
        let (client, accepted) = tokio::join!(TcpStream::connect(address), listener.accept());
        (client.unwrap(), accepted.unwrap().0)
    }

    #[test]
    fn an_ipv6_client_is_its_64_and_a_mapped_ipv4_address_is_itself() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let elsewhere: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_of(one), client_of(other));
        assert_ne!(client_of(one), client_of(elsewhere));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_of(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_refusal_is_a_whole_json_answer() {
        let answer = String::from_utf8(refusal(3)).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["code"], "unavailable");
    }

    #[tokio::test]
    async fn a_client_over_the_limit_is_refused_until_one_of_its_connections_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let limit = PerAddress::new(2);
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let (_first_client, first) = pair(&listener).await;
        let (_second_client, second) = pair(&listener).await;
        let first = limit.admit(first).expect("the first is admitted");
        let _second = limit.admit(second).expect("the second is admitted");
        assert_eq!(limit.holds(loopback), 2);
        let (mut third_client, third) = pair(&listener).await;
        assert!(limit.admit(third).is_none());
        let mut answer = Vec::new();
        third_client.read_to_end(&mut answer).await.unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 503 "));
        drop(first);
        assert_eq!(limit.holds(loopback), 1);
        let (_fourth_client, fourth) = pair(&listener).await;
        assert!(limit.admit(fourth).is_some());
    }

    #[tokio::test]
    async fn no_limit_counts_nothing() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let unlimited = PerAddress::new(0);
        let mut kept = Vec::new();
        for _ in 0..5 {
            let (client, accepted) = pair(&listener).await;
            kept.push((client, unlimited.admit(accepted).expect("admitted")));
        }
        assert_eq!(unlimited.holds("127.0.0.1".parse().unwrap()), 0);
    }
}
