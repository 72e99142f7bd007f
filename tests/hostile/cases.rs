//! The table of hostile requests, by category, each with the one answer the
//! contract (docs/api.md) gives it. The hashes they aim at are fixed: a
//! session of three chunks with chunk 0 received, a published file, and a
//! hash nothing exists for (see `table::Fixture`).

use crate::helpers::{sha256_hex, test_bytes};
use crate::raw::{RawRequest, chunked, post_json, request, then_close};

/// What a case must get back.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// This status with this JSON `code`.
    Error(u16, &'static str),
    /// 408 `request-timeout`, or the connection closed without an answer.
    TimeoutOrClose,
    /// This status with this code, or the connection closed without an answer.
    ErrorOrClose(u16, &'static str),
}

/// One hostile request and the answer it must get.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: &'static str,
    pub request: RawRequest,
    pub expect: Expect,
}

fn case(name: &'static str, request: RawRequest, status: u16, code: &'static str) -> Case {
    Case {
        name,
        request,
        expect: Expect::Error(status, code),
    }
}

const INVALID: &str = "invalid-request";

/// Chunk size of the fixture session.
pub const CHUNK: usize = 1024;

/// The bytes of the fixture session: chunks of 1024, 1024 and 512 bytes.
pub fn session_data() -> Vec<u8> {
    test_bytes(2 * CHUNK + CHUNK / 2, 7)
}

/// The bytes of the fixture's published file.
pub fn file_data() -> Vec<u8> {
    test_bytes(100, 9)
}

/// Bytes whose hash has no session and no file.
pub fn fresh_data() -> Vec<u8> {
    test_bytes(300, 11)
}

fn session() -> String {
    sha256_hex(&session_data())
}

fn file() -> String {
    sha256_hex(&file_data())
}

fn fresh() -> String {
    sha256_hex(&fresh_data())
}

/// The bytes of chunk 1 of the fixture session: the right length, so that
/// only what the case gets wrong is wrong.
fn chunk_one() -> Vec<u8> {
    session_data()[CHUNK..2 * CHUNK].to_vec()
}

