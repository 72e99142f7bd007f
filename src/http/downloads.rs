//! Downloads of published files, as the origin behind a CDN: exact ranges,
//! conditional requests and immutable caching, streamed from the store.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use actix_web::body::SizedStream;
use actix_web::http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_RANGE, CONTENT_SECURITY_POLICY,
    CONTENT_TYPE, ETAG, HeaderName, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE,
    IF_UNMODIFIED_SINCE, LAST_MODIFIED, LOCATION, RANGE, X_CONTENT_TYPE_OPTIONS,
};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Deserialize;

use ferry_proto::{ErrorCode, FileName};

use super::body::{path_hash, utf8_target};
use crate::access::{LinkSigner, SignedQuery};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::range::{
    ByteRange, Conditions, Decision, MultipartLayout, Validators, evaluate, format_http_date,
    multipart_content_type, multipart_layout, unsatisfied_content_range,
};
use crate::upload::{ByteStream, Download, UploadError, Uploads};

/// Published content never changes, so it may be cached for a year.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A redirect to a presigned URL holds only for a while: never cached.
const NO_STORE: &str = "no-store";

/// Sent with every download: whatever an uploader put in a file, it must
/// not act on the origin's or the CDN's domain.
const SANDBOX_POLICY: &str = "sandbox; default-src 'none'";

/// Media types a browser may show inline: pictures, sound, video, plain
/// text and PDF. Anything else (pages, SVG, scripts, unknown types) is
/// always an attachment.
const INLINE_TYPES: [&str; 9] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "text/plain",
    "application/pdf",
    "video/",
    "audio/",
];

/// Whether a media type is one a browser may show inline.
fn may_show_inline(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    INLINE_TYPES
        .iter()
        .any(|allowed| match allowed.strip_suffix('/') {
            Some(family) => essence.split('/').next() == Some(family) && essence.contains('/'),
            None => essence == *allowed,
        })
}

/// Who may download (anyone, or holders of a signed link), and whether a
/// GET of a file kept as one object in a bucket is redirected to it.
#[derive(Debug)]
pub struct DownloadGate {
    signer: Option<LinkSigner>,
    redirect_ttl: Option<Duration>,
}

impl DownloadGate {
    /// Downloads need a link signed by `signer`, or, without one, are public.
    pub fn new(signer: Option<LinkSigner>) -> Self {
        DownloadGate {
            signer,
            redirect_ttl: None,
        }
    }

    /// GETs of files kept as one object in a bucket answered by a redirect
    /// to a presigned URL of it that holds for `ttl`; `None`: streamed.
    pub fn redirecting(mut self, ttl: Option<Duration>) -> Self {
        self.redirect_ttl = ttl;
        self
    }

    fn check(
        &self,
        request: &HttpRequest,
        query: &DownloadQuery,
        metrics: &Metrics,
    ) -> Result<(), ApiError> {
        let Some(signer) = &self.signer else {
            return Ok(());
        };
        let signed = SignedQuery {
            expires: query.expires.as_deref(),
            signature: query.signature.as_deref(),
            auth_key: query.auth_key.as_deref(),
        };
        signer
            .verify(request.path(), &signed, SystemTime::now())
            .map_err(|refusal| {
                tracing::info!(reason = refusal.reason(), "download link refused");
                metrics.auth_refused("link", refusal.reason());
                ApiError::new(ErrorCode::Forbidden, refusal.to_string())
            })
    }
}

/// The route's path: a hash, and optionally the name to save the file as.
#[derive(Debug, Deserialize)]
pub(super) struct FilePath {
    sha256: String,
    filename: Option<String>,
}

/// `?inline=1` asks for `Content-Disposition: inline`; the rest signs the link.
#[derive(Debug, Deserialize)]
pub(super) struct DownloadQuery {
    inline: Option<String>,
    expires: Option<String>,
    signature: Option<String>,
    auth_key: Option<String>,
}

