//! Telling the app behind ferry what happens: events delivered to its
//! webhook URLs from the outbox, and the pre-create hook it answers before
//! an upload starts. Both sign their requests the way the Standard Webhooks
//! specification says, so that receivers can use its published libraries.

mod deliverer;
mod pre_create;
mod signature;

use std::time::Duration;

pub use deliverer::{Deliverer, retry_delay};
pub use pre_create::{PreCreateHook, Verdict, WouldBe};
pub use signature::{InvalidSecret, SigningKey};

use crate::meta::EventKind;

/// Where events go and how hard ferry tries.
#[derive(Debug, Clone)]
pub struct Webhooks {
    /// The URLs every event is sent to.
    pub targets: Vec<String>,
    /// The event types sent; `None` for every type.
    pub kinds: Option<Vec<EventKind>>,
    /// The key requests are signed with.
    pub key: SigningKey,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// How long an event is retried before it is given up.
    pub retry_for: Duration,
}

impl Webhooks {
    /// The URLs an event of type `kind` goes to.
    pub fn targets_for(&self, kind: &str) -> Vec<String> {
        let wanted = match (&self.kinds, EventKind::parse(kind)) {
            (None, _) => true,
            (Some(kinds), Some(kind)) => kinds.contains(&kind),
            (Some(_), None) => false,
        };
        if wanted {
            self.targets.clone()
        } else {
            Vec::new()
        }
    }
}
