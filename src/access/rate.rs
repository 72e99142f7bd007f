//! Requests per second per owner: a token bucket each (GCRA, as `governor`
//! keeps it), refilled at the configured rate and holding twice that, kept
//! in memory on each instance.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::ids::OwnerId;

/// Owners tracked before full buckets (idle owners) are forgotten.
const PRUNE_ABOVE: usize = 10_000;

/// Requests admitted between two looks at how many owners are tracked.
const HOUSEKEEPING_EVERY: usize = 1024;

type Limiter<C> =
    RateLimiter<OwnerId, DashMapStateStore<OwnerId>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// The request budget of every owner seen.
pub struct OwnerRates<C: Clock = DefaultClock> {
    limiter: Limiter<C>,
    clock: C,
    admitted: AtomicUsize,
}

impl OwnerRates {
    /// Budgets of `per_second` requests, in bursts of up to twice that.
    pub fn new(per_second: u32) -> Self {
        Self::with_clock(per_second, DefaultClock::default())
    }
}

impl<C: Clock + Clone> OwnerRates<C> {
    /// Budgets of `per_second` requests, in bursts of up to twice that, on
    /// the time `clock` tells.
    fn with_clock(per_second: u32, clock: C) -> Self {
        let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = rate.saturating_add(rate.get());
        let quota = Quota::per_second(rate).allow_burst(burst);
        OwnerRates {
            limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
            admitted: AtomicUsize::new(0),
        }
    }

    /// Takes one request from `owner`'s budget; when it is spent, answers
    /// how long until the next request would be admitted.
    pub fn admit(&self, owner: &OwnerId) -> Result<(), Duration> {
        if self
            .admitted
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(HOUSEKEEPING_EVERY)
            && self.limiter.len() > PRUNE_ABOVE
        {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(owner)
            .map_err(|refused| refused.wait_time_from(self.clock.now()))
    }
}

impl<C: Clock> std::fmt::Debug for OwnerRates<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnerRates")
            .field("owners", &self.limiter.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    fn rates(per_second: u32) -> (OwnerRates<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (OwnerRates::with_clock(per_second, clock.clone()), clock)
    }

    #[test]
    fn an_owner_gets_a_burst_of_twice_the_rate_then_waits() {
        let (rates, clock) = rates(5);
        let owner = OwnerId::parse("alice").unwrap();
        for _ in 0..10 {
            assert!(rates.admit(&owner).is_ok());
        }
        let wait = rates.admit(&owner).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(200),
            "{wait:?}"
        );
        clock.advance(Duration::from_millis(200));
        assert!(rates.admit(&owner).is_ok());
    }

    #[test]
    fn owners_have_budgets_of_their_own() {
        let (rates, _) = rates(1);
        let alice = OwnerId::parse("alice").unwrap();
        let bob = OwnerId::parse("bob").unwrap();
        assert!(rates.admit(&alice).is_ok());
        assert!(rates.admit(&alice).is_ok());
        assert!(rates.admit(&alice).is_err());
        assert!(rates.admit(&bob).is_ok());
    }

    #[test]
    fn idle_owners_are_forgotten_once_many_are_tracked_and_busy_ones_kept() {
        let (rates, clock) = rates(1);
        let busy = OwnerId::parse("busy").unwrap();
        let owners = PRUNE_ABOVE + HOUSEKEEPING_EVERY;
        for seed in 0..owners {
            rates
                .admit(&OwnerId::parse(format!("idle-{seed}")).unwrap())
                .unwrap();
        }
        assert!(rates.limiter.len() > PRUNE_ABOVE);
        clock.advance(Duration::from_secs(3));
        rates.admit(&busy).unwrap();
        rates.admit(&busy).unwrap();
        while !rates
            .admitted
            .load(Ordering::Relaxed)
            .is_multiple_of(HOUSEKEEPING_EVERY)
        {
            rates.admit(&busy).ok();
        }
        rates.admit(&busy).unwrap_err();
        assert_eq!(rates.limiter.len(), 1);
    }
}
