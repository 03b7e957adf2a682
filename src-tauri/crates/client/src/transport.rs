//! The one HTTP seam: the [`Transport`] trait and [`ReqwestTransport`], its
//! `reqwest` (rustls) implementation.

use std::time::Duration;

use oauth2::http::{self, HeaderValue, Method, StatusCode, header};

use crate::clock::BoxFuture;

/// An HTTP request with a byte body, the type `oauth2` hands its HTTP client.
pub type HttpRequest = oauth2::HttpRequest;
/// An HTTP response with a byte body, the type `oauth2` expects back.
pub type HttpResponse = oauth2::HttpResponse;

/// The largest response body read; beyond it the exchange fails. Every
/// answer this client expects is a few hundred bytes of JSON.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The `User-Agent` of every request: `devauth/<crate version>`.
pub const USER_AGENT: &str = concat!("devauth/", env!("CARGO_PKG_VERSION"));

/// One HTTP exchange, bytes in and bytes out.
///
/// Everything in this crate that talks to a server goes through this trait:
/// discovery, the device flow (handed to `oauth2` as its HTTP client), the API
/// client and revocation. [`ReqwestTransport`] is the real one; tests pass a
/// scripted fake.
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` and returns the response, whatever its status; `Err`
    /// only when there is no HTTP response.
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>>;
}

/// The request never produced an HTTP response.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
}

/// What kind of failure a [`TransportError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// No connection to the server could be made.
    Connect,
    /// The server did not answer in time.
    Timeout,
    /// Anything else, such as a malformed request or a broken response.
    Other,
}

impl TransportError {
    /// An error of `kind` whose message is `message`.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError {
            kind,
            message: message.into(),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }
}

/// `reqwest` with rustls, no redirects (a redirect could silently move a
/// request from https to http or to another host), proxies from the
/// environment (`HTTPS_PROXY`, `NO_PROXY`, ...), and bounded timeouts.
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// Builds the client: 10 s to connect, 30 s per request. Fails only when
    /// HTTPS cannot be set up.
    pub fn new() -> Result<Self, TransportError> {
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            // devauth-server closes a connection idle for 10 s (its header
            // timeout); drop ours first, so none is reused as it closes.
            .pool_idle_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| {
                TransportError::new(
                    TransportErrorKind::Other,
                    format!("cannot set up HTTPS: {}", root_cause(&e)),
                )
            })?;
        Ok(ReqwestTransport { client })
    }
}

impl Transport for ReqwestTransport {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async move {
            let target = describe_target(request.uri());
            let request = reqwest::Request::try_from(request).map_err(|e| {
                TransportError::new(
                    TransportErrorKind::Other,
                    format!("bad request to {target}: {}", root_cause(&e)),
                )
            })?;
            let response = self
                .client
                .execute(request)
                .await
                .map_err(|e| from_reqwest(&target, &e))?;
            let mut builder = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = read_bounded(response, &target).await?;
            builder.body(body).map_err(|e| {
                TransportError::new(TransportErrorKind::Other, format!("{target}: {e}"))
            })
        })
    }
}

/// The body, at most [`MAX_RESPONSE_BYTES`] of it: a server (or whatever
/// answers in its place) cannot make the client buffer without bound.
async fn read_bounded(
    mut response: reqwest::Response,
    target: &str,
) -> Result<Vec<u8>, TransportError> {
    let too_large = || {
        TransportError::new(
            TransportErrorKind::Other,
            format!(
                "{target} sent a response larger than {} KiB; is this a devauth server?",
                MAX_RESPONSE_BYTES / 1024
            ),
        )
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| from_reqwest(target, &e))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub(crate) fn from_reqwest(target: &str, e: &reqwest::Error) -> TransportError {
    let kind = if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::Other
    };
    let cause = root_cause(e);
    let message = match kind {
        TransportErrorKind::Timeout => format!("{target} did not answer in time ({cause})"),
        TransportErrorKind::Connect => format!("cannot connect to {target}: {cause}"),
        TransportErrorKind::Other => format!("request to {target} failed: {cause}"),
    };
    TransportError::new(kind, message)
}

