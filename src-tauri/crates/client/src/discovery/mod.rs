//! Server URLs ([`ServerUrl`]) and OAuth metadata ([`discover`]): RFC 8414,
//! falling back to OpenID discovery, with the endpoints checked.

mod server_url;

use oauth2::http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::transport::{Transport, TransportError, build_request};

pub use server_url::{DEFAULT_SERVER, ServerUrl, UrlError, check_transport_security};

/// The fields of RFC 8414 / OpenID discovery metadata this client reads.
/// Everything is optional so that servers which leave fields out still parse.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Metadata {
    /// The server's issuer identifier.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Where a device authorization starts; without it there is no device flow.
    #[serde(default)]
    pub device_authorization_endpoint: Option<String>,
    /// Where the device code is exchanged for a token.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// RFC 7009 token revocation, when the server offers it.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// The grant types the server lists.
    #[serde(default)]
    pub grant_types_supported: Option<Vec<String>>,
    /// The scopes the server lists.
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
}

/// Checked endpoints for one server, ready to use.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// The server the endpoints belong to.
    pub server: ServerUrl,
    /// The device authorization endpoint.
    pub device_authorization: Url,
    /// The token endpoint.
    pub token: Url,
    /// The revocation endpoint; `None` when the server offers none.
    pub revocation: Option<Url>,
    /// The scopes the server lists; empty when it lists none.
    pub scopes_supported: Vec<String>,
    /// The metadata document the endpoints came from.
    pub metadata_url: Url,
}

impl Endpoints {
    /// `["openid"]` when the server advertises it, otherwise no scope at all:
    /// some servers refuse to approve a request without one, devauth-server
    /// takes none.
    pub fn default_scopes(&self) -> Vec<String> {
        if self.scopes_supported.iter().any(|s| s == "openid") {
            vec!["openid".to_string()]
        } else {
            Vec::new()
        }
    }
}

/// The server's OAuth metadata cannot be fetched or used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DiscoveryError {
    /// The server URL is not acceptable.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// A metadata request got no HTTP response.
    #[error("{source}. Check the server URL ({server}) and your network")]
    Unreachable {
        /// The server, as its canonical URL.
        server: String,
        /// What went wrong with the request.
        #[source]
        source: TransportError,
    },
    /// No metadata location answered 200.
    #[error(
        "{server} publishes no OAuth metadata (tried {tried}). \
         Is this the right server URL?"
    )]
    NotFound {
        /// The server, as its canonical URL.
        server: String,
        /// The paths tried, comma-separated.
        tried: String,
    },
    /// Metadata that does not parse, or whose endpoints are missing, malformed
    /// or plain http where that is not allowed.
    #[error("{server}: the metadata at {url} is not valid: {reason}")]
    BadMetadata {
        /// The server, as its canonical URL.
        server: String,
        /// Where the metadata came from.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The metadata has no `device_authorization_endpoint`.
    #[error(
        "{server} does not offer device sign-in (no device_authorization_endpoint \
         in its metadata)"
    )]
    NoDeviceFlow {
        /// The server, as its canonical URL.
        server: String,
    },
}

/// The metadata locations to try, in order. RFC 8414 puts the well-known
/// segment before any path of the issuer; OpenID discovery appends it.
fn candidate_urls(server: &ServerUrl) -> Vec<Url> {
    let mut out = Vec::new();
    let base = server.url();
    let path = base.path().trim_end_matches('/');
    if !path.is_empty() {
        let mut rfc8414 = base.clone();
        rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
        out.push(rfc8414);
    }
    for suffix in [
        ".well-known/oauth-authorization-server",
        ".well-known/openid-configuration",
    ] {
        if let Ok(url) = server.join(suffix) {
            out.push(url);
        }
    }
    out
}

