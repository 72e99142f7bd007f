//! A real S3-compatible server on loopback, for the tests of `s3://` stores:
//! moto's server, from the Python environment `scripts/test.sh` installs
//! into `target/test-tools/s3` (or the Python that `FERRY_TEST_MOTO_PYTHON`
//! names). One server serves every test of a test binary, each test in
//! buckets of its own; it stops when the test binary exits.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use ferry::blob::{BlobStore, S3Options};
use secrecy::SecretString;

/// Runs moto's server and exits as soon as the process that started it is gone.
const SERVE_UNTIL_ORPHANED: &str = "
import os, sys, threading, time
from moto.server import main
parent = os.getppid()
def watch():
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
main(sys.argv[1:])
";

/// A running S3 server.
pub struct S3Server {
    _child: Mutex<Child>,
    /// Its endpoint, `http://127.0.0.1:PORT`.
    pub endpoint: String,
    client: reqwest::Client,
}

fn moto_python() -> PathBuf {
    if let Some(path) = std::env::var_os("FERRY_TEST_MOTO_PYTHON") {
        return PathBuf::from(path);
    }
    let installed =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/s3/bin/python3");
    assert!(
        installed.exists(),
        "no S3 server for the s3:// tests: run scripts/test.sh, which installs moto's server \
         into target/test-tools/s3, or set FERRY_TEST_MOTO_PYTHON to a Python with moto[server]"
    );
    installed
}

impl S3Server {
    /// The server of this test binary, started on first use.
    pub fn shared() -> &'static S3Server {
        static SHARED: OnceLock<S3Server> = OnceLock::new();
        SHARED.get_or_init(S3Server::start)
    }

    fn start() -> S3Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(moto_python())
            .args(["-c", SERVE_UNTIL_ORPHANED, "-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto's server starts");
        let address = format!("127.0.0.1:{port}");
        let answered = (0..600).any(|_| {
            let up = TcpStream::connect(&address).is_ok();
            if !up {
                std::thread::sleep(Duration::from_millis(50));
            }
            up
        });
        assert!(answered, "the S3 server did not answer on {address}");
        S3Server {
            _child: Mutex::new(child),
            endpoint: format!("http://{address}"),
            client: reqwest::Client::new(),
        }
    }

    /// Creates an empty bucket with a fresh name, and returns the name.
    pub async fn new_bucket(&self) -> String {
        let name = format!("ferry-{}", uuid::Uuid::new_v4().simple());
        let answer = self
            .client
            .put(format!("{}/{name}", self.endpoint))
            .send()
            .await
            .expect("the S3 server answers");
        assert!(answer.status().is_success(), "creating bucket {name}");
        name
    }

    /// The options ferry reaches this server with.
    pub fn options(&self) -> S3Options {
        S3Options {
            access_key_id: Some("ferry-test".to_owned()),
            secret_access_key: Some(SecretString::from("ferry-test-secret")),
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".to_owned()),
            ..S3Options::default()
        }
    }

    /// Opens `s3://<bucket>/<prefix>` on this server as ferry does.
    pub fn store(&self, bucket: &str, prefix: &str) -> BlobStore {
        BlobStore::open_with(&format!("s3://{bucket}/{prefix}"), &self.options())
            .expect("an s3:// store")
    }

    /// Every key in a bucket, prefix included.
    pub async fn keys(&self, bucket: &str) -> Vec<String> {
        let listing = self.get_xml(&format!("{bucket}?list-type=2")).await;
        elements(&listing, "Key")
    }

    /// The multipart uploads started in a bucket and neither completed nor aborted.
    pub async fn unfinished_uploads(&self, bucket: &str) -> Vec<String> {
        let listing = self.get_xml(&format!("{bucket}?uploads")).await;
        elements(&listing, "UploadId")
    }

    /// The parts stored so far of every unfinished multipart upload.
    pub async fn unfinished_parts(&self, bucket: &str) -> usize {
        let listing = self.get_xml(&format!("{bucket}?uploads")).await;
        let uploads = elements(&listing, "Key")
            .into_iter()
            .zip(elements(&listing, "UploadId"));
        let mut parts = 0;
        for (key, upload_id) in uploads {
            let listing = self
                .get_xml(&format!("{bucket}/{key}?uploadId={upload_id}"))
                .await;
            parts += elements(&listing, "PartNumber").len();
        }
        parts
    }

    async fn get_xml(&self, path: &str) -> String {
        let answer = self
            .client
            .get(format!("{}/{path}", self.endpoint))
            .send()
            .await
            .expect("the S3 server answers");
        assert!(answer.status().is_success(), "GET {path}");
        answer.text().await.expect("an XML listing")
    }
}

/// The texts of every `<name>` element in an XML document.
fn elements(xml: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(text, _)| text.to_owned()))
        .collect()
}
