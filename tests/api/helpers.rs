//! The real server on a free port, with its own database and store, for one test.

use std::sync::Arc;
use std::time::Duration;

use ferry::blob::BlobStore;
use ferry::config::Settings;
use ferry::startup::Application;
use ferry::upload::Uploads;
use object_store::ObjectStore;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::databases::{self, TestDatabase};
use crate::s3_server::S3Server;

/// The stores a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite with a local-disk store.
    Sqlite,
    /// PostgreSQL with the in-memory store.
    Postgres,
    /// PostgreSQL with a bucket on a real S3-compatible server.
    PostgresS3,
}

impl Backend {
    fn database(self) -> databases::Backend {
        match self {
            Backend::Sqlite => databases::Backend::Sqlite,
            Backend::Postgres | Backend::PostgresS3 => databases::Backend::Postgres,
        }
    }
}

/// A running server and what a test needs to talk to it.
#[derive(Clone)]
pub struct TestApp {
    pub address: String,
    /// `http://host:port` of the admin address, when the settings name one.
    pub admin: Option<String>,
    pub client: reqwest::Client,
    pub uploads: Uploads,
    pub blobs: BlobStore,
    store_folder: Option<Arc<tempfile::TempDir>>,
    pub meta: Arc<dyn ferry::meta::MetaStore>,
    _database: Arc<TestDatabase>,
}

/// Settings for tests: small chunks allowed, everything else default.
pub fn test_settings() -> Settings {
    let mut settings = Settings::defaults();
    settings.bind = "127.0.0.1:0".parse().expect("an address");
    settings.min_chunk_size = 1024;
    settings.max_chunk_size = 8 << 20;
    settings.default_chunk_size = 64 << 10;
    settings.max_file_size = 1 << 30;
    settings.max_chunks = 10_000;
    settings.direct_upload_max = 1 << 20;
    settings.merge_wait = Duration::from_secs(20);
    settings.sweep_interval = Duration::from_secs(3600);
    settings
}

/// Starts a server against `backend`: SQLite with a local-disk store, or
/// PostgreSQL with the in-memory store.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Starts a server after letting the test adjust its settings.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_wrapped(backend, adjust, |store| store).await
}

/// Starts a server as [`spawn_app_with`] does, its object store wrapped
/// by `wrap` (a store that injects faults).
pub async fn spawn_app_wrapped(
    backend: Backend,
    adjust: impl FnOnce(&mut Settings),
    wrap: impl FnOnce(Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore>,
) -> TestApp {
    let mut settings = test_settings();
    adjust(&mut settings);
    let database = Arc::new(TestDatabase::create(backend.database()).await);
    let (blobs, store_folder) = match backend {
        Backend::Sqlite => {
            let folder = tempfile::tempdir().expect("a store folder");
            let blobs = BlobStore::open(&folder.path().display().to_string()).expect("a store");
            (blobs, Some(Arc::new(folder)))
        }
        Backend::Postgres => (BlobStore::open("memory://").expect("a store"), None),
        Backend::PostgresS3 => {
            let s3 = S3Server::shared();
            (s3.store(&s3.new_bucket().await, "ferry"), None)
        }
    };
    start(settings, database, blobs.wrapped(wrap), store_folder).await
}

/// Starts a server against `backend`'s database over the given object store.
pub async fn spawn_app_over(
    backend: Backend,
    blobs: BlobStore,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = test_settings();
    adjust(&mut settings);
    let database = Arc::new(TestDatabase::create(backend.database()).await);
    start(settings, database, blobs, None).await
}

/// Starts `count` instances sharing one PostgreSQL database and one
/// local-disk store, as instances behind a load balancer do.
pub async fn spawn_cluster(count: usize) -> Vec<TestApp> {
    let folder = Arc::new(tempfile::tempdir().expect("a store folder"));
    let location = folder.path().display().to_string();
    let store = move || BlobStore::open(&location).expect("a store");
    spawn_cluster_over(count, store, Some(folder)).await
}

/// Starts `count` instances as [`spawn_cluster`] does, each after letting
/// the test adjust its settings.
pub async fn spawn_cluster_with(count: usize, adjust: impl Fn(&mut Settings)) -> Vec<TestApp> {
    let folder = Arc::new(tempfile::tempdir().expect("a store folder"));
    let location = folder.path().display().to_string();
    let database = Arc::new(TestDatabase::create(databases::Backend::Postgres).await);
    let mut instances = Vec::new();
    for _ in 0..count {
        let mut settings = test_settings();
        adjust(&mut settings);
        let blobs = BlobStore::open(&location).expect("a store");
        instances.push(start(settings, database.clone(), blobs, Some(folder.clone())).await);
    }
    instances
}

/// Starts `count` instances sharing one PostgreSQL database, each with its
/// own handle on the object store `store` opens.
pub async fn spawn_cluster_over(
    count: usize,
    store: impl Fn() -> BlobStore,
    store_folder: Option<Arc<tempfile::TempDir>>,
) -> Vec<TestApp> {
    let database = Arc::new(TestDatabase::create(databases::Backend::Postgres).await);
    let mut instances = Vec::new();
    for _ in 0..count {
        let app = start(
            test_settings(),
            database.clone(),
            store(),
            store_folder.clone(),
        )
        .await;
        instances.push(app);
    }
    instances
}

async fn start(
    settings: Settings,
    database: Arc<TestDatabase>,
    blobs: BlobStore,
    store_folder: Option<Arc<tempfile::TempDir>>,
) -> TestApp {
    let meta = database.meta().await;
    let app = Application::build_with(settings, meta.clone(), blobs.clone())
        .await
        .expect("the server builds");
    let address = format!("http://{}", app.address());
    let admin = app.admin_address().map(|admin| format!("http://{admin}"));
    let uploads = app.uploads().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        admin,
        client: reqwest::Client::new(),
        uploads,
        blobs,
        store_folder,
        meta,
        _database: database,
    }
}

