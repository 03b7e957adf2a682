use std::fmt;
use std::net::IpAddr;

use url::{Host, Url};

/// Where a devauth server listens when nothing else is configured.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8750";

/// A server base URL in its one canonical spelling: lowercase scheme and
/// host, no default port, no trailing slash, no query, fragment or user info.
/// The canonical string is also the keychain account name, so
/// `HTTPS://Auth.Example.com/` and `https://auth.example.com` share one token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerUrl {
    url: Url,
    canonical: String,
}

/// A server or endpoint URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not a usable URL: it does not parse, is not http(s), has no host, or
    /// carries user info, a query or a fragment.
    #[error("`{input}` is not a valid server URL ({reason})")]
    Invalid {
        /// The URL in question.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Plain `http://` to a host that is not loopback, without the override.
    #[error(
        "refusing plain http:// to {host}: the token would cross the network unencrypted. \
         Use https://, or pass --allow-insecure-http if you really mean it"
    )]
    InsecureHttp {
        /// The host the URL points at.
        host: String,
    },
}

impl ServerUrl {
    /// Parses and normalizes a server URL. `auth.example.com` means
    /// `https://auth.example.com`. Plain `http://` is accepted only for
    /// loopback hosts unless `allow_insecure_http` is set.
    pub fn parse(input: &str, allow_insecure_http: bool) -> Result<ServerUrl, UrlError> {
        let trimmed = input.trim();
        let invalid = |reason: &str| UrlError::Invalid {
            input: trimmed.to_string(),
            reason: reason.to_string(),
        };
        if trimmed.is_empty() {
            return Err(invalid("empty"));
        }
        let with_scheme = if trimmed.contains("://") {
            trimmed.to_string()
        } else {
            format!("https://{trimmed}")
        };
        let mut url = Url::parse(&with_scheme).map_err(|e| invalid(&e.to_string()))?;
        check_transport_security(&url, allow_insecure_http)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("user names and passwords do not belong in the URL"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("no query string or #fragment, please"));
        }
        let path = url.path().trim_end_matches('/').to_string();
        url.set_path(&path);
        let canonical = url.as_str().trim_end_matches('/').to_string();
        Ok(ServerUrl { url, canonical })
    }

    /// The canonical spelling, which is also the keychain account name.
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    /// The parsed URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Whether the host is `localhost` or a loopback address.
    pub fn is_loopback(&self) -> bool {
        is_loopback(&self.url)
    }

    /// Plain http to a non-loopback host (only possible with the override).
    pub fn is_insecure(&self) -> bool {
        self.url.scheme() == "http" && !self.is_loopback()
    }

    /// `{server}/{path}`, keeping any path prefix the server lives under.
    pub fn join(&self, path: &str) -> Result<Url, UrlError> {
        let joined = format!("{}/{}", self.canonical, path.trim_start_matches('/'));
        Url::parse(&joined).map_err(|e| UrlError::Invalid {
            input: joined,
            reason: e.to_string(),
        })
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

/// https anywhere; plain http only to loopback unless explicitly allowed.
pub fn check_transport_security(url: &Url, allow_insecure_http: bool) -> Result<(), UrlError> {
    let invalid = |reason: String| UrlError::Invalid {
        input: url.to_string(),
        reason,
    };
    match url.scheme() {
        "https" => {}
        "http" => {
            if !is_loopback(url) && !allow_insecure_http {
                return Err(UrlError::InsecureHttp {
                    host: url.host_str().unwrap_or_default().to_string(),
                });
            }
        }
        other => return Err(invalid(format!("scheme {other}: is not http or https"))),
    }
    if url.host().is_none() {
        return Err(invalid("no host".to_string()));
    }
    Ok(())
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<String, UrlError> {
        ServerUrl::parse(s, false).map(|u| u.as_str().to_string())
    }

    #[test]
    fn normalizes_to_one_spelling() {
        assert_eq!(
            parse("HTTPS://Auth.Example.COM/").unwrap(),
            "https://auth.example.com"
        );
        assert_eq!(
            parse("auth.example.com").unwrap(),
            "https://auth.example.com"
        );
        assert_eq!(
            parse("https://auth.example.com:443").unwrap(),
            "https://auth.example.com"
        );
        assert_eq!(
            parse("https://auth.example.com:8443/").unwrap(),
            "https://auth.example.com:8443"
        );
        assert_eq!(
            parse(" https://example.com/auth/ ").unwrap(),
            "https://example.com/auth"
        );
        assert_eq!(
            parse("http://127.0.0.1:8750/").unwrap(),
            "http://127.0.0.1:8750"
        );
        assert_eq!(parse("http://[::1]:8750").unwrap(), "http://[::1]:8750");
        assert_eq!(parse("http://LOCALHOST:80").unwrap(), "http://localhost");
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "http://127.0.0.1",
            "http://127.1.2.3:9",
            "http://[::1]",
            "http://localhost:8750",
        ] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://example.com",
            "http://10.0.0.1",
            "http://localhost.evil.com",
            "http://[::2]",
        ] {
            assert!(
                matches!(parse(refused), Err(UrlError::InsecureHttp { .. })),
                "{refused}"
            );
        }
        let allowed = ServerUrl::parse("http://example.com", true).unwrap();
        assert!(allowed.is_insecure());
        assert!(
            !ServerUrl::parse("http://127.0.0.1", false)
                .unwrap()
                .is_insecure()
        );
    }

    #[test]
    fn rejects_junk() {
        for bad in [
            "",
            "ftp://example.com",
            "https://user:pw@example.com",
            "https://example.com/?x=1",
            "https://example.com/#a",
            "https://",
        ] {
            assert!(
                matches!(parse(bad), Err(UrlError::Invalid { .. })),
                "{bad:?}"
            );
        }
    }
}
