//! Starting the real `ferryd` and driving the real `ferry` binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rand::{RngCore, SeedableRng};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Longest wait for anything in a test.
const PATIENCE: Duration = Duration::from_secs(60);
/// Chunk size the tests upload with.
pub const CHUNK: u64 = 64 << 10;

/// A `ferryd` child process with its own database and object folder.
pub struct Server {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts ferryd over the database and objects in `folder`.
    pub fn start(folder: &Path) -> Server {
        Server::start_with(folder, &[])
    }

    /// Starts ferryd over `folder` with extra environment, on a free port,
    /// once it answers `/healthz`.
    pub fn start_with(folder: &Path, env: &[(&str, &str)]) -> Server {
        let mut last_log = Vec::new();
        for _ in 0..5 {
            let port = free_port();
            let mut command = Command::new(ferryd_binary());
            command
                .env_clear()
                .env("FERRY_BIND", format!("127.0.0.1:{port}"))
                .env(
                    "DATABASE_URL",
                    format!("sqlite://{}/ferry.db", folder.display()),
                )
                .env("FERRY_STORE", folder.join("objects"))
                .env("FERRY_MIN_CHUNK_SIZE", "1KiB")
                .env("NO_COLOR", "1")
                .env("RUST_LOG", "info")
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            let mut child = command.spawn().expect("start ferryd");
            let log = collect_lines(child.stderr.take().expect("ferryd stderr"));
            let url = format!("http://127.0.0.1:{port}");
            if wait_until_healthy(&mut child, port) {
                return Server { url, child, log };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = log.lock().map(|lines| lines.clone()).unwrap_or_default();
        }
        panic!("ferryd did not start: {last_log:?}")
    }

    /// Kills the process at once, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// What the server logged so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().expect("log lock").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `ferryd` binary beside the test binaries (`target/<profile>/ferryd`),
/// built by `cargo test --workspace --all-targets`.
fn ferryd_binary() -> PathBuf {
    let test_binary = std::env::current_exe().expect("the test binary's path");
    let profile = test_binary
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let ferryd = profile.join(format!("ferryd{}", std::env::consts::EXE_SUFFIX));
    assert!(
        ferryd.exists(),
        "{} is missing: build it with `cargo build -p ferry --bin ferryd` \
         (scripts/test.sh does)",
        ferryd.display()
    );
    ferryd
}

/// An HS256 token for `sub`, valid for an hour, from `ferryd token`
/// signed with `secret` (the server's `FERRY_JWT_SECRET`).
pub fn token(secret: &str, sub: &str) -> String {
    let output = Command::new(ferryd_binary())
        .env_clear()
        .env("FERRY_JWT_SECRET", secret)
        .args(["token", "--sub", sub, "--ttl", "1h"])
        .output()
        .expect("run ferryd token");
    assert!(
        output.status.success(),
        "ferryd token failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("a token is text")
        .trim()
        .to_owned()
}

/// A port nothing listens on now; the server is started on it at once.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// Reads a child's output into lines kept for the test to show.
fn collect_lines(output: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let lines = Arc::clone(&log);
    thread::spawn(move || {
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            lines.lock().expect("log lock").push(strip_ansi(&line));
        }
    });
    log
}

/// Polls `/healthz` until it answers 200; `false` once the child has exited
/// (its port was taken) or a minute went by.
fn wait_until_healthy(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return false;
        }
        if healthz_answers(port) {
            return true;
        }
        thread::sleep(Duration::from_millis(10));
    }
    false
}

fn healthz_answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    let mut answer = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}

fn strip_ansi(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for end in chars.by_ref() {
                if end.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// The `ferry` binary, talking to `server`, with no token or retry settings
/// from the environment.
pub fn ferry(server: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
    command
        .env_remove("FERRY_TOKEN")
        .env_remove("FERRY_ALLOW_INSECURE_TOKEN")
        .env_remove("FERRY_RETRIES")
        .env("FERRY_SERVER", server)
        .stdin(Stdio::null());
    command
}

/// Runs a command to its end.
pub fn run(command: &mut Command) -> Output {
    command.output().expect("run ferry")
}

/// Runs a command that must succeed and answers its JSON lines.
pub fn run_json(command: &mut Command) -> Vec<Value> {
    let output = run(command);
    assert!(
        output.status.success(),
        "ferry failed with {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    json_lines(&output)
}

/// The JSON objects a command printed, one a line.
pub fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect()
}

/// A field of a JSON report as a number.
pub fn number(report: &Value, field: &str) -> u64 {
    report[field]
        .as_u64()
        .unwrap_or_else(|| panic!("no {field} in {report}"))
}

/// Uploads `file` in 64 KiB chunks and answers its JSON report.
pub fn upload(server: &str, file: &Path) -> Value {
    let mut reports = run_json(
        ferry(server)
            .args(["upload", "--json", "--chunk-size", "64KiB"])
            .arg(file),
    );
    assert_eq!(reports.len(), 1);
    reports.remove(0)
}

/// The server's view of an upload, through `ferry status --json`; `None`
/// while it has no session for the hash.
pub fn status(server: &str, sha256: &str) -> Option<Value> {
    let output = run(ferry(server).args(["status", "--json", sha256]));
    output
        .status
        .success()
        .then(|| json_lines(&output).into_iter().next())
        .flatten()
}

/// Polls `probe` until it answers, failing the test after a minute.
pub fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(answer) = probe() {
            return answer;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the server holds some of the upload's bytes; answers how many.
pub fn wait_for_received_bytes(server: &str, sha256: &str) -> u64 {
    wait_for("the server to receive chunks", || {
        status(server, sha256)
            .map(|report| number(&report, "received_bytes"))
            .filter(|&bytes| bytes > 0)
    })
}

/// Writes `size` pseudo-random bytes to `folder/name`; answers the path,
/// the bytes and their SHA-256.
pub fn random_file(
    folder: &Path,
    name: &str,
    size: usize,
    seed: u64,
) -> (PathBuf, Vec<u8>, String) {
    let mut bytes = vec![0; size];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut bytes);
    let path = folder.join(name);
    std::fs::write(&path, &bytes).expect("write the test file");
    let sha256 = hex::encode(Sha256::digest(&bytes));
    (path, bytes, sha256)
}

/// Kills a child and reaps it.
pub fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The partial file a download of `sha256` to `saved` resumes: `saved.<16 hex>.part`.
pub fn part_path(saved: &Path, sha256: &str) -> PathBuf {
    let mut name = saved.as_os_str().to_owned();
    name.push(format!(".{}.part", &sha256[..16]));
    PathBuf::from(name)
}
