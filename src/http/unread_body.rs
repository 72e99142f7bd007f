//! A request body nobody read to its end: its connection closes once the
//! answer is out. Left alone, the HTTP engine would keep reading a chunked
//! body after the answer for as long as the client kept it going, and a
//! client could hold a connection with one request that is never finished.
//! The handler's first read of the body opens the connection's
//! [`BodyGate`], which until then lets only a little of it in.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use actix_http::BoxedPayloadStream;
use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ResponseHead, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use futures::Stream;

use super::body_gate::BodyGate;

/// The body as the request arrived with it, shared between the handler that
/// may read it and this layer, which keeps it until the answer is out.
struct Shared {
    payload: RefCell<Payload>,
    ended: Cell<bool>,
    gate: Option<(Arc<BodyGate>, u64)>,
}

impl Shared {
    /// Takes whatever of the body has already arrived, without waiting;
    /// whether that reached its end.
    fn reaches_end_now(&self) -> bool {
        let Ok(mut payload) = self.payload.try_borrow_mut() else {
            return false;
        };
        let mut cx = Context::from_waker(Waker::noop());
        while !self.ended.get() {
            match Pin::new(&mut *payload).poll_next(&mut cx) {
                Poll::Ready(Some(Ok(_))) => {}
                Poll::Ready(None | Some(Err(_))) => self.ended.set(true),
                Poll::Pending => return false,
            }
        }
        true
    }
}

/// What the handler reads: the shared body, noting when it ends.
struct Reader(Rc<Shared>);

impl Stream for Reader {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let shared = &self.0;
        if let Some((gate, request)) = &shared.gate {
            gate.open(*request);
        }
        let Ok(mut payload) = shared.payload.try_borrow_mut() else {
            return Poll::Ready(Some(Err(PayloadError::Incomplete(None))));
        };
        let polled = Pin::new(&mut *payload).poll_next(cx);
        if let Poll::Ready(None | Some(Err(_))) = polled {
            shared.ended.set(true);
        }
        polled
    }
}

/// Whether the request says a body follows its head.
fn declares_body(request: &ServiceRequest) -> bool {
    let headers = request.headers();
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes().trim_ascii() != b"0")
}

/// Closes the connection of a request whose body no handler read to its
/// end, once the answer is out, instead of reading the rest of it.
pub async fn close_unread_body(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, Holding>>, actix_web::Error> {
    if !declares_body(&request) {
        return Ok(next.call(request).await?.map_into_left_body());
    }
    let gate = request
        .conn_data::<Arc<BodyGate>>()
        .map(|gate| (gate.clone(), gate.request()));
    let shared = Rc::new(Shared {
        payload: RefCell::new(request.take_payload()),
        ended: Cell::new(false),
        gate,
    });
    let reader: BoxedPayloadStream = Box::pin(Reader(shared.clone()));
    request.set_payload(Payload::from(reader));
    let answered = next.call(request).await;
    if shared.reaches_end_now() {
        return Ok(answered?.map_into_left_body());
    }
    match answered {
        Ok(answer) => Ok(answer
            .map_into_boxed_body()
            .map_body(|head, body| Holding::close_after(head, body, shared))
            .map_into_right_body()),
        Err(error) => Err(Unread { error, shared }.into()),
    }
}

/// An answer's body that keeps the request's unread body until it is
/// sent: the engine then closes the connection rather than read on.
pub struct Holding {
    body: BoxBody,
    _unread: Rc<Shared>,
}

impl Holding {
    /// `body`, answered with `Connection: close`, holding `unread`.
    fn close_after(head: &mut ResponseHead, body: BoxBody, unread: Rc<Shared>) -> Self {
        head.set_connection_type(ConnectionType::Close);
        Holding {
            body,
            _unread: unread,
        }
    }
}

impl MessageBody for Holding {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

/// A failure answered while the request's body was left unread: its answer
/// holds the body as [`Holding`] does.
struct Unread {
    error: actix_web::Error,
    shared: Rc<Shared>,
}

impl fmt::Debug for Unread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.error, f)
    }
}

impl fmt::Display for Unread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl ResponseError for Unread {
    fn status_code(&self) -> StatusCode {
        self.error.as_response_error().status_code()
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        self.error.error_response().map_body(|head, body| {
            BoxBody::new(Holding::close_after(head, body, self.shared.clone()))
        })
    }
}
