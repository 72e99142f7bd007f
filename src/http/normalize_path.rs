//! Paths made canonical before routing: runs of slashes merged, trailing
//! slashes trimmed, so that `/v1/uploads/` reaches `/v1/uploads`. A path
//! that is canonical already, as nearly every one is, passes untouched.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse, Url};
use actix_web::http::Uri;
use actix_web::http::uri::PathAndQuery;
use actix_web::middleware::Next;

/// Rewrites the request's path to its canonical form, when it differs.
pub async fn normalize_path(
    mut request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(path) = canonical(request.path()) {
        let mut parts = request.head().uri.clone().into_parts();
        let rewritten = match parts.path_and_query.as_ref().and_then(|pq| pq.query()) {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        if let Ok(path_and_query) = PathAndQuery::try_from(rewritten)
            && let Ok(uri) = Uri::from_parts({
                parts.path_and_query = Some(path_and_query);
                parts
            })
        {
            request
                .match_info_mut()
                .update_with_reindex(Url::new(uri.clone()), |index| index);
            request.head_mut().uri = uri;
        }
    }
    next.call(request).await
}

/// `path` with runs of slashes merged and trailing slashes trimmed (`/`
/// when nothing is left), or `None` when that is `path` itself.
fn canonical(path: &str) -> Option<String> {
    let tidy = !path.contains("//") && (path == "/" || !path.ends_with('/'));
    if tidy || !path.starts_with('/') {
        return None;
    }
    let mut canonical = String::with_capacity(path.len());
    for segment in path.split('/').filter(|segment| !segment.is_empty()) {
        canonical.push('/');
        canonical.push_str(segment);
    }
    if canonical.is_empty() {
        canonical.push('/');
    }
    (canonical != path).then_some(canonical)
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn slashes_are_merged_and_trimmed_and_a_canonical_path_is_left_alone() {
        for (path, expected) in [
            ("/v1/uploads/", Some("/v1/uploads")),
            ("/v1//files///abc", Some("/v1/files/abc")),
            ("//", Some("/")),
            ("/a//", Some("/a")),
            ("/", None),
            ("/v1/uploads", None),
            ("*", None),
        ] {
            assert_eq!(canonical(path).as_deref(), expected, "{path}");
        }
    }
}
