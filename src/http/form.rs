//! Reading `multipart/form-data` bodies (RFC 7578) with bounded buffers: the
//! preamble, each part's headers and the padding after a boundary are a few
//! KiB at most, and a part's content is handed on as it arrives, so no body,
//! however it is framed, makes the server hold more than a few pieces of it.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use actix_web::web::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use memchr::memmem;

#[cfg(test)]
mod tests;

/// Most bytes of preamble read before the first boundary.
const MAX_PREAMBLE: usize = 4 << 10;
/// Most bytes of one part's header block.
const MAX_PART_HEAD: usize = 8 << 10;
/// Most bytes of whitespace between a boundary and its line break.
const MAX_PADDING: usize = 64;
/// Most parts in one form.
const MAX_PARTS: usize = 16;
/// Longest boundary RFC 2046 allows.
const MAX_BOUNDARY: usize = 70;

/// Why a body is not a form this server reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed multipart body: {0}")]
pub(super) struct Malformed(pub(super) &'static str);

/// What a part says of itself in its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PartHead {
    /// The form field's name.
    pub(super) name: String,
}

/// One step through a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Event {
    /// A part begins; its content follows as `Data` until the next event.
    Part(PartHead),
    /// Content of the current part.
    Data(Bytes),
    /// The closing boundary: the form is complete.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Preamble,
    AfterBoundary,
    PartHead,
    Content,
    Done,
}

/// A push parser of one form's bytes: [`feed`](Self::feed) what arrives,
/// then take [`next_event`](Self::next_event)s until it asks for more.
pub(super) struct FormParser {
    delimiter: memmem::Finder<'static>,
    buffer: BytesMut,
    state: State,
    preamble: usize,
    parts: usize,
}

impl FormParser {
    /// A parser of a form whose parts are separated by `boundary`.
    pub(super) fn new(boundary: &str) -> Result<Self, Malformed> {
        let valid = !boundary.is_empty()
            && boundary.len() <= MAX_BOUNDARY
            && boundary.bytes().all(|b| (0x20..0x7f).contains(&b));
        if !valid {
            return Err(Malformed("the boundary must be 1 to 70 visible characters"));
        }
        let delimiter = format!("\r\n--{boundary}").into_bytes();
        let mut buffer = BytesMut::new();
        buffer.extend_from_slice(b"\r\n");
        Ok(FormParser {
            delimiter: memmem::Finder::new(&delimiter).into_owned(),
            buffer,
            state: State::Preamble,
            preamble: 0,
            parts: 0,
        })
    }

    /// Takes the next piece of the body. Bytes after the closing boundary
    /// (the epilogue) are dropped unread.
    pub(super) fn feed(&mut self, piece: &[u8]) {
        if self.state != State::Done {
            self.buffer.extend_from_slice(piece);
        }
    }

    #[cfg(test)]
    /// How many bytes the parser holds: never much more than the last piece fed.
    pub(super) fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The next event, or `None` when more bytes are needed first.
    pub(super) fn next_event(&mut self) -> Result<Option<Event>, Malformed> {
        loop {
            match self.state {
                State::Preamble => {
                    if !self.skip_preamble()? {
                        return Ok(None);
                    }
                }
                State::AfterBoundary => match self.end_boundary_line()? {
                    None => return Ok(None),
                    Some(true) => {
                        self.state = State::Done;
                        self.buffer.clear();
                        return Ok(Some(Event::End));
                    }
                    Some(false) => self.state = State::PartHead,
                },
                State::PartHead => return self.part_head(),
                State::Content => match self.delimiter.find(&self.buffer) {
                    Some(0) => {
                        let _ = self.buffer.split_to(self.delimiter_len());
                        self.state = State::AfterBoundary;
                    }
                    Some(at) => return Ok(Some(Event::Data(self.buffer.split_to(at).freeze()))),
                    None => {
                        let safe = self.buffer.len().saturating_sub(self.delimiter_len() - 1);
                        let piece = self.buffer.split_to(safe).freeze();
                        return Ok((!piece.is_empty()).then_some(Event::Data(piece)));
                    }
                },
                State::Done => return Ok(None),
            }
        }
    }

    fn delimiter_len(&self) -> usize {
        self.delimiter.needle().len()
    }

