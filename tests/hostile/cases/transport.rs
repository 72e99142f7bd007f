//! Heads that are too large, malformed or ambiguous, heads and bodies
//! that stop arriving, and bodies nobody reads.

use super::*;

/// Heads that are too large, malformed, or frame the body two ways. Those
/// the HTTP engine cannot read (more headers than it parses, malformed
/// framing) it refuses itself with a bare 400 or 431; the rest reach the
/// head guard, which answers with the contract's JSON errors.
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
        bare(
            "a head of 200 KiB, past the engine's buffer",
            request("GET", "/healthz", &[("X-A", &"a".repeat(200 << 10))], b""),
            431,
        ),
        bare(
            "a head of 200 small headers",
            request(
                "GET",
                &format!("/v1/uploads/{}", session()),
                &many_headers,
                b"",
            ),
            431,
        ),
        bare(
            "a Content-Length that is not a number",
            raw_head(&format!(
                "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1O\r\n\r\n{body}"
            )),
            400,
        ),
        bare(
            "a negative Content-Length",
            raw_head("POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
            400,
        ),
        bare(
            "two Content-Lengths that disagree",
            raw_head(&format!(
                "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nContent-Length: 5\r\n\r\n{body}",
                body.len()
            )),
            400,
        ),
        bare(
            "a request line that is not HTTP",
            raw_head("HELLO\r\n\r\n"),
            400,
        ),
        bare(
            "a header line without a colon",
            raw_head("GET /healthz HTTP/1.1\r\nHost: x\r\nGarbage\r\n\r\n"),
            400,
        ),
        bare(
            "a header name with a space",
            raw_head("GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n"),
            400,
        ),
        bare(
            "a Transfer-Encoding other than chunked",
            raw_head(&format!(
                "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\n{body}"
            )),
            400,
        ),
        // The engine refuses the framing while the route reads the body: one
        // of the two answers wins, or the connection closes first.
        Case {
            name: "a chunk size that is not hex",
            request: bad_chunk_size,
            expect: Expect::ErrorOrClose(400, INVALID),
        },
        bare(
            "Content-Length with Transfer-Encoding on a create",
            both,
            400,
        ),
        bare(
            "Transfer-Encoding with Content-Length on a chunk",
            both_chunk,
            400,
        ),
    ]
}

/// Heads and bodies that stop arriving: for a head the engine's bare 408,
/// for a body 408 `request-timeout`, or a closed connection; nothing kept.
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
    // A first head the engine is still waiting for: it refuses it itself.
    let head_only = |text: &str| Case {
        name: "",
        request: RawRequest {
            bytes: text.as_bytes().to_vec(),
            close_write: false,
        },
        expect: Expect::BareOrClose(408),
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

/// Bodies answered before anything read them, never finished: the answer,
/// then the connection closed rather than read on.
pub fn bodies_nobody_reads() -> Vec<Case> {
    let session = session();
    let fresh = fresh();
    let unfinished = |method: &str, path: &str, headers: &[(&str, &str)], framing: &str| {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: ferry\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(framing);
        RawRequest {
            bytes: head.into_bytes(),
            close_write: false,
        }
    };
    let chunked = "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
    let length = "Content-Length: 5000\r\n\r\nhello";
    let then_close = |name, request, status, code| Case {
        name,
        request,
        expect: Expect::ErrorThenClose(status, code),
    };
    vec![
        then_close(
            "a chunked body on an unknown path, never finished",
            unfinished("POST", "/v1/nowhere", &[], chunked),
            404,
            "not-found",
        ),
        then_close(
            "a chunked body on a method the route does not take, never finished",
            unfinished("PATCH", &format!("/v1/files/{fresh}"), &[], chunked),
            405,
            "method-not-allowed",
        ),
        then_close(
            "a chunked create of the wrong media type, never finished",
            unfinished(
                "POST",
                "/v1/uploads",
                &[("Content-Type", "text/plain")],
                chunked,
            ),
            415,
            "unsupported-media-type",
        ),
        then_close(
            "a chunked chunk outside the file, never finished",
            unfinished(
                "PUT",
                &format!("/v1/uploads/{session}/chunks/3"),
                &[],
                chunked,
            ),
            400,
            "chunk-index-out-of-range",
        ),
        then_close(
            "a chunk of a length that never arrives, outside the file",
            unfinished(
                "PUT",
                &format!("/v1/uploads/{session}/chunks/3"),
                &[],
                length,
            ),
            400,
            "chunk-index-out-of-range",
        ),
    ]
}
