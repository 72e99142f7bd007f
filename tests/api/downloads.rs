//! Downloads as a CDN origin sees them: validators and caching headers,
//! single and multiple byte ranges, conditional requests, filenames, and
//! large files read back in slices.

use std::time::{Duration, SystemTime};

use futures::StreamExt;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use reqwest::header::HeaderValue;
use reqwest::{Method, Response, StatusCode};

use ferry_proto::ContentHash;

use crate::helpers::{Backend, TestApp, assert_error, sha256_hex, spawn_app, test_bytes};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const MIB: usize = 1 << 20;

/// Publishes `data` with one PUT, with a Content-Type header when given; returns its hash.
async fn publish(app: &TestApp, data: &[u8], content_type: Option<&str>) -> String {
    let sha = sha256_hex(data);
    let mut request = app
        .client
        .put(app.url(&format!("/v1/files/{sha}?filename=upload.bin")))
        .body(data.to_vec());
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    let response = request.send().await.expect("the upload answers");
    assert_eq!(response.status(), StatusCode::CREATED);
    sha
}

/// A 10,000-byte text file published for range tests.
async fn text_file(app: &TestApp) -> (String, Vec<u8>) {
    let data = test_bytes(10_000, 70);
    (publish(app, &data, Some("text/plain")).await, data)
}

async fn send(app: &TestApp, method: Method, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut request = app.client.request(method, app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("the download answers")
}

async fn get(app: &TestApp, sha: &str, headers: &[(&str, &str)]) -> Response {
    send(app, Method::GET, &format!("/v1/files/{sha}"), headers).await
}

async fn head(app: &TestApp, sha: &str, headers: &[(&str, &str)]) -> Response {
    send(app, Method::HEAD, &format!("/v1/files/{sha}"), headers).await
}

async fn get_range(app: &TestApp, sha: &str, range: &str) -> Response {
    get(app, sha, &[("Range", range)]).await
}

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {:?}", response.headers()))
        .to_str()
        .expect("a visible ASCII header")
}

fn lacks(response: &Response, name: &str) -> bool {
    !response.headers().contains_key(name)
}

/// The headers every successful answer (200, 206, 304) carries.
fn assert_cdn_headers(response: &Response, sha: &str) {
    assert_eq!(header(response, "etag"), format!("\"{sha}\""));
    assert_eq!(header(response, "cache-control"), IMMUTABLE);
    assert_eq!(header(response, "accept-ranges"), "bytes");
    assert_eq!(header(response, "x-content-type-options"), "nosniff");
    httpdate::parse_http_date(header(response, "last-modified")).expect("an HTTP-date");
}

/// An exact Content-Length, and neither chunked nor compressed.
fn assert_sized(response: &Response, length: usize) {
    assert_eq!(header(response, "content-length"), length.to_string());
    assert!(
        lacks(response, "transfer-encoding"),
        "{:?}",
        response.headers()
    );
    assert!(
        lacks(response, "content-encoding"),
        "{:?}",
        response.headers()
    );
}

/// Asserts a 200 with the whole file.
async fn assert_full(response: Response, data: &[u8]) {
    assert_eq!(response.status(), StatusCode::OK);
    assert!(lacks(&response, "content-range"));
    assert_sized(&response, data.len());
    assert_eq!(response.bytes().await.unwrap(), data);
}

/// Asserts a single-range 206 of `data[start..=end]`.
async fn assert_partial(response: Response, data: &[u8], start: usize, end: usize) {
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    let expected = format!("bytes {start}-{end}/{}", data.len());
    assert_eq!(header(&response, "content-range"), expected);
    assert_sized(&response, end - start + 1);
    assert_eq!(response.bytes().await.unwrap(), data[start..=end]);
}

/// Asserts a 416 that names the length.
async fn assert_unsatisfiable(response: Response, length: usize) {
    assert_eq!(
        header(&response, "content-range"),
        format!("bytes */{length}")
    );
    assert_eq!(header(&response, "cache-control"), "no-store");
    assert_error(
        response,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range-not-satisfiable",
    )
    .await;
}

async fn assert_precondition_failed(response: Response) {
    assert_eq!(header(&response, "cache-control"), "no-store");
    assert_error(
        response,
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
    )
    .await;
}

/// Asserts a 304 with the validators and caching headers and no body.
async fn assert_not_modified(response: Response, sha: &str) {
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_cdn_headers(&response, sha);
    assert!(lacks(&response, "content-range"));
    assert!(response.bytes().await.unwrap().is_empty());
}

/// One part of a multipart/byteranges body.
#[derive(Debug)]
struct Part {
    content_type: String,
    start: usize,
    end: usize,
    complete_length: usize,
    body: Vec<u8>,
}

