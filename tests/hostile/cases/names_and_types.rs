//! Names that could traverse, hide or inject, and bodies of a media type
//! the route does not take.

use super::*;

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
