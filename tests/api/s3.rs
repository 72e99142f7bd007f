//! `s3://` stores against a real S3-compatible server on loopback: chunks
//! smaller than S3's 5 MiB part minimum merged into one object, instances
//! sharing one bucket and keeping nothing on their own disk, and multipart
//! uploads that are always completed or aborted.

use std::time::Duration;

use bytes::Bytes;
use futures::future::join_all;
use futures::stream::{self, StreamExt};
use reqwest::StatusCode;
use serde_json::Value;

use ferry::blob::WriteError;
use ferry::ids::ObjectKey;

use crate::helpers::{Backend, sha256_hex, spawn_app_over, spawn_cluster_over, test_bytes};
use crate::s3_server::S3Server;

/// Waits until `check` holds, for at most ten seconds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within ten seconds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_smaller_than_a_part_merge_into_one_object_under_the_prefix() {
    let s3 = S3Server::shared();
    let bucket = s3.new_bucket().await;
    let app = spawn_app_over(Backend::Postgres, s3.store(&bucket, "ferry"), |_| {}).await;
    let data = test_bytes(13 << 20, 61);
    let sha = sha256_hex(&data);

    let file = app.upload(&data, 1 << 20).await;

    assert_eq!(file["status"], "complete", "{file}");
    assert_eq!(app.downloaded(&sha).await, data);
    let ranged = app
        .client
        .get(app.url(&format!("/v1/files/{sha}")))
        .header("range", "bytes=8388600-8388615")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.bytes().await.unwrap(), data[8_388_600..8_388_616]);
    let keys = s3.keys(&bucket).await;
    assert_eq!(keys.len(), 1, "one merged object, no chunk left: {keys:?}");
    assert!(
        keys[0].starts_with(&format!("ferry/files/{sha}/")),
        "{keys:?}"
    );
    assert_eq!(s3.unfinished_uploads(&bucket).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_a_bucket_take_any_chunk_and_merge_once() {
    let s3 = S3Server::shared();
    let bucket = s3.new_bucket().await;
    let instances = spawn_cluster_over(3, || s3.store(&bucket, ""), None).await;
    let data = test_bytes(3 << 20, 62);
    let sha = sha256_hex(&data);
    instances[1].create_for(&data, 256 << 10).await;
    let sends = (0..12).map(|index| instances[index % 3].send_chunk(&data, 256 << 10, index));
    join_all(sends).await;

    let completes = join_all(instances.iter().map(|instance| instance.complete(&sha))).await;

    for answer in completes {
        assert_eq!(answer.status(), StatusCode::OK);
    }
    let keys = s3.keys(&bucket).await;
    assert_eq!(keys.len(), 1, "one merged object, no chunk left: {keys:?}");
    for instance in &instances {
        assert_eq!(instance.downloaded(&sha).await, data);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_request_upload_lands_in_the_bucket() {
    let s3 = S3Server::shared();
    let bucket = s3.new_bucket().await;
    let app = spawn_app_over(Backend::Postgres, s3.store(&bucket, "p"), |_| {}).await;
    let data = test_bytes(300_000, 63);
    let sha = sha256_hex(&data);

    let answer = app
        .client
        .put(app.url(&format!("/v1/files/{sha}")))
        .body(data.clone())
        .send()
        .await
        .unwrap();

    assert_eq!(answer.status(), StatusCode::CREATED);
    let file: Value = answer.json().await.unwrap();
    assert_eq!(file["size"], data.len());
    assert_eq!(app.downloaded(&sha).await, data);
    assert_eq!(s3.keys(&bucket).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_dropped_half_way_aborts_its_multipart_upload() {
    let s3 = S3Server::shared();
    let bucket = s3.new_bucket().await;
    let store = s3.store(&bucket, "");
    let first = Bytes::from(test_bytes(9 << 20, 64));
    let endless = stream::iter([Ok::<_, std::io::Error>(first)]).chain(stream::pending());
    let key = ObjectKey::parse("files/direct/dropped").unwrap();
    let writing = {
        let store = store.clone();
        tokio::spawn(async move { store.write(&key, endless, u64::MAX).await })
    };
    eventually("a multipart upload starting", || async {
        s3.unfinished_uploads(&bucket).await.len() == 1
    })
    .await;

    writing.abort();

    eventually("the multipart upload being aborted", || async {
        s3.unfinished_uploads(&bucket).await.is_empty()
    })
    .await;
    assert_eq!(s3.keys(&bucket).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_fails_half_way_leaves_nothing_in_the_bucket() {
    let s3 = S3Server::shared();
    let bucket = s3.new_bucket().await;
    let store = s3.store(&bucket, "");
    let pieces = [
        Ok(Bytes::from(test_bytes(9 << 20, 65))),
        Err(std::io::Error::other("the client went away")),
    ];
    let key = ObjectKey::parse("files/direct/failed").unwrap();

    let written = store.write(&key, stream::iter(pieces), u64::MAX).await;

    assert!(matches!(written, Err(WriteError::Source(_))), "{written:?}");
    assert_eq!(s3.unfinished_uploads(&bucket).await, Vec::<String>::new());
    assert_eq!(s3.keys(&bucket).await, Vec::<String>::new());
}
