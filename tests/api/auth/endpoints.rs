//! Every upload endpoint takes a token: without one, or with a forged one,
//! each is 401 and acts on nothing; with a valid one, each answers.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use serde_json::{Value, json};

use super::{OWNERS, claims, hs256, hs256_server, sign};
use crate::helpers::{TestApp, assert_unauthorized, sha256_hex, test_bytes};

/// Every upload endpoint, each as a request builder for `app`, acting on
/// the 3000-byte file `data`.
fn upload_endpoints(app: &TestApp, data: &[u8]) -> Vec<(&'static str, reqwest::RequestBuilder)> {
    let sha = sha256_hex(data);
    let chunk = data[..1024].to_vec();
    let client = &app.client;
    let form = |part: Vec<u8>| {
        reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(part))
    };
    vec![
        (
            "create",
            client
                .post(app.url("/v1/uploads"))
                .json(&json!({"sha256": sha, "size": data.len()})),
        ),
        (
            "progress",
            client.get(app.url(&format!("/v1/uploads/{sha}"))),
        ),
        (
            "chunk PUT",
            client
                .put(app.url(&format!("/v1/uploads/{sha}/chunks/1")))
                .body(chunk.clone()),
        ),
        (
            "chunk POST",
            client
                .post(app.url(&format!("/v1/uploads/{sha}/chunks/1")))
                .multipart(form(chunk)),
        ),
        (
            "complete",
            client.post(app.url(&format!("/v1/uploads/{sha}/complete"))),
        ),
        (
            "abort",
            client.delete(app.url(&format!("/v1/uploads/{sha}"))),
        ),
        (
            "direct PUT",
            client
                .put(app.url(&format!("/v1/files/{}", sha256_hex(&data[..100]))))
                .body(data[..100].to_vec()),
        ),
        (
            "direct POST",
            client
                .post(app.url("/v1/files"))
                .multipart(form(data[..100].to_vec()).text("sha256", sha256_hex(&data[..100]))),
        ),
    ]
}

#[tokio::test]
async fn every_upload_endpoint_requires_a_token_and_acts_on_nothing_without_one() {
    let app = hs256_server().await;
    let alice = app.as_bearer(&hs256(&claims("alice")));
    let data = test_bytes(3000, 9);
    alice.create_for(&data, 1024).await;
    alice.send_chunk(&data, 1024, 0).await;
    let progress_before: Value = alice
        .progress(&sha256_hex(&data))
        .await
        .json()
        .await
        .unwrap();
    let before = app.snapshot(&OWNERS).await;
    let other_secret = EncodingKey::from_secret(b"another secret of at least 32 bytes!!!");
    let forged = sign(
        Header::new(Algorithm::HS256),
        &claims("alice"),
        &other_secret,
    );
    for authorization in [None, Some(format!("Bearer {forged}"))] {
        for (endpoint, request) in upload_endpoints(&app, &data) {
            let request = match &authorization {
                Some(value) => request.header(AUTHORIZATION, value),
                None => request,
            };
            let response = request.send().await.expect("an answer");
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{endpoint} with {authorization:?}"
            );
            assert_unauthorized(response).await;
        }
    }
    assert_eq!(app.snapshot(&OWNERS).await, before);
    let progress_after: Value = alice
        .progress(&sha256_hex(&data))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(progress_after, progress_before);
    let small = sha256_hex(&data[..100]);
    assert_eq!(app.download(&small).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_upload_endpoint_answers_a_valid_token() {
    let app = hs256_server().await;
    let alice = app.as_bearer(&hs256(&claims("alice")));
    let data = test_bytes(3000, 10);
    alice.create_for(&data, 1024).await;
    alice.send_chunk(&data, 1024, 0).await;
    for (endpoint, request) in upload_endpoints(&alice, &data) {
        let response = request.send().await.expect("an answer");
        assert!(
            response.status().is_success() || response.status() == StatusCode::CONFLICT,
            "{endpoint}: {}",
            response.status()
        );
    }
}