/// Fetches the server's metadata and checks the endpoints in it.
pub async fn discover(
    transport: &dyn Transport,
    server: &ServerUrl,
    allow_insecure_http: bool,
) -> Result<Endpoints, DiscoveryError> {
    let candidates = candidate_urls(server);
    let mut unreadable = None;
    for url in &candidates {
        let request = build_request(Method::GET, url, &[], Vec::new()).map_err(|source| {
            DiscoveryError::Unreachable {
                server: server.to_string(),
                source,
            }
        })?;
        let response =
            transport
                .send(request)
                .await
                .map_err(|source| DiscoveryError::Unreachable {
                    server: server.to_string(),
                    source,
                })?;
        if response.status() != StatusCode::OK {
            continue;
        }
        // A 200 that is not metadata (an HTML page, say) is remembered, and
        // the next location is tried.
        match serde_json::from_slice::<Metadata>(response.body()) {
            Ok(metadata) => {
                return endpoints_from(server, url.clone(), metadata, allow_insecure_http);
            }
            Err(e) => {
                unreadable.get_or_insert(DiscoveryError::BadMetadata {
                    server: server.to_string(),
                    url: url.to_string(),
                    reason: e.to_string(),
                });
            }
        }
    }
    Err(unreadable.unwrap_or_else(|| DiscoveryError::NotFound {
        server: server.to_string(),
        tried: candidates
            .iter()
            .map(|u| u.path().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    }))
}

/// Validates metadata: endpoints must parse and follow the same http rule as
/// the server URL itself (an https server cannot send us to plain http).
pub fn endpoints_from(
    server: &ServerUrl,
    metadata_url: Url,
    metadata: Metadata,
    allow_insecure_http: bool,
) -> Result<Endpoints, DiscoveryError> {
    let bad = |reason: String| DiscoveryError::BadMetadata {
        server: server.to_string(),
        url: metadata_url.to_string(),
        reason,
    };
    // RFC 8414 §3.3: the issuer must be the one the metadata was asked of,
    // or a server could hand out another's endpoints as its own.
    let expected = server.url().as_str().trim_end_matches('/');
    match metadata.issuer.as_deref().map(|i| i.trim_end_matches('/')) {
        Some(issuer) if issuer == expected => {}
        Some(issuer) => {
            return Err(bad(format!(
                "it names the issuer {issuer}, not {expected} (RFC 8414 §3.3); \
                 if that is the same server, use {issuer} as the server URL"
            )));
        }
        None => return Err(bad("it names no issuer (RFC 8414 §3.3)".to_string())),
    }
    let check = |field: &str, value: &str| -> Result<Url, DiscoveryError> {
        let url = Url::parse(value).map_err(|e| bad(format!("{field} {value}: {e}")))?;
        check_transport_security(&url, allow_insecure_http).map_err(|e| match e {
            UrlError::InsecureHttp { .. } => bad(format!("{field} {value} is plain http")),
            UrlError::Invalid { reason, .. } => bad(format!("{field} {value}: {reason}")),
        })?;
        Ok(url)
    };
    let device = metadata
        .device_authorization_endpoint
        .as_deref()
        .ok_or_else(|| DiscoveryError::NoDeviceFlow {
            server: server.to_string(),
        })?;
    let device_authorization = check("device_authorization_endpoint", device)?;
    let token = check(
        "token_endpoint",
        metadata
            .token_endpoint
            .as_deref()
            .ok_or_else(|| bad("no token_endpoint".to_string()))?,
    )?;
    let revocation = metadata
        .revocation_endpoint
        .as_deref()
        .map(|r| check("revocation_endpoint", r))
        .transpose()?;
    Ok(Endpoints {
        server: server.clone(),
        device_authorization,
        token,
        revocation,
        scopes_supported: metadata.scopes_supported.unwrap_or_default(),
        metadata_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::fake::FakeTransport;

    #[test]
    fn metadata_locations() {
        let plain = ServerUrl::parse("https://a.example", false).unwrap();
        let paths: Vec<String> = candidate_urls(&plain)
            .iter()
            .map(|u| u.to_string())
            .collect();
        assert_eq!(
            paths,
            [
                "https://a.example/.well-known/oauth-authorization-server",
                "https://a.example/.well-known/openid-configuration"
            ]
        );
        let nested = ServerUrl::parse("https://a.example/tenant", false).unwrap();
        let first = candidate_urls(&nested)[0].to_string();
        assert_eq!(
            first,
            "https://a.example/.well-known/oauth-authorization-server/tenant"
        );
    }

    const DEVAUTH_METADATA: &str = r#"{
        "issuer": "http://127.0.0.1:8750",
        "device_authorization_endpoint": "http://127.0.0.1:8750/oauth/device_authorization",
        "token_endpoint": "http://127.0.0.1:8750/oauth/token",
        "revocation_endpoint": "http://127.0.0.1:8750/oauth/revoke",
        "grant_types_supported": ["urn:ietf:params:oauth:grant-type:device_code"]
    }"#;

    #[tokio::test]
    async fn reads_rfc8414_metadata() {
        let fake = FakeTransport::new();
        fake.respond(200, DEVAUTH_METADATA);
        let server = ServerUrl::parse("http://127.0.0.1:8750", false).unwrap();
        let ep = discover(&fake, &server, false).await.unwrap();
        assert_eq!(ep.token.as_str(), "http://127.0.0.1:8750/oauth/token");
        assert_eq!(
            ep.revocation.unwrap().as_str(),
            "http://127.0.0.1:8750/oauth/revoke"
        );
        assert!(ep.scopes_supported.is_empty());
        let reqs = fake.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!(
            reqs[0].url,
            "http://127.0.0.1:8750/.well-known/oauth-authorization-server"
        );
    }

    #[tokio::test]
    async fn falls_back_to_openid_configuration() {
        let fake = FakeTransport::new();
        fake.respond(404, "{}").respond(
            200,
            r#"{"issuer":"https://idp.example",
                "device_authorization_endpoint":"https://idp.example/device",
                "token_endpoint":"https://idp.example/token",
                "scopes_supported":["openid","profile"]}"#,
        );
        let server = ServerUrl::parse("https://idp.example", false).unwrap();
        let ep = discover(&fake, &server, false).await.unwrap();
        assert_eq!(ep.metadata_url.path(), "/.well-known/openid-configuration");
        assert_eq!(ep.default_scopes(), ["openid"]);
        assert!(ep.revocation.is_none());
    }

    #[tokio::test]
    async fn an_html_page_at_the_first_location_is_skipped() {
        let fake = FakeTransport::new();
        fake.respond(200, "<html>hi</html>")
            .respond(200, DEVAUTH_METADATA);
        let server = ServerUrl::parse("http://127.0.0.1:8750", false).unwrap();
        let ep = discover(&fake, &server, false).await.unwrap();
        assert_eq!(ep.metadata_url.path(), "/.well-known/openid-configuration");

        let fake = FakeTransport::new();
        fake.respond(200, "<html>hi</html>").respond(404, "");
        let err = discover(&fake, &server, false).await.unwrap_err();
        assert!(matches!(err, DiscoveryError::BadMetadata { .. }), "{err}");
    }

    #[tokio::test]
    async fn no_metadata_anywhere() {
        let fake = FakeTransport::new();
        fake.respond(404, "{}").respond(404, "{}");
        let server = ServerUrl::parse("https://idp.example", false).unwrap();
        let err = discover(&fake, &server, false).await.unwrap_err();
        assert!(matches!(err, DiscoveryError::NotFound { .. }), "{err}");
    }

    #[tokio::test]
    async fn unreachable_server_is_a_network_error() {
        let fake = FakeTransport::new();
        fake.fail("connection refused");
        let server = ServerUrl::parse("https://idp.example", false).unwrap();
        let err = discover(&fake, &server, false).await.unwrap_err();
        assert!(matches!(err, DiscoveryError::Unreachable { .. }));
        assert!(err.to_string().contains("connection refused"), "{err}");
    }

    #[test]
    fn metadata_cannot_downgrade_to_plain_http() {
        let server = ServerUrl::parse("https://idp.example", false).unwrap();
        let md = Metadata {
            issuer: Some("https://idp.example".into()),
            device_authorization_endpoint: Some("http://idp.example/device".into()),
            token_endpoint: Some("https://idp.example/token".into()),
            ..Default::default()
        };
        let url = server
            .join(".well-known/oauth-authorization-server")
            .unwrap();
        let err = endpoints_from(&server, url, md, false).unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");
    }

    #[tokio::test]
    async fn metadata_for_another_issuer_is_refused() {
        let fake = FakeTransport::new();
        fake.respond(
            200,
            &DEVAUTH_METADATA.replace(
                "\"issuer\": \"http://127.0.0.1:8750\"",
                "\"issuer\": \"https://evil.example\"",
            ),
        );
        let server = ServerUrl::parse("http://127.0.0.1:8750", false).unwrap();
        let err = discover(&fake, &server, false).await.unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("names the issuer https://evil.example, not http://127.0.0.1:8750"),
            "{message}"
        );
        let fake = FakeTransport::new();
        fake.respond(
            200,
            &DEVAUTH_METADATA.replace("\"issuer\": \"http://127.0.0.1:8750\",", ""),
        );
        let err = discover(&fake, &server, false).await.unwrap_err();
        assert!(err.to_string().contains("names no issuer"), "{err}");
        // A trailing slash on either side is the same issuer.
        let fake = FakeTransport::new();
        fake.respond(
            200,
            &DEVAUTH_METADATA.replace("8750\",\n        \"device", "8750/\",\n        \"device"),
        );
        assert!(discover(&fake, &server, false).await.is_ok());
    }

    #[test]
    fn device_endpoint_is_required() {
        let server = ServerUrl::parse("https://idp.example", false).unwrap();
        let md = Metadata {
            issuer: Some("https://idp.example".into()),
            token_endpoint: Some("https://idp.example/token".into()),
            ..Default::default()
        };
        let url = server
            .join(".well-known/oauth-authorization-server")
            .unwrap();
        let err = endpoints_from(&server, url, md, false).unwrap_err();
        assert!(matches!(err, DiscoveryError::NoDeviceFlow { .. }));
    }
}
