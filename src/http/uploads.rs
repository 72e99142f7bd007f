//! Upload sessions: create or resume, progress, complete, abort.

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use ferry_proto::ErrorCode;
use serde_json::{Map, Value};

use super::body::{path_hash, read_small};
use super::incoming::Body;
use super::json_object::JsonObject;
use super::{Owner, now, resource};
use ferry_proto::CreateUpload;

use crate::error::ApiError;
use crate::upload::{Completion, Created, Uploads};

/// Largest create body accepted.
const CREATE_BODY_LIMIT: usize = 16 << 10;
const CREATE_FIELDS: [&str; 6] = [
    "sha256",
    "size",
    "chunk_size",
    "filename",
    "content_type",
    "proof",
];

/// Registers the session routes.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/uploads", "POST").route(web::post().to(create)))
        .service(
            resource("/v1/uploads/{sha256}", "GET, DELETE")
                .route(web::get().to(progress))
                .route(web::delete().to(abort)),
        )
        .service(resource("/v1/uploads/{sha256}/complete", "POST").route(web::post().to(complete)));
}

#[tracing::instrument(skip_all)]
async fn create(
    owner: Owner,
    http_request: HttpRequest,
    body: Body,
    uploads: web::Data<Uploads>,
) -> Result<HttpResponse, ApiError> {
    require_json(&http_request)?;
    let body = read_small(body, CREATE_BODY_LIMIT).await?;
    let request = parse_create(&body)?;
    let client_address = http_request.peer_addr().map(|peer| peer.ip());
    let (created, upload) = uploads
        .create(owner.id(), request, now(), client_address)
        .await?;
    let status = match created {
        Created::New => StatusCode::CREATED,
        Created::Existing => StatusCode::OK,
    };
    Ok(HttpResponse::build(status).json(upload))
}

async fn progress(
    owner: Owner,
    path: web::Path<String>,
    uploads: web::Data<Uploads>,
) -> Result<HttpResponse, ApiError> {
    let sha256 = path_hash(&path)?;
    let upload = uploads.progress(owner.id(), &sha256, now()).await?;
    Ok(HttpResponse::Ok().json(upload))
}

async fn complete(
    owner: Owner,
    path: web::Path<String>,
    uploads: web::Data<Uploads>,
) -> Result<HttpResponse, ApiError> {
    let sha256 = path_hash(&path)?;
    match uploads.complete(owner.id(), &sha256, now()).await? {
        Completion::Done(upload) => Ok(HttpResponse::Ok().json(upload)),
        Completion::Pending(upload) => Ok(HttpResponse::Accepted().json(upload)),
    }
}

async fn abort(
    owner: Owner,
    path: web::Path<String>,
    uploads: web::Data<Uploads>,
) -> Result<HttpResponse, ApiError> {
    let sha256 = path_hash(&path)?;
    uploads.abort(owner.id(), &sha256).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Refuses a body that is not declared `application/json`: a page on
/// another site can send `text/plain` or a form without asking, but not JSON.
fn require_json(request: &HttpRequest) -> Result<(), ApiError> {
    let declared = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<mime_guess::mime::Mime>().ok());
    match declared {
        Some(media) if media.essence_str() == "application/json" => Ok(()),
        _ => Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "the body must be application/json",
        )),
    }
}

/// Reads the create body field by field, so that an error names its field.
fn parse_create(body: &[u8]) -> Result<CreateUpload, ApiError> {
    let JsonObject(fields) = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("body", format!("the body must be one JSON object: {e}")))?;
    if let Some(unknown) = fields
        .keys()
        .find(|key| !CREATE_FIELDS.contains(&key.as_str()))
    {
        return Err(ApiError::invalid(
            unknown,
            format!("unknown field {unknown:?}"),
        ));
    }
    let sha256 = optional_text(&fields, "sha256")?
        .ok_or_else(|| ApiError::invalid("sha256", "sha256 is required"))?;
    let size = optional_count(&fields, "size")?
        .ok_or_else(|| ApiError::invalid("size", "size is required"))?;
    Ok(CreateUpload {
        sha256,
        size,
        chunk_size: optional_count(&fields, "chunk_size")?,
        filename: optional_text(&fields, "filename")?,
        content_type: optional_text(&fields, "content_type")?,
        proof: optional_text(&fields, "proof")?,
    })
}

fn optional_text(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(ApiError::invalid(name, format!("{name} must be a string"))),
    }
}

fn optional_count(fields: &Map<String, Value>, name: &str) -> Result<Option<u64>, ApiError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => whole_number(value).map(Some).ok_or_else(|| {
            ApiError::invalid(
                name,
                format!("{name} must be a whole number of bytes below 2^64"),
            )
        }),
    }
}

