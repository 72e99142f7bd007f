//! What a command names: a published file's URL or a bare SHA-256, and the
//! local name a download is saved under.

use std::path::{Path, PathBuf};

use ferry_proto::{ContentHash, is_format_character};
use percent_encoding::percent_decode_str;
use url::Url;

use super::client::Client;
use super::error::CliError;

/// A published file to download: where it is and what it must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTarget {
    /// The URL to fetch.
    pub url: Url,
    /// The SHA-256 the bytes must have, lower-case hex.
    pub sha256: String,
    /// The filename the URL offers, decoded.
    pub filename: Option<String>,
}

impl FileTarget {
    /// Reads `http://host/v1/files/<sha256>[/<name>]`, or a bare SHA-256 of
    /// a file on the server `client` talks to.
    pub fn parse(text: &str, client: &Client) -> Result<Self, CliError> {
        if let Some(sha256) = ContentHash::parse(text).ok().map(|hash| hash.to_hex()) {
            let url = client.url(&format!("v1/files/{sha256}"))?;
            return Ok(FileTarget {
                url,
                sha256,
                filename: None,
            });
        }
        let url = Url::parse(text).map_err(|_| {
            CliError::Usage(format!("{text:?} is neither a download URL nor a sha256"))
        })?;
        let segments: Vec<&str> = url
            .path_segments()
            .map(|segments| segments.filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let (sha256, filename) = match segments.as_slice() {
            [.., files, hash] if *files == "files" => (
                ContentHash::parse(hash).ok().map(|hash| hash.to_hex()),
                None,
            ),
            [.., files, hash, name] if *files == "files" => {
                let name = percent_decode_str(name).decode_utf8_lossy().into_owned();
                (
                    ContentHash::parse(hash).ok().map(|hash| hash.to_hex()),
                    Some(name),
                )
            }
            _ => (None, None),
        };
        let sha256 = sha256.ok_or_else(|| {
            CliError::Usage(format!(
                "{text} is not a download URL: expected …/files/<sha256>[/<name>]"
            ))
        })?;
        Ok(FileTarget {
            url,
            sha256,
            filename,
        })
    }

    /// Where to save the file: `asked` (inside it when it is a folder), or
    /// else the name from the URL, from `disposition`, or the SHA-256.
    pub fn output_path(&self, asked: Option<&Path>, disposition: Option<&str>) -> PathBuf {
        let offered = self
            .filename
            .as_deref()
            .and_then(safe_file_name)
            .or_else(|| {
                disposition
                    .and_then(disposition_filename)
                    .as_deref()
                    .and_then(safe_file_name)
            })
            .unwrap_or_else(|| self.sha256.clone());
        match asked {
            Some(path) if path.is_dir() => path.join(offered),
            Some(path) => path.to_owned(),
            None => PathBuf::from(offered),
        }
    }
}

/// The filename a `Content-Disposition` value offers, preferring the exact
/// UTF-8 `filename*` (RFC 6266, RFC 5987) over the plain `filename`.
pub fn disposition_filename(value: &str) -> Option<String> {
    let parameters: Vec<(String, &str)> = value
        .split(';')
        .skip(1)
        .filter_map(|part| part.split_once('='))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim()))
        .collect();
    let extended = parameters
        .iter()
        .find(|(name, _)| name == "filename*")
        .and_then(|(_, value)| {
            let (charset, rest) = value.split_once('\'')?;
            let (_, encoded) = rest.split_once('\'')?;
            if !charset.eq_ignore_ascii_case("utf-8") {
                return None;
            }
            let name = percent_decode_str(encoded).decode_utf8().ok()?;
            Some(name.into_owned())
        });
    extended.or_else(|| {
        parameters
            .iter()
            .find(|(name, _)| name == "filename")
            .map(|(_, value)| value.trim_matches('"').to_owned())
    })
}

/// Longest local file name made from an offered one, in bytes.
const MAX_NAME_BYTES: usize = 255;

