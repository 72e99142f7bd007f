//! Bodies and paths whose values are wrong: JSON that is not one object,
//! numbers out of range, malformed hashes, chunk indices outside the file.

use super::*;

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
        ("a fractional size in exponent notation", size("3.005e2")),
        ("a size below one in exponent notation", size("2.5e-1")),
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
