//! The deliverer every instance runs: it routes new events to the webhook
//! URLs, claims due deliveries in the database (so that one instance sends
//! each), posts them signed, and records how each ended, retrying on an
//! exponential backoff with jitter until the event is too old.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ferry_proto::file_url;
use rand::Rng;

use super::Webhooks;
use crate::ids::WriteToken;
use crate::meta::{Attempted, Delivery, EventKind, MetaStore};
use crate::metrics::Metrics;
use crate::upload::DownloadLinks;

/// Events routed, and deliveries claimed, per round trip.
const BATCH: u32 = 32;
/// How often the database is asked when this instance wrote no event.
const POLL: Duration = Duration::from_secs(1);
/// How long the deliverer waits after the database failed it.
const AFTER_FAILURE: Duration = Duration::from_secs(5);
/// How often old events are forgotten.
const FORGET_EVERY: Duration = Duration::from_secs(600);
/// The longest wait between two attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);
/// The longest answer read from a receiver, for the log.
const ANSWER_SHOWN: usize = 200;

/// Sends the outbox's events to the webhook URLs.
#[derive(Clone)]
pub struct Deliverer {
    meta: Arc<dyn MetaStore>,
    webhooks: Option<Webhooks>,
    links: DownloadLinks,
    client: reqwest::Client,
    metrics: Metrics,
}

impl Deliverer {
    /// A deliverer over `meta`; with no webhooks, it only marks events
    /// routed (to nobody) and forgets them once old.
    pub fn new(
        meta: Arc<dyn MetaStore>,
        webhooks: Option<Webhooks>,
        links: DownloadLinks,
        metrics: Metrics,
    ) -> Self {
        let timeout = webhooks
            .as_ref()
            .map_or(Duration::from_secs(10), |hooks| hooks.timeout);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Deliverer {
            meta,
            webhooks,
            links,
            client,
            metrics,
        }
    }

    /// Delivers until the task is dropped: at once when this instance
    /// commits an event, every second otherwise.
    pub async fn run(self) {
        let mut last_forget = tokio::time::Instant::now();
        loop {
            let busy = match self.round().await {
                Ok(busy) => busy,
                Err(error) => {
                    tracing::warn!(%error, "webhook delivery round failed; trying again");
                    tokio::time::sleep(AFTER_FAILURE).await;
                    continue;
                }
            };
            if last_forget.elapsed() >= FORGET_EVERY {
                last_forget = tokio::time::Instant::now();
                self.forget_old().await;
            }
            if !busy {
                tokio::select! {
                    () = self.meta.event_written() => {}
                    () = tokio::time::sleep(POLL) => {}
                }
            }
        }
    }

    /// Routes new events and sends the due deliveries once; `true` when
    /// there was anything to do (and so maybe more).
    pub async fn round(&self) -> Result<bool, crate::meta::MetaError> {
        let routed = match &self.webhooks {
            Some(hooks) => {
                let route = |kind: &str| hooks.targets_for(kind);
                self.meta.route_events(&route, BATCH).await?
            }
            None => self.meta.route_events(&|_: &str| Vec::new(), BATCH).await?,
        };
        let Some(hooks) = &self.webhooks else {
            return Ok(routed > 0);
        };
        let token = WriteToken::generate();
        let now = self.meta.clock().await?;
        let hold = chrono::Duration::from_std(hooks.timeout * 2 + Duration::from_secs(5))
            .unwrap_or(chrono::Duration::MAX);
        let claimed = self
            .meta
            .claim_deliveries(&token, now, now + hold, BATCH)
            .await?;
        let sent = claimed.len();
        let attempts = claimed
            .into_iter()
            .map(|delivery| self.attempt(hooks, delivery, &token));
        for result in futures::future::join_all(attempts).await {
            result?;
        }
        self.metrics
            .webhooks_pending(self.meta.pending_deliveries().await?);
        Ok(routed > 0 || sent > 0)
    }

