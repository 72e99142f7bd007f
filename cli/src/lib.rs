//! The `ferry` command-line client: upload, download and status over the
//! HTTP API, sharing only the protocol crate [`ferry_proto`] with the server.
#![warn(missing_docs, unreachable_pub)]

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;
use serde::Serialize;
use url::Url;

pub mod client;
pub mod download;
pub mod error;
pub mod hashing;
pub mod layout;
pub mod local;
pub mod plan;
pub mod progress;
pub mod retry;
pub mod status;
#[cfg(test)]
mod stub;
pub mod target;
pub mod upload;

pub use error::{CliError, EXIT_STATUS_HELP};

use client::Client;
use download::DownloadOptions;
use progress::Reporter;
use retry::RetryPolicy;
use target::FileTarget;
use upload::UploadOptions;

/// Server used when neither `--server` nor `FERRY_SERVER` names one.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// Resumable, content-addressed uploads to and downloads from a ferry server.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, after_help = EXIT_STATUS_HELP)]
pub struct Cli {
    /// How to reach the server.
    #[command(flatten)]
    pub server: ServerArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The server and the credentials to present to it.
#[derive(Debug, Args)]
#[command(next_help_heading = "Server")]
pub struct ServerArgs {
    /// Base URL of the ferry server.
    #[arg(long, env = "FERRY_SERVER", default_value = DEFAULT_SERVER, global = true)]
    pub server: Url,
    /// Token sent as `Authorization: Bearer`, to the server only.
    #[arg(long, env = "FERRY_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<SecretString>,
    /// Send the token over plain http to a server that is not loopback.
    #[arg(long, env = "FERRY_ALLOW_INSECURE_TOKEN", global = true)]
    pub allow_insecure_token: bool,
    /// Attempts per request before a network or server failure is final.
    #[arg(long, env = "FERRY_RETRIES", default_value_t = 8, global = true,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub retries: u32,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upload files; running it again after any interruption sends only what the server lacks.
    #[command(after_help = EXIT_STATUS_HELP)]
    Upload(UploadArgs),
    /// Download a published file, resuming `FILE.<sha256 prefix>.part` and verifying its SHA-256.
    #[command(after_help = EXIT_STATUS_HELP)]
    Download(DownloadArgs),
    /// Show how far the upload of a file (or a SHA-256) has come.
    #[command(after_help = EXIT_STATUS_HELP)]
    Status(StatusArgs),
}

/// Arguments of `ferry upload`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Files to upload, one after the other.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Chunks in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
    /// Chunk size to ask for, 64KiB to 256MiB, such as 8MiB; the server has the last word.
    #[arg(long, value_parser = layout::parse_chunk_size)]
    pub chunk_size: Option<u64>,
    /// Name to publish the file under (one file only).
    #[arg(long)]
    pub name: Option<String>,
    /// Media type to serve the files with.
    #[arg(long)]
    pub content_type: Option<String>,
    /// Print one JSON object per file instead of progress and words.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `ferry download`.
#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// `http://host/v1/files/<sha256>[/<name>]`, or a bare sha256 on --server.
    #[arg(value_name = "URL_OR_SHA256")]
    pub target: String,
    /// Where to save the file (a folder receives the file's own name).
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Ranges in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object instead of progress and words.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `ferry status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// A local file (hashed to find its upload) or a sha256.
    #[arg(value_name = "SHA256_OR_FILE")]
    pub target: String,
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let policy = RetryPolicy {
        max_attempts: cli.server.retries,
        ..RetryPolicy::default()
    };
    let mut client = Client::new(&cli.server.server, policy)?;
    if let Some(token) = &cli.server.token {
        client = client.with_token(token, cli.server.allow_insecure_token)?;
    }
    match cli.command {
        Command::Upload(args) => upload(&client, args).await,
        Command::Download(args) => download(&client, args).await,
        Command::Status(args) => status(&client, args).await,
    }
}

async fn upload(client: &Client, args: UploadArgs) -> Result<(), CliError> {
    if args.name.is_some() && args.files.len() > 1 {
        return Err(CliError::Usage(
            "--name names one file; give one FILE with it".into(),
        ));
    }
    let options = UploadOptions {
        parallel: usize::from(args.parallel),
        chunk_size: args.chunk_size,
        name: args.name,
        content_type: args.content_type,
    };
    let reporter = Reporter::new(shows_progress(args.json));
    let total = args.files.len();
    let mut failures = Vec::new();
    for path in &args.files {
        let bar = reporter.bar(&path.display().to_string());
        let uploaded = upload::upload_file(client, path, &options, &bar).await;
        bar.clear();
        match uploaded {
            Ok(report) => reporter.say(&line(&report, &report.words(), args.json)),
            Err(error) => {
                let error = CliError::File {
                    file: path.display().to_string(),
                    source: Box::new(error),
                };
                if total > 1 {
                    reporter.complain(&format!("ferry: {error}"));
                }
                failures.push(error);
            }
        }
    }
    match failures.len() {
        0 => Ok(()),
        1 if total == 1 => Err(failures.remove(0)),
        failed => Err(CliError::Several {
            failed,
            total,
            status: failures[0].status(),
        }),
    }
}

async fn download(client: &Client, args: DownloadArgs) -> Result<(), CliError> {
    let target = FileTarget::parse(&args.target, client)?;
    let options = DownloadOptions {
        output: args.output,
        parallel: usize::from(args.parallel),
        force: args.force,
    };
    let reporter = Reporter::new(shows_progress(args.json));
    let bar = reporter.bar(target.filename.as_deref().unwrap_or(&target.sha256));
    let downloaded = download::download(client, &target, &options, &bar).await;
    bar.clear();
    let report = downloaded?;
    reporter.say(&line(&report, &report.words(), args.json));
    Ok(())
}

async fn status(client: &Client, args: StatusArgs) -> Result<(), CliError> {
    let reporter = Reporter::new(shows_progress(args.json));
    let bar = reporter.bar(&args.target);
    let report = status::status(client, &args.target, &bar).await;
    bar.clear();
    let report = report?;
    reporter.say(&line(&report, &status::describe(&report), args.json));
    Ok(())
}

/// Bars only when stderr, where they are drawn, is a terminal, and never
/// with `--json`.
fn shows_progress(json: bool) -> bool {
    !json && std::io::stderr().is_terminal()
}

/// The JSON of `report`, or `words`.
fn line(report: &impl Serialize, words: &str, json: bool) -> String {
    if json {
        serde_json::to_string(report)
            .unwrap_or_else(|error| serde_json::json!({ "error": error.to_string() }).to_string())
    } else {
        words.to_owned()
    }
}
