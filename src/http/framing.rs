//! Where a connection stands in the requests its client sends, followed
//! through the bytes alone: a head begun, a body still to come (by its
//! `Content-Length` or its chunked framing), or a request whole and waiting
//! for its answer. The HTTP engine parses and refuses; this only tells the
//! connection's deadlines which one applies.

/// The interim answer to `Expect: 100-continue`, after which the request's
/// body follows, not a new request.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
/// The longest start of a head line kept to read the body's framing from.
const LINE_KEPT: usize = 96;

/// What the connection waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// Between requests: the engine's keep-alive timeout applies.
    Idle,
    /// A head has begun and not ended.
    Head,
    /// The head has ended and some of the body has not arrived, whether
    /// or not the request was answered already.
    Body,
    /// The request has arrived whole; its answer has not begun.
    Answering,
}

/// The framing a head declares for its body.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Declared {
    length: Option<u64>,
    chunked: bool,
    unreadable: bool,
}

/// A head being read, line by line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HeadLines {
    line: [u8; LINE_KEPT],
    kept: usize,
    cut: bool,
    lines: usize,
    declared: Declared,
}

/// Where a chunked body stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunked {
    /// Reading a chunk's size, in hex; whether a digit came yet.
    Size { size: u64, digits: bool },
    /// After the size: extensions, up to the end of the line.
    SizeLine(u64),
    /// Inside a chunk's data.
    Data(u64),
    /// After a chunk's data, up to the end of the line.
    DataEnd,
    /// In the trailer section; whether the line so far is empty.
    Trailer { empty: bool },
}

/// What remains of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Remaining {
    Length(u64),
    Chunked(Chunked),
    /// Framing that cannot be followed: the body ends only with the connection.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Idle,
    Head(Box<HeadLines>),
    Body {
        remaining: Remaining,
        answered: bool,
    },
    Answering,
}

/// Follows one connection's requests through the bytes it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Framing {
    state: State,
    begun: u64,
    body_read: u64,
}

impl Default for Framing {
    fn default() -> Self {
        Framing {
            state: State::Idle,
            begun: 0,
            body_read: 0,
        }
    }
}

impl Framing {
    /// What the connection waits for now.
    pub(super) fn stage(&self) -> Stage {
        match self.state {
            State::Idle => Stage::Idle,
            State::Head(_) => Stage::Head,
            State::Body { .. } => Stage::Body,
            State::Answering => Stage::Answering,
        }
    }

    /// Requests whose head has begun on this connection so far; the last
    /// is the one in progress.
    pub(super) fn requests_begun(&self) -> u64 {
        self.begun
    }

    /// Bytes of the body of the request in progress read so far, framing
    /// included.
    pub(super) fn body_read(&self) -> u64 {
        self.body_read
    }

    /// Takes in bytes the client sent.
    pub(super) fn read(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            bytes = match &mut self.state {
                State::Idle => {
                    self.state = State::Head(Box::default());
                    self.begun += 1;
                    self.body_read = 0;
                    bytes
                }
                State::Head(head) => match head.read(bytes) {
                    Some((declared, rest)) => {
                        self.state = body_of(declared);
                        rest
                    }
                    None => &[],
                },
                State::Body {
                    remaining,
                    answered,
                } => {
                    let rest = remaining.read(bytes);
                    self.body_read += (bytes.len() - rest.len()) as u64;
                    if remaining.is_done() {
                        self.state = if *answered {
                            State::Idle
                        } else {
                            State::Answering
                        };
                    }
                    rest
                }
                State::Answering => &[],
            }
        }
    }

    /// Takes in bytes the server wrote: the first that are not an interim
    /// `100 Continue` begin the answer.
    pub(super) fn wrote(&mut self, bytes: &[u8]) {
        if bytes.is_empty() || bytes.starts_with(CONTINUE) {
            return;
        }
        match &mut self.state {
            State::Answering => self.state = State::Idle,
            State::Body { answered, .. } => *answered = true,
            State::Idle | State::Head(_) => {}
        }
    }
}

fn body_of(declared: Declared) -> State {
    let remaining = if declared.unreadable {
        Remaining::Unknown
    } else if declared.chunked {
        Remaining::Chunked(Chunked::Size {
            size: 0,
            digits: false,
        })
    } else {
        match declared.length {
            Some(length) if length > 0 => Remaining::Length(length),
            _ => return State::Answering,
        }
    };
    State::Body {
        remaining,
        answered: false,
    }
}

impl Default for HeadLines {
    fn default() -> Self {
        HeadLines {
            line: [0; LINE_KEPT],
            kept: 0,
            cut: false,
            lines: 0,
            declared: Declared::default(),
        }
    }
}

