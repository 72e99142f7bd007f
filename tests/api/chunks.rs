//! Sending chunks: order, parallelism, replacement, digests, sizes, forms.

use base64::Engine;
use futures::future::join_all;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{Backend, TestApp, assert_error, sha256_hex, spawn_app, test_bytes};

async fn chunks_in_random_order_and_in_parallel_make_the_file(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(200_000, 20);
    let sha = sha256_hex(&data);
    app.create_for(&data, 4096).await;
    let mut order: Vec<usize> = (0..49).collect();
    order.reverse();
    order.swap(3, 30);
    let sends = order
        .iter()
        .map(|&index| app.send_chunk(&data, 4096, index));
    join_all(sends).await;
    let progress: Value = app.progress(&sha).await.json().await.unwrap();
    assert_eq!(progress["received_chunks"], json!([[0, 48]]));
    assert_eq!(progress["received_bytes"], 200_000);
    assert_eq!(app.complete(&sha).await.status(), StatusCode::OK);
    assert_eq!(app.downloaded(&sha).await, data);
}

async fn a_receipt_reports_the_chunk_and_the_progress(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(2500, 21);
    app.create_for(&data, 1024).await;
    let receipt = app.send_chunk(&data, 1024, 2).await;
    assert_eq!(
        receipt,
        json!({"index": 2, "size": 452, "sha256": sha256_hex(&data[2048..]),
               "received_bytes": 452, "received_count": 1, "chunk_count": 3})
    );
}

async fn the_same_chunk_sent_twice_at_once_is_stored_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(4096, 22);
    let sha = sha256_hex(&data);
    app.create_for(&data, 1024).await;
    let sends = (0..6).map(|_| app.send_chunk(&data, 1024, 1));
    for receipt in join_all(sends).await {
        assert_eq!(receipt["index"], 1);
    }
    let progress: Value = app.progress(&sha).await.json().await.unwrap();
    assert_eq!(progress["received_chunks"], json!([[1, 1]]));
    assert_eq!(progress["received_bytes"], 1024);
    {
        let chunk_objects = app.stored_keys().await;
        assert_eq!(
            chunk_objects.len(),
            1,
            "replaced copies are deleted: {chunk_objects:?}"
        );
    }
    for index in [0, 2, 3] {
        app.send_chunk(&data, 1024, index).await;
    }
    assert_eq!(app.complete(&sha).await.status(), StatusCode::OK);
    assert_eq!(app.downloaded(&sha).await, data);
}

/// An RFC 9530 `Content-Digest` value for some bytes.
fn content_digest(bytes: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes));
    format!("sha-256=:{encoded}:")
}

async fn put_with(
    app: &TestApp,
    sha: &str,
    index: u64,
    headers: &[(&str, String)],
    body: &[u8],
) -> Response {
    let mut request = app
        .client
        .put(app.url(&format!("/v1/uploads/{sha}/chunks/{index}")))
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.send().await.unwrap()
}

async fn a_chunk_with_a_wrong_digest_is_refused_and_the_good_copy_stays(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(2048, 23);
    let sha = sha256_hex(&data);
    let second = &data[1024..];
    app.create_for(&data, 1024).await;
    app.send_chunk(&data, 1024, 0).await;
    let refused = [
        (
            0,
            vec![("Content-Digest", content_digest(b"other"))],
            test_bytes(1024, 99),
        ),
        (
            1,
            vec![("X-Chunk-Sha256", sha256_hex(b"other"))],
            second.to_vec(),
        ),
        (
            1,
            vec![
                ("Content-Digest", content_digest(second)),
                ("X-Chunk-Sha256", sha256_hex(b"other")),
            ],
            second.to_vec(),
        ),
    ];
    for (index, headers, body) in refused {
        let response = put_with(&app, &sha, index, &headers, &body).await;
        assert_error(response, StatusCode::BAD_REQUEST, "digest-mismatch").await;
    }
    let progress: Value = app.progress(&sha).await.json().await.unwrap();
    assert_eq!(progress["received_chunks"], json!([[0, 0]]));
    let headers = [("Content-Digest", content_digest(second))];
    let response = put_with(&app, &sha, 1, &headers, second).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.complete(&sha).await.status(), StatusCode::OK);
    assert_eq!(app.downloaded(&sha).await, data);
}

