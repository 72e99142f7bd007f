//! Multipart bodies that are not forms, or not the form the route reads.

use super::*;

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
