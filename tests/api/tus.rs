//! tus 1.0 and the IETF draft at `/v1/tus`: the protocol's details, which
//! the tus-js-client tests in clients/js do not reach.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{RequestBuilder, Response, StatusCode};
use sha2::{Digest, Sha256};

use crate::helpers::{
    Backend, TestApp, assert_error, scrape, sha256_hex, spawn_app, spawn_app_with, test_bytes,
    with_tokens,
};

impl TestApp {
    /// A tus request: `Tus-Resumable: 1.0.0` set.
    fn tus(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("Tus-Resumable", "1.0.0")
    }

    /// Creates a tus upload of `length` bytes; answers its path.
    async fn tus_create(&self, length: u64, metadata: Option<&str>) -> String {
        let mut request = self
            .tus(reqwest::Method::POST, "/v1/tus")
            .header("Upload-Length", length.to_string());
        if let Some(metadata) = metadata {
            request = request.header("Upload-Metadata", metadata);
        }
        let response = request.send().await.expect("POST /v1/tus");
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(header(&response, "tus-resumable"), "1.0.0");
        assert!(!header(&response, "upload-expires").is_empty());
        header(&response, "location")
    }

    /// Appends `bytes` at `offset` to the upload at `path`.
    async fn tus_patch(&self, path: &str, offset: u64, bytes: &[u8]) -> Response {
        self.tus(reqwest::Method::PATCH, path)
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", offset.to_string())
            .body(bytes.to_vec())
            .send()
            .await
            .expect("PATCH")
    }

    async fn tus_head(&self, path: &str) -> Response {
        self.tus(reqwest::Method::HEAD, path)
            .send()
            .await
            .expect("HEAD")
    }
}

pub(crate) fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().expect("ASCII").to_owned())
        .unwrap_or_default()
}

pub(crate) fn repr_digest(bytes: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(bytes)))
}

async fn appends_in_order_publish_the_file_under_its_hash(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(200_000, 7);
    let path = app
        .tus_create(data.len() as u64, Some("filename YS5iaW4="))
        .await;
    let first = app.tus_patch(&path, 0, &data[..70_000]).await;
    assert_eq!(first.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&first, "upload-offset"), "70000");
    let head = app.tus_head(&path).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "upload-offset"), "70000");
    assert_eq!(header(&head, "upload-length"), "200000");
    assert_eq!(header(&head, "upload-metadata"), "filename YS5iaW4=");
    assert_eq!(header(&head, "cache-control"), "no-store");
    let last = app.tus_patch(&path, 70_000, &data[70_000..]).await;
    assert_eq!(last.status(), StatusCode::NO_CONTENT);
    let sha256 = sha256_hex(&data);
    assert_eq!(header(&last, "repr-digest"), repr_digest(&data));
    assert_eq!(
        header(&last, "content-location"),
        format!("/v1/files/{sha256}/a.bin")
    );
    assert_eq!(app.downloaded(&sha256).await, data);
    let head = app.tus_head(&path).await;
    assert_eq!(header(&head, "upload-offset"), "200000");
    assert_eq!(header(&head, "repr-digest"), repr_digest(&data));
    let metrics = scrape(&app).await;
    let series = |event: &str| {
        metrics.value(&format!(
            "ferry_appended_uploads_total{{protocol=\"tus\",event=\"{event}\"}}"
        ))
    };
    assert_eq!(
        (series("created"), series("appended"), series("completed")),
        (1.0, 2.0, 1.0)
    );
}

async fn an_append_at_the_wrong_offset_is_refused_with_the_right_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(4096, 1);
    let path = app.tus_create(data.len() as u64, None).await;
    app.tus_patch(&path, 0, &data[..1000]).await;
    let before = app.snapshot(&["anonymous"]).await;
    let response = app.tus_patch(&path, 500, &data[500..]).await;
    assert_eq!(header(&response, "upload-offset"), "1000");
    assert_error(response, StatusCode::CONFLICT, "offset-mismatch").await;
    assert_eq!(app.snapshot(&["anonymous"]).await, before);
}

async fn a_body_that_does_not_match_its_checksum_keeps_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(3000, 2);
    let path = app.tus_create(data.len() as u64, None).await;
    let before = app.snapshot(&["anonymous"]).await;
    let wrong = STANDARD.encode(sha1_of(b"other bytes"));
    let response = app
        .tus(reqwest::Method::PATCH, &path)
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "0")
        .header("Upload-Checksum", format!("sha1 {wrong}"))
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        StatusCode::from_u16(460).unwrap(),
        "checksum-mismatch",
    )
    .await;
    assert_eq!(app.snapshot(&["anonymous"]).await, before);
    let right = STANDARD.encode(sha1_of(&data));
    let response = app
        .tus(reqwest::Method::PATCH, &path)
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "0")
        .header("Upload-Checksum", format!("sha1 {right}"))
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.downloaded(&sha256_hex(&data)).await, data);
}

fn sha1_of(bytes: &[u8]) -> Vec<u8> {
    use sha1::Digest as _;
    sha1::Sha1::digest(bytes).to_vec()
}