/// The name the path asks the file to be saved as, held to the rules of
/// upload names.
fn requested_name(decoded: Option<&str>) -> Result<Option<FileName>, ApiError> {
    decoded
        .filter(|name| !name.is_empty())
        .map(FileName::parse)
        .transpose()
        .map_err(|e| ApiError::invalid("filename", format!("the filename {e}")))
}

/// Answers GET and HEAD on `/v1/files/{sha256}` and `/v1/files/{sha256}/{filename}`.
#[tracing::instrument(skip_all, fields(sha256 = %path.sha256))]
pub(super) async fn download(
    path: web::Path<FilePath>,
    query: web::Query<DownloadQuery>,
    request: HttpRequest,
    uploads: web::Data<Uploads>,
    gate: web::Data<DownloadGate>,
) -> Result<HttpResponse, ApiError> {
    utf8_target(&request)?;
    let sha256 = path_hash(&path.sha256)?;
    let filename = requested_name(path.filename.as_deref())?;
    gate.check(&request, &query, uploads.metrics())?;
    let file = uploads.open_file(&sha256).await?;
    let etag = file.sha256().to_hex();
    let last_modified = SystemTime::from(file.published_at());
    let size = file.size();
    let validators = Validators {
        etag: &etag,
        last_modified,
        length: size,
    };
    let headers = RequestHeaders::read(&request);
    let decision = evaluate(&headers.conditions(&request), &validators);
    let filename = filename.as_ref().map(FileName::as_str);
    let inline = query
        .inline
        .as_deref()
        .is_some_and(|v| v == "1" || v == "true");
    let content_type = file.content_type(filename);
    let shown_inline = may_show_inline(&content_type);
    let answer = |status: StatusCode| {
        let mut builder = HttpResponse::build(status);
        builder
            .insert_header((ETAG, format!("\"{etag}\"")))
            .insert_header((LAST_MODIFIED, format_http_date(last_modified)))
            .insert_header((CACHE_CONTROL, IMMUTABLE))
            .insert_header((ACCEPT_RANGES, "bytes"))
            .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((CONTENT_SECURITY_POLICY, SANDBOX_POLICY));
        if !shown_inline {
            let disposition = match filename {
                Some(name) => content_disposition(name, false),
                None => "attachment".to_owned(),
            };
            builder.insert_header((CONTENT_DISPOSITION, disposition));
        } else if let Some(name) = filename {
            builder.insert_header((CONTENT_DISPOSITION, content_disposition(name, inline)));
        }
        builder
    };
    let is_head = request.method() == Method::HEAD;
    if let (Decision::Full | Decision::Partial(_), false, Some(ttl)) =
        (&decision, is_head, gate.redirect_ttl)
        && let Some(url) = file.presigned_url(ttl).await?
    {
        return Ok(HttpResponse::TemporaryRedirect()
            .insert_header((LOCATION, url.as_str()))
            .insert_header((CACHE_CONTROL, NO_STORE))
            .finish());
    }
    Ok(match decision {
        Decision::Full => {
            let body = read_range(&file, None, is_head).await?;
            sized(
                answer(StatusCode::OK).insert_header((CONTENT_TYPE, content_type)),
                size,
                body,
            )
        }
        Decision::Partial(range) => {
            uploads.metrics().range_request();
            let body = read_range(&file, Some(range), is_head).await?;
            sized(
                answer(StatusCode::PARTIAL_CONTENT)
                    .insert_header((CONTENT_TYPE, content_type))
                    .insert_header((CONTENT_RANGE, range.content_range(size))),
                range.len(),
                body,
            )
        }
        Decision::MultiPart(ranges) => {
            uploads.metrics().range_request();
            let boundary = uuid::Uuid::new_v4().simple().to_string();
            let layout = multipart_layout(&ranges, &content_type, size, &boundary);
            let length = layout.content_length;
            file.check_stored().await?;
            let body = if is_head {
                stream::empty().boxed()
            } else {
                multipart_body(file, layout)
            };
            sized(
                answer(StatusCode::PARTIAL_CONTENT)
                    .insert_header((CONTENT_TYPE, multipart_content_type(&boundary))),
                length,
                body,
            )
        }
        Decision::NotModified => answer(StatusCode::NOT_MODIFIED).finish(),
        Decision::PreconditionFailed => {
            return Err(ApiError::new(
                ErrorCode::PreconditionFailed,
                "a precondition of the request does not hold for this file",
            ));
        }
        Decision::NotSatisfiable => {
            return Err(ApiError::new(
                ErrorCode::RangeNotSatisfiable,
                "no requested range lies within the file",
            )
            .with_header(CONTENT_RANGE, unsatisfied_content_range(size)));
        }
    })
}