/// The innermost error message, which is the useful one ("Connection refused",
/// "invalid peer certificate: UnknownIssuer") rather than reqwest's wrapper.
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// scheme://host[:port] only: request paths and queries stay out of messages.
fn describe_target(uri: &http::Uri) -> String {
    match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => format!("{scheme}://{authority}"),
        _ => "the server".to_string(),
    }
}

/// Some authorization servers answer token polls with HTTP 200 and an error
/// body (`{"error":"authorization_pending"}`). RFC 6749 §5.2 says 400; the
/// `oauth2` crate treats a 200 as success and fails to parse it. Turn such
/// responses into the 400 they should have been.
pub(crate) fn rewrite_ok_with_error(mut response: HttpResponse) -> HttpResponse {
    if response.status() == StatusCode::OK {
        let is_error = serde_json::from_slice::<serde_json::Value>(response.body())
            .ok()
            .and_then(|v| {
                let obj = v.as_object()?;
                Some(
                    obj.get("error").is_some_and(|e| e.is_string())
                        && !obj.contains_key("access_token"),
                )
            })
            .unwrap_or(false);
        if is_error {
            *response.status_mut() = StatusCode::BAD_REQUEST;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
    }
    response
}

pub(crate) fn build_request(
    method: Method,
    url: &url::Url,
    headers: &[(header::HeaderName, String)],
    body: Vec<u8>,
) -> Result<HttpRequest, TransportError> {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(url.as_str())
        .header(header::ACCEPT, "application/json");
    for (name, value) in headers {
        let value = HeaderValue::from_str(value).map_err(|_| {
            TransportError::new(TransportErrorKind::Other, format!("invalid {name} header"))
        })?;
        builder = builder.header(name, value);
    }
    builder
        .body(body)
        .map_err(|e| TransportError::new(TransportErrorKind::Other, format!("bad request: {e}")))
}

pub(crate) fn form_body(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        serializer.append_pair(k, v);
    }
    serializer.finish().into_bytes()
}

#[cfg(test)]
pub(crate) mod fake {
    //! A scripted [`Transport`] for unit tests: answers come from a queue, and
    //! every request is recorded.

    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;

    pub(crate) enum Answer {
        Respond {
            status: u16,
            body: String,
            headers: Vec<(String, String)>,
            /// How long the server holds the request before answering; moves
            /// the fake's clock.
            held: Duration,
        },
        Fail(TransportError),
        Hang,
    }

    #[derive(Clone, Default)]
    pub(crate) struct FakeTransport {
        answers: Arc<Mutex<VecDeque<Answer>>>,
        requests: Arc<Mutex<Vec<Recorded>>>,
        clock: Option<ManualClock>,
    }

    #[derive(Clone, Debug)]
    pub(crate) struct Recorded {
        pub method: String,
        pub url: String,
        pub headers: Vec<(String, String)>,
        pub body: String,
    }

    impl Recorded {
        pub fn form(&self) -> Vec<(String, String)> {
            url::form_urlencoded::parse(self.body.as_bytes())
                .into_owned()
                .collect()
        }

        pub fn form_value(&self, key: &str) -> Option<String> {
            self.form()
                .into_iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
        }