/// Parses a multipart/byteranges body strictly: each part's length comes from
/// its Content-Range, and exactly one delimiter must follow it.
fn parse_byteranges(content_type: &str, body: &[u8]) -> Vec<Part> {
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("not multipart/byteranges: {content_type}"))
        .trim_matches('"');
    let delimiter = format!("\r\n--{boundary}");
    let mut rest = body
        .strip_prefix(delimiter.as_bytes())
        .expect("the body opens with a delimiter");
    let mut parts = Vec::new();
    while rest != b"--\r\n" {
        rest = rest
            .strip_prefix(b"\r\n")
            .expect("a line break after the delimiter");
        let header_end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("part headers end with an empty line");
        let headers = std::str::from_utf8(&rest[..header_end]).expect("ASCII part headers");
        rest = &rest[header_end + 4..];
        let mut content_type = None;
        let mut content_range = None;
        for line in headers.split("\r\n") {
            let (name, value) = line.split_once(": ").expect("a `Name: value` header");
            match name.to_ascii_lowercase().as_str() {
                "content-type" => content_type = Some(value.to_owned()),
                "content-range" => content_range = Some(value.to_owned()),
                other => panic!("unexpected part header {other}"),
            }
        }
        let content_range = content_range.expect("a Content-Range in every part");
        let (span, complete_length) = content_range
            .strip_prefix("bytes ")
            .and_then(|r| r.split_once('/'))
            .expect("bytes a-b/len");
        let (start, end) = span.split_once('-').expect("a-b");
        let (start, end): (usize, usize) = (start.parse().unwrap(), end.parse().unwrap());
        let length = end - start + 1;
        parts.push(Part {
            content_type: content_type.expect("a Content-Type in every part"),
            start,
            end,
            complete_length: complete_length.parse().unwrap(),
            body: rest[..length].to_vec(),
        });
        rest = rest[length..]
            .strip_prefix(delimiter.as_bytes())
            .expect("a delimiter right after the part's bytes");
    }
    parts
}

/// Asserts a multipart 206 whose parts are exactly `ranges` of `data`, in order.
async fn assert_multipart(response: Response, data: &[u8], ranges: &[(usize, usize)]) {
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert!(lacks(&response, "content-range"));
    let content_type = header(&response, "content-type").to_owned();
    let declared: usize = header(&response, "content-length").parse().unwrap();
    assert!(lacks(&response, "transfer-encoding"));
    let body = response.bytes().await.unwrap();
    assert_eq!(body.len(), declared, "Content-Length is exact");
    let parts = parse_byteranges(&content_type, &body);
    let found: Vec<(usize, usize)> = parts.iter().map(|p| (p.start, p.end)).collect();
    assert_eq!(found, ranges);
    for part in parts {
        assert_eq!(part.content_type, "text/plain");
        assert_eq!(part.complete_length, data.len());
        assert!(
            part.body == data[part.start..=part.end],
            "part {}-{}",
            part.start,
            part.end
        );
    }
}

/// The file's Last-Modified as the store remembers its publication.
async fn stored_last_modified(app: &TestApp, sha: &str) -> String {
    let hash = ContentHash::parse(sha).unwrap();
    let file = app
        .meta
        .find_file(&hash)
        .await
        .unwrap()
        .expect("a published file");
    httpdate::fmt_http_date(SystemTime::from(file.published_at))
}

/// The HTTP-date `seconds` away from the file's Last-Modified.
fn shifted(last_modified: &str, seconds: i64) -> String {
    let time = httpdate::parse_http_date(last_modified).unwrap();
    let delta = Duration::from_secs(seconds.unsigned_abs());
    let time = if seconds < 0 {
        time - delta
    } else {
        time + delta
    };
    httpdate::fmt_http_date(time)
}

// Headers of whole-file answers.

async fn a_get_answers_the_whole_file_with_every_cdn_header(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let response = get(&app, &sha, &[]).await;
    assert_cdn_headers(&response, &sha);
    assert_eq!(
        header(&response, "last-modified"),
        stored_last_modified(&app, &sha).await
    );
    assert_eq!(header(&response, "content-type"), "text/plain");
    assert!(lacks(&response, "content-disposition"));
    assert_full(response, &data).await;
}

async fn the_validators_are_the_same_on_every_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, _) = text_file(&app).await;
    let first = get(&app, &sha, &[]).await;
    let second = get_range(&app, &sha, "bytes=0-0").await;
    let third = head(&app, &sha, &[]).await;
    for name in ["etag", "last-modified", "cache-control"] {
        assert_eq!(header(&first, name), header(&second, name), "{name}");
        assert_eq!(header(&first, name), header(&third, name), "{name}");
    }
}

