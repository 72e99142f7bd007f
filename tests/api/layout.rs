//! Where a published file lives: one object at `files/sha256/<sha256>`,
//! whatever way it was uploaded, whose bytes hash to its key; a download
//! of a file whose object went missing or short behind ferry's back is a
//! `file-unreadable` answer before any byte; and a listing of the store
//! takes no file's object for a leftover.

use std::time::Duration;

use chrono::Utc;
use ferry::ids::{ObjectKey, WriteToken};
use ferry::upload::LeftoverAction;
use futures::TryStreamExt;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::helpers::{Backend, TestApp, assert_error, scrape, sha256_hex, spawn_app, test_bytes};

/// The SHA-256 of the object at `key`, read back from the store.
async fn stored_hash(app: &TestApp, key: &str) -> String {
    let key = ObjectKey::parse(key).unwrap();
    let bytes: Vec<bytes::Bytes> = app
        .blobs
        .read(&key, None)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    hex::encode(Sha256::digest(bytes.concat()))
}

/// Asserts the store holds the file `sha` as its one object and nothing
/// else; on a folder, `sha256sum` of its file says its key too.
async fn assert_one_object(app: &TestApp, sha: &str) {
    let key = format!("files/sha256/{sha}");
    assert_eq!(
        app.stored_keys().await,
        std::slice::from_ref(&key),
        "one object, no chunk"
    );
    assert_eq!(stored_hash(app, &key).await, sha);
    if let Some(path) = app.path_on_disk(&key) {
        let summed = std::process::Command::new("sha256sum")
            .arg(&path)
            .output()
            .expect("sha256sum runs");
        let line = String::from_utf8(summed.stdout).unwrap();
        assert_eq!(line.split_whitespace().next(), Some(sha), "{line}");
    }
}

async fn a_completed_upload_is_one_object_named_by_its_hash(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(70_000, 71);
    let sha = sha256_hex(&data);
    app.upload(&data, 8192).await;
    assert_one_object(&app, &sha).await;
    assert_eq!(app.downloaded(&sha).await, data);
    let file = app
        .meta
        .find_file(&sha.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(file.object_key.as_str(), format!("files/sha256/{sha}"));
    assert_eq!(file.part_size, None);
}

async fn a_one_request_upload_is_one_object_named_by_its_hash(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(30_000, 72);
    let sha = sha256_hex(&data);
    assert_eq!(
        app.put_file(&sha, &data).await.status(),
        StatusCode::CREATED
    );
    assert_one_object(&app, &sha).await;
    assert_eq!(app.downloaded(&sha).await, data);
}

async fn the_same_bytes_uploaded_both_ways_stay_one_object(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(20_000, 74);
    let sha = sha256_hex(&data);
    app.upload(&data, 4096).await;
    assert!(app.put_file(&sha, &data).await.status().is_success());
    assert_one_object(&app, &sha).await;
    assert_eq!(app.downloaded(&sha).await, data);
}

/// Answers for `sha` a 500 `file-unreadable` in JSON, counted as `kind`.
async fn assert_unreadable(app: &TestApp, sha: &str, kind: &str) {
    for range in [None, Some("bytes=10-19")] {
        let mut request = app.client.get(app.url(&format!("/v1/files/{sha}")));
        if let Some(range) = range {
            request = request.header("range", range);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "an error, not a body"
        );
        assert_error(
            response,
            StatusCode::INTERNAL_SERVER_ERROR,
            "file-unreadable",
        )
        .await;
    }
    let url = app.url(&format!("/v1/files/{sha}"));
    let head = app.client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::INTERNAL_SERVER_ERROR, "HEAD");
    let ranges = app.client.get(&url).header("range", "bytes=0-1,5-6");
    assert_error(
        ranges.send().await.unwrap(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "file-unreadable",
    )
    .await;
    let metrics = scrape(app).await;
    let series = format!("ferry_stored_file_faults_total{{kind=\"{kind}\"}}");
    assert_eq!(metrics.value(&series), 4.0);
}

async fn a_file_whose_object_was_deleted_is_unreadable_before_any_byte(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(10_000, 75);
    let sha = sha256_hex(&data);
    app.upload(&data, 4096).await;
    assert_eq!(app.downloaded(&sha).await, data, "read once, kept open");
    let key = ObjectKey::parse(format!("files/sha256/{sha}")).unwrap();
    app.blobs.delete(&key).await.unwrap();
    assert_unreadable(&app, &sha, "missing").await;
}

async fn a_file_whose_object_was_cut_short_is_unreadable_before_any_byte(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(10_000, 76);
    let sha = sha256_hex(&data);
    app.upload(&data, 4096).await;
    assert_eq!(app.downloaded(&sha).await, data, "read once, kept open");
    let key = format!("files/sha256/{sha}");
    match app.path_on_disk(&key) {
        Some(path) => {
            let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            file.set_len(4000).unwrap();
        }
        None => {
            let short = bytes::Bytes::copy_from_slice(&data[..4000]);
            let source = futures::stream::iter([Ok::<_, std::io::Error>(short)]);
            let key = ObjectKey::parse(key).unwrap();
            app.blobs.write(&key, source, 1 << 20).await.unwrap();
        }
    }
    assert_unreadable(&app, &sha, "short").await;
}

async fn a_listing_takes_no_files_object_for_a_leftover(backend: Backend) {
    let app = spawn_app(backend).await;
    let unknown = test_bytes(5000, 77);
    let sha = sha256_hex(&unknown);
    let write = |key: String, bytes: Vec<u8>| {
        let app = app.clone();
        async move {
            let key = ObjectKey::parse(key).unwrap();
            let source =
                futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))]);
            app.blobs.write(&key, source, 1 << 20).await.unwrap();
        }
    };
    let one_object = format!("files/sha256/{sha}");
    write(one_object.clone(), unknown.clone()).await;
    let parts = format!("files/{sha}/{}", WriteToken::generate());
    write(format!("{parts}/0"), unknown[..4096].to_vec()).await;
    write(format!("{parts}/1"), unknown[4096..].to_vec()).await;
    let attempt = format!("files/sha256/{sha}.{}", WriteToken::generate());
    write(attempt.clone(), unknown.clone()).await;

    let later = Utc::now() + chrono::Duration::days(30);
    let report = app
        .uploads
        .collect_leftovers(later, Duration::ZERO, LeftoverAction::DeleteNow)
        .await
        .unwrap();
    app.uploads.sweep(later).await.unwrap();

    let removed: Vec<&str> = report
        .found
        .iter()
        .map(|found| found.key.as_str())
        .collect();
    assert_eq!(
        removed,
        [attempt.as_str()],
        "only an attempt's temporary file"
    );
    let keys = app.stored_keys().await;
    assert_eq!(
        keys,
        [
            format!("{parts}/0"),
            format!("{parts}/1"),
            one_object.clone()
        ],
        "a file's one object and a folder of parts no row names stay"
    );
    assert_eq!(stored_hash(&app, &one_object).await, sha);
}

on_both_backends!(
    a_completed_upload_is_one_object_named_by_its_hash,
    a_one_request_upload_is_one_object_named_by_its_hash,
    the_same_bytes_uploaded_both_ways_stay_one_object,
    a_file_whose_object_was_deleted_is_unreadable_before_any_byte,
    a_file_whose_object_was_cut_short_is_unreadable_before_any_byte,
    a_listing_takes_no_files_object_for_a_leftover,
);
