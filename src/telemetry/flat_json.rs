//! One flat JSON object per log line: time, level, target and message, the
//! event's fields, then the fields of every span it happened in (the
//! request's `request_id` and `owner` among them), each key once, the
//! innermost value winning. Nothing nested, so that Loki's `json` stage and
//! Elasticsearch index every field as it is, and no source file paths: the
//! `log.*` fields of lines bridged from the `log` crate are dropped, their
//! target kept.

use std::fmt;

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event formatter of `FERRY_LOG_FORMAT=json`; span fields are kept by
/// [`JsonFields`].
#[derive(Debug, Clone, Copy, Default)]
pub struct FlatJson;

impl<S> FormatEvent<S, JsonFields> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let mut line = Line::default();
        line.put("timestamp", Value::from(timestamp()));
        line.put("level", Value::from(metadata.level().as_str()));
        let mut fields = Line::default();
        event.record(&mut fields);
        let target = fields.bridged_target.take();
        line.put(
            "target",
            Value::from(target.as_deref().unwrap_or(metadata.target())),
        );
        line.extend(fields.entries);
        for span in ctx.event_scope().into_iter().flatten() {
            let extensions = span.extensions();
            let Some(recorded) = extensions.get::<FormattedFields<JsonFields>>() else {
                continue;
            };
            if let Ok(Value::Object(span_fields)) = serde_json::from_str(recorded) {
                line.extend(span_fields);
            }
        }
        writeln!(writer, "{}", line.to_json())
    }
}

/// The time now, as RFC 3339 in UTC with microseconds.
fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A line's keys and values, in the order they were first put.
#[derive(Default)]
struct Line {
    entries: Vec<(String, Value)>,
    bridged_target: Option<String>,
}

impl Line {
    /// Adds `key` unless it is there already.
    fn put(&mut self, key: &str, value: Value) {
        if !self.entries.iter().any(|(known, _)| known == key) {
            self.entries.push((key.to_owned(), value));
        }
    }

    fn extend(&mut self, entries: impl IntoIterator<Item = (String, Value)>) {
        for (key, value) in entries {
            self.put(&key, value);
        }
    }

    fn to_json(&self) -> String {
        let mut text = String::from("{");
        for (at, (key, value)) in self.entries.iter().enumerate() {
            if at > 0 {
                text.push(',');
            }
            text.push_str(&Value::from(key.as_str()).to_string());
            text.push(':');
            text.push_str(&value.to_string());
        }
        text.push('}');
        text
    }

    fn record(&mut self, field: &Field, value: Value) {
        match field.name() {
            "log.target" => self.bridged_target = value.as_str().map(str::to_owned),
            name if name.starts_with("log.") => {}
            name => self.put(name, value),
        }
    }
}

impl Visit for Line {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.record(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record(field, Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record(field, Value::from(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record(field, Value::from(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};
    use tracing_subscriber::fmt::format::JsonFields;

    use super::FlatJson;

    /// Lines written by the JSON subscriber while `emit` runs.
    fn lines_of(emit: impl FnOnce()) -> Vec<Value> {
        let written = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = Arc::clone(&written);
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .with_writer(move || Sink(Arc::clone(&sink)))
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
            .collect()
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_carries_its_fields_and_those_of_its_spans_at_the_top_level() {
        let lines = lines_of(|| {
            let request =
                tracing::info_span!("request", request_id = "r-1", owner = tracing::field::Empty);
            request.record("owner", "alice");
            let _request = request.enter();
            let _complete =
                tracing::info_span!("complete", sha256 = "ab", owner = "alice").entered();
            tracing::info!(seconds = 1.5, size = 3_u64, "published");
        });
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line["message"], "published");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["request_id"], "r-1");
        assert_eq!(line["owner"], "alice");
        assert_eq!(line["sha256"], "ab");
        assert_eq!(line["seconds"], json!(1.5));
        assert_eq!(line["size"], json!(3));
        assert!(line["timestamp"].is_string());
        assert!(line.get("spans").is_none() && line.get("fields").is_none());
    }

    #[test]
    fn the_innermost_value_of_a_key_wins() {
        let lines = lines_of(|| {
            let _outer = tracing::info_span!("outer", place = "outer").entered();
            let _inner = tracing::info_span!("inner", place = "inner").entered();
            tracing::info!("one");
            tracing::info!(place = "event", "two");
        });
        assert_eq!(lines[0]["place"], "inner");
        assert_eq!(lines[1]["place"], "event");
    }

    #[test]
    fn lines_bridged_from_the_log_crate_keep_their_target_and_lose_their_paths() {
        let lines = lines_of(|| {
            tracing::info!(
                log.target = "actix_server::builder",
                log.module_path = "actix_server::builder",
                log.file = "/root/.cargo/registry/src/index/actix-server-2.6.0/src/builder.rs",
                log.line = 10_u64,
                "starting 2 workers"
            );
        });
        let line = &lines[0];
        assert_eq!(line["target"], "actix_server::builder");
        assert_eq!(line["message"], "starting 2 workers");
        let text = line.to_string();
        assert!(!text.contains(".rs") && !text.contains("log."), "{text}");
    }
}
