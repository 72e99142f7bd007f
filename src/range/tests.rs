use super::*;
use proptest::prelude::*;
use std::time::{Duration, UNIX_EPOCH};

const ETAG: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const OTHER_ETAG: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
const MODIFIED_SECS: u64 = 784_111_777;
const MODIFIED: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
const ONE_SECOND_EARLIER: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
const ONE_SECOND_LATER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";
const LENGTH: u64 = 1000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn file(length: u64) -> Validators<'static> {
    Validators {
        etag: ETAG,
        last_modified: at(MODIFIED_SECS),
        length,
    }
}

fn decide(conditions: Conditions<'_>) -> Decision {
    evaluate(&conditions, &file(LENGTH))
}

fn ranged(range: &str) -> Conditions<'_> {
    Conditions {
        range: Some(range),
        ..Conditions::default()
    }
}

fn if_match(value: &str) -> Conditions<'_> {
    Conditions {
        if_match: Some(value),
        ..Conditions::default()
    }
}

fn br(start: u64, end: u64) -> ByteRange {
    ByteRange { start, end }
}

fn satisfiable(ranges: &[(u64, u64)]) -> RangeRequest {
    RangeRequest::Satisfiable(ranges.iter().map(|&(s, e)| br(s, e)).collect())
}

fn quoted(tag: &str) -> String {
    format!("\"{tag}\"")
}

fn weak(tag: &str) -> String {
    format!("W/\"{tag}\"")
}

fn build_body(layout: &MultipartLayout, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (preamble, range) in &layout.parts {
        body.extend_from_slice(preamble.as_bytes());
        body.extend_from_slice(&data[range.start as usize..=range.end as usize]);
    }
    body.extend_from_slice(layout.epilogue.as_bytes());
    body
}

#[test]
fn a_byte_range_counts_both_of_its_ends() {
    assert_eq!(br(0, 0).len(), 1);
    assert_eq!(br(10, 19).len(), 10);
    assert!(!br(5, 5).is_empty());
}

#[test]
fn a_backwards_byte_range_is_empty_and_a_full_u64_range_saturates() {
    assert_eq!(br(5, 4).len(), 0);
    assert!(br(5, 4).is_empty());
    assert_eq!(br(0, u64::MAX).len(), u64::MAX);
}

#[test]
fn content_range_names_start_end_and_complete_length() {
    assert_eq!(br(0, 99).content_range(1000), "bytes 0-99/1000");
    assert_eq!(unsatisfied_content_range(1000), "bytes */1000");
}

#[test]
fn a_closed_range_selects_exactly_those_bytes() {
    assert_eq!(parse_range("bytes=0-99", LENGTH), satisfiable(&[(0, 99)]));
}

#[test]
fn the_unit_name_is_case_insensitive() {
    assert_eq!(parse_range("Bytes=0-1", LENGTH), satisfiable(&[(0, 1)]));
    assert_eq!(parse_range("BYTES=0-1", LENGTH), satisfiable(&[(0, 1)]));
}

#[test]
fn an_unknown_unit_is_ignored() {
    assert_eq!(parse_range("items=0-1", LENGTH), RangeRequest::Ignored);
    assert_eq!(parse_range("=0-1", LENGTH), RangeRequest::Ignored);
}

#[test]
fn a_header_without_an_equals_sign_is_ignored() {
    assert_eq!(parse_range("bytes 0-1", LENGTH), RangeRequest::Ignored);
    assert_eq!(parse_range("", LENGTH), RangeRequest::Ignored);
}

#[test]
fn a_last_pos_before_the_first_pos_makes_the_header_ignored() {
    assert_eq!(parse_range("bytes=5-3", LENGTH), RangeRequest::Ignored);
}

#[test]
fn non_numeric_positions_make_the_header_ignored() {
    for header in [
        "bytes=abc",
        "bytes=1-b",
        "bytes=+1-2",
        "bytes=0x1-2",
        "bytes=1--2",
        "bytes=--2",
        "bytes=1-2-3",
        "bytes=١-٢",
    ] {
        assert_eq!(
            parse_range(header, LENGTH),
            RangeRequest::Ignored,
            "{header}"
        );
    }
}

#[test]
fn an_empty_range_set_is_ignored() {
    for header in ["bytes=", "bytes= ", "bytes=,", "bytes= , ,\t"] {
        assert_eq!(
            parse_range(header, LENGTH),
            RangeRequest::Ignored,
            "{header}"
        );
    }
}

