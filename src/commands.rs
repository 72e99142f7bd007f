//! `ferryd`'s command line: the settings, read from flags, environment and
//! configuration file, and the commands it can run besides serving (print a
//! token for an owner, or a signed download link; probe the running server,
//! as a container's health check does).

use std::ffi::OsString;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use chrono::Utc;
use clap::{Parser, Subcommand};
use ferry_proto::{ContentHash, parse_duration};
use secrecy::ExposeSecret;

use crate::access::{LinkSigner, issue_hs256};
use crate::config::{self, LoadError, Settings};
use crate::ids::OwnerId;
use crate::probe;
use crate::startup;
use crate::upload::{LeftoverAction, MAX_LIST_LIMIT, MoveOutcome};

/// Files younger than this are not leftovers yet for a command: a running
/// instance may be about to publish them.
const LEFTOVER_MIN_AGE: Duration = Duration::from_secs(3600);

/// `ferryd`'s command line: the settings, and optionally a command.
#[derive(Debug, Parser)]
#[command(
    name = "ferryd",
    version,
    about = "ferry: resumable, content-addressed uploads"
)]
pub struct Invocation {
    /// The server's settings.
    #[command(flatten)]
    pub settings: Settings,
    /// A command instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Invocation {
    /// The invocation this process was started with: its arguments, its
    /// environment and the configuration file they name. Help and usage
    /// mistakes are shown by clap; an invalid setting is one line on
    /// standard error. Either ends the process.
    pub fn from_process() -> Invocation {
        let env =
            |name: &str| std::env::var_os(name).map(|value| value.to_string_lossy().into_owned());
        match Invocation::load(std::env::args_os(), env) {
            Ok(invocation) => invocation,
            Err(LoadError::Usage(error)) => error.exit(),
            Err(LoadError::Invalid(line)) => {
                eprintln!("ferryd: {line}");
                std::process::exit(2)
            }
        }
    }

    /// Reads an invocation from `args`, `env` and the configuration file
    /// they name; when it starts the server, its settings must agree.
    pub fn load(
        args: impl IntoIterator<Item = impl Into<OsString>>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Invocation, LoadError> {
        let (invocation, provenance) = config::load::<Invocation>(args, env)?;
        if invocation.command.is_none() {
            invocation
                .settings
                .validate()
                .map_err(|message| LoadError::Invalid(provenance.explain(&message)))?;
        }
        Ok(invocation)
    }
}

/// Commands that print something and exit.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print an HS256 bearer token for an owner, signed with FERRY_JWT_SECRET.
    Token {
        /// The owner the token names (its `sub`).
        #[arg(long)]
        sub: String,
        /// How long the token holds.
        #[arg(long, default_value = "1h", value_parser = parse_duration)]
        ttl: Duration,
    },
    /// Print a download link signed with FERRY_DOWNLOAD_KEY.
    Sign {
        /// The download path, e.g. `/v1/files/<sha256>/lecture.mp4`.
        path: String,
        /// How long the link holds.
        #[arg(long, default_value = "10m", value_parser = parse_duration)]
        ttl: Duration,
        /// Sign in the CDN type A scheme (`auth_key=`), valid for FERRY_CDN_AUTH_TTL.
        #[arg(long)]
        cdn: bool,
    },
    /// Ask the server listening on FERRY_ADMIN_BIND, or else FERRY_BIND, for
    /// a path; exit 0 only on a 200 (a health check that needs no curl).
    Probe {
        /// The path to ask for: `/readyz` (ready for traffic) or `/healthz` (alive).
        #[arg(long, default_value = "/readyz")]
        path: String,
        /// How long to wait for the answer.
        #[arg(long, default_value = "3s", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Look after the object store: bind it to the database, list or
    /// delete its leftovers.
    #[command(subcommand)]
    Store(StoreCommand),
    /// List or delete an owner's files, for support work.
    #[command(subcommand)]
    Files(FilesCommand),
}

/// Commands on owners' files, with the server's settings.
#[derive(Debug, Subcommand)]
pub enum FilesCommand {
    /// List an owner's files, newest first, one per line: sha256, size,
    /// created, content type, filename.
    List {
        /// The owner (a token's `sub`; `anonymous` without tokens).
        #[arg(long)]
        owner: String,
    },
    /// Let a file go: the owner's reference, or every owner's without
    /// `--owner`; its bytes are deleted after FERRY_DELETE_GRACE.
    Delete {
        /// The file's sha256.
        sha256: String,
        /// The owner whose reference goes.
        #[arg(long)]
        owner: Option<String>,
    },
}

/// Commands on the object store and its database, with the server's settings.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Bind the object store and the database to each other, whatever they
    /// were bound to: for a database rebuilt from scratch, or a store copied
    /// elsewhere, once you know the two belong together.
    Bind,
    /// List the objects no database row needs (a dry run: nothing is
    /// deleted), one per line: kind, key, and when a listing first found it.
    Leftovers {
        /// Delete them now instead of listing them.
        #[arg(long)]
        delete: bool,
    },
    /// Move every file published in parts (by versions before each file
    /// became one object) to its one object now, one at a time, printing
    /// each; running instances share the work. Exits non-zero when some
    /// are left in parts.
    MoveParts,
}

