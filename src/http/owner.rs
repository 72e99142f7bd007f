//! Who is asking: the owner named by the request's bearer token, or
//! `anonymous` while authentication is off, within the owner's request rate.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{FromRequest, HttpRequest, web};
use ferry_proto::ErrorCode;

use super::access_log::note_owner;
use crate::access::{OwnerRates, TokenRefusal, TokenVerifier};
use crate::error::ApiError;
use crate::ids::OwnerId;
use crate::metrics::Metrics;
use crate::upload::Uploads;

/// The caller's identity, as stored with its sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(OwnerId);

impl Owner {
    /// The owner's id.
    pub fn id(&self) -> &OwnerId {
        &self.0
    }
}

/// What lets a request in: its token, when authentication is on, and its
/// owner's request budget.
#[derive(Debug)]
pub struct Gatekeeper {
    tokens: Option<(TokenVerifier, OwnerRates)>,
}

impl Gatekeeper {
    /// Everyone is `anonymous`, without limits: authentication is off.
    pub fn open() -> Self {
        Gatekeeper { tokens: None }
    }

    /// Every request needs a token `verifier` accepts, within `rates`.
    pub fn with_tokens(verifier: TokenVerifier, rates: OwnerRates) -> Self {
        Gatekeeper {
            tokens: Some((verifier, rates)),
        }
    }

    /// Whether requests must carry a token.
    pub fn requires_tokens(&self) -> bool {
        self.tokens.is_some()
    }

    fn admit(&self, request: &HttpRequest, metrics: Option<&Metrics>) -> Result<Owner, ApiError> {
        let Some((verifier, rates)) = &self.tokens else {
            return Ok(Owner(OwnerId::anonymous()));
        };
        let owner = bearer_token(request)
            .and_then(|token| verifier.verify(token))
            .map_err(|refusal| {
                tracing::info!(reason = refusal.reason(), "token refused");
                if let Some(metrics) = metrics {
                    metrics.auth_refused("token", refusal.reason());
                }
                unauthorized(refusal)
            })?;
        rates.admit(&owner).map_err(|wait| {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::new(
                ErrorCode::TooManyRequests,
                "too many requests for this owner; slow down",
            )
            .with_header(RETRY_AFTER, seconds.max(1).to_string())
        })?;
        Ok(Owner(owner))
    }
}

/// The token of `Authorization: Bearer <token>`.
fn bearer_token(request: &HttpRequest) -> Result<&str, TokenRefusal> {
    let value = request
        .headers()
        .get(AUTHORIZATION)
        .ok_or(TokenRefusal::Missing)?
        .to_str()
        .map_err(|_| TokenRefusal::Malformed)?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(TokenRefusal::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(TokenRefusal::Malformed);
    }
    Ok(token.trim())
}

/// The message of every 401, whatever the reason: the reason is only
/// logged and counted.
const UNAUTHORIZED: &str = "a valid bearer token is required";

/// A 401 that says, as RFC 6750 asks, that a bearer token is wanted, and
/// whether the one sent was refused, but not why.
fn unauthorized(refusal: TokenRefusal) -> ApiError {
    let challenge = match refusal {
        TokenRefusal::Missing => "Bearer realm=\"ferry\"",
        _ => "Bearer realm=\"ferry\", error=\"invalid_token\"",
    };
    ApiError::new(ErrorCode::Unauthorized, UNAUTHORIZED)
        .with_header(WWW_AUTHENTICATE, challenge.to_owned())
}

impl FromRequest for Owner {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let admitted = match request.app_data::<web::Data<Gatekeeper>>() {
            Some(gatekeeper) => {
                let uploads = request.app_data::<web::Data<Uploads>>();
                gatekeeper.admit(request, uploads.map(|uploads| uploads.metrics()))
            }
            None => Err(ApiError::new(
                ErrorCode::InternalError,
                "the server has no gatekeeper",
            )),
        };
        if let Ok(owner) = &admitted {
            note_owner(request, owner.id());
        }
        ready(admitted)
    }
}
