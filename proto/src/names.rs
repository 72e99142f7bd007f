//! Names a client gives a file: the filename offered in its download path
//! and the media type it is served with, checked once where they enter.

use std::fmt;

/// Longest filename or media type accepted, in bytes.
const MAX_NAME_BYTES: usize = 255;

/// Why a filename or media type is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidName(&'static str);

/// A filename that stands safely as one URL path segment, one header value
/// and one name on a person's screen.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileName(String);

impl FileName {
    /// Accepts 1 to 255 bytes that are not `.` or `..` and hold no slash,
    /// backslash, control character, or invisible format character (such as
    /// U+202E, which shows `invoice<U+202E>fdp.exe` as `invoiceexe.pdf`).
    pub fn parse(name: impl Into<String>) -> Result<Self, InvalidName> {
        let name = name.into();
        if name.is_empty() || name.len() > MAX_NAME_BYTES {
            return Err(InvalidName("must be 1 to 255 bytes"));
        }
        if name == "." || name == ".." {
            return Err(InvalidName("must not be . or .."));
        }
        if name.chars().any(|c| c == '/' || c == '\\') {
            return Err(InvalidName("must not hold slashes"));
        }
        if name
            .chars()
            .any(|c| c.is_control() || is_format_character(c))
        {
            return Err(InvalidName(
                "must not hold control or invisible format characters",
            ));
        }
        Ok(FileName(name))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A syntactically valid media type such as `video/mp4` or
/// `text/plain; charset=utf-8`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MediaType(String);

impl MediaType {
    /// Accepts up to 255 bytes of an RFC 9110 media type: `type/subtype`
    /// tokens, then `;`-separated `name=value` parameters whose value is a
    /// token or a quoted string, with spaces (no tabs) around each `;`. The
    /// OpenAPI document's `MediaType` pattern is the same grammar.
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidName> {
        let value = value.into();
        if value.len() <= MAX_NAME_BYTES && is_media_type(value.as_bytes()) {
            Ok(MediaType(value))
        } else {
            Err(InvalidName("must be a media type such as video/mp4"))
        }
    }

    /// The media type as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The media type as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `text` is `type/subtype *( *; *[ name=value ] )` as RFC 9110
/// writes a media type, without tabs.
fn is_media_type(mut text: &[u8]) -> bool {
    if !(take_token(&mut text) && take(&mut text, b'/') && take_token(&mut text)) {
        return false;
    }
    while !text.is_empty() {
        skip_spaces(&mut text);
        if !take(&mut text, b';') {
            return false;
        }
        skip_spaces(&mut text);
        if text.first().is_some_and(|&byte| is_token_byte(byte))
            && !(take_token(&mut text)
                && take(&mut text, b'=')
                && (take_token(&mut text) || take_quoted(&mut text)))
        {
            return false;
        }
    }
    true
}

/// RFC 9110's `tchar`.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

fn take(text: &mut &[u8], expected: u8) -> bool {
    match text.split_first() {
        Some((&byte, rest)) if byte == expected => {
            *text = rest;
            true
        }
        _ => false,
    }
}

fn take_token(text: &mut &[u8]) -> bool {
    let length = text.iter().take_while(|&&byte| is_token_byte(byte)).count();
    *text = &text[length..];
    length > 0
}

fn skip_spaces(text: &mut &[u8]) {
    while take(text, b' ') {}
}

/// A quoted string: visible ASCII and spaces but `"` and `\`, or a `\`
/// before any visible ASCII or space.
fn take_quoted(text: &mut &[u8]) -> bool {
    if !take(text, b'"') {
        return false;
    }
    while let Some((&byte, rest)) = text.split_first() {
        *text = rest;
        match byte {
            b'"' => return true,
            b'\\' => match text.split_first() {
                Some((&(b' '..=b'~'), rest)) => *text = rest,
                _ => return false,
            },
            b' '..=b'~' => {}
            _ => return false,
        }
    }
    false
}

/// Whether `c` is in Unicode's general category Cf (format): characters
/// that change how text around them shows without showing themselves.
pub fn is_format_character(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chinese_filename_with_spaces_is_accepted() {
        assert!(FileName::parse("课程 第1讲.mp4").is_ok());
    }

    #[test]
    fn a_filename_with_a_slash_is_rejected() {
        assert!(FileName::parse("../etc/passwd").is_err());
        assert!(FileName::parse("a\\b").is_err());
    }

    #[test]
    fn a_filename_with_a_newline_is_rejected() {
        assert!(FileName::parse("a\r\nSet-Cookie: x").is_err());
    }

    #[test]
    fn an_empty_or_dot_filename_is_rejected() {
        assert!(FileName::parse("").is_err());
        assert!(FileName::parse(".").is_err());
        assert!(FileName::parse("..").is_err());
        assert!(FileName::parse("x".repeat(256)).is_err());
    }

    #[test]
    fn a_filename_that_reverses_its_extension_on_screen_is_rejected() {
        assert!(FileName::parse("invoice\u{202E}fdp.exe").is_err());
        assert!(FileName::parse("a\u{200B}b.txt").is_err());
        assert!(FileName::parse("bom\u{FEFF}.txt").is_err());
    }

    #[test]
    fn a_media_type_with_parameters_is_accepted() {
        assert!(MediaType::parse("text/plain; charset=utf-8").is_ok());
    }

    #[test]
    fn a_word_that_is_no_media_type_is_rejected() {
        assert!(MediaType::parse("video").is_err());
        assert!(MediaType::parse("video/mp4\r\nX: y").is_err());
        assert!(MediaType::parse("vidéo/mp4").is_err());
    }

    #[test]
    fn media_types_as_rfc_9110_writes_them_are_accepted() {
        for value in [
            "video/mp4",
            "application/vnd.api+json",
            "text/plain;charset=UTF-8",
            "text/plain ; charset=utf-8 ; format=flowed",
            "text/plain;",
            "multipart/mixed; boundary=\"a; b \\\" c\"",
            "text/plain; name=\"\"",
        ] {
            assert!(MediaType::parse(value).is_ok(), "{value}");
        }
    }

    #[test]
    fn media_types_outside_rfc_9110s_grammar_are_rejected() {
        for value in [
            "uu rv;/wx",
            "/mp4",
            "video/",
            "video/mp4 ",
            "video/mp4;charset",
            "video/mp4; charset=",
            "video/mp4; a=b c",
            "video/mp4; =b",
            "video/mp4;\tcharset=utf-8",
            "text/plain; name=\"open",
            "text/plain; name=\"a\\\"",
            "video/mp4, text/plain",
        ] {
            assert!(MediaType::parse(value).is_err(), "{value}");
        }
        assert!(MediaType::parse(format!("a/{}", "b".repeat(254))).is_err());
        assert!(MediaType::parse(format!("a/{}", "b".repeat(253))).is_ok());
    }
}
