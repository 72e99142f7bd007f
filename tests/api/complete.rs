//! Completing: missing chunks, verification, concurrency, background merges.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use ferry::blob::BlobStore;
use ferry::ids::{ObjectKey, OwnerId, WriteToken};
use ferry::upload::{Completion, Created, UploadError};
use ferry_proto::{ContentHash, CreateUpload};
use object_store::memory::InMemory;
use object_store::throttle::{ThrottleConfig, ThrottledStore};

use crate::helpers::{
    Backend, assert_error, scrape, sha256_hex, spawn_app, spawn_app_over, test_bytes,
};
use crate::listing::files_among;

async fn complete_lists_the_missing_chunks(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(10 * 1024, 30);
    let sha = sha256_hex(&data);
    app.create_for(&data, 1024).await;
    for index in [1, 2, 5, 9] {
        app.send_chunk(&data, 1024, index).await;
    }
    let error = assert_error(
        app.complete(&sha).await,
        StatusCode::CONFLICT,
        "chunks-missing",
    )
    .await;
    assert_eq!(error["missing_chunks"], json!([[0, 0], [3, 4], [6, 8]]));
    let progress: Value = app.progress(&sha).await.json().await.unwrap();
    assert_eq!(progress["status"], "uploading");
}

async fn a_lying_hash_fails_publishes_nothing_and_deletes_the_chunks(backend: Backend) {
    let app = spawn_app(backend).await;
    let claimed = test_bytes(3000, 31);
    let sent = test_bytes(3000, 32);
    let sha = sha256_hex(&claimed);
    app.create_for(&claimed, 1024).await;
    for index in 0..3 {
        let end = ((index + 1) * 1024).min(3000);
        let response = app
            .put_chunk(&sha, index as u64, sent[index * 1024..end].to_vec())
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let error = assert_error(
        app.complete(&sha).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "hash-mismatch",
    )
    .await;
    assert!(error["message"].as_str().unwrap().contains("hash"));
    assert_error(
        app.download(&sha).await,
        StatusCode::NOT_FOUND,
        "file-not-found",
    )
    .await;
    let progress: Value = app.progress(&sha).await.json().await.unwrap();
    assert_eq!(progress["status"], "failed");
    assert_error(
        app.complete(&sha).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "hash-mismatch",
    )
    .await;
    app.assert_store_empty().await;
    let again = app
        .create(json!({"sha256": sha, "size": 3000, "chunk_size": 1024}))
        .await;
    assert_eq!(
        again.status(),
        StatusCode::CREATED,
        "a failed session is replaced"
    );
    let lie_about_size = app
        .create(json!({"sha256": sha256_hex(&sent), "size": 2999}))
        .await;
    assert_eq!(lie_about_size.status(), StatusCode::CREATED);
}

async fn concurrent_completes_run_one_merge_and_all_succeed(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(300_000, 33);
    let sha = sha256_hex(&data);
    app.create_for(&data, 8192).await;
    join_all((0..37).map(|index| app.send_chunk(&data, 8192, index))).await;
    let answers = join_all((0..5).map(|_| app.complete(&sha))).await;
    for answer in answers {
        assert_eq!(answer.status(), StatusCode::OK);
        let upload: Value = answer.json().await.unwrap();
        assert_eq!(upload["status"], "complete");
        assert_eq!(upload["file"]["size"], 300_000);
    }
    assert_eq!(app.downloaded(&sha).await, data);
    {
        let keys = app.stored_keys().await;
        let files = files_among(&keys);
        assert_eq!(files.len(), 1, "one merged file and no chunks: {keys:?}");
        assert_eq!(keys, [format!("files/sha256/{sha}")], "one object");
    }
}

async fn chunks_hashed_as_they_arrived_are_not_read_again_by_complete(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(70_000, 38);
    let sha = sha256_hex(&data);
    app.create_for(&data, 8192).await;
    for index in (0..9).rev() {
        app.send_chunk(&data, 8192, index).await;
    }
    app.wait_until_linked(9).await;
    assert_eq!(app.complete(&sha).await.status(), StatusCode::OK);
    let metrics = scrape(&app).await;
    assert_eq!(metrics.value("ferry_merge_reread_bytes_total"), 0.0);
    assert_eq!(app.downloaded(&sha).await, data);
}

async fn chunks_sent_in_order_one_at_a_time_are_hashed_as_they_stream_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(45_000, 42);
    let sha = sha256_hex(&data);
    app.create_for(&data, 4100).await;
    for index in 0..11 {
        app.send_chunk(&data, 4100, index).await;
    }
    let metrics = scrape(&app).await;
    assert_eq!(
        metrics.value("ferry_chunks_linked_total"),
        11.0,
        "each chunk is linked by the time it is answered"
    );
    assert_eq!(app.complete(&sha).await.status(), StatusCode::OK);
    let metrics = scrape(&app).await;
    assert_eq!(metrics.value("ferry_chunks_read_back_total"), 0.0);
    assert_eq!(metrics.value("ferry_merge_reread_bytes_total"), 0.0);
    assert_eq!(app.downloaded(&sha).await, data);
}