#[test]
fn a_lone_dash_is_ignored() {
    assert_eq!(parse_range("bytes=-", LENGTH), RangeRequest::Ignored);
}

#[test]
fn whitespace_inside_a_range_or_around_the_equals_sign_is_ignored() {
    assert_eq!(parse_range("bytes = 0-1", LENGTH), RangeRequest::Ignored);
    assert_eq!(parse_range("bytes=0 - 1", LENGTH), RangeRequest::Ignored);
}

#[test]
fn one_invalid_member_makes_the_whole_header_ignored() {
    assert_eq!(parse_range("bytes=0-1,x", LENGTH), RangeRequest::Ignored);
    assert_eq!(
        parse_range("bytes=0-1, bytes=2-3", LENGTH),
        RangeRequest::Ignored
    );
}

#[test]
fn a_last_pos_beyond_the_end_is_clamped() {
    assert_eq!(
        parse_range("bytes=990-5000", LENGTH),
        satisfiable(&[(990, 999)])
    );
}

#[test]
fn an_open_ended_range_runs_to_the_last_byte() {
    assert_eq!(
        parse_range("bytes=900-", LENGTH),
        satisfiable(&[(900, 999)])
    );
}

#[test]
fn a_suffix_range_selects_the_last_bytes() {
    assert_eq!(
        parse_range("bytes=-100", LENGTH),
        satisfiable(&[(900, 999)])
    );
}

#[test]
fn a_suffix_range_longer_than_the_file_selects_the_whole_file() {
    assert_eq!(parse_range("bytes=-5000", LENGTH), satisfiable(&[(0, 999)]));
}

#[test]
fn a_zero_suffix_is_unsatisfiable() {
    assert_eq!(parse_range("bytes=-0", LENGTH), RangeRequest::Unsatisfiable);
}

#[test]
fn a_first_pos_equal_to_the_length_is_unsatisfiable() {
    assert_eq!(
        parse_range("bytes=1000-", LENGTH),
        RangeRequest::Unsatisfiable
    );
    assert_eq!(
        parse_range("bytes=1000-2000", LENGTH),
        RangeRequest::Unsatisfiable
    );
}

#[test]
fn the_last_byte_alone_is_satisfiable() {
    assert_eq!(
        parse_range("bytes=999-999", LENGTH),
        satisfiable(&[(999, 999)])
    );
}

#[test]
fn an_overflowing_last_pos_is_clamped() {
    assert_eq!(
        parse_range("bytes=5-999999999999999999999999999999", LENGTH),
        satisfiable(&[(5, 999)])
    );
}

#[test]
fn an_overflowing_first_pos_is_unsatisfiable() {
    assert_eq!(
        parse_range("bytes=99999999999999999999999999-", LENGTH),
        RangeRequest::Unsatisfiable
    );
    assert_eq!(
        parse_range("bytes=18446744073709551616-", u64::MAX),
        RangeRequest::Unsatisfiable
    );
}

#[test]
fn an_overflowing_suffix_length_selects_the_whole_file() {
    assert_eq!(
        parse_range("bytes=-99999999999999999999999999", LENGTH),
        satisfiable(&[(0, 999)])
    );
}

#[test]
fn overflowing_positions_are_still_compared_exactly() {
    assert_eq!(
        parse_range(
            "bytes=99999999999999999999999-99999999999999999999998",
            LENGTH
        ),
        RangeRequest::Ignored
    );
    assert_eq!(
        parse_range(
            "bytes=99999999999999999999998-99999999999999999999999",
            LENGTH
        ),
        RangeRequest::Unsatisfiable
    );
}

#[test]
fn leading_zeros_do_not_change_a_position() {
    assert_eq!(
        parse_range("bytes=0005-0010", LENGTH),
        satisfiable(&[(5, 10)])
    );
    assert_eq!(parse_range("bytes=010-9", LENGTH), RangeRequest::Ignored);
    assert_eq!(parse_range("bytes=9-010", LENGTH), satisfiable(&[(9, 10)]));
}

