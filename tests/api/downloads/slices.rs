//! Large files read back in slices, in order and at random.

use super::*;

/// Fetches `[start, start + len)` clamped to `data`, checking the answer, and returns the bytes.
async fn fetch_slice(app: &TestApp, sha: &str, data: &[u8], start: usize, len: usize) -> Vec<u8> {
    let end = (start + len).min(data.len()) - 1;
    let etag = format!("\"{sha}\"");
    let range = format!("bytes={start}-{}", start + len - 1);
    let response = get(app, sha, &[("Range", &range), ("If-Range", &etag)]).await;
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
    assert_eq!(header(&response, "etag"), etag);
    let expected = format!("bytes {start}-{end}/{}", data.len());
    assert_eq!(header(&response, "content-range"), expected);
    assert_sized(&response, end - start + 1);
    response.bytes().await.unwrap().to_vec()
}

async fn consecutive_slices_reassemble_a_chunked_upload_exactly(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(3 * MIB + 12_345, 73);
    let uploaded = app.upload(&data, MIB).await;
    let sha = uploaded["sha256"].as_str().unwrap().to_owned();
    let mut reassembled = Vec::with_capacity(data.len());
    for start in (0..data.len()).step_by(MIB) {
        reassembled.extend(fetch_slice(&app, &sha, &data, start, MIB).await);
    }
    assert_eq!(reassembled.len(), data.len());
    assert_eq!(sha256_hex(&reassembled), sha);
}

async fn random_ranges_of_a_file_match_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(200_003, 74);
    let sha = publish(&app, &data, Some("text/plain")).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(74);
    for _ in 0..30 {
        let start = rand::Rng::random_range(&mut rng, 0..data.len());
        let len = rand::Rng::random_range(&mut rng, 1..=70_000);
        let bytes = fetch_slice(&app, &sha, &data, start, len).await;
        assert!(
            bytes == data[start..(start + len).min(data.len())],
            "{start}+{len}"
        );
    }
}

async fn a_64_mib_file_reads_back_in_1_mib_ranges_in_random_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(64 * MIB + 4321, 75);
    let uploaded = app.upload(&data, 8 * MIB).await;
    let sha = uploaded["sha256"].as_str().unwrap().to_owned();
    assert_eq!(uploaded["file"]["size"], data.len());
    let mut starts: Vec<usize> = (0..data.len()).step_by(MIB).collect();
    assert_eq!(starts.len(), 65);
    starts.shuffle(&mut rand::rngs::StdRng::seed_from_u64(75));
    let (app, sha, data) = (&app, &sha, &data);
    let mut slices = futures::stream::iter(starts)
        .map(|start| async move { (start, fetch_slice(app, sha, data, start, MIB).await) })
        .buffer_unordered(4);
    let mut reassembled = vec![0u8; data.len()];
    let mut filled = 0;
    while let Some((start, bytes)) = slices.next().await {
        reassembled[start..start + bytes.len()].copy_from_slice(&bytes);
        filled += bytes.len();
    }
    assert_eq!(filled, data.len());
    assert!(
        reassembled == *data,
        "the slices reassemble the file byte for byte"
    );
}

on_both_backends!(
    consecutive_slices_reassemble_a_chunked_upload_exactly,
    random_ranges_of_a_file_match_it,
    a_64_mib_file_reads_back_in_1_mib_ranges_in_random_order,
);
