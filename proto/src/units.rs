//! Human-friendly sizes (`8MiB`, `16M`, `1048576`) and durations (`20s`,
//! `15m`, `24h`, `30`) for configuration and command-line flags.

use std::time::Duration;

/// Parses a byte size: a whole number with an optional unit, `K`/`KB`/`KiB`
/// and so on up to `T`, all powers of 1024, case-insensitive.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let (number, unit) = split_number(text)
        .ok_or_else(|| format!("{text:?} is not a size such as 8MiB or 1048576"))?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => return Err(format!("unknown size unit {other:?} in {text:?}")),
    };
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Parses a duration: a whole number of seconds, or with a unit `ms`, `s`,
/// `m`, `h` or `d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = split_number(text)
        .ok_or_else(|| format!("{text:?} is not a duration such as 20s, 15m or 24h"))?;
    let millis_per_unit = match unit {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => return Err(format!("unknown duration unit {other:?} in {text:?}")),
    };
    number
        .checked_mul(millis_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// Splits `"8 MiB"` into `8` and `"MiB"`; `None` without leading digits
/// or when the number does not fit.
fn split_number(text: &str) -> Option<(u64, &str)> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    Some((number.parse().ok()?, unit.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units_in_any_case() {
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("16m"), Ok(16 << 20));
        assert_eq!(parse_size("1 GB"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
    }

    #[test]
    fn a_size_that_overflows_is_refused() {
        assert!(parse_size("99999999T").is_err());
        assert!(parse_size("99999999999999999999999").is_err());
    }

    #[test]
    fn a_size_without_digits_or_with_an_odd_unit_is_refused() {
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("8 parsecs").is_err());
        assert!(parse_size("-1").is_err());
    }

    #[test]
    fn durations_take_units_and_default_to_seconds() {
        assert_eq!(parse_duration("20"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
    }

    #[test]
    fn a_duration_with_an_odd_unit_is_refused() {
        assert!(parse_duration("5 fortnights").is_err());
        assert!(parse_duration("").is_err());
    }
}