    /// Sends one delivery and records how it ended.
    async fn attempt(
        &self,
        hooks: &Webhooks,
        delivery: Delivery,
        token: &WriteToken,
    ) -> Result<(), crate::meta::MetaError> {
        let body = self.body(&delivery);
        let timestamp = Utc::now().timestamp();
        let signature = hooks
            .key
            .sign(&delivery.event_id, timestamp, body.as_bytes());
        let answer = self
            .client
            .post(&delivery.target)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let kind = EventKind::parse(&delivery.kind).map_or("other", EventKind::as_str);
        let failure = match answer {
            Ok(answer) if answer.status().is_success() => None,
            Ok(answer) => {
                let status = answer.status();
                let text = answer.text().await.unwrap_or_default();
                let shown: String = text.chars().take(ANSWER_SHOWN).collect();
                Some(format!("answered {status}: {shown}"))
            }
            Err(error) if error.is_timeout() => Some("timed out".to_owned()),
            Err(error) => Some(format!("could not be reached: {error}")),
        };
        let now = Utc::now();
        let attempted = match failure {
            None => {
                let latency = (now - delivery.created_at).to_std().unwrap_or_default();
                self.metrics.webhook_delivered(kind, latency);
                Attempted::Delivered
            }
            Some(reason) => {
                self.metrics.webhook_attempt_failed();
                tracing::info!(event = %delivery.event_id, target = %delivery.target, attempts = delivery.attempts + 1, %reason, "webhook delivery failed");
                let retry_at = now + retry_delay(delivery.attempts, rand::rng().random());
                if retry_at > give_up_at(&delivery, hooks.retry_for) {
                    self.metrics.webhook_failed(kind);
                    tracing::warn!(event = %delivery.event_id, target = %delivery.target, "webhook delivery given up");
                    Attempted::Failed { reason }
                } else {
                    Attempted::Retry { reason, retry_at }
                }
            }
        };
        self.meta
            .finish_delivery(&delivery, token, &attempted, now)
            .await?;
        Ok(())
    }

    /// The body sent: the stored event, with the published file's `url`
    /// written now for `upload.completed` (a signed link holds from when it
    /// is written).
    fn body(&self, delivery: &Delivery) -> String {
        if delivery.kind != EventKind::UploadCompleted.as_str() {
            return delivery.payload.clone();
        }
        let Ok(mut event) = serde_json::from_str::<serde_json::Value>(&delivery.payload) else {
            return delivery.payload.clone();
        };
        let data = &mut event["data"];
        if let Some(sha256) = data["sha256"].as_str() {
            let path = file_url(sha256, data["filename"].as_str());
            data["url"] = self.links.link(path).into();
        }
        event.to_string()
    }

    /// Forgets events whose deliveries all ended long enough ago.
    async fn forget_old(&self) {
        let keep = self
            .webhooks
            .as_ref()
            .map_or(Duration::from_secs(3600), |hooks| hooks.retry_for)
            .max(Duration::from_secs(3600));
        let before = Utc::now() - chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
        if let Err(error) = self.meta.forget_events(before).await {
            tracing::warn!(%error, "could not forget old events");
        }
    }
}

/// When a delivery is given up: its retry window after the change.
fn give_up_at(delivery: &Delivery, retry_for: Duration) -> DateTime<Utc> {
    delivery.created_at + chrono::Duration::from_std(retry_for).unwrap_or(chrono::Duration::MAX)
}

/// The wait before the attempt after `attempts` failed ones: 1 s doubling
/// up to an hour, with the upper half drawn at random (`jitter` in
/// `[0, 1)`) so that receivers coming back are not hit all at once.
pub fn retry_delay(attempts: u32, jitter: f64) -> chrono::Duration {
    let full = Duration::from_secs(1)
        .saturating_mul(1u32 << attempts.min(20))
        .min(MAX_RETRY_DELAY);
    let wait = full.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0);
    chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_within_their_jitter_up_to_an_hour() {
        assert_eq!(retry_delay(0, 0.0), chrono::Duration::milliseconds(500));
        assert_eq!(retry_delay(0, 1.0), chrono::Duration::seconds(1));
        assert_eq!(retry_delay(3, 0.0), chrono::Duration::seconds(4));
        assert_eq!(retry_delay(40, 1.0), chrono::Duration::seconds(3600));
    }
}
