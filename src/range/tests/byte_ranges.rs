//! Parsing and resolving `Range: bytes=…` against a file length (RFC 9110 §14).

use super::*;

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
