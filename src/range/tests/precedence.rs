//! How the conditions rank against each other, If-Range, and HEAD (RFC 9110 §13.2.2).

use super::*;

#[test]
fn a_failed_if_match_beats_a_matching_if_none_match() {
    let other = quoted(OTHER_ETAG);
    let ours = quoted(ETAG);
    let conditions = Conditions {
        if_match: Some(&other),
        if_none_match: Some(&ours),
        ..Conditions::default()
    };
    assert_eq!(decide(conditions), Decision::PreconditionFailed);
}

#[test]
fn a_failed_precondition_beats_an_unsatisfiable_range() {
    let other = quoted(OTHER_ETAG);
    let ours = quoted(ETAG);
    let failing = Conditions {
        if_match: Some(&other),
        ..ranged("bytes=5000-")
    };
    let cached = Conditions {
        if_none_match: Some(&ours),
        ..ranged("bytes=5000-")
    };
    assert_eq!(decide(failing), Decision::PreconditionFailed);
    assert_eq!(decide(cached), Decision::NotModified);
}

#[test]
fn if_range_with_the_matching_strong_etag_honours_the_range() {
    let tag = quoted(ETAG);
    let conditions = Conditions {
        if_range: Some(&tag),
        ..ranged("bytes=0-9")
    };
    assert_eq!(decide(conditions), Decision::Partial(br(0, 9)));
}

#[test]
fn if_range_with_a_stale_etag_serves_the_full_file() {
    let tag = quoted(OTHER_ETAG);
    let conditions = Conditions {
        if_range: Some(&tag),
        ..ranged("bytes=0-9")
    };
    assert_eq!(decide(conditions), Decision::Full);
}

#[test]
fn if_range_with_the_weak_etag_serves_the_full_file() {
    let tag = weak(ETAG);
    let conditions = Conditions {
        if_range: Some(&tag),
        ..ranged("bytes=0-9")
    };
    assert_eq!(decide(conditions), Decision::Full);
}

#[test]
fn if_range_with_a_list_of_etags_serves_the_full_file() {
    let tags = format!("{}, {}", quoted(ETAG), quoted(ETAG));
    let conditions = Conditions {
        if_range: Some(&tags),
        ..ranged("bytes=0-9")
    };
    assert_eq!(decide(conditions), Decision::Full);
}

#[test]
fn if_range_with_the_exact_date_honours_the_range() {
    let conditions = Conditions {
        if_range: Some(MODIFIED),
        ..ranged("bytes=0-9")
    };
    assert_eq!(decide(conditions), Decision::Partial(br(0, 9)));
}

#[test]
fn if_range_with_a_different_date_serves_the_full_file() {
    for date in [ONE_SECOND_EARLIER, ONE_SECOND_LATER] {
        let conditions = Conditions {
            if_range: Some(date),
            ..ranged("bytes=0-9")
        };
        assert_eq!(decide(conditions), Decision::Full, "{date}");
    }
}

#[test]
fn if_range_with_garbage_serves_the_full_file() {
    for value in ["", "garbage", ETAG] {
        let conditions = Conditions {
            if_range: Some(value),
            ..ranged("bytes=0-9")
        };
        assert_eq!(decide(conditions), Decision::Full, "{value}");
    }
}

#[test]
fn a_failed_if_range_also_hides_an_unsatisfiable_range() {
    let tag = quoted(OTHER_ETAG);
    let conditions = Conditions {
        if_range: Some(&tag),
        ..ranged("bytes=5000-")
    };
    assert_eq!(decide(conditions), Decision::Full);
}

#[test]
fn if_range_without_a_range_is_ignored() {
    let conditions = Conditions {
        if_range: Some("garbage"),
        ..Conditions::default()
    };
    assert_eq!(decide(conditions), Decision::Full);
}

#[test]
fn head_ignores_the_range_header() {
    for range in ["bytes=0-9", "bytes=5000-", "bytes=0-9,20-29"] {
        let conditions = Conditions {
            is_head: true,
            ..ranged(range)
        };
        assert_eq!(decide(conditions), Decision::Full, "{range}");
    }
}

#[test]
fn head_still_evaluates_preconditions() {
    let tag = quoted(ETAG);
    let conditions = Conditions {
        is_head: true,
        if_none_match: Some(&tag),
        ..ranged("bytes=0-9")
    };
    assert_eq!(decide(conditions), Decision::NotModified);
}