impl HeadLines {
    /// Reads head bytes; once the head ends, its framing and the bytes
    /// after it.
    fn read<'b>(&mut self, bytes: &'b [u8]) -> Option<(Declared, &'b [u8])> {
        for (at, byte) in bytes.iter().enumerate() {
            if *byte != b'\n' {
                if self.kept < LINE_KEPT {
                    self.line[self.kept] = *byte;
                    self.kept += 1;
                } else {
                    self.cut = true;
                }
                continue;
            }
            let mut line = &self.line[..self.kept];
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            if line.is_empty() {
                if self.lines > 0 {
                    return Some((self.declared, &bytes[at + 1..]));
                }
            } else {
                if self.lines > 0 {
                    self.declared.take(line, self.cut);
                }
                self.lines += 1;
            }
            self.kept = 0;
            self.cut = false;
        }
        None
    }
}

impl Declared {
    /// Takes in one header line (cut when longer than what was kept).
    fn take(&mut self, line: &[u8], cut: bool) {
        let Some(colon) = line.iter().position(|byte| *byte == b':') else {
            return;
        };
        let name = &line[..colon];
        let value = String::from_utf8_lossy(&line[colon + 1..]);
        let value = value.trim();
        if name.eq_ignore_ascii_case(b"content-length") {
            match value.parse::<u64>() {
                Ok(length) if !cut && self.length.is_none_or(|known| known == length) => {
                    self.length = Some(length);
                }
                _ => self.unreadable = true,
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if cut {
                self.unreadable = true;
            }
            let last = value.rsplit(',').next().unwrap_or_default().trim();
            self.chunked = last.eq_ignore_ascii_case("chunked");
        }
    }
}

impl Remaining {
    fn is_done(&self) -> bool {
        matches!(self, Remaining::Length(0))
    }

    /// Takes in body bytes; the bytes after the body's end.
    fn read<'b>(&mut self, bytes: &'b [u8]) -> &'b [u8] {
        match self {
            Remaining::Length(left) => {
                let taken = bytes
                    .len()
                    .min(usize::try_from(*left).unwrap_or(usize::MAX));
                *left -= taken as u64;
                &bytes[taken..]
            }
            Remaining::Chunked(chunked) => {
                let mut at = 0;
                while at < bytes.len() {
                    match chunked.read(&bytes[at..]) {
                        Step::Took(count) => at += count,
                        Step::Ended(count) => {
                            *self = Remaining::Length(0);
                            return &bytes[at + count..];
                        }
                        Step::Broken => {
                            *self = Remaining::Unknown;
                            return &[];
                        }
                    }
                }
                &[]
            }
            Remaining::Unknown => &[],
        }
    }
}

/// What one step through a chunked body did.
enum Step {
    /// Took this many bytes; the body goes on.
    Took(usize),
    /// Took this many bytes, the last of the body.
    Ended(usize),
    /// The framing is not chunked framing.
    Broken,
}

impl Chunked {
    fn read(&mut self, bytes: &[u8]) -> Step {
        let byte = bytes[0];
        *self = match *self {
            Chunked::Data(left) => {
                let taken = bytes.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let left = left - taken as u64;
                *self = if left == 0 {
                    Chunked::DataEnd
                } else {
                    Chunked::Data(left)
                };
                return Step::Took(taken);
            }
            Chunked::Size { size, .. } if byte.is_ascii_hexdigit() => {
                let digit = u64::from((byte as char).to_digit(16).unwrap_or_default());
                match size
                    .checked_mul(16)
                    .and_then(|size| size.checked_add(digit))
                {
                    Some(size) => Chunked::Size { size, digits: true },
                    None => return Step::Broken,
                }
            }
            Chunked::Size { digits: false, .. } => return Step::Broken,
            Chunked::Size { .. } if !matches!(byte, b';' | b' ' | b'\t' | b'\r' | b'\n') => {
                return Step::Broken;
            }
            Chunked::Size { size, .. } | Chunked::SizeLine(size) => match byte {
                b'\n' if size == 0 => Chunked::Trailer { empty: true },
                b'\n' => Chunked::Data(size),
                _ => Chunked::SizeLine(size),
            },
            Chunked::DataEnd => match byte {
                b'\n' => Chunked::Size {
                    size: 0,
                    digits: false,
                },
                b'\r' => Chunked::DataEnd,
                _ => return Step::Broken,
            },
            Chunked::Trailer { empty } => match byte {
                b'\n' if empty => return Step::Ended(1),
                b'\n' => Chunked::Trailer { empty: true },
                b'\r' => Chunked::Trailer { empty },
                _ => Chunked::Trailer { empty: false },
            },
        };
        Step::Took(1)
    }
}

#[cfg(test)]
#[path = "framing_tests.rs"]
mod tests;