    /// Drops bytes before the first boundary; true once it has been passed.
    fn skip_preamble(&mut self) -> Result<bool, Malformed> {
        let (dropped, found) = match self.delimiter.find(&self.buffer) {
            Some(at) => (at, true),
            None => (
                self.buffer.len().saturating_sub(self.delimiter_len() - 1),
                false,
            ),
        };
        self.preamble += dropped;
        if self.preamble > MAX_PREAMBLE {
            return Err(Malformed("no boundary in the first 4 KiB of the body"));
        }
        let _ = self.buffer.split_to(dropped);
        if found {
            let _ = self.buffer.split_to(self.delimiter_len());
            self.state = State::AfterBoundary;
        }
        Ok(found)
    }

    /// Reads what follows a boundary: `--` closes the form (`Some(true)`),
    /// optional padding and a line break open a part (`Some(false)`).
    fn end_boundary_line(&mut self) -> Result<Option<bool>, Malformed> {
        if self.buffer.len() < 2 {
            return Ok(None);
        }
        if self.buffer.starts_with(b"--") {
            return Ok(Some(true));
        }
        let Some(at) = memmem::find(&self.buffer, b"\r\n") else {
            if self.buffer.len() > MAX_PADDING + 1 {
                return Err(Malformed("a boundary is not followed by a line break"));
            }
            return Ok(None);
        };
        if at > MAX_PADDING || !self.buffer[..at].iter().all(|b| *b == b' ' || *b == b'\t') {
            return Err(Malformed("a boundary is not followed by a line break"));
        }
        let _ = self.buffer.split_to(at + 2);
        Ok(Some(false))
    }

    fn part_head(&mut self) -> Result<Option<Event>, Malformed> {
        let end = if self.buffer.starts_with(b"\r\n") {
            Some(0)
        } else {
            memmem::find(&self.buffer, b"\r\n\r\n").map(|at| at + 2)
        };
        let Some(end) = end else {
            if self.buffer.len() > MAX_PART_HEAD {
                return Err(Malformed("a part's headers are longer than 8 KiB"));
            }
            return Ok(None);
        };
        if end > MAX_PART_HEAD {
            return Err(Malformed("a part's headers are longer than 8 KiB"));
        }
        let block = self.buffer.split_to(end + 2);
        self.parts += 1;
        if self.parts > MAX_PARTS {
            return Err(Malformed("the form has more than 16 parts"));
        }
        let head = parse_part_head(&block[..end])?;
        self.state = State::Content;
        Ok(Some(Event::Part(head)))
    }
}

/// The name a part's `Content-Disposition: form-data` header gives it.
fn parse_part_head(block: &[u8]) -> Result<PartHead, Malformed> {
    let text =
        std::str::from_utf8(block).map_err(|_| Malformed("a part's headers are not UTF-8"))?;
    let mut name = None;
    for line in text.split("\r\n").filter(|line| !line.is_empty()) {
        let (field, value) = line
            .split_once(':')
            .filter(|(field, _)| !field.is_empty() && !field.contains([' ', '\t']))
            .ok_or(Malformed(
                "a part has a header line that is not `name: value`",
            ))?;
        if field.eq_ignore_ascii_case("content-disposition") {
            if name.is_some() {
                return Err(Malformed("a part has two Content-Disposition headers"));
            }
            name = Some(disposition_name(value)?);
        }
    }
    let name = name.ok_or(Malformed("a part has no Content-Disposition header"))?;
    Ok(PartHead { name })
}

/// The `name` parameter of a `form-data` disposition.
fn disposition_name(value: &str) -> Result<String, Malformed> {
    let mut rest = value.trim_start();
    let kind_end = rest.find(';').unwrap_or(rest.len());
    if !rest[..kind_end].trim().eq_ignore_ascii_case("form-data") {
        return Err(Malformed("a part's disposition is not form-data"));
    }
    rest = &rest[kind_end..];
    let mut name = None;
    while let Some(after) = rest.strip_prefix(';') {
        let after = after.trim_start();
        let (param, value_and_rest) = after
            .split_once('=')
            .ok_or(Malformed("a disposition parameter has no value"))?;
        let (value, remainder) = parameter_value(value_and_rest.trim_start())?;
        if param.trim().eq_ignore_ascii_case("name") {
            name = Some(value);
        }
        rest = remainder.trim_start();
    }
    if !rest.is_empty() {
        return Err(Malformed("a disposition has text after its parameters"));
    }
    name.ok_or(Malformed("a part's disposition has no name"))
}

