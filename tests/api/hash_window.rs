//! Chunks that arrive ahead of their turn wait for the chunk before them
//! when it is arriving on the same instance, and are hashed as they stream
//! in; otherwise they are held in memory until the chunk before them joins
//! the running hash, and hashed then without being read back; beyond the
//! window's bound they are read back instead.

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;

use crate::helpers::{
    Backend, TestApp, scrape, sha256_hex, spawn_app, spawn_app_with, test_bytes, trickled_put,
    wait_for_metric,
};

const CHUNK: usize = 8192;

/// Bytes read back to hash chunks, by the linking and by merges.
async fn read_back(app: &TestApp) -> f64 {
    let metrics = scrape(app).await;
    metrics.value("ferry_link_reread_bytes_total") + metrics.value("ferry_merge_reread_bytes_total")
}

async fn three_chunks_in_flight_in_order_are_not_read_back(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(24 * CHUNK + 100, 61);
    let sha = sha256_hex(&data);
    app.create_for(&data, CHUNK as u64).await;
    let sends = (0..25).map(|index| app.send_chunk(&data, CHUNK, index));
    futures::stream::iter(sends)
        .buffered(3)
        .collect::<Vec<_>>()
        .await;
    app.wait_until_linked(25).await;
    assert_eq!(app.complete(&sha).await.status(), StatusCode::OK);
    assert_eq!(
        read_back(&app).await,
        0.0,
        "every chunk was hashed as it arrived or from the window"
    );
    assert_eq!(scrape(&app).await.value("ferry_hash_window_bytes"), 0.0);
    assert_eq!(app.downloaded(&sha).await, data);
}

async fn chunks_beyond_the_window_are_read_back(backend: Backend) {
    let app = spawn_app_with(backend, |settings| {
        settings.hash_window = 2 * CHUNK as u64;
    })
    .await;
    let data = test_bytes(10 * CHUNK, 62);
    let sha = sha256_hex(&data);
    app.create_for(&data, CHUNK as u64).await;
    for index in (0..10).rev() {
        app.send_chunk(&data, CHUNK, index).await;
    }
    app.wait_until_linked(10).await;
    assert_eq!(
        read_back(&app).await,
        (7 * CHUNK) as f64,
        "chunks 9 and 8 were held; 7 to 1 spilled and were read back"
    );
    assert_eq!(
        scrape(&app).await.value("ferry_chunks_read_back_total"),
        7.0
    );
    assert_eq!(app.complete(&sha).await.status(), StatusCode::OK);
    assert_eq!(app.downloaded(&sha).await, data);
}

async fn a_chunk_sent_while_the_one_before_arrives_waits_and_is_not_read_back(backend: Backend) {
    let app = spawn_app_with(backend, |settings| settings.hash_window = 0).await;
    let data = test_bytes(3 * CHUNK, 63);
    let sha = sha256_hex(&data);
    app.create_for(&data, CHUNK as u64).await;
    app.send_chunk(&data, CHUNK, 0).await;
    let (mut body, first) = trickled_put(&app, &sha, 1, CHUNK);
    let half = CHUNK / 2;
    body.send(Ok(Bytes::copy_from_slice(&data[CHUNK..CHUNK + half])))
        .await
        .unwrap();
    wait_for_metric(&app, "ferry_chunks_arriving", 1.0).await;
    let second = tokio::spawn({
        let app = app.clone();
        let data = data.clone();
        async move { app.send_chunk(&data, CHUNK, 2).await }
    });
    wait_for_metric(&app, "ferry_chunk_waits_total", 1.0).await;
    body.send(Ok(Bytes::copy_from_slice(&data[CHUNK + half..2 * CHUNK])))
        .await
        .unwrap();
    drop(body);
    assert_eq!(first.await.unwrap().status(), StatusCode::OK);
    second.await.unwrap();
    assert_eq!(app.complete(&sha).await.status(), StatusCode::OK);
    assert_eq!(
        read_back(&app).await,
        0.0,
        "chunk 2 waited for chunk 1 and was hashed as it arrived, with no window"
    );
    assert_eq!(app.downloaded(&sha).await, data);
}

on_both_backends!(
    a_chunk_sent_while_the_one_before_arrives_waits_and_is_not_read_back,
    three_chunks_in_flight_in_order_are_not_read_back,
    chunks_beyond_the_window_are_read_back,
);