async fn a_file_merged_from_odd_sized_chunks_serves_ranges_across_its_parts(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(11_000, 41);
    let sha = sha256_hex(&data);
    app.create_for(&data, 1100).await;
    for index in 0..10 {
        app.send_chunk(&data, 1100, index).await;
    }
    app.wait_until_linked(10).await;
    assert_eq!(app.complete(&sha).await.status(), StatusCode::OK);
    assert_eq!(
        scrape(&app).await.value("ferry_merge_reread_bytes_total"),
        0.0,
        "links over chunks that end inside a SHA-256 block add up"
    );
    for (first, last) in [
        (0, 0),
        (1090, 1110),
        (1099, 1100),
        (1100, 2199),
        (500, 9500),
        (10_999, 10_999),
        (0, 10_999),
    ] {
        let response = app
            .client
            .get(app.url(&format!("/v1/files/{sha}")))
            .header("range", format!("bytes={first}-{last}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            response.bytes().await.unwrap(),
            data[first..=last],
            "bytes {first}-{last}"
        );
    }
}

async fn a_chunk_sent_again_with_other_bytes_is_hashed_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(40_000, 39);
    let other = test_bytes(8192, 40);
    let sha = sha256_hex(&data);
    app.create_for(&data, 8192).await;
    for index in 0..5 {
        app.send_chunk(&data, 8192, index).await;
    }
    app.wait_until_linked(5).await;
    let replaced = app.put_chunk(&sha, 1, other.clone()).await;
    assert_eq!(replaced.status(), StatusCode::OK);
    app.wait_until_linked(9).await;
    assert_error(
        app.complete(&sha).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "hash-mismatch",
    )
    .await;
    assert_eq!(
        scrape(&app).await.value("ferry_merge_reread_bytes_total"),
        0.0,
        "the chunks after the replaced one were linked again"
    );
    assert_error(
        app.download(&sha).await,
        StatusCode::NOT_FOUND,
        "file-not-found",
    )
    .await;

    app.create_for(&data, 8192).await;
    for index in 0..5 {
        app.send_chunk(&data, 8192, index).await;
    }
    let wrong = app.put_chunk(&sha, 3, other).await;
    assert_eq!(wrong.status(), StatusCode::OK);
    app.send_chunk(&data, 8192, 3).await;
    assert_eq!(app.complete(&sha).await.status(), StatusCode::OK);
    assert_eq!(app.downloaded(&sha).await, data);
}

async fn complete_is_idempotent(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(5000, 34);
    let sha = sha256_hex(&data);
    let first = app.upload(&data, 1024).await;
    let second: Value = app.complete(&sha).await.json().await.unwrap();
    assert_eq!(first, second);
}

async fn a_zero_byte_file_completes_without_chunks(backend: Backend) {
    let app = spawn_app(backend).await;
    let sha = sha256_hex(b"");
    let created = app
        .create(json!({"sha256": sha, "size": 0, "filename": "empty.txt"}))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["chunk_count"], 0);
    let done: Value = app.complete(&sha).await.json().await.unwrap();
    assert_eq!(done["status"], "complete");
    let response = app.download(&sha).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-length"], "0");
    assert!(response.bytes().await.unwrap().is_empty());
}

async fn a_slow_merge_answers_202_and_finishes_in_the_background(backend: Backend) {
    let slow_reads = ThrottleConfig {
        wait_get_per_call: Duration::from_millis(20),
        ..ThrottleConfig::default()
    };
    let store = ThrottledStore::new(InMemory::new(), slow_reads);
    let blobs = BlobStore::new(Arc::new(store), 1 << 20);
    let app = spawn_app_over(backend, blobs, |settings| {
        settings.merge_wait = Duration::ZERO
    })
    .await;
    let data = test_bytes(2_000_000, 35);
    let sha = sha256_hex(&data);
    app.create_for(&data, 65536).await;
    join_all((0..31).map(|index| app.send_chunk(&data, 65536, index))).await;
    let response = app.complete(&sha).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let upload: Value = response.json().await.unwrap();
    assert_eq!(upload["status"], "merging");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut outcome = upload;
    while outcome["status"] == "merging" && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(25)).await;
        outcome = app.progress(&sha).await.json().await.unwrap();
    }
    assert_eq!(outcome["status"], "complete");
    assert_eq!(app.downloaded(&sha).await, data);
}

