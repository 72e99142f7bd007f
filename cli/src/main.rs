//! `ferry`: the command-line client. Exit statuses are listed in `--help`.

use std::process::ExitCode;

use clap::Parser;
use ferry_cli::{Cli, run};

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ferry: {error}");
            error.exit_code()
        }
    }
}
