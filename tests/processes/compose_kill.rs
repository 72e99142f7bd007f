//! A compose inside the bucket cut off by `kill -9`: the instances merging
//! are killed while the file's multipart upload is under way; another
//! takes the merge over and publishes one object, and the leftover sweep
//! aborts the dead instance's upload, so none is left.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;

use super::{
    Instance, MERGE_CHUNK, PATIENCE, S3Server, TestDatabase, complete_at_once, downloaded,
    hex_sha256, random_bytes, send_everywhere, session_status, wait_until_complete,
};
use crate::databases::Backend;

/// Runs `ferryd ARGS` over `database` and `bucket` until it exits.
fn ferryd_on_bucket(database: &TestDatabase, bucket: &str, args: &[&str]) -> Output {
    let s3 = S3Server::shared();
    let options = s3.options();
    let secret = options.secret_access_key.unwrap();
    Command::new(env!("CARGO_BIN_EXE_ferryd"))
        .env_clear()
        .env("FERRY_BIND", "127.0.0.1:0")
        .env("DATABASE_URL", &database.url)
        .env("FERRY_STORE", format!("s3://{bucket}/ferry"))
        .env("FERRY_S3_ENDPOINT", &s3.endpoint)
        .env("FERRY_S3_REGION", "us-east-1")
        .env("FERRY_S3_ACCESS_KEY_ID", options.access_key_id.unwrap())
        .env("FERRY_S3_SECRET_ACCESS_KEY", secret.expose_secret())
        .env("RUST_LOG", "warn")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("ferryd runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compose_cut_off_by_a_kill_is_taken_over_and_its_upload_aborted() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let s3 = S3Server::shared();
    let bucket = s3.new_bucket().await;
    let mut first = Instance::start(&database, &bucket);
    let mut second = Instance::start(&database, &bucket);
    let third = Instance::start(&database, &bucket);
    let client = reqwest::Client::new();
    let data = random_bytes(8 << 20, 9);
    let sha = hex_sha256(&data);
    send_everywhere(&client, &[&first, &second, &third], &data, MERGE_CHUNK).await;

    complete_at_once(&client, &[&first, &second], &sha).await;
    let started = Instant::now();
    loop {
        let noted = s3
            .keys(&bucket)
            .await
            .iter()
            .any(|key| key.starts_with("ferry/multipart/"));
        if noted && !s3.unfinished_uploads(&bucket).await.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the compose never started its upload"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill();
    second.kill();
    assert_eq!(
        session_status(&database, &sha).await,
        "merging",
        "the compose was cut off before it published"
    );

    wait_until_complete(&client, &third, &sha).await;
    assert_eq!(downloaded(&client, &third, &sha).await, data);
    let files: Vec<String> = s3
        .keys(&bucket)
        .await
        .into_iter()
        .filter(|key| key.starts_with("ferry/files/"))
        .collect();
    assert_eq!(files, [format!("ferry/files/sha256/{sha}")], "one object");
    let swept = ferryd_on_bucket(&database, &bucket, &["store", "leftovers", "--delete"]);
    assert!(
        swept.status.success(),
        "{}",
        String::from_utf8_lossy(&swept.stderr)
    );
    assert_eq!(s3.unfinished_uploads(&bucket).await, Vec::<String>::new());
    let notes: Vec<String> = s3
        .keys(&bucket)
        .await
        .into_iter()
        .filter(|key| key.starts_with("ferry/multipart/"))
        .collect();
    assert_eq!(notes, Vec::<String>::new());
}