#[test]
fn the_largest_possible_length_is_handled() {
    let max = u64::MAX;
    assert_eq!(
        parse_range("bytes=-1", max),
        satisfiable(&[(max - 1, max - 1)])
    );
    assert_eq!(
        parse_range("bytes=18446744073709551614-", max),
        satisfiable(&[(max - 1, max - 1)])
    );
    assert_eq!(
        parse_range("bytes=18446744073709551615-", max),
        RangeRequest::Unsatisfiable
    );
    assert_eq!(parse_range("bytes=0-", max), satisfiable(&[(0, max - 1)]));
}

#[test]
fn a_one_byte_file_serves_its_only_byte() {
    assert_eq!(parse_range("bytes=0-0", 1), satisfiable(&[(0, 0)]));
    assert_eq!(parse_range("bytes=-1", 1), satisfiable(&[(0, 0)]));
    assert_eq!(parse_range("bytes=1-", 1), RangeRequest::Unsatisfiable);
}

#[test]
fn a_set_with_no_satisfiable_range_is_unsatisfiable() {
    assert_eq!(
        parse_range("bytes=1000-1001, -0, 5000-", LENGTH),
        RangeRequest::Unsatisfiable
    );
}

#[test]
fn unsatisfiable_members_of_a_mixed_set_are_dropped() {
    assert_eq!(
        parse_range("bytes=2000-3000,0-9,-0,20-29", LENGTH),
        satisfiable(&[(0, 9), (20, 29)])
    );
}

#[test]
fn optional_whitespace_and_empty_members_are_accepted() {
    assert_eq!(
        parse_range(" bytes=0-1,,\t2-3 , ,5-6, ", LENGTH),
        satisfiable(&[(0, 1), (2, 3), (5, 6)])
    );
    assert_eq!(parse_range("bytes=,0-1", LENGTH), satisfiable(&[(0, 1)]));
}

#[test]
fn sixty_four_ranges_are_honoured() {
    let set: Vec<String> = (0..64)
        .map(|i| format!("{}-{}", i * 10, i * 10 + 1))
        .collect();
    let RangeRequest::Satisfiable(ranges) =
        parse_range(&format!("bytes={}", set.join(",")), 10_000)
    else {
        panic!("64 ranges must be honoured");
    };
    assert_eq!(ranges.len(), MAX_RANGES);
}

#[test]
fn more_than_sixty_four_ranges_are_ignored() {
    let set: Vec<String> = (0..65)
        .map(|i| format!("{}-{}", i * 10, i * 10 + 1))
        .collect();
    let header = format!("bytes={}", set.join(","));
    assert_eq!(parse_range(&header, 10_000), RangeRequest::Ignored);
}

#[test]
fn unsatisfiable_members_count_towards_the_range_limit() {
    let header = format!("bytes=0-1,{}", vec!["5000-"; 64].join(","));
    assert_eq!(parse_range(&header, LENGTH), RangeRequest::Ignored);
}

#[test]
fn empty_members_do_not_count_towards_the_range_limit() {
    let header = format!("bytes=0-1{}", ",".repeat(500));
    assert_eq!(parse_range(&header, LENGTH), satisfiable(&[(0, 1)]));
}

#[test]
fn ascending_disjoint_ranges_are_served_as_requested_even_when_adjacent() {
    assert_eq!(
        parse_range("bytes=0-9,10-19,30-39", LENGTH),
        satisfiable(&[(0, 9), (10, 19), (30, 39)])
    );
}

#[test]
fn overlapping_ranges_are_coalesced() {
    assert_eq!(
        parse_range("bytes=0-50,40-99,200-", LENGTH),
        satisfiable(&[(0, 99), (200, 999)])
    );
}

#[test]
fn out_of_order_ranges_are_sorted_and_adjacent_ones_merged() {
    assert_eq!(
        parse_range("bytes=500-599,0-9,10-19,-100", LENGTH),
        satisfiable(&[(0, 19), (500, 599), (900, 999)])
    );
}

#[test]
fn many_copies_of_the_whole_file_collapse_to_one_range() {
    let header = format!("bytes={}", vec!["0-"; 64].join(","));
    assert_eq!(parse_range(&header, LENGTH), satisfiable(&[(0, 999)]));
}

#[test]
fn pieces_that_cover_the_whole_file_become_one_whole_range() {
    assert_eq!(
        parse_range("bytes=500-,0-499", LENGTH),
        satisfiable(&[(0, 999)])
    );
    assert_eq!(decide(ranged("bytes=0-")), Decision::Partial(br(0, 999)));
}

