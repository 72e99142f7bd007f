//! Hostile tus and IETF requests against an open upload and a completed
//! one: wrong offsets, overlong bodies, lengths over the limit, appends to
//! a completed upload, metadata that is not base64, and more. Each must
//! get its exact status and code and change nothing; and 10,000 tiny
//! appends must stay one upload that publishes whole.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

use crate::helpers::{Backend, TestApp, sha256_hex, spawn_app, spawn_app_with, test_bytes};

/// The length of the fixture's open upload.
const LENGTH: usize = 3000;

/// Bytes the open upload has received.
const RECEIVED: usize = 1000;

/// What the server holds, to compare before and after each request.
#[derive(Debug, PartialEq, Eq)]
struct Held {
    uploads: Vec<String>,
    keys: Vec<String>,
}

async fn held(app: &TestApp) -> Held {
    let far = chrono::Utc::now() + chrono::Duration::days(365 * 100);
    let mut uploads = Vec::new();
    for upload in app.meta.expired_appended(far, u32::MAX).await.unwrap() {
        let segments = app.meta.segments(&upload.id).await.unwrap();
        uploads.push(format!("{upload:?} {segments:?}"));
    }
    uploads.sort();
    Held {
        uploads,
        keys: app.stored_keys().await,
    }
}

fn tus(app: &TestApp, method: Method, path: &str) -> RequestBuilder {
    app.client
        .request(method, app.url(path))
        .header("Tus-Resumable", "1.0.0")
}

fn patch(app: &TestApp, path: &str, offset: &str) -> RequestBuilder {
    tus(app, Method::PATCH, path)
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", offset)
}

/// An open upload with `RECEIVED` bytes, and a completed one.
async fn prepare(app: &TestApp) -> (String, String) {
    let open = tus(app, Method::POST, "/v1/tus")
        .header("Upload-Length", LENGTH.to_string())
        .send()
        .await
        .unwrap();
    let open = open.headers()["location"].to_str().unwrap().to_owned();
    let data = test_bytes(LENGTH, 9);
    let response = patch(app, &open, "0")
        .body(data[..RECEIVED].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let done = tus(app, Method::POST, "/v1/tus")
        .header("Upload-Length", "100")
        .header("Content-Type", "application/offset+octet-stream")
        .body(vec![7u8; 100])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::CREATED);
    let done = done.headers()["location"].to_str().unwrap().to_owned();
    (open, done)
}

