//! Cross-origin access for browser clients on other origins: off unless
//! origins are configured, and then exactly the methods and headers the
//! API uses.

use actix_cors::Cors;
use actix_web::middleware::Condition;

/// Request headers a browser client may send.
const REQUEST_HEADERS: [&str; 25] = [
    "authorization",
    "content-type",
    "content-digest",
    "x-chunk-sha256",
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    "x-request-id",
    "tus-resumable",
    "upload-length",
    "upload-defer-length",
    "upload-offset",
    "upload-metadata",
    "upload-checksum",
    "upload-concat",
    "upload-complete",
    "upload-draft-interop-version",
    "upload-incomplete",
    "repr-digest",
    "x-http-method-override",
    "want-repr-digest",
    "content-location",
];

/// Response headers a browser client may read.
const EXPOSED_HEADERS: [&str; 27] = [
    "accept-ranges",
    "content-disposition",
    "content-length",
    "content-range",
    "etag",
    "last-modified",
    "location",
    "repr-digest",
    "retry-after",
    "www-authenticate",
    "allow",
    "x-request-id",
    "content-location",
    "upload-offset",
    "upload-length",
    "upload-defer-length",
    "upload-metadata",
    "upload-expires",
    "upload-concat",
    "upload-complete",
    "upload-limit",
    "upload-draft-interop-version",
    "tus-version",
    "tus-resumable",
    "tus-max-size",
    "tus-extension",
    "tus-checksum-algorithm",
];

/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: usize = 3600;

/// The CORS policy for `origins` (`*` for any); no policy, and so no
/// cross-origin reads, when there are none.
pub fn cors(origins: &[String]) -> Condition<Cors> {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"])
        .allowed_headers(REQUEST_HEADERS)
        .expose_headers(EXPOSED_HEADERS)
        .max_age(PREFLIGHT_MAX_AGE);
    if origins.iter().any(|origin| origin == "*") {
        cors = cors.allow_any_origin().send_wildcard();
    } else {
        for origin in origins {
            cors = cors.allowed_origin(origin);
        }
    }
    Condition::new(!origins.is_empty(), cors)
}
