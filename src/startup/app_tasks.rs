//! The tasks every instance runs for the app behind ferry: delivering
//! events to its webhooks, and deleting files no owner holds once their
//! grace has passed.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::config::Settings;
use crate::upload::Uploads;

/// How often deletions are looked for when the grace is shorter than a
/// minute (tests, mostly).
const SHORT_GRACE_POLL: Duration = Duration::from_secs(1);
/// How often deletions are looked for otherwise.
const DELETION_POLL: Duration = Duration::from_secs(60);

/// Starts the deliverer and the deleter; aborting the handles stops them.
pub(super) fn spawn(uploads: &Uploads, settings: &Settings) -> Vec<JoinHandle<()>> {
    let deliverer = uploads.deliverer(settings.app.webhooks());
    let poll = if settings.app.delete_grace < Duration::from_secs(60) {
        SHORT_GRACE_POLL
    } else {
        DELETION_POLL
    };
    vec![
        tokio::spawn(deliverer.run()),
        tokio::spawn(delete_forever(uploads.clone(), poll)),
    ]
}

async fn delete_forever(uploads: Uploads, poll: Duration) {
    let mut ticks = tokio::time::interval(poll);
    loop {
        ticks.tick().await;
        if let Err(error) = uploads.delete_due_files().await {
            tracing::warn!(%error, "deleting files no owner holds failed; trying again");
        }
    }
}
