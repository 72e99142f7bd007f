//! A request body as it arrives, held to the idle timeout: a body that stops
//! arriving for longer ends the request with 408 `request-timeout`, whatever
//! layer was reading it.

use std::cell::Cell;
use std::future::{Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest};
use ferry_proto::ErrorCode;
use futures::Stream;
use tokio::time::{Instant, Sleep, sleep};

use crate::error::ApiError;

/// How long a request body may pause; shared by every route.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// Why a body stopped arriving.
#[derive(Debug, thiserror::Error)]
pub(super) enum BodyError {
    /// Nothing arrived for longer than the idle timeout.
    #[error("no bytes of the body arrived for {} s", .0.as_secs())]
    Stalled(Duration),
    /// The connection closed before the body was whole.
    #[error("the connection closed before the body was whole")]
    CutShort,
    /// The framing was wrong or the connection failed.
    #[error(transparent)]
    Broken(PayloadError),
}

impl From<PayloadError> for BodyError {
    fn from(error: PayloadError) -> Self {
        match error {
            PayloadError::Incomplete(_) => BodyError::CutShort,
            error => BodyError::Broken(error),
        }
    }
}

/// The body of a request, ending in [`BodyError::Stalled`] if it pauses too long.
pub(super) struct Body {
    payload: Payload,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    stalled: Rc<Cell<bool>>,
}

impl Body {
    /// Whether the body ran into the idle timeout, to tell after the fact
    /// through a layer that only passed its error on as text.
    pub(super) fn watch(&self) -> StallWatch {
        StallWatch {
            stalled: self.stalled.clone(),
            idle: self.idle,
        }
    }
}

impl FromRequest for Body {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let idle = request
            .app_data::<web::Data<BodyTimeout>>()
            .map_or(Duration::from_secs(30), |timeout| timeout.0);
        ready(Ok(Body {
            payload: payload.take(),
            idle,
            timer: Box::pin(sleep(idle)),
            stalled: Rc::new(Cell::new(false)),
        }))
    }
}

impl Stream for Body {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Poll::Ready(item) = Pin::new(&mut this.payload).poll_next(cx) {
            this.timer.as_mut().reset(Instant::now() + this.idle);
            return Poll::Ready(item.map(|piece| piece.map_err(BodyError::from)));
        }
        if this.timer.as_mut().poll(cx).is_ready() {
            this.stalled.set(true);
            return Poll::Ready(Some(Err(BodyError::Stalled(this.idle))));
        }
        Poll::Pending
    }
}

/// Tells whether a body stalled, after the layer reading it has failed.
#[derive(Debug, Clone)]
pub(super) struct StallWatch {
    stalled: Rc<Cell<bool>>,
    idle: Duration,
}

impl StallWatch {
    /// The answer to a failure while the body was read: 408 if the body
    /// stalled, the failure itself otherwise.
    pub(super) fn explain(&self, failure: impl Into<ApiError>) -> ApiError {
        if self.stalled.get() {
            return stalled(self.idle);
        }
        failure.into()
    }
}

/// The 408 for a body that paused longer than `idle`.
pub(super) fn stalled(idle: Duration) -> ApiError {
    ApiError::new(
        ErrorCode::RequestTimeout,
        format!("no bytes of the body arrived for {} s", idle.as_secs()),
    )
}
