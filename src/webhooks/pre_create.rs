//! The pre-create hook: before a session is created or a one-request
//! upload accepted, ferry asks the app, signed like a webhook, whether the
//! upload may start.

use std::net::IpAddr;
use std::time::Duration;

use chrono::Utc;
use ferry_proto::{ContentHash, FileName, MediaType};
use serde_json::json;

use super::SigningKey;
use crate::ids::OwnerId;

/// The longest answer read from the hook.
const ANSWER_LIMIT: usize = 8 << 10;
/// The longest message passed on to the client, in characters.
const MESSAGE_LIMIT: usize = 200;

/// The upload a client asks to start, as the hook is told of it.
#[derive(Debug, Clone, Copy)]
pub struct WouldBe<'a> {
    /// Who asks.
    pub owner: &'a OwnerId,
    /// The file's hash, when the client gave it.
    pub sha256: Option<&'a ContentHash>,
    /// The file's size, when known.
    pub size: Option<u64>,
    /// The name the client gave.
    pub filename: Option<&'a FileName>,
    /// The media type the client gave.
    pub content_type: Option<&'a MediaType>,
    /// The address the request came from.
    pub client_address: Option<IpAddr>,
}

/// What the hook said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It answered 2xx: the upload may start.
    Allowed,
    /// It answered 4xx, with this message for the client.
    Refused(String),
    /// It could not say (a timeout, a 5xx, a refused connection): why.
    Unanswered(String),
}

/// The app's pre-create hook.
#[derive(Debug, Clone)]
pub struct PreCreateHook {
    url: String,
    key: SigningKey,
    client: reqwest::Client,
    /// Whether an upload may start when the hook cannot say.
    pub fail_open: bool,
}

impl PreCreateHook {
    /// The hook at `url`, signed with `key`, given `timeout` to answer.
    pub fn new(url: String, key: SigningKey, timeout: Duration, fail_open: bool) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        PreCreateHook {
            url,
            key,
            client,
            fail_open,
        }
    }

    /// Asks the hook about `upload`.
    pub async fn ask(&self, upload: &WouldBe<'_>) -> Verdict {
        let body = json!({
            "owner": upload.owner.as_str(),
            "sha256": upload.sha256.map(ContentHash::to_hex),
            "size": upload.size,
            "filename": upload.filename.map(FileName::as_str),
            "content_type": upload.content_type.map(MediaType::as_str),
            "client_address": upload.client_address.map(|address| address.to_string()),
        })
        .to_string();
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let timestamp = Utc::now().timestamp();
        let answer = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                self.key.sign(&id, timestamp, body.as_bytes()),
            )
            .body(body)
            .send()
            .await;
        let mut answer = match answer {
            Ok(answer) => answer,
            Err(error) if error.is_timeout() => return Verdict::Unanswered("timed out".into()),
            Err(error) => return Verdict::Unanswered(format!("could not be reached: {error}")),
        };
        let status = answer.status();
        if status.is_success() {
            return Verdict::Allowed;
        }
        if !status.is_client_error() {
            return Verdict::Unanswered(format!("answered {status}"));
        }
        let mut read = Vec::new();
        while read.len() < ANSWER_LIMIT {
            match answer.chunk().await {
                Ok(Some(chunk)) => read.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        Verdict::Refused(message_of(&read))
    }
}

/// The `message` of the hook's JSON answer, bounded and with control and
/// format characters left out; a fixed text when there is none.
fn message_of(answer: &[u8]) -> String {
    let message = serde_json::from_slice::<serde_json::Value>(answer)
        .ok()
        .and_then(|value| value["message"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let clean: String = message
        .chars()
        .filter(|c| !c.is_control() && !ferry_proto::is_format_character(*c))
        .take(MESSAGE_LIMIT)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "the upload was refused".to_owned()
    } else {
        clean.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusals_message_is_passed_on_bounded_and_clean() {
        assert_eq!(
            message_of(br#"{"message":"over your plan"}"#),
            "over your plan"
        );
        assert_eq!(message_of(b"not json"), "the upload was refused");
        assert_eq!(message_of(br#"{"message":"a\u0000b\u202ec\n"}"#), "abc");
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(1000));
        assert_eq!(message_of(long.as_bytes()).len(), MESSAGE_LIMIT);
    }
}
