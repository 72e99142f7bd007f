//! Who is asking: the owner of the upload sessions a request may see.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use crate::error::ApiError;

/// The caller's identity. Authentication is off, so every caller is the
/// fixed owner `anonymous`; with tokens it becomes the token's `sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(String);

impl Owner {
    /// The owner of every request while authentication is off.
    pub const ANONYMOUS: &'static str = "anonymous";

    /// The owner's id, as stored with its sessions.
    pub fn id(&self) -> &str {
        &self.0
    }
}

impl FromRequest for Owner {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(_request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(Owner(Owner::ANONYMOUS.to_owned())))
    }
}
