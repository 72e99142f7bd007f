//! `/readyz` follows the stores: a ferryd whose database or object store
//! is cut away answers 503 with the reason, and 200 again once it returns.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::{Instance, PATIENCE};
use crate::databases::{Backend, TestDatabase};
use crate::s3_server::S3Server;

/// A TCP link to one upstream that can be cut, as a failed network or a
/// database fail-over cuts it, and restored.
struct Link {
    /// `host:port` to connect to instead of the upstream.
    address: String,
    open: watch::Sender<bool>,
}

impl Link {
    async fn start(upstream: String) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let address = listener.local_addr().expect("an address").to_string();
        let (open, _) = watch::channel(true);
        let watching = open.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !*watching.borrow() {
                    let _ = client.shutdown().await;
                    continue;
                }
                let mut open = watching.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = open.wait_for(|open| !*open) => {}
                    }
                });
            }
        });
        Link { address, open }
    }

    /// Drops every connection through the link and refuses new ones.
    fn cut(&self) {
        self.open.send_replace(false);
    }

    fn restore(&self) {
        self.open.send_replace(true);
    }
}

/// Runs `ferryd probe` against the instance, as a container health check
/// does; answers whether it succeeded.
fn probe_succeeds(instance: &Instance) -> bool {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ferryd"))
        .env_clear()
        .env("FERRY_BIND", instance.url.trim_start_matches("http://"))
        .arg("probe")
        .output()
        .expect("ferryd probe runs");
    output.status.success()
}

/// Asks `/readyz` until it answers `status`; returns the last body.
async fn wait_for_readiness(
    client: &reqwest::Client,
    instance: &Instance,
    status: StatusCode,
) -> Value {
    let started = Instant::now();
    loop {
        let answer = client.get(instance.url("/readyz")).send().await.unwrap();
        let answered = answer.status();
        let body: Value = answer.json().await.unwrap();
        if answered == status {
            return body;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "/readyz never answered {status}; last {answered} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_turns_503_without_a_store_and_200_when_it_returns() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let s3 = S3Server::shared();
    let bucket = s3.new_bucket().await;
    let mut database_url = url::Url::parse(&database.url).unwrap();
    let database_link = Link::start(format!(
        "{}:{}",
        database_url.host_str().unwrap(),
        database_url.port().unwrap_or(5432)
    ))
    .await;
    let (host, port) = database_link.address.split_once(':').unwrap();
    database_url.set_host(Some(host)).unwrap();
    database_url.set_port(Some(port.parse().unwrap())).unwrap();
    let store_link = Link::start(s3.endpoint.trim_start_matches("http://").to_owned()).await;
    let store_endpoint = format!("http://{}", store_link.address);
    let instance = Instance::start_with(
        &database,
        &bucket,
        &[
            ("DATABASE_URL", database_url.as_str()),
            ("FERRY_S3_ENDPOINT", &store_endpoint),
        ],
    );
    let client = reqwest::Client::new();
    wait_for_readiness(&client, &instance, StatusCode::OK).await;
    assert!(probe_succeeds(&instance));

    database_link.cut();
    let refusal = wait_for_readiness(&client, &instance, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        !probe_succeeds(&instance),
        "the probe passed while not ready"
    );
    assert_eq!(refusal["code"], "unavailable");
    let reason = refusal["message"].as_str().unwrap();
    assert!(
        reason.contains("database") && !reason.contains("object store"),
        "{reason}"
    );
    let health = client.get(instance.url("/healthz")).send().await.unwrap();
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "the process is still alive"
    );
    database_link.restore();
    wait_for_readiness(&client, &instance, StatusCode::OK).await;

    store_link.cut();
    let refusal = wait_for_readiness(&client, &instance, StatusCode::SERVICE_UNAVAILABLE).await;
    let reason = refusal["message"].as_str().unwrap();
    assert!(
        reason.contains("object store") && !reason.contains("database"),
        "{reason}"
    );
    store_link.restore();
    wait_for_readiness(&client, &instance, StatusCode::OK).await;
}