async fn a_head_carries_the_headers_and_length_of_a_get_without_a_body(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let got = get(&app, &sha, &[]).await;
    let response = head(&app, &sha, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_cdn_headers(&response, &sha);
    assert_sized(&response, data.len());
    for name in ["etag", "last-modified", "content-type", "content-length"] {
        assert_eq!(header(&response, name), header(&got, name), "{name}");
    }
    assert!(response.bytes().await.unwrap().is_empty());
}

async fn a_head_ignores_range(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    for range in ["bytes=0-9", "bytes=0-9,20-29", "bytes=99999-"] {
        let response = head(&app, &sha, &[("Range", range)]).await;
        assert_eq!(response.status(), StatusCode::OK, "{range}");
        assert!(lacks(&response, "content-range"));
        assert_sized(&response, data.len());
    }
}

async fn the_upload_content_type_wins_over_the_filename(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, _) = text_file(&app).await;
    let response = send(
        &app,
        Method::GET,
        &format!("/v1/files/{sha}/movie.mp4"),
        &[],
    )
    .await;
    assert_eq!(header(&response, "content-type"), "text/plain");
}

async fn without_an_upload_content_type_the_filename_decides(backend: Backend) {
    let app = spawn_app(backend).await;
    let sha = publish(&app, &test_bytes(3000, 71), None).await;
    for (path, expected) in [
        (format!("/v1/files/{sha}/movie.mp4"), "video/mp4"),
        (format!("/v1/files/{sha}/notes.txt"), "text/plain"),
        (
            format!("/v1/files/{sha}/no-extension"),
            "application/octet-stream",
        ),
        (format!("/v1/files/{sha}"), "application/octet-stream"),
    ] {
        let response = send(&app, Method::GET, &path, &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "content-type"), expected, "{path}");
    }
}

async fn a_page_is_never_rendered_on_the_origin(backend: Backend) {
    let app = spawn_app(backend).await;
    let page = b"<script>alert(document.cookie)</script>".to_vec();
    let sha = publish(&app, &page, Some("text/html")).await;
    for path in [
        format!("/v1/files/{sha}"),
        format!("/v1/files/{sha}/page.html?inline=1"),
    ] {
        let response = send(&app, Method::GET, &path, &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "content-type"), "text/html");
        assert!(
            header(&response, "content-disposition").starts_with("attachment"),
            "{path}"
        );
        assert_eq!(
            header(&response, "content-security-policy"),
            "sandbox; default-src 'none'"
        );
    }
    let untyped = publish(&app, b"<svg onload=alert(1)/>", None).await;
    let response = send(
        &app,
        Method::GET,
        &format!("/v1/files/{untyped}/x.svg?inline=1"),
        &[],
    )
    .await;
    assert_eq!(header(&response, "content-type"), "image/svg+xml");
    assert!(header(&response, "content-disposition").starts_with("attachment"));
    assert_eq!(
        header(&response, "content-security-policy"),
        "sandbox; default-src 'none'"
    );
    let video = publish(&app, &test_bytes(100, 72), Some("video/mp4")).await;
    let response = send(
        &app,
        Method::GET,
        &format!("/v1/files/{video}/v.mp4?inline=1"),
        &[],
    )
    .await;
    assert!(header(&response, "content-disposition").starts_with("inline"));
    assert!(response.headers().get("content-security-policy").is_none());
}

async fn a_filename_in_the_url_makes_an_attachment(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let response = send(
        &app,
        Method::GET,
        &format!("/v1/files/{sha}/report.pdf"),
        &[],
    )
    .await;
    assert_eq!(
        header(&response, "content-disposition"),
        "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
    );
    assert_cdn_headers(&response, &sha);
    assert_full(response, &data).await;
}

async fn inline_1_makes_the_disposition_inline(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, _) = text_file(&app).await;
    let path = format!("/v1/files/{sha}/page.txt?inline=1");
    let response = send(&app, Method::GET, &path, &[]).await;
    assert_eq!(
        header(&response, "content-disposition"),
        "inline; filename=\"page.txt\"; filename*=UTF-8''page.txt"
    );
    let path = format!("/v1/files/{sha}?inline=1");
    let response = send(&app, Method::GET, &path, &[]).await;
    assert!(
        lacks(&response, "content-disposition"),
        "no filename, no disposition"
    );
}