/// Header values as the range module reads them: several instances of one
/// header joined with ", ".
struct RequestHeaders {
    values: Vec<(HeaderName, Option<String>)>,
}

impl RequestHeaders {
    fn read(request: &HttpRequest) -> Self {
        let names = [
            IF_MATCH,
            IF_NONE_MATCH,
            IF_MODIFIED_SINCE,
            IF_UNMODIFIED_SINCE,
            IF_RANGE,
            RANGE,
        ];
        let values = names
            .into_iter()
            .map(|name| {
                // Lossy, not `to_str().ok()`: a validator with obs-text bytes
                // is present and never matches, rather than absent.
                let joined: Vec<Cow<'_, str>> = request
                    .headers()
                    .get_all(&name)
                    .map(|value| String::from_utf8_lossy(value.as_bytes()))
                    .collect();
                let value = (!joined.is_empty()).then(|| joined.join(", "));
                (name, value)
            })
            .collect();
        RequestHeaders { values }
    }

    fn get(&self, name: &HeaderName) -> Option<&str> {
        self.values
            .iter()
            .find(|(known, _)| known == name)
            .and_then(|(_, value)| value.as_deref())
    }

    fn conditions(&self, request: &HttpRequest) -> Conditions<'_> {
        Conditions {
            is_head: request.method() == Method::HEAD,
            if_match: self.get(&IF_MATCH),
            if_none_match: self.get(&IF_NONE_MATCH),
            if_modified_since: self.get(&IF_MODIFIED_SINCE),
            if_unmodified_since: self.get(&IF_UNMODIFIED_SINCE),
            if_range: self.get(&IF_RANGE),
            range: self.get(&RANGE),
        }
    }
}

type Body = ByteStream;

/// Largest piece handed to actix at once. Its HTTP/1 encoder copies every
/// piece into its write buffer, and some stores (the in-memory one) yield a
/// whole range as one piece: cutting it (without copying) keeps that buffer
/// small whatever the range's length.
const MAX_PIECE: usize = 64 << 10;

/// A response with an exact Content-Length and a streamed body: never
/// chunked, and a body that ends early fails the connection instead of
/// passing for complete.
fn sized(builder: &mut HttpResponseBuilder, length: u64, body: Body) -> HttpResponse {
    builder.body(SizedStream::new(length, bounded_pieces(body, MAX_PIECE)))
}

/// The same bytes, cut into pieces of at most `max` bytes (views, not copies).
fn bounded_pieces(body: Body, max: usize) -> Body {
    body.flat_map(move |piece| match piece {
        Ok(bytes) if bytes.len() > max => {
            let pieces = stream::unfold(bytes, move |mut rest| async move {
                (!rest.is_empty()).then(|| {
                    let piece = rest.split_to(rest.len().min(max));
                    (Ok(piece), rest)
                })
            });
            pieces.boxed()
        }
        other => stream::once(async { other }).boxed(),
    })
    .boxed()
}

