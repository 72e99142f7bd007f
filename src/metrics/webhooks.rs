//! When the webhook and file-deletion metrics move.

use std::time::Duration;

use super::Metrics;
use super::families::EventLabel;

impl Metrics {
    /// Webhook deliveries pending, as last counted.
    pub fn webhooks_pending(&self, pending: u64) {
        self.0
            .webhooks_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    /// An event of type `event` acknowledged `latency` after its change.
    pub fn webhook_delivered(&self, event: &'static str, latency: Duration) {
        self.0
            .webhooks_delivered
            .get_or_create(&EventLabel { event })
            .inc();
        self.0.webhook_latency.observe(latency.as_secs_f64());
    }

    /// An attempt at a delivery that got no acknowledgement.
    pub fn webhook_attempt_failed(&self) {
        self.0.webhook_attempts_failed.inc();
    }

    /// An event of type `event` given up on.
    pub fn webhook_failed(&self, event: &'static str) {
        self.0
            .webhooks_failed
            .get_or_create(&EventLabel { event })
            .inc();
    }

    /// A published file deleted.
    pub fn file_deleted(&self) {
        self.0.files_deleted.inc();
    }
}
