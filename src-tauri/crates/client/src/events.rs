//! The server's event stream for one token (`GET /api/events`, Server-Sent
//! Events): a device signed in as the same user, the token revoked or about
//! to expire, the membership changed. It holds a connection open, so it has
//! its own HTTP client: no total timeout, but a read timeout longer than the
//! server's 15 s keep-alive, so a dead connection is noticed.

use std::time::Duration;

use devauth_proto::{
    DeviceSignedInEvent, MembershipChangedEvent, TokenExpiringEvent, TokenRevokedEvent,
};
use oauth2::http::header;

use crate::api::ApiError;
use crate::discovery::ServerUrl;
use crate::secret::Secret;
use crate::transport::USER_AGENT;

/// One event of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// `device.signed_in`: a device was signed in as this token's user.
    DeviceSignedIn(DeviceSignedInEvent),
    /// `token.revoked`: this token no longer works; the stream ends.
    TokenRevoked(TokenRevokedEvent),
    /// `token.expiring`: this token expires within 7 days.
    TokenExpiring(TokenExpiringEvent),
    /// `membership.changed`: this token's user has another role, or none.
    MembershipChanged(MembershipChangedEvent),
    /// An event this client does not know (a newer server); ignore it.
    Other(String),
}

impl ServerEvent {
    /// Reads one event from its name and JSON data; `None` when the data
    /// does not fit the name.
    pub fn parse(name: &str, data: &str) -> Option<ServerEvent> {
        let event = match name {
            "device.signed_in" => ServerEvent::DeviceSignedIn(serde_json::from_str(data).ok()?),
            "token.revoked" => ServerEvent::TokenRevoked(serde_json::from_str(data).ok()?),
            "token.expiring" => ServerEvent::TokenExpiring(serde_json::from_str(data).ok()?),
            "membership.changed" => {
                ServerEvent::MembershipChanged(serde_json::from_str(data).ok()?)
            }
            other => ServerEvent::Other(other.to_string()),
        };
        Some(event)
    }
}

/// The longest event (its lines together) read before giving up on a
/// stream: a misbehaving server cannot make the client buffer without bound.
const MAX_EVENT_BYTES: usize = 64 * 1024;

/// Splits a byte stream into events (`event:` and `data:` lines, a blank
/// line between events; comments and other fields ignored).
#[derive(Debug, Default)]
pub struct EventParser {
    buffer: String,
}

impl EventParser {
    /// Feeds `chunk`; returns the events it completed. `Err` when one event
    /// grows past the bound.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<(String, String)>, String> {
        self.buffer.push_str(&String::from_utf8_lossy(chunk));
        let mut events = Vec::new();
        while let Some(end) = self.buffer.find("\n\n") {
            let block: String = self.buffer.drain(..end + 2).collect();
            let (mut name, mut data) = (String::from("message"), Vec::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
                }
            }
            if !data.is_empty() {
                events.push((name, data.join("\n")));
            }
        }
        if self.buffer.len() > MAX_EVENT_BYTES {
            return Err(format!(
                "the event stream sent an event larger than {} KiB",
                MAX_EVENT_BYTES / 1024
            ));
        }
        Ok(events)
    }
}

/// An open event stream.
pub struct EventStream {
    response: reqwest::Response,
    parser: EventParser,
    ready: std::collections::VecDeque<(String, String)>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("url", &self.response.url().path())
            .finish()
    }
}

fn network(e: &reqwest::Error) -> ApiError {
    ApiError::Network(crate::transport::from_reqwest("the event stream", e))
}

impl EventStream {
    /// Opens the stream of `token` at `server`. A 401 is
    /// [`ApiError::Unauthorized`]; a 429 (too many streams) is an
    /// [`ApiError::Rejected`] to retry later.
    pub async fn connect(server: &ServerUrl, token: &Secret) -> Result<EventStream, ApiError> {
        let url = server
            .join("api/events")
            .map_err(|e| ApiError::Protocol(e.to_string()))?;
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(45))
            .build()
            .map_err(|e| network(&e))?;
        let response = http
            .get(url)
            .header(header::AUTHORIZATION, format!("Bearer {}", token.expose()))
            .header(header::ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|e| network(&e))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(crate::api::error_for(status, body.as_bytes()));
        }
        Ok(EventStream {
            response,
            parser: EventParser::default(),
            ready: Default::default(),
        })
    }

    /// The next event; `Ok(None)` when the server ended the stream.
    pub async fn next(&mut self) -> Result<Option<ServerEvent>, ApiError> {
        loop {
            if let Some((name, data)) = self.ready.pop_front() {
                match ServerEvent::parse(&name, &data) {
                    Some(event) => return Ok(Some(event)),
                    None => continue,
                }
            }
            let Some(chunk) = self.response.chunk().await.map_err(|e| network(&e))? else {
                return Ok(None);
            };
            let events = self.parser.feed(&chunk).map_err(ApiError::Protocol)?;
            self.ready.extend(events);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_across_chunks() {
        let mut parser = EventParser::default();
        assert_eq!(
            parser.feed(b": keep-alive\n\nevent: device.si").unwrap(),
            vec![]
        );
        let done = parser
            .feed(b"gned_in\ndata: {\"a\":1}\n\nevent: x\ndata: 2\n\n")
            .unwrap();
        assert_eq!(
            done,
            vec![
                ("device.signed_in".to_string(), "{\"a\":1}".to_string()),
                ("x".to_string(), "2".to_string())
            ]
        );
        assert!(parser.feed(&vec![b'a'; MAX_EVENT_BYTES + 1]).is_err());
    }

    #[test]
    fn known_events_are_typed_and_others_kept_by_name() {
        let data = r#"{"token_id":"t","device_name":"box","client_id":"devauth-cli","ip":"203.0.113.7","org_id":"o","approved_at":"2026-01-01T00:00:00Z"}"#;
        match ServerEvent::parse("device.signed_in", data) {
            Some(ServerEvent::DeviceSignedIn(e)) => {
                assert_eq!(e.ip.as_deref(), Some("203.0.113.7"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(ServerEvent::parse("device.signed_in", "{}"), None);
        assert_eq!(
            ServerEvent::parse("later.thing", "{}"),
            Some(ServerEvent::Other("later.thing".into()))
        );
    }
}
