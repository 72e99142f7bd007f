//! `ferryd`: the ferry server.

use anyhow::Context;
use clap::Parser;
use ferry::config::Settings;
use ferry::startup::Application;
use secrecy::ExposeSecret;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ferry::telemetry::init();
    let settings = Settings::parse();
    let database = if settings.uses_postgres() {
        "PostgreSQL".to_owned()
    } else {
        settings.database_url.expose_secret().to_owned()
    };
    let store = settings.store.clone();
    let app = Application::build(settings)
        .await
        .context("starting ferryd")?;
    tracing::info!(
        address = %format!("http://{}", app.address()),
        metadata = %database,
        objects = %store,
        "ferryd listening"
    );
    app.run_until_stopped().await.context("serving")
}
