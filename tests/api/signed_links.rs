//! Signed downloads: with downloads = signed, a file is served only with
//! a link signed for its path that has not expired, by ferry's own scheme or
//! the CDN type A scheme; anything else is 403 `forbidden`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry::access::LinkSigner;
use ferry::config::DownloadAccess;
use md5::{Digest, Md5};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error, sha256_hex, spawn_app_with, test_bytes};

/// The key of Tencent Cloud's worked example, as the download key.
const KEY: &str = "dimtm5evg50ijsx2hvuwyfoiu65";
/// How long type A links hold after their timestamp.
const CDN_TTL: Duration = Duration::from_secs(1800);

async fn signed_server() -> TestApp {
    spawn_app_with(Backend::Sqlite, |settings| {
        settings.security.downloads = DownloadAccess::Signed;
        settings.security.download_key = Some(KEY.to_owned().into());
        settings.security.cdn_auth_ttl = CDN_TTL;
    })
    .await
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Uploads `data` as `filename` in chunks and answers the published file JSON.
async fn upload_named(app: &TestApp, data: &[u8], filename: &str) -> Value {
    let created = app
        .create(json!({"sha256": sha256_hex(data), "size": data.len(),
                       "chunk_size": 1024, "filename": filename}))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    for index in 0..created["chunk_count"].as_u64().unwrap() as usize {
        app.send_chunk(data, 1024, index).await;
    }
    let done = app.complete(&sha256_hex(data)).await;
    assert_eq!(done.status(), StatusCode::OK);
    let done: Value = done.json().await.unwrap();
    done["file"].clone()
}

async fn get(app: &TestApp, link: &str) -> reqwest::Response {
    app.client.get(app.url(link)).send().await.unwrap()
}

async fn assert_forbidden(app: &TestApp, link: &str) {
    assert_error(get(app, link).await, StatusCode::FORBIDDEN, "forbidden").await;
    let head = app.client.head(app.url(link)).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::FORBIDDEN, "HEAD {link}");
}

async fn assert_serves(app: &TestApp, link: &str, data: &[u8]) {
    let response = get(app, link).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {link}");
    assert_eq!(response.bytes().await.unwrap(), data);
}

/// The type A `auth_key` of `path`, computed as the CDN documents it:
/// `timestamp-rand-uid-md5("path-timestamp-rand-uid-key")`.
fn type_a(path: &str, timestamp: u64, rand: &str, uid: &str) -> String {
    let hash = Md5::digest(format!("{path}-{timestamp}-{rand}-{uid}-{KEY}").as_bytes());
    format!(
        "{path}?auth_key={timestamp}-{rand}-{uid}-{}",
        hex::encode(hash)
    )
}

#[tokio::test]
async fn the_signed_url_of_an_upload_serves_the_file() {
    let app = signed_server().await;
    let data = test_bytes(3000, 50);
    let file = upload_named(&app, &data, "photo.jpg").await;
    let url = file["url"].as_str().unwrap();
    let path = format!("/v1/files/{}/photo.jpg", sha256_hex(&data));
    assert!(
        url.starts_with(&format!("{path}?expires=")) && url.contains("&signature="),
        "{url}"
    );
    assert_serves(&app, url, &data).await;
    let head = app.client.head(app.url(url)).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);

    let small = test_bytes(500, 51);
    let put = app
        .client
        .put(app.url(&format!("/v1/files/{}?filename=a.txt", sha256_hex(&small))))
        .body(small.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::CREATED);
    let put: Value = put.json().await.unwrap();
    assert_serves(&app, put["url"].as_str().unwrap(), &small).await;
}

#[tokio::test]
async fn a_signed_url_for_a_chinese_filename_serves_the_file() {
    let app = signed_server().await;
    let data = test_bytes(2000, 52);
    let file = upload_named(&app, &data, "课程 第1讲.mp4").await;
    let url = file["url"].as_str().unwrap();
    assert!(url.contains("/%E8%AF%BE%E7%A8%8B%20"), "{url}");
    assert_serves(&app, url, &data).await;
}