        pub fn header(&self, name: &str) -> Option<String> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        }
    }

    impl FakeTransport {
        pub fn new() -> Self {
            Self::default()
        }

        /// Held answers move this clock forward by the time they were held.
        pub fn with_clock(mut self, clock: ManualClock) -> Self {
            self.clock = Some(clock);
            self
        }

        pub fn respond(&self, status: u16, body: &str) -> &Self {
            self.respond_held(status, body, &[], Duration::ZERO)
        }

        /// An answer with extra headers, given after the server held the
        /// request for `held` (a long poll).
        pub fn respond_held(
            &self,
            status: u16,
            body: &str,
            headers: &[(&str, &str)],
            held: Duration,
        ) -> &Self {
            self.push(Answer::Respond {
                status,
                body: body.to_string(),
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                held,
            })
        }

        pub fn fail(&self, message: &str) -> &Self {
            self.push(Answer::Fail(TransportError::new(
                TransportErrorKind::Connect,
                message,
            )))
        }

        pub fn hang(&self) -> &Self {
            self.push(Answer::Hang)
        }

        fn push(&self, answer: Answer) -> &Self {
            self.answers.lock().unwrap().push_back(answer);
            self
        }

        pub fn requests(&self) -> Vec<Recorded> {
            self.requests.lock().unwrap().clone()
        }
    }

    impl Transport for FakeTransport {
        fn send(
            &self,
            request: HttpRequest,
        ) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
            self.requests.lock().unwrap().push(Recorded {
                method: request.method().to_string(),
                url: request.uri().to_string(),
                headers: request
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                    .collect(),
                body: String::from_utf8_lossy(request.body()).into_owned(),
            });
            let answer = self.answers.lock().unwrap().pop_front();
            let clock = self.clock.clone();
            Box::pin(async move {
                match answer {
                    Some(Answer::Respond {
                        status,
                        body,
                        headers,
                        held,
                    }) => {
                        if let Some(clock) = clock {
                            clock.advance(held);
                        }
                        let mut response = http::Response::builder()
                            .status(status)
                            .header("content-type", "application/json");
                        for (name, value) in headers {
                            response = response.header(name, value);
                        }
                        Ok(response.body(body.into_bytes()).unwrap())
                    }
                    Some(Answer::Fail(e)) => Err(e),
                    Some(Answer::Hang) => std::future::pending().await,
                    None => panic!("FakeTransport: no answer scripted for this request"),
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> HttpResponse {
        http::Response::builder()
            .status(status)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    /// A server that answers every connection with `head` and then `body_len`
    /// bytes, and closes.
    async fn serving(head: &'static str, body_len: usize) -> url::Url {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(head.as_bytes()).await;
                let chunk = vec![b'x'; 64 * 1024];
                let mut left = body_len;
                while left > 0 {
                    let n = left.min(chunk.len());
                    if stream.write_all(&chunk[..n]).await.is_err() {
                        break;
                    }
                    left -= n;
                }
                let _ = stream.shutdown().await;
            }
        });
        url::Url::parse(&format!("http://{addr}/")).unwrap()
    }

    #[tokio::test]
    async fn response_bodies_are_bounded() {
        let transport = ReqwestTransport::new().unwrap();
        let get = |url: &url::Url| build_request(Method::GET, url, &[], Vec::new()).unwrap();
        // Announced too large: refused before reading.
        let url = serving(
            "HTTP/1.1 200 OK\r\ncontent-length: 2000000\r\n\r\n",
            2_000_000,
        )
        .await;
        let err = transport.send(get(&url)).await.unwrap_err();
        assert!(err.to_string().contains("larger than 1024 KiB"), "{err}");
        // Not announced (read until close): refused once past the bound.
        let url = serving("HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n", 3_000_000).await;
        let err = transport.send(get(&url)).await.unwrap_err();
        assert!(err.to_string().contains("larger than 1024 KiB"), "{err}");
        // Within it: read whole.
        let url = serving("HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n", 1000).await;
        let ok = transport.send(get(&url)).await.unwrap();
        assert_eq!(ok.body().len(), 1000);
    }

    #[test]
    fn ok_with_error_body_becomes_400() {
        let r = rewrite_ok_with_error(response(200, r#"{"error":"authorization_pending"}"#));
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn real_success_and_real_errors_are_untouched() {
        let ok = rewrite_ok_with_error(response(
            200,
            r#"{"access_token":"x","token_type":"Bearer"}"#,
        ));
        assert_eq!(ok.status(), StatusCode::OK);
        let not_json = rewrite_ok_with_error(response(200, "hello"));
        assert_eq!(not_json.status(), StatusCode::OK);
        let err = rewrite_ok_with_error(response(400, r#"{"error":"slow_down"}"#));
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn target_description_has_no_path_or_query() {
        let uri: http::Uri = "https://auth.example.com:8443/oauth/token?x=1"
            .parse()
            .unwrap();
        assert_eq!(describe_target(&uri), "https://auth.example.com:8443");
    }
}
