//! `ferryd probe`: asks the local server one path over plain HTTP and
//! succeeds only on a 200, so that a container image needs no curl for its
//! health check.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::Context;

/// Longest answer head read.
const MAX_HEAD: u64 = 8 << 10;

/// The address to reach a server bound to `bind` from the same host: an
/// unspecified address (`0.0.0.0`, `[::]`) is reached on loopback.
pub fn local_address(bind: SocketAddr) -> SocketAddr {
    match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), bind.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), bind.port())
        }
        _ => bind,
    }
}

/// Sends `GET path` to `address` and returns the status line when it is a
/// 200; any other answer, or none within `timeout`, is an error.
pub fn probe(address: SocketAddr, path: &str, timeout: Duration) -> anyhow::Result<String> {
    anyhow::ensure!(
        path.starts_with('/') && path.bytes().all(|byte| byte.is_ascii_graphic()),
        "the path must start with / and hold no spaces"
    );
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .with_context(|| format!("connecting to {address}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .with_context(|| format!("asking {address}"))?;
    let mut head = Vec::new();
    stream
        .take(MAX_HEAD)
        .read_to_end(&mut head)
        .with_context(|| format!("reading the answer of {address}"))?;
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or_default().to_owned();
    let status = status_line.split(' ').nth(1);
    anyhow::ensure!(status == Some("200"), "GET {path}: {status_line}");
    Ok(status_line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_bound_to_every_address_is_probed_on_loopback() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(local_address(any), "127.0.0.1:8080".parse().unwrap());
        let any6: SocketAddr = "[::]:8080".parse().unwrap();
        assert_eq!(local_address(any6), "[::1]:8080".parse().unwrap());
        let one: SocketAddr = "10.0.0.5:9000".parse().unwrap();
        assert_eq!(local_address(one), one);
    }

    #[test]
    fn a_path_that_could_smuggle_a_header_is_refused() {
        let address: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let refused = probe(address, "/readyz HTTP/1.1\r\nX: y", Duration::from_secs(1));
        assert!(refused.unwrap_err().to_string().contains("path"));
    }
}
