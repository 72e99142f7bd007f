//! A file whose last piece looks like the bare refusal the HTTP engine
//! writes is served exactly as stored, whole and in ranges: nothing between
//! the store and the socket reads or rewrites a body.

use rand::{RngCore, SeedableRng};

use super::*;

/// What the engine writes when it refuses a head before any route runs.
const BARE_400: &[u8] = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";

/// One read piece of a local store (and four of the pieces the server hands
/// the engine): the bare 400 after it goes out as a write of its own.
const PIECE: usize = 256 << 10;

/// 256 KiB of random bytes, then a bare 400.
fn ending_in_a_bare_400() -> Vec<u8> {
    let mut data = vec![0; PIECE];
    rand::rngs::StdRng::seed_from_u64(400).fill_bytes(&mut data);
    data.extend_from_slice(BARE_400);
    data
}

/// Downloads `data` whole, as the bare 400 alone, as ranges that end with
/// it, and as a multipart body with it as a part: every answer is its bytes.
async fn assert_served_as_stored(app: &TestApp, sha: &str, data: &[u8]) {
    assert_full(get(app, sha, &[]).await, data).await;
    let last = data.len() - 1;
    let tail = data.len() - BARE_400.len();
    for (range, start) in [
        (format!("bytes={tail}-{last}"), tail),
        (format!("bytes={tail}-"), tail),
        (format!("bytes=-{}", BARE_400.len()), tail),
        (format!("bytes={}-", tail - (64 << 10)), tail - (64 << 10)),
        ("bytes=0-".to_owned(), 0),
    ] {
        let response = get_range(app, sha, &range).await;
        assert_partial(response, data, start, last).await;
    }
    let both_ends = format!("bytes=0-9,{tail}-{last}");
    let response = get_range(app, sha, &both_ends).await;
    assert_multipart_typed(response, data, &[(0, 9), (tail, last)], None).await;
}

async fn a_direct_upload_ending_in_a_bare_400_is_served_as_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = ending_in_a_bare_400();
    let sha = sha256_hex(&data);
    assert_eq!(
        app.put_file(&sha, &data).await.status(),
        StatusCode::CREATED
    );
    assert_served_as_stored(&app, &sha, &data).await;
}

async fn a_chunked_upload_ending_in_a_bare_400_is_served_as_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = ending_in_a_bare_400();
    let uploaded = app.upload(&data, 64 << 10).await;
    assert_eq!(
        uploaded["chunk_count"], 5,
        "the bare 400 is a part of its own"
    );
    let sha = sha256_hex(&data);
    assert_served_as_stored(&app, &sha, &data).await;
}

on_both_backends!(
    a_direct_upload_ending_in_a_bare_400_is_served_as_stored,
    a_chunked_upload_ending_in_a_bare_400_is_served_as_stored,
);
