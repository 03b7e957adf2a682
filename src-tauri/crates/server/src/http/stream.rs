//! `GET /api/events`: Server-Sent Events for the caller's token —
//! `token.revoked` (then the stream ends), `token.expiring` (7 days before),
//! `membership.changed` (role changed or membership gone). Fed by the event
//! bus, so a revocation on this or another replica arrives at once.
//!
//! The token comes in the `Authorization` header or, for clients that cannot
//! set headers (browsers' `EventSource`), as `?token=`; request logs name the
//! route only, never the URL.

use super::ApiResult;
use crate::auth::{authenticate, bearer};
use crate::error::Error;
use crate::events::Event;
use crate::holds::Hold;
use crate::metrics::Metrics;
use crate::model::RequestMeta;
use crate::policy::{self, Act, Principal};
use crate::request::Meta;
use crate::route_table::Routes;
use crate::secret::sha256_hex;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use devauth_proto::{
    DeviceSignedInEvent, ErrorBody, MembershipChangedEvent, TokenExpiringEvent, TokenRevokedEvent,
};
use futures_util::Stream;
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// How long before expiry `token.expiring` is sent, seconds.
pub const EXPIRING_NOTICE_SECS: i64 = 7 * 86_400;

pub fn routes() -> Routes {
    Routes::new().add("/api/events", get(events))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct EventsQuery {
    /// The token, for clients that cannot set headers (`EventSource`).
    token: Option<String>,
}

struct Watch {
    /// This stream's place under the caps; given back when the stream ends.
    _hold: Hold,
    state: AppState,
    principal: Principal,
    hash: String,
    rx: tokio::sync::broadcast::Receiver<Event>,
    expiring_sent: bool,
    done: bool,
}

fn sse(name: &str, data: &impl serde::Serialize) -> SseEvent {
    SseEvent::default()
        .event(name)
        .data(serde_json::to_string(data).unwrap_or_default())
}

impl Watch {
    fn token_id(&self) -> &str {
        self.principal
            .token()
            .map(|t| t.id.as_str())
            .unwrap_or_default()
    }

    fn expires_at(&self) -> Option<i64> {
        self.principal.token().and_then(|t| t.expires_at)
    }

    /// Is the token still good? (After a user-wide revocation or a missed event.)
    async fn still_valid(&self) -> bool {
        match self.state.store.token_by_hash(&self.hash).await {
            Ok(Some(auth)) => auth.token.is_active(self.state.now()),
            Ok(None) => false,
            Err(_) => true, // the database hiccuped: don't sign anyone out for that
        }
    }

    fn revoked(&mut self, reason: &str) -> SseEvent {
        self.done = true;
        let event = TokenRevokedEvent {
            token_id: self.token_id().to_string(),
            reason: reason.to_string(),
        };
        sse("token.revoked", &event)
    }

    fn expiring(&mut self) -> SseEvent {
        self.expiring_sent = true;
        let at = self.expires_at().unwrap_or_default();
        let days = ((at - self.state.now()).max(0) + 86_399) / 86_400;
        let event = TokenExpiringEvent {
            token_id: self.token_id().to_string(),
            expires_at: crate::clock::rfc3339(at),
            days_left: days,
        };
        sse("token.expiring", &event)
    }

    async fn next(&mut self) -> Option<SseEvent> {
        if self.done {
            return None;
        }
        let now = self.state.now();
        let notice_at = self.expires_at().map(|at| at - EXPIRING_NOTICE_SECS);
        if !self.expiring_sent && notice_at.is_some_and(|t| t <= now) {
            return Some(self.expiring());
        }
        let until_notice = match (self.expiring_sent, notice_at) {
            (false, Some(t)) => Duration::from_secs((t - now).max(0) as u64),
            _ => Duration::from_secs(365 * 86_400),
        };
        let notice = tokio::time::sleep(until_notice);
        tokio::pin!(notice);
        loop {
            tokio::select! {
                _ = &mut notice, if !self.expiring_sent => return Some(self.expiring()),
                event = self.rx.recv() => match event {
                    Ok(Event::TokenRevoked { token_id, reason }) if *token_id == *self.token_id() => {
                        return Some(self.revoked(&reason));
                    }
                    Ok(Event::UserTokensRevoked { user_id, org_id, reason })
                        if Some(&user_id) == self.principal.user_id()
                            && org_id.as_ref().is_none_or(|o| Some(o) == self.principal.org_id()) =>
                    {
                        if !self.still_valid().await {
                            return Some(self.revoked(&reason));
                        }
                    }
                    Ok(Event::DeviceSignedIn { user_id, token_id, device_name, client_id, ip, org_id, approved_at })
                        if Some(&user_id) == self.principal.user_id() && *token_id != *self.token_id() =>
                    {
                        let event = DeviceSignedInEvent {
                            token_id: token_id.to_string(),
                            device_name,
                            client_id,
                            ip,
                            org_id: org_id.to_string(),
                            approved_at: crate::clock::rfc3339(approved_at),
                        };
                        return Some(sse("device.signed_in", &event));
                    }
                    Ok(Event::MembershipChanged { user_id, org_id, role })
                        if Some(&user_id) == self.principal.user_id() && Some(&org_id) == self.principal.org_id() =>
                    {
                        let event = MembershipChangedEvent { org_id: org_id.to_string(), role };
                        return Some(sse("membership.changed", &event));
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        if !self.still_valid().await {
                            return Some(self.revoked("revoked"));
                        }
                    }
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    }
}

/// A place for one more event stream: under the global cap, the token's and
/// the client address's, or `TooManyOpen` saying which is full.
fn hold_stream(state: &AppState, principal: &Principal, meta: &RequestMeta) -> Result<Hold, Error> {
    let config = &state.config;
    let token = principal.token().map(|t| t.id.as_str()).unwrap_or_default();
    let wanted = [
        ("streams".to_string(), config.max_streams),
        (format!("stream-token:{token}"), config.streams_per_token),
        (crate::holds::address_key(meta), config.waits_per_address),
    ];
    state.holds.take(&wanted).map_err(|full| {
        Metrics::inc(&state.metrics.holds_refused, 1);
        Error::TooManyOpen(if full.starts_with("stream-token:") {
            format!(
                "this token already has {} event streams open; close one first",
                config.streams_per_token
            )
        } else if full.starts_with(crate::holds::ADDRESS) {
            format!(
                "your address already holds {} event streams or long polls open; close some first",
                config.waits_per_address
            )
        } else {
            "the server has as many event streams open as it serves; try again later".to_string()
        })
    })
}

/// Server-sent events for the caller's token: `token.revoked` (then the
/// stream ends), `token.expiring`, `membership.changed`, and
/// `device.signed_in` when a device is signed in as the same user; data as
/// in the `*Event` schemas.
#[utoipa::path(get, path = "/api/events", tag = "account", security(("bearer" = [])),
    params(EventsQuery),
    responses((status = 200, description = "a text/event-stream", content_type = "text/event-stream"), (status = 401, body = ErrorBody), (status = 429, description = "too many streams open for this token or address", body = ErrorBody)))]
async fn events(
    State(state): State<AppState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    Query(query): Query<EventsQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let token = bearer(header)
        .map(str::to_string)
        .or(query.token)
        .ok_or(Error::Unauthenticated)?;
    // Subscribe before checking, so nothing between the check and the stream is missed.
    let rx = state.bus.subscribe();
    let principal = authenticate(&state, Some(&token), &meta).await?;
    policy::check(&principal, Act::ReadProfile)?;
    let hold = hold_stream(&state, &principal, &meta)?;
    let watch = Watch {
        _hold: hold,
        hash: sha256_hex(&token),
        state,
        principal,
        rx,
        expiring_sent: false,
        done: false,
    };
    let stream = futures_util::stream::unfold(watch, |mut watch| async move {
        watch.next().await.map(|event| (Ok(event), watch))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