async fn a_merge_cut_off_by_a_crash_is_taken_up_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(50_000, 36);
    let sha = sha256_hex(&data);
    app.create_for(&data, 4096).await;
    join_all((0..13).map(|index| app.send_chunk(&data, 4096, index))).await;
    let session = app
        .meta
        .find_session(&OwnerId::anonymous(), &sha.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        app.meta.start_merge(&session.id).await.unwrap(),
        "as if a crashed instance began"
    );
    let dead_instance = WriteToken::generate();
    let dead = ferry::meta::MergeLease {
        sha256: session.sha256,
        upload_id: session.id.clone(),
        object_key: ObjectKey::parse(format!("files/{sha}/{dead_instance}")).unwrap(),
        token: dead_instance,
        lease_until: Utc::now() - chrono::Duration::seconds(1),
    };
    let claim = app
        .meta
        .claim_merge(&dead, Utc::now() - chrono::Duration::seconds(5))
        .await;
    assert!(matches!(claim, Ok(ferry::meta::Claim::Claimed { .. })));
    let resumed = app.uploads.resume_stalled_merges().await.unwrap();
    assert_eq!(resumed, 1);
    let done = app.complete(&sha).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(app.downloaded(&sha).await, data);
}

async fn two_owners_completing_the_same_content_share_one_object(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(50_000, 37);
    let hash: ContentHash = sha256_hex(&data).parse().unwrap();
    let now = Utc::now();
    let (alice, bob) = (
        OwnerId::parse("alice").unwrap(),
        OwnerId::parse("bob").unwrap(),
    );
    for owner in [&alice, &bob] {
        let request = CreateUpload {
            sha256: hash.to_hex(),
            size: data.len() as u64,
            chunk_size: Some(4096),
            filename: Some(format!("{owner}.bin")),
            content_type: None,
            proof: None,
        };
        let (created, _) = app.uploads.create(owner, request, now, None).await.unwrap();
        assert_eq!(created, Created::New, "each owner has a session of its own");
        for (index, piece) in data.chunks(4096).enumerate() {
            let target = app
                .uploads
                .chunk_target(owner, &hash, index as u64, Some(piece.len() as u64), now)
                .await
                .unwrap();
            let body = futures::stream::iter([Ok::<_, std::io::Error>(
                bytes::Bytes::copy_from_slice(piece),
            )]);
            let staged = app.uploads.stage_chunk(&target, body).await.unwrap();
            app.uploads
                .accept_chunk(target, staged, None, now)
                .await
                .unwrap();
        }
    }
    let mallory = OwnerId::parse("mallory").unwrap();
    let stranger = app.uploads.progress(&mallory, &hash, now).await;
    assert!(
        matches!(stranger, Err(UploadError::UploadNotFound)),
        "{stranger:?}"
    );
    let (alice, bob) = futures::join!(
        app.uploads.complete(&alice, &hash, now),
        app.uploads.complete(&bob, &hash, now)
    );
    for (owner, outcome) in [("alice", alice), ("bob", bob)] {
        let Ok(Completion::Done(upload)) = outcome else {
            panic!("{owner} did not complete: {outcome:?}");
        };
        assert_eq!(
            upload.file.unwrap().url,
            format!("/v1/files/{hash}/{owner}.bin")
        );
    }
    {
        let files = files_among(&app.stored_keys().await);
        assert_eq!(files.len(), 1, "the content is stored once: {files:?}");
    }
    assert_eq!(app.downloaded(&hash.to_hex()).await, data);
}

on_both_backends!(
    two_owners_completing_the_same_content_share_one_object,
    complete_lists_the_missing_chunks,
    a_lying_hash_fails_publishes_nothing_and_deletes_the_chunks,
    concurrent_completes_run_one_merge_and_all_succeed,
    chunks_hashed_as_they_arrived_are_not_read_again_by_complete,
    a_chunk_sent_again_with_other_bytes_is_hashed_again,
    a_file_merged_from_odd_sized_chunks_serves_ranges_across_its_parts,
    chunks_sent_in_order_one_at_a_time_are_hashed_as_they_stream_in,
    complete_is_idempotent,
    a_zero_byte_file_completes_without_chunks,
    a_slow_merge_answers_202_and_finishes_in_the_background,
    a_merge_cut_off_by_a_crash_is_taken_up_again,
);
