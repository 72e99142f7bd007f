//! One `ferryd` process of the tests: started on a free port with the
//! environment it is given, its log collected, killed or told to stop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use secrecy::ExposeSecret;

use super::PATIENCE;
use crate::databases::TestDatabase;
use crate::s3_server::S3Server;

/// One `ferryd` process.
pub(crate) struct Instance {
    pub(crate) url: String,
    pub(crate) child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Instance {
    /// Starts ferryd over `database` and `bucket`, once it listens.
    pub(crate) fn start(database: &TestDatabase, bucket: &str) -> Instance {
        Instance::start_with(database, bucket, &[])
    }

    /// Starts ferryd with extra environment.
    pub(crate) fn start_with(
        database: &TestDatabase,
        bucket: &str,
        env: &[(&str, &str)],
    ) -> Instance {
        let s3 = S3Server::shared();
        let options = s3.options();
        let secret = options.secret_access_key.unwrap();
        let mut settings = vec![
            ("DATABASE_URL", database.url.clone()),
            ("FERRY_STORE", format!("s3://{bucket}/ferry")),
            ("FERRY_S3_ENDPOINT", s3.endpoint.clone()),
            ("FERRY_S3_REGION", "us-east-1".to_owned()),
            ("FERRY_S3_ACCESS_KEY_ID", options.access_key_id.unwrap()),
            (
                "FERRY_S3_SECRET_ACCESS_KEY",
                secret.expose_secret().to_owned(),
            ),
            ("FERRY_MIN_CHUNK_SIZE", "64KiB".to_owned()),
            ("FERRY_MERGE_WAIT", "0s".to_owned()),
            ("FERRY_MERGE_LEASE", "2s".to_owned()),
            ("FERRY_SWEEP_INTERVAL", "300ms".to_owned()),
            ("FERRY_SHUTDOWN_GRACE", "10s".to_owned()),
        ];
        settings.extend(env.iter().map(|(name, value)| (*name, (*value).to_owned())));
        Instance::spawn(&settings)
    }

    /// Starts ferryd over the SQLite database `database` and the folder
    /// `store`, once it listens.
    pub(crate) fn start_local(database: &std::path::Path, store: &std::path::Path) -> Instance {
        Instance::start_local_with(database, store, &[])
    }

    /// Starts ferryd over a SQLite database and a folder, with extra
    /// environment.
    pub(crate) fn start_local_with(
        database: &std::path::Path,
        store: &std::path::Path,
        env: &[(&str, &str)],
    ) -> Instance {
        let mut settings = vec![
            ("DATABASE_URL", format!("sqlite://{}", database.display())),
            ("FERRY_STORE", store.display().to_string()),
            ("FERRY_SWEEP_INTERVAL", "50ms".to_owned()),
        ];
        settings.extend(env.iter().map(|(name, value)| (*name, (*value).to_owned())));
        Instance::spawn(&settings)
    }

    /// Starts ferryd on a free port with `settings` as its whole
    /// environment, once it listens.
    fn spawn(settings: &[(&str, String)]) -> Instance {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferryd"))
            .env_clear()
            .env("FERRY_BIND", format!("127.0.0.1:{port}"))
            // Every client of these tests is on loopback, as behind a balancer.
            .env("FERRY_MAX_CONNECTIONS_PER_ADDRESS", "0")
            .env("RUST_LOG", "warn")
            .envs(settings.iter().map(|(name, value)| (*name, value.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ferryd starts");
        let log = collect_lines(child.stderr.take().expect("ferryd's stderr"));
        let instance = Instance {
            url: format!("http://127.0.0.1:{port}"),
            child,
            log,
        };
        instance.wait_until_listening(port);
        instance
    }

    /// Waits until ferryd answers a request: only then are its signal
    /// handlers in place, so that a TERM right after is a graceful stop.
    fn wait_until_listening(&self, port: u16) {
        let address = format!("127.0.0.1:{port}");
        let started = Instant::now();
        while !answers(&address) {
            assert!(started.elapsed() < PATIENCE, "ferryd did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The lines logged so far.
    pub(crate) fn log(&self) -> Vec<String> {
        self.log.lock().clone()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Kills the process at once, as a crash or an evicted pod would end.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Tells the process to stop, as Kubernetes does, and waits for its exit.
    pub(crate) fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("the exit status") {
                return status;
            }
            assert!(started.elapsed() < PATIENCE, "ferryd did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether a server at `address` answers `GET /healthz` with a status line.
fn answers(address: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(address) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = b"GET /healthz HTTP/1.1\r\nHost: ferry\r\nConnection: close\r\n\r\n";
    let mut head = [0u8; 12];
    stream.write_all(request).is_ok()
        && stream.read_exact(&mut head).is_ok()
        && head.starts_with(b"HTTP/1.1 ")
}

/// Reads a child's output into lines, for as long as it writes.
fn collect_lines(output: impl Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let kept = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            kept.lock().push(line);
        }
    });
    lines
}
