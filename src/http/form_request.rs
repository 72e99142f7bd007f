//! Forms as requests carry them: the boundary from the media type, small
//! text fields, and the answer to a form that could not be read.

use actix_web::HttpRequest;
use actix_web::http::header::CONTENT_TYPE;
use ferry_proto::ErrorCode;
use futures::StreamExt;

use super::form::{Form, FormFailure, PartContent, PartHead};
use super::incoming::{Body, BodyError, StallWatch, stalled};
use crate::error::ApiError;

/// Largest text field read.
const FIELD_LIMIT: usize = 1 << 10;

/// The `multipart/form-data` body of a request, read part by part.
pub(super) struct RequestForm {
    form: Form<Body>,
    watch: StallWatch,
    too_large: ErrorCode,
}

impl RequestForm {
    /// Opens the form `body` carries, at most `limit` bytes long; a longer
    /// one is answered with `too_large`. Any other media type is refused
    /// with 415.
    pub(super) fn open(
        request: &HttpRequest,
        body: Body,
        limit: u64,
        too_large: ErrorCode,
    ) -> Result<Self, ApiError> {
        let media_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<mime::Mime>().ok())
            .filter(|media_type| media_type.essence_str() == "multipart/form-data")
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    "the body must be multipart/form-data",
                )
            })?;
        let boundary = media_type.get_param(mime::BOUNDARY).ok_or_else(|| {
            ApiError::invalid("content-type", "a form needs a boundary parameter")
        })?;
        let watch = body.watch();
        let form = Form::new(body, boundary.as_str(), limit)
            .map_err(|error| ApiError::invalid("content-type", error.to_string()))?;
        Ok(RequestForm {
            form,
            watch,
            too_large,
        })
    }

    /// The next part's head, `None` after the last.
    pub(super) async fn next_part(&mut self) -> Result<Option<PartHead>, ApiError> {
        let too_large = self.too_large;
        self.form
            .next_part()
            .await
            .map_err(|failure| answer(failure, too_large))
    }

    /// The current part's content, as it arrives.
    pub(super) fn content(&mut self) -> PartContent<'_, Body> {
        self.form.content()
    }

    /// Reads the current part as a short UTF-8 text field named `name`.
    pub(super) async fn read_field(&mut self, name: &str) -> Result<String, ApiError> {
        let too_large = self.too_large;
        let mut text = Vec::new();
        let mut content = self.form.content();
        while let Some(piece) = content.next().await {
            let piece = piece.map_err(|failure| answer(failure, too_large))?;
            if text.len() + piece.len() > FIELD_LIMIT {
                return Err(ApiError::invalid(name, format!("{name} is too long")));
            }
            text.extend_from_slice(&piece);
        }
        String::from_utf8(text)
            .map_err(|_| ApiError::invalid(name, format!("{name} must be UTF-8")))
    }

    /// The answer to a failure of whatever read a part's content: the form's
    /// own reason when it had one (too long, stalled), else the failure.
    pub(super) fn explain(&self, failure: impl Into<ApiError>) -> ApiError {
        if self.form.was_cut() {
            return too_long(self.too_large, self.form.limit());
        }
        self.watch.explain(failure)
    }
}

/// The answer to a form that failed while it was read.
fn answer(failure: FormFailure<BodyError>, too_large: ErrorCode) -> ApiError {
    match failure {
        FormFailure::TooLarge { limit } => too_long(too_large, limit),
        FormFailure::Source(BodyError::Stalled(idle)) => stalled(idle),
        other => ApiError::invalid("body", other.to_string()),
    }
}

fn too_long(code: ErrorCode, limit: u64) -> ApiError {
    ApiError::new(code, format!("the form is longer than {limit} bytes"))
}
