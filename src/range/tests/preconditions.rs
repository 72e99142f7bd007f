//! Decisions and the conditional headers one at a time: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since (RFC 9110 §13).

use super::*;

#[test]
fn no_conditions_and_no_range_serve_the_full_file() {
    assert_eq!(decide(Conditions::default()), Decision::Full);
}

#[test]
fn a_single_range_gives_a_partial_answer() {
    assert_eq!(decide(ranged("bytes=0-99")), Decision::Partial(br(0, 99)));
}

#[test]
fn several_ranges_give_a_multipart_answer() {
    assert_eq!(
        decide(ranged("bytes=0-9,20-29")),
        Decision::MultiPart(vec![br(0, 9), br(20, 29)])
    );
}

#[test]
fn an_unsatisfiable_range_gives_not_satisfiable() {
    assert_eq!(decide(ranged("bytes=1000-")), Decision::NotSatisfiable);
}

#[test]
fn an_ignored_range_serves_the_full_file() {
    assert_eq!(decide(ranged("bytes=5-3")), Decision::Full);
    assert_eq!(decide(ranged("items=0-1")), Decision::Full);
}

#[test]
fn if_match_with_the_strong_etag_passes() {
    let tag = quoted(ETAG);
    let conditions = Conditions {
        if_match: Some(&tag),
        ..ranged("bytes=0-9")
    };
    assert_eq!(decide(conditions), Decision::Partial(br(0, 9)));
}

#[test]
fn if_match_with_another_etag_fails() {
    let tag = quoted(OTHER_ETAG);
    let conditions = Conditions {
        if_match: Some(&tag),
        ..Conditions::default()
    };
    assert_eq!(decide(conditions), Decision::PreconditionFailed);
}

#[test]
fn if_match_with_the_weak_form_of_the_etag_fails() {
    let tag = weak(ETAG);
    let conditions = Conditions {
        if_match: Some(&tag),
        ..Conditions::default()
    };
    assert_eq!(decide(conditions), Decision::PreconditionFailed);
}

#[test]
fn if_match_star_passes() {
    let conditions = Conditions {
        if_match: Some("*"),
        ..Conditions::default()
    };
    assert_eq!(decide(conditions), Decision::Full);
}

#[test]
fn if_match_with_a_list_passes_only_if_it_holds_the_strong_etag() {
    let holding = format!("{}, {} ,{}", quoted(OTHER_ETAG), weak(ETAG), quoted(ETAG));
    let lacking = format!("{}, {}", quoted(OTHER_ETAG), weak(ETAG));
    assert_eq!(decide(if_match(&holding)), Decision::Full);
    assert_eq!(decide(if_match(&lacking)), Decision::PreconditionFailed);
}

#[test]
fn if_match_with_an_unquoted_or_lowercase_weak_etag_fails() {
    for value in [ETAG.to_string(), format!("w/\"{ETAG}\""), String::new()] {
        let conditions = Conditions {
            if_match: Some(&value),
            ..Conditions::default()
        };
        assert_eq!(decide(conditions), Decision::PreconditionFailed, "{value}");
    }
}

#[test]
fn malformed_list_members_do_not_hide_a_matching_etag() {
    let value = format!("\"a\"junk, \"unterminated, {}", quoted(ETAG));
    let conditions = Conditions {
        if_match: Some(&value),
        ..Conditions::default()
    };
    assert_eq!(decide(conditions), Decision::Full);
}

#[test]
fn if_unmodified_since_before_the_modification_fails() {
    let conditions = Conditions {
        if_unmodified_since: Some(ONE_SECOND_EARLIER),
        ..Conditions::default()
    };
    assert_eq!(decide(conditions), Decision::PreconditionFailed);
}

#[test]
fn if_unmodified_since_at_or_after_the_modification_passes() {
    for date in [MODIFIED, ONE_SECOND_LATER] {
        let conditions = Conditions {
            if_unmodified_since: Some(date),
            ..Conditions::default()
        };
        assert_eq!(decide(conditions), Decision::Full, "{date}");
    }
}

