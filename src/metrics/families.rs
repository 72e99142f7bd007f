//! Every metric ferry exports, each declared once in [`Families::declare`]:
//! its name (without the `ferry_` prefix, its unit and the `_total` every
//! counter gets), its unit, its help and its kind.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry, Unit};

use super::listen_queue::ListenQueue;

/// The labels of an answered request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RequestLabels {
    pub(super) route: String,
    pub(super) method: &'static str,
    pub(super) status: u16,
}

/// The labels of a request's duration.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RouteLabels {
    pub(super) route: String,
    pub(super) method: &'static str,
}

/// The label of a merge's outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct OutcomeLabel {
    pub(super) outcome: &'static str,
}

/// The labels of a refused credential.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ReasonLabel {
    pub(super) credential: &'static str,
    pub(super) reason: &'static str,
}

/// The labels of an upload whose hash is learned at the end.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ProtocolLabels {
    pub(super) protocol: &'static str,
    pub(super) event: &'static str,
}

/// The label of what a sweep removed or took up.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct KindLabel {
    pub(super) kind: &'static str,
}

/// The label of an event's type.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct EventLabel {
    pub(super) event: &'static str,
}

/// Buckets of request latencies: from 1 ms to about 2.5 minutes.
#[derive(Clone, Debug)]
pub(super) struct RequestBuckets;

impl MetricConstructor<Histogram> for RequestBuckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(exponential_buckets(0.001, 2.5, 14))
    }
}

/// Every metric of one server, and the registry they are exported from.
#[derive(Debug)]
pub(super) struct Families {
    pub(super) requests: Family<RequestLabels, Counter>,
    pub(super) request_duration: Family<RouteLabels, Histogram, RequestBuckets>,
    pub(super) uploads_created: Counter,
    pub(super) uploads_resumed: Counter,
    pub(super) uploads_instant: Counter,
    pub(super) uploads_completed: Counter,
    pub(super) uploads_failed: Counter,
    pub(super) hash_mismatches: Counter,
    pub(super) digest_mismatches: Counter,
    pub(super) chunks_received: Counter,
    pub(super) received_bytes: Counter,
    pub(super) files_repaired: Counter,
    pub(super) chunks_linked: Counter,
    pub(super) chunks_read_back: Counter,
    pub(super) merge_reread_bytes: Counter,
    pub(super) compose_streamed_bytes: Counter,
    pub(super) stored_file_faults: Family<KindLabel, Counter>,
    pub(super) files_moved: Counter,
    pub(super) link_reread_bytes: Counter,
    pub(super) hash_window_bytes: Gauge,
    pub(super) chunks_arriving: Gauge,
    pub(super) chunk_waits: Counter,
    pub(super) body_buffers_bytes: Gauge,
    pub(super) body_buffer_refusals: Counter,
    pub(super) merges_in_flight: Gauge,
    pub(super) merges: Family<OutcomeLabel, Counter>,
    pub(super) merge_duration: Histogram,
    pub(super) served_bytes: Counter,
    pub(super) range_requests: Counter,
    pub(super) sweeps: Counter,
    pub(super) swept: Family<KindLabel, Counter>,
    pub(super) db_connections_in_use: Gauge,
    pub(super) db_acquire_duration: Histogram,
    pub(super) ready: Gauge,
    pub(super) leftovers_kept: Gauge,
    pub(super) auth_refusals: Family<ReasonLabel, Counter>,
    pub(super) webhooks_pending: Gauge,
    pub(super) webhooks_delivered: Family<EventLabel, Counter>,
    pub(super) webhooks_failed: Family<EventLabel, Counter>,
    pub(super) webhook_attempts_failed: Counter,
    pub(super) webhook_latency: Histogram,
    pub(super) files_deleted: Counter,
    pub(super) appended_uploads: Family<ProtocolLabels, Counter>,
    pub(super) registry: Registry,
}

/// A registry being filled: each call declares one metric and hands it back.
struct Declarations(Registry);