/// A parameter value, quoted or bare, and what follows it.
fn parameter_value(text: &str) -> Result<(String, &str), Malformed> {
    let Some(quoted) = text.strip_prefix('"') else {
        let end = text.find(';').unwrap_or(text.len());
        return Ok((text[..end].trim_end().to_owned(), &text[end..]));
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &quoted[at + 1..])),
            '\\' => match chars.next() {
                Some((_, escaped)) => value.push(escaped),
                None => break,
            },
            _ => value.push(c),
        }
    }
    Err(Malformed("a disposition has an unterminated quoted value"))
}

/// Why a form could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub(super) enum FormFailure<E> {
    /// The body is not a well-formed form.
    #[error(transparent)]
    Malformed(#[from] Malformed),
    /// The body is longer than the form may be.
    #[error("the form is longer than {limit} bytes")]
    TooLarge {
        /// The most bytes the form may take.
        limit: u64,
    },
    /// The body ended before the closing boundary.
    #[error("the body ended before the form's closing boundary")]
    Truncated,
    /// Reading the body failed.
    #[error("{0}")]
    Source(E),
}

/// A form read from a body stream, part by part, at most `limit` bytes long.
pub(super) struct Form<S> {
    source: S,
    parser: FormParser,
    read: u64,
    limit: u64,
    cut: bool,
    broken: bool,
    stashed: Option<Event>,
}

impl<S, E> Form<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    /// Reads the form in `source`, whose parts `boundary` separates.
    pub(super) fn new(source: S, boundary: &str, limit: u64) -> Result<Self, Malformed> {
        Ok(Form {
            source,
            parser: FormParser::new(boundary)?,
            read: 0,
            limit,
            cut: false,
            broken: false,
            stashed: None,
        })
    }

    /// The most bytes the form may take.
    pub(super) fn limit(&self) -> u64 {
        self.limit
    }

    /// Whether the form was cut off for being longer than its limit.
    pub(super) fn was_cut(&self) -> bool {
        self.cut
    }

    /// The next part's head, skipping what is left of the current part;
    /// `None` after the closing boundary.
    pub(super) async fn next_part(&mut self) -> Result<Option<PartHead>, FormFailure<E>> {
        loop {
            let event = match self.stashed.take() {
                Some(event) => event,
                None => match self.parser.next_event()? {
                    Some(event) => event,
                    None => {
                        std::future::poll_fn(|cx| self.poll_pull(cx)).await?;
                        continue;
                    }
                },
            };
            match event {
                Event::Part(head) => return Ok(Some(head)),
                Event::Data(_) => continue,
                Event::End => return Ok(None),
            }
        }
    }

    /// The content of the current part, as it arrives.
    pub(super) fn content(&mut self) -> PartContent<'_, S> {
        PartContent { form: self }
    }

    /// Feeds the parser the next piece of the body. After a failure, the
    /// form reads nothing more.
    fn poll_pull(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), FormFailure<E>>> {
        if self.broken {
            return Poll::Ready(Err(FormFailure::Malformed(Malformed(
                "the form was already cut short",
            ))));
        }
        let pulled = ready!(self.poll_source(cx));
        self.broken = pulled.is_err();
        Poll::Ready(pulled)
    }

    fn poll_source(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), FormFailure<E>>> {
        match ready!(self.source.poll_next_unpin(cx)) {
            Some(Ok(piece)) => {
                self.read += piece.len() as u64;
                if self.read > self.limit {
                    self.cut = true;
                    return Poll::Ready(Err(FormFailure::TooLarge { limit: self.limit }));
                }
                self.parser.feed(&piece);
                Poll::Ready(Ok(()))
            }
            Some(Err(error)) => Poll::Ready(Err(FormFailure::Source(error))),
            None => Poll::Ready(Err(FormFailure::Truncated)),
        }
    }
}

/// The content of one part: a stream that ends where the part does.
pub(super) struct PartContent<'f, S> {
    form: &'f mut Form<S>,
}

impl<S, E> Stream for PartContent<'_, S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, FormFailure<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let form = &mut *self.get_mut().form;
        loop {
            if form.stashed.is_some() || form.broken {
                return Poll::Ready(None);
            }
            match form.parser.next_event() {
                Err(error) => {
                    form.broken = true;
                    return Poll::Ready(Some(Err(error.into())));
                }
                Ok(Some(Event::Data(piece))) => return Poll::Ready(Some(Ok(piece))),
                Ok(Some(event)) => {
                    form.stashed = Some(event);
                    return Poll::Ready(None);
                }
                Ok(None) => {}
            }
            if let Err(error) = ready!(form.poll_pull(cx)) {
                return Poll::Ready(Some(Err(error)));
            }
        }
    }
}
