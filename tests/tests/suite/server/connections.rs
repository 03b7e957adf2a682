//! What a stranger can hold open: half-sent requests, more connections than
//! the server serves, trickling bodies, event streams and long polls by the
//! hundred. The listener is the same on both backends, so these run on SQLite.

use devauth_harness::*;
use devauth_server::Config;
use devauth_server::client_ip::TrustedProxies;
use devauth_server::conn::Limits;
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn with_limits(limits: Limits) -> Config {
    Config {
        connections: limits,
        ..Config::default()
    }
}

/// Reads until the server closes `stream` (EOF or reset), for at most
/// `within`; true when it did.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// A raw HTTP/1.1 request on a new connection; answers the whole response text.
async fn raw(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("sends the request");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_closed_and_health_answers_meanwhile() {
    let srv = spawn_server_with(
        Backend::Sqlite,
        with_limits(Limits {
            header_timeout: Duration::from_secs(1),
            ..Limits::default()
        }),
    )
    .await;
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(srv.server.addr).await.expect("connects");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await
            .expect("sends half a head");
        slow.push(stream);
    }
    // 300 half-sent heads tie up nothing: health answers at once.
    let health = srv.get("/healthz", None).await;
    assert_eq!(health.status, 200, "{:?}", health.body);
    // And the server closes every one of them (before the fix: never).
    for (i, stream) in slow.iter_mut().enumerate() {
        assert!(
            closed_by_server(stream, Duration::from_secs(10)).await,
            "half-sent request {i} is still open"
        );
    }
    // An idle keep-alive connection is closed by the same timer.
    let mut idle = TcpStream::connect(srv.server.addr).await.expect("connects");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("sends a request");
    assert!(closed_by_server(&mut idle, Duration::from_secs(10)).await);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_told_to_retry() {
    let srv = spawn_server_with(
        Backend::Sqlite,
        with_limits(Limits {
            max_connections: 20,
            ..Limits::default()
        }),
    )
    .await;
    let addr = srv.server.addr;
    // Twenty kept-alive connections, each answered once (so surely accepted).
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(addr).await.expect("connects");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .expect("sends");
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.expect("answered");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let answer = raw(addr, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or_default())
        .expect("a JSON error body");
    assert_eq!(body["error"], "temporarily_unavailable");
    // Closing them makes room again.
    drop(held);
    let mut served = false;
    for _ in 0..100 {
        let answer = raw(
            addr,
            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        )
        .await;
        if answer.starts_with("HTTP/1.1 200") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "a connection is served once the others closed");
    let metrics = srv.get("/metrics", None).await;
    let text = metrics.body.as_str().unwrap_or_default().to_string();
    let refused = text
        .lines()
        .find_map(|l| l.strip_prefix("devauth_connections_refused_total "))
        .and_then(|n| n.parse::<u64>().ok())
        .expect("the counter is exported");
    assert!(refused >= 1, "{text}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_fails_and_stores_nothing() {
    let srv = spawn_server_with(
        Backend::Sqlite,
        with_limits(Limits {
            body_timeout: Duration::from_secs(1),
            ..Limits::default()
        }),
    )
    .await;
    let mut stream = TcpStream::connect(srv.server.addr).await.expect("connects");
    stream
        .write_all(
            b"POST /oauth/device_authorization HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\n\
              client_id=devauth-cli&",
        )
        .await
        .expect("sends the start of a body");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(read.is_ok(), "the server gave up on the body: {answer}");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "a trickling body is refused: {answer}"
    );
    let audit = srv
        .server
        .state
        .store
        .dump_for_tests()
        .await
        .expect("the store dumps");
    assert!(
        !audit.contains("device.requested"),
        "no device authorization was started"
    );
    srv.stop().await;
}

fn capped_streams() -> Config {
    Config {
        trusted_proxies: TrustedProxies::parse("127.0.0.1").expect("a proxy list"),
        streams_per_token: 2,
        waits_per_address: 3,
        ..Config::default()
    }
}

async fn stream_from(srv: &TestServer, token: &str, address: &str) -> reqwest::Response {
    srv.http
        .get(srv.at("/api/events"))
        .bearer_auth(token)
        .header("x-forwarded-for", address)
        .send()
        .await
        .expect("the event stream answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_are_capped_per_token_and_per_address() {
    let srv = spawn_server_with(Backend::Sqlite, capped_streams()).await;
    let ada = srv.claim().await;
    let other = srv.personal_token(OWNER_EMAIL, "acme").await;
    let mut open = Vec::new();
    for _ in 0..2 {
        let stream = stream_from(&srv, &ada, "203.0.113.1").await;
        assert_eq!(stream.status(), 200);
        open.push(stream);
    }
    let third = stream_from(&srv, &ada, "198.51.100.7").await;
    assert_eq!(third.status(), 429, "a third stream for one token");
    let body: Value = third.json().await.expect("a JSON error");
    assert_eq!(body["error"], "rate_limited");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("this token already has 2 event streams")),
        "{body}"
    );
    // Another token from the same address: one more fits, then the address is full.
    let from_other = stream_from(&srv, &other, "203.0.113.1").await;
    assert_eq!(from_other.status(), 200);
    open.push(from_other);
    let over = stream_from(&srv, &other, "203.0.113.1").await;
    assert_eq!(over.status(), 429);
    let body: Value = over.json().await.expect("a JSON error");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("your address already holds 3")),
        "{body}"
    );
    // The same token from elsewhere is served.
    let elsewhere = stream_from(&srv, &other, "198.51.100.7").await;
    assert_eq!(elsewhere.status(), 200);
    drop((open, elsewhere));
    srv.stop().await;
}