/// Runs `command`, printing its result on standard output.
pub async fn run(command: &Command, settings: &Settings) -> anyhow::Result<()> {
    let security = &settings.security;
    match command {
        Command::Token { sub, ttl } => {
            let secret = security
                .jwt_secret
                .as_ref()
                .context("FERRY_JWT_SECRET is not set")?;
            OwnerId::parse(sub.as_str()).context("--sub cannot name an owner")?;
            let token = issue_hs256(
                secret.expose_secret().as_bytes(),
                sub,
                *ttl,
                SystemTime::now(),
            );
            println!("{token}");
        }
        Command::Sign { path, ttl, cdn } => {
            let key = security
                .download_key
                .as_ref()
                .context("FERRY_DOWNLOAD_KEY is not set")?;
            anyhow::ensure!(
                path.starts_with("/v1/files/"),
                "the path must start with /v1/files/"
            );
            let signer = LinkSigner::new(key.expose_secret().as_bytes(), security.cdn_auth_ttl);
            let link = if *cdn {
                let rand = uuid::Uuid::new_v4().simple().to_string();
                signer.sign_type_a(path, &rand, "0", SystemTime::now())
            } else {
                signer.sign(path, *ttl, SystemTime::now())
            };
            println!("{link}");
        }
        Command::Probe { path, timeout } => {
            let address = probed_address(settings);
            println!("{}", probe::probe(address, path, *timeout)?);
        }
        Command::Store(command) => run_store(command, settings).await?,
        Command::Files(command) => run_files(command, settings).await?,
    }
    Ok(())
}

async fn run_files(command: &FilesCommand, settings: &Settings) -> anyhow::Result<()> {
    let uploads = startup::open_uploads(settings).await?;
    match command {
        FilesCommand::List { owner } => {
            let owner = OwnerId::parse(owner.as_str()).context("--owner cannot name an owner")?;
            let mut cursor = None;
            loop {
                let page = uploads
                    .list_files(&owner, cursor.as_deref(), Some(u64::from(MAX_LIST_LIMIT)))
                    .await?;
                for file in &page.files {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        file.sha256,
                        file.size,
                        file.created,
                        file.content_type.as_deref().unwrap_or("-"),
                        file.filename.as_deref().unwrap_or("-"),
                    );
                }
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        FilesCommand::Delete { sha256, owner } => {
            let hash = ContentHash::parse(sha256).ok().context("not a sha256")?;
            let owner = owner
                .as_deref()
                .map(OwnerId::parse)
                .transpose()
                .context("--owner cannot name an owner")?;
            uploads
                .release_file(owner.as_ref(), &hash, Utc::now())
                .await
                .with_context(|| format!("releasing {sha256}"))?;
            eprintln!(
                "released {sha256}; its bytes are deleted once no owner holds it, after FERRY_DELETE_GRACE"
            );
        }
    }
    Ok(())
}

async fn run_store(command: &StoreCommand, settings: &Settings) -> anyhow::Result<()> {
    let uploads = startup::open_uploads(settings).await?;
    match command {
        StoreCommand::Bind => {
            let identity = uploads.bind_store().await?;
            println!("bound {} and its database as {identity}", settings.store);
        }
        StoreCommand::Leftovers { delete } => {
            startup::bound_store(&uploads, settings, false).await?;
            let action = if *delete {
                LeftoverAction::DeleteNow
            } else {
                LeftoverAction::List
            };
            let report = uploads
                .collect_leftovers(Utc::now(), LEFTOVER_MIN_AGE, action)
                .await?;
            for leftover in &report.found {
                let noted = leftover
                    .first_noted
                    .map_or_else(|| "-".to_owned(), |time| time.to_rfc3339());
                let done = if leftover.removed { "deleted" } else { "kept" };
                println!(
                    "{}\t{}\t{noted}\t{done}",
                    leftover.kind.as_str(),
                    leftover.key
                );
            }
            eprintln!(
                "{} leftovers, {} deleted",
                report.found.len(),
                report.removed()
            );
        }
        StoreCommand::MoveParts => {
            startup::bound_store(&uploads, settings, false).await?;
            move_parts(&uploads).await?;
        }
    }
    Ok(())
}

/// Moves files published in parts until none is left to claim, printing
/// each move and what is left.
async fn move_parts(uploads: &crate::upload::Uploads) -> anyhow::Result<()> {
    let total = uploads.files_in_parts().await?;
    eprintln!("{total} files published in parts");
    let mut done = 0u64;
    while let Some(moved) = uploads.move_one_file().await? {
        done += 1;
        let outcome = match &moved.outcome {
            MoveOutcome::Moved => "moved".to_owned(),
            MoveOutcome::Superseded => "moved-elsewhere".to_owned(),
            MoveOutcome::Failed(reason) => format!("failed: {reason}"),
        };
        println!("{}\t{}\t{outcome}", moved.sha256, moved.size);
        eprintln!("{done}/{total}");
    }
    uploads.delete_all_recorded().await?;
    let left = uploads.files_in_parts().await?;
    eprintln!("{left} files left in parts");
    anyhow::ensure!(
        left == 0,
        "{left} files are still in parts: moves that failed, or that other instances hold"
    );
    Ok(())
}

/// Where `ferryd probe` asks: the admin address when there is one, since
/// the main one then answers no `/readyz`.
fn probed_address(settings: &Settings) -> std::net::SocketAddr {
    probe::local_address(settings.admin_bind.unwrap_or(settings.bind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_asks_the_admin_address_when_there_is_one() {
        let mut settings = Settings::defaults();
        settings.bind = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(probed_address(&settings), "127.0.0.1:8080".parse().unwrap());
        settings.admin_bind = Some("0.0.0.0:8081".parse().unwrap());
        assert_eq!(probed_address(&settings), "127.0.0.1:8081".parse().unwrap());
    }
}
