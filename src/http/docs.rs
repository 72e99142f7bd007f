//! The OpenAPI document of the API, served as written in `docs/openapi.yaml`.

use actix_web::{HttpResponse, web};

use super::resource;

/// The OpenAPI 3.1 document, embedded at build time.
const OPENAPI: &str = include_str!("../../docs/openapi.yaml");

/// Registers `GET /v1/openapi.yaml`.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/openapi.yaml", "GET").route(web::get().to(openapi)));
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(OPENAPI)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proto::ErrorCode;

    #[test]
    fn every_error_code_is_listed_in_the_openapi_document() {
        for code in ErrorCode::ALL {
            assert!(
                OPENAPI.contains(&format!("- {code}\n")),
                "{code} is not documented"
            );
        }
    }

    #[test]
    fn every_route_is_described_in_the_openapi_document() {
        for path in [
            "/v1/uploads:",
            "/v1/uploads/{sha256}:",
            "/v1/uploads/{sha256}/chunks/{index}:",
            "/v1/uploads/{sha256}/complete:",
            "/v1/files:",
            "/v1/files/{sha256}:",
            "/v1/files/{sha256}/{filename}:",
            "/healthz:",
            "/readyz:",
        ] {
            assert!(
                OPENAPI.contains(&format!("\n  {path}\n")),
                "{path} is not documented"
            );
        }
    }
}