async fn read_range(
    file: &Download,
    range: Option<ByteRange>,
    is_head: bool,
) -> Result<Body, ApiError> {
    if is_head {
        file.check_stored().await?;
        return Ok(stream::empty().boxed());
    }
    let bounds = range.map(|range| range.start..range.end + 1);
    Ok(file.read(bounds).await?)
}

/// Streams the parts of a multipart/byteranges body, opening each range of
/// the store only when the client has taken the part before it.
fn multipart_body(file: Download, layout: MultipartLayout) -> Body {
    let epilogue = Bytes::from(layout.epilogue);
    stream::iter(layout.parts)
        .then(move |(preamble, range)| {
            let file = file.clone();
            async move {
                let bytes = file.read(Some(range.start..range.end + 1)).await?;
                Ok::<_, UploadError>(stream::once(async { Ok(Bytes::from(preamble)) }).chain(bytes))
            }
        })
        .try_flatten()
        .chain(stream::once(async move { Ok(epilogue) }))
        .boxed()
}

/// `attachment` (or `inline`) with an ASCII fallback name and the exact
/// UTF-8 name (RFC 6266, RFC 5987). The fallback has no `%`, which some
/// agents would take for an escape (RFC 6266 appendix D).
fn content_disposition(name: &str, inline: bool) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(name, ATTR_CHAR);
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// Characters escaped in an RFC 5987 `ext-value` (everything but `attr-char`).
const ATTR_CHAR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chinese_filename_gets_an_ascii_fallback_and_an_exact_utf8_name() {
        assert_eq!(
            content_disposition("课程 第1讲.mp4", false),
            "attachment; filename=\"__ _1_.mp4\"; \
             filename*=UTF-8''%E8%AF%BE%E7%A8%8B%20%E7%AC%AC1%E8%AE%B2.mp4"
        );
    }

    #[test]
    fn only_pictures_sound_video_text_and_pdf_may_show_inline() {
        for active in [
            "text/html; charset=utf-8",
            "IMAGE/SVG+XML",
            "application/atom+xml",
            "text/javascript",
            "application/octet-stream",
            "videox/mp4",
            "video",
        ] {
            assert!(!may_show_inline(active), "{active}");
        }
        for passive in [
            "video/mp4",
            "Audio/MPEG",
            "image/png",
            "application/pdf",
            "text/plain; charset=utf-8",
        ] {
            assert!(may_show_inline(passive), "{passive}");
        }
    }

    #[test]
    fn a_percent_sign_never_reaches_the_fallback() {
        assert_eq!(
            content_disposition("100%.txt", false),
            "attachment; filename=\"100_.txt\"; filename*=UTF-8''100%25.txt"
        );
    }

    #[tokio::test]
    async fn a_large_piece_is_cut_into_bounded_views_of_the_same_bytes() {
        let whole = Bytes::from((0..=255u8).cycle().take(200_000).collect::<Vec<u8>>());
        let small = Bytes::from_static(b"tail");
        let body = stream::iter([Ok(whole.clone()), Ok(small.clone())]).boxed();
        let pieces: Vec<Bytes> = bounded_pieces(body, 65_536).try_collect().await.unwrap();
        let lengths: Vec<usize> = pieces.iter().map(Bytes::len).collect();
        assert_eq!(lengths, [65_536, 65_536, 65_536, 3_392, 4]);
        assert_eq!(pieces[..4].concat(), whole);
        assert_eq!(pieces[4], small);
        let start = whole.as_ptr() as usize;
        let shared = pieces[..4].iter().all(|piece| {
            let at = piece.as_ptr() as usize;
            at >= start && at + piece.len() <= start + whole.len()
        });
        assert!(
            shared,
            "the pieces are views of the original buffer, not copies"
        );
    }

    #[test]
    fn a_quote_in_a_filename_cannot_break_out_of_the_fallback() {
        let value = content_disposition("a\"b\\c.txt", true);
        assert!(value.starts_with("inline; filename=\"a_b_c.txt\";"));
    }
}