async fn chunks_of_the_wrong_size_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(2500, 24);
    let sha = sha256_hex(&data);
    app.create_for(&data, 1024).await;
    let short = app.put_chunk(&sha, 0, vec![1; 1000]).await;
    assert_error(short, StatusCode::BAD_REQUEST, "chunk-size-mismatch").await;
    let last_too_long = app.put_chunk(&sha, 2, vec![1; 1024]).await;
    assert_error(
        last_too_long,
        StatusCode::BAD_REQUEST,
        "chunk-size-mismatch",
    )
    .await;
    let too_large = app.put_chunk(&sha, 0, vec![1; 5000]).await;
    assert_error(too_large, StatusCode::PAYLOAD_TOO_LARGE, "chunk-too-large").await;
    let stream = futures::stream::iter(vec![Ok::<_, std::io::Error>(vec![1u8; 1500])]);
    let streamed_long = app
        .client
        .put(app.url(&format!("/v1/uploads/{sha}/chunks/0")))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_error(
        streamed_long,
        StatusCode::BAD_REQUEST,
        "chunk-size-mismatch",
    )
    .await;
    let progress: Value = app.progress(&sha).await.json().await.unwrap();
    assert_eq!(progress["received_bytes"], 0);
    app.assert_store_empty().await;
}

async fn an_index_outside_the_file_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(2048, 25);
    let sha = sha256_hex(&data);
    app.create_for(&data, 1024).await;
    let response = app.put_chunk(&sha, 2, vec![0; 10]).await;
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        "chunk-index-out-of-range",
    )
    .await;
    let response = app.put_chunk(&sha, "-1", vec![0; 10]).await;
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        "chunk-index-out-of-range",
    )
    .await;
    let response = app
        .put_chunk(&sha, "99999999999999999999999", vec![0; 10])
        .await;
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        "chunk-index-out-of-range",
    )
    .await;
    let response = app.put_chunk(&sha, "first", vec![0; 10]).await;
    let error = assert_error(response, StatusCode::BAD_REQUEST, "invalid-request").await;
    assert_eq!(error["field"], "index");
    let response = app.put_chunk(&"d".repeat(64), 0, vec![0; 10]).await;
    assert_error(response, StatusCode::NOT_FOUND, "upload-not-found").await;
}

async fn a_multipart_chunk_as_wx_upload_file_sends_it_is_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(3000, 26);
    let sha = sha256_hex(&data);
    app.create_for(&data, 2048).await;
    for (index, range) in [(1usize, 2048..3000), (0, 0..2048)] {
        let part = reqwest::multipart::Part::bytes(data[range.clone()].to_vec())
            .file_name("wxfile://tmp_a1b2c3.mp4")
            .mime_str("application/octet-stream")
            .unwrap();
        let form = reqwest::multipart::Form::new()
            .text("sha256", sha256_hex(&data[range]))
            .text("user", "lin")
            .part("file", part);
        let response = app
            .client
            .post(app.url(&format!("/v1/uploads/{sha}/chunks/{index}")))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let wrong = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(data[..2048].to_vec()),
        )
        .text("sha256", sha256_hex(b"wrong"));
    let response = app
        .client
        .post(app.url(&format!("/v1/uploads/{sha}/chunks/0")))
        .multipart(wrong)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "digest-mismatch").await;
    let no_file = reqwest::multipart::Form::new().text("sha256", sha256_hex(b"x"));
    let response = app
        .client
        .post(app.url(&format!("/v1/uploads/{sha}/chunks/0")))
        .multipart(no_file)
        .send()
        .await
        .unwrap();
    let error = assert_error(response, StatusCode::BAD_REQUEST, "invalid-request").await;
    assert_eq!(error["field"], "file");
    let not_a_form = app
        .client
        .post(app.url(&format!("/v1/uploads/{sha}/chunks/0")))
        .body(data[..2048].to_vec())
        .send()
        .await
        .unwrap();
    assert_error(
        not_a_form,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;
    assert_eq!(app.complete(&sha).await.status(), StatusCode::OK);
    assert_eq!(app.downloaded(&sha).await, data);
}

async fn chunks_after_complete_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(2048, 27);
    let sha = sha256_hex(&data);
    app.upload(&data, 1024).await;
    let response = app.put_chunk(&sha, 0, data[..1024].to_vec()).await;
    let error = assert_error(response, StatusCode::CONFLICT, "upload-not-writable").await;
    assert_eq!(error["status"], "complete");
}

on_both_backends!(
    chunks_in_random_order_and_in_parallel_make_the_file,
    a_receipt_reports_the_chunk_and_the_progress,
    the_same_chunk_sent_twice_at_once_is_stored_once,
    a_chunk_with_a_wrong_digest_is_refused_and_the_good_copy_stays,
    chunks_of_the_wrong_size_are_refused,
    an_index_outside_the_file_is_refused,
    a_multipart_chunk_as_wx_upload_file_sends_it_is_accepted,
    chunks_after_complete_are_refused,
);
