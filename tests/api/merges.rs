//! Merges that never hang: a store that refuses a merge fails the upload
//! with `merge-failed`, a store failure that may pass is tried again up to
//! a bound, a chunk gone from the store is asked for again, and a session
//! stuck merging expires like any other.

use std::sync::Arc;
use std::time::Duration;

use ferry::ids::OwnerId;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::faulty_store::{Fault, Faults, FaultyStore};
use crate::helpers::{
    Backend, TestApp, assert_error, scrape, sha256_hex, spawn_app, spawn_app_wrapped, test_bytes,
};

const CHUNK: usize = 1024;

/// A server whose store fails copies as `faults` says.
async fn app_with_faults(backend: Backend, attempts: u32) -> (TestApp, Arc<Faults>) {
    let faults = Arc::new(Faults::default());
    let shared = faults.clone();
    let app = spawn_app_wrapped(
        backend,
        |settings| settings.merge_attempts = attempts,
        move |store| FaultyStore::wrap(store, shared),
    )
    .await;
    (app, faults)
}

/// Creates a session for `data` and sends every chunk of it.
async fn send_all(app: &TestApp, data: &[u8]) -> String {
    let created = app.create_for(data, CHUNK as u64).await;
    for index in 0..created["chunk_count"].as_u64().expect("a count") as usize {
        app.send_chunk(data, CHUNK, index).await;
    }
    sha256_hex(data)
}

async fn progress_of(app: &TestApp, sha: &str) -> Value {
    let response = app.progress(sha).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("an upload resource")
}

/// The staged chunk objects left in the store.
async fn chunk_keys(app: &TestApp) -> Vec<String> {
    let keys = app.stored_keys().await;
    keys.into_iter()
        .filter(|key| key.starts_with("chunks/"))
        .collect()
}

async fn a_store_that_refuses_the_merge_fails_the_upload_at_once(backend: Backend) {
    let (app, faults) = app_with_faults(backend, 8).await;
    let fault = match backend {
        Backend::Sqlite => Fault::CrossDevice,
        Backend::Postgres | Backend::PostgresS3 => Fault::Denied,
    };
    faults.fail_every_copy(fault);
    let data = test_bytes(3000, 11);
    let sha = send_all(&app, &data).await;

    let refused = assert_error(
        app.complete(&sha).await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "merge-failed",
    )
    .await;
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("create it again"),
        "{refused}"
    );
    assert_eq!(progress_of(&app, &sha).await["status"], "failed");
    assert_error(
        app.complete(&sha).await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "merge-failed",
    )
    .await;
    assert_eq!(chunk_keys(&app).await, Vec::<String>::new());
    assert_eq!(app.download(&sha).await.status(), StatusCode::NOT_FOUND);
    let metrics = scrape(&app).await;
    assert_eq!(
        metrics.value("ferry_merges_total{outcome=\"refused\"}"),
        1.0
    );
    assert_eq!(metrics.value("ferry_uploads_failed_total"), 1.0);
    assert_eq!(metrics.value("ferry_hash_mismatches_total"), 0.0);
    let usage = app
        .meta
        .owner_usage(&OwnerId::anonymous(), chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(usage.sessions, 0, "a failed session counts for nothing");

    faults.heal();
    let again = app
        .create(json!({"sha256": sha, "size": data.len(), "chunk_size": CHUNK}))
        .await;
    assert_eq!(again.status(), StatusCode::CREATED, "a new session");
    for index in 0..3 {
        app.send_chunk(&data, CHUNK, index).await;
    }
    assert_eq!(app.complete(&sha).await.status(), StatusCode::OK);
    assert_eq!(app.downloaded(&sha).await, data);
}

async fn a_store_failure_that_passes_is_tried_again(backend: Backend) {
    let (app, faults) = app_with_faults(backend, 8).await;
    faults.fail_copies(Fault::Unreachable, 1);
    let data = test_bytes(3000, 12);
    let sha = send_all(&app, &data).await;

    let response = app.complete(&sha).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.downloaded(&sha).await, data);
    let metrics = scrape(&app).await;
    assert_eq!(metrics.value("ferry_merges_total{outcome=\"failed\"}"), 1.0);
    assert_eq!(
        metrics.value("ferry_merges_total{outcome=\"published\"}"),
        1.0
    );
    assert_eq!(metrics.value("ferry_uploads_failed_total"), 0.0);
}

