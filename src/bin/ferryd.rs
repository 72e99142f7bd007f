//! `ferryd`: the ferry server, or one of its commands.

use anyhow::Context;
use ferry::commands::{self, Invocation};
use ferry::startup::Application;
use secrecy::ExposeSecret;

/// jemalloc, with its background threads purging freed pages (after 10 s
/// unused), gives the memory of a rush of uploads back to the system once
/// it ends, whichever threads allocated it; the system allocator kept
/// most of it resident.
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Invocation { settings, command } = Invocation::from_process();
    if let Some(command) = command {
        return commands::run(&command, &settings).await;
    }
    ferry::telemetry::init(settings.log_format);
    let database = if settings.uses_postgres() {
        "PostgreSQL".to_owned()
    } else {
        settings.database_url.expose_secret().to_owned()
    };
    let store = settings.store.clone();
    let app = Application::build(settings)
        .await
        .context("starting ferryd")?;
    let admin = app.admin_address().unwrap_or(app.address());
    tracing::info!(
        address = %format!("http://{}", app.address()),
        probes_and_metrics = %format!("http://{admin}"),
        metadata = %database,
        objects = %store,
        "ferryd listening"
    );
    app.run_until_stopped().await.context("serving")
}