/// A JSON number without a fractional part below 2^64, as JSON Schema's
/// `integer` reads it: `524289`, `524289.0` and `5.24289e5` alike.
fn whole_number(value: &Value) -> Option<u64> {
    if let Some(whole) = value.as_u64() {
        return Some(whole);
    }
    let number = value.as_f64()?;
    let below_2_pow_64 = u64::MAX as f64;
    (number.fract() == 0.0 && (0.0..below_2_pow_64).contains(&number)).then_some(number as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(body: &str) -> String {
        let error = parse_create(body.as_bytes()).unwrap_err();
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        format!("{error:?}")
    }

    #[test]
    fn a_negative_size_is_refused_naming_size() {
        assert!(field_of(r#"{"sha256":"x","size":-1}"#).contains("\"size\""));
    }

    #[test]
    fn a_size_written_with_a_zero_fraction_is_the_whole_number_it_is() {
        for (written, size) in [("524289.0", 524_289), ("5.24289e5", 524_289), ("-0.0", 0)] {
            let body = format!(r#"{{"sha256":"x","size":{written},"chunk_size":1024.0}}"#);
            let request = parse_create(body.as_bytes()).unwrap();
            assert_eq!(request.size, size, "{written}");
            assert_eq!(request.chunk_size, Some(1024));
        }
    }

    #[test]
    fn a_size_of_2_pow_64_or_more_is_refused_however_written() {
        for written in ["18446744073709551616", "1.8446744073709552e19", "1e30"] {
            let body = format!(r#"{{"sha256":"x","size":{written}}}"#);
            assert!(field_of(&body).contains("\"size\""), "{written}");
        }
        let largest = parse_create(br#"{"sha256":"x","size":18446744073709551615}"#).unwrap();
        assert_eq!(largest.size, u64::MAX);
    }

    #[test]
    fn a_size_with_a_fraction_is_refused_naming_size() {
        for written in ["0.5", "524289.25", "-1.0", "-1e3"] {
            let body = format!(r#"{{"sha256":"x","size":{written}}}"#);
            assert!(field_of(&body).contains("\"size\""), "{written}");
        }
    }

    #[test]
    fn a_missing_sha256_is_refused_naming_sha256() {
        assert!(field_of(r#"{"size":1}"#).contains("\"sha256\""));
    }

    #[test]
    fn an_unknown_field_is_refused_naming_it() {
        assert!(field_of(r#"{"sha256":"x","size":1,"colour":"red"}"#).contains("\"colour\""));
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused() {
        assert!(field_of("[1,2]").contains("\"body\""));
        assert!(field_of("not json").contains("\"body\""));
    }

    #[test]
    fn a_field_given_twice_is_refused() {
        assert!(field_of(r#"{"sha256":"x","size":1,"size":2}"#).contains("appears twice"));
    }

    mod properties {
        use proptest::prelude::*;
        use serde_json::json;

        use super::*;

        /// A JSON scalar of any kind, as a hostile client may put anywhere.
        fn scalar() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>().prop_map(|f| json!(f)),
                "\\PC{0,70}".prop_map(Value::from),
            ]
        }

        proptest! {
            #[test]
            fn any_bytes_parse_or_are_refused_as_a_bad_request(
                body in proptest::collection::vec(any::<u8>(), 0..512),
            ) {
                if let Err(error) = parse_create(&body) {
                    prop_assert_eq!(error.status(), StatusCode::BAD_REQUEST);
                }
            }

            #[test]
            fn any_object_of_scalars_parses_or_is_refused_as_a_bad_request(
                members in proptest::collection::vec(
                    (prop_oneof![
                        proptest::sample::select(CREATE_FIELDS.to_vec()).prop_map(str::to_owned),
                        "[a-z_]{1,12}",
                    ], scalar()),
                    0..8,
                ),
            ) {
                let mut text = String::from("{");
                for (at, (key, value)) in members.iter().enumerate() {
                    if at > 0 {
                        text.push(',');
                    }
                    text.push_str(&format!("{}:{value}", Value::from(key.as_str())));
                }
                text.push('}');
                if let Err(error) = parse_create(text.as_bytes()) {
                    prop_assert_eq!(error.status(), StatusCode::BAD_REQUEST);
                }
            }

            #[test]
            fn a_valid_body_reads_back_as_written(
                sha256 in "[0-9a-fA-F]{64}",
                size in any::<u64>(),
                chunk_size in proptest::option::of(any::<u64>()),
                filename in proptest::option::of("\\PC{1,40}"),
                content_type in proptest::option::of("[a-z]{1,10}/[a-z0-9.+-]{1,20}"),
                proof in proptest::option::of("[0-9a-f]{64}"),
            ) {
                let body = json!({
                    "sha256": sha256,
                    "size": size,
                    "chunk_size": chunk_size,
                    "filename": filename,
                    "content_type": content_type,
                    "proof": proof,
                });
                let request = parse_create(body.to_string().as_bytes()).unwrap();
                prop_assert_eq!(request.sha256, sha256);
                prop_assert_eq!(request.size, size);
                prop_assert_eq!(request.chunk_size, chunk_size);
                prop_assert_eq!(request.filename, filename);
                prop_assert_eq!(request.content_type, content_type);
                prop_assert_eq!(request.proof, proof);
            }
        }
    }

    #[test]
    fn null_optional_fields_are_absent() {
        let body = r#"{"sha256":"x","size":5,"chunk_size":null,"filename":null}"#;
        let request = parse_create(body.as_bytes()).unwrap();
        assert_eq!(request.chunk_size, None);
        assert_eq!(request.filename, None);
    }
}