async fn a_chinese_filename_gets_an_ascii_fallback_and_the_exact_utf8_name(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = test_bytes(5000, 72);
    let sha = publish(&app, &data, None).await;
    let path = format!("/v1/files/{sha}/课程%20第1讲.mp4");
    let response = send(&app, Method::GET, &path, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), "video/mp4");
    let disposition = header(&response, "content-disposition").to_owned();
    assert_eq!(
        disposition,
        "attachment; filename=\"__ _1_.mp4\"; \
         filename*=UTF-8''%E8%AF%BE%E7%A8%8B%20%E7%AC%AC1%E8%AE%B2.mp4"
    );
    let encoded = disposition.split("filename*=UTF-8''").nth(1).unwrap();
    let decoded = percent_encoding::percent_decode_str(encoded)
        .decode_utf8()
        .unwrap();
    assert_eq!(decoded, "课程 第1讲.mp4");
    let response = send(&app, Method::HEAD, &format!("{path}?inline=1"), &[]).await;
    assert!(
        header(&response, "content-disposition").starts_with("inline; filename=\"__ _1_.mp4\";")
    );
    assert_full(get(&app, &sha, &[]).await, &data).await;
}

async fn quotes_and_percent_signs_in_a_filename_stay_out_of_the_fallback(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, _) = text_file(&app).await;
    let path = format!("/v1/files/{sha}/a%22b%5Cc%3Bd.txt");
    let response = send(&app, Method::GET, &path, &[]).await;
    assert_eq!(
        header(&response, "content-disposition"),
        "attachment; filename=\"a_b_c;d.txt\"; filename*=UTF-8''a%22b%5Cc%3Bd.txt"
    );
    let path = format!("/v1/files/{sha}/a%0D%0Ab.txt");
    let response = send(&app, Method::GET, &path, &[]).await;
    assert_eq!(
        header(&response, "content-disposition"),
        "attachment; filename=\"a__b.txt\"; filename*=UTF-8''a%0D%0Ab.txt"
    );
    let path = format!("/v1/files/{sha}/100%25.txt");
    let response = send(&app, Method::GET, &path, &[]).await;
    assert_eq!(
        header(&response, "content-disposition"),
        "attachment; filename=\"100_.txt\"; filename*=UTF-8''100%25.txt"
    );
}