/// A local file name made from one a server or URL offers: its last path
/// component, without control or invisible format characters (such as
/// U+202E, which shows `a<U+202E>fdp.exe` as `aexe.pdf`), without leading
/// dots (no hidden files, no `..`), trimmed, at most 255 bytes; `None`
/// when nothing usable is left.
pub fn safe_file_name(name: &str) -> Option<String> {
    let visible: String = name
        .chars()
        .filter(|&c| !c.is_control() && !is_format_character(c))
        .collect();
    let last = visible.rsplit(['/', '\\']).next()?;
    let mut name = last
        .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end()
        .to_owned();
    if name.len() > MAX_NAME_BYTES {
        let mut end = MAX_NAME_BYTES;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn client() -> Client {
        let base = Url::parse("http://server:8080").expect("url");
        Client::new(&base, crate::retry::RetryPolicy::default()).expect("client")
    }

    #[test]
    fn a_bare_hash_is_fetched_from_the_server() {
        let target = FileTarget::parse(&SHA.to_uppercase(), &client()).expect("target");
        assert_eq!(
            target.url.as_str(),
            format!("http://server:8080/v1/files/{SHA}")
        );
        assert_eq!(target.sha256, SHA);
        assert_eq!(target.filename, None);
    }

    #[test]
    fn a_full_url_gives_its_hash_and_decoded_filename() {
        let text = format!("http://cdn.example/v1/files/{SHA}/%E8%AF%BE%20a.mp4");
        let target = FileTarget::parse(&text, &client()).expect("target");
        assert_eq!(target.url.as_str(), text);
        assert_eq!(target.sha256, SHA);
        assert_eq!(target.filename.as_deref(), Some("课 a.mp4"));
    }

    #[test]
    fn a_url_without_a_hash_is_a_usage_error() {
        let error = FileTarget::parse("http://h/v1/files/abc", &client()).expect_err("refused");
        assert_eq!(error.status(), 2);
        assert_eq!(
            FileTarget::parse("not a thing", &client())
                .map(|_| ())
                .map_err(|e| e.status()),
            Err(2)
        );
    }

    #[test]
    fn the_output_defaults_to_the_url_name_then_the_disposition_then_the_hash() {
        let mut target = FileTarget::parse(SHA, &client()).expect("target");
        assert_eq!(target.output_path(None, None), PathBuf::from(SHA));
        let disposition = "attachment; filename=\"a.txt\"; filename*=UTF-8''%C3%A9.txt";
        assert_eq!(
            target.output_path(None, Some(disposition)),
            PathBuf::from("é.txt")
        );
        target.filename = Some("from-url.bin".into());
        assert_eq!(
            target.output_path(None, Some(disposition)),
            PathBuf::from("from-url.bin")
        );
    }

    #[test]
    fn an_output_folder_receives_the_offered_name() {
        let folder = tempfile::tempdir().expect("temp dir");
        let target = FileTarget::parse(SHA, &client()).expect("target");
        assert_eq!(
            target.output_path(Some(folder.path()), None),
            folder.path().join(SHA)
        );
        let file = folder.path().join("x.bin");
        assert_eq!(target.output_path(Some(&file), None), file);
    }

    #[test]
    fn a_name_cannot_climb_out_of_the_folder() {
        assert_eq!(
            safe_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(safe_file_name("a\\..\\b.txt").as_deref(), Some("b.txt"));
        assert_eq!(safe_file_name(".."), None);
        assert_eq!(safe_file_name("dir/"), None);
    }

    #[test]
    fn control_and_format_characters_and_leading_dots_are_dropped() {
        let clean = |name: &str| safe_file_name(name);
        assert_eq!(
            clean("invoice\u{202E}fdp.exe").as_deref(),
            Some("invoicefdp.exe")
        );
        assert_eq!(clean("a\r\nb\u{0}.txt").as_deref(), Some("ab.txt"));
        assert_eq!(clean("\u{200B}.bashrc").as_deref(), Some("bashrc"));
        assert_eq!(clean("...").as_deref(), None);
        assert_eq!(
            clean("../.ssh/.authorized_keys").as_deref(),
            Some("authorized_keys")
        );
        assert_eq!(clean(". .profile").as_deref(), Some("profile"));
        assert_eq!(clean("\u{1b}[31m").as_deref(), Some("[31m"));
        assert_eq!(clean("课 a.mp4").as_deref(), Some("课 a.mp4"));
    }

    #[test]
    fn a_long_name_is_cut_at_255_bytes_on_a_character_boundary() {
        let name = safe_file_name(&"é".repeat(200)).expect("a name");
        assert_eq!(name, "é".repeat(127));
    }

    #[test]
    fn a_plain_disposition_filename_is_unquoted() {
        assert_eq!(
            disposition_filename("attachment; filename=\"a b.txt\"").as_deref(),
            Some("a b.txt")
        );
        assert_eq!(disposition_filename("inline"), None);
    }
}
