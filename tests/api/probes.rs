//! Probes and metrics for operators: on their own address when one is set,
//! answered there while the main address is full, and `/readyz` asking the
//! stores at most once however often and however many ask.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use ferry::blob::BlobStore;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::throttle::{ThrottleConfig, ThrottledStore};
use object_store::{
    GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::TcpStream;

use crate::helpers::{Backend, TestApp, scrape, spawn_app_over, spawn_app_with};

/// Longest wait for an answer in these tests.
const PATIENCE: Duration = Duration::from_secs(20);

async fn status_of(app: &TestApp, base: &str, path: &str) -> StatusCode {
    let answer = app
        .client
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("an answer");
    answer.status()
}

#[tokio::test]
async fn with_an_admin_address_probes_and_metrics_are_served_there_and_not_on_the_main_one() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.admin_bind = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let admin = app.admin.clone().expect("an admin address");
    let main = app.address.clone();
    for path in ["/metrics", "/readyz"] {
        let answer = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "main {path}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["code"], "not-found");
    }
    assert_eq!(status_of(&app, &main, "/healthz").await, StatusCode::OK);
    for path in ["/metrics", "/readyz", "/healthz"] {
        assert_eq!(
            status_of(&app, &admin, path).await,
            StatusCode::OK,
            "admin {path}"
        );
    }
    let metrics = app
        .client
        .get(format!("{admin}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.ends_with("# EOF\n"), "{metrics}");
    assert_eq!(
        status_of(&app, &admin, "/v1/uploads/0").await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_admin_address_answers_while_the_main_one_is_full() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.admin_bind = Some("127.0.0.1:0".parse().unwrap());
        settings.security.max_connections = 2;
    })
    .await;
    let main = app.address.trim_start_matches("http://").to_owned();
    let _held = [
        TcpStream::connect(&main).await.unwrap(),
        TcpStream::connect(&main).await.unwrap(),
        TcpStream::connect(&main).await.unwrap(),
    ];
    let admin = app.admin.clone().expect("an admin address");
    let ready = tokio::time::timeout(PATIENCE, status_of(&app, &admin, "/readyz"))
        .await
        .expect("the admin address answers");
    assert_eq!(ready, StatusCode::OK);
}

#[tokio::test]
async fn readiness_asks_the_stores_once_however_many_ask_at_once() {
    let lists = Arc::new(AtomicUsize::new(0));
    let slow = ThrottledStore::new(
        InMemory::new(),
        ThrottleConfig {
            wait_list_per_call: Duration::from_millis(1500),
            ..ThrottleConfig::default()
        },
    );
    let store = Counted {
        inner: Arc::new(slow),
        lists: lists.clone(),
    };
    let blobs = BlobStore::new(Arc::new(store), 5 << 20);
    let app = spawn_app_over(Backend::Postgres, blobs, |_| {}).await;
    let started = async {
        while scrape(&app).await.value("ferry_sweeps_total") < 1.0 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(PATIENCE, started)
        .await
        .expect("the sweep at start ends");
    let before = lists.load(Ordering::SeqCst);
    let asking = (0..20).map(|_| status_of(&app, &app.address, "/readyz"));
    let answers = tokio::time::timeout(PATIENCE, futures::future::join_all(asking))
        .await
        .expect("every /readyz answers");
    assert!(
        answers.iter().all(|status| *status == StatusCode::OK),
        "{answers:?}"
    );
    assert_eq!(lists.load(Ordering::SeqCst) - before, 1);
}

/// An object store that counts the listings of `files`, as readiness makes.
#[derive(Debug)]
struct Counted {
    inner: Arc<dyn ObjectStore>,
    lists: Arc<AtomicUsize>,
}

impl fmt::Display for Counted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counted({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for Counted {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn delete(&self, location: &Path) -> object_store::Result<()> {
        self.inner.delete(location).await
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        if prefix.is_some_and(|prefix| prefix.as_ref() == "files") {
            self.lists.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.inner.copy(from, to).await
    }

    async fn copy_if_not_exists(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.inner.copy_if_not_exists(from, to).await
    }
}
