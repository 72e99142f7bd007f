//! A real S3-compatible server on loopback, for the tests of `s3://` stores:
//! moto's server, from the Python environment `scripts/test.sh` installs
//! into `target/test-tools/s3`, or the `moto_server` that
//! `FERRY_TEST_MOTO_SERVER` names.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ferry::blob::{BlobStore, S3Options};
use secrecy::SecretString;

/// A running S3 server, stopped when dropped.
pub struct S3Server {
    child: Child,
    /// Its endpoint, `http://127.0.0.1:PORT`.
    pub endpoint: String,
    client: reqwest::Client,
}

fn moto_server() -> PathBuf {
    if let Some(path) = std::env::var_os("FERRY_TEST_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let installed =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/s3/bin/moto_server");
    assert!(
        installed.exists(),
        "no S3 server for the s3:// tests: run scripts/test.sh, which installs moto's server \
         into target/test-tools/s3, or set FERRY_TEST_MOTO_SERVER"
    );
    installed
}

impl S3Server {
    /// Starts a server on a free loopback port and waits until it answers.
    pub async fn start() -> S3Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        for _ in 0..300 {
            if server.client.get(&server.endpoint).send().await.is_ok() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the S3 server did not answer on {}", server.endpoint);
    }

    /// Creates an empty bucket named `name`.
    pub async fn create_bucket(&self, name: &str) {
        let answer = self
            .client
            .put(format!("{}/{name}", self.endpoint))
            .send()
            .await
            .expect("the S3 server answers");
        assert!(answer.status().is_success(), "creating bucket {name}");
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

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
