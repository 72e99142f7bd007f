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

use ferry::blob::{BlobStore, S3Options, WriteError};
use ferry::ids::ObjectKey;
use ferry::upload::LeftoverAction;

use crate::faulty_proxy::FaultyProxy;
use crate::helpers::{Backend, sha256_hex, spawn_app_over, spawn_cluster_over, test_bytes};
use crate::listing::files_among;
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
async fn chunks_smaller_than_a_part_merge_into_one_file_under_the_prefix() {
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
    let files = files_among(&s3.keys(&bucket).await);
    assert_eq!(
        files,
        [format!("ferry/files/sha256/{sha}")],
        "one object, no chunk left"
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
    let files = files_among(&s3.keys(&bucket).await);
    assert_eq!(files.len(), 1, "one merged file, no chunk left: {files:?}");
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

    let answer = app.put_file(&sha, &data).await;

    assert_eq!(answer.status(), StatusCode::CREATED);
    let file: Value = answer.json().await.unwrap();
    assert_eq!(file["size"], data.len());
    assert_eq!(app.downloaded(&sha).await, data);
    let keys = s3.keys(&bucket).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(keys[0], "p/ferry-store.json", "the store's identity");
    assert_eq!(
        keys[1],
        format!("p/files/sha256/{sha}"),
        "the file's one object"
    );
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
    eventually("a part of a multipart upload arriving", || async {
        s3.unfinished_uploads(&bucket).await.len() == 1 && s3.unfinished_parts(&bucket).await > 0
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_over_a_faulty_link_to_the_bucket_end_byte_identical_and_leave_nothing() {
    let s3 = S3Server::shared();
    let bucket = s3.new_bucket().await;
    let upstream = s3.endpoint.trim_start_matches("http://").to_owned();
    let proxy = FaultyProxy::start(upstream, 6).await;
    let options = S3Options {
        endpoint: Some(proxy.endpoint.clone()),
        ..s3.options()
    };
    let store = BlobStore::open_with(&format!("s3://{bucket}/ferry"), &options).unwrap();
    let app = spawn_app_over(Backend::Postgres, store, |_| {}).await;
    let data = test_bytes(12 << 20, 66);
    let sha = sha256_hex(&data);
    app.create_for(&data, 1 << 20).await;

    for (index, chunk) in data.chunks(1 << 20).enumerate() {
        let mut attempts = 0;
        loop {
            let answer = app.put_chunk(&sha, index, chunk.to_vec()).await;
            if answer.status() == StatusCode::OK {
                break;
            }
            assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
            attempts += 1;
            assert!(attempts < 20, "chunk {index} never stored");
        }
    }
    let mut completes = 0;
    loop {
        let answer = app.complete(&sha).await;
        match answer.status() {
            StatusCode::OK => break,
            StatusCode::ACCEPTED | StatusCode::SERVICE_UNAVAILABLE => completes += 1,
            other => panic!("complete answered {other}"),
        }
        assert!(completes < 100, "the merge never finished");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut downloads = 0;
    loop {
        let answer = app.download(&sha).await;
        if answer.status() == StatusCode::OK
            && let Ok(body) = answer.bytes().await
            && body.len() == data.len()
        {
            assert!(
                body == data,
                "the served bytes differ from the uploaded ones"
            );
            break;
        }
        downloads += 1;
        assert!(downloads < 20, "the file could not be downloaded");
    }

    assert!(proxy.faults.load(std::sync::atomic::Ordering::Relaxed) > 0);
    let mut sweeps = 0;
    while app
        .uploads
        .collect_leftovers(
            chrono::Utc::now(),
            Duration::ZERO,
            LeftoverAction::DeleteNow,
        )
        .await
        .is_err()
    {
        sweeps += 1;
        assert!(sweeps < 20, "the leftover sweep never got through");
    }
    let files = files_among(&s3.keys(&bucket).await);
    assert_eq!(files.len(), 1, "one stored file and no chunk: {files:?}");
    eventually(
        "every multipart upload being completed or aborted",
        || async { s3.unfinished_uploads(&bucket).await.is_empty() },
    )
    .await;
}