#[test]
fn if_unmodified_since_is_ignored_when_if_match_is_present() {
    let tag = quoted(ETAG);
    let conditions = Conditions {
        if_match: Some(&tag),
        if_unmodified_since: Some(ONE_SECOND_EARLIER),
        ..Conditions::default()
    };
    assert_eq!(decide(conditions), Decision::Full);
}

#[test]
fn an_invalid_if_unmodified_since_is_ignored() {
    let list = format!("{ONE_SECOND_EARLIER}, {ONE_SECOND_EARLIER}");
    for value in ["yesterday", "Sun, 32 Nov 1994 08:49:37 GMT", list.as_str()] {
        let conditions = Conditions {
            if_unmodified_since: Some(value),
            ..Conditions::default()
        };
        assert_eq!(decide(conditions), Decision::Full, "{value}");
    }
}

#[test]
fn if_none_match_with_the_etag_gives_not_modified() {
    let tag = quoted(ETAG);
    let conditions = Conditions {
        if_none_match: Some(&tag),
        ..Conditions::default()
    };
    assert_eq!(decide(conditions), Decision::NotModified);
}

#[test]
fn if_none_match_with_the_weak_etag_in_a_list_gives_not_modified() {
    let value = format!("{}, {}", quoted(OTHER_ETAG), weak(ETAG));
    let conditions = Conditions {
        if_none_match: Some(&value),
        ..Conditions::default()
    };
    assert_eq!(decide(conditions), Decision::NotModified);
}

#[test]
fn if_none_match_star_gives_not_modified() {
    let conditions = Conditions {
        if_none_match: Some("*"),
        ..Conditions::default()
    };
    assert_eq!(decide(conditions), Decision::NotModified);
}

#[test]
fn if_none_match_with_other_etags_serves_the_range() {
    let value = format!("{}, {}", quoted(OTHER_ETAG), weak(OTHER_ETAG));
    let conditions = Conditions {
        if_none_match: Some(&value),
        ..ranged("bytes=0-0")
    };
    assert_eq!(decide(conditions), Decision::Partial(br(0, 0)));
}

#[test]
fn if_modified_since_at_or_after_the_modification_gives_not_modified() {
    for date in [MODIFIED, ONE_SECOND_LATER] {
        let conditions = Conditions {
            if_modified_since: Some(date),
            ..Conditions::default()
        };
        assert_eq!(decide(conditions), Decision::NotModified, "{date}");
    }
}

#[test]
fn if_modified_since_before_the_modification_serves_the_file() {
    let conditions = Conditions {
        if_modified_since: Some(ONE_SECOND_EARLIER),
        ..Conditions::default()
    };
    assert_eq!(decide(conditions), Decision::Full);
}

#[test]
fn if_modified_since_is_ignored_when_if_none_match_is_present() {
    let tag = quoted(OTHER_ETAG);
    let conditions = Conditions {
        if_none_match: Some(&tag),
        if_modified_since: Some(ONE_SECOND_LATER),
        ..Conditions::default()
    };
    assert_eq!(decide(conditions), Decision::Full);
}

#[test]
fn an_invalid_if_modified_since_is_ignored() {
    let list = format!("{MODIFIED}, {MODIFIED}");
    for value in [
        "not a date",
        "",
        "Sun, 06 Nov 1994 25:49:37 GMT",
        list.as_str(),
    ] {
        let conditions = Conditions {
            if_modified_since: Some(value),
            ..Conditions::default()
        };
        assert_eq!(decide(conditions), Decision::Full, "{value}");
    }
}

#[test]
fn obsolete_date_formats_are_understood() {
    for date in ["Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
        let conditions = Conditions {
            if_modified_since: Some(date),
            ..Conditions::default()
        };
        assert_eq!(decide(conditions), Decision::NotModified, "{date}");
    }
}

#[test]
fn a_sub_second_modification_time_is_compared_in_whole_seconds() {
    let validators = Validators {
        last_modified: at(MODIFIED_SECS) + Duration::from_millis(700),
        ..file(LENGTH)
    };
    let conditions = Conditions {
        if_modified_since: Some(MODIFIED),
        ..Conditions::default()
    };
    assert_eq!(evaluate(&conditions, &validators), Decision::NotModified);
}
