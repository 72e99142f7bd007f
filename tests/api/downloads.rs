//! Downloads as a CDN origin sees them: validators and caching headers,
//! single and multiple byte ranges, conditional requests, filenames, large
//! files read back in slices, and bytes that look like HTTP served exactly
//! as stored.

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

/// Asserts a multipart 206 whose parts are exactly `ranges` of `data`, in
/// order, each typed `text/plain`.
async fn assert_multipart(response: Response, data: &[u8], ranges: &[(usize, usize)]) {
    assert_multipart_typed(response, data, ranges, Some("text/plain")).await;
}

/// Asserts a multipart 206 whose parts are exactly `ranges` of `data`, in
/// order, each of `part_type` when one is given.
async fn assert_multipart_typed(
    response: Response,
    data: &[u8],
    ranges: &[(usize, usize)],
    part_type: Option<&str>,
) {
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
        if let Some(part_type) = part_type {
            assert_eq!(part.content_type, part_type);
        }
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

mod bytes_that_look_like_http;
mod conditionals;
mod multiple_ranges;
mod served_as_stored;
mod single_ranges;
mod slices;
mod whole_files;
