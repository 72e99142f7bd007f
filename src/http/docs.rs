//! The OpenAPI document of the API, served as written in `docs/openapi.yaml`
//! with the bounds of this server's limits in place of the defaults
//! (`tests/openapi.rs` holds it to the code, `scripts/api-fuzz.sh` to the
//! running server).

use actix_web::{HttpResponse, web};

use super::resource;
use crate::upload::{Limits, Uploads};

/// The OpenAPI 3.1 document, embedded at build time.
const OPENAPI: &str = include_str!("../../docs/openapi.yaml");

/// The document's bound on a file's size, at the default limit.
const FILE_SIZE_BOUND: &str = "maximum: 107374182400\n";
/// The document's bound on a chunk index, at the default limit.
const CHUNK_INDEX_BOUND: &str = "maximum: 9999 }";
/// The document's bound on a one-request upload, at the default limit.
const DIRECT_UPLOAD_BOUND: &str = "maxLength: 16777216 }";
/// The document's bound on the file of a one-request form, at the default limit.
const FORM_FILE_BOUND: &str = "maxLength: 16777216, ";

/// Registers `GET /v1/openapi.yaml`.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/openapi.yaml", "GET").route(web::get().to(openapi)));
}

async fn openapi(uploads: web::Data<Uploads>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(document(uploads.limits()))
}

/// The document with the bounds `limits` set.
fn document(limits: &Limits) -> String {
    OPENAPI
        .replacen(
            FILE_SIZE_BOUND,
            &format!("maximum: {}\n", limits.max_file_size),
            1,
        )
        .replacen(
            CHUNK_INDEX_BOUND,
            &format!("maximum: {} }}", limits.max_chunks.saturating_sub(1)),
            1,
        )
        .replacen(
            DIRECT_UPLOAD_BOUND,
            &format!("maxLength: {} }}", limits.direct_upload_max),
            1,
        )
        .replacen(
            FORM_FILE_BOUND,
            &format!("maxLength: {}, ", limits.direct_upload_max),
            1,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_file_size: 1 << 30,
            min_chunk_size: 1 << 10,
            max_chunk_size: 8 << 20,
            default_chunk_size: 1 << 20,
            max_chunks: 500,
            direct_upload_max: 1 << 20,
        }
    }

    #[test]
    fn each_default_bound_appears_once_in_the_document() {
        for bound in [
            FILE_SIZE_BOUND,
            CHUNK_INDEX_BOUND,
            DIRECT_UPLOAD_BOUND,
            FORM_FILE_BOUND,
        ] {
            assert_eq!(OPENAPI.matches(bound).count(), 1, "{bound:?}");
        }
    }

    #[test]
    fn the_served_document_carries_this_servers_bounds() {
        let served = document(&limits());
        assert!(served.contains("maximum: 1073741824\n"));
        assert!(served.contains("maximum: 499 }"));
        assert!(served.contains("maxLength: 1048576 }"));
        assert!(served.contains("maxLength: 1048576, "));
        for bound in [
            FILE_SIZE_BOUND,
            CHUNK_INDEX_BOUND,
            DIRECT_UPLOAD_BOUND,
            FORM_FILE_BOUND,
        ] {
            assert!(!served.contains(bound), "{bound:?} is still there");
        }
    }
}