#[tokio::test]
async fn a_download_without_a_signature_is_403() {
    let app = signed_server().await;
    let data = test_bytes(2000, 53);
    let file = upload_named(&app, &data, "photo.jpg").await;
    let url = file["url"].as_str().unwrap();
    let (path, query) = url.split_once('?').unwrap();
    let (expires, signature) = query.split_once('&').unwrap();
    let sha = sha256_hex(&data);
    for link in [
        format!("/v1/files/{sha}"),
        path.to_owned(),
        format!("{path}?{expires}"),
        format!("{path}?{signature}"),
        format!("{path}?expires=&signature="),
        format!("{path}?auth_key="),
        format!("{path}?inline=1"),
    ] {
        assert_forbidden(&app, &link).await;
    }
}

#[tokio::test]
async fn without_a_valid_link_a_missing_file_is_403_like_a_present_one() {
    let app = signed_server().await;
    let missing = sha256_hex(b"no such file");
    assert_forbidden(&app, &format!("/v1/files/{missing}")).await;
    assert_forbidden(&app, &format!("/v1/files/{missing}/photo.jpg")).await;
    let signer = LinkSigner::new(KEY.as_bytes(), CDN_TTL);
    let signed = signer.sign(
        &format!("/v1/files/{missing}/photo.jpg"),
        Duration::from_secs(60),
        SystemTime::now(),
    );
    assert_error(
        get(&app, &signed).await,
        StatusCode::NOT_FOUND,
        "file-not-found",
    )
    .await;
}

#[tokio::test]
async fn an_expired_link_is_403() {
    let app = signed_server().await;
    let data = test_bytes(2000, 54);
    upload_named(&app, &data, "photo.jpg").await;
    let path = format!("/v1/files/{}/photo.jpg", sha256_hex(&data));
    let signer = LinkSigner::new(KEY.as_bytes(), CDN_TTL);
    let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
    let expired = signer.sign(&path, Duration::from_secs(3600), two_hours_ago);
    assert_forbidden(&app, &expired).await;
    let fresh = signer.sign(&path, Duration::from_secs(60), SystemTime::now());
    assert_serves(&app, &fresh, &data).await;
}

#[tokio::test]
async fn a_link_for_another_path_is_403() {
    let app = signed_server().await;
    let data = test_bytes(2000, 55);
    let other = test_bytes(2000, 56);
    let file = upload_named(&app, &data, "photo.jpg").await;
    upload_named(&app, &other, "photo.jpg").await;
    let url = file["url"].as_str().unwrap();
    let (_, query) = url.split_once('?').unwrap();
    let (sha, other_sha) = (sha256_hex(&data), sha256_hex(&other));
    for path in [
        format!("/v1/files/{sha}"),
        format!("/v1/files/{sha}/photo.html"),
        format!("/v1/files/{sha}/Photo.jpg"),
        format!("/v1/files/{other_sha}/photo.jpg"),
        format!("/v1/files/{other_sha}"),
    ] {
        assert_forbidden(&app, &format!("{path}?{query}")).await;
    }
}

#[tokio::test]
async fn a_tampered_expiry_or_signature_is_403() {
    let app = signed_server().await;
    let data = test_bytes(2000, 57);
    let file = upload_named(&app, &data, "photo.jpg").await;
    let url = file["url"].as_str().unwrap();
    let (path, query) = url.split_once('?').unwrap();
    let (expires, signature) = query.split_once('&').unwrap();
    let expires: u64 = expires.strip_prefix("expires=").unwrap().parse().unwrap();
    let signature = signature.strip_prefix("signature=").unwrap();
    let flipped: String = signature
        .chars()
        .enumerate()
        .map(|(i, c)| match (i, c) {
            (0, '0') => '1',
            (0, _) => '0',
            (_, c) => c,
        })
        .collect();
    for link in [
        format!("{path}?expires={}&signature={signature}", expires + 1),
        format!("{path}?expires={}&signature={signature}", expires + 86_400),
        format!("{path}?expires={expires}&signature={flipped}"),
        format!("{path}?expires={expires}&signature={}", &signature[..32]),
    ] {
        assert_ne!(link, url);
        assert_forbidden(&app, &link).await;
    }
    assert_serves(&app, url, &data).await;
}

