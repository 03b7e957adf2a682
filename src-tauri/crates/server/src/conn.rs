//! Accepting connections: HTTP/1.1 on a Tokio listener, with the limits a
//! server on the open internet needs and `axum::serve` does not set.
//!
//! - **Header timeout**: from the moment a connection is ready for a request
//!   (just opened, or idle after a response) its request head must arrive
//!   within [`Limits::header_timeout`], or the connection is closed. This one
//!   timer closes half-sent requests and idle keep-alive connections alike.
//! - **Body timeout**: once a handler starts reading a body, all of it must
//!   arrive within [`Limits::body_timeout`]; a trickling body fails the request
//!   (bodies are small: 16 KiB at most).
//! - **Connection cap**: at most [`Limits::max_connections`] at once. Beyond
//!   it a connection is answered `503` with `Retry-After` and closed, so a
//!   client learns why instead of hanging in the listen backlog.
//! - **Header size**: a connection buffers at most [`MAX_HEAD_BYTES`].
//!
//! Stopping stops accepting, asks every connection to finish its request in
//! progress and close, and waits for them up to [`GRACE`]; what is still open
//! then (an event stream, a long poll) is cut.

use crate::metrics::Metrics;
use crate::state::AppState;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// The most bytes of request head a connection buffers (hyper's read buffer).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How long stopping waits for requests in progress.
pub const GRACE: Duration = Duration::from_secs(10);

pub use crate::config::ConnectionLimits as Limits;

/// The answer to a connection over the cap.
fn busy() -> String {
    let body = serde_json::to_string(&devauth_proto::ErrorBody {
        error: "temporarily_unavailable".into(),
        error_description: "the server has too many connections open; retry in a moment".into(),
        interval: None,
    })
    .unwrap_or_default();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncache-control: no-store\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Serves `app` on `listener` with `state`'s connection limits until `stop`
/// fires; then waits for the connections in progress to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    state: AppState,
    stop: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let limits = state.config.connections;
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    let http = Arc::new(http);
    // Every connection watches `closing` (dropped on stop: they shut down
    // gracefully).
    let (closing, _) = watch::channel(());
    let mut connections = JoinSet::new();
    tokio::pin!(stop);
    loop {
        // Forget the connections that have ended.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // Out of file descriptors and the like: pause, don't spin.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            Metrics::inc(&state.metrics.connections_refused, 1);
            tokio::spawn(turn_away(stream));
            continue;
        };
        let app = app.clone();
        let body_timeout = limits.body_timeout;
        let service = tower::service_fn(move |req: Request<Incoming>| {
            let mut req = req.map(|body| Body::new(Deadline::new(body, body_timeout)));
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(req)
        });
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let mut closing = closing.subscribe();
        connections.spawn(async move {
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = closing.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    drop(closing);
    let drained = tokio::time::timeout(GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!(
            open = connections.len(),
            "cutting connections still open after the grace period"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Answers a connection over the cap with a fixed 503 and closes it, after
/// reading (a bounded amount of) what the client sent, so that it receives the
/// answer rather than a reset.
async fn turn_away(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let mut buf = [0u8; 4096];
        let _ = stream.write_all(busy().as_bytes()).await;
        let _ = stream.shutdown().await;
        let mut read = 0;
        while read < 64 * 1024 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    })
    .await;
}

/// A request body that fails once `limit` has passed since it was first read.
struct Deadline {
    inner: Incoming,
    limit: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Deadline {
    fn new(inner: Incoming, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            sleep: None,
        }
    }
}

/// The error a body that took too long ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimeout;

impl hyper::body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        // Armed lazily: a request whose body is never read costs no timer.
        let limit = this.limit;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(sleep.as_mut().poll(cx));
        Poll::Ready(Some(Err(Box::new(BodyTimeout))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
