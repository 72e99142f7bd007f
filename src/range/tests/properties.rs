//! Properties over generated headers and lengths: no panic, no overflow, exact bytes.

use super::*;

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
