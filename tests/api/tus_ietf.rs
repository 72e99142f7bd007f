//! The IETF resumable uploads draft on the tus URLs, as a client written
//! from the draft's text speaks it (interop version 8, the latest).

use reqwest::StatusCode;

use crate::helpers::{Backend, sha256_hex, spawn_app, test_bytes};
use crate::tus::{header, repr_digest};

async fn an_ietf_client_creates_empty_then_appends(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(10_000, 5);
    let ietf = |method, path: &str| {
        app.client
            .request(method, app.url(path))
            .header("Upload-Draft-Interop-Version", "8")
    };
    let created = ietf(reqwest::Method::POST, "/v1/tus")
        .header("Upload-Complete", "?0")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(header(&created, "upload-complete"), "?0");
    assert!(header(&created, "upload-limit").starts_with("max-size="));
    let path = header(&created, "location");
    let first = ietf(reqwest::Method::PATCH, &path)
        .header("Content-Type", "application/partial-upload")
        .header("Upload-Offset", "0")
        .header("Upload-Complete", "?0")
        .body(data[..4000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::NO_CONTENT);
    let head = ietf(reqwest::Method::HEAD, &path).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&head, "upload-offset"), "4000");
    assert_eq!(header(&head, "upload-complete"), "?0");
    let last = ietf(reqwest::Method::PATCH, &path)
        .header("Content-Type", "application/partial-upload")
        .header("Upload-Offset", "4000")
        .header("Upload-Complete", "?1")
        .body(data[4000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(last.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&last, "upload-complete"), "?1");
    assert_eq!(header(&last, "repr-digest"), repr_digest(&data));
    assert_eq!(app.downloaded(&sha256_hex(&data)).await, data);
}

async fn an_ietf_creation_is_answered_without_an_informational_response(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(backend).await;
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST /v1/tus HTTP/1.1\r\nHost: {address}\r\nUpload-Draft-Interop-Version: 8\r\n\
         Upload-Complete: ?1\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\
         Connection: close\r\n\r\nhello"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(!answer.contains("HTTP/1.1 104"), "{answer}");
    let head = answer.to_ascii_lowercase();
    assert!(head.contains("upload-complete: ?1"), "{answer}");
    assert!(head.contains(&format!(
        "repr-digest: {}",
        repr_digest(b"hello").to_ascii_lowercase()
    )));
    assert_eq!(
        app.downloaded(&sha256_hex(b"hello")).await,
        b"hello".as_slice()
    );
}

async fn a_body_said_to_end_the_upload_short_of_its_length_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .client
        .post(app.url("/v1/tus"))
        .header("Upload-Draft-Interop-Version", "6")
        .header("Upload-Complete", "?0")
        .header("Upload-Length", "100")
        .send()
        .await
        .unwrap();
    let path = header(&created, "location");
    let short = app
        .client
        .patch(app.url(&path))
        .header("Upload-Draft-Interop-Version", "6")
        .header("Content-Type", "application/partial-upload")
        .header("Upload-Offset", "0")
        .header("Upload-Complete", "?1")
        .body(vec![1u8; 60])
        .send()
        .await
        .unwrap();
    assert_eq!(short.status(), StatusCode::BAD_REQUEST);
    let head = app
        .client
        .head(app.url(&path))
        .header("Upload-Draft-Interop-Version", "6")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&head, "upload-offset"), "0");
    assert!(
        app.stored_keys()
            .await
            .iter()
            .all(|key| !key.starts_with("chunks/")),
        "the refused body was not kept"
    );
}

on_both_backends!(
    a_body_said_to_end_the_upload_short_of_its_length_is_refused,
    an_ietf_client_creates_empty_then_appends,
    an_ietf_creation_is_answered_without_an_informational_response,
);
