//! Who is asking: the owner of the upload sessions a request may see.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use crate::error::ApiError;
use crate::ids::OwnerId;

/// The caller's identity. Authentication is off, so every caller is the
/// fixed owner `anonymous`; with tokens it becomes the token's `sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(OwnerId);

impl Owner {
    /// The owner's id, as stored with its sessions.
    pub fn id(&self) -> &OwnerId {
        &self.0
    }
}

impl FromRequest for Owner {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(_request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(Owner(OwnerId::anonymous())))
    }
}