/// The HS256 secret of servers started with [`with_tokens`].
pub const JWT_SECRET: &str = "a test secret of at least thirty-two bytes";

/// Turns authentication on with the HS256 secret [`JWT_SECRET`].
pub fn with_tokens(settings: &mut Settings) {
    settings.security.jwt_secret = Some(JWT_SECRET.to_owned().into());
}

/// A valid HS256 token for owner `sub`, signed with [`JWT_SECRET`].
pub fn token_for(sub: &str) -> String {
    ferry::access::issue_hs256(
        JWT_SECRET.as_bytes(),
        sub,
        Duration::from_secs(600),
        std::time::SystemTime::now(),
    )
}

/// Hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The proof a holder of `data` answers a `proof_challenge` with: the hex
/// SHA-256 of the challenged ranges' bytes, in order.
pub fn proof_for(data: &[u8], challenge: &Value) -> String {
    let mut pieces = Vec::new();
    for range in challenge["ranges"].as_array().expect("ranges") {
        let first = range[0].as_u64().expect("a first byte") as usize;
        let last = range[1].as_u64().expect("a last byte") as usize;
        pieces.extend_from_slice(&data[first..=last]);
    }
    sha256_hex(&pieces)
}

/// Deterministic bytes that differ from chunk to chunk.
pub fn test_bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64).wrapping_mul(2_654_435_761).rotate_left(7) as u8 ^ seed)
        .collect()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The same server, spoken to with `Authorization: Bearer <token>` on
    /// every request, so every helper acts as that token's owner.
    pub fn as_bearer(&self, token: &str) -> TestApp {
        let mut headers = reqwest::header::HeaderMap::new();
        let value = format!("Bearer {token}").parse().expect("a header value");
        headers.insert(reqwest::header::AUTHORIZATION, value);
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("a client");
        TestApp {
            client,
            ..self.clone()
        }
    }

    /// The same server, as the owner `sub` with a valid HS256 token.
    pub fn as_owner(&self, sub: &str) -> TestApp {
        self.as_bearer(&token_for(sub))
    }

    /// What is stored: every object key, and the live sessions and staged
    /// bytes of each of `owners`; equal snapshots mean nothing changed.
    pub async fn snapshot(&self, owners: &[&str]) -> Snapshot {
        let mut usage = Vec::new();
        for owner in owners {
            let id = ferry::ids::OwnerId::parse(*owner).expect("an owner id");
            let held = self
                .meta
                .owner_usage(&id, chrono::Utc::now())
                .await
                .expect("owner usage");
            usage.push((owner.to_string(), held.sessions, held.bytes));
        }
        Snapshot {
            keys: self.stored_keys().await,
            usage,
        }
    }

    pub async fn create(&self, body: Value) -> Response {
        self.client
            .post(self.url("/v1/uploads"))
            .json(&body)
            .send()
            .await
            .expect("create answers")
    }

    /// Creates a session for `data` with `chunk_size`, asserting 201.
    pub async fn create_for(&self, data: &[u8], chunk_size: u64) -> Value {
        let response = self
            .create(
                json!({"sha256": sha256_hex(data), "size": data.len(), "chunk_size": chunk_size}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("an upload resource")
    }

    pub async fn put_chunk(
        &self,
        sha256: &str,
        index: impl std::fmt::Display,
        body: Vec<u8>,
    ) -> Response {
        self.client
            .put(self.url(&format!("/v1/uploads/{sha256}/chunks/{index}")))
            .body(body)
            .send()
            .await
            .expect("put chunk answers")
    }

    pub async fn abort(&self, sha256: &str) -> Response {
        self.client
            .delete(self.url(&format!("/v1/uploads/{sha256}")))
            .send()
            .await
            .expect("abort answers")
    }

    /// Sends chunk `index` of `data` cut at `chunk_size`, asserting 200.
    pub async fn send_chunk(&self, data: &[u8], chunk_size: usize, index: usize) -> Value {
        let start = index * chunk_size;
        let end = (start + chunk_size).min(data.len());
        let response = self
            .put_chunk(&sha256_hex(data), index as u64, data[start..end].to_vec())
            .await;
        assert_eq!(response.status(), StatusCode::OK, "chunk {index}");
        response.json().await.expect("a chunk receipt")
    }

    pub async fn complete(&self, sha256: &str) -> Response {
        self.client
            .post(self.url(&format!("/v1/uploads/{sha256}/complete")))
            .send()
            .await
            .expect("complete answers")
    }

    pub async fn progress(&self, sha256: &str) -> Response {
        self.client
            .get(self.url(&format!("/v1/uploads/{sha256}")))
            .send()
            .await
            .expect("progress answers")
    }

    /// Uploads `data` in one request, `PUT /v1/files/{sha256}`.
    pub async fn put_file(&self, sha256: &str, data: &[u8]) -> Response {
        self.client
            .put(self.url(&format!("/v1/files/{sha256}")))
            .body(data.to_vec())
            .send()
            .await
            .expect("the direct upload answers")
    }

    pub async fn download(&self, sha256: &str) -> Response {
        self.client
            .get(self.url(&format!("/v1/files/{sha256}")))
            .send()
            .await
            .expect("download answers")
    }

    /// The body of a download, asserting it answered 200.
    pub async fn downloaded(&self, sha256: &str) -> bytes::Bytes {
        let response = self.download(sha256).await;
        assert_eq!(response.status(), StatusCode::OK, "download of {sha256}");
        response.bytes().await.expect("a download body")
    }

    /// Uploads `data` in chunks of `chunk_size` and completes, asserting success.
    pub async fn upload(&self, data: &[u8], chunk_size: usize) -> Value {
        let created = self.create_for(data, chunk_size as u64).await;
        let count = created["chunk_count"].as_u64().expect("a chunk count") as usize;
        for index in 0..count {
            self.send_chunk(data, chunk_size, index).await;
        }
        let response = self.complete(&sha256_hex(data)).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("an upload resource")
    }

    /// Waits until the server has taken `count` chunks into running
    /// hashes, which it does in the background after answering them.
    pub async fn wait_until_linked(&self, count: u64) {
        let linked = async {
            while scrape(self).await.value("ferry_chunks_linked_total") < count as f64 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(20), linked)
            .await
            .expect("chunks are linked after they are accepted");
    }

    /// The anonymous owner's session for `sha256`, as the database holds it.
    pub async fn anonymous_session(&self, sha256: &str) -> ferry::meta::Session {
        self.meta
            .find_session(&ferry::ids::OwnerId::anonymous(), &sha256.parse().unwrap())
            .await
            .expect("the database answers")
            .expect("the session")
    }

    /// Every object key in the store (either kind) but the store's identity,
    /// for tests that check what is left.
    pub async fn stored_keys(&self) -> Vec<String> {
        let everything_until = chrono::Utc::now() + chrono::Duration::days(1);
        let mut keys: Vec<String> = self
            .blobs
            .list_written_before("", everything_until)
            .await
            .expect("a listable store")
            .iter()
            .map(|key| key.to_string())
            .filter(|key| key != "ferry-store.json")
            .collect();
        keys.sort();
        keys
    }

    /// The file of object `key` on a local store's disk; `None` elsewhere.
    pub fn path_on_disk(&self, key: &str) -> Option<std::path::PathBuf> {
        self.store_folder
            .as_ref()
            .map(|folder| folder.path().join(key))
    }

    /// Every folder and file under `chunks/` of a local store, temporary
    /// files of writes (which listings of the store never show) included.
    pub fn chunk_paths_on_disk(&self) -> Vec<String> {
        let Some(folder) = &self.store_folder else {
            return Vec::new();
        };
        let mut paths = Vec::new();
        let mut pending = vec![folder.path().join("chunks")];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.map(|entry| entry.expect("a folder entry")) {
                let path = entry.path();
                paths.push(
                    path.strip_prefix(folder.path())
                        .unwrap()
                        .display()
                        .to_string(),
                );
                if path.is_dir() {
                    pending.push(path);
                }
            }
        }
        paths.sort();
        paths
    }

    /// Asserts that the store holds no object but its identity.
    pub async fn assert_store_empty(&self) {
        let keys = self.stored_keys().await;
        assert!(keys.is_empty(), "the store still holds {keys:?}");
    }
}