async fn a_store_that_keeps_failing_fails_the_upload_after_the_last_attempt(backend: Backend) {
    let (app, faults) = app_with_faults(backend, 2).await;
    faults.fail_every_copy(Fault::Unreachable);
    let data = test_bytes(3000, 13);
    let sha = send_all(&app, &data).await;

    assert_error(
        app.complete(&sha).await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "merge-failed",
    )
    .await;
    assert_eq!(progress_of(&app, &sha).await["status"], "failed");
    assert_eq!(chunk_keys(&app).await, Vec::<String>::new());
    let metrics = scrape(&app).await;
    assert_eq!(metrics.value("ferry_merges_total{outcome=\"failed\"}"), 1.0);
    assert_eq!(
        metrics.value("ferry_merges_total{outcome=\"gave_up\"}"),
        1.0
    );
    assert_eq!(metrics.value("ferry_uploads_failed_total"), 1.0);
}

async fn a_chunk_gone_from_the_store_is_asked_for_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(3000, 14);
    let sha = send_all(&app, &data).await;
    let session = app.anonymous_session(&sha).await;
    let chunks = app.meta.chunks(&session.id).await.unwrap();
    app.blobs.delete(&chunks[1].object_key).await.unwrap();

    let refused = assert_error(
        app.complete(&sha).await,
        StatusCode::CONFLICT,
        "chunks-missing",
    )
    .await;
    assert_eq!(refused["missing_chunks"], json!([[1, 1]]));
    let progress = progress_of(&app, &sha).await;
    assert_eq!(progress["status"], "uploading");
    assert_eq!(progress["received_chunks"], json!([[0, 0], [2, 2]]));
    assert_eq!(progress["received_bytes"], 3000 - CHUNK);

    app.send_chunk(&data, CHUNK, 1).await;
    let done = app.complete(&sha).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(app.downloaded(&sha).await, data);
    let metrics = scrape(&app).await;
    assert_eq!(metrics.value("ferry_uploads_failed_total"), 0.0);
    assert_eq!(metrics.value("ferry_hash_mismatches_total"), 0.0);
}

async fn a_session_stuck_merging_expires_and_stops_counting(backend: Backend) {
    let app = crate::helpers::spawn_app_with(backend, |settings| {
        settings.session_ttl = Duration::from_secs(1);
    })
    .await;
    let data = test_bytes(3000, 15);
    let sha = send_all(&app, &data).await;
    let session = app.anonymous_session(&sha).await;
    assert!(app.meta.start_merge(&session.id).await.unwrap());
    assert_eq!(progress_of(&app, &sha).await["status"], "merging");

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let now = chrono::Utc::now();
    assert_eq!(app.progress(&sha).await.status(), StatusCode::NOT_FOUND);
    let usage = app
        .meta
        .owner_usage(&OwnerId::anonymous(), now)
        .await
        .unwrap();
    assert_eq!(usage.sessions, 0, "an expired merge counts for nothing");
    let report = app.uploads.sweep(now).await.unwrap();
    assert_eq!(report.expired_sessions, 1);
    assert_eq!(chunk_keys(&app).await, Vec::<String>::new());
    let again = app
        .create(json!({"sha256": sha, "size": data.len(), "chunk_size": CHUNK}))
        .await;
    assert_eq!(again.status(), StatusCode::CREATED);
}

on_both_backends!(
    a_store_that_refuses_the_merge_fails_the_upload_at_once,
    a_store_failure_that_passes_is_tried_again,
    a_store_that_keeps_failing_fails_the_upload_after_the_last_attempt,
    a_chunk_gone_from_the_store_is_asked_for_again,
    a_session_stuck_merging_expires_and_stops_counting,
);
