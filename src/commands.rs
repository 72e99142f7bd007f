//! What `ferryd` can be asked besides serving: print a token for an owner,
//! or a signed download link, with the keys the settings name.

use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::{Parser, Subcommand};
use ferry_proto::parse_duration;
use secrecy::ExposeSecret;

use crate::access::{LinkSigner, issue_hs256};
use crate::config::Settings;
use crate::ids::OwnerId;

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
}

/// Runs `command`, printing its result on standard output.
pub fn run(command: &Command, settings: &Settings) -> anyhow::Result<()> {
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
    }
    Ok(())
}
