//! Chunks that arrive ahead of their turn are held in memory until the
//! chunk before them joins the running hash, and hashed then without being
//! read back; beyond the window's bound they are read back instead.

use futures::StreamExt;
use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp, scrape, sha256_hex, spawn_app, spawn_app_with, test_bytes};

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

on_both_backends!(
    three_chunks_in_flight_in_order_are_not_read_back,
    chunks_beyond_the_window_are_read_back,
);
