//! The body buffer budget: writes beyond it wait briefly, then are refused
//! with 503 and `Retry-After`, storing nothing; writes within it pass.

use bytes::Bytes;
use futures::SinkExt;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    Backend, assert_error, scrape, sha256_hex, spawn_app_with, test_bytes, trickled_put,
    wait_for_metric,
};

const CHUNK: usize = 16 << 10;

async fn writes_beyond_the_buffer_budget_are_refused_and_store_nothing(backend: Backend) {
    let app = spawn_app_with(backend, |settings| {
        settings.buffer_budget = CHUNK as u64;
        settings.buffer_wait = std::time::Duration::from_secs(1);
    })
    .await;
    let first = test_bytes(2 * CHUNK, 71);
    let second = test_bytes(CHUNK, 72);
    let (first_sha, second_sha) = (sha256_hex(&first), sha256_hex(&second));
    app.create_for(&first, CHUNK as u64).await;
    app.create_for(&second, CHUNK as u64).await;

    let (mut body, running) = trickled_put(&app, &first_sha, 0, CHUNK);
    body.send(Ok(Bytes::copy_from_slice(&first[..CHUNK / 2])))
        .await
        .unwrap();
    wait_for_metric(&app, "ferry_body_buffers_bytes", CHUNK as f64).await;
    let before = app.snapshot(&["anonymous"]).await;
    let refused = app.put_chunk(&second_sha, 0, second.clone()).await;
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_error(refused, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    let direct = app.put_file(&second_sha, &second).await;
    assert_eq!(direct.headers()["retry-after"], "1");
    assert_error(direct, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    let progress: serde_json::Value = app.progress(&second_sha).await.json().await.unwrap();
    assert_eq!(progress["received_bytes"], json!(0));
    assert_eq!(
        app.snapshot(&["anonymous"]).await,
        before,
        "the refused writes stored nothing"
    );
    assert_eq!(
        scrape(&app).await.value("ferry_body_buffer_refusals_total"),
        2.0
    );

    body.send(Ok(Bytes::copy_from_slice(&first[CHUNK / 2..CHUNK])))
        .await
        .unwrap();
    drop(body);
    assert_eq!(running.await.unwrap().status(), StatusCode::OK);
    app.send_chunk(&first, CHUNK, 1).await;
    app.send_chunk(&second, CHUNK, 0).await;
    for (sha, data) in [(&first_sha, &first), (&second_sha, &second)] {
        assert_eq!(app.complete(sha).await.status(), StatusCode::OK);
        assert_eq!(app.downloaded(sha).await, data.as_slice());
    }
    assert_eq!(scrape(&app).await.value("ferry_body_buffers_bytes"), 0.0);
}

on_both_backends!(writes_beyond_the_buffer_budget_are_refused_and_store_nothing);