async fn an_unknown_file_is_a_json_404_that_is_not_cached(backend: Backend) {
    let app = spawn_app(backend).await;
    let unknown = sha256_hex(b"never published");
    for path in [
        format!("/v1/files/{unknown}"),
        format!("/v1/files/{unknown}/a.txt"),
    ] {
        let response = send(&app, Method::GET, &path, &[("Range", "bytes=0-1")]).await;
        assert_eq!(header(&response, "cache-control"), "no-store");
        assert!(lacks(&response, "etag"));
        assert_error(response, StatusCode::NOT_FOUND, "file-not-found").await;
        let response = send(&app, Method::HEAD, &path, &[]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(header(&response, "cache-control"), "no-store");
    }
}

async fn an_upper_case_hash_finds_the_file_under_the_lower_case_etag(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let response = get(&app, &sha.to_uppercase(), &[]).await;
    assert_cdn_headers(&response, &sha);
    assert_full(response, &data).await;
}

async fn content_is_never_compressed(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = b"a very compressible text ".repeat(2000);
    let sha = publish(&app, &data, Some("text/plain")).await;
    let response = get(&app, &sha, &[("Accept-Encoding", "gzip, br, zstd")]).await;
    assert_full(response, &data).await;
    let response = get(
        &app,
        &sha,
        &[("Accept-Encoding", "gzip"), ("Range", "bytes=0-99")],
    )
    .await;
    assert_partial(response, &data, 0, 99).await;
}

async fn a_zero_byte_file_answers_every_range_with_an_empty_200(backend: Backend) {
    let app = spawn_app(backend).await;
    let sha = publish(&app, b"", Some("text/plain")).await;
    assert_full(get(&app, &sha, &[]).await, b"").await;
    for range in [
        "bytes=0-0",
        "bytes=0-",
        "bytes=-1",
        "bytes=5-9",
        "bytes=0-0,2-3",
        "bytes=-0",
    ] {
        let response = get_range(&app, &sha, range).await;
        assert_cdn_headers(&response, &sha);
        assert_full(response, b"").await;
    }
    let response = head(&app, &sha, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_sized(&response, 0);
}

// Single ranges.

async fn a_closed_range_gets_206_with_the_validators_of_the_200(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let full = get(&app, &sha, &[]).await;
    let response = get_range(&app, &sha, "bytes=100-199").await;
    assert_cdn_headers(&response, &sha);
    for name in ["etag", "last-modified", "cache-control", "content-type"] {
        assert_eq!(header(&response, name), header(&full, name), "{name}");
    }
    assert_partial(response, &data, 100, 199).await;
}

async fn an_open_range_runs_to_the_end(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    assert_partial(
        get_range(&app, &sha, "bytes=9000-").await,
        &data,
        9000,
        9999,
    )
    .await;
    assert_partial(get_range(&app, &sha, "bytes=0-").await, &data, 0, 9999).await;
}

async fn a_suffix_range_gets_the_last_bytes(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    assert_partial(get_range(&app, &sha, "bytes=-500").await, &data, 9500, 9999).await;
    assert_partial(get_range(&app, &sha, "bytes=-1").await, &data, 9999, 9999).await;
    assert_partial(get_range(&app, &sha, "bytes=-20000").await, &data, 0, 9999).await;
}

async fn a_range_past_the_end_is_clamped(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    assert_partial(
        get_range(&app, &sha, "bytes=9990-10000").await,
        &data,
        9990,
        9999,
    )
    .await;
    let huge = "bytes=100-99999999999999999999999";
    assert_partial(get_range(&app, &sha, huge).await, &data, 100, 9999).await;
    let suffix = "bytes=-99999999999999999999999";
    assert_partial(get_range(&app, &sha, suffix).await, &data, 0, 9999).await;
}

async fn the_first_and_last_single_bytes_can_be_fetched(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    assert_partial(get_range(&app, &sha, "bytes=0-0").await, &data, 0, 0).await;
    assert_partial(
        get_range(&app, &sha, "bytes=9999-9999").await,
        &data,
        9999,
        9999,
    )
    .await;
}

async fn the_range_unit_is_case_insensitive(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    assert_partial(get_range(&app, &sha, "Bytes=0-1").await, &data, 0, 1).await;
    assert_partial(get_range(&app, &sha, "BYTES=5-9").await, &data, 5, 9).await;
}

async fn an_unknown_range_unit_is_ignored(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    for range in ["items=0-1", "pages=1", "none"] {
        assert_full(get_range(&app, &sha, range).await, &data).await;
    }
}

async fn a_syntactically_invalid_range_is_ignored(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    for range in [
        "bytes=5-3",
        "bytes=abc",
        "bytes=1-2-3",
        "bytes=",
        "bytes=--1",
        "bytes=0-1;x",
        "bytes=0-9,5-3",
        "bytes=+1-2",
        "bytes=0x10-0x20",
        "bytes=0-1, bytes=2-3",
    ] {
        let response = get_range(&app, &sha, range).await;
        assert_eq!(response.status(), StatusCode::OK, "{range}");
        assert_full(response, &data).await;
    }
}

async fn a_range_starting_past_the_end_is_416_with_the_length(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, _) = text_file(&app).await;
    for range in [
        "bytes=10000-",
        "bytes=10000-10005",
        "bytes=-0",
        "bytes=99999999999999999999999-",
        "bytes=20000-20001,30000-",
    ] {
        assert_unsatisfiable(get_range(&app, &sha, range).await, 10_000).await;
    }
}

async fn unsatisfiable_members_of_a_set_are_dropped(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let response = get_range(&app, &sha, "bytes=50000-,0-9").await;
    assert_partial(response, &data, 0, 9).await;
    let response = get_range(&app, &sha, "bytes=0-9,-0,20000-,20-29").await;
    assert_multipart(response, &data, &[(0, 9), (20, 29)]).await;
}

// Several ranges.

async fn two_ranges_give_a_multipart_body_with_exact_part_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let response = get_range(&app, &sha, "bytes=0-9,100-199").await;
    assert_cdn_headers(&response, &sha);
    let content_type = header(&response, "content-type").to_owned();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap();
    let mut expected = Vec::new();
    for (start, end) in [(0, 9), (100, 199)] {
        let head = format!(
            "\r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes {start}-{end}/10000\r\n\r\n"
        );
        expected.extend_from_slice(head.as_bytes());
        expected.extend_from_slice(&data[start..=end]);
    }
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_sized(&response, expected.len());
    assert_eq!(response.bytes().await.unwrap(), expected);
}

async fn many_ranges_are_parsed_back_to_the_file_slices(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let range = "bytes=0-0,10-19,20-29,1000-1999,5000-5000,7777-8888,9990-";
    let expected = [
        (0, 0),
        (10, 19),
        (20, 29),
        (1000, 1999),
        (5000, 5000),
        (7777, 8888),
        (9990, 9999),
    ];
    assert_multipart(get_range(&app, &sha, range).await, &data, &expected).await;
}

async fn a_multipart_answer_carries_the_validators_of_the_200(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, _) = text_file(&app).await;
    let full = get(&app, &sha, &[]).await;
    let response = get_range(&app, &sha, "bytes=0-1,3-4").await;
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_cdn_headers(&response, &sha);
    for name in ["etag", "last-modified", "cache-control"] {
        assert_eq!(header(&response, name), header(&full, name), "{name}");
    }
}