impl Declarations {
    fn declare<M: Metric + Clone>(
        &mut self,
        name: &str,
        unit: Option<Unit>,
        help: &str,
        metric: M,
    ) -> M {
        match unit {
            Some(unit) => self.0.register_with_unit(name, help, unit, metric.clone()),
            None => self.0.register(name, help, metric.clone()),
        }
        metric
    }

    /// The registry, with `collector`'s metrics read at each scrape.
    fn with_collector(mut self, collector: impl Collector) -> Registry {
        self.0.register_collector(Box::new(collector));
        self.0
    }
}

impl Families {
    /// Every metric ferry exports, declared once each.
    pub(super) fn declare() -> Self {
        use Unit::{Bytes, Seconds};
        let mut d = Declarations(Registry::with_prefix("ferry"));
        Families {
            requests: d.declare(
                "http_requests",
                None,
                "HTTP requests answered, by route pattern, method and status",
                Family::default(),
            ),
            request_duration: d.declare(
                "http_request_duration",
                Some(Seconds),
                "Time from a request's arrival to its answer's head, by route pattern and method",
                Family::new_with_constructor(RequestBuckets),
            ),
            uploads_created: d.declare(
                "uploads_created",
                None,
                "Upload sessions created",
                Counter::default(),
            ),
            uploads_resumed: d.declare(
                "uploads_resumed",
                None,
                "Creates that found the owner's live session and resumed it",
                Counter::default(),
            ),
            uploads_instant: d.declare(
                "uploads_instant",
                None,
                "Uploads answered at once because the file was already published (dedup hits)",
                Counter::default(),
            ),
            uploads_completed: d.declare(
                "uploads_completed",
                None,
                "Uploads whose bytes were verified and published, merged or in one request",
                Counter::default(),
            ),
            uploads_failed: d.declare(
                "uploads_failed",
                None,
                "Uploads that failed, merged or in one request: for a hash mismatch or a chunk lost by the store",
                Counter::default(),
            ),
            hash_mismatches: d.declare(
                "hash_mismatches",
                None,
                "Uploads refused because their bytes hash to another sha256 than their key",
                Counter::default(),
            ),
            digest_mismatches: d.declare(
                "digest_mismatches",
                None,
                "Chunks refused because they did not match their digest",
                Counter::default(),
            ),
            chunks_received: d.declare(
                "chunks_received",
                None,
                "Chunks accepted",
                Counter::default(),
            ),
            received_bytes: d.declare(
                "received",
                Some(Bytes),
                "Bytes accepted, in chunks and in one-request uploads",
                Counter::default(),
            ),
            files_repaired: d.declare(
                "files_repaired",
                None,
                "Published files whose missing object an upload of their bytes put back",
                Counter::default(),
            ),
            chunks_linked: d.declare(
                "chunks_linked",
                None,
                "Chunks taken into their file's running hash, as they arrived or read back after",
                Counter::default(),
            ),
            chunks_read_back: d.declare(
                "chunks_read_back",
                None,
                "Chunks read back after they were accepted to take them into their file's running hash",
                Counter::default(),
            ),
            merge_reread_bytes: d.declare(
                "merge_reread",
                Some(Bytes),
                "Bytes of chunks a merge read back because they were not in the running hash yet",
                Counter::default(),
            ),
            compose_streamed_bytes: d.declare(
                "compose_streamed",
                Some(Bytes),
                "Bytes that passed through ferry to compose a file's one object, where the store could not join them itself",
                Counter::default(),
            ),
            stored_file_faults: d.declare(
                "stored_file_faults",
                None,
                "Downloads refused with file-unreadable because a published file's object was `missing` or `short`, by kind",
                Family::default(),
            ),
            files_moved: d.declare(
                "files_moved",
                None,
                "Files published in parts moved to their one object",
                Counter::default(),
            ),
            link_reread_bytes: d.declare(
                "link_reread",
                Some(Bytes),
                "Bytes of chunks read back after they were accepted to take them into their file's running hash",
                Counter::default(),
            ),
            hash_window_bytes: d.declare(
                "hash_window",
                Some(Bytes),
                "Bytes of chunks held in memory until the chunk before them joins the running hash",
                Gauge::default(),
            ),
            chunks_arriving: d.declare(
                "chunks_arriving",
                None,
                "Chunk uploads this instance is receiving now",
                Gauge::default(),
            ),
            chunk_waits: d.declare(
                "chunk_waits",
                None,
                "Chunks that waited for the chunk before them to arrive before reading their body",
                Counter::default(),
            ),
            body_buffers_bytes: d.declare(
                "body_buffers",
                Some(Bytes),
                "Bytes of the body buffer budget drawn by writes to the store now",
                Gauge::default(),
            ),
            body_buffer_refusals: d.declare(
                "body_buffer_refusals",
                None,
                "Writes refused with 503 because the body buffer budget stayed spent",
                Counter::default(),
            ),
            merges_in_flight: d.declare(
                "merges_in_flight",
                None,
                "Merges running on this instance",
                Gauge::default(),
            ),
            merges: d.declare(
                "merges",
                None,
                "Merges that held their lease, by outcome",
                Family::default(),
            ),
            merge_duration: d.declare(
                "merge_duration",
                Some(Seconds),
                "Time a merge took, from taking its lease to its outcome (buckets from 50 ms to 7 minutes)",
                Histogram::new(exponential_buckets(0.05, 2.0, 14)),
            ),
            served_bytes: d.declare(
                "served",
                Some(Bytes),
                "Bytes of published files sent to clients",
                Counter::default(),
            ),
            range_requests: d.declare(
                "range_requests",
                None,
                "Downloads answered with part of a file (206)",
                Counter::default(),
            ),
            sweeps: d.declare("sweeps", None, "Sweeps run", Counter::default()),
            swept: d.declare(
                "swept",
                None,
                "What sweeps removed or took up, by kind",
                Family::default(),
            ),
            db_connections_in_use: d.declare(
                "db_connections_in_use",
                None,
                "Connections of this instance's database pool in use",
                Gauge::default(),
            ),
            db_acquire_duration: d.declare(
                "db_acquire_duration",
                Some(Seconds),
                "Time a request waited for a connection of this instance's database pool (buckets from 1 ms to about 60 s)",
                Histogram::new(exponential_buckets(0.001, 2.5, 13)),
            ),
            ready: d.declare(
                "ready",
                None,
                "Whether this instance's last readiness check passed (1) or not (0)",
                Gauge::default(),
            ),
            leftovers_kept: d.declare(
                "leftovers_kept",
                None,
                "Objects no database row needs that the last listing of the store kept, waiting out their quarantine",
                Gauge::default(),
            ),
            auth_refusals: d.declare(
                "auth_refusals",
                None,
                "Requests refused for their credentials (token or signed link), by reason",
                Family::default(),
            ),
            webhooks_pending: d.declare(
                "webhooks_pending",
                None,
                "Webhook deliveries not yet acknowledged nor given up, as this instance last counted them (every instance counts all)",
                Gauge::default(),
            ),
            webhooks_delivered: d.declare(
                "webhooks_delivered",
                None,
                "Events a webhook URL acknowledged, by event type",
                Family::default(),
            ),
            webhooks_failed: d.declare(
                "webhooks_failed",
                None,
                "Events given up on after their retries ran out, by event type",
                Family::default(),
            ),
            webhook_attempts_failed: d.declare(
                "webhook_attempts_failed",
                None,
                "Attempts at a webhook delivery that got no 2xx (to be retried or given up)",
                Counter::default(),
            ),
            webhook_latency: d.declare(
                "webhook_latency",
                Some(Seconds),
                "Time from an event's change to its acknowledgement by a webhook URL (buckets from 10 ms to about 11 hours)",
                Histogram::new(exponential_buckets(0.01, 3.0, 16)),
            ),
            files_deleted: d.declare(
                "files_deleted",
                None,
                "Published files deleted once no owner held them and their grace had passed",
                Counter::default(),
            ),
            appended_uploads: d.declare(
                "appended_uploads",
                None,
                "Uploads whose hash is learned at the end, by protocol (tus, ietf) and event (created, appended, completed)",
                Family::default(),
            ),
            registry: d.with_collector(ListenQueue),
        }
    }
}
