//! Several `ferryd` processes over one PostgreSQL database and one bucket on
//! a real S3-compatible server, as instances behind a load balancer run:
//! chunks spread across them, completes racing, an instance killed in the
//! middle of a merge, and an instance told to stop while it works.

#[allow(dead_code, reason = "shared with the API tests, which use all of it")]
#[path = "../common/databases.rs"]
mod databases;
#[path = "../common/listing.rs"]
mod listing;
#[allow(dead_code, reason = "shared with the API tests, which use all of it")]
#[path = "../common/receiver.rs"]
mod receiver;
#[allow(dead_code, reason = "shared with the API tests, which use all of it")]
#[path = "../common/s3_server.rs"]
mod s3_server;

mod compose_kill;
mod cut_chunks;
mod instance;
mod logs;
mod move_parts;
#[path = "../common/parts_layout.rs"]
mod parts_layout;
mod readiness;
mod store_binding;
mod webhooks;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Connection;
use sqlx::postgres::PgConnection;

use databases::{Backend, TestDatabase};
use instance::Instance;
use listing::files_among;
use s3_server::S3Server;

/// Longest wait for anything in these tests.
const PATIENCE: Duration = Duration::from_secs(60);
/// Chunk size the tests upload with.
const CHUNK: usize = 1 << 20;
/// Chunk size of the uploads whose merge a test interrupts: the smallest
/// the instances take, so that a merge has many parts to copy.
const MERGE_CHUNK: usize = 64 << 10;

fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn hex_sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Creates the session at the first instance and sends the chunks of `data`,
/// round-robin across `instances`.
async fn send_everywhere(
    client: &reqwest::Client,
    instances: &[&Instance],
    data: &[u8],
    chunk_size: usize,
) {
    let sha = hex_sha256(data);
    let created = client
        .post(instances[0].url("/v1/uploads"))
        .json(&json!({"sha256": sha, "size": data.len(), "chunk_size": chunk_size}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let sends = data.chunks(chunk_size).enumerate().map(|(index, chunk)| {
        let url =
            instances[index % instances.len()].url(&format!("/v1/uploads/{sha}/chunks/{index}"));
        let request = client.put(url).body(chunk.to_vec()).send();
        async move {
            let answer = request.await.unwrap();
            assert_eq!(answer.status(), StatusCode::OK, "chunk {index}");
        }
    });
    join_all(sends).await;
}

/// Asks every one of `instances` at once to complete the upload of `sha`;
/// each answers 202 (merging) or 200 (published).
async fn complete_at_once(client: &reqwest::Client, instances: &[&Instance], sha: &str) {
    let completes = join_all(instances.iter().map(|instance| {
        client
            .post(instance.url(&format!("/v1/uploads/{sha}/complete")))
            .send()
    }))
    .await;
    for answer in completes {
        let status = answer.unwrap().status();
        assert!(
            status == StatusCode::ACCEPTED || status == StatusCode::OK,
            "{status}"
        );
    }
}

/// Merge leases held in the database now.
async fn leases(database: &TestDatabase) -> i64 {
    let mut connection = PgConnection::connect(&database.url).await.unwrap();
    sqlx::query_scalar("SELECT count(*) FROM merges")
        .fetch_one(&mut connection)
        .await
        .unwrap()
}

/// The state of the session for `sha` in the database.
async fn session_status(database: &TestDatabase, sha: &str) -> String {
    let mut connection = PgConnection::connect(&database.url).await.unwrap();
    sqlx::query_scalar("SELECT status FROM uploads WHERE sha256 = $1")
        .bind(sha)
        .fetch_one(&mut connection)
        .await
        .unwrap()
}

async fn wait_for_a_lease(database: &TestDatabase) {
    let started = Instant::now();
    while leases(database).await == 0 {
        assert!(started.elapsed() < PATIENCE, "no merge took its lease");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The upload's state as `instance` reports it.
async fn status(client: &reqwest::Client, instance: &Instance, sha: &str) -> String {
    let progress: Value = client
        .get(instance.url(&format!("/v1/uploads/{sha}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    progress["status"].as_str().unwrap_or_default().to_owned()
}

async fn wait_until_complete(client: &reqwest::Client, instance: &Instance, sha: &str) {
    let started = Instant::now();
    while status(client, instance, sha).await != "complete" {
        assert!(
            started.elapsed() < PATIENCE,
            "the upload was never published"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn downloaded(client: &reqwest::Client, instance: &Instance, sha: &str) -> Vec<u8> {
    let answer = client
        .get(instance.url(&format!("/v1/files/{sha}")))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    answer.bytes().await.unwrap().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_whose_instances_are_killed_is_finished_by_another() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let s3 = S3Server::shared();
    let bucket = s3.new_bucket().await;
    let parts_of_5mib = [("FERRY_S3_PART_SIZE", "5MiB")];
    let mut first = Instance::start_with(&database, &bucket, &parts_of_5mib);
    let mut second = Instance::start_with(&database, &bucket, &parts_of_5mib);
    let third = Instance::start(&database, &bucket);
    let client = reqwest::Client::new();
    let data = random_bytes(8 << 20, 1);
    let sha = hex_sha256(&data);
    send_everywhere(&client, &[&first, &second, &third], &data, MERGE_CHUNK).await;

    complete_at_once(&client, &[&first, &second], &sha).await;
    wait_for_a_lease(&database).await;
    let one_object = format!("ferry/files/sha256/{sha}");
    let started = Instant::now();
    while s3.unfinished_uploads(&bucket).await.is_empty() {
        assert!(
            started.elapsed() < PATIENCE,
            "the merge never began writing the file's object"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill();
    second.kill();
    assert_eq!(
        session_status(&database, &sha).await,
        "merging",
        "the merge was cut off before it published"
    );
    wait_until_complete(&client, &third, &sha).await;
    assert_eq!(downloaded(&client, &third, &sha).await, data);
    assert_eq!(leases(&database).await, 0);
    let _sweeper = Instance::start(&database, &bucket);
    let started = Instant::now();
    loop {
        let keys = files_among(&s3.keys(&bucket).await);
        let notes = keys
            .iter()
            .filter(|key| key.starts_with("ferry/multipart/"));
        let files: Vec<&String> = keys
            .iter()
            .filter(|key| !key.starts_with("ferry/multipart/"))
            .collect();
        if files == [&one_object] {
            let unfinished = s3.unfinished_uploads(&bucket).await;
            assert_eq!(
                notes.count(),
                unfinished.len(),
                "every upload the killed merges left is noted, for the leftover listing to abort"
            );
            break;
        }
        assert!(started.elapsed() < PATIENCE, "the sweep left {keys:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_instance_closes_idle_connections_answers_its_chunk_and_hands_its_merge_back() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let s3 = S3Server::shared();
    let bucket = s3.new_bucket().await;
    let mut stopping = Instance::start(&database, &bucket);
    let client = reqwest::Client::new();
    let merged = random_bytes(8 << 20, 2);
    let merged_sha = hex_sha256(&merged);
    send_everywhere(&client, &[&stopping], &merged, MERGE_CHUNK).await;
    let pending = random_bytes(2 * CHUNK, 3);
    let pending_sha = hex_sha256(&pending);
    let created = client
        .post(stopping.url("/v1/uploads"))
        .json(&json!({"sha256": pending_sha, "size": pending.len(), "chunk_size": CHUNK}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let address = stopping.url.trim_start_matches("http://").to_owned();
    let mut in_flight = TcpStream::connect(&address).unwrap();
    in_flight.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        in_flight,
        "PUT /v1/uploads/{pending_sha}/chunks/0 HTTP/1.1\r\nHost: ferry\r\n\
         Content-Length: {CHUNK}\r\n\r\n"
    )
    .unwrap();
    in_flight.write_all(&pending[..CHUNK / 2]).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let answer = client
        .post(stopping.url(&format!("/v1/uploads/{merged_sha}/complete")))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::ACCEPTED);
    wait_for_a_lease(&database).await;
    let mut idle = TcpStream::connect(&address).unwrap();
    idle.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(idle, "GET /healthz HTTP/1.1\r\nHost: ferry\r\n\r\n").unwrap();
    assert!(read_one_response(&mut idle).starts_with("HTTP/1.1 200"));

    let terminating = std::thread::spawn(move || {
        let status = stopping.terminate();
        (stopping, status)
    });
    let started = Instant::now();
    while TcpStream::connect(&address).is_ok() {
        assert!(
            started.elapsed() < PATIENCE,
            "ferryd still accepts connections"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut rest = Vec::new();
    idle.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "an idle connection got {rest:?}");
    in_flight.write_all(&pending[CHUNK / 2..CHUNK]).unwrap();
    let mut answer = String::new();
    in_flight.read_to_string(&mut answer).unwrap();
    let (stopped, status) = terminating.join().unwrap();

    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "{answer} {status}\n{}",
        stopped.log().join("\n")
    );
    assert!(status.success(), "ferryd exited with {status}");
    assert_eq!(
        leases(&database).await,
        0,
        "the merge lease was handed back"
    );
    assert_eq!(
        session_status(&database, &merged_sha).await,
        "merging",
        "the merge was handed back, not finished"
    );
    assert_eq!(s3.unfinished_uploads(&bucket).await, Vec::<String>::new());
    let parts = format!("ferry/files/{merged_sha}/");
    let keys = s3.keys(&bucket).await;
    assert!(
        !keys.iter().any(|key| key.starts_with(&parts)),
        "the merge handed back removed its parts: {keys:?}"
    );
    let successor = Instance::start(&database, &bucket);
    wait_until_complete(&client, &successor, &merged_sha).await;
    assert_eq!(downloaded(&client, &successor, &merged_sha).await, merged);
    let progress: Value = client
        .get(successor.url(&format!("/v1/uploads/{pending_sha}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(progress["received_chunks"], json!([[0, 0]]));
}

/// Reads one response with a `Content-Length` body from a kept-alive
/// connection, leaving the connection open.
fn read_one_response(connection: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        let read = connection.read(&mut buffer).unwrap();
        assert_ne!(read, 0, "the connection closed mid-response: {received:?}");
        received.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&received).into_owned();
        let Some(head_end) = text.find("\r\n\r\n") else {
            continue;
        };
        let length: usize = text[..head_end]
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().unwrap())
            })
            .unwrap_or(0);
        if received.len() >= head_end + 4 + length {
            return text;
        }
    }
}
