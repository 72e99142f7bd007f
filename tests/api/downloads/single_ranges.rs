//! Single byte ranges: closed, open, suffix, clamped, ignored and unsatisfiable.

use super::*;

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

on_both_backends!(
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
);
