//! A TCP proxy in front of an S3 server that counts the requests passing
//! through by kind (UploadPartCopy, UploadPart, CopyObject...) and the
//! bytes of the parts sent. Each connection carries one request: the proxy
//! asks both ends to close it after the answer.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A running proxy, and what it counted.
pub struct CountingProxy {
    /// Where clients connect: `http://127.0.0.1:PORT`.
    pub endpoint: String,
    counted: Arc<Mutex<Counted>>,
}

#[derive(Default)]
struct Counted {
    requests: BTreeMap<&'static str, usize>,
    part_bytes: u64,
}

impl CountingProxy {
    /// Proxies to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let endpoint = format!("http://{}", listener.local_addr().expect("an address"));
        let counted = Arc::new(Mutex::new(Counted::default()));
        let counting = counted.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, counting) = (upstream.clone(), counting.clone());
                tokio::spawn(async move { relay(client, &upstream, &counting).await });
            }
        });
        CountingProxy { endpoint, counted }
    }

    /// Requests of `kind` seen so far.
    pub fn count(&self, kind: &str) -> usize {
        let counted = self.counted.lock().unwrap();
        counted.requests.get(kind).copied().unwrap_or(0)
    }

    /// Bytes of every part sent by UploadPart so far.
    pub fn part_bytes(&self) -> u64 {
        self.counted.lock().unwrap().part_bytes
    }

    /// Forgets what was counted so far.
    pub fn reset(&self) {
        *self.counted.lock().unwrap() = Counted::default();
    }
}

async fn relay(mut client: TcpStream, upstream: &str, counted: &Mutex<Counted>) {
    let mut head = Vec::new();
    let mut buffer = [0u8; 8192];
    let end = loop {
        let Ok(read) = client.read(&mut buffer).await else {
            return;
        };
        if read == 0 || head.len() > 64 << 10 {
            return;
        }
        head.extend_from_slice(&buffer[..read]);
        if let Some(at) = head.windows(4).position(|window| window == b"\r\n\r\n") {
            break at;
        }
    };
    let text = String::from_utf8_lossy(&head[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(found, _)| found == name)
            .map(|(_, value)| value.clone())
    };
    let mut words = request_line.split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let query = target.split_once('?').map(|(_, query)| query).unwrap_or("");
    let has = |name: &str| {
        query
            .split('&')
            .any(|pair| pair.split('=').next() == Some(name))
    };
    let copies = header("x-amz-copy-source").is_some();
    let kind = match method {
        "PUT" if copies && has("uploadId") => "UploadPartCopy",
        "PUT" if copies => "CopyObject",
        "PUT" if has("uploadId") => "UploadPart",
        "PUT" => "PutObject",
        "POST" if has("uploads") => "CreateMultipartUpload",
        "POST" if has("uploadId") => "CompleteMultipartUpload",
        "DELETE" if has("uploadId") => "AbortMultipartUpload",
        "GET" if has("uploads") => "ListMultipartUploads",
        "GET" => "GetObject",
        "HEAD" => "HeadObject",
        "DELETE" => "DeleteObject",
        _ => "Other",
    };
    {
        let mut counted = counted.lock().unwrap();
        *counted.requests.entry(kind).or_default() += 1;
        if kind == "UploadPart" {
            let length = header("content-length").and_then(|value| value.parse().ok());
            counted.part_bytes += length.unwrap_or(0);
        }
    }
    let mut rewritten = request_line;
    for (name, value) in &headers {
        if name != "connection" {
            rewritten.push_str(&format!("\r\n{name}: {value}"));
        }
    }
    rewritten.push_str("\r\nconnection: close\r\n\r\n");
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    if server.write_all(rewritten.as_bytes()).await.is_err()
        || server.write_all(&head[end + 4..]).await.is_err()
    {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}
