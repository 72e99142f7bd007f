//! What can go wrong in a command, and the exit status each kind earns.

use std::io;
use std::path::Path;
use std::process::ExitCode;

use super::client::ClientError;

/// The exit statuses of `ferry`, as documented in `--help`.
pub const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  every file was transferred and verified
  1  a local problem: a file could not be read or written
  2  usage: bad arguments, server URL or token
  3  the server refused the request (its error code is shown)
  4  network or server failure that outlasted the retries
  5  verification failed: the bytes do not hash to their SHA-256";

/// A failed command: one line for a person, and an exit status for scripts.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line asks for something that cannot be done.
    #[error("{0}")]
    Usage(String),
    /// A request to the server failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Reading or writing a local file failed.
    #[error("{context}: {source}")]
    Local {
        /// What was being done, naming the file.
        context: String,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Bytes did not hash to the SHA-256 they were meant to have.
    #[error("{0}")]
    Integrity(String),
    /// The server did not finish in time; its work goes on without the command.
    #[error("{0}")]
    GaveUp(String),
    /// One file of several failed; the error is about it.
    #[error("{file}: {source}")]
    File {
        /// The file, as named on the command line.
        file: String,
        /// What went wrong with it.
        source: Box<CliError>,
    },
    /// Some of several files failed, each already reported.
    #[error("{failed} of {total} files failed")]
    Several {
        /// How many failed.
        failed: usize,
        /// How many were asked for.
        total: usize,
        /// The exit status of the first failure.
        status: u8,
    },
}

impl CliError {
    /// A local I/O failure while doing `what` to `path`.
    pub fn local(what: &str, path: &Path, source: io::Error) -> Self {
        CliError::Local {
            context: format!("{what} {}", path.display()),
            source,
        }
    }

    /// The exit status this failure earns (see [`EXIT_STATUS_HELP`]).
    pub fn status(&self) -> u8 {
        match self {
            CliError::Local { .. } => 1,
            CliError::Usage(_) => 2,
            CliError::Client(error) => match error {
                ClientError::Setup(_) => 2,
                ClientError::Refused { .. } => 3,
                ClientError::Server { .. }
                | ClientError::Network(_)
                | ClientError::Unexpected(_) => 4,
            },
            CliError::GaveUp(_) => 4,
            CliError::Integrity(_) => 5,
            CliError::File { source, .. } => source.status(),
            CliError::Several { status, .. } => *status,
        }
    }

    /// The process exit code for this failure.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.status())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proto::ErrorCode;

    fn refused(code: ErrorCode) -> CliError {
        CliError::Client(ClientError::Refused {
            status: reqwest::StatusCode::CONFLICT,
            code: Some(code),
            message: "no".to_owned(),
            retry_after: None,
        })
    }

    #[test]
    fn each_kind_of_failure_has_its_own_status() {
        let statuses = [
            CliError::local("reading", Path::new("a"), io::ErrorKind::NotFound.into()).status(),
            CliError::Usage("bad".into()).status(),
            refused(ErrorCode::SizeMismatch).status(),
            CliError::Client(ClientError::Network("reset".into())).status(),
            CliError::Integrity("bad bytes".into()).status(),
            CliError::GaveUp("still merging".into()).status(),
        ];
        assert_eq!(statuses, [1, 2, 3, 4, 5, 4]);
    }

    #[test]
    fn a_file_error_keeps_the_status_of_its_cause_and_names_the_file() {
        let error = CliError::File {
            file: "big.iso".into(),
            source: Box::new(refused(ErrorCode::FileTooLarge)),
        };
        assert_eq!(error.status(), 3);
        assert!(error.to_string().starts_with("big.iso: "));
    }

    #[test]
    fn the_help_lists_every_status() {
        for status in 0..=5 {
            assert!(EXIT_STATUS_HELP.contains(&format!("  {status}  ")));
        }
    }
}