async fn overlapping_ranges_are_coalesced_into_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    assert_partial(get_range(&app, &sha, "bytes=0-10,5-20").await, &data, 0, 20).await;
    let response = get_range(&app, &sha, "bytes=100-199,0-9,150-300,-10").await;
    assert_multipart(response, &data, &[(0, 9), (100, 300), (9990, 9999)]).await;
}

async fn ranges_out_of_order_are_sorted_and_merged(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let response = get_range(&app, &sha, "bytes=500-599,0-9,600-700").await;
    assert_multipart(response, &data, &[(0, 9), (500, 700)]).await;
}

async fn many_small_overlapping_ranges_never_exceed_the_file(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let members: Vec<String> = (0..50).map(|i| format!("{}-", i * 3)).collect();
    let range = format!("bytes={}", members.join(","));
    assert_partial(get_range(&app, &sha, &range).await, &data, 0, 9999).await;
}

async fn more_ranges_than_the_cap_are_answered_200(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let members: Vec<String> = (0..100).map(|i| format!("{0}-{0}", i * 10)).collect();
    let range = format!("bytes={}", members.join(","));
    assert_full(get_range(&app, &sha, &range).await, &data).await;
    let at_cap: Vec<(usize, usize)> = (0..64).map(|i| (i * 10, i * 10)).collect();
    let members: Vec<String> = at_cap.iter().map(|(s, e)| format!("{s}-{e}")).collect();
    let range = format!("bytes={}", members.join(","));
    assert_multipart(get_range(&app, &sha, &range).await, &data, &at_cap).await;
}

// Conditional requests.

async fn if_none_match_with_the_etag_gives_304_with_the_cdn_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, _) = text_file(&app).await;
    let etag = format!("\"{sha}\"");
    let full = get(&app, &sha, &[]).await;
    let response = get(&app, &sha, &[("If-None-Match", &etag)]).await;
    assert_eq!(
        header(&response, "last-modified"),
        header(&full, "last-modified")
    );
    assert_not_modified(response, &sha).await;
    assert_not_modified(head(&app, &sha, &[("If-None-Match", &etag)]).await, &sha).await;
    let ranged = get(
        &app,
        &sha,
        &[("If-None-Match", &etag), ("Range", "bytes=0-9")],
    )
    .await;
    assert_not_modified(ranged, &sha).await;
}

async fn if_none_match_compares_weakly_and_takes_lists_and_a_star(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, _) = text_file(&app).await;
    for value in [
        format!("W/\"{sha}\""),
        format!("\"other\", W/\"{sha}\""),
        format!("\"x\",\"{sha}\""),
        "*".to_owned(),
    ] {
        assert_not_modified(get(&app, &sha, &[("If-None-Match", &value)]).await, &sha).await;
    }
}

async fn if_none_match_with_other_etags_serves_the_file(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let other = format!("\"{}\", W/\"abc\"", sha256_hex(b"other"));
    assert_full(get(&app, &sha, &[("If-None-Match", &other)]).await, &data).await;
    let unquoted = sha.clone();
    assert_full(
        get(&app, &sha, &[("If-None-Match", &unquoted)]).await,
        &data,
    )
    .await;
}

async fn if_modified_since_at_last_modified_gives_304_and_a_second_earlier_200(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let last_modified = stored_last_modified(&app, &sha).await;
    let response = get(&app, &sha, &[("If-Modified-Since", &last_modified)]).await;
    assert_not_modified(response, &sha).await;
    let later = shifted(&last_modified, 3600);
    assert_not_modified(
        get(&app, &sha, &[("If-Modified-Since", &later)]).await,
        &sha,
    )
    .await;
    let earlier = shifted(&last_modified, -1);
    assert_full(
        get(&app, &sha, &[("If-Modified-Since", &earlier)]).await,
        &data,
    )
    .await;
    let response = head(&app, &sha, &[("If-Modified-Since", &last_modified)]).await;
    assert_not_modified(response, &sha).await;
}

async fn if_modified_since_is_ignored_beside_if_none_match_or_when_invalid(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let later = shifted(&stored_last_modified(&app, &sha).await, 3600);
    let headers = [
        ("If-None-Match", "\"other\""),
        ("If-Modified-Since", later.as_str()),
    ];
    assert_full(get(&app, &sha, &headers).await, &data).await;
    let response = get(&app, &sha, &[("If-Modified-Since", "yesterday")]).await;
    assert_full(response, &data).await;
}

async fn if_match_with_another_etag_is_a_412_json_error(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, _) = text_file(&app).await;
    let other = format!("\"{}\"", sha256_hex(b"other"));
    assert_precondition_failed(get(&app, &sha, &[("If-Match", &other)]).await).await;
    let weak = format!("W/\"{sha}\"");
    assert_precondition_failed(get(&app, &sha, &[("If-Match", &weak)]).await).await;
    let response = head(&app, &sha, &[("If-Match", &other)]).await;
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
}

