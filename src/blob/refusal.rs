//! Telling a store's refusals, which asking again does not mend, from
//! failures that may pass.

/// Whether a store's failure, as its chain of causes tells, is one that
/// asking again does not mend: a file-system refusal, or a client error
/// (4xx) answered by a bucket, which `object_store` reports only as text.
pub(super) fn refused_by_the_store(error: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind;
    let mut cause = Some(error);
    while let Some(error) = cause {
        let io_kind = error.downcast_ref::<std::io::Error>().map(|io| io.kind());
        if matches!(
            io_kind,
            Some(
                ErrorKind::CrossesDevices
                    | ErrorKind::PermissionDenied
                    | ErrorKind::ReadOnlyFilesystem
                    | ErrorKind::Unsupported
                    | ErrorKind::FileTooLarge
                    | ErrorKind::InvalidInput
            )
        ) {
            return true;
        }
        if let Some(status) = client_error_status(&error.to_string()) {
            return status != 408 && status != 429;
        }
        cause = error.source();
    }
    false
}

/// The 4xx status a bucket's answer named, from `object_store`'s text of it.
fn client_error_status(text: &str) -> Option<u16> {
    let (_, after) = text.split_once("non-2xx status code: ")?;
    let status: u16 = after.get(..3)?.parse().ok()?;
    (400..500).contains(&status).then_some(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_across_file_systems_is_a_refusal() {
        let error = std::io::Error::from(std::io::ErrorKind::CrossesDevices);
        assert!(refused_by_the_store(&error));
    }

    #[test]
    fn a_bucket_refuses_with_a_4xx_but_a_timeout_or_a_slow_down() {
        let answer = |status: &str| {
            std::io::Error::other(format!(
                "Server returned non-2xx status code: {status}: body"
            ))
        };
        assert!(refused_by_the_store(&answer("400 Bad Request")));
        assert!(!refused_by_the_store(&answer("429 Too Many Requests")));
        assert!(!refused_by_the_store(&answer("408 Request Timeout")));
        assert!(!refused_by_the_store(&answer("500 Internal Server Error")));
    }

    #[test]
    fn a_reset_connection_is_no_refusal() {
        let error = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(!refused_by_the_store(&error));
    }
}
