//! Requests per second per owner: a token bucket each, refilled at the
//! configured rate and holding twice that, kept in memory on each instance.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ids::OwnerId;

/// Owners tracked before full buckets (idle owners) are forgotten.
const PRUNE_ABOVE: usize = 10_000;

/// One owner's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The request budget of every owner seen.
#[derive(Debug)]
pub struct OwnerRates {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<OwnerId, Bucket>>,
}

impl OwnerRates {
    /// Budgets of `per_second` requests, in bursts of up to twice that.
    pub fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second.max(1));
        OwnerRates {
            per_second,
            burst: per_second * 2.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `owner`'s budget at `now`; when it is spent,
    /// answers how long until the next request would be admitted.
    pub fn admit(&self, owner: &OwnerId, now: Instant) -> Result<(), Duration> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            let (per_second, burst) = (self.per_second, self.burst);
            buckets.retain(|_, bucket| refilled(*bucket, now, per_second, burst) < burst);
        }
        let bucket = buckets.entry(owner.clone()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let tokens = refilled(*bucket, now, self.per_second, self.burst);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                updated: now,
            };
            Ok(())
        } else {
            *bucket = Bucket {
                tokens,
                updated: now,
            };
            Err(Duration::from_secs_f64((1.0 - tokens) / self.per_second))
        }
    }
}

fn refilled(bucket: Bucket, now: Instant, per_second: f64, burst: f64) -> f64 {
    let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
    (bucket.tokens + elapsed * per_second).min(burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_gets_a_burst_of_twice_the_rate_then_waits() {
        let rates = OwnerRates::new(5);
        let owner = OwnerId::parse("alice").unwrap();
        let start = Instant::now();
        for _ in 0..10 {
            assert!(rates.admit(&owner, start).is_ok());
        }
        let wait = rates.admit(&owner, start).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(200),
            "{wait:?}"
        );
        assert!(
            rates
                .admit(&owner, start + Duration::from_millis(200))
                .is_ok()
        );
    }

    #[test]
    fn owners_have_budgets_of_their_own() {
        let rates = OwnerRates::new(1);
        let now = Instant::now();
        let alice = OwnerId::parse("alice").unwrap();
        let bob = OwnerId::parse("bob").unwrap();
        assert!(rates.admit(&alice, now).is_ok());
        assert!(rates.admit(&alice, now).is_ok());
        assert!(rates.admit(&alice, now).is_err());
        assert!(rates.admit(&bob, now).is_ok());
    }
}