#[test]
fn any_range_on_a_zero_length_file_is_ignored() {
    for header in ["bytes=0-", "bytes=-1", "bytes=-0", "bytes=0-0", "junk"] {
        assert_eq!(parse_range(header, 0), RangeRequest::Ignored, "{header}");
    }
}

#[test]
fn a_zero_length_file_with_a_range_is_served_in_full() {
    let conditions = ranged("bytes=0-10");
    assert_eq!(evaluate(&conditions, &file(0)), Decision::Full);
}

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

#[test]
fn multipart_preambles_have_the_exact_layout() {
    let layout = multipart_layout(&[br(0, 1), br(5, 9)], "text/plain", 10, "XYZ");
    assert_eq!(layout.boundary, "XYZ");
    assert_eq!(
        layout.parts,
        vec![
            (
                "\r\n--XYZ\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n"
                    .to_string(),
                br(0, 1)
            ),
            (
                "\r\n--XYZ\r\nContent-Type: text/plain\r\nContent-Range: bytes 5-9/10\r\n\r\n"
                    .to_string(),
                br(5, 9)
            ),
        ]
    );
    assert_eq!(layout.epilogue, "\r\n--XYZ--\r\n");
}

#[test]
fn multipart_content_length_equals_the_length_of_the_concatenated_body() {
    let data: Vec<u8> = (0..=255).collect();
    let layout = multipart_layout(
        &[br(0, 0), br(10, 99), br(200, 255)],
        "application/octet-stream",
        256,
        "0123456789abcdef",
    );
    let body = build_body(&layout, &data);
    assert_eq!(layout.content_length, body.len() as u64);
}

#[test]
fn multipart_content_length_saturates_instead_of_overflowing() {
    let layout = multipart_layout(
        &[br(0, u64::MAX - 1), br(0, u64::MAX)],
        "a/b",
        u64::MAX,
        "B",
    );
    assert_eq!(layout.content_length, u64::MAX);
}

#[test]
fn multipart_content_type_names_the_boundary_and_quotes_it_when_needed() {
    assert_eq!(
        multipart_content_type("abc123"),
        "multipart/byteranges; boundary=abc123"
    );
    assert_eq!(
        multipart_content_type("a b:c"),
        "multipart/byteranges; boundary=\"a b:c\""
    );
}

#[test]
fn http_dates_are_formatted_as_imf_fixdate() {
    assert_eq!(format_http_date(at(MODIFIED_SECS)), MODIFIED);
    assert_eq!(
        format_http_date(at(MODIFIED_SECS) + Duration::from_millis(999)),
        MODIFIED
    );
}

#[test]
fn http_dates_outside_the_expressible_span_are_clamped() {
    let before_epoch = UNIX_EPOCH - Duration::from_secs(10);
    assert_eq!(
        format_http_date(before_epoch),
        "Thu, 01 Jan 1970 00:00:00 GMT"
    );
    assert_eq!(
        format_http_date(at(400_000_000_000)),
        "Fri, 31 Dec 9999 23:59:59 GMT"
    );
}

fn lengths() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(u64::MAX),
        Just(u64::MAX - 1),
        0u64..2_000,
        any::<u64>(),
    ]
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (0u64..3_000).prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => Just(u64::MAX.to_string()),
        1 => Just("18446744073709551616".to_string()),
        1 => "[0-9]{20,40}",
        1 => "0{1,5}[0-9]{1,3}",
    ]
}

fn member() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => (number(), number()).prop_map(|(a, b)| {
            if cmp_decimal(&a, &b) == Ordering::Greater {
                format!("{b}-{a}")
            } else {
                format!("{a}-{b}")
            }
        }),
        2 => (number(), number()).prop_map(|(a, b)| format!("{a}-{b}")),
        8 => number().prop_map(|a| format!("{a}-")),
        8 => number().prop_map(|n| format!("-{n}")),
        4 => Just(String::new()),
        4 => "[ \t]{0,2}[0-9]{1,3}-[0-9]{0,3}[ \t]{0,2}",
        1 => "[a-z0-9=*+ -]{1,4}",
    ]
}

