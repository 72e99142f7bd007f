//! Conditional requests: If-None-Match, If-Modified-Since, If-Match, If-Unmodified-Since, If-Range.

use super::*;

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

async fn a_file_cut_short_in_the_store_is_refused_before_its_head(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let hash = ContentHash::parse(&sha).unwrap();
    let key = app.meta.find_file(&hash).await.unwrap().unwrap().object_key;
    let short = bytes::Bytes::copy_from_slice(&data[..4000]);
    let source = futures::stream::iter([Ok::<_, std::io::Error>(short)]);
    app.blobs.write(&key, source, 1 << 20).await.unwrap();
    let response = app
        .client
        .get(app.url(&format!("/v1/files/{sha}")))
        .send()
        .await
        .unwrap();
    assert_ne!(
        response
            .headers()
            .get("content-length")
            .map(|v| v.as_bytes()),
        Some(&b"10000"[..]),
        "4000 bytes are not passed off as 10000"
    );
    assert_error(
        response,
        StatusCode::INTERNAL_SERVER_ERROR,
        "file-unreadable",
    )
    .await;
}

on_both_backends!(
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
    a_file_cut_short_in_the_store_is_refused_before_its_head,
);
