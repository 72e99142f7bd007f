//! Chunks racing the end of their session: an abort or the publication
//! removes the session's chunk folder, temporary files included, under a
//! chunk still being written. The chunk answers what the session's state
//! says (404 once aborted, 409 once merging or complete), never a failure
//! of the store that a client would try again. The races are tried many
//! times, and played once for certain with a store that holds a chunk's
//! write, once stored, until the session has ended.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Response, StatusCode};

use crate::faulty_store::{Faults, FaultyStore};
use crate::helpers::{
    Backend, TestApp, assert_error, sha256_hex, spawn_app, spawn_app_wrapped, test_bytes,
};

/// Tries of each race: the window is a few milliseconds wide, and the
/// tries spread the abort over it.
const TRIES: usize = 60;
/// A chunk larger than a local store's write piece, so that it is written
/// through a temporary file in several pieces.
const CHUNK: usize = 300 << 10;
/// A chunk a local store writes in one piece: its write is one request to
/// the store, which a test can hold once the store has it.
const HELD_CHUNK: usize = 200 << 10;

on_both_backends!(
    a_chunk_racing_an_abort_is_not_found,
    a_chunk_racing_the_publication_is_not_writable,
    a_chunk_written_as_its_session_is_aborted_is_not_found,
    a_chunk_written_as_its_session_is_published_is_not_writable,
);

async fn a_chunk_racing_an_abort_is_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    for attempt in 0..TRIES {
        let data = test_bytes(2 * CHUNK, attempt as u8);
        let sha = sha256_hex(&data);
        app.create_for(&data, CHUNK as u64).await;
        let delay = Duration::from_micros((attempt as u64 % 9) * 500);
        let (chunk, abort) = tokio::join!(app.put_chunk(&sha, 1, data[CHUNK..].to_vec()), async {
            tokio::time::sleep(delay).await;
            app.abort(&sha).await
        });
        assert_eq!(abort.status(), StatusCode::NO_CONTENT, "try {attempt}");
        if chunk.status() != StatusCode::OK {
            assert_error(chunk, StatusCode::NOT_FOUND, "upload-not-found").await;
        }
    }
    app.blobs.settle().await;
    app.assert_store_empty().await;
    assert_eq!(app.chunk_paths_on_disk(), Vec::<String>::new());
}

async fn a_chunk_racing_the_publication_is_not_writable(backend: Backend) {
    let app = spawn_app(backend).await;
    for attempt in 0..TRIES / 3 {
        let data = test_bytes(2 * CHUNK, 100 + attempt as u8);
        let sha = sha256_hex(&data);
        app.create_for(&data, CHUNK as u64).await;
        app.send_chunk(&data, CHUNK, 0).await;
        app.send_chunk(&data, CHUNK, 1).await;
        let delay = Duration::from_micros((attempt as u64 % 9) * 500);
        let (chunk, complete) =
            tokio::join!(app.put_chunk(&sha, 1, data[CHUNK..].to_vec()), async {
                tokio::time::sleep(delay).await;
                app.complete(&sha).await
            });
        assert_eq!(complete.status(), StatusCode::OK, "try {attempt}");
        if chunk.status() != StatusCode::OK {
            assert_error(chunk, StatusCode::CONFLICT, "upload-not-writable").await;
        }
        assert_eq!(app.downloaded(&sha).await, data);
    }
    app.blobs.settle().await;
    assert_eq!(app.chunk_paths_on_disk(), Vec::<String>::new());
}

async fn a_chunk_written_as_its_session_is_aborted_is_not_found(backend: Backend) {
    let (app, faults) = spawn_holding(backend).await;
    let data = test_bytes(2 * HELD_CHUNK, 7);
    let sha = sha256_hex(&data);
    app.create_for(&data, HELD_CHUNK as u64).await;
    let chunk = cut_off(&app, &faults, &data, async {
        assert_eq!(app.abort(&sha).await.status(), StatusCode::NO_CONTENT);
    })
    .await;
    assert_error(chunk, StatusCode::NOT_FOUND, "upload-not-found").await;
    app.blobs.settle().await;
    app.assert_store_empty().await;
    assert_eq!(app.chunk_paths_on_disk(), Vec::<String>::new());
}

async fn a_chunk_written_as_its_session_is_published_is_not_writable(backend: Backend) {
    let (app, faults) = spawn_holding(backend).await;
    let data = test_bytes(2 * HELD_CHUNK, 8);
    let sha = sha256_hex(&data);
    app.create_for(&data, HELD_CHUNK as u64).await;
    app.send_chunk(&data, HELD_CHUNK, 0).await;
    app.send_chunk(&data, HELD_CHUNK, 1).await;
    let chunk = cut_off(&app, &faults, &data, async {
        assert_eq!(app.complete(&sha).await.status(), StatusCode::OK);
    })
    .await;
    assert_error(chunk, StatusCode::CONFLICT, "upload-not-writable").await;
    assert_eq!(app.downloaded(&sha).await, data);
    app.blobs.settle().await;
    assert_eq!(app.chunk_paths_on_disk(), Vec::<String>::new());
}

/// A server whose store can hold a chunk's write.
async fn spawn_holding(backend: Backend) -> (TestApp, Arc<Faults>) {
    let faults = Arc::new(Faults::default());
    let shared = faults.clone();
    let app = spawn_app_wrapped(
        backend,
        |_| {},
        move |store| FaultyStore::wrap(store, shared),
    )
    .await;
    (app, faults)
}

/// Sends chunk 1 of `data` and holds its write, once stored, while
/// `ending` ends the session; answers the chunk's answer.
async fn cut_off(
    app: &TestApp,
    faults: &Faults,
    data: &[u8],
    ending: impl Future<Output = ()>,
) -> Response {
    faults.hold_next_chunk();
    let chunk = tokio::spawn({
        let app = app.clone();
        let (sha, body) = (sha256_hex(data), data[HELD_CHUNK..].to_vec());
        async move { app.put_chunk(&sha, 1, body).await }
    });
    faults.chunk_held().await;
    ending.await;
    faults.release_chunk();
    chunk.await.expect("the chunk answers")
}