async fn a_whole_file_that_hashes_to_another_digest_fails_and_keeps_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(5000, 3);
    let response = app
        .tus(reqwest::Method::POST, "/v1/tus")
        .header("Upload-Length", "5000")
        .header("Repr-Digest", repr_digest(b"something else"))
        .send()
        .await
        .unwrap();
    let path = header(&response, "location");
    let response = app.tus_patch(&path, 0, &data).await;
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "hash-mismatch").await;
    assert_eq!(
        app.download(&sha256_hex(&data)).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.tus_head(&path).await.status(), StatusCode::NOT_FOUND);
    app.assert_store_empty().await;
}

async fn another_version_is_a_precondition_failure(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .client
        .post(app.url("/v1/tus"))
        .header("Tus-Resumable", "0.2.2")
        .header("Upload-Length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "tus-version"), "1.0.0");
    assert_eq!(header(&response, "tus-resumable"), "1.0.0");
    assert_error(
        response,
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
    )
    .await;
    let options = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/v1/tus"))
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    assert!(header(&options, "tus-extension").contains("concatenation"));
    assert_eq!(
        header(&options, "tus-checksum-algorithm"),
        "sha1,md5,sha256"
    );
}

async fn another_owners_upload_is_not_found(backend: Backend) {
    let app = spawn_app_with(backend, with_tokens).await;
    let alice = app.as_owner("alice");
    let path = alice.tus_create(100, None).await;
    let bob = app.as_owner("bob");
    assert_eq!(bob.tus_head(&path).await.status(), StatusCode::NOT_FOUND);
    let response = bob.tus_patch(&path, 0, &[0; 100]).await;
    assert_error(response, StatusCode::NOT_FOUND, "upload-not-found").await;
    let response = bob
        .tus(reqwest::Method::DELETE, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(alice.tus_head(&path).await.status(), StatusCode::OK);
}

async fn a_terminated_upload_is_gone_with_its_bytes(backend: Backend) {
    let app = spawn_app(backend).await;
    let path = app.tus_create(10_000, None).await;
    app.tus_patch(&path, 0, &test_bytes(4000, 4)).await;
    let response = app
        .tus(reqwest::Method::DELETE, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.tus_head(&path).await.status(), StatusCode::NOT_FOUND);
    app.assert_store_empty().await;
}

async fn an_expired_upload_is_not_found(backend: Backend) {
    let app = spawn_app_with(backend, |settings| {
        settings.session_ttl = Duration::from_secs(1);
    })
    .await;
    let path = app.tus_create(100, None).await;
    let mut status = app.tus_head(&path).await.status();
    for _ in 0..100 {
        if status == StatusCode::NOT_FOUND {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = app.tus_head(&path).await.status();
    }
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn of_two_appends_at_one_offset_one_is_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(300_000, 6);
    let path = app.tus_create(data.len() as u64, None).await;
    app.tus_patch(&path, 0, &data[..100_000]).await;
    let (first, second) = tokio::join!(
        app.tus_patch(&path, 100_000, &data[100_000..]),
        app.tus_patch(&path, 100_000, &data[100_000..]),
    );
    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [204, 409], "two racing last appends");
    assert_eq!(app.downloaded(&sha256_hex(&data)).await, data);
    let keys = app.stored_keys().await;
    assert!(
        keys.iter().all(|key| !key.starts_with("chunks/")),
        "a losing append left its segment: {keys:?}"
    );
}

async fn partial_uploads_join_in_order_and_the_final_takes_no_appends(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(9000, 8);
    let mut parts = Vec::new();
    for piece in [&data[..4000], &data[4000..]] {
        let created = app
            .tus(reqwest::Method::POST, "/v1/tus")
            .header("Upload-Length", piece.len().to_string())
            .header("Upload-Concat", "partial")
            .send()
            .await
            .unwrap();
        let path = header(&created, "location");
        assert_eq!(
            app.tus_patch(&path, 0, piece).await.status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            header(&app.tus_head(&path).await, "upload-concat"),
            "partial"
        );
        parts.push(app.url(&path));
    }
    let lying = app
        .tus(reqwest::Method::POST, "/v1/tus")
        .header("Upload-Concat", format!("final;{} {}", parts[0], parts[1]))
        .header("Repr-Digest", repr_digest(b"other"))
        .send()
        .await
        .unwrap();
    assert_error(lying, StatusCode::UNPROCESSABLE_ENTITY, "hash-mismatch").await;
    let joined = app
        .tus(reqwest::Method::POST, "/v1/tus")
        .header("Upload-Concat", format!("final;{} {}", parts[0], parts[1]))
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), StatusCode::CREATED);
    assert_eq!(header(&joined, "repr-digest"), repr_digest(&data));
    let path = header(&joined, "location");
    assert_eq!(header(&app.tus_head(&path).await, "upload-concat"), "final");
    let append = app.tus_patch(&path, 9000, b"more").await;
    assert_error(append, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(app.downloaded(&sha256_hex(&data)).await, data);
}

async fn a_tus_upload_is_one_object_listed_and_heard_by_the_app(backend: Backend) {
    let receiver = crate::receiver::Receiver::start().await;
    let app = spawn_app_with(backend, |settings| {
        crate::webhooks::with_webhook(settings, &receiver);
    })
    .await;
    let data = test_bytes(150_000, 41);
    let sha = sha256_hex(&data);
    let path = app
        .tus_create(
            data.len() as u64,
            Some("filename YS5iaW4=,filetype dGV4dC9wbGFpbg=="),
        )
        .await;
    assert_eq!(
        app.tus_patch(&path, 0, &data[..60_000]).await.status(),
        StatusCode::NO_CONTENT
    );
    let last = app.tus_patch(&path, 60_000, &data[60_000..]).await;
    assert_eq!(last.status(), StatusCode::NO_CONTENT);
    let keys = app.stored_keys().await;
    assert_eq!(
        keys,
        [format!("files/sha256/{sha}")],
        "one object, no segments"
    );

    let received = receiver
        .wait_for(|all| {
            all.iter()
                .any(|request| crate::receiver::type_of(request) == "upload.completed")
        })
        .await;
    let event = received
        .iter()
        .find(|request| crate::receiver::type_of(request) == "upload.completed")
        .unwrap()
        .verified(crate::receiver::WEBHOOK_SECRET);
    assert_eq!(event["data"]["sha256"], sha.as_str());
    assert_eq!(event["data"]["size"], 150_000);
    assert_eq!(event["data"]["filename"], "a.bin");
    assert_eq!(event["data"]["content_type"], "text/plain");

    let listing: serde_json::Value = app
        .client
        .get(app.url("/v1/files"))
        .send()
        .await
        .expect("the listing answers")
        .json()
        .await
        .unwrap();
    assert_eq!(listing["files"][0]["sha256"], sha.as_str());
    assert_eq!(listing["files"][0]["filename"], "a.bin");

    let dropped = app.tus_create(9000, Some("filename Yi5iaW4=")).await;
    app.tus_patch(&dropped, 0, &test_bytes(4000, 42)).await;
    let terminated = app
        .tus(reqwest::Method::DELETE, &dropped)
        .send()
        .await
        .unwrap();
    assert_eq!(terminated.status(), StatusCode::NO_CONTENT);
    let received = receiver
        .wait_for(|all| {
            let count = |kind: &str| {
                all.iter()
                    .filter(|request| crate::receiver::type_of(request) == kind)
                    .count()
            };
            count("upload.aborted") == 1 && count("upload.created") == 2
        })
        .await;
    let of_kind = |kind: &str| -> Vec<serde_json::Value> {
        received
            .iter()
            .filter(|request| crate::receiver::type_of(request) == kind)
            .map(|request| request.verified(crate::receiver::WEBHOOK_SECRET)["data"].clone())
            .collect()
    };
    let created = of_kind("upload.created");
    assert_eq!(created.len(), 2, "{created:?}");
    assert_eq!(created[0]["filename"], "a.bin");
    assert_eq!(created[0]["size"], 150_000);
    assert_eq!(
        created[0]["sha256"],
        serde_json::Value::Null,
        "not announced"
    );
    let aborted = of_kind("upload.aborted");
    assert_eq!(aborted.len(), 1);
    assert_eq!(aborted[0]["filename"], "b.bin");
    assert_eq!(aborted[0]["size"], 9000);
}

on_both_backends!(
    a_tus_upload_is_one_object_listed_and_heard_by_the_app,
    partial_uploads_join_in_order_and_the_final_takes_no_appends,
    of_two_appends_at_one_offset_one_is_kept,
    appends_in_order_publish_the_file_under_its_hash,
    an_append_at_the_wrong_offset_is_refused_with_the_right_one,
    a_body_that_does_not_match_its_checksum_keeps_nothing,
    a_whole_file_that_hashes_to_another_digest_fails_and_keeps_nothing,
    another_version_is_a_precondition_failure,
    another_owners_upload_is_not_found,
    a_terminated_upload_is_gone_with_its_bytes,
    an_expired_upload_is_not_found,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_to_any_instance_continue_the_running_hash() {
    let instances = crate::helpers::spawn_cluster(3).await;
    let data = test_bytes(90_000, 12);
    let path = instances[0].tus_create(data.len() as u64, None).await;
    for (turn, piece) in data.chunks(10_000).enumerate() {
        let offset = (turn * 10_000) as u64;
        let instance = &instances[turn % 3];
        let answer = instance.tus_patch(&path, offset, piece).await;
        assert_eq!(answer.status(), StatusCode::NO_CONTENT, "append {turn}");
    }
    let sha256 = sha256_hex(&data);
    for instance in &instances {
        let head = instance.tus_head(&path).await;
        assert_eq!(header(&head, "repr-digest"), repr_digest(&data));
        assert_eq!(instance.downloaded(&sha256).await, data);
    }
}