/// What a server holds, as [`TestApp::snapshot`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub keys: Vec<String>,
    pub usage: Vec<(String, u64, u64)>,
}

/// Asserts a 401 `unauthorized` that asks for a bearer token.
pub async fn assert_unauthorized(response: Response) -> Value {
    let challenge = response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .map(|value| value.to_str().expect("an ASCII challenge").to_owned());
    let body = assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(
        challenge
            .as_deref()
            .is_some_and(|value| value.starts_with("Bearer ")),
        "WWW-Authenticate: {challenge:?}"
    );
    body
}

/// Asserts a 429 `too-many-requests` with a `Retry-After` of whole seconds;
/// returns those seconds.
pub async fn assert_too_many(response: Response) -> u64 {
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too-many-requests").await;
    let seconds = retry_after.expect("Retry-After in whole seconds");
    assert!(seconds >= 1, "Retry-After: {seconds}");
    seconds
}

/// Asserts an error answer: its status and contract code; returns its body.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["code"], code, "body: {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    body
}

/// The server's metrics, as Prometheus scrapes them.
pub struct Scrape(pub String);

impl Scrape {
    /// The value of one series (a name with its labels in the order the
    /// server writes them), or 0 when the series does not exist yet.
    pub fn value(&self, series: &str) -> f64 {
        self.0
            .lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .map_or(0.0, |value| {
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("{series}: {value}"))
            })
    }

    /// The count of requests answered on `route` with `method` and `status`.
    pub fn requests(&self, route: &str, method: &str, status: u16) -> f64 {
        self.value(&format!(
            "ferry_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}}"
        ))
    }
}

/// Reads `/metrics` of `app`, checking that it is OpenMetrics text.
/// A chunk PUT of `len` bytes whose body is sent when the test says:
/// answers the sender of its body and the request, running.
pub fn trickled_put(
    app: &TestApp,
    sha256: &str,
    index: usize,
    len: usize,
) -> (
    futures::channel::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
    tokio::task::JoinHandle<reqwest::Response>,
) {
    let (sender, body) = futures::channel::mpsc::channel(4);
    let request = app
        .client
        .put(app.url(&format!("/v1/uploads/{sha256}/chunks/{index}")))
        .header("content-length", len)
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let running = tokio::spawn(async move { request.await.expect("the chunk PUT answers") });
    (sender, running)
}

/// Waits until the metric `series` reaches `at_least`.
pub async fn wait_for_metric(app: &TestApp, series: &str, at_least: f64) {
    let reached = async {
        while scrape(app).await.value(series) < at_least {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), reached)
        .await
        .unwrap_or_else(|_| panic!("{series} never reached {at_least}"));
}

pub async fn scrape(app: &TestApp) -> Scrape {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    Scrape(text)
}
