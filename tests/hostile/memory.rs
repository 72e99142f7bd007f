//! The real `ferryd` binary, flooded with concurrent one-request uploads
//! whose chunked multipart bodies never end and hold no line break: every
//! request must be refused with a 4xx (or its connection closed), and the
//! server's peak resident memory must stay under 100 MiB.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpSocket;
use tokio::process::{Child, Command};

use crate::raw::{Outcome, read_outcome, request};

const CONNECTIONS: usize = 16;
/// How much each body would carry if the server took it all.
const BODY_BYTES: usize = 256 << 20;
/// The size of each piece of chunked framing.
const PIECE: usize = 1 << 20;
/// The peak resident memory allowed, in KiB.
const PEAK_LIMIT_KIB: u64 = 100 * 1024;
/// The longest the whole flood may take.
const FLOOD_LIMIT: Duration = Duration::from_secs(50);

/// A `ferryd` process on a free loopback port, over SQLite and a store in
/// a temporary folder, killed when dropped.
struct Ferryd {
    child: Child,
    address: String,
    _folder: tempfile::TempDir,
}

impl Ferryd {
    async fn start() -> Self {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let database = format!("sqlite://{}/ferry.db", folder.path().display());
        let store = folder.path().join("objects");
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferryd"))
            .env_clear()
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .args([
                "--bind",
                "127.0.0.1:0",
                "--database-url",
                &database,
                "--store",
            ])
            .arg(&store)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("ferryd starts");
        let mut lines = BufReader::new(child.stderr.take().expect("its log")).lines();
        let address = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("a log line") {
                if let Some((_, address)) = line.split_once("listening on: ") {
                    return address.trim().to_owned();
                }
            }
            panic!("ferryd exited before it listened");
        })
        .await
        .expect("ferryd listens within 30 s");
        // Keep taking its log, so that logging never blocks it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ferryd {
            child,
            address,
            _folder: folder,
        }
    }

    /// The peak resident set size of the process so far, in KiB.
    fn peak_resident_kib(&self) -> u64 {
        let pid = self.child.id().expect("ferryd is running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a VmHWM line")
    }
}

/// What comes before the endless run of bytes, one kind per connection in turn.
fn prefix(connection: usize) -> &'static [u8] {
    match connection % 4 {
        // No boundary at all.
        0 => b"",
        // A part whose header line never ends.
        1 => b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"",
        // A file part whose content never ends.
        2 => b"--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n",
        // A text field whose content never ends.
        _ => b"--x\r\nContent-Disposition: form-data; name=\"sha256\"\r\n\r\n",
    }
}

/// Sends one endless form and reads what the server answers meanwhile.
async fn flood(address: &str, connection: usize) -> Outcome {
    let socket = TcpSocket::new_v4().expect("a socket");
    socket
        .set_send_buffer_size(4 << 20)
        .expect("a large send buffer");
    let stream = socket
        .connect(address.parse().expect("an address"))
        .await
        .expect("a connection");
    let (mut reader, mut writer) = stream.into_split();
    let head = request(
        "POST",
        "/v1/files",
        &[
            ("Content-Type", "multipart/form-data; boundary=x"),
            ("Transfer-Encoding", "chunked"),
        ],
        b"",
    );
    let mut piece = format!("{PIECE:x}\r\n").into_bytes();
    piece.extend(std::iter::repeat_n(b'a', PIECE));
    piece.extend_from_slice(b"\r\n");
    let writing = async {
        let prefix = prefix(connection);
        let mut first = head.bytes.clone();
        first.extend_from_slice(format!("{:x}\r\n", prefix.len()).as_bytes());
        first.extend_from_slice(prefix);
        first.extend_from_slice(b"\r\n");
        if prefix.is_empty() {
            first = head.bytes.clone();
        }
        writer.write_all(&first).await?;
        for _ in 0..BODY_BYTES / PIECE {
            writer.write_all(&piece).await?;
        }
        writer.write_all(b"0\r\n\r\n").await
    };
    let reading = read_outcome(&mut reader);
    tokio::pin!(reading);
    tokio::select! {
        outcome = &mut reading => outcome,
        _ = writing => reading.await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn endless_multipart_bodies_are_refused_within_100_mib_of_memory() {
    let server = Ferryd::start().await;
    let address = server.address.clone();
    let floods = (0..CONNECTIONS).map(|connection| {
        let address = address.clone();
        tokio::spawn(async move { (connection, flood(&address, connection).await) })
    });
    let outcomes = tokio::time::timeout(FLOOD_LIMIT, futures::future::join_all(floods))
        .await
        .expect("every flooded request ends within the limit");
    let peak = server.peak_resident_kib();
    eprintln!(
        "ferryd peak resident memory after {CONNECTIONS} endless bodies: {:.1} MiB",
        peak as f64 / 1024.0
    );
    let mut answers = Vec::new();
    for outcome in outcomes {
        let (connection, outcome) = outcome.expect("a flood task");
        match outcome {
            Outcome::Closed => answers.push(format!("{connection}: closed")),
            Outcome::Answer(answer) => {
                assert!(
                    (400..500).contains(&answer.status),
                    "connection {connection} got {} {}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body)
                );
                answers.push(format!(
                    "{connection}: {} {}",
                    answer.status,
                    answer
                        .json()
                        .map(|body| body["code"].to_string())
                        .unwrap_or_default()
                ));
            }
        }
    }
    eprintln!("answers: {}", answers.join(", "));
    assert!(
        peak < PEAK_LIMIT_KIB,
        "ferryd peaked at {peak} KiB, over {PEAK_LIMIT_KIB} KiB"
    );
    let health = reqwest::get(format!("http://{address}/healthz"))
        .await
        .expect("ferryd still answers");
    assert!(health.status().is_success());
}
