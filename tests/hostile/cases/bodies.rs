//! Bodies cut short or too long, and digests that are malformed or do not
//! match.

use super::*;

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
            INVALID,
        ),
        case(
            "a direct upload cut short, then closed",
            cut("PUT", &format!("/v1/files/{fresh}"), &[], 300, &data[..10]),
            400,
            INVALID,
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
