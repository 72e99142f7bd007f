//! Whole-file answers: the headers a CDN relies on, media types, filenames, and what is never done.

use super::*;

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
    assert_eq!(
        header(&response, "content-security-policy"),
        "sandbox; default-src 'none'",
        "every download is sandboxed, even one shown inline"
    );
    let unknown = publish(&app, b"MZ\x90\x00", Some("application/x-msdownload")).await;
    let response = send(
        &app,
        Method::GET,
        &format!("/v1/files/{unknown}?inline=1"),
        &[],
    )
    .await;
    assert_eq!(
        header(&response, "content-disposition"),
        "attachment",
        "a type off the inline list is an attachment, asked inline or not"
    );
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
    let path = format!("/v1/files/{sha}/a%22b%3Bd.txt");
    let response = send(&app, Method::GET, &path, &[]).await;
    assert_eq!(
        header(&response, "content-disposition"),
        "attachment; filename=\"a_b;d.txt\"; filename*=UTF-8''a%22b%3Bd.txt"
    );
    let path = format!("/v1/files/{sha}/100%25.txt");
    let response = send(&app, Method::GET, &path, &[]).await;
    assert_eq!(
        header(&response, "content-disposition"),
        "attachment; filename=\"100_.txt\"; filename*=UTF-8''100%25.txt"
    );
    for (name, field) in [
        ("a%0D%0Ab.txt", "filename"),
        ("a%5Cb.txt", "filename"),
        ("a%E2%80%AEfdp.exe", "filename"),
        ("a%FFb.txt", "path"),
    ] {
        let path = format!("/v1/files/{sha}/{name}");
        let response = send(&app, Method::GET, &path, &[]).await;
        let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid-request").await;
        assert_eq!(body["field"], field, "{name}");
    }
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

on_both_backends!(
    a_get_answers_the_whole_file_with_every_cdn_header,
    the_validators_are_the_same_on_every_request,
    a_head_carries_the_headers_and_length_of_a_get_without_a_body,
    a_head_ignores_range,
    the_upload_content_type_wins_over_the_filename,
    without_an_upload_content_type_the_filename_decides,
    a_page_is_never_rendered_on_the_origin,
    a_filename_in_the_url_makes_an_attachment,
    inline_1_makes_the_disposition_inline,
    a_chinese_filename_gets_an_ascii_fallback_and_the_exact_utf8_name,
    quotes_and_percent_signs_in_a_filename_stay_out_of_the_fallback,
    an_unknown_file_is_a_json_404_that_is_not_cached,
    an_upper_case_hash_finds_the_file_under_the_lower_case_etag,
    content_is_never_compressed,
    a_zero_byte_file_answers_every_range_with_an_empty_200,
);
