//! A TCP proxy that makes a healthy server look like a bad day at a cloud
//! provider: some connections are answered `503 SlowDown`, some are reset
//! before or in the middle of a request, and the rest are delayed and then
//! cut after a short life.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SLOW_DOWN: &str =
    "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";

/// A running proxy to one upstream address.
pub struct FaultyProxy {
    /// Where clients connect: `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Connections that met a fault so far.
    pub faults: Arc<AtomicU64>,
}

impl FaultyProxy {
    /// Proxies to `upstream` (`host:port`), one connection in `one_in` meeting
    /// each kind of fault.
    pub async fn start(upstream: String, one_in: u64) -> FaultyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let endpoint = format!("http://{}", listener.local_addr().expect("an address"));
        let faults = Arc::new(AtomicU64::new(0));
        let counted = faults.clone();
        tokio::spawn(async move {
            let mut seed = 0x2545_F491_4F6C_DD1Du64;
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let roll = seed;
                let upstream = upstream.clone();
                let faults = counted.clone();
                tokio::spawn(async move {
                    serve(client, &upstream, roll, one_in, &faults).await;
                });
            }
        });
        FaultyProxy { endpoint, faults }
    }
}

async fn serve(mut client: TcpStream, upstream: &str, roll: u64, one_in: u64, faults: &AtomicU64) {
    match roll % one_in {
        0 => {
            faults.fetch_add(1, Ordering::Relaxed);
            let mut head = [0u8; 1024];
            let _ = client.read(&mut head).await;
            let answer = format!(
                "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{SLOW_DOWN}",
                SLOW_DOWN.len()
            );
            let _ = client.write_all(answer.as_bytes()).await;
            let _ = client.shutdown().await;
        }
        1 => {
            faults.fetch_add(1, Ordering::Relaxed);
            let mut head = [0u8; 64];
            let _ = client.read(&mut head).await;
            reset(client);
        }
        _ => {
            let delay = Duration::from_millis((roll >> 8) % 30);
            let life = Duration::from_millis(200 + (roll >> 16) % 1500);
            tokio::time::sleep(delay).await;
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            let copied = tokio::io::copy_bidirectional(&mut client, &mut server);
            if tokio::time::timeout(life, copied).await.is_err() {
                faults.fetch_add(1, Ordering::Relaxed);
                reset(client);
            }
        }
    }
}

/// Drops a connection with a TCP reset rather than an orderly close; a zero
/// linger never blocks, which is what the deprecation warns of.
#[allow(deprecated)]
fn reset(client: TcpStream) {
    let _ = client.set_linger(Some(Duration::ZERO));
}
