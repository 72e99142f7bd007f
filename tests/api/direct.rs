//! One-request uploads of small files.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, assert_error, sha256_hex, spawn_app, test_bytes};

async fn a_small_file_uploads_in_one_put(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(40_000, 40);
    let sha = sha256_hex(&data);
    let response = app
        .client
        .put(app.url(&format!("/v1/files/{sha}?filename=note.txt")))
        .header("Content-Type", "text/plain")
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let file: Value = response.json().await.unwrap();
    assert_eq!(file["sha256"], sha);
    assert_eq!(file["size"], 40_000);
    assert_eq!(file["content_type"], "text/plain");
    assert_eq!(file["url"], format!("/v1/files/{sha}/note.txt"));
    let again = app.put_file(&sha, &data).await;
    assert_eq!(again.status(), StatusCode::OK);
    let download = app.download(&sha).await;
    assert_eq!(download.headers()["content-type"], "text/plain");
    assert_eq!(download.bytes().await.unwrap(), data);
}

async fn a_small_file_uploads_in_one_multipart_post(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(10_000, 41);
    let sha = sha256_hex(&data);
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(data.clone()).file_name("photo.jpg"),
        )
        .text("sha256", sha.clone())
        .text("filename", "photo.jpg")
        .text("content_type", "image/jpeg");
    let response = app
        .client
        .post(app.url("/v1/files"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let file: Value = response.json().await.unwrap();
    assert_eq!(file["url"], format!("/v1/files/{sha}/photo.jpg"));
    assert_eq!(file["content_type"], "image/jpeg");
    assert_eq!(app.downloaded(&sha).await, data);
}

async fn a_one_request_upload_with_a_lying_hash_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(1000, 42);
    let claimed = sha256_hex(b"something else");
    let response = app
        .client
        .put(app.url(&format!("/v1/files/{claimed}")))
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "hash-mismatch").await;
    let form = reqwest::multipart::Form::new()
        .text("sha256", claimed.clone())
        .part("file", reqwest::multipart::Part::bytes(data));
    let response = app
        .client
        .post(app.url("/v1/files"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "hash-mismatch").await;
    assert_error(
        app.download(&claimed).await,
        StatusCode::NOT_FOUND,
        "file-not-found",
    )
    .await;
    app.assert_store_empty().await;
}

async fn a_one_request_upload_over_the_limit_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes((1 << 20) + 1, 43);
    let response = app
        .client
        .put(app.url(&format!("/v1/files/{}", sha256_hex(&data))))
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "file-too-large").await;
    let stream = futures::stream::iter(vec![Ok::<_, std::io::Error>(data.clone())]);
    let response = app
        .client
        .put(app.url(&format!("/v1/files/{}", sha256_hex(&data))))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    match response {
        Ok(response) => {
            assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "file-too-large").await;
        }
        Err(error) => assert!(
            error.is_request() || error.is_body(),
            "the server may close on the unread rest of an oversized body: {error}"
        ),
    }
    app.assert_store_empty().await;
}

on_both_backends!(
    a_small_file_uploads_in_one_put,
    a_small_file_uploads_in_one_multipart_post,
    a_one_request_upload_with_a_lying_hash_stores_nothing,
    a_one_request_upload_over_the_limit_is_refused,
);