async fn if_match_with_the_etag_or_a_star_passes(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    for value in [
        format!("\"{sha}\""),
        "*".to_owned(),
        format!("\"x\", \"{sha}\""),
    ] {
        assert_full(get(&app, &sha, &[("If-Match", &value)]).await, &data).await;
    }
    let etag = format!("\"{sha}\"");
    let response = get(&app, &sha, &[("If-Match", &etag), ("Range", "bytes=10-19")]).await;
    assert_partial(response, &data, 10, 19).await;
}

async fn if_unmodified_since_before_publishing_is_a_412(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let last_modified = stored_last_modified(&app, &sha).await;
    let earlier = shifted(&last_modified, -1);
    let response = get(&app, &sha, &[("If-Unmodified-Since", &earlier)]).await;
    assert_precondition_failed(response).await;
    let response = get(&app, &sha, &[("If-Unmodified-Since", &last_modified)]).await;
    assert_full(response, &data).await;
    let response = get(&app, &sha, &[("If-Unmodified-Since", "not a date")]).await;
    assert_full(response, &data).await;
}

async fn if_unmodified_since_is_ignored_beside_if_match(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let earlier = shifted(&stored_last_modified(&app, &sha).await, -3600);
    let etag = format!("\"{sha}\"");
    let headers = [
        ("If-Match", etag.as_str()),
        ("If-Unmodified-Since", earlier.as_str()),
    ];
    assert_full(get(&app, &sha, &headers).await, &data).await;
}

async fn if_match_is_evaluated_before_if_none_match(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, _) = text_file(&app).await;
    let etag = format!("\"{sha}\"");
    let both_fail = [("If-Match", "\"other\""), ("If-None-Match", etag.as_str())];
    assert_precondition_failed(get(&app, &sha, &both_fail).await).await;
    let then_304 = [
        ("If-Match", etag.as_str()),
        ("If-None-Match", etag.as_str()),
    ];
    assert_not_modified(get(&app, &sha, &then_304).await, &sha).await;
}

async fn a_precondition_answer_wins_over_416(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, _) = text_file(&app).await;
    let etag = format!("\"{sha}\"");
    let failed = [("If-Match", "\"other\""), ("Range", "bytes=50000-")];
    assert_precondition_failed(get(&app, &sha, &failed).await).await;
    let not_modified = [("If-None-Match", etag.as_str()), ("Range", "bytes=50000-")];
    assert_not_modified(get(&app, &sha, &not_modified).await, &sha).await;
}

async fn if_range_with_the_current_etag_serves_the_range(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let etag = format!("\"{sha}\"");
    let headers = [("If-Range", etag.as_str()), ("Range", "bytes=10-19")];
    assert_partial(get(&app, &sha, &headers).await, &data, 10, 19).await;
    let headers = [("If-Range", etag.as_str()), ("Range", "bytes=0-0,5-5")];
    assert_multipart(get(&app, &sha, &headers).await, &data, &[(0, 0), (5, 5)]).await;
}

async fn if_range_with_a_stale_etag_serves_the_whole_file(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let stale = format!("\"{}\"", sha256_hex(b"an older version"));
    let headers = [("If-Range", stale.as_str()), ("Range", "bytes=10-19")];
    assert_full(get(&app, &sha, &headers).await, &data).await;
    let headers = [("If-Range", stale.as_str()), ("Range", "bytes=50000-")];
    assert_full(get(&app, &sha, &headers).await, &data).await;
}

async fn if_range_with_a_weak_etag_serves_the_whole_file(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let weak = format!("W/\"{sha}\"");
    let headers = [("If-Range", weak.as_str()), ("Range", "bytes=10-19")];
    assert_full(get(&app, &sha, &headers).await, &data).await;
}

async fn if_range_with_a_date_serves_the_range_only_on_an_exact_match(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let last_modified = stored_last_modified(&app, &sha).await;
    let headers = [
        ("If-Range", last_modified.as_str()),
        ("Range", "bytes=10-19"),
    ];
    assert_partial(get(&app, &sha, &headers).await, &data, 10, 19).await;
    for seconds in [-1, 1] {
        let other = shifted(&last_modified, seconds);
        let headers = [("If-Range", other.as_str()), ("Range", "bytes=10-19")];
        assert_full(get(&app, &sha, &headers).await, &data).await;
    }
    let headers = [("If-Range", "garbage"), ("Range", "bytes=10-19")];
    assert_full(get(&app, &sha, &headers).await, &data).await;
}

async fn if_range_without_range_is_ignored(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let stale = format!("\"{}\"", sha256_hex(b"stale"));
    assert_full(get(&app, &sha, &[("If-Range", &stale)]).await, &data).await;
}