fn range_header() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            12 => Just("bytes"),
            1 => Just("BYTES"),
            1 => Just("Bytes"),
            1 => Just("items"),
            1 => Just(""),
        ],
        prop_oneof![
            6 => prop::collection::vec(member(), 0..8),
            1 => prop::collection::vec(member(), 0..80),
        ],
        prop_oneof![Just(","), Just(", "), Just(" ,\t"), Just(",,")],
    )
        .prop_map(|(unit, members, separator)| format!("{unit}={}", members.join(separator)))
}

fn check_invariants(result: &RangeRequest, length: u64) -> Result<(), TestCaseError> {
    if length == 0 {
        prop_assert_eq!(result, &RangeRequest::Ignored);
    }
    if let RangeRequest::Satisfiable(ranges) = result {
        prop_assert!(!ranges.is_empty());
        prop_assert!(ranges.len() <= MAX_RANGES);
        let mut total = 0u128;
        for range in ranges {
            prop_assert!(range.start <= range.end && range.end < length, "{range:?}");
            total += u128::from(range.len());
        }
        prop_assert!(total <= u128::from(length));
        let mut sorted = ranges.clone();
        sorted.sort_by_key(|r| r.start);
        prop_assert!(sorted.windows(2).all(|w| w[0].end < w[1].start));
    }
    Ok(())
}

fn check_decision(decision: &Decision, request: &RangeRequest) -> Result<(), TestCaseError> {
    let expected = match request {
        RangeRequest::Ignored => Decision::Full,
        RangeRequest::Unsatisfiable => Decision::NotSatisfiable,
        RangeRequest::Satisfiable(ranges) if ranges.len() == 1 => Decision::Partial(ranges[0]),
        RangeRequest::Satisfiable(ranges) => Decision::MultiPart(ranges.clone()),
    };
    prop_assert_eq!(decision, &expected);
    Ok(())
}

#[derive(Debug, Clone)]
enum ModelSpec {
    Closed(u64, u64),
    Open(u64),
    Suffix(u64),
    Empty,
}

fn small_spec() -> impl Strategy<Value = ModelSpec> {
    prop_oneof![
        4 => (0u64..220, 0u64..220).prop_map(|(a, b)| ModelSpec::Closed(a.min(b), a.max(b))),
        1 => (0u64..220, 0u64..220).prop_map(|(a, b)| ModelSpec::Closed(a, b)),
        2 => (0u64..220).prop_map(ModelSpec::Open),
        2 => (0u64..220).prop_map(ModelSpec::Suffix),
        1 => Just(ModelSpec::Empty),
    ]
}

fn reference_model(specs: &[ModelSpec], length: u64) -> Option<Vec<(u64, u64)>> {
    let members = specs
        .iter()
        .filter(|s| !matches!(s, ModelSpec::Empty))
        .count();
    if length == 0 || members == 0 || members > MAX_RANGES {
        return None;
    }
    let mut wanted = Vec::new();
    for spec in specs {
        match *spec {
            ModelSpec::Closed(a, b) if b < a => return None,
            ModelSpec::Closed(a, b) if a < length => wanted.push((a, b.min(length - 1))),
            ModelSpec::Open(a) if a < length => wanted.push((a, length - 1)),
            ModelSpec::Suffix(n) if n > 0 => wanted.push((length.saturating_sub(n), length - 1)),
            _ => {}
        }
    }
    Some(wanted)
}

fn model_header() -> impl Strategy<Value = String> {
    prop::collection::vec(small_spec(), 1..10).prop_map(|specs| {
        let members: Vec<String> = specs.iter().map(render).collect();
        format!("bytes={}", members.join(","))
    })
}

