//! Telling a store's refusals, which asking again does not mend, from
//! failures that may pass.

/// Whether a store's failure, as its chain of causes tells, is one that
/// asking again does not mend: a file-system refusal, or a client error
/// (4xx) answered by a bucket, which `object_store` reports only as text.
pub(super) fn refused_by_the_store(error: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind;
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                ErrorKind::CrossesDevices
                    | ErrorKind::PermissionDenied
                    | ErrorKind::ReadOnlyFilesystem
                    | ErrorKind::Unsupported
                    | ErrorKind::FileTooLarge
                    | ErrorKind::InvalidInput
            );
        }
        if error.to_string().contains("non-2xx status code: 4") {
            return true;
        }
        cause = error.source();
    }
    false
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
    fn a_reset_connection_is_no_refusal() {
        let error = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(!refused_by_the_store(&error));
    }
}
