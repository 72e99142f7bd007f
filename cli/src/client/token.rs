//! The bearer token: the header it travels in, and the rule that it never
//! crosses a network in the clear. Over plain `http` it goes only to a
//! loopback server, unless the user says the network is trusted.

use std::net::IpAddr;

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use url::{Host, Url};

use super::ClientError;

/// The `Authorization` value for `token`, to be sent to the server at
/// `base`, marked sensitive so that it is never printed. Refused when
/// `base` is plain `http` to a host that is not loopback, unless
/// `allow_plain_http`.
pub(super) fn bearer(
    base: &Url,
    token: &SecretString,
    allow_plain_http: bool,
) -> Result<HeaderValue, ClientError> {
    if base.scheme() == "http" && !is_loopback(base) && !allow_plain_http {
        return Err(ClientError::Setup(format!(
            "refusing to send the token over plain http to {}: anyone on the way could \
             read it; use an https:// server, or give --allow-insecure-token if the \
             network is trusted",
            base.host_str().unwrap_or("the server")
        )));
    }
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
        .map_err(|_| ClientError::Setup("the token has characters a header cannot hold".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Whether `url` names this machine: `localhost`, `127.0.0.0/8` or `::1`.
pub(super) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(Host::Ipv4(address)) => IpAddr::V4(address).is_loopback(),
        Some(Host::Ipv6(address)) => IpAddr::V6(address).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("url")
    }

    fn token() -> SecretString {
        SecretString::from("s3cret".to_owned())
    }

    #[test]
    fn loopback_names_and_addresses_are_this_machine() {
        for text in [
            "http://localhost:8080",
            "http://LOCALHOST",
            "http://api.localhost",
            "http://127.0.0.1",
            "http://127.9.9.9:1",
            "http://[::1]:8080",
        ] {
            assert!(is_loopback(&url(text)), "{text}");
        }
        for text in [
            "http://10.255.255.1:1",
            "http://files.example",
            "http://localhost.example",
            "http://[::2]",
            "http://0.0.0.0",
        ] {
            assert!(!is_loopback(&url(text)), "{text}");
        }
    }

    #[test]
    fn the_token_goes_over_https_anywhere_and_over_http_to_loopback_only() {
        assert!(bearer(&url("https://files.example"), &token(), false).is_ok());
        assert!(bearer(&url("http://127.0.0.1:8080"), &token(), false).is_ok());
        let refused = bearer(&url("http://10.255.255.1:1"), &token(), false)
            .expect_err("plain http to another host");
        let message = refused.to_string();
        assert!(
            message.contains("10.255.255.1") && message.contains("--allow-insecure-token"),
            "{message}"
        );
        assert!(!message.contains("s3cret"), "{message}");
        assert!(bearer(&url("http://10.255.255.1:1"), &token(), true).is_ok());
    }

    #[test]
    fn the_header_is_sensitive() {
        let value = bearer(&url("https://h"), &token(), false).expect("header");
        assert!(value.is_sensitive());
        assert_eq!(value.to_str().ok(), Some("Bearer s3cret"));
    }
}