fn render(spec: &ModelSpec) -> String {
    match spec {
        ModelSpec::Closed(a, b) => format!("{a}-{b}"),
        ModelSpec::Open(a) => format!("{a}-"),
        ModelSpec::Suffix(n) => format!("-{n}"),
        ModelSpec::Empty => String::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_headers_never_panic_and_yield_valid_ranges(
        header in prop_oneof![any::<String>(), "bytes=.*", "[bB][yY][tT][eE][sS]=[0-9, \t,-]*"],
        length in lengths(),
    ) {
        let result = parse_range(&header, length);
        check_invariants(&result, length)?;
        let decision = evaluate(&ranged(&header), &file(length));
        check_decision(&decision, &result)?;
    }

    #[test]
    fn grammar_headers_never_panic_and_yield_valid_ranges(header in range_header(), length in lengths()) {
        let result = parse_range(&header, length);
        check_invariants(&result, length)?;
        let decision = evaluate(&ranged(&header), &file(length));
        check_decision(&decision, &result)?;
    }

    #[test]
    fn satisfiable_ranges_cover_exactly_the_requested_bytes(
        specs in prop::collection::vec(small_spec(), 0..70),
        length in 0u64..200,
    ) {
        let header = format!("bytes={}", specs.iter().map(render).collect::<Vec<_>>().join(","));
        let result = parse_range(&header, length);
        check_invariants(&result, length)?;
        match reference_model(&specs, length) {
            None => prop_assert_eq!(result, RangeRequest::Ignored),
            Some(wanted) if wanted.is_empty() => prop_assert_eq!(result, RangeRequest::Unsatisfiable),
            Some(wanted) => {
                let RangeRequest::Satisfiable(ranges) = result else {
                    return Err(TestCaseError::fail("expected satisfiable ranges"));
                };
                let mut expected = vec![false; length as usize];
                for &(a, b) in &wanted {
                    expected[a as usize..=b as usize].iter_mut().for_each(|x| *x = true);
                }
                let mut covered = vec![false; length as usize];
                for r in &ranges {
                    covered[r.start as usize..=r.end as usize].iter_mut().for_each(|x| *x = true);
                }
                prop_assert_eq!(covered, expected);
                if wanted.windows(2).all(|w| w[0].1 < w[1].0) {
                    let as_requested: Vec<ByteRange> = wanted.iter().map(|&(s, e)| br(s, e)).collect();
                    prop_assert_eq!(ranges, as_requested);
                }
            }
        }
    }

    #[test]
    fn multipart_content_length_matches_the_built_body(
        header in prop_oneof![range_header(), model_header()],
        length in 1u64..3_000,
        boundary in "[A-Za-z0-9'()+_,./:=?-]{1,70}",
        content_type in prop_oneof![Just("application/octet-stream"), Just("text/plain; charset=utf-8")],
    ) {
        if let RangeRequest::Satisfiable(ranges) = parse_range(&header, length) {
            let data: Vec<u8> = (0..length).map(|i| i as u8).collect();
            let layout = multipart_layout(&ranges, content_type, length, &boundary);
            let body = build_body(&layout, &data);
            prop_assert_eq!(layout.content_length, body.len() as u64);
            prop_assert_eq!(layout.parts.len(), ranges.len());
            prop_assert!(layout.parts.len() <= MAX_RANGES);
        }
    }

    #[test]
    fn evaluate_never_panics_and_head_never_gets_a_range(
        is_head in any::<bool>(),
        headers in prop::collection::vec(prop::option::of(prop_oneof![
            any::<String>(),
            Just("*".to_string()),
            Just(quoted(ETAG)),
            Just(weak(ETAG)),
            Just(MODIFIED.to_string()),
            Just(ONE_SECOND_EARLIER.to_string()),
            range_header(),
        ]), 6),
        secs in any::<i64>(),
        length in lengths(),
    ) {
        let magnitude = Duration::from_secs(secs.unsigned_abs());
        let shifted = if secs < 0 { UNIX_EPOCH.checked_sub(magnitude) } else { UNIX_EPOCH.checked_add(magnitude) };
        let last_modified = shifted.unwrap_or(UNIX_EPOCH);
        let validators = Validators { last_modified, ..file(length) };
        let conditions = Conditions {
            is_head,
            if_match: headers[0].as_deref(),
            if_none_match: headers[1].as_deref(),
            if_modified_since: headers[2].as_deref(),
            if_unmodified_since: headers[3].as_deref(),
            if_range: headers[4].as_deref(),
            range: headers[5].as_deref(),
        };
        let decision = evaluate(&conditions, &validators);
        let _ = format_http_date(last_modified);
        if is_head || conditions.range.is_none() {
            prop_assert!(matches!(decision, Decision::Full | Decision::NotModified | Decision::PreconditionFailed));
        }
        if let Decision::MultiPart(ranges) = &decision {
            check_invariants(&RangeRequest::Satisfiable(ranges.clone()), length)?;
            prop_assert!(ranges.len() > 1);
        }
        if let Decision::Partial(range) = decision {
            prop_assert!(range.start <= range.end && range.end < length);
        }
    }
}