async fn validators_with_non_ascii_bytes_still_count_as_present(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let obs_text = HeaderValue::from_bytes(b"\"caf\xe9\"").unwrap();
    let response = app
        .client
        .get(app.url(&format!("/v1/files/{sha}")))
        .header("If-Range", obs_text.clone())
        .header("Range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_full(response, &data).await;
    let response = app
        .client
        .get(app.url(&format!("/v1/files/{sha}")))
        .header("If-Match", obs_text)
        .send()
        .await
        .unwrap();
    assert_precondition_failed(response).await;
}

async fn a_body_cut_short_by_the_store_fails_the_transfer(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let hash = ContentHash::parse(&sha).unwrap();
    let key = app.meta.find_file(&hash).await.unwrap().unwrap().object_key;
    let short = bytes::Bytes::copy_from_slice(&data[..4000]);
    let source = futures::stream::iter([Ok::<_, std::io::Error>(short)]);
    app.blobs.write(&key, source, 1 << 20).await.unwrap();
    let transfer = async {
        let response = app
            .client
            .get(app.url(&format!("/v1/files/{sha}")))
            .send()
            .await?;
        assert_eq!(header(&response, "content-length"), "10000");
        response.bytes().await
    };
    let outcome = tokio::time::timeout(Duration::from_secs(10), transfer).await;
    assert!(
        matches!(outcome, Ok(Err(_))),
        "the connection ends rather than passing 4000 bytes off as 10000: {outcome:?}"
    );
}

// Large files read back in slices.

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
    a_page_is_never_rendered_on_the_origin,
    a_get_answers_the_whole_file_with_every_cdn_header,
    the_validators_are_the_same_on_every_request,
    a_head_carries_the_headers_and_length_of_a_get_without_a_body,
    a_head_ignores_range,
    the_upload_content_type_wins_over_the_filename,
    without_an_upload_content_type_the_filename_decides,
    a_filename_in_the_url_makes_an_attachment,
    inline_1_makes_the_disposition_inline,
    a_chinese_filename_gets_an_ascii_fallback_and_the_exact_utf8_name,
    quotes_and_percent_signs_in_a_filename_stay_out_of_the_fallback,
    an_unknown_file_is_a_json_404_that_is_not_cached,
    an_upper_case_hash_finds_the_file_under_the_lower_case_etag,
    content_is_never_compressed,
    a_zero_byte_file_answers_every_range_with_an_empty_200,
    a_closed_range_gets_206_with_the_validators_of_the_200,
    an_open_range_runs_to_the_end,
    a_suffix_range_gets_the_last_bytes,
    a_range_past_the_end_is_clamped,
    the_first_and_last_single_bytes_can_be_fetched,
    the_range_unit_is_case_insensitive,
    an_unknown_range_unit_is_ignored,
    a_syntactically_invalid_range_is_ignored,
    a_range_starting_past_the_end_is_416_with_the_length,
    unsatisfiable_members_of_a_set_are_dropped,
    two_ranges_give_a_multipart_body_with_exact_part_headers,
    many_ranges_are_parsed_back_to_the_file_slices,
    a_multipart_answer_carries_the_validators_of_the_200,
    overlapping_ranges_are_coalesced_into_one,
    ranges_out_of_order_are_sorted_and_merged,
    many_small_overlapping_ranges_never_exceed_the_file,
    more_ranges_than_the_cap_are_answered_200,
    if_none_match_with_the_etag_gives_304_with_the_cdn_headers,
    if_none_match_compares_weakly_and_takes_lists_and_a_star,
    if_none_match_with_other_etags_serves_the_file,
    if_modified_since_at_last_modified_gives_304_and_a_second_earlier_200,
    if_modified_since_is_ignored_beside_if_none_match_or_when_invalid,
    if_match_with_another_etag_is_a_412_json_error,
    if_match_with_the_etag_or_a_star_passes,
    if_unmodified_since_before_publishing_is_a_412,
    if_unmodified_since_is_ignored_beside_if_match,
    if_match_is_evaluated_before_if_none_match,
    a_precondition_answer_wins_over_416,
    if_range_with_the_current_etag_serves_the_range,
    if_range_with_a_stale_etag_serves_the_whole_file,
    if_range_with_a_weak_etag_serves_the_whole_file,
    if_range_with_a_date_serves_the_range_only_on_an_exact_match,
    if_range_without_range_is_ignored,
    validators_with_non_ascii_bytes_still_count_as_present,
    a_body_cut_short_by_the_store_fails_the_transfer,
    consecutive_slices_reassemble_a_chunked_upload_exactly,
    random_ranges_of_a_file_match_it,
    a_64_mib_file_reads_back_in_1_mib_ranges_in_random_order,
);