/// A create body for the fresh hash and size with `extra` members.
fn create_with(extra: &str) -> String {
    format!(r#"{{"sha256":"{}","size":300{extra}}}"#, fresh())
}

fn put_chunk(index: &str, headers: &[(&str, &str)], body: &[u8]) -> RawRequest {
    request(
        "PUT",
        &format!("/v1/uploads/{}/chunks/{index}", session()),
        headers,
        body,
    )
}

const BOUNDARY: &str = "hostile-boundary";

/// A form body with `parts` (name, content), closed properly.
fn form(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = form_open(parts);
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A form body with `parts` and no closing boundary.
fn form_open(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, content) in parts {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body
}

fn post_form(path: &str, body: &[u8]) -> RawRequest {
    let media_type = format!("multipart/form-data; boundary={BOUNDARY}");
    request("POST", path, &[("Content-Type", &media_type)], body)
}

fn post_chunk_form(index: &str, body: &[u8]) -> RawRequest {
    post_form(&format!("/v1/uploads/{}/chunks/{index}", session()), body)
}

/// A one-request form for the fresh bytes with its hash, plus `extra` parts.
fn file_form(extra: &[(&str, &[u8])]) -> Vec<u8> {
    let hash = fresh();
    let data = fresh_data();
    let mut parts: Vec<(&str, &[u8])> = vec![("sha256", hash.as_bytes()), ("file", &data)];
    parts.extend_from_slice(extra);
    form(&parts)
}

/// Bodies that are not one JSON object with each key once.
pub fn malformed_json() -> Vec<Case> {
    let fresh = fresh();
    let nested = format!(
        r#"{{"sha256":"{fresh}","size":300,"filename":{}{}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let nested_objects = format!(
        r#"{{"sha256":"{fresh}","size":300,"x":{}1{}}}"#,
        r#"{"a":"#.repeat(2000),
        "}".repeat(2000)
    );
    let invalid_utf8 = {
        let mut body = create_with("").into_bytes();
        body.pop();
        body.extend_from_slice(b",\"filename\":\"a\xffb\"}");
        body
    };
    let json = [("Content-Type", "application/json")];
    let rows: Vec<(&'static str, String)> = vec![
        (
            "an unclosed object",
            create_with("").trim_end_matches('}').to_owned(),
        ),
        ("a lone brace", "{".into()),
        ("an array", "[]".into()),
        ("a string", r#""sha256""#.into()),
        ("null", "null".into()),
        ("a number", "42".into()),
        ("an empty body", String::new()),
        ("whitespace only", " \r\n\t ".into()),
        (
            "single quotes",
            format!("{{'sha256':'{fresh}','size':300}}"),
        ),
        ("a trailing comma", create_with(",")),
        (
            "a comment",
            format!(r#"{{"sha256":"{fresh}",/* x */"size":300}}"#),
        ),
        ("a byte order mark", format!("\u{feff}{}", create_with(""))),
        ("sha256 as a number", r#"{"sha256":1,"size":300}"#.into()),
        (
            "sha256 as an array",
            format!(r#"{{"sha256":["{fresh}"],"size":300}}"#),
        ),
        (
            "size as a boolean",
            format!(r#"{{"sha256":"{fresh}","size":true}}"#),
        ),
        (
            "size as an object",
            format!(r#"{{"sha256":"{fresh}","size":{{"n":300}}}}"#),
        ),
        ("filename as a number", create_with(r#","filename":7"#)),
        (
            "content_type as an array",
            create_with(r#","content_type":["text/plain"]"#),
        ),
        ("proof as an object", create_with(r#","proof":{}"#)),
        (
            "size given twice, same value",
            create_with(r#","size":300"#),
        ),
        (
            "sha256 given twice, two values",
            create_with(&format!(r#","sha256":"{}""#, file())),
        ),
        (
            "a key repeated through an escape",
            create_with(r#","s\u0069ze":300"#),
        ),
        ("trailing garbage", format!("{} x", create_with(""))),
        ("two objects", format!("{0}{0}", create_with(""))),
        ("arrays nested 5000 deep", nested),
        ("objects nested 2000 deep", nested_objects),
        ("an unknown field", create_with(r#","owner":"root""#)),
        (
            "a lone surrogate escape",
            create_with(r#","filename":"\ud800""#),
        ),
    ];
    let mut cases: Vec<Case> = rows
        .into_iter()
        .map(|(name, body)| case(name, post_json("/v1/uploads", &body), 400, INVALID))
        .collect();
    cases.push(case(
        "invalid UTF-8 in a string",
        request("POST", "/v1/uploads", &json, &invalid_utf8),
        400,
        INVALID,
    ));
    cases.push(case(
        "a JSON body over its 16 KiB limit",
        post_json(
            "/v1/uploads",
            &create_with(&format!(r#","x":"{}""#, "a".repeat(17 << 10))),
        ),
        400,
        INVALID,
    ));
    cases
}

/// Sizes and chunk sizes that are not whole numbers of bytes in range.
pub fn numbers_out_of_range() -> Vec<Case> {
    let fresh = fresh();
    let size = |value: &str| format!(r#"{{"sha256":"{fresh}","size":{value}}}"#);
    let chunk_size = |value: &str| create_with(&format!(r#","chunk_size":{value}"#));
    let mut cases: Vec<Case> = [
        ("a negative size", size("-1")),
        ("a fractional size", size("1.5")),
        ("a size in exponent notation", size("3e2")),
        ("a size with a decimal point", size("300.0")),
        ("a size of 2^64", size("18446744073709551616")),
        ("a size of 10^30", size("1000000000000000000000000000000")),
        ("a size as a string", size(r#""300""#)),
        ("a size with a plus sign", size("+300")),
        ("a size with a leading zero", size("0300")),
        ("a size of NaN", size("NaN")),
        ("a size of null", size("null")),
        ("a negative chunk size", chunk_size("-1024")),
        ("a fractional chunk size", chunk_size("1024.5")),
        ("a chunk size as a string", chunk_size(r#""1024""#)),
        ("a chunk size of 2^64", chunk_size("18446744073709551616")),
        ("a chunk size as a boolean", chunk_size("false")),
        ("a chunk size of zero", chunk_size("0")),
    ]
    .into_iter()
    .map(|(name, body)| case(name, post_json("/v1/uploads", &body), 400, INVALID))
    .collect();
    for (name, value) in [
        ("a size of u64::MAX", u64::MAX.to_string()),
        ("a size of i64::MAX", i64::MAX.to_string()),
        ("a size of one TiB", (1u64 << 40).to_string()),
    ] {
        cases.push(case(
            name,
            post_json("/v1/uploads", &size(&value)),
            413,
            "file-too-large",
        ));
    }
    cases
}

/// Hashes that are not 64 hex digits, in bodies and in paths.
pub fn malformed_hashes() -> Vec<Case> {
    let valid = fresh();
    let bad_hashes: Vec<(&'static str, String)> = vec![
        ("a non-hex hash", "g".repeat(64)),
        ("a hash of 63 digits", valid[..63].to_owned()),
        ("a hash of 65 digits", format!("{valid}0")),
        (
            "an upper-case hash with a non-hex letter",
            format!("{}G", &valid[..63].to_uppercase()),
        ),
        ("a hash of 32 two-byte letters", "é".repeat(32)),
        ("a hash padded with a space", format!(" {}", &valid[..63])),
        ("a hash with a 0x prefix", format!("0x{}", &valid[..62])),
        ("an empty hash", String::new()),
    ];
    let mut cases: Vec<Case> = bad_hashes
        .iter()
        .map(|(name, hash)| {
            let body = format!(r#"{{"sha256":"{hash}","size":300}}"#);
            case(name, post_json("/v1/uploads", &body), 400, INVALID)
        })
        .collect();
    let short = &valid[..63];
    let long = format!("{valid}0");
    let nonhex = "z".repeat(64);
    let data = fresh_data();
    let paths: Vec<(&'static str, RawRequest)> = vec![
        (
            "progress of a non-hex hash",
            request("GET", &format!("/v1/uploads/{nonhex}"), &[], b""),
        ),
        (
            "progress of a 63-digit hash",
            request("GET", &format!("/v1/uploads/{short}"), &[], b""),
        ),
        (
            "abort of a 65-digit hash",
            request("DELETE", &format!("/v1/uploads/{long}"), &[], b""),
        ),
        (
            "complete of an upper-case hash with a non-hex letter",
            request(
                "POST",
                &format!("/v1/uploads/{}G/complete", &valid[..63].to_uppercase()),
                &[],
                b"",
            ),
        ),
        (
            "a chunk of a 63-digit hash",
            request("PUT", &format!("/v1/uploads/{short}/chunks/0"), &[], &data),
        ),
        (
            "a download of a non-hex hash",
            request("GET", &format!("/v1/files/{nonhex}"), &[], b""),
        ),
        (
            "a download of a 65-digit hash",
            request("GET", &format!("/v1/files/{long}/a.txt"), &[], b""),
        ),
        (
            "a direct upload to a 63-digit hash",
            request("PUT", &format!("/v1/files/{short}"), &[], &data),
        ),
        (
            "a hash with a percent-encoded NUL",
            request("GET", &format!("/v1/uploads/{}%00", &valid[..62]), &[], b""),
        ),
        (
            "a traversal in place of a hash",
            request("GET", "/v1/files/..%2F..%2F..%2Fetc%2Fpasswd", &[], b""),
        ),
    ];
    cases.extend(
        paths
            .into_iter()
            .map(|(name, request)| case(name, request, 400, INVALID)),
    );
    cases
}

/// Chunk indices that are no whole number, or outside the file.
pub fn chunk_indices_outside_the_file() -> Vec<Case> {
    let body = chunk_one();
    let mut cases: Vec<Case> = [
        ("index -1", "-1"),
        ("index 3 of three chunks", "3"),
        ("index u64::MAX", "18446744073709551615"),
        ("index 2^64", "18446744073709551616"),
        ("index of thirty digits", "999999999999999999999999999999"),
    ]
    .into_iter()
    .map(|(name, index)| {
        case(
            name,
            put_chunk(index, &[], &body),
            400,
            "chunk-index-out-of-range",
        )
    })
    .collect();
    for (name, index) in [
        ("index +1", "+1"),
        ("index 1.0", "1.0"),
        ("index 0x1", "0x1"),
        ("index 1e0", "1e0"),
        ("index with a leading space", "%201"),
        ("index in full-width digits", "%EF%BC%91"),
        ("index of a word", "one"),
    ] {
        cases.push(case(name, put_chunk(index, &[], &body), 400, INVALID));
    }
    let form_body = form(&[("file", &body)]);
    cases.push(case(
        "index +1 of a multipart chunk",
        post_chunk_form("+1", &form_body),
        400,
        INVALID,
    ));
    cases.push(case(
        "index 3 of a multipart chunk",
        post_chunk_form("3", &form_body),
        400,
        "chunk-index-out-of-range",
    ));
    cases
}

/// Filenames and media types that could traverse, hide or inject.
pub fn unsafe_names() -> Vec<Case> {
    let names: Vec<(&'static str, String)> = vec![
        ("a filename climbing out", "../x".into()),
        ("a filename with a slash", "a/b".into()),
        ("a filename with a backslash", r"a\\b".into()),
        (
            "a filename reversing its extension",
            r"invoice\u202Efdp.exe".into(),
        ),
        ("a filename with a NUL", r"a\u0000b".into()),
        ("a filename with a line break", r"a\r\nSet-Cookie: x".into()),
        ("a filename with a bell", r"a\u0007".into()),
        ("a filename with a zero-width space", r"a\u200Bb.txt".into()),
        ("a filename of a dot", ".".into()),
        ("a filename of two dots", "..".into()),
        ("a filename of 256 bytes", "x".repeat(256)),
        ("a filename of 129 two-byte letters", "é".repeat(129)),
        ("an empty filename", String::new()),
    ];
    let mut cases: Vec<Case> = names
        .into_iter()
        .map(|(name, filename)| {
            let body = create_with(&format!(r#","filename":"{filename}""#));
            case(name, post_json("/v1/uploads", &body), 400, INVALID)
        })
        .collect();
    for (name, media_type) in [
        ("a media type that is one word", "video"),
        (
            "a media type with a header after it",
            r"text/html\r\nX-Evil: 1",
        ),
        ("a media type with a non-ASCII letter", "vidéo/mp4"),
    ] {
        let body = create_with(&format!(r#","content_type":"{media_type}""#));
        cases.push(case(name, post_json("/v1/uploads", &body), 400, INVALID));
    }
    let file = file();
    for (name, segment) in [
        ("a download name climbing out", "..%2Fx"),
        ("a download name of two encoded dots", "%2e%2e"),
        ("a download name with a backslash", "a%5Cb"),
        (
            "a download name reversing its extension",
            "invoice%E2%80%AEfdp.exe",
        ),
        ("a download name with a NUL", "a%00b"),
        (
            "a download name with a header after it",
            "a%0D%0ASet-Cookie:%20x",
        ),
        ("a download name that is not UTF-8", "%FF.txt"),
    ] {
        let path = format!("/v1/files/{file}/{segment}");
        cases.push(case(name, request("GET", &path, &[], b""), 400, INVALID));
    }
    cases.push(case(
        "a download name of 256 bytes",
        request(
            "GET",
            &format!("/v1/files/{file}/{}", "x".repeat(256)),
            &[],
            b"",
        ),
        400,
        INVALID,
    ));
    let data = fresh_data();
    let fresh = fresh();
    for (name, query) in [
        ("a direct upload named climbing out", "filename=..%2Fx"),
        ("a direct upload named with a NUL", "filename=a%00b"),
        (
            "a direct upload named in bytes that are not UTF-8",
            "filename=%FF.txt",
        ),
        (
            "a direct upload with a one-word media type",
            "content_type=video",
        ),
    ] {
        let path = format!("/v1/files/{fresh}?{query}");
        cases.push(case(name, request("PUT", &path, &[], &data), 400, INVALID));
    }
    cases.push(case(
        "a form upload named with a slash",
        post_form("/v1/files", &file_form(&[("filename", b"a/b")])),
        400,
        INVALID,
    ));
    cases.push(case(
        "a form upload named in bytes that are not UTF-8",
        post_form("/v1/files", &file_form(&[("filename", b"a\xffb")])),
        400,
        INVALID,
    ));
    cases
}

/// Bodies of a media type the route does not take.
pub fn wrong_media_types() -> Vec<Case> {
    let body = create_with("");
    let create = |content_type: Option<&str>| match content_type {
        Some(value) => request(
            "POST",
            "/v1/uploads",
            &[("Content-Type", value)],
            body.as_bytes(),
        ),
        None => request("POST", "/v1/uploads", &[], body.as_bytes()),
    };
    let unsupported = "unsupported-media-type";
    let chunk_form = form(&[("file", &chunk_one())]);
    vec![
        case(
            "JSON sent as text/plain",
            create(Some("text/plain")),
            415,
            unsupported,
        ),
        case("JSON without a media type", create(None), 415, unsupported),
        case(
            "JSON sent as a urlencoded form",
            create(Some("application/x-www-form-urlencoded")),
            415,
            unsupported,
        ),
        case(
            "JSON sent as a multipart form",
            create(Some("multipart/form-data; boundary=x")),
            415,
            unsupported,
        ),
        case(
            "JSON sent as application/jsonx",
            create(Some("application/jsonx")),
            415,
            unsupported,
        ),
        case(
            "JSON sent as an unparsable media type",
            create(Some("json")),
            415,
            unsupported,
        ),
        case(
            "JSON sent as text/json",
            create(Some("text/json")),
            415,
            unsupported,
        ),
        case(
            "a form upload sent as JSON",
            request(
                "POST",
                "/v1/files",
                &[("Content-Type", "application/json")],
                &file_form(&[]),
            ),
            415,
            unsupported,
        ),
        case(
            "a form upload without a media type",
            request("POST", "/v1/files", &[], &file_form(&[])),
            415,
            unsupported,
        ),
        case(
            "a multipart chunk sent as text/plain",
            request(
                "POST",
                &format!("/v1/uploads/{}/chunks/1", session()),
                &[("Content-Type", "text/plain")],
                &chunk_form,
            ),
            415,
            unsupported,
        ),
        case(
            "a multipart chunk sent as multipart/mixed",
            request(
                "POST",
                &format!("/v1/uploads/{}/chunks/1", session()),
                &[(
                    "Content-Type",
                    &format!("multipart/mixed; boundary={BOUNDARY}"),
                )],
                &chunk_form,
            ),
            415,
            unsupported,
        ),
    ]
}

/// Bodies that end before their declared length, run past it, or run past
/// the route's limit.
pub fn bodies_cut_short_or_too_long() -> Vec<Case> {
    let chunk = chunk_one();
    let session = session();
    let fresh = fresh();
    let data = fresh_data();
    let cut = |method: &str, path: &str, headers: &[(&str, &str)], declared: usize, sent: &[u8]| {
        let length = declared.to_string();
        let mut all = headers.to_vec();
        all.push(("Content-Length", &length));
        let mut request = request(method, path, &all, b"");
        request.bytes.extend_from_slice(sent);
        then_close(request)
    };
    let direct_over = (1u64 << 20) + 1;
    let form_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let big_form = {
        let hash = fresh.clone();
        let big = vec![b'a'; (1 << 20) + 100];
        form(&[("sha256", hash.as_bytes()), ("file", &big)])
    };
    let json = [("Content-Type", "application/json")];
    let chunked_te = [("Transfer-Encoding", "chunked")];
    let mut over_direct = request("PUT", &format!("/v1/files/{fresh}"), &chunked_te, b"");
    over_direct
        .bytes
        .extend_from_slice(&chunked(&vec![b'a'; (1 << 20) + 100], 64 << 10));
    let mut form_chunked = request(
        "POST",
        "/v1/files",
        &[
            ("Content-Type", &form_type),
            ("Transfer-Encoding", "chunked"),
        ],
        b"",
    );
    form_chunked
        .bytes
        .extend_from_slice(&chunked(&big_form, 64 << 10));
    let mut chunk_chunked_long = put_chunk("1", &chunked_te, b"");
    chunk_chunked_long
        .bytes
        .extend_from_slice(&chunked(&vec![b'a'; 2 * CHUNK], 300));
    let mut chunk_chunked_short = put_chunk("1", &chunked_te, b"");
    chunk_chunked_short
        .bytes
        .extend_from_slice(&chunked(&chunk[..100], 30));
    let mut length_short = post_json("/v1/uploads", &create_with(""));
    length_short.bytes = String::from_utf8(length_short.bytes)
        .unwrap()
        .replace(
            &format!("Content-Length: {}", create_with("").len()),
            "Content-Length: 20",
        )
        .into_bytes();
    vec![
        case(
            "a create body cut short, then closed",
            cut(
                "POST",
                "/v1/uploads",
                &json,
                200,
                &create_with("").as_bytes()[..20],
            ),
            400,
            INVALID,
        ),
        case(
            "a chunk body cut short, then closed",
            cut(
                "PUT",
                &format!("/v1/uploads/{session}/chunks/1"),
                &[],
                CHUNK,
                &chunk[..100],
            ),
            400,
            "chunk-size-mismatch",
        ),
        case(
            "a direct upload cut short, then closed",
            cut("PUT", &format!("/v1/files/{fresh}"), &[], 300, &data[..10]),
            422,
            "hash-mismatch",
        ),
        case(
            "a multipart chunk cut short, then closed",
            cut(
                "POST",
                &format!("/v1/uploads/{session}/chunks/1"),
                &[("Content-Type", &form_type)],
                CHUNK + 200,
                &form(&[("file", &chunk)])[..300],
            ),
            400,
            INVALID,
        ),
        case(
            "a create body longer than its Content-Length",
            length_short,
            400,
            INVALID,
        ),
        case(
            "a chunk declared one byte over the chunk size",
            put_chunk("1", &[], &vec![b'a'; CHUNK + 1]),
            413,
            "chunk-too-large",
        ),
        case(
            "a chunk declared one byte short",
            put_chunk("1", &[], &chunk[..CHUNK - 1]),
            400,
            "chunk-size-mismatch",
        ),
        case(
            "a last chunk of a whole chunk size",
            put_chunk("2", &[], &chunk),
            400,
            "chunk-size-mismatch",
        ),
        case(
            "a chunked chunk body twice too long",
            chunk_chunked_long,
            400,
            "chunk-size-mismatch",
        ),
        case(
            "a chunked chunk body too short",
            chunk_chunked_short,
            400,
            "chunk-size-mismatch",
        ),
        case(
            "a direct upload declared over the limit",
            then_close(request(
                "PUT",
                &format!("/v1/files/{fresh}"),
                &[("Content-Length", &direct_over.to_string())],
                b"",
            )),
            413,
            "file-too-large",
        ),
        case(
            "a chunked direct upload over the limit",
            over_direct,
            413,
            "file-too-large",
        ),
        case(
            "a form upload declared over the limit",
            then_close(request(
                "POST",
                "/v1/files",
                &[
                    ("Content-Type", &form_type),
                    (
                        "Content-Length",
                        &(direct_over + (64 << 10) + 1).to_string(),
                    ),
                ],
                b"",
            )),
            413,
            "file-too-large",
        ),
        case(
            "a chunked form upload over the limit",
            form_chunked,
            413,
            "file-too-large",
        ),
        case(
            "a multipart chunk declared over the chunk size and form room",
            then_close(request(
                "POST",
                &format!("/v1/uploads/{session}/chunks/1"),
                &[
                    ("Content-Type", &form_type),
                    ("Content-Length", &(CHUNK + (64 << 10) + 1).to_string()),
                ],
                b"",
            )),
            413,
            "chunk-too-large",
        ),
        case(
            "a direct upload whose bytes do not hash to its key",
            request("PUT", &format!("/v1/files/{fresh}"), &[], &data[1..]),
            422,
            "hash-mismatch",
        ),
    ]
}

/// Digests that are malformed or do not match the chunk.
pub fn wrong_digests() -> Vec<Case> {
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let chunk = chunk_one();
    let right = sha256_hex(&chunk);
    let wrong = sha256_hex(b"other bytes");
    let wrong_digest = format!("sha-256=:{}:", b64(&hex::decode(&wrong).unwrap()));
    let right_digest = format!("sha-256=:{}:", b64(&hex::decode(&right).unwrap()));
    let short_digest = format!("sha-256=:{}:", b64(&[0u8; 31]));
    let mismatch = "digest-mismatch";
    let mut non_ascii = put_chunk("1", &[], &chunk);
    let marker = b"Connection: close\r\n";
    let at = non_ascii
        .bytes
        .windows(marker.len())
        .position(|w| w == marker)
        .unwrap();
    non_ascii.bytes.splice(
        at..at,
        b"Content-Digest: sha-256=:\xff\xfe:\r\n".iter().copied(),
    );
    vec![
        case(
            "a Content-Digest of other bytes",
            put_chunk("1", &[("Content-Digest", &wrong_digest)], &chunk),
            400,
            mismatch,
        ),
        case(
            "a Content-Digest without colons",
            put_chunk("1", &[("Content-Digest", "sha-256=abc")], &chunk),
            400,
            INVALID,
        ),
        case(
            "a Content-Digest of 31 bytes",
            put_chunk("1", &[("Content-Digest", &short_digest)], &chunk),
            400,
            INVALID,
        ),
        case(
            "a Content-Digest that is not base64",
            put_chunk("1", &[("Content-Digest", "sha-256=:!!!!:")], &chunk),
            400,
            INVALID,
        ),
        case(
            "a Content-Digest that is no dictionary",
            put_chunk("1", &[("Content-Digest", "garbage")], &chunk),
            400,
            INVALID,
        ),
        case(
            "a Content-Digest in bytes that are not ASCII",
            non_ascii,
            400,
            INVALID,
        ),
        case(
            "an X-Chunk-Sha256 of other bytes",
            put_chunk("1", &[("X-Chunk-Sha256", &wrong)], &chunk),
            400,
            mismatch,
        ),
        case(
            "an X-Chunk-Sha256 of 63 digits",
            put_chunk("1", &[("X-Chunk-Sha256", &right[..63])], &chunk),
            400,
            INVALID,
        ),
        case(
            "a right Content-Digest beside a wrong X-Chunk-Sha256",
            put_chunk(
                "1",
                &[
                    ("Content-Digest", &right_digest),
                    ("X-Chunk-Sha256", &wrong),
                ],
                &chunk,
            ),
            400,
            mismatch,
        ),
        case(
            "a multipart chunk whose sha256 field is of other bytes",
            post_chunk_form(
                "1",
                &form(&[("sha256", wrong.as_bytes()), ("file", &chunk)]),
            ),
            400,
            mismatch,
        ),
        case(
            "a multipart chunk whose sha256 field is not hex",
            post_chunk_form("1", &form(&[("file", &chunk), ("sha256", &[b'z'; 64])])),
            400,
            INVALID,
        ),
        case(
            "a multipart chunk whose field and header disagree",
            {
                let mut request = post_chunk_form(
                    "1",
                    &form(&[("sha256", right.as_bytes()), ("file", &chunk)]),
                );
                let at = request
                    .bytes
                    .windows(marker.len())
                    .position(|w| w == marker)
                    .unwrap();
                let header = format!("X-Chunk-Sha256: {wrong}\r\n");
                request.bytes.splice(at..at, header.bytes());
                request
            },
            400,
            mismatch,
        ),
    ]
}

/// Multipart bodies that are not forms, or not the form the route reads.
pub fn malformed_forms() -> Vec<Case> {
    let chunk = chunk_one();
    let hash = fresh();
    let data = fresh_data();
    let no_boundary_chunked = {
        let mut request = request(
            "POST",
            "/v1/files",
            &[
                ("Content-Type", "multipart/form-data; boundary=x"),
                ("Transfer-Encoding", "chunked"),
            ],
            b"",
        );
        request
            .bytes
            .extend_from_slice(&chunked(&[b'a'; 64 << 10], 8 << 10));
        request
    };
    let lf_only = format!(
        "--{BOUNDARY}\nContent-Disposition: form-data; name=\"file\"\n\n{}\n--{BOUNDARY}--\n",
        "a".repeat(100)
    );
    let no_disposition =
        format!("--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nabc\r\n--{BOUNDARY}--\r\n");
    let not_form_data = format!(
        "--{BOUNDARY}\r\nContent-Disposition: attachment; name=\"file\"\r\n\r\nabc\r\n--{BOUNDARY}--\r\n"
    );
    let unterminated_quote = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\r\n\r\nabc\r\n--{BOUNDARY}--\r\n"
    );
    let header_without_colon = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"\r\nGarbage\r\n\r\nabc\r\n--{BOUNDARY}--\r\n"
    );
    let many: Vec<(String, Vec<u8>)> = (0..17).map(|i| (format!("f{i}"), b"x".to_vec())).collect();
    let many: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_slice()))
        .collect();
    let long_boundary = format!("multipart/form-data; boundary={}", "b".repeat(71));
    let endless_head = {
        let mut body =
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; x=\"")
                .into_bytes();
        body.extend_from_slice(&[b'a'; 9 << 10]);
        body
    };
    vec![
        case(
            "a chunked form with no boundary in its body",
            no_boundary_chunked,
            400,
            INVALID,
        ),
        case(
            "a form whose media type names no boundary",
            request(
                "POST",
                "/v1/files",
                &[("Content-Type", "multipart/form-data")],
                &file_form(&[]),
            ),
            400,
            INVALID,
        ),
        case(
            "a form with a boundary of 71 characters",
            request(
                "POST",
                "/v1/files",
                &[("Content-Type", &long_boundary)],
                &file_form(&[]),
            ),
            400,
            INVALID,
        ),
        case(
            "a form without its closing boundary",
            post_form(
                "/v1/files",
                &form_open(&[("sha256", hash.as_bytes()), ("file", &data)]),
            ),
            400,
            INVALID,
        ),
        case(
            "a form whose lines end without CR",
            post_form("/v1/files", lf_only.as_bytes()),
            400,
            INVALID,
        ),
        case(
            "a form with two file parts",
            post_form("/v1/files", &file_form(&[("file", &data)])),
            400,
            INVALID,
        ),
        case(
            "a form without a sha256 field",
            post_form("/v1/files", &form(&[("file", &data)])),
            400,
            INVALID,
        ),
        case(
            "a form whose sha256 field is not hex",
            post_form(
                "/v1/files",
                &form(&[("sha256", &[b'z'; 64]), ("file", &data)]),
            ),
            400,
            INVALID,
        ),
        case(
            "a form whose sha256 field is 2 KiB long",
            post_form(
                "/v1/files",
                &form(&[("sha256", &[b'a'; 2048]), ("file", &data)]),
            ),
            400,
            INVALID,
        ),
        case(
            "a form without a file part",
            post_form("/v1/files", &form(&[("sha256", hash.as_bytes())])),
            400,
            INVALID,
        ),
        case(
            "a form part without Content-Disposition",
            post_form("/v1/files", no_disposition.as_bytes()),
            400,
            INVALID,
        ),
        case(
            "a form part whose disposition is not form-data",
            post_form("/v1/files", not_form_data.as_bytes()),
            400,
            INVALID,
        ),
        case(
            "a form part with an unterminated quoted name",
            post_form("/v1/files", unterminated_quote.as_bytes()),
            400,
            INVALID,
        ),
        case(
            "a form part header without a colon",
            post_form("/v1/files", header_without_colon.as_bytes()),
            400,
            INVALID,
        ),
        case(
            "a form of 17 parts",
            post_form("/v1/files", &form(&many)),
            400,
            INVALID,
        ),
        case(
            "a form part whose headers run past 8 KiB",
            post_form("/v1/files", &endless_head),
            400,
            INVALID,
        ),
        case(
            "a form whose bytes do not hash to its sha256 field",
            post_form(
                "/v1/files",
                &form(&[("sha256", hash.as_bytes()), ("file", &data[1..])]),
            ),
            422,
            "hash-mismatch",
        ),
        case(
            "a multipart chunk without a file part",
            post_chunk_form("1", &form(&[("sha256", sha256_hex(&chunk).as_bytes())])),
            400,
            INVALID,
        ),
        case(
            "a multipart chunk with two file parts",
            post_chunk_form("1", &form(&[("file", &chunk), ("file", &chunk)])),
            400,
            INVALID,
        ),
        case(
            "a multipart chunk without its closing boundary",
            post_chunk_form("1", &form_open(&[("file", &chunk)])),
            400,
            INVALID,
        ),
    ]
}

/// Heads that are too large, malformed, or frame the body two ways.
pub fn oversized_or_ambiguous_heads() -> Vec<Case> {
    let body = create_with("");
    let json = ("Content-Type", "application/json");
    let big = "a".repeat(9 << 10);
    let medium = "a".repeat(7 << 10);
    let too_large = "headers-too-large";
    let mut both = request(
        "POST",
        "/v1/uploads",
        &[
            json,
            ("Content-Length", &body.len().to_string()),
            ("Transfer-Encoding", "chunked"),
        ],
        b"",
    );
    both.bytes
        .extend_from_slice(&chunked(body.as_bytes(), 1024));
    let mut both_chunk = put_chunk(
        "1",
        &[("Transfer-Encoding", "chunked"), ("Content-Length", "1024")],
        b"",
    );
    both_chunk
        .bytes
        .extend_from_slice(&chunked(&chunk_one(), 1024));
    let raw_head = |text: &str| RawRequest {
        bytes: text.as_bytes().to_vec(),
        close_write: false,
    };
    let names: Vec<String> = (0..200).map(|i| format!("X-H{i}")).collect();
    let many_headers: Vec<(&str, &str)> = names.iter().map(|name| (name.as_str(), "1")).collect();
    let mut bad_chunk_size = put_chunk("1", &[("Transfer-Encoding", "chunked")], b"");
    bad_chunk_size
        .bytes
        .extend_from_slice(b"zz\r\nabc\r\n0\r\n\r\n");
    vec![
        case(
            "one header of 9 KiB",
            request(
                "POST",
                "/v1/uploads",
                &[json, ("X-Padding", &big)],
                body.as_bytes(),
            ),
            431,
            too_large,
        ),
        case(
            "an Authorization header of 9 KiB",
            request(
                "GET",
                &format!("/v1/uploads/{}", session()),
                &[("Authorization", &format!("Bearer {big}"))],
                b"",
            ),
            431,
            too_large,
        ),
        case(
            "four headers of 7 KiB, 28 KiB together",
            request(
                "POST",
                "/v1/uploads",
                &[
                    json,
                    ("X-A", &medium),
                    ("X-B", &medium),
                    ("X-C", &medium),
                    ("X-D", &medium),
                    ("X-E", &"a".repeat(5 << 10)),
                ],
                body.as_bytes(),
            ),
            431,
            too_large,
        ),
        case(
            "a head of 100 KiB",
            request("GET", "/healthz", &[("X-A", &"a".repeat(100 << 10))], b""),
            431,
            too_large,
        ),
        case(
            "a head of 200 small headers",
            request(
                "GET",
                &format!("/v1/uploads/{}", session()),
                &many_headers,
                b"",
            ),
            431,
            too_large,
        ),
        case(
            "a Content-Length that is not a number",
            raw_head(&format!(
                "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1O\r\n\r\n{body}"
            )),
            400,
            INVALID,
        ),
        case(
            "a negative Content-Length",
            raw_head("POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
            400,
            INVALID,
        ),
        case(
            "two Content-Lengths that disagree",
            raw_head(&format!(
                "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nContent-Length: 5\r\n\r\n{body}",
                body.len()
            )),
            400,
            INVALID,
        ),
        case(
            "a request line that is not HTTP",
            raw_head("HELLO\r\n\r\n"),
            400,
            INVALID,
        ),
        case(
            "a header line without a colon",
            raw_head("GET /healthz HTTP/1.1\r\nHost: x\r\nGarbage\r\n\r\n"),
            400,
            INVALID,
        ),
        case(
            "a header name with a space",
            raw_head("GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n"),
            400,
            INVALID,
        ),
        case(
            "a Transfer-Encoding other than chunked",
            raw_head(&format!(
                "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\n{body}"
            )),
            400,
            INVALID,
        ),
        // The engine refuses the framing while the route reads the body: one
        // of the two answers wins, or the connection closes first.
        Case {
            name: "a chunk size that is not hex",
            request: bad_chunk_size,
            expect: Expect::ErrorOrClose(400, INVALID),
        },
        case(
            "Content-Length with Transfer-Encoding on a create",
            both,
            400,
            INVALID,
        ),
        case(
            "Transfer-Encoding with Content-Length on a chunk",
            both_chunk,
            400,
            INVALID,
        ),
    ]
}

/// Heads and bodies that stop arriving: 408 or a closed connection, and
/// nothing kept.
pub fn stalled_heads_and_bodies() -> Vec<Case> {
    let session = session();
    let fresh = fresh();
    let stalled =
        |method: &str, path: &str, headers: &[(&str, &str)], declared: usize, sent: &[u8]| {
            let length = declared.to_string();
            let mut all = headers.to_vec();
            all.push(("Content-Length", &length));
            let mut request = request(method, path, &all, b"");
            request.bytes.extend_from_slice(sent);
            Case {
                name: "",
                request,
                expect: Expect::TimeoutOrClose,
            }
        };
    let form_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let chunk = chunk_one();
    let named = |name: &'static str, mut case: Case| {
        case.name = name;
        case
    };
    let head_only = |text: &str| Case {
        name: "",
        request: RawRequest {
            bytes: text.as_bytes().to_vec(),
            close_write: false,
        },
        expect: Expect::TimeoutOrClose,
    };
    vec![
        named(
            "a head that stops after the request line",
            head_only("POST /v1/uploads HTTP/1.1\r\n"),
        ),
        named(
            "a head that stops in a header",
            head_only("PUT /v1/files/x HTTP/1.1\r\nHost: ferry\r\nContent-Le"),
        ),
        named(
            "a create body that stops",
            stalled(
                "POST",
                "/v1/uploads",
                &[("Content-Type", "application/json")],
                200,
                b"{\"sha256\":",
            ),
        ),
        named(
            "a chunk body that stops",
            stalled(
                "PUT",
                &format!("/v1/uploads/{session}/chunks/1"),
                &[],
                CHUNK,
                &chunk[..100],
            ),
        ),
        named(
            "a multipart chunk that stops",
            stalled(
                "POST",
                &format!("/v1/uploads/{session}/chunks/1"),
                &[("Content-Type", &form_type)],
                CHUNK + 200,
                &form(&[("file", &chunk)])[..300],
            ),
        ),
        named(
            "a direct upload that stops",
            stalled("PUT", &format!("/v1/files/{fresh}"), &[], 300, b"abc"),
        ),
        named(
            "a form upload that stops in its preamble",
            stalled(
                "POST",
                "/v1/files",
                &[("Content-Type", &form_type)],
                5000,
                b"--",
            ),
        ),
    ]
}

/// Every category, for counting.
pub fn all() -> Vec<Case> {
    [
        malformed_json(),
        numbers_out_of_range(),
        malformed_hashes(),
        chunk_indices_outside_the_file(),
        unsafe_names(),
        wrong_media_types(),
        bodies_cut_short_or_too_long(),
        wrong_digests(),
        malformed_forms(),
        oversized_or_ambiguous_heads(),
        stalled_heads_and_bodies(),
    ]
    .concat()
}
