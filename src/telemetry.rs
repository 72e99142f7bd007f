//! Logging on stderr, filtered by `RUST_LOG` (default `info`): readable
//! lines for a terminal, or one flat JSON object per line for Loki or
//! Elasticsearch, each carrying the fields of the spans it happened in (the
//! request id among them).

mod flat_json;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::JsonFields;

pub use flat_json::FlatJson;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Readable lines.
    Text,
    /// One flat JSON object per line.
    Json,
}

/// Installs the global subscriber; a second call does nothing.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .try_init(),
    };
}