async fn hostile_tus_and_ietf_requests_are_refused_and_change_nothing(backend: Backend) {
    let app = spawn_app_with(backend, |settings| settings.max_file_size = 1 << 20).await;
    let (open, done) = prepare(&app).await;
    let at = RECEIVED.to_string();
    let over = ((1u64 << 20) + 1).to_string();
    let cases: Vec<(&str, RequestBuilder, u16, &str)> = vec![
        (
            "an append behind the offset",
            patch(&app, &open, "10").body(vec![1; 10]),
            409,
            "offset-mismatch",
        ),
        (
            "an append past the offset",
            patch(&app, &open, "2000").body(vec![1; 10]),
            409,
            "offset-mismatch",
        ),
        (
            "an append longer than the upload",
            patch(&app, &open, &at).body(vec![1; LENGTH]),
            413,
            "file-too-large",
        ),
        (
            "a declared length over the limit",
            tus(&app, Method::POST, "/v1/tus").header("Upload-Length", over.as_str()),
            413,
            "file-too-large",
        ),
        (
            "an append to a completed upload",
            patch(&app, &done, "100").body(vec![1; 10]),
            409,
            "upload-not-writable",
        ),
        (
            "an append at 0 to a completed upload",
            patch(&app, &done, "0").body(vec![7; 100]),
            409,
            "upload-not-writable",
        ),
        (
            "metadata that is not base64",
            tus(&app, Method::POST, "/v1/tus")
                .header("Upload-Length", "10")
                .header("Upload-Metadata", "filename ***"),
            400,
            "invalid-request",
        ),
        (
            "a sha256 in metadata that is no hash",
            tus(&app, Method::POST, "/v1/tus")
                .header("Upload-Length", "10")
                .header("Upload-Metadata", "sha256 eHl6"),
            400,
            "invalid-request",
        ),
        (
            "an offset that is no number",
            patch(&app, &open, "-1").body(vec![1; 10]),
            400,
            "invalid-request",
        ),
        (
            "no offset",
            tus(&app, Method::PATCH, &open)
                .header("Content-Type", "application/offset+octet-stream")
                .body(vec![1; 10]),
            400,
            "invalid-request",
        ),
        (
            "an append of another media type",
            tus(&app, Method::PATCH, &open)
                .header("Upload-Offset", at.as_str())
                .header("Content-Type", "text/plain")
                .body(vec![1; 10]),
            415,
            "unsupported-media-type",
        ),
        (
            "a checksum algorithm not offered",
            patch(&app, &open, &at)
                .header("Upload-Checksum", "crc32 AAAA")
                .body(vec![1; 10]),
            400,
            "invalid-request",
        ),
        (
            "a checksum that is not base64",
            patch(&app, &open, &at)
                .header("Upload-Checksum", "sha1 ***")
                .body(vec![1; 10]),
            400,
            "invalid-request",
        ),
        (
            "a checksum that does not match",
            patch(&app, &open, &at)
                .header("Upload-Checksum", "md5 AAAAAAAAAAAAAAAAAAAAAA==")
                .body(vec![1; 10]),
            460,
            "checksum-mismatch",
        ),
        (
            "another length declared on an append",
            patch(&app, &open, &at)
                .header("Upload-Length", "5000")
                .body(vec![1; 10]),
            400,
            "invalid-request",
        ),
        (
            "a length and a deferred length",
            tus(&app, Method::POST, "/v1/tus")
                .header("Upload-Length", "10")
                .header("Upload-Defer-Length", "1"),
            400,
            "invalid-request",
        ),
        (
            "neither length nor deferral",
            tus(&app, Method::POST, "/v1/tus"),
            400,
            "invalid-request",
        ),
        (
            "a length that is no number",
            tus(&app, Method::POST, "/v1/tus").header("Upload-Length", "1e3"),
            400,
            "invalid-request",
        ),
        (
            "a creation body of another media type",
            tus(&app, Method::POST, "/v1/tus")
                .header("Upload-Length", "10")
                .header("Content-Type", "text/plain")
                .body(vec![1; 10]),
            415,
            "unsupported-media-type",
        ),
        (
            "a final upload of an open partial",
            tus(&app, Method::POST, "/v1/tus").header("Upload-Concat", format!("final;{open}")),
            400,
            "invalid-request",
        ),
        (
            "a final upload of nothing",
            tus(&app, Method::POST, "/v1/tus").header("Upload-Concat", "final;"),
            400,
            "invalid-request",
        ),
        (
            "an unknown id",
            patch(&app, "/v1/tus/00000000-0000-4000-8000-000000000000", "0").body(vec![1; 10]),
            404,
            "upload-not-found",
        ),
        (
            "an id that is no id",
            patch(&app, "/v1/tus/..%2F..%2Fetc", "0").body(vec![1; 10]),
            404,
            "upload-not-found",
        ),
        (
            "another tus version",
            app.client
                .delete(app.url(&open))
                .header("Tus-Resumable", "0.2.2"),
            412,
            "precondition-failed",
        ),
        (
            "an unknown interop version",
            app.client
                .patch(app.url(&open))
                .header("Upload-Draft-Interop-Version", "99")
                .header("Upload-Offset", at.as_str())
                .body(vec![1; 10]),
            412,
            "precondition-failed",
        ),
        (
            "an IETF append of another media type",
            app.client
                .patch(app.url(&open))
                .header("Upload-Draft-Interop-Version", "6")
                .header("Upload-Offset", at.as_str())
                .header("Upload-Complete", "?0")
                .body(vec![1; 10]),
            415,
            "unsupported-media-type",
        ),
        (
            "a malformed Upload-Complete",
            app.client
                .patch(app.url(&open))
                .header("Upload-Draft-Interop-Version", "5")
                .header("Upload-Offset", at.as_str())
                .header("Upload-Complete", "yes")
                .body(vec![1; 10]),
            400,
            "invalid-request",
        ),
        (
            "a POST without a method override",
            tus(&app, Method::POST, &open).body(vec![1; 10]),
            400,
            "invalid-request",
        ),
    ];
    let mut failures = Vec::new();
    for (name, request, status, code) in cases {
        let before = held(&app).await;
        let response = request.send().await.expect("an answer");
        let got = response.status().as_u16();
        let tus_header = response.headers().contains_key("tus-resumable");
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if got != status || body["code"] != code {
            failures.push(format!(
                "{name}: got {got} {body}, expected {status} {code}"
            ));
        }
        if !tus_header {
            failures.push(format!("{name}: no Tus-Resumable on the answer"));
        }
        if held(&app).await != before {
            failures.push(format!("{name}: the server's state changed"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

async fn ten_thousand_tiny_appends_stay_one_upload_that_publishes_whole(backend: Backend) {
    let app = spawn_app(backend).await;
    let count = 10_000;
    let data = test_bytes(count, 11);
    let created = tus(&app, Method::POST, "/v1/tus")
        .header("Upload-Length", count.to_string())
        .send()
        .await
        .unwrap();
    let path = created.headers()["location"].to_str().unwrap().to_owned();
    for (offset, byte) in data.iter().enumerate() {
        let response = patch(&app, &path, &offset.to_string())
            .body(vec![*byte])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "append {offset}");
    }
    assert_eq!(app.downloaded(&sha256_hex(&data)).await, data);
    let keys = app.stored_keys().await;
    assert!(
        keys.iter().all(|key| !key.starts_with("chunks/")),
        "segments left behind: {}",
        keys.len()
    );
}

mod refused {
    use crate::helpers::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_and_local_disk() {
        super::hostile_tus_and_ietf_requests_are_refused_and_change_nothing(Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_and_memory() {
        super::hostile_tus_and_ietf_requests_are_refused_and_change_nothing(Backend::Postgres).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_tiny_appends_on_postgres_and_memory() {
    ten_thousand_tiny_appends_stay_one_upload_that_publishes_whole(Backend::Postgres).await
}