#[test]
fn the_type_a_formula_here_gives_tencents_worked_example() {
    let hash =
        Md5::digest(b"/test.jpg-1582791032-im1acp76sx9sdqe601v-0-dimtm5evg50ijsx2hvuwyfoiu65");
    assert_eq!(hex::encode(hash), "3fbb88382c9356b6faaf9d68c7b2ae3a");
    assert_eq!(
        type_a("/test.jpg", 1_582_791_032, "im1acp76sx9sdqe601v", "0"),
        "/test.jpg?auth_key=1582791032-im1acp76sx9sdqe601v-0-3fbb88382c9356b6faaf9d68c7b2ae3a"
    );
}

#[tokio::test]
async fn a_cdn_type_a_link_built_as_the_cdn_builds_it_serves() {
    let app = signed_server().await;
    let data = test_bytes(3000, 58);
    upload_named(&app, &data, "test.jpg").await;
    let path = format!("/v1/files/{}/test.jpg", sha256_hex(&data));
    let link = type_a(&path, now(), "im1acp76sx9sdqe601v", "0");
    assert_serves(&app, &link, &data).await;
    let older = type_a(&path, now() - CDN_TTL.as_secs() + 60, "r4nd", "1234");
    assert_serves(&app, &older, &data).await;
    let ferrys = LinkSigner::new(KEY.as_bytes(), CDN_TTL).sign_type_a(
        &path,
        "im1acp76sx9sdqe601v",
        "0",
        SystemTime::now(),
    );
    assert_serves(&app, &ferrys, &data).await;
    let bare = format!("/v1/files/{}", sha256_hex(&data));
    assert_serves(&app, &type_a(&bare, now(), "x", "0"), &data).await;
}

#[tokio::test]
async fn an_expired_or_tampered_type_a_link_is_403() {
    let app = signed_server().await;
    let data = test_bytes(3000, 59);
    upload_named(&app, &data, "test.jpg").await;
    let sha = sha256_hex(&data);
    let path = format!("/v1/files/{sha}/test.jpg");
    let expired = type_a(&path, now() - CDN_TTL.as_secs() - 60, "r4nd", "0");
    assert_forbidden(&app, &expired).await;

    let timestamp = now();
    let valid = type_a(&path, timestamp, "r4nd", "0");
    let (_, auth_key) = valid.split_once('?').unwrap();
    let hash = valid.rsplit('-').next().unwrap();
    for link in [
        format!("/v1/files/{sha}/other.jpg?{auth_key}"),
        format!("/v1/files/{sha}?{auth_key}"),
        format!("{path}?auth_key={}-r4nd-0-{hash}", timestamp + 3600),
        format!("{path}?auth_key={timestamp}-r4nd-1-{hash}"),
        format!("{path}?auth_key={timestamp}-rand-0-{hash}"),
        format!("{path}?auth_key={timestamp}-r4nd-0-{}", "0".repeat(32)),
        format!("{path}?auth_key={timestamp}-r4nd-0"),
    ] {
        assert_forbidden(&app, &link).await;
    }
    let other_key = {
        let hash =
            Md5::digest(format!("{path}-{timestamp}-r4nd-0-another key entirely").as_bytes());
        format!("{path}?auth_key={timestamp}-r4nd-0-{}", hex::encode(hash))
    };
    assert_forbidden(&app, &other_key).await;
    assert_serves(&app, &valid, &data).await;
}