async fn long_poll(
    srv: &TestServer,
    device_code: &str,
    address: &str,
    wait: u32,
) -> reqwest::Response {
    held_poll(srv, device_code, address, wait)
        .await
        .expect("the poll ends")
}

/// The wait a held poll was given (`Preference-Applied`); `None`: not held.
fn applied(response: &reqwest::Response) -> Option<&str> {
    response
        .headers()
        .get("preference-applied")
        .and_then(|v| v.to_str().ok())
}

/// [`long_poll`] in the background, for a poll the server is to hold.
fn held_poll(
    srv: &TestServer,
    device_code: &str,
    address: &str,
    wait: u32,
) -> tokio::task::JoinHandle<reqwest::Response> {
    let (http, url) = (srv.http.clone(), srv.at("/oauth/token"));
    let (code, address) = (device_code.to_string(), address.to_string());
    tokio::spawn(async move {
        http.post(url)
            .header("x-forwarded-for", address)
            .header("prefer", format!("wait={wait}"))
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", code.as_str()),
                ("client_id", "devauth-cli"),
            ])
            .send()
            .await
            .expect("the held poll answers")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polls_are_capped_per_address() {
    let config = Config {
        waits_per_address: 1,
        ..capped_streams()
    };
    let srv = spawn_server_with(Backend::Sqlite, config).await;
    let mut devices = Vec::new();
    for i in 0..3 {
        let started = srv
            .start_device("devauth-cli", &format!("device {i}"))
            .await;
        devices.push(
            started["device_code"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    let first = held_poll(&srv, &devices[0], "203.0.113.1", 3);
    until_held(&srv.server, 1).await;
    // The address holds its one long poll: the next answers at once, plainly.
    let second = long_poll(&srv, &devices[1], "203.0.113.1", 30).await;
    assert_eq!(second.status(), 400);
    assert!(
        applied(&second).is_none(),
        "not held: {:?}",
        second.headers()
    );
    // Another address still gets its wait.
    let third = long_poll(&srv, &devices[2], "198.51.100.7", 1).await;
    assert_eq!(applied(&third), Some("wait=1"));
    let first = first.await.expect("the held poll ends");
    assert_eq!(applied(&first), Some("wait=3"));
    srv.stop().await;
}

/// One device authorization holds at most two long polls (a client retrying
/// while its first is held), whatever addresses they come from: a third is
/// answered at once, and the two held ones still get their wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polls_are_capped_per_device_authorization() {
    let srv = spawn_server_with(Backend::Sqlite, capped_streams()).await;
    let started = srv.start_device("devauth-cli", "one device").await;
    let code = started["device_code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let interval = started["interval"].as_i64().unwrap_or(5);
    let mut held = Vec::new();
    for (n, address) in ["203.0.113.1", "203.0.113.2"].into_iter().enumerate() {
        // Each poll waits its interval (on the server's clock), so none is
        // a slow_down.
        srv.clock.advance(interval + 1);
        held.push(held_poll(&srv, &code, address, 3));
        until_held(&srv.server, n + 1).await;
    }
    srv.clock.advance(interval + 1);
    let third = long_poll(&srv, &code, "198.51.100.7", 30).await;
    assert_eq!(third.status(), 400);
    assert!(
        applied(&third).is_none(),
        "a third poll of one authorization is not held: {:?}",
        third.headers()
    );
    let body: serde_json::Value = third.json().await.expect("an OAuth error");
    assert_eq!(body["error"], "authorization_pending", "{body}");
    for poll in held {
        let answer = poll.await.expect("the held poll ends");
        assert_eq!(applied(&answer), Some("wait=3"));
    }
    srv.stop().await;
}

/// DNS rebinding against a server that answers only to its own address (the
/// desktop app's bundled one): a page on a name rebound to 127.0.0.1 still
/// sends its own name as `Host`, and is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebound_name_cannot_reach_a_loopback_only_server() {
    let config = Config {
        own_host_only: true,
        ..Config::default()
    };
    let srv = spawn_server_with(Backend::Sqlite, config).await;
    let addr = srv.server.addr;
    let port = addr.port();
    for host in [
        format!("evil.example:{port}"),
        "127.0.0.1".to_string(),
        String::new(),
    ] {
        let answer = raw(
            addr,
            &format!("GET /api/setup/status HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(
            answer.starts_with("HTTP/1.1 421"),
            "Host {host:?}: {answer}"
        );
        assert!(answer.contains("answers only as 127.0.0.1:"), "{answer}");
    }
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let answer = raw(
            addr,
            &format!("GET /api/setup/status HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "Host {host:?}: {answer}"
        );
    }
    srv.stop().await;
}
