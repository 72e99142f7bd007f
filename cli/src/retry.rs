//! When to try a failed request again: exponential backoff with full jitter,
//! and never sooner than the server's `Retry-After`.
//!
//! Pure: the caller supplies the random draw, so the policy is unit-tested
//! without clocks or randomness.

use std::time::Duration;

/// Longest `Retry-After` waited out; a server asking for more is given up on.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(5 * 60);

/// How often and how patiently a request is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Ceiling of the first pause.
    pub base: Duration,
    /// How much the ceiling grows after each failure.
    pub factor: u32,
    /// Largest ceiling of any pause.
    pub cap: Duration,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_millis(200),
            factor: 2,
            cap: Duration::from_secs(10),
            max_attempts: 8,
        }
    }
}

impl RetryPolicy {
    /// The largest pause after `failures` failures in a row (counting from 1):
    /// `min(cap, base × factor^(failures − 1))`.
    pub fn ceiling(&self, failures: u32) -> Duration {
        let growth = self
            .factor
            .checked_pow(failures.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base
            .checked_mul(growth)
            .map_or(self.cap, |pause| pause.min(self.cap))
    }

    /// The pause before the next attempt after `failures` failures in a row,
    /// or `None` when the attempts are used up. `draw` is a uniform random
    /// number in `[0, 1)`; the pause is that fraction of the ceiling (full jitter).
    pub fn pause(&self, failures: u32, draw: f64) -> Option<Duration> {
        if failures == 0 || failures >= self.max_attempts {
            return None;
        }
        Some(self.ceiling(failures).mul_f64(draw.clamp(0.0, 1.0)))
    }

    /// Like [`RetryPolicy::pause`], but at least `asked`, the server's
    /// `Retry-After`; `None` as well when `asked` is over [`MAX_RETRY_AFTER`].
    pub fn pause_after(
        &self,
        failures: u32,
        draw: f64,
        asked: Option<Duration>,
    ) -> Option<Duration> {
        let pause = self.pause(failures, draw)?;
        match asked {
            Some(asked) if asked > MAX_RETRY_AFTER => None,
            Some(asked) => Some(pause.max(asked)),
            None => Some(pause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_from_the_base_until_the_cap() {
        let policy = RetryPolicy::default();
        let ceilings: Vec<u64> = (1..=8)
            .map(|failures| policy.ceiling(failures).as_millis() as u64)
            .collect();
        assert_eq!(
            ceilings,
            [200, 400, 800, 1_600, 3_200, 6_400, 10_000, 10_000]
        );
    }

    #[test]
    fn a_huge_failure_count_stays_at_the_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.ceiling(1_000), Duration::from_secs(10));
    }

    #[test]
    fn the_pause_is_the_drawn_fraction_of_the_ceiling() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.pause(3, 0.5), Some(Duration::from_millis(400)));
        assert_eq!(policy.pause(3, 0.0), Some(Duration::ZERO));
    }

    #[test]
    fn a_draw_outside_the_unit_interval_cannot_exceed_the_ceiling() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.pause(1, 7.0), Some(Duration::from_millis(200)));
        assert_eq!(policy.pause(1, -1.0), Some(Duration::ZERO));
    }

    #[test]
    fn attempts_stop_after_the_maximum() {
        let policy = RetryPolicy::default();
        let pauses = (1..=10)
            .take_while(|&failures| policy.pause(failures, 0.5).is_some())
            .count();
        assert_eq!(pauses, 7, "eight attempts in all means seven pauses");
        assert_eq!(policy.pause(8, 0.5), None);
    }

    #[test]
    fn the_servers_retry_after_is_the_shortest_pause() {
        let policy = RetryPolicy::default();
        let asked = Some(Duration::from_secs(3));
        assert_eq!(
            policy.pause_after(1, 0.5, asked),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            policy.pause_after(7, 1.0, asked),
            Some(Duration::from_secs(10)),
            "a longer backoff stands"
        );
        assert_eq!(
            policy.pause_after(8, 0.5, asked),
            None,
            "attempts still run out"
        );
    }

    #[test]
    fn a_retry_after_over_five_minutes_is_not_waited_out() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.pause_after(1, 0.5, Some(MAX_RETRY_AFTER)),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            policy.pause_after(1, 0.5, Some(Duration::from_secs(301))),
            None
        );
    }

    #[test]
    fn no_pause_is_owed_before_any_failure() {
        assert_eq!(RetryPolicy::default().pause(0, 0.5), None);
    }
}
